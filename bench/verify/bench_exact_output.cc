// Copyright 2026 The datanode Authors.
//
// The computing node's cost in verified mode: the plain matmul (RunOp with prepared weights)
// next to verify::RunOpWithExactSums through the CPU backend's exact-output hook
// (Backend::WritesExactSums: E written by the matmul's own kernels) and next to the old
// producer (RunOp, then the scalar verify::ComputeExactSums and CompactExactSums), side by
// side in one run, at K = N = 4096, M = 1, 2, 4, 8, 16, on 1 thread (CreateBackend("cpu")).
// Calls alternate (plain, hook per round) until each cell has run --min_time seconds (the old
// path: at least 3 calls); each cell is the fastest call's wall time, medians printed too.
// Usage: bench_exact_output [--min_time=SECONDS] (default 0.3). DATANODE_CPU_ISA caps the
// kernel family.
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
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/types.h"
#include "datanode/ops/verify.h"

namespace datanode::ops {
namespace {

constexpr int64_t kDim = 4096;

using bench::Die;
using bench::Seconds;
using bench::Summarize;
using bench::Timing;

template <typename F>
double TimeCall(F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return Seconds(std::chrono::steady_clock::now() - t0);
}

int Main(int argc, char** argv) {
  double min_time = 0.3;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--min_time=", 11) == 0) {
      min_time = std::atof(argv[i] + 11);
    } else {
      std::fprintf(stderr, "usage: %s [--min_time=SECONDS]\n", argv[0]);
      return 2;
    }
  }
  BackendOptions options;
  options.num_threads = 1;
  auto cpu_or = CreateBackend("cpu", options);
  if (!cpu_or.ok()) Die(cpu_or.status(), "cpu backend");
  Backend& cpu = **cpu_or;
  std::printf("# %s; K = N = %lld, 1 thread, fastest call (median in brackets), ms\n",
              cpu.Description().c_str(), static_cast<long long>(kDim));
  std::printf("%-17s %3s %17s %17s %19s %8s %8s %8s\n", "kind", "M", "plain matmul",
              "exact via hook", "old (op + scalar)", "hook/pl", "old/pl", "kern/pl");
  std::printf(
      "# kern/pl: RunOp with OpArgs::exact into a kept buffer (no allocation, no\n"
      "# compaction) over the plain matmul\n");
  for (OpKind kind : {OpKind::kMatMulQ8_0Q8_0, OpKind::kMatMulS8F32}) {
    if (!cpu.WritesExactSums(kind)) {
      std::printf("%s: the backend has no exact-output hook\n", OpKindName(kind));
      continue;
    }
    for (int64_t m : {1, 2, 4, 8, 16}) {
      auto in_or = MakeRandomInputs(kind, m, kDim, kDim, 20261208 + m, InputProfile::kRealistic);
      if (!in_or.ok()) Die(in_or.status(), "inputs");
      OpInputs& in = *in_or;
      auto pw = cpu.PrepareWeights(kind, kDim, kDim, in.w, in.w_scale);
      if (!pw.ok()) Die(pw.status(), "prepare");
      OpArgs args = in.Args();
      args.w_prepared = pw->get();
      args.w = {};

      // The three answers agree before anything is timed.
      std::vector<uint8_t> old_exact(static_cast<size_t>(verify::ExactSumsBytes(kind, m, kDim)));
      auto old_path = [&] {
        if (absl::Status st = RunOp(cpu, args); !st.ok()) Die(st, "RunOp");
        old_exact.resize(static_cast<size_t>(verify::ExactSumsBytes(kind, m, kDim)));
        if (absl::Status st = verify::ComputeExactSums(kind, m, kDim, kDim, in.a, in.w,
                                                       MutableByteSpan(old_exact));
            !st.ok()) {
          Die(st, "ComputeExactSums");
        }
        old_exact.resize(
            static_cast<size_t>(verify::CompactExactSums(kind, MutableByteSpan(old_exact))));
      };
      std::vector<uint8_t> hook_exact;
      auto hook_path = [&] {
        auto e = verify::RunOpWithExactSums(cpu, args, in.w);
        if (!e.ok()) Die(e.status(), "RunOpWithExactSums");
        hook_exact = std::move(e).value();
      };
      auto plain = [&] {
        if (absl::Status st = RunOp(cpu, args); !st.ok()) Die(st, "RunOp");
      };
      // The kernels alone writing E into a buffer kept across calls (no allocation, no
      // compaction): where the hook's extra time goes.
      std::vector<uint8_t> kept(static_cast<size_t>(ExactOutputBytes(kind, m, kDim)));
      auto kernels_only = [&] {
        OpArgs with_exact = args;
        with_exact.exact = MutableByteSpan(kept);
        if (absl::Status st = RunOp(cpu, with_exact); !st.ok()) Die(st, "RunOp exact");
      };
      old_path();
      const std::vector<uint8_t> old_out = in.out;
      hook_path();
      if (hook_exact != old_exact || in.out != old_out) {
        std::fprintf(stderr, "%s M=%lld: the hook's answer differs from the scalar path's\n",
                     OpKindName(kind), static_cast<long long>(m));
        return 1;
      }

      std::vector<double> t_plain;
      std::vector<double> t_hook;
      std::vector<double> t_kernels;
      double spent = 0;
      while (spent < 3 * min_time || t_plain.size() < 5) {
        t_plain.push_back(TimeCall(plain));
        t_hook.push_back(TimeCall(hook_path));
        t_kernels.push_back(TimeCall(kernels_only));
        spent += t_plain.back() + t_hook.back() + t_kernels.back();
      }
      std::vector<double> t_old;
      spent = 0;
      while (spent < min_time || t_old.size() < 3) {
        t_old.push_back(TimeCall(old_path));
        spent += t_old.back();
      }
      const Timing p = Summarize(t_plain);
      const Timing h = Summarize(t_hook);
      const Timing o = Summarize(t_old);
      const Timing kn = Summarize(t_kernels);
      std::printf("%-17s %3lld %7.3f [%7.3f] %7.3f [%7.3f] %8.2f [%8.2f] %7.3fx %7.1fx %7.3fx\n",
                  OpKindName(kind), static_cast<long long>(m), 1e3 * p.best, 1e3 * p.median,
                  1e3 * h.best, 1e3 * h.median, 1e3 * o.best, 1e3 * o.median, h.best / p.best,
                  o.best / p.best, kn.best / p.best);
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace
}  // namespace datanode::ops

int main(int argc, char** argv) { return datanode::ops::Main(argc, argv); }
