// Copyright 2026 The datanode Authors.
//
// Helpers shared by the ops tests: creating the CPU backend with a capped ISA,
// running an op on the reference, comparing outputs byte for byte and describing a
// case so that a failure can be reproduced (op, shape, seed, profile, threads, ISA,
// first differing index), and random f32 values of the hard kinds.
#ifndef DATANODE_TESTS_OPS_TEST_UTIL_H_
#define DATANODE_TESTS_OPS_TEST_UTIL_H_

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/exact_float.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/types.h"
#include "gtest/gtest.h"

namespace datanode::ops::testing {

inline const char* ProfileName(InputProfile profile) { return InputProfileName(profile); }

inline constexpr const auto& kAllProfiles = kAllInputProfiles;

// The CPU backend's kernel families, in the names DATANODE_CPU_ISA accepts.
inline constexpr const char* kCpuIsas[] = {"portable", "avx2", "avx512vnni"};

// Whether this machine can run the kernel family `isa`; if not, *why says why.
inline bool MachineHasIsa(const std::string& isa, std::string* why) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (isa == "portable") return true;
  if (isa == "avx2") {
    if (__builtin_cpu_supports("avx2")) return true;
    *why = "this CPU lacks AVX2";
    return false;
  }
  if (isa == "avx512vnni") {
    if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512vnni")) {
      return true;
    }
    *why = "this CPU lacks AVX-512 BW/VL/VNNI";
    return false;
  }
  *why = "unknown ISA name " + isa;
  return false;
#else
  if (isa == "portable") return true;
  *why = "not an x86-64 build";
  return false;
#endif
}

// The best kernel family this machine has (what the CPU backend picks by default).
inline std::string BestIsa() {
  std::string best = "portable";
  std::string why;
  for (const char* isa : kCpuIsas) {
    if (MachineHasIsa(isa, &why)) best = isa;
  }
  return best;
}

// Creates the CPU backend with its kernels capped at `isa` (DATANODE_CPU_ISA is read
// when the backend is created, so the variable only needs to be set around the call).
inline absl::StatusOr<std::unique_ptr<Backend>> CreateCpuWithIsa(const std::string& isa,
                                                                 int num_threads) {
  const char* old = std::getenv("DATANODE_CPU_ISA");
  const std::optional<std::string> saved = old ? std::optional<std::string>(old) : std::nullopt;
  setenv("DATANODE_CPU_ISA", isa.c_str(), 1);
  BackendOptions options;
  options.num_threads = num_threads;
  absl::StatusOr<std::unique_ptr<Backend>> backend = CreateBackend("cpu", options);
  if (saved) {
    setenv("DATANODE_CPU_ISA", saved->c_str(), 1);
  } else {
    unsetenv("DATANODE_CPU_ISA");
  }
  return backend;
}

// A backend under test: a name for messages ("cpu/<isa>" for the CPU) and the instance.
struct BackendUnderTest {
  std::string label;
  std::unique_ptr<Backend> backend;
};

// Every compiled backend that can be created here (the reference included), the CPU
// backend once per kernel family this machine has, all with `threads` worker threads. What
// is left out, and why, is printed: a GPU backend without a device is UNAVAILABLE, which
// is not the caller's concern; any other failure to start (a CPU backend, a shader missing
// from the build) is a test failure.
inline std::vector<BackendUnderTest> AllBackendsUnderTest(int threads) {
  std::vector<BackendUnderTest> backends;
  BackendOptions options;
  options.num_threads = threads;
  for (const std::string& name : CompiledBackends()) {
    if (name == "cpu") {
      for (const char* isa : kCpuIsas) {
        std::string why;
        if (!MachineHasIsa(isa, &why)) {
          std::printf("cpu/%s skipped: %s\n", isa, why.c_str());
          continue;
        }
        absl::StatusOr<std::unique_ptr<Backend>> b = CreateCpuWithIsa(isa, threads);
        EXPECT_TRUE(b.ok()) << "cpu/" << isa << ": " << b.status();
        if (b.ok()) backends.push_back({std::string("cpu/") + isa, *std::move(b)});
      }
      continue;
    }
    absl::StatusOr<std::unique_ptr<Backend>> b = CreateBackend(name, options);
    if (!b.ok()) {
      // UNAVAILABLE: no device here. Anything else (a missing shader, a failed self-test)
      // is the backend's fault and fails the test.
      EXPECT_EQ(b.status().code(), absl::StatusCode::kUnavailable)
          << "backend " << name << " fails to start: " << b.status();
      std::printf("backend %s not available here: %s\n", name.c_str(),
                  b.status().ToString().c_str());
      continue;
    }
    backends.push_back({name, *std::move(b)});
  }
  return backends;
}

inline bool CpuCompiledIn() {
  for (const std::string& name : CompiledBackends()) {
    if (name == "cpu") return true;
  }
  return false;
}

// Index of the first differing byte of two buffers (or of their sizes), -1 if equal.
inline int64_t FirstDiff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  const size_t n = a.size() < b.size() ? a.size() : b.size();
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return static_cast<int64_t>(i);
  }
  return a.size() == b.size() ? -1 : static_cast<int64_t>(n);
}

// Width in bytes of one output element of `kind` (f32 / s32 = 4, s8 = 1, Q8_0 block).
inline int64_t OutElementBytes(OpKind kind) {
  if (kind == OpKind::kQuantizeS8Row) return 1;
  if (kind == OpKind::kQuantizeQ8_0) return kQ8_0BlockBytes;
  return 4;
}

// Kinds of random finite f32 values for the LLM ops' tests; each test picks the kinds it
// sweeps (its own profile numbers map onto these).
enum class F32Kind {
  kActivation,  // the sum of three U(-1, 1), 1 in 100 of them times 20 (outliers)
  kAnyFinite,   // any bit pattern but Inf and NaN
  kSubnormal,   // U(-1, 1) * 2^-120..-149: f32 subnormals and the smallest normals
  kTinyF16,     // U(-1, 1) * 2^-20..-139: near and below the f16 subnormal range
  kSignedZero,  // +0 or -0
  kHuge,        // U(-1, 1) * 2^100..126
  kF16Edges,    // +-: f16 max and its rounding edges, f16 subnormal edges, 1e6, 1, 0.5, 3
};

// One value of `kind` drawn from `rng` (the draws are part of each test's reproducible
// sequence: keep their order).
inline float RandomF32(std::mt19937_64& rng, F32Kind kind) {
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  switch (kind) {
    case F32Kind::kActivation: {
      float v = uni(rng) + uni(rng) + uni(rng);
      if (rng() % 100 == 0) v *= 20.0f;
      return v;
    }
    case F32Kind::kAnyFinite: {
      uint32_t b;
      do {
        b = static_cast<uint32_t>(rng());
      } while ((b & 0x7F800000u) == 0x7F800000u);
      return BitsToF32(b);
    }
    case F32Kind::kSubnormal:
      return uni(rng) * std::ldexp(1.0f, -120 - static_cast<int>(rng() % 30));
    case F32Kind::kTinyF16:
      return uni(rng) * 0x1p-20f *
             static_cast<float>(std::ldexp(1.0, -static_cast<int>(rng() % 120)));
    case F32Kind::kSignedZero:
      return rng() % 2 ? 0.0f : -0.0f;
    case F32Kind::kHuge:
      return uni(rng) * std::ldexp(1.0f, 100 + static_cast<int>(rng() % 27));
    case F32Kind::kF16Edges: {
      const float edges[] = {65504.0f, 65519.0f,     65520.0f, 0x1p-24f, 0x1p-25f, 0x1.8p-25f,
                             0x1p-14f, 0x1.ffcp-15f, 1e6f,     1.0f,     0.5f,     3.0f};
      const float v = edges[rng() % std::size(edges)];
      return rng() % 2 ? v : -v;
    }
  }
  return 0.0f;
}

struct CaseInfo {
  OpKind kind;
  int64_t m, n, k;
  uint64_t seed;
  InputProfile profile;
  int threads = 0;
  std::string isa;
  bool prepared = false;
};

inline std::string Describe(const CaseInfo& c) {
  std::ostringstream os;
  os << OpKindName(c.kind) << " [M=" << c.m << ", N=" << c.n << ", K=" << c.k << "] seed=" << c.seed
     << " profile=" << ProfileName(c.profile);
  if (c.threads != 0) os << " threads=" << c.threads;
  if (!c.isa.empty()) os << " isa=" << c.isa;
  os << (c.prepared ? " weights=prepared" : " weights=raw");
  return os.str();
}

// Empty if `actual` equals `expected` byte for byte in out and out_scale; otherwise a
// message with the first differing element (row, column) and both byte values.
inline std::string CompareOutputs(const OpInputs& expected, const OpInputs& actual) {
  std::ostringstream os;
  if (int64_t i = FirstDiff(expected.out, actual.out); i >= 0) {
    const int64_t elem = i / OutElementBytes(expected.kind);
    const int64_t cols = expected.kind == OpKind::kQuantizeS8Row  ? expected.k
                         : expected.kind == OpKind::kQuantizeQ8_0 ? expected.k / kQBlockSize
                                                                  : expected.n;
    os << "out differs first at byte " << i << " (element " << elem << " = [" << elem / cols << ", "
       << elem % cols << "])";
    if (static_cast<size_t>(i) < expected.out.size() &&
        static_cast<size_t>(i) < actual.out.size()) {
      os << ": expected 0x" << std::hex << int{expected.out[i]} << ", got 0x" << int{actual.out[i]}
         << std::dec;
    } else {
      os << ": sizes " << expected.out.size() << " vs " << actual.out.size();
    }
    return os.str();
  }
  if (int64_t i = FirstDiff(expected.out_scale, actual.out_scale); i >= 0) {
    os << "out_scale differs first at byte " << i << " (row " << i / 4 << ")";
    return os.str();
  }
  return "";
}

// Rows [begin, end) of a full input set, as an independent OpInputs (outputs zeroed).
inline OpInputs SliceRows(const OpInputs& full, int64_t begin, int64_t end) {
  OpInputs s;
  s.kind = full.kind;
  s.m = end - begin;
  s.n = full.n;
  s.k = full.k;
  const size_t a_row = full.a.size() / full.m;
  const size_t out_row = full.out.size() / full.m;
  s.a.assign(full.a.begin() + begin * a_row, full.a.begin() + end * a_row);
  if (!full.a_scale.empty()) {
    s.a_scale.assign(full.a_scale.begin() + begin * 4, full.a_scale.begin() + end * 4);
  }
  s.w = full.w;
  s.w_scale = full.w_scale;
  s.out.assign(s.m * out_row, 0);
  s.out_scale.assign(full.out_scale.empty() ? 0 : s.m * 4, 0);
  return s;
}

}  // namespace datanode::ops::testing

#endif  // DATANODE_TESTS_OPS_TEST_UTIL_H_
