// Copyright 2026 The datanode Authors.
//
// Side-by-side benchmark of the CPU backend at LLM decode shapes (M = 1, 4, 8, 16;
// K = N = 4096), all through the public API (CreateBackend("cpu"), PrepareWeights,
// RunOp) so it always measures the current kernels: the exact s8 GEMM (kMatMulS8S32)
// against kMatMulQ8_0Q8_0, kMatMulQ8_0Q4_0 and kMatMulQ8_0Q4_1, on 1 and 2 threads.
// Prints GOP/s (2 * M * N * K operations for every op) and each Q8 op's ratio to s8.
// Inputs are InputProfile::kRealistic, weights are prepared once. Before timing, each op's
// output is checked byte for byte against the reference on a small case and on one
// decode row. Usage: bench_matmul_q8 [--min_time=SECONDS] (default 0.3 per measurement).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "datanode/ops/backend.h"
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

int Main(int argc, char** argv) {
  double min_time = 0.3;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--min_time=", 11) == 0) min_time = std::atof(argv[i] + 11);
  }
  auto ref = CreateBackend("reference");
  if (!ref.ok()) Die(ref.status(), "reference");

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
  std::printf("outputs vs reference: %s\n", all_equal ? "all equal" : "MISMATCH");
  return all_equal ? 0 : 1;
}

}  // namespace
}  // namespace datanode::ops

int main(int argc, char** argv) { return datanode::ops::Main(argc, argv); }
