// Copyright 2026 The datanode Authors.
//
// The harness of the CPU backend's block-quantized matmul tests (cpu_q8_test.cc for the
// Q8_0 family, cpu_kquant_test.cc for the K-quants): one CPU backend per kernel family
// (DATANODE_CPU_ISA) and thread count, the reference's output, and the byte-for-byte
// comparison of raw and prepared weights against it, with a message that names the case
// and the first differing element. gtest assertions; not thread-safe (CreateCpuWithIsa
// sets an environment variable).
#ifndef DATANODE_TESTS_CPU_Q8_MATMUL_CHECK_H_
#define DATANODE_TESTS_CPU_Q8_MATMUL_CHECK_H_

#include <cstdint>
#include <iostream>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/exact_float.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/types.h"
#include "gtest/gtest.h"
#include "tests/ops/test_util.h"

namespace datanode::ops::testing {

struct Shape {
  int64_t m, n, k;
};

inline bool MachineHas(const std::string& isa) {
  std::string why;
  return MachineHasIsa(isa, &why);
}

// The CPU backend capped at `isa` (its description must name it); nullptr on failure.
inline std::unique_ptr<Backend> MakeCpu(const std::string& isa, int threads) {
  auto backend = CreateCpuWithIsa(isa, threads);
  EXPECT_TRUE(backend.ok()) << backend.status();
  if (!backend.ok()) return nullptr;
  const std::string desc = (*backend)->Description();
  EXPECT_NE(desc.find(isa), std::string::npos) << desc;
  return std::move(backend).value();
}

// The reference's out bytes for `in` (the output starts poisoned: every byte is written).
inline std::vector<uint8_t> ReferenceOutput(OpInputs& in) {
  auto ref = CreateBackend("reference");
  EXPECT_TRUE(ref.ok());
  OpArgs args = in.Args();
  std::vector<uint8_t> out(args.out.size(), 0xAB);
  args.out = out;
  EXPECT_TRUE(RunOp(**ref, args).ok());
  return out;
}

// Runs `in` on `backend` with raw and with prepared weights (never smaller than the raw
// bytes) and compares both with `want`; `what` names the case in a failure.
inline void ExpectMatchesReference(Backend& backend, OpInputs& in, const std::vector<uint8_t>& want,
                                   const std::string& what) {
  for (bool prepared : {false, true}) {
    OpArgs args = in.Args();
    std::vector<uint8_t> got(want.size(), 0xCD);  // poison: every byte must be written
    args.out = got;
    std::unique_ptr<PreparedWeights> pw;
    if (prepared) {
      auto p = backend.PrepareWeights(in.kind, in.n, in.k, in.w, in.w_scale);
      ASSERT_TRUE(p.ok()) << p.status() << " " << what;
      pw = std::move(p).value();
      EXPECT_GE(pw->SizeBytes(), static_cast<int64_t>(in.w.size())) << what;
      args.w_prepared = pw.get();
      args.w = {};
    }
    const absl::Status st = RunOp(backend, args);
    ASSERT_TRUE(st.ok()) << st << " " << what;
    size_t diff = 0;
    while (diff < want.size() && want[diff] == got[diff]) ++diff;
    ASSERT_EQ(diff, want.size()) << what << (prepared ? " prepared" : " raw")
                                 << ": first differing output byte " << diff << " (element "
                                 << diff / 4 << ", row " << diff / 4 / in.n << ", col "
                                 << diff / 4 % in.n << ")";
  }
}

// `in` against the reference on every kernel family this machine has, at each thread count.
inline void ExpectEveryIsaMatches(OpInputs& in, std::initializer_list<int> thread_counts,
                                  const std::string& what) {
  const std::vector<uint8_t> want = ReferenceOutput(in);
  for (const char* isa : kCpuIsas) {
    if (!MachineHas(isa)) continue;
    for (int threads : thread_counts) {
      std::unique_ptr<Backend> cpu = MakeCpu(isa, threads);
      ASSERT_NE(cpu, nullptr);
      ExpectMatchesReference(*cpu, in, want,
                             absl::StrCat(what, " isa=", isa, " threads=", threads));
    }
  }
}

// Each of `kinds` at [m, 17, k] (k: the longest the blocks allow) in the realistic profile
// (the int64 fast path) and the wide one (the int128 slow path), on every kernel family at
// 2 threads; seeds count up from `seed`.
inline void ExpectLongestKMatches(std::span<const OpKind> kinds, int64_t m, int64_t k,
                                  uint64_t seed) {
  for (OpKind kind : kinds) {
    for (InputProfile profile : {InputProfile::kRealistic, InputProfile::kWide}) {
      auto in = MakeRandomInputs(kind, m, 17, k, ++seed, profile);
      ASSERT_TRUE(in.ok()) << in.status();
      ExpectEveryIsaMatches(*in, {2},
                            absl::StrCat(OpKindName(kind), " profile=", ProfileName(profile),
                                         " k=", k, " seed=", seed));
    }
  }
}

struct GridCount {
  int cases = 0;
  int decode_cases = 0;  // with M = 1
};

// Every kernel family this machine has x 1, 2, 3 threads x kind x input profile x shape,
// raw and prepared, against the reference. Seeds count up from `seed` over every case of
// the grid; `keep(threads, seed)`, if given, leaves a case out.
inline GridCount ExpectGridMatches(std::span<const OpKind> kinds, std::span<const Shape> shapes,
                                   uint64_t seed,
                                   bool (*keep)(int threads, uint64_t seed) = nullptr) {
  GridCount count;
  for (const char* isa : kCpuIsas) {
    if (!MachineHas(isa)) {
      std::cout << "skipping ISA " << isa << ": not on this CPU\n";
      continue;
    }
    for (int threads : {1, 2, 3}) {
      std::unique_ptr<Backend> cpu = MakeCpu(isa, threads);
      if (cpu == nullptr) return count;
      for (OpKind kind : kinds) {
        for (InputProfile profile :
             {InputProfile::kRealistic, InputProfile::kWide, InputProfile::kExtreme}) {
          for (const Shape& s : shapes) {
            ++seed;
            if (keep != nullptr && !keep(threads, seed)) continue;
            auto in = MakeRandomInputs(kind, s.m, s.n, s.k, seed, profile);
            EXPECT_TRUE(in.ok()) << in.status();
            if (!in.ok()) return count;
            const std::vector<uint8_t> want = ReferenceOutput(*in);
            ExpectMatchesReference(
                *cpu, *in, want,
                absl::StrCat(OpKindName(kind), " isa=", isa, " threads=", threads,
                             " profile=", ProfileName(profile), " m=", s.m, " n=", s.n, " k=", s.k,
                             " seed=", seed));
            if (::testing::Test::HasFatalFailure()) return count;
            ++count.cases;
            if (s.m == 1) ++count.decode_cases;
          }
        }
      }
    }
  }
  return count;
}

// f16 bits with mantissa 2047 and integer-form exponent e (-24 < e <= 5), negative if asked.
inline uint16_t MaxMantissaF16(int e, bool negative = false) {
  return static_cast<uint16_t>(((e + 25) << 10) | 0x3FF | (negative ? 0x8000 : 0));
}

// Sets every A block to scale mantissa 2047 (block 0 of each row at exponent -20, the rest
// at -20 + sa) and every quant to `quant`: the largest A terms for a fast-path bound test.
inline void SetAMax(OpInputs& in, int sa, int8_t quant) {
  const int64_t nb = in.k / kQBlockSize;
  for (int64_t b = 0; b < static_cast<int64_t>(in.a.size()) / kQ8_0BlockBytes; ++b) {
    uint8_t* blk = &in.a[b * kQ8_0BlockBytes];
    StoreU16(blk, MaxMantissaF16(b % nb == 0 ? -20 : -20 + sa));
    for (int t = 0; t < 32; ++t) blk[2 + t] = static_cast<uint8_t>(quant);
  }
}

struct PreparedSize {
  int64_t prepared_bytes = 0;
  int64_t gguf_bytes = 0;
  double BitsPerWeight(int64_t weights) const {
    return 8.0 * static_cast<double>(prepared_bytes) / static_cast<double>(weights);
  }
};

// Llama-3-8B's ffn_down shape (N = 4096, K = 14336) of `kind` prepared on this machine's
// best kernel family: its size against the GGUF bytes (printed), after checking that one
// decode row through the prepared weights equals the reference. Zeros on failure.
inline PreparedSize PrepareFfnDown(OpKind kind, int64_t n = 4096, int64_t k = 14336) {
  std::unique_ptr<Backend> cpu = MakeCpu(BestIsa(), 1);
  if (cpu == nullptr) return {};
  auto in = MakeRandomInputs(kind, 1, n, k, 3, InputProfile::kRealistic);
  EXPECT_TRUE(in.ok()) << in.status();
  if (!in.ok()) return {};
  auto pw = cpu->PrepareWeights(kind, n, k, in->w, in->w_scale);
  EXPECT_TRUE(pw.ok()) << pw.status();
  if (!pw.ok()) return {};
  const PreparedSize size{(*pw)->SizeBytes(), static_cast<int64_t>(in->w.size())};
  std::cout << OpKindName(kind) << " " << n << " x " << k << ": prepared " << size.prepared_bytes
            << " B for " << size.gguf_bytes << " GGUF bytes ("
            << static_cast<double>(size.prepared_bytes) / static_cast<double>(size.gguf_bytes)
            << "x, " << size.BitsPerWeight(n * k) << " bits per weight)\n";
  const std::vector<uint8_t> want = ReferenceOutput(*in);
  OpArgs args = in->Args();
  std::vector<uint8_t> got(want.size(), 0xCD);
  args.out = got;
  args.w_prepared = pw->get();
  args.w = {};
  EXPECT_TRUE(RunOp(*cpu, args).ok());
  EXPECT_TRUE(got == want) << OpKindName(kind) << ": a decode row through prepared weights";
  return size;
}

// `in` on one thread of `isa` with MXCSR = DAZ | FTZ | round toward zero equals `want`
// (computed under the default): the kernels' f16 decode and output rounding must not
// depend on the floating-point mode. No-op off x86-64.
inline void ExpectIgnoresMxcsr(const char* isa, OpInputs& in, const std::vector<uint8_t>& want) {
#if defined(__x86_64__)
  std::unique_ptr<Backend> cpu = MakeCpu(isa, 1);
  ASSERT_NE(cpu, nullptr);
  const unsigned saved = __builtin_ia32_stmxcsr();
  __builtin_ia32_ldmxcsr(saved | 0x0040 /* DAZ */ | 0x8000 /* FTZ */ | 0x6000 /* RZ */);
  OpArgs args = in.Args();
  std::vector<uint8_t> got(want.size(), 0xCD);
  args.out = got;
  const absl::Status st = RunOp(*cpu, args);
  __builtin_ia32_ldmxcsr(saved);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_TRUE(got == want) << OpKindName(in.kind) << " isa=" << isa << " under DAZ|FTZ|RZ";
#endif
}

}  // namespace datanode::ops::testing

#endif  // DATANODE_TESTS_CPU_Q8_MATMUL_CHECK_H_
