// Copyright 2026 The datanode Authors.
//
// bench_vulkan: GOP/s of every matmul (2*M*N*K operations per call) and elements/s of
// the quantize ops on the Vulkan backend, beside the CPU backend (or the reference
// when the CPU backend is not compiled in or does not support the op; the `anchor`
// column names which) for the same shapes and inputs. Weights are
// prepared once (resident on the device), as the daemon uses them; Vulkan times
// include the upload of A and the readback of C. Every Vulkan output is checked
// byte-equal to the CPU one.
//
// Usage: bench_vulkan [--device=SELECTOR] [--quick] [--min_seconds=S]
//   --quick: small shapes (for CPU emulation such as Mesa lavapipe).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/random_inputs.h"

namespace datanode::ops {
namespace {

struct Shape {
  int64_t m, n, k;
};

struct Timing {
  double seconds_per_call = 0;
  int calls = 0;
};

// Runs `args` on `backend` until min_seconds have passed (at least 2 calls, after
// one warm-up call).
absl::StatusOr<Timing> Time(Backend& backend, const OpArgs& args, double min_seconds) {
  if (absl::Status st = RunOp(backend, args); !st.ok()) return st;
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  Timing t;
  double elapsed = 0;
  while (t.calls < 2 || elapsed < min_seconds) {
    if (absl::Status st = RunOp(backend, args); !st.ok()) return st;
    ++t.calls;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  t.seconds_per_call = elapsed / t.calls;
  return t;
}

int Main(int argc, char** argv) {
  std::string device;
  bool quick = false;
  double min_seconds = 1.0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--device=", 0) == 0) {
      device = arg.substr(9);
    } else if (arg == "--quick") {
      quick = true;
    } else if (arg.rfind("--min_seconds=", 0) == 0 &&
               absl::SimpleAtod(arg.substr(14), &min_seconds) && min_seconds > 0 &&
               min_seconds <= 3600) {
    } else {
      std::fprintf(stderr, "usage: %s [--device=SELECTOR] [--quick] [--min_seconds=S]\n", argv[0]);
      return 2;
    }
  }
  auto vk = CreateBackend("vulkan", {.device = device});
  if (!vk.ok()) {
    std::fprintf(stderr, "bench_vulkan: no Vulkan backend: %s\n", vk.status().ToString().c_str());
    return 1;
  }
  auto cpu = CreateBackend("cpu");
  if (!cpu.ok()) cpu = CreateBackend("reference");
  auto reference = CreateBackend("reference");
  if (!cpu.ok() || !reference.ok()) return 1;
  std::printf("vulkan: %s\n", (*vk)->Description().c_str());
  std::printf("%s: %s\n", (*cpu)->Name(), (*cpu)->Description().c_str());
  std::printf("inputs: InputProfile::kRealistic; prepared weights; min %.2f s per measurement\n",
              min_seconds);
  std::printf("%-18s %5s %5s %5s  %10s %-17s  %-9s %10s %-17s  %8s  %s\n", "op", "M", "N", "K",
              "vulkan ms", "vulkan", "anchor", "anchor ms", "anchor", "vk/anchor", "bytes");

  const std::vector<Shape> matmul_shapes =
      quick ? std::vector<Shape>{{1, 512, 512}, {16, 512, 512}, {128, 512, 1024}}
            : std::vector<Shape>{
                  {1, 4096, 4096}, {16, 4096, 4096}, {256, 4096, 4096}, {1024, 1024, 1024}};
  const std::vector<Shape> quantize_shapes =
      quick ? std::vector<Shape>{{64, 0, 1024}} : std::vector<Shape>{{512, 0, 4096}};

  int failures = 0;
  for (OpKind kind : kAllOpKinds) {
    Backend& anchor = (*cpu)->Supports(kind) ? **cpu : **reference;
    for (const Shape& s : IsMatMul(kind) ? matmul_shapes : quantize_shapes) {
      auto in = MakeRandomInputs(kind, s.m, s.n, s.k, 1234, InputProfile::kRealistic);
      if (!in.ok()) return 1;
      OpInputs vk_in = *in;
      OpInputs cpu_in = *in;
      OpArgs vk_args = vk_in.Args();
      OpArgs cpu_args = cpu_in.Args();
      std::unique_ptr<PreparedWeights> vk_w, cpu_w;
      if (IsMatMul(kind)) {
        auto pv = (*vk)->PrepareWeights(kind, s.n, s.k, in->w, in->w_scale);
        auto pc = anchor.PrepareWeights(kind, s.n, s.k, in->w, in->w_scale);
        if (!pv.ok() || !pc.ok()) {
          std::printf("%-18s PrepareWeights failed: %s %s\n", OpKindName(kind),
                      pv.status().ToString().c_str(), pc.status().ToString().c_str());
          ++failures;
          continue;
        }
        vk_w = std::move(*pv);
        cpu_w = std::move(*pc);
        vk_args.w = cpu_args.w = {};
        vk_args.w_scale = cpu_args.w_scale = {};
        vk_args.w_prepared = vk_w.get();
        cpu_args.w_prepared = cpu_w.get();
      }
      auto tv = Time(**vk, vk_args, min_seconds);
      auto tc = Time(anchor, cpu_args, min_seconds);
      if (!tv.ok() || !tc.ok()) {
        std::printf("%-18s failed: %s %s\n", OpKindName(kind), tv.status().ToString().c_str(),
                    tc.status().ToString().c_str());
        ++failures;
        continue;
      }
      const bool equal = vk_in.out == cpu_in.out && vk_in.out_scale == cpu_in.out_scale;
      if (!equal) ++failures;
      // Matmuls: GOP/s with 2 ops per multiply-accumulate; quantize: G elements/s.
      const double work = IsMatMul(kind) ? 2.0 * s.m * s.n * s.k : 1.0 * s.m * s.k;
      const char* unit = IsMatMul(kind) ? "GOP/s" : "Gelem/s";
      const double vk_rate = work / tv->seconds_per_call / 1e9;
      const double cpu_rate = work / tc->seconds_per_call / 1e9;
      std::printf("%-18s %5lld %5lld %5lld  %10.3f %-17s  %-9s %10.3f %-17s  %8.4f  %s\n",
                  OpKindName(kind), static_cast<long long>(s.m), static_cast<long long>(s.n),
                  static_cast<long long>(s.k), tv->seconds_per_call * 1e3,
                  absl::StrCat(absl::SixDigits(vk_rate), " ", unit).c_str(), anchor.Name(),
                  tc->seconds_per_call * 1e3,
                  absl::StrCat(absl::SixDigits(cpu_rate), " ", unit).c_str(), vk_rate / cpu_rate,
                  equal ? "equal" : "DIFFER");
      std::fflush(stdout);
    }
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace datanode::ops

int main(int argc, char** argv) { return datanode::ops::Main(argc, argv); }
