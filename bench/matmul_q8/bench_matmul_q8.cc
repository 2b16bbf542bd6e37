// Copyright 2026 The datanode Authors.
//
// Side-by-side benchmark of the CPU backend at LLM decode shapes (M = 1, 4, 8, 16;
// K = N = 4096), all through the public API (CreateBackend("cpu"), PrepareWeights,
// RunOp) so it always measures the current kernels: the exact s8 GEMM (kMatMulS8S32)
// against kMatMulQ8_0Q8_0, kMatMulQ8_0Q4_0 and kMatMulQ8_0Q4_1, on 1 and 2 threads.
// Prints GOP/s (2 * M * N * K operations for every op) and each Q8 op's ratio to s8.
// Inputs are InputProfile::kRealistic, weights are prepared once. Before timing, each op's
// output is checked byte for byte against the reference on a small case and on one
// decode row. Usage: bench_matmul_q8 [--min_time=SECONDS] (default 0.3 per measurement)
// [--decode_only | --no_decode | --kquant_only] [--peer=PATH/test-backend-ops].
//
// Then the decode (M = 1, GEMV) table: Q8_0 vs Q4_0 vs Q4_1 weights at Llama-3-8B shapes
// (N x K = 4096 x 4096, 14336 x 4096, 4096 x 14336) and SmolLM2-135M shapes (576 x 576,
// 1536 x 576, 576 x 1536, 49152 x 576) on 1 and 2 threads, with the prepared bytes per
// format. The three formats are timed in interleaved rounds (one call each per round) so
// that load from other processes hits them alike; each cell is the fastest call. Shapes
// under 64 MiB of Q8_0 are timed twice: cache-warm (same weights every call) and streamed
// (cycling through copies, >= 128 MiB, so weights come from memory as in a real decode). With
// --peer, llama.cpp's `test-backend-ops perf` runs its MUL_MAT case for the one shape it
// has at M = 1 (m = 4096, n = 1, k = 14336) and the ratio peer time / our time is printed.
//
// Then the K-quant table (--kquant_only runs it alone): Q8_0 (the anchor) vs Q4_K vs Q6_K
// weights at N = 4096 and 14336, K = 4096, M = 1 and 16, 1 and 2 threads, interleaved rounds,
// weights streamed from memory (copies as above). Prints each format's time, its weight
// bandwidth (prepared bytes / time, GB/s) and Q8_0 time / its time (> 1: faster than Q8_0);
// --kquant_warm times one cache-warm copy instead (the kernels' compute rate).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "datanode/ops/backend.h"
#include "datanode/ops/kquant.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/types.h"

namespace datanode::ops {
namespace {

constexpr int64_t kDim = 4096;
constexpr int64_t kDecodeM[] = {1, 4, 8, 16};
constexpr OpKind kOps[] = {OpKind::kMatMulS8S32, OpKind::kMatMulQ8_0Q8_0, OpKind::kMatMulQ8_0Q4_0,
                           OpKind::kMatMulQ8_0Q4_1};

const char* ShortName(OpKind kind) {
  switch (kind) {
    case OpKind::kMatMulS8S32:
      return "s8xs8";
    case OpKind::kMatMulQ8_0Q8_0:
      return "q8_0xq8_0";
    case OpKind::kMatMulQ8_0Q4_0:
      return "q8_0xq4_0";
    case OpKind::kMatMulQ8_0Q4_1:
      return "q8_0xq4_1";
    case OpKind::kMatMulQ8_0Q4_K:
      return "q8_0xq4_k";
    case OpKind::kMatMulQ8_0Q6_K:
      return "q8_0xq6_k";
    default:
      return OpKindName(kind);
  }
}

bool Die(const absl::Status& st, const char* what) {
  std::fprintf(stderr, "%s: %s\n", what, st.ToString().c_str());
  std::exit(1);
}

// Runs `in` (rows [0, m)) on `backend` and returns the output bytes.
std::vector<uint8_t> RunRows(Backend& backend, OpInputs& in, int64_t m, const PreparedWeights* pw) {
  OpArgs args = in.Args();
  args.m = m;
  args.a = ByteSpan(in.a).first(in.a.size() / in.m * m);
  std::vector<uint8_t> out(in.out.size() / in.m * m);
  args.out = out;
  if (pw != nullptr) {
    args.w_prepared = pw;
    args.w = {};
    args.w_scale = {};
  }
  if (absl::Status st = RunOp(backend, args); !st.ok()) Die(st, "RunOp");
  return out;
}

// Byte equality with the reference: a small odd case (raw weights) and row 0 of the
// decode-size inputs (prepared weights).
bool CheckAgainstReference(Backend& cpu, Backend& ref, OpKind kind, OpInputs& big,
                           const PreparedWeights& pw) {
  auto small = MakeRandomInputs(kind, 3, 37, 256, 7, InputProfile::kRealistic);
  if (!small.ok()) Die(small.status(), "MakeRandomInputs");
  const bool small_ok = RunRows(cpu, *small, 3, nullptr) == RunRows(ref, *small, 3, nullptr);
  const bool big_ok = RunRows(cpu, big, 1, &pw) == RunRows(ref, big, 1, nullptr);
  std::printf("check %-10s vs reference: small [3,37,256] %s, decode row [1,%lld,%lld] %s\n",
              ShortName(kind), small_ok ? "equal" : "DIFFERENT", static_cast<long long>(kDim),
              static_cast<long long>(kDim), big_ok ? "equal" : "DIFFERENT");
  return small_ok && big_ok;
}

// Fastest call over repetitions filling at least min_time: on a shared, loaded machine the
// minimum is the estimate least disturbed by other processes (the median is printed too).
double TimeRows(Backend& backend, OpInputs& in, int64_t m, const PreparedWeights* pw,
                double min_time) {
  OpArgs args = in.Args();
  args.m = m;
  args.a = ByteSpan(in.a).first(in.a.size() / in.m * m);
  args.out = MutableByteSpan(in.out).first(in.out.size() / in.m * m);
  args.w_prepared = pw;
  args.w = {};
  args.w_scale = {};
  using Clock = std::chrono::steady_clock;
  if (absl::Status st = RunOp(backend, args); !st.ok()) Die(st, "RunOp");  // warm-up
  std::vector<double> samples;
  const Clock::time_point start = Clock::now();
  while (samples.size() < 5 ||
         std::chrono::duration<double>(Clock::now() - start).count() < min_time) {
    const Clock::time_point t0 = Clock::now();
    if (absl::Status st = RunOp(backend, args); !st.ok()) Die(st, "RunOp");
    samples.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::sort(samples.begin(), samples.end());
  return samples[0];
}

struct DecodeShape {
  const char* model;
  const char* tensor;
  int64_t n, k;
};
constexpr DecodeShape kDecodeShapes[] = {
    {"llama3-8b", "attn_q/o", 4096, 4096},  {"llama3-8b", "ffn_gate/up", 14336, 4096},
    {"llama3-8b", "ffn_down", 4096, 14336}, {"smollm2", "attn_q/o", 576, 576},
    {"smollm2", "ffn_gate/up", 1536, 576},  {"smollm2", "ffn_down", 576, 1536},
    {"smollm2", "output", 49152, 576},
};
constexpr OpKind kDecodeKinds[] = {OpKind::kMatMulQ8_0Q8_0, OpKind::kMatMulQ8_0Q4_0,
                                   OpKind::kMatMulQ8_0Q4_1};

// llama.cpp's MUL_MAT perf time (us/run) for type_a = `type` at m = 4096, n = 1, k = 14336, or
// -1 when it cannot be run or parsed.
double PeerMicros(const std::string& peer, const char* type) {
  const std::string cmd = peer + " perf -b CPU -o MUL_MAT -p 'type_a=" + type +
                          ",type_b=f32,m=4096,n=1,k=14336,bs=\\[1,1\\],nr=\\[1,1\\]' 2>&1";
  FILE* f = popen(cmd.c_str(), "r");
  if (f == nullptr) return -1;
  std::string text;
  char buf[4096];
  while (std::fgets(buf, sizeof(buf), f) != nullptr) text += buf;
  pclose(f);
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(R"(([0-9.]+) us/run)"))) return -1;
  return std::atof(m[1].str().c_str());
}

// The decode table. Returns false if any output differs from the reference.
bool RunDecode(Backend& ref, double min_time, const std::string& peer) {
  std::map<int, std::unique_ptr<Backend>> cpus;
  for (int threads : {1, 2}) {
    BackendOptions options;
    options.num_threads = threads;
    auto cpu = CreateBackend("cpu", options);
    if (!cpu.ok()) Die(cpu.status(), "cpu backend");
    cpus[threads] = std::move(cpu).value();
  }
  std::printf("\nDecode GEMV (M = 1), %s; prepared weights, InputProfile::kRealistic,\n",
              cpus[1]->Description().c_str());
  std::printf("best call of interleaved rounds filling >= %.2f s per (shape, threads)\n",
              3 * min_time);
  std::printf("%-10s %-12s %6s %6s %3s %9s %9s %9s %7s %7s %8s %8s %8s\n", "model", "tensor", "N",
              "K", "thr", "q8_0 us", "q4_0 us", "q4_1 us", "q8/q40", "q8/q41", "q8_0 MiB",
              "q4_0 MiB", "q4_1 MiB");
  bool all_equal = true;
  double ffn_down_us[3][2] = {};
  for (const DecodeShape& shape : kDecodeShapes) {
    std::map<OpKind, OpInputs> in;
    std::map<OpKind, double> mib;
    for (OpKind kind : kDecodeKinds) {
      auto x = MakeRandomInputs(kind, 1, shape.n, shape.k, 2027, InputProfile::kRealistic);
      if (!x.ok()) Die(x.status(), "MakeRandomInputs");
      in.emplace(kind, std::move(x).value());
    }
    for (int threads : {1, 2}) {
      Backend& cpu = *cpus[threads];
      // Streamed variant: as many prepared copies as make the Q8_0 footprint >= 128 MiB
      // (more than the last-level cache), used in turn, so every call reads its weights from
      // memory as a decode step over a whole model does. Same copy count for every format.
      const double q8_mib = static_cast<double>(shape.n) * (shape.k / 32) * 34 / 1048576.0;
      const int copies = q8_mib >= 64 ? 1 : static_cast<int>(128 / q8_mib) + 1;
      std::map<OpKind, std::vector<std::unique_ptr<PreparedWeights>>> pw;
      for (OpKind kind : kDecodeKinds) {
        OpInputs& x = in.at(kind);
        for (int c = 0; c < copies; ++c) {
          auto p = cpu.PrepareWeights(kind, x.n, x.k, x.w, x.w_scale);
          if (!p.ok()) Die(p.status(), "PrepareWeights");
          pw[kind].push_back(std::move(p).value());
        }
        mib[kind] = pw[kind][0]->SizeBytes() / 1048576.0;
        if (threads == 2) {
          const bool eq = RunRows(cpu, x, 1, pw[kind][0].get()) == RunRows(ref, x, 1, nullptr);
          if (!eq) {
            std::printf("MISMATCH vs reference: %s %s N=%lld K=%lld\n", ShortName(kind),
                        shape.tensor, static_cast<long long>(shape.n),
                        static_cast<long long>(shape.k));
          }
          all_equal &= eq;
        }
      }
      for (bool streamed : {false, true}) {
        if (streamed && copies == 1) continue;
        // Interleaved rounds: one call of each format per round.
        using Clock = std::chrono::steady_clock;
        std::map<OpKind, double> best;
        for (OpKind kind : kDecodeKinds) {
          TimeRows(cpu, in.at(kind), 1, pw[kind][0].get(), 0.0);  // warm-up
          best[kind] = 1e30;
        }
        const Clock::time_point start = Clock::now();
        int rounds = 0;
        while (rounds < 10 ||
               std::chrono::duration<double>(Clock::now() - start).count() < 3 * min_time) {
          for (OpKind kind : kDecodeKinds) {
            OpInputs& x = in.at(kind);
            OpArgs args = x.Args();
            args.w_prepared = pw[kind][streamed ? rounds % copies : 0].get();
            args.w = {};
            args.w_scale = {};
            const Clock::time_point t0 = Clock::now();
            if (absl::Status st = RunOp(cpu, args); !st.ok()) Die(st, "RunOp");
            best[kind] =
                std::min(best[kind], std::chrono::duration<double>(Clock::now() - t0).count());
          }
          ++rounds;
        }
        const double q8 = best[OpKind::kMatMulQ8_0Q8_0] * 1e6;
        const double q40 = best[OpKind::kMatMulQ8_0Q4_0] * 1e6;
        const double q41 = best[OpKind::kMatMulQ8_0Q4_1] * 1e6;
        if (shape.n == 4096 && shape.k == 14336) {
          ffn_down_us[0][threads - 1] = q8;
          ffn_down_us[1][threads - 1] = q40;
          ffn_down_us[2][threads - 1] = q41;
        }
        const std::string tensor = std::string(shape.tensor) + (streamed ? "*" : "");
        std::printf("%-10s %-12s %6lld %6lld %3d %9.1f %9.1f %9.1f %7.2f %7.2f %8.2f %8.2f %8.2f\n",
                    shape.model, tensor.c_str(), static_cast<long long>(shape.n),
                    static_cast<long long>(shape.k), threads, q8, q40, q41, q8 / q40, q8 / q41,
                    mib[OpKind::kMatMulQ8_0Q8_0], mib[OpKind::kMatMulQ8_0Q4_0],
                    mib[OpKind::kMatMulQ8_0Q4_1]);
        std::fflush(stdout);
      }
    }
  }
  std::printf(
      "GGUF bytes per 32 weights: q8_0 34, q4_0 18, q4_1 20 (prepared adds 8 B per column)\n");
  std::printf(
      "tensor*: streamed, the call cycles through copies of the prepared weights (>= 128 "
      "MiB of Q8_0, same count per format) so weights come from memory, as in a decode "
      "step over a whole model; without *: the same weights every call (cache-warm)\n");
  if (!peer.empty()) {
    std::printf(
        "\nllama.cpp (%s perf -b CPU, its default threads) at N = 4096, K = 14336, M = 1:\n",
        peer.c_str());
    const char* types[] = {"q8_0", "q4_0", "q4_1"};
    for (int t = 0; t < 3; ++t) {
      const double us = PeerMicros(peer, types[t]);
      if (us < 0) {
        std::printf("  %s: could not run or parse\n", types[t]);
        continue;
      }
      std::printf(
          "  %s: llama.cpp %9.1f us; datanode 1 thread %9.1f us (ratio %.2f), 2 threads "
          "%9.1f us (ratio %.2f)   [ratio = llama.cpp time / datanode time]\n",
          types[t], us, ffn_down_us[t][0], us / ffn_down_us[t][0], ffn_down_us[t][1],
          us / ffn_down_us[t][1]);
    }
  }
  return all_equal;
}

// The K-quant table. Returns false if any output differs from the reference.
bool RunKQuant(Backend& ref, double min_time, bool warm) {
  constexpr OpKind kKinds[] = {OpKind::kMatMulQ8_0Q8_0, OpKind::kMatMulQ8_0Q4_K,
                               OpKind::kMatMulQ8_0Q6_K};
  constexpr int64_t kMs[] = {1, 16};
  constexpr int64_t kK = 4096;
  std::printf(
      "\nK-quant GEMM, weights %s, prepared, InputProfile::kRealistic,\nbest call of interleaved "
      "rounds filling >= %.2f s per cell; "
      "GB/s = prepared weight bytes / time; xq8 = Q8_0 time / this time\n",
      warm ? "cache-warm (one copy, --kquant_warm)"
           : "streamed (copies >= 128 MiB of Q8_0, cycled)",
      3 * min_time);
  std::printf("%6s %6s %3s %3s %9s %9s %9s %8s %8s %8s %6s %6s %8s %8s %8s\n", "N", "K", "M", "thr",
              "q8_0 us", "q4_k us", "q6_k us", "q8 GB/s", "q4k GB/s", "q6k GB/s", "q4k xq8",
              "q6k xq8", "q8_0 MiB", "q4_k MiB", "q6_k MiB");
  bool all_equal = true;
  std::map<OpKind, double> prepared_bits;  // of the last (largest) N
  for (int64_t n : {int64_t{4096}, int64_t{14336}}) {
    std::map<OpKind, OpInputs> in;
    for (OpKind kind : kKinds) {
      auto x = MakeRandomInputs(kind, 16, n, kK, 2028, InputProfile::kRealistic);
      if (!x.ok()) Die(x.status(), "MakeRandomInputs");
      in.emplace(kind, std::move(x).value());
    }
    const double q8_mib = static_cast<double>(n) * (kK / 32) * 34 / 1048576.0;
    const int copies = warm ? 1 : static_cast<int>(128 / q8_mib) + 1;
    for (int threads : {1, 2}) {
      BackendOptions options;
      options.num_threads = threads;
      auto cpu = CreateBackend("cpu", options);
      if (!cpu.ok()) Die(cpu.status(), "cpu backend");
      std::map<OpKind, std::vector<std::unique_ptr<PreparedWeights>>> pw;
      std::map<OpKind, double> bytes;
      for (OpKind kind : kKinds) {
        OpInputs& x = in.at(kind);
        for (int c = 0; c < copies; ++c) {
          auto p = (*cpu)->PrepareWeights(kind, x.n, x.k, x.w, x.w_scale);
          if (!p.ok()) Die(p.status(), "PrepareWeights");
          pw[kind].push_back(std::move(p).value());
        }
        bytes[kind] = static_cast<double>(pw[kind][0]->SizeBytes());
        prepared_bits[kind] = bytes[kind] * 8 / static_cast<double>(n * kK);
        // All 16 rows, byte for byte, before timing.
        const bool eq = RunRows(**cpu, x, 16, pw[kind][0].get()) == RunRows(ref, x, 16, nullptr);
        if (!eq) {
          std::printf("MISMATCH vs reference: %s N=%lld K=%lld threads=%d\n", ShortName(kind),
                      static_cast<long long>(n), static_cast<long long>(kK), threads);
        }
        all_equal &= eq;
      }
      for (int64_t m : kMs) {
        using Clock = std::chrono::steady_clock;
        std::map<OpKind, double> best;
        for (OpKind kind : kKinds) best[kind] = 1e30;
        const Clock::time_point start = Clock::now();
        int rounds = 0;
        while (rounds < 10 ||
               std::chrono::duration<double>(Clock::now() - start).count() < 3 * min_time) {
          for (OpKind kind : kKinds) {
            OpInputs& x = in.at(kind);
            OpArgs args = x.Args();
            args.m = m;
            args.a = ByteSpan(x.a).first(x.a.size() / x.m * m);
            args.out = MutableByteSpan(x.out).first(x.out.size() / x.m * m);
            args.w_prepared = pw[kind][rounds % copies].get();
            args.w = {};
            args.w_scale = {};
            const Clock::time_point t0 = Clock::now();
            if (absl::Status st = RunOp(**cpu, args); !st.ok()) Die(st, "RunOp");
            best[kind] =
                std::min(best[kind], std::chrono::duration<double>(Clock::now() - t0).count());
          }
          ++rounds;
        }
        const double t8 = best[OpKind::kMatMulQ8_0Q8_0];
        const double t4 = best[OpKind::kMatMulQ8_0Q4_K];
        const double t6 = best[OpKind::kMatMulQ8_0Q6_K];
        const double b8 = bytes[OpKind::kMatMulQ8_0Q8_0];
        const double b4 = bytes[OpKind::kMatMulQ8_0Q4_K];
        const double b6 = bytes[OpKind::kMatMulQ8_0Q6_K];
        std::printf(
            "%6lld %6lld %3lld %3d %9.1f %9.1f %9.1f %8.1f %8.1f %8.1f %6.2f %6.2f %8.2f %8.2f "
            "%8.2f\n",
            static_cast<long long>(n), static_cast<long long>(kK), static_cast<long long>(m),
            threads, t8 * 1e6, t4 * 1e6, t6 * 1e6, b8 / t8 * 1e-9, b4 / t4 * 1e-9, b6 / t6 * 1e-9,
            t8 / t4, t8 / t6, b8 / 1048576.0, b4 / 1048576.0, b6 / 1048576.0);
        std::fflush(stdout);
      }
    }
  }
  std::printf("GGUF bits per weight: q8_0 %.2f, q4_k %.2f, q6_k %.2f; prepared: q8_0 %.2f, q4_k %.2f, "
              "q6_k %.2f (N = 14336, K = %lld, per-column metadata included)\n",
              kQ8_0BlockBytes * 8.0 / kQBlockSize, kQ4_KBlockBytes * 8.0 / kQKSuperBlockSize,
              kQ6_KBlockBytes * 8.0 / kQKSuperBlockSize, prepared_bits[OpKind::kMatMulQ8_0Q8_0],
              prepared_bits[OpKind::kMatMulQ8_0Q4_K], prepared_bits[OpKind::kMatMulQ8_0Q6_K],
              static_cast<long long>(kK));
  return all_equal;
}

int Main(int argc, char** argv) {
  double min_time = 0.3;
  bool decode_only = false;
  bool no_decode = false;
  bool kquant_only = false;
  bool kquant_warm = false;
  std::string peer;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--min_time=", 11) == 0) min_time = std::atof(argv[i] + 11);
    if (std::strcmp(argv[i], "--decode_only") == 0) decode_only = true;
    if (std::strcmp(argv[i], "--no_decode") == 0) no_decode = true;
    if (std::strncmp(argv[i], "--peer=", 7) == 0) peer = argv[i] + 7;
    if (std::strcmp(argv[i], "--kquant_only") == 0) kquant_only = true;
    if (std::strcmp(argv[i], "--kquant_warm") == 0) kquant_warm = true;
  }
  auto ref = CreateBackend("reference");
  if (!ref.ok()) Die(ref.status(), "reference");
  if (kquant_only) {
    const bool ok = RunKQuant(**ref, min_time, kquant_warm);
    std::printf("outputs vs reference: %s\n", ok ? "all equal" : "MISMATCH");
    return ok ? 0 : 1;
  }
  if (decode_only) {
    const bool ok = RunDecode(**ref, min_time, peer);
    std::printf("outputs vs reference: %s\n", ok ? "all equal" : "MISMATCH");
    return ok ? 0 : 1;
  }

  std::map<OpKind, OpInputs> inputs;
  for (OpKind kind : kOps) {
    auto in = MakeRandomInputs(kind, kDecodeM[3], kDim, kDim, 2026, InputProfile::kRealistic);
    if (!in.ok()) Die(in.status(), "MakeRandomInputs");
    inputs.emplace(kind, std::move(in).value());
  }

  bool all_equal = true;
  // gops[threads][m][kind]
  std::map<int, std::map<int64_t, std::map<OpKind, double>>> gops;
  std::string description;
  for (int threads : {1, 2}) {
    BackendOptions options;
    options.num_threads = threads;
    auto cpu = CreateBackend("cpu", options);
    if (!cpu.ok()) Die(cpu.status(), "cpu backend");
    if (threads == 1) description = (*cpu)->Description();
    for (OpKind kind : kOps) {
      OpInputs& in = inputs.at(kind);
      auto pw = (*cpu)->PrepareWeights(kind, in.n, in.k, in.w, in.w_scale);
      if (!pw.ok()) Die(pw.status(), "PrepareWeights");
      if (threads == 1) {
        all_equal &= CheckAgainstReference(**cpu, **ref, kind, in, **pw);
        std::printf("  prepared weights %-10s %.1f MiB (GGUF/raw bytes %.1f MiB)\n",
                    ShortName(kind), (*pw)->SizeBytes() / 1048576.0,
                    (in.w.size() + in.w_scale.size()) / 1048576.0);
      }
      for (int64_t m : kDecodeM) {
        const double sec = TimeRows(**cpu, in, m, pw->get(), min_time);
        gops[threads][m][kind] = 2.0 * m * kDim * kDim / sec * 1e-9;
      }
    }
  }

  std::printf("\nCPU backend: %s (ISA from DATANODE_CPU_ISA=%s)\n", description.c_str(),
              std::getenv("DATANODE_CPU_ISA") ? std::getenv("DATANODE_CPU_ISA") : "<unset>");
  std::printf(
      "shape K = N = %lld, InputProfile::kRealistic, prepared weights, best call of "
      ">= %.2f s per cell\n",
      static_cast<long long>(kDim), min_time);
  std::printf("%-7s %-3s %10s %10s %10s %10s %8s %8s %8s\n", "threads", "M", "s8 GOP/s",
              "q8_0 GOP/s", "q4_0 GOP/s", "q4_1 GOP/s", "q8_0/s8", "q4_0/s8", "q4_1/s8");
  for (int threads : {1, 2}) {
    for (int64_t m : kDecodeM) {
      auto& g = gops[threads][m];
      const double s8 = g[OpKind::kMatMulS8S32];
      std::printf("%-7d %-3lld %10.1f %10.1f %10.1f %10.1f %8.2f %8.2f %8.2f\n", threads,
                  static_cast<long long>(m), s8, g[OpKind::kMatMulQ8_0Q8_0],
                  g[OpKind::kMatMulQ8_0Q4_0], g[OpKind::kMatMulQ8_0Q4_1],
                  g[OpKind::kMatMulQ8_0Q8_0] / s8, g[OpKind::kMatMulQ8_0Q4_0] / s8,
                  g[OpKind::kMatMulQ8_0Q4_1] / s8);
    }
  }
  if (!no_decode) all_equal &= RunDecode(**ref, min_time, peer);
  all_equal &= RunKQuant(**ref, min_time, kquant_warm);
  std::printf("outputs vs reference: %s\n", all_equal ? "all equal" : "MISMATCH");
  return all_equal ? 0 : 1;
}

}  // namespace
}  // namespace datanode::ops

int main(int argc, char** argv) { return datanode::ops::Main(argc, argv); }
