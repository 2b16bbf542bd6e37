// Copyright 2026 The datanode Authors.
//
// Side-by-side benchmark, in one process, of
//   ours      the cpu backend's exact kMatMulS8S32 with prepared (pre-packed) weights,
//   ours-raw  the same op with raw W (validated and packed on every call),
//   ours-f32  kMatMulS8F32 (exact product + one rounding) with prepared weights,
//   onednn    dnnl_gemm_u8s8s32 (A as u8, offsets 0: its fastest configuration),
//   openblas  cblas_sgemm on the same values as f32,
// at 512^3, 1024^3, 2048^3 and the LLM decode shapes M = 1, 4, 8, 16 with K = N = 4096,
// on 1 and 2 threads. Prints GOP/s (2*M*N*K / s) from the median and the best of
// several timed runs, and each column's median ratio to oneDNN.
//
// Before timing it checks, and aborts on failure, that the cpu backend's output
// equals the reference backend's byte for byte on small odd shapes (s32 and f32,
// raw and prepared), and that oneDNN computes the same product as ours (fed A + 128
// with a_offset 128, which makes its result the exact s8 product), so the timed calls
// are known to compute the same C[m, n] = sum_k A[m, k] * W[n, k].
//
// Usage: bench_matmul_s8 [--threads=1,2] [--min_time=0.3] [--shapes=all|square|decode]
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "datanode/ops/backend.h"
#include "datanode/ops/random_inputs.h"
#include "dnnl.h"
#include "ops/cpu/cpu_features.h"

namespace {

using datanode::ops::Backend;
using datanode::ops::BackendOptions;
using datanode::ops::CreateBackend;
using datanode::ops::InputProfile;
using datanode::ops::MakeRandomInputs;
using datanode::ops::OpArgs;
using datanode::ops::OpInputs;
using datanode::ops::OpKind;
using datanode::ops::PreparedWeights;
using datanode::ops::RunOp;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench_matmul_s8: FATAL: %s\n", what.c_str());
  std::abort();
}

std::unique_ptr<Backend> MakeBackend(const char* name, int threads) {
  BackendOptions options;
  options.num_threads = threads;
  auto backend = CreateBackend(name, options);
  if (!backend.ok()) Die(std::string(backend.status().message()));
  return std::move(*backend);
}

OpInputs MakeInputs(OpKind kind, int64_t m, int64_t n, int64_t k, uint64_t seed,
                    InputProfile profile) {
  auto in = MakeRandomInputs(kind, m, n, k, seed, profile);
  if (!in.ok()) Die(std::string(in.status().message()));
  return std::move(*in);
}

void CheckOk(const absl::Status& status) {
  if (!status.ok()) Die(std::string(status.message()));
}

// Our output equals the reference's, byte for byte, raw and prepared.
void VerifyAgainstReference(Backend& cpu, Backend& ref) {
  struct Case {
    OpKind kind;
    int64_t m, n, k;
    InputProfile profile;
  };
  const Case cases[] = {
      {OpKind::kMatMulS8S32, 13, 131, 259, InputProfile::kExtreme},
      {OpKind::kMatMulS8S32, 67, 65, 1027, InputProfile::kWide},
      {OpKind::kMatMulS8F32, 7, 129, 515, InputProfile::kExtreme},
      {OpKind::kMatMulS8F32, 31, 64, 333, InputProfile::kRealistic},
  };
  uint64_t seed = 1;
  for (const Case& c : cases) {
    OpInputs in = MakeInputs(c.kind, c.m, c.n, c.k, seed++, c.profile);
    OpArgs args = in.Args();
    std::vector<uint8_t> want(args.out.size());
    args.out = want;
    CheckOk(RunOp(ref, args));
    std::vector<uint8_t> got(want.size());
    args.out = got;
    CheckOk(RunOp(cpu, args));
    if (got != want) Die("cpu backend (raw W) differs from the reference");
    auto prepared = cpu.PrepareWeights(c.kind, c.n, c.k, in.w, in.w_scale);
    CheckOk(prepared.status());
    args.w = {};
    args.w_scale = {};
    args.w_prepared = prepared->get();
    std::fill(got.begin(), got.end(), 0);
    CheckOk(RunOp(cpu, args));
    if (got != want) Die("cpu backend (prepared W) differs from the reference");
  }
}

struct Timing {
  double median_s = 0;
  double best_s = 0;
};

struct Column {
  const char* name;
  std::function<void()> fn;
  std::vector<double> times;
  Timing Summary() {
    std::sort(times.begin(), times.end());
    return {times[times.size() / 2], times[0]};
  }
};

// One warm-up call per column, then rounds in which every column runs once, until
// each column has had about min_time (at least 5 rounds). Interleaving gives every
// library the same share of the machine's background load; a short sleep after each
// call lets OpenMP / OpenBLAS workers that spin after a region go idle first.
void TimeInterleaved(std::vector<Column>& cols, double min_time) {
  using Clock = std::chrono::steady_clock;
  for (Column& c : cols) c.fn();
  const auto start = Clock::now();
  const double budget = min_time * static_cast<double>(cols.size());
  for (int round = 0;
       round < 5 ||
       (std::chrono::duration<double>(Clock::now() - start).count() < budget && round < 1000);
       ++round) {
    for (Column& c : cols) {
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
      const auto t0 = Clock::now();
      c.fn();
      c.times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
  }
}

struct Shape {
  int64_t m, n, k;
};

void RunShape(const Shape& s, int threads, double min_time, Backend& cpu) {
  const int64_t m = s.m, n = s.n, k = s.k;
  OpInputs s32 = MakeInputs(OpKind::kMatMulS8S32, m, n, k, 42, InputProfile::kRealistic);
  OpInputs f32 = MakeInputs(OpKind::kMatMulS8F32, m, n, k, 42, InputProfile::kRealistic);
  auto prep_s32 = cpu.PrepareWeights(OpKind::kMatMulS8S32, n, k, s32.w, {});
  CheckOk(prep_s32.status());
  auto prep_f32 = cpu.PrepareWeights(OpKind::kMatMulS8F32, n, k, f32.w, f32.w_scale);
  CheckOk(prep_f32.status());

  OpArgs ours = s32.Args();
  ours.w = {};
  ours.w_prepared = prep_s32->get();
  std::vector<uint8_t> out_ours(static_cast<size_t>(m * n * 4));
  ours.out = out_ours;
  OpArgs raw = s32.Args();
  std::vector<uint8_t> out_raw(out_ours.size());
  raw.out = out_raw;
  OpArgs ours_f32 = f32.Args();
  ours_f32.w = {};
  ours_f32.w_scale = {};
  ours_f32.w_prepared = prep_f32->get();

  // oneDNN operands: row-major A u8[M,K] (= A + 128), B = W^T via transb 'T' on the
  // row-major W[N,K] (ldb = K), C int32[M,N].
  std::vector<uint8_t> a_u8(s32.a.size());
  for (size_t i = 0; i < a_u8.size(); ++i) a_u8[i] = static_cast<uint8_t>(s32.a[i] ^ 0x80);
  std::vector<int32_t> c_dnnl(static_cast<size_t>(m * n));
  const int32_t co = 0;
  auto dnnl_run = [&](uint8_t ao) {
    if (dnnl_gemm_u8s8s32('N', 'T', 'F', m, n, k, 1.0f, a_u8.data(), k, ao,
                          reinterpret_cast<const int8_t*>(s32.w.data()), k, 0, 0.0f, c_dnnl.data(),
                          n, &co) != dnnl_success) {
      Die("dnnl_gemm_u8s8s32 failed");
    }
  };
  // Same product check: with a_offset 128, oneDNN computes (A+128-128) * W^T exactly.
  CheckOk(RunOp(cpu, ours));
  dnnl_run(128);
  if (std::memcmp(c_dnnl.data(), out_ours.data(), out_ours.size()) != 0) {
    Die("oneDNN (a_offset 128) and ours disagree: operand layout is wrong");
  }

  std::vector<float> a_f(s32.a.size()), w_f(s32.w.size()), c_f(static_cast<size_t>(m * n));
  for (size_t i = 0; i < a_f.size(); ++i) a_f[i] = static_cast<int8_t>(s32.a[i]);
  for (size_t i = 0; i < w_f.size(); ++i) w_f[i] = static_cast<int8_t>(s32.w[i]);

  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);
  std::vector<Column> cols;
  cols.push_back({"ours", [&] { CheckOk(RunOp(cpu, ours)); }, {}});
  cols.push_back({"ours-raw", [&] { CheckOk(RunOp(cpu, raw)); }, {}});
  cols.push_back({"ours-f32", [&] { CheckOk(RunOp(cpu, ours_f32)); }, {}});
  cols.push_back({"onednn", [&] { dnnl_run(0); }, {}});
  cols.push_back({"openblas",
                  [&] {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a_f.data(),
                                k, w_f.data(), k, 0.0f, c_f.data(), n);
                  },
                  {}});
  TimeInterleaved(cols, min_time);
  std::vector<Timing> t;
  for (Column& c : cols) t.push_back(c.Summary());
  const double ops = 2.0 * m * n * k;
  const double dnnl_median = t[3].median_s;
  std::printf("%5lld %5lld %5lld %3d |", static_cast<long long>(m), static_cast<long long>(n),
              static_cast<long long>(k), threads);
  for (const Timing& c : t) {
    std::printf(" %7.1f %7.1f %5.2f |", ops / c.median_s * 1e-9, ops / c.best_s * 1e-9,
                dnnl_median / c.median_s);
  }
  std::printf("\n");
  std::fflush(stdout);
}

std::vector<int> ParseThreads(const std::string& list) {
  std::vector<int> out;
  size_t pos = 0;
  while (pos < list.size()) {
    const size_t comma = list.find(',', pos);
    const std::string item = list.substr(pos, comma == std::string::npos ? comma : comma - pos);
    out.push_back(std::atoi(item.c_str()));
    if (out.back() < 1) Die("bad --threads list: " + list);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> thread_counts = {1, 2};
  double min_time = 0.3;
  std::string shapes = "all";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--threads=", 0) == 0) {
      thread_counts = ParseThreads(arg.substr(10));
    } else if (arg.rfind("--min_time=", 0) == 0) {
      min_time = std::atof(arg.c_str() + 11);
    } else if (arg.rfind("--shapes=", 0) == 0) {
      shapes = arg.substr(9);
    } else {
      std::fprintf(stderr,
                   "usage: %s [--threads=1,2] [--min_time=0.3] [--shapes=all|square|decode]\n",
                   argv[0]);
      return 2;
    }
  }
  std::vector<Shape> list;
  if (shapes == "all" || shapes == "square") {
    for (int64_t s : {512, 1024, 2048}) list.push_back({s, s, s});
  }
  if (shapes == "all" || shapes == "decode") {
    for (int64_t m : {1, 4, 8, 16}) list.push_back({m, 4096, 4096});
  }
  if (list.empty()) Die("unknown --shapes value: " + shapes);

  std::printf("CPU: %s; ours: %s\n", datanode::ops::cpu::CpuModelName().c_str(),
              datanode::ops::cpu::IsaName(datanode::ops::cpu::DetectIsa()));
  const dnnl_version_t* v = dnnl_version();
  std::printf("oneDNN %d.%d.%d (cpu runtime %u: OpenMP threads); OpenBLAS %s\n", v->major, v->minor,
              v->patch, v->cpu_runtime, openblas_get_config());
  auto ref = MakeBackend("reference", 1);
  {
    auto cpu = MakeBackend("cpu", 3);
    VerifyAgainstReference(*cpu, *ref);
  }
  std::printf("verified: cpu backend == reference (byte equality) on small odd shapes\n");
  std::printf(
      "GOP/s = 2*M*N*K / time; per column: median-GOP/s best-GOP/s median-ratio-to-onednn\n");
  std::printf("    M     N     K thr |");
  for (const char* name : {"ours", "ours-raw", "ours-f32", "onednn", "openblas"}) {
    std::printf(" %-21s |", name);
  }
  std::printf("\n");
  for (int threads : thread_counts) {
    auto cpu = MakeBackend("cpu", threads);
    for (const Shape& s : list) RunShape(s, threads, min_time, *cpu);
  }
  return 0;
}
