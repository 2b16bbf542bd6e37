// Copyright 2026 The datanode Authors.
//
// Verified mode's cost: the verifier's Verify() CPU time as a share of the
// computing node's matmul CPU time (wall times printed too), side by side in one run, at K = N =
// 4096 and M = 1..16. The anchor is the CPU backend's MatMul through the ops Backend interface
// (CreateBackend("cpu"), PrepareWeights once, RunOp), on 1 thread, so both sides are one core's
// time. Verify is the whole call: request validation, answer size, exact-sum range, the re-derived
// rounding of every output and the Freivalds rows. Calls alternate (one matmul, one
// verify per round) so that load from other processes hits both alike and Verify finds its
// data where a real call would, not hot in cache from its previous call; each cell is the
// fastest call (the median CPU times are printed too). Also printed: the verifier state's memory
// next to the prepared weights, and Prepare's one-off time per epoch. Usage: bench_verify
// [--min_time=SECONDS] (default 0.2 per cell) [--kinds=all|kquant] (default: s8_s32 and q8_0;
// kquant: Q4_K and Q6_K only) DATANODE_VERIFY_ISA=portable selects the portable verifier kernels.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench/verify/bench_timing.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/exact_float.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/types.h"
#include "datanode/ops/verify.h"
#include "ops/verify/kernels.h"

namespace datanode::ops {
namespace {

constexpr int64_t kDim = 4096;

using bench::CpuSeconds;
using bench::Die;
using bench::Seconds;
using bench::Summarize;
using bench::Timing;

// The verifier's row kernels alone, data hot in cache (the same row again and again), per
// row of K = N = 4096: where Verify's time goes, without the memory traffic of a real call.
void KernelTable() {
  namespace vi = verify::internal;
  const vi::Kernels& k = vi::ActiveKernels();
  constexpr int64_t n = kDim;
  SplitMix64 rng(7);
  std::vector<uint64_t> r(n), v(n);
  std::vector<uint8_t> planes(8 * n), v16(16 * n), c(4 * n * vi::kMaxRows), a(n * vi::kMaxRows),
      e(16 * n), e64(8 * n), out(4 * n), q8(34 * (n / 32) * vi::kMaxRows), s8f_out(4 * n);
  std::vector<int32_t> w_mant(n);
  std::vector<int16_t> w_exp(n);
  for (int64_t i = 0; i < n; ++i) {
    r[i] = rng.Next() >> 12;
    v[i] = rng.Next() >> 3;
    for (int p = 0; p < 8; ++p) planes[p * n + i] = static_cast<uint8_t>(v[i] >> (8 * p));
    vi::StoreQ8V(v16.data(), i,
                 ((static_cast<unsigned __int128>(rng.Next()) << 64) | rng.Next()) >> 1);
    const int64_t x = static_cast<int64_t>(rng.Next()) >> 6;  // ~2^58, like real sums
    std::memcpy(&e64[8 * i], &x, 8);
    const __int128 wide = x;
    std::memcpy(&e[16 * i], &wide, 16);
    StoreU32(&out[4 * i], RoundToF32Bits(x, -48));
    w_mant[i] = static_cast<int32_t>(rng.Uniform(1 << 23, (1 << 24) - 1));
    w_exp[i] = static_cast<int16_t>(-30);
  }
  for (uint8_t& x : c) x = static_cast<uint8_t>(rng.Next());
  for (uint8_t& x : a) x = static_cast<uint8_t>(rng.Uniform(-127, 127));
  for (int64_t b = 0; b < static_cast<int64_t>(q8.size()) / 34; ++b) {
    StoreU16(&q8[34 * b], static_cast<uint16_t>(0x1C00 + rng.Uniform(0, 1023)));
    for (int j = 0; j < 32; ++j) q8[34 * b + 2 + j] = static_cast<uint8_t>(rng.Uniform(-127, 127));
  }
  for (int64_t i = 0; i < n; ++i) {
    const int64_t s = static_cast<int32_t>(LoadU32(&c[4 * i]));
    StoreU32(
        &s8f_out[4 * i],
        RoundToF32Bits(static_cast<__int128>(int64_t{9000000} * w_mant[i]) * s, -23 + w_exp[i]));
  }
  const vi::S8Tables s8{v.data(), planes.data()};
  const vi::Q8Tables qt{v16.data()};
  const unsigned __int128 rb = vi::RBias(r.data(), n);
  auto best_us = [](auto&& f) {
    double best = 1e30;
    for (int rep = 0; rep < 2000; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      f();
      best = std::min(best, Seconds(std::chrono::steady_clock::now() - t0));
    }
    return 1e6 * best;
  };
  int64_t sink = 0;
  int64_t bad = 0;
  bool flag = false;
  __int128 o[vi::kMaxRows];
  unsigned __int128 oq[vi::kMaxRows];
  const int rows = vi::kMaxRows;
  std::printf("Row kernels alone (%s), data hot in cache, us per row of 4096 (fastest of 2000):\n",
              k.name);
  std::printf("  s8:     C r %.2f  A v %.2f  (4-row groups)   s8_f32 rounding %.2f\n",
              best_us([&] { k.dot_s32_r(c.data(), 4 * n, r.data(), n, rows, o); }) / rows,
              best_us([&] { k.dot_s8_v(a.data(), n, s8, n, rows, o); }) / rows, best_us([&] {
                sink += k.first_bad_s8f32_row(c.data(), s8f_out.data(), 9000000, -23, w_mant.data(),
                                              w_exp.data(), n);
              }));
  std::printf(
      "  Q8_0:   range+rounding+E r %.2f (int128) %.2f (int64)  A v %.2f  (4-row groups)\n",
      best_us([&] {
        sink +=
            static_cast<int64_t>(k.check_q8_row(e.data(), out.data(), r.data(), n, &bad, &flag));
      }),
      best_us([&] {
        sink +=
            static_cast<int64_t>(k.check_q8_row64(e64.data(), out.data(), r.data(), n, rb, &bad));
      }),
      best_us([&] { k.dot_q8_v(q8.data(), 34 * (n / 32), qt, n / 32, rows, oq, &flag); }) / rows);
  std::printf("\n");
  if (sink == 42) std::printf(" ");
}

int Run(double min_time, bool all_kinds, bool kquant_kinds) {
  BackendOptions options;
  options.num_threads = 1;
  auto cpu_or = CreateBackend("cpu", options);
  if (!cpu_or.ok()) Die(cpu_or.status(), "cpu backend");
  Backend& cpu = **cpu_or;
  auto secret = verify::NewEpochSecret();
  if (!secret.ok()) Die(secret.status(), "NewEpochSecret");

  std::printf("computing node: %s (1 thread)\n", cpu.Description().c_str());
  std::printf("verifier kernels: %s\n", verify::internal::ActiveKernels().name);
  std::printf(
      "K = N = %lld, InputProfile::kRealistic, prepared weights; fastest call of "
      "alternating rounds filling >= %.2f s per cell\n\n",
      static_cast<long long>(kDim), 2 * min_time);
  std::vector<OpKind> kinds = {OpKind::kMatMulS8S32, OpKind::kMatMulQ8_0Q8_0};
  if (all_kinds) {
    kinds.insert(kinds.begin() + 1, OpKind::kMatMulS8F32);
    kinds.push_back(OpKind::kMatMulQ8_0Q4_0);
    kinds.push_back(OpKind::kMatMulQ8_0Q4_1);
  }
  if (all_kinds || kquant_kinds) {
    if (kquant_kinds) kinds.clear();
    kinds.push_back(OpKind::kMatMulQ8_0Q4_K);
    kinds.push_back(OpKind::kMatMulQ8_0Q6_K);
  }
  KernelTable();
  bool all_accepted = true;
  double worst_ratio = 0;
  double worst_recv_ratio = 0;
  for (OpKind kind : kinds) {
    auto in_or = MakeRandomInputs(kind, 16, kDim, kDim, 2026, InputProfile::kRealistic);
    if (!in_or.ok()) Die(in_or.status(), "MakeRandomInputs");
    OpInputs& in = *in_or;
    auto pw = cpu.PrepareWeights(kind, kDim, kDim, in.w, in.w_scale);
    if (!pw.ok()) Die(pw.status(), "PrepareWeights");
    const auto p0 = std::chrono::steady_clock::now();
    auto ver = verify::Verifier::Prepare(*secret, "bench", kind, kDim, kDim, in.w, in.w_scale);
    const double prepare_s = Seconds(std::chrono::steady_clock::now() - p0);
    if (!ver.ok()) Die(ver.status(), "Verifier::Prepare");

    // The honest answer for all 16 rows (rows are independent: the first m rows of it are
    // the answer for the first m rows of A).
    OpArgs args = in.Args();
    args.w_prepared = pw->get();
    args.w = {};
    args.w_scale = {};
    if (absl::Status st = RunOp(cpu, args); !st.ok()) Die(st, "RunOp");
    std::vector<uint8_t> exact(verify::ExactSumsBytes(kind, 16, kDim));
    const auto e0 = std::chrono::steady_clock::now();
    if (absl::Status st = verify::ComputeExactSums(kind, 16, kDim, kDim, in.a, in.w, exact);
        !st.ok()) {
      Die(st, "ComputeExactSums");
    }
    const double exact_s = Seconds(std::chrono::steady_clock::now() - e0);
    // The Q8_0 family's answer in the compact encoding when every sum fits in an int64 (the
    // rows are independent, so the first m rows of the compact buffer are the m-row answer).
    const int64_t wide_bytes = static_cast<int64_t>(exact.size());
    exact.resize(verify::CompactExactSums(kind, exact));
    const bool compact = static_cast<int64_t>(exact.size()) < wide_bytes;

    std::printf(
        "%s: verifier state %.1f KiB beside %.1f MiB of prepared weights (%.2f%%); "
        "Prepare %.1f ms per epoch; ",
        OpKindName(kind), ver->MemoryBytes() / 1024.0, (*pw)->SizeBytes() / 1048576.0,
        100.0 * ver->MemoryBytes() / (*pw)->SizeBytes(), 1e3 * prepare_s);
    if (exact.empty()) {
      std::printf("no exact sums to produce (the s32 output is exact)\n");
    } else {
      std::printf("exact sums for M = 16 by the reference producer: %.1f ms; sent as %s\n",
                  1e3 * exact_s, compact ? "int64 (compact)" : "int128");
    }
    std::printf("%-18s %3s %10s %10s %8s %10s %10s %8s %10s %10s %10s %8s %s\n", "kind", "M",
                "mm cpu us", "ver cpu us", "cpu %", "mm wall us", "ver wall", "wall %",
                "mm cpu med", "ver cpu med", "recv cpu", "recv %", "verdict");
    const int64_t a_row = static_cast<int64_t>(in.a.size()) / 16;
    const int64_t out_row = static_cast<int64_t>(in.out.size()) / 16;
    const int64_t exact_row = static_cast<int64_t>(exact.size()) / 16;
    const int64_t scale_row = static_cast<int64_t>(in.a_scale.size()) / 16;
    for (int64_t m = 1; m <= 16; ++m) {
      OpArgs margs = args;
      margs.m = m;
      margs.a = ByteSpan(in.a).first(a_row * m);
      margs.a_scale = ByteSpan(in.a_scale).first(scale_row * m);
      std::vector<uint8_t> scratch(out_row * m);
      margs.out = scratch;
      const ByteSpan a = ByteSpan(in.a).first(a_row * m);
      const ByteSpan a_scale = ByteSpan(in.a_scale).first(scale_row * m);
      const ByteSpan out = ByteSpan(in.out).first(out_row * m);
      const ByteSpan ex = ByteSpan(exact).first(exact_row * m);
      auto verdict = ver->Verify(m, a, a_scale, ex, out);
      if (!verdict.ok()) Die(verdict.status(), "Verify");
      all_accepted &= verdict->accepted;
      // CPU time (the measure: what each node spends) and wall time per call. The
      // matmul may run on a pool thread, so its CPU time is the process's; Verify runs on
      // this thread. On a loaded machine CPU time excludes the time a call sat preempted.
      // The answer as a verifier holds it right after the RPC layer copied it out of the
      // message (what a daemon's verifier does before Verify): same bytes, just written.
      std::vector<uint8_t> recv_ex(ex.begin(), ex.end());
      std::vector<uint8_t> recv_out(out.begin(), out.end());
      std::vector<double> mm_cpu, vv_cpu, mm_wall, vv_wall, vr_cpu;
      const auto start = std::chrono::steady_clock::now();
      while (mm_cpu.size() < 10 ||
             Seconds(std::chrono::steady_clock::now() - start) < 2 * min_time) {
        const double c0 = CpuSeconds(CLOCK_PROCESS_CPUTIME_ID);
        const auto t0 = std::chrono::steady_clock::now();
        if (absl::Status st = RunOp(cpu, margs); !st.ok()) Die(st, "RunOp");
        const auto t1 = std::chrono::steady_clock::now();
        const double c1 = CpuSeconds(CLOCK_PROCESS_CPUTIME_ID);
        const double c2 = CpuSeconds(CLOCK_THREAD_CPUTIME_ID);
        const auto t2 = std::chrono::steady_clock::now();
        auto v = ver->Verify(m, a, a_scale, ex, out);
        const auto t3 = std::chrono::steady_clock::now();
        const double c3 = CpuSeconds(CLOCK_THREAD_CPUTIME_ID);
        if (!v.ok() || !v->accepted) all_accepted = false;
        // Another matmul (untimed), then the copy, then Verify on the copy (timed).
        if (absl::Status st = RunOp(cpu, margs); !st.ok()) Die(st, "RunOp");
        std::memcpy(recv_ex.data(), ex.data(), ex.size());
        std::memcpy(recv_out.data(), out.data(), out.size());
        const double c4 = CpuSeconds(CLOCK_THREAD_CPUTIME_ID);
        auto vr = ver->Verify(m, a, a_scale, recv_ex, recv_out);
        const double c5 = CpuSeconds(CLOCK_THREAD_CPUTIME_ID);
        if (!vr.ok() || !vr->accepted) all_accepted = false;
        vr_cpu.push_back(c5 - c4);
        mm_cpu.push_back(c1 - c0);
        vv_cpu.push_back(c3 - c2);
        mm_wall.push_back(Seconds(t1 - t0));
        vv_wall.push_back(Seconds(t3 - t2));
      }
      const Timing mc = Summarize(mm_cpu);
      const Timing vc = Summarize(vv_cpu);
      const Timing mw = Summarize(mm_wall);
      const Timing vw = Summarize(vv_wall);
      const Timing vr = Summarize(vr_cpu);
      const double ratio = 100.0 * vc.best / mc.best;
      worst_ratio = std::max(worst_ratio, ratio);
      worst_recv_ratio = std::max(worst_recv_ratio, 100.0 * vr.best / mc.best);
      std::printf(
          "%-18s %3lld %10.1f %10.2f %8.2f %10.1f %10.2f %8.2f %10.1f %10.2f %10.2f %8.2f %s\n",
          OpKindName(kind), static_cast<long long>(m), 1e6 * mc.best, 1e6 * vc.best, ratio,
          1e6 * mw.best, 1e6 * vw.best, 100.0 * vw.best / mw.best, 1e6 * mc.median, 1e6 * vc.median,
          1e6 * vr.best, 100.0 * vr.best / mc.best,
          verdict->accepted ? "accepted" : verdict->reason.c_str());
    }
    std::printf("\n");
  }
  std::printf(
      "honest answers %s; largest CPU-time ratio %.2f%% with the answer evicted by the matmul, "
      "%.2f%% as received (target <= 2%% for s8 and Q8_0)\n",
      all_accepted ? "all accepted" : "NOT ALL ACCEPTED", worst_ratio, worst_recv_ratio);
  return all_accepted ? 0 : 1;
}

}  // namespace
}  // namespace datanode::ops

int main(int argc, char** argv) {
  double min_time = 0.2;
  bool all_kinds = false;
  bool kquant_kinds = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--min_time=", 11) == 0) min_time = std::atof(argv[i] + 11);
    if (std::strcmp(argv[i], "--kinds=all") == 0) all_kinds = true;
    if (std::strcmp(argv[i], "--kinds=kquant") == 0) kquant_kinds = true;
  }
  return datanode::ops::Run(min_time, all_kinds, kquant_kinds);
}
