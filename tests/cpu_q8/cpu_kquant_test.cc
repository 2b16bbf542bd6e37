// Copyright 2026 The datanode Authors.
//
// The CPU backend's K-quant matmuls (kMatMulQ8_0Q4_K, kMatMulQ8_0Q6_K) against the
// reference, byte for byte: every kernel family (DATANODE_CPU_ISA), shapes at the tiling
// edges (M around the 4-row tile, N around the 16-column panel and the 64-column decode
// tile, K = 256 ... 130816 in whole super-blocks), every input profile (kRealistic takes the
// int64 fast path, kWide / kExtreme the int128 slow path: asserted), raw and prepared
// weights, 1 / 2 / 3 threads. Also: inputs at the exact edge of the fast path's int64 bound
// and its column-span limit, f16 subnormal / signed / zero scales decoded in registers, and
// the prepared size of a Llama-3-8B ffn_down tensor.
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/exact_float.h"
#include "datanode/ops/kquant.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/types.h"
#include "gtest/gtest.h"
#include "ops/cpu/kq_common.h"
#include "tests/ops/test_util.h"

namespace datanode::ops {
namespace {

constexpr OpKind kKinds[] = {OpKind::kMatMulQ8_0Q4_K, OpKind::kMatMulQ8_0Q6_K};
using testing::kCpuIsas;
using testing::ProfileName;

bool MachineHas(const std::string& isa) {
  std::string why;
  return testing::MachineHasIsa(isa, &why);
}

int64_t SuperBytes(OpKind kind) {
  return kind == OpKind::kMatMulQ8_0Q6_K ? kQ6_KBlockBytes : kQ4_KBlockBytes;
}

std::unique_ptr<Backend> MakeCpu(const std::string& isa, int threads) {
  auto backend = testing::CreateCpuWithIsa(isa, threads);
  EXPECT_TRUE(backend.ok()) << backend.status();
  if (!backend.ok()) return nullptr;
  EXPECT_NE((*backend)->Description().find(isa), std::string::npos);
  return std::move(backend).value();
}

std::vector<uint8_t> ReferenceOutput(OpInputs& in) {
  auto ref = CreateBackend("reference");
  EXPECT_TRUE(ref.ok());
  OpArgs args = in.Args();
  std::vector<uint8_t> out(args.out.size(), 0xAB);
  args.out = out;
  EXPECT_TRUE(RunOp(**ref, args).ok());
  return out;
}

// Runs `in` on `backend` with raw and with prepared weights and compares both with `want`.
void ExpectMatchesReference(Backend& backend, OpInputs& in, const std::vector<uint8_t>& want,
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
      args.w_prepared = pw.get();
      args.w = {};
    }
    const absl::Status st = RunOp(backend, args);
    ASSERT_TRUE(st.ok()) << st << " " << what;
    size_t diff = 0;
    while (diff < want.size() && want[diff] == got[diff]) ++diff;
    ASSERT_EQ(diff, want.size()) << what << (prepared ? " prepared" : " raw")
                                 << ": first differing output byte " << diff << " (row "
                                 << diff / 4 / in.n << ", col " << diff / 4 % in.n << ")";
  }
}

// Whether each (row, panel) tile takes the int64 fast path, as the kernels decide it.
std::vector<bool> FastTiles(OpInputs& in) {
  OpArgs args = in.Args();
  auto packed =
      cpu::kq::PackedKqWeights::Pack(nullptr, in.kind, in.n, in.k, in.w, cpu::Isa::kPortable);
  const cpu::kq::KqARows rows = cpu::kq::PrepareKqARows(args);
  cpu::kq::Job job{};
  job.kind = in.kind;
  job.m = in.m;
  job.n = in.n;
  job.num_supers = in.k / kQKSuperBlockSize;
  job.rows = &rows;
  job.w = packed.get();
  job.max_fast_span = cpu::kq::MaxFastSpan(in.kind, in.k / kQBlockSize);
  std::vector<bool> fast;
  for (int64_t r = 0; r < in.m; ++r) {
    for (int64_t p = 0; p < packed->num_panels(); ++p) {
      fast.push_back(cpu::kq::TileIsFast(job, r, r + 1, p, p + 1));
    }
  }
  return fast;
}

struct Shape {
  int64_t m, n, k;
};

// M: 1 (decode: the 64-column tile when a task has 4 panels), the 4-row tile +-1, 9, 16.
// N: 1, 15/16/17, 33, 47, 64/65 (one decode tile + 1), 80, 144. K: 1, 2, 3 and 16 super-blocks.
constexpr Shape kShapes[] = {
    {1, 1, 256},  {1, 64, 512}, {1, 65, 768}, {1, 144, 256}, {2, 17, 512},  {3, 15, 256},
    {4, 33, 768}, {5, 16, 256}, {9, 47, 512}, {16, 80, 256}, {1, 80, 4096}, {4, 18, 4096},
};

TEST(CpuKQuantTest, MatchesReferenceEveryIsaShapeProfileAndThreadCount) {
  uint64_t seed = 9000;
  int cases = 0;
  for (const char* isa : kCpuIsas) {
    if (!MachineHas(isa)) {
      std::cout << "skipping ISA " << isa << ": not on this CPU\n";
      continue;
    }
    for (int threads : {1, 2, 3}) {
      std::unique_ptr<Backend> cpu = MakeCpu(isa, threads);
      ASSERT_NE(cpu, nullptr);
      for (OpKind kind : kKinds) {
        for (InputProfile profile :
             {InputProfile::kRealistic, InputProfile::kWide, InputProfile::kExtreme}) {
          for (const Shape& s : kShapes) {
            ++seed;
            auto in = MakeRandomInputs(kind, s.m, s.n, s.k, seed, profile);
            ASSERT_TRUE(in.ok()) << in.status();
            const std::vector<uint8_t> want = ReferenceOutput(*in);
            ExpectMatchesReference(
                *cpu, *in, want,
                absl::StrCat(OpKindName(kind), " isa=", isa, " threads=", threads,
                             " profile=", ProfileName(profile), " m=", s.m, " n=", s.n, " k=", s.k,
                             " seed=", seed));
            ++cases;
          }
        }
      }
    }
  }
  std::cout << cases << " cases, each raw and prepared\n";
  EXPECT_GE(cases, 3 * 2 * 3 * 12);  // portable at least
}

TEST(CpuKQuantTest, LargeSplitShapesMatchReference) {
  // Over the 1 MiB (prepared bytes x M) threshold, so the pool splits them: a decode row over
  // 65 panels and a prefill of 70 rows (two row tasks).
  uint64_t seed = 300;
  for (const char* isa : kCpuIsas) {
    if (!MachineHas(isa)) continue;
    std::unique_ptr<Backend> cpu = MakeCpu(isa, 3);
    ASSERT_NE(cpu, nullptr);
    for (OpKind kind : kKinds) {
      for (const Shape& s : {Shape{1, 1040, 2048}, Shape{70, 100, 1024}}) {
        auto in = MakeRandomInputs(kind, s.m, s.n, s.k, ++seed, InputProfile::kRealistic);
        ASSERT_TRUE(in.ok());
        const std::vector<uint8_t> want = ReferenceOutput(*in);
        ExpectMatchesReference(
            *cpu, *in, want,
            absl::StrCat(OpKindName(kind), " isa=", isa, " m=", s.m, " n=", s.n, " k=", s.k));
      }
    }
  }
}

TEST(CpuKQuantTest, LargestKMatchesReference) {
  // K = 130816 = 511 super-blocks (the largest multiple of 256 <= 131071): the longest int64
  // accumulation and the longest slow path.
  uint64_t seed = 88;
  for (const char* isa : kCpuIsas) {
    if (!MachineHas(isa)) continue;
    std::unique_ptr<Backend> cpu = MakeCpu(isa, 2);
    ASSERT_NE(cpu, nullptr);
    for (OpKind kind : kKinds) {
      for (InputProfile profile : {InputProfile::kRealistic, InputProfile::kWide}) {
        auto in = MakeRandomInputs(kind, 3, 17, 130816, ++seed, profile);
        ASSERT_TRUE(in.ok());
        const std::vector<uint8_t> want = ReferenceOutput(*in);
        ExpectMatchesReference(*cpu, *in, want,
                               absl::StrCat(OpKindName(kind), " isa=", isa, " profile=",
                                            ProfileName(profile), " k=130816 seed=", seed));
      }
    }
  }
}

TEST(CpuKQuantTest, ProfilesExerciseBothPaths) {
  // The equality tests above only prove both paths when the profiles really reach them.
  for (OpKind kind : kKinds) {
    auto narrow = MakeRandomInputs(kind, 4, 33, 4096, 5, InputProfile::kRealistic);
    ASSERT_TRUE(narrow.ok());
    for (bool f : FastTiles(*narrow)) EXPECT_TRUE(f) << OpKindName(kind);
    for (InputProfile profile : {InputProfile::kWide, InputProfile::kExtreme}) {
      auto wide = MakeRandomInputs(kind, 4, 33, 4096, 5, profile);
      ASSERT_TRUE(wide.ok());
      for (bool f : FastTiles(*wide)) EXPECT_FALSE(f) << OpKindName(kind);
    }
  }
}

// f16 bits with mantissa 2047 and integer-form exponent e (-24 < e <= 5), negative if asked.
uint16_t MaxMantissaF16(int e, bool negative = false) {
  return static_cast<uint16_t>(((e + 25) << 10) | 0x3FF | (negative ? 0x8000 : 0));
}

// Sets every A block to scale mantissa 2047 (block 0 of each row at exponent -20, the rest
// at -20 + sa) and every quant to `quant`.
void SetA(OpInputs& in, int sa, int8_t quant) {
  const int64_t nb = in.k / kQBlockSize;
  for (int64_t b = 0; b < static_cast<int64_t>(in.a.size()) / kQ8_0BlockBytes; ++b) {
    uint8_t* blk = &in.a[b * kQ8_0BlockBytes];
    StoreU16(blk, MaxMantissaF16(b % nb == 0 ? -20 : -20 + sa));
    for (int t = 0; t < 32; ++t) blk[2 + t] = static_cast<uint8_t>(quant);
  }
}

// Every weight super-block at the largest term: Q4_K nibbles 15, scales and mins 63, d
// mantissa 2047 and dmin -2047 (so the min term adds to the quant term); Q6_K quants -32,
// scales -128, d 2047. Super-block 0 of each row at exponent -20, the rest at -20 + sw.
void SetWMax(OpInputs& in, int sw) {
  const bool q6 = in.kind == OpKind::kMatMulQ8_0Q6_K;
  const int64_t sb = SuperBytes(in.kind);
  const int64_t ns = in.k / kQKSuperBlockSize;
  for (int64_t s = 0; s < static_cast<int64_t>(in.w.size()) / sb; ++s) {
    uint8_t* blk = &in.w[s * sb];
    const int e = s % ns == 0 ? -20 : -20 + sw;
    if (q6) {
      std::fill(blk, blk + 192, 0);  // q6 = 0: quant -32
      std::fill(blk + 192, blk + 208, 0x80);
      StoreU16(blk + 208, MaxMantissaF16(e));
    } else {
      StoreU16(blk, MaxMantissaF16(e));
      StoreU16(blk + 2, MaxMantissaF16(e, /*negative=*/true));
      std::fill(blk + 4, blk + 16, 0xFF);  // every 6-bit scale and min 63
      std::fill(blk + 16, blk + 144, 0xFF);
    }
  }
}

TEST(CpuKQuantTest, FastPathBoundIsTightAndExact) {
  // Every term at its largest magnitude, all of one sign, spans MaxFastSpan (fast path, the
  // int64 sum just below 2^63) and MaxFastSpan + 1 (slow path); an accumulation one bit too
  // narrow would wrap and differ from the reference. Q4_K with A = +127 (isum and -dmin *
  // min * asum both positive), Q6_K with A = -127 against quants -32 and scales -128.
  const int64_t k = 4096;
  const int64_t nb = k / kQBlockSize;
  for (OpKind kind : kKinds) {
    const int max_span = cpu::kq::MaxFastSpan(kind, nb);
    ASSERT_GE(max_span, 1);
    for (int extra : {0, 1}) {
      const int span = max_span + extra;
      const int sw = std::min(span, cpu::kq::MaxColSpan(kind));
      const int sa = span - sw;
      auto in = MakeRandomInputs(kind, 3, 40, k, 11, InputProfile::kRealistic);
      ASSERT_TRUE(in.ok());
      SetA(*in, sa, kind == OpKind::kMatMulQ8_0Q6_K ? -127 : 127);
      SetWMax(*in, sw);
      for (bool f : FastTiles(*in)) EXPECT_EQ(f, extra == 0) << "span " << span;
      const std::vector<uint8_t> want = ReferenceOutput(*in);
      for (const char* isa : kCpuIsas) {
        if (!MachineHas(isa)) continue;
        std::unique_ptr<Backend> cpu = MakeCpu(isa, 2);
        ASSERT_NE(cpu, nullptr);
        ExpectMatchesReference(*cpu, *in, want,
                               absl::StrCat(OpKindName(kind), " bound span=", span, " isa=", isa));
      }
    }
  }
}

TEST(CpuKQuantTest, ColumnSpanLimitIsTightAndExact) {
  // The weight factor md * sc << sw at the largest |md * sc| must fit an int32 lane: at
  // sw = MaxColSpan it does (fast path), at MaxColSpan + 1 the column goes slow. One A block
  // and one super-block per row (K = 256), so the int64 bound is far away.
  for (OpKind kind : kKinds) {
    for (int extra : {0, 1}) {
      const int sw = cpu::kq::MaxColSpan(kind) + extra;
      auto in = MakeRandomInputs(kind, 2, 20, 512, 12, InputProfile::kRealistic);
      ASSERT_TRUE(in.ok());
      SetA(*in, 0, kind == OpKind::kMatMulQ8_0Q6_K ? -127 : 127);
      SetWMax(*in, sw);
      for (bool f : FastTiles(*in)) EXPECT_EQ(f, extra == 0) << OpKindName(kind) << " sw " << sw;
      const std::vector<uint8_t> want = ReferenceOutput(*in);
      for (const char* isa : kCpuIsas) {
        if (!MachineHas(isa)) continue;
        std::unique_ptr<Backend> cpu = MakeCpu(isa, 1);
        ASSERT_NE(cpu, nullptr);
        ExpectMatchesReference(*cpu, *in, want,
                               absl::StrCat(OpKindName(kind), " sw=", sw, " isa=", isa));
      }
    }
  }
}

TEST(CpuKQuantTest, DecodedScalesSubnormalSignedAndZeroMatchReference) {
  // d (and dmin) with random signs, f16 subnormals next to normals, +0 and -0, biased
  // exponents 0..9: still the fast path, so the in-register decode of every kind of f16 is
  // checked. Also with MXCSR = DAZ | FTZ | round toward zero on one thread: the SIMD decode
  // (vcvtph2ps, an exact power-of-two product) and the output conversion (explicit
  // rounding) must not depend on it.
  SplitMix64 rng(321);
  for (OpKind kind : kKinds) {
    const bool q6 = kind == OpKind::kMatMulQ8_0Q6_K;
    const int64_t sb = SuperBytes(kind);
    auto in = MakeRandomInputs(kind, 3, 70, 1024, 21, InputProfile::kRealistic);
    ASSERT_TRUE(in.ok());
    for (int64_t s = 0; s < static_cast<int64_t>(in->w.size()) / sb; ++s) {
      for (int which = 0; which < (q6 ? 1 : 2); ++which) {
        const uint64_t r = rng.Next();
        uint16_t bits = static_cast<uint16_t>((r >> 8) & 0x3FF);
        bits |= static_cast<uint16_t>(((r >> 20) % 10) << 10);
        if (r & 1) bits |= 0x8000;
        if ((r >> 40) % 16 == 0) bits &= 0x8000;  // +0 / -0
        StoreU16(&in->w[s * sb + (q6 ? 208 : 2 * which)], bits);
      }
    }
    for (bool f : FastTiles(*in)) EXPECT_TRUE(f) << OpKindName(kind);
    const std::vector<uint8_t> want = ReferenceOutput(*in);
    for (const char* isa : kCpuIsas) {
      if (!MachineHas(isa)) continue;
      for (int threads : {1, 3}) {
        std::unique_ptr<Backend> cpu = MakeCpu(isa, threads);
        ASSERT_NE(cpu, nullptr);
        ExpectMatchesReference(*cpu, *in, want,
                               absl::StrCat(OpKindName(kind), " isa=", isa, " threads=", threads));
      }
#if defined(__x86_64__)
      std::unique_ptr<Backend> cpu = MakeCpu(isa, 1);
      ASSERT_NE(cpu, nullptr);
      const unsigned saved = __builtin_ia32_stmxcsr();
      __builtin_ia32_ldmxcsr(saved | 0x0040 /* DAZ */ | 0x8000 /* FTZ */ | 0x6000 /* RZ */);
      OpArgs args = in->Args();
      std::vector<uint8_t> got(want.size(), 0xCD);
      args.out = got;
      const absl::Status st = RunOp(*cpu, args);
      __builtin_ia32_ldmxcsr(saved);
      ASSERT_TRUE(st.ok()) << st;
      EXPECT_TRUE(got == want) << OpKindName(kind) << " isa=" << isa << " under DAZ|FTZ|RZ";
#endif
    }
  }
}

TEST(CpuKQuantTest, PreparedSizeStaysNearTheGgufBytes) {
  // Llama-3-8B's ffn_down: N = 4096, K = 14336. GGUF: 144 (Q4_K) / 210 (Q6_K) bytes per 256
  // weights. Prepared: Q4_K keeps the nibbles packed and the scales as bytes (148 B), Q6_K
  // widens its quants to bytes (274 B); kq_common.h.
  const int64_t n = 4096;
  const int64_t k = 14336;
  std::unique_ptr<Backend> cpu = MakeCpu(testing::BestIsa(), 1);
  ASSERT_NE(cpu, nullptr);
  for (OpKind kind : kKinds) {
    auto in = MakeRandomInputs(kind, 1, n, k, 3, InputProfile::kRealistic);
    ASSERT_TRUE(in.ok());
    auto pw = cpu->PrepareWeights(kind, n, k, in->w, in->w_scale);
    ASSERT_TRUE(pw.ok()) << pw.status();
    const double ratio =
        static_cast<double>((*pw)->SizeBytes()) / static_cast<double>(in->w.size());
    const double bits = 8.0 * static_cast<double>((*pw)->SizeBytes()) / (n * k);
    std::cout << OpKindName(kind) << " " << n << " x " << k << ": prepared " << (*pw)->SizeBytes()
              << " B for " << in->w.size() << " GGUF bytes (" << ratio << "x, " << bits
              << " bits per weight)\n";
    if (kind == OpKind::kMatMulQ8_0Q4_K) {
      EXPECT_LE(bits, 4.7);
    } else {
      EXPECT_LE(bits, 8.6);
    }
    // One decode row still equals the reference on this shape.
    const std::vector<uint8_t> want = ReferenceOutput(*in);
    OpArgs args = in->Args();
    std::vector<uint8_t> got(want.size(), 0xCD);
    args.out = got;
    args.w_prepared = pw->get();
    args.w = {};
    ASSERT_TRUE(RunOp(*cpu, args).ok());
    EXPECT_TRUE(got == want) << OpKindName(kind);
  }
}

TEST(CpuKQuantTest, PrepareRejectsInvalidWeights) {
  std::unique_ptr<Backend> cpu = MakeCpu("portable", 1);
  ASSERT_NE(cpu, nullptr);
  for (OpKind kind : kKinds) {
    auto in = MakeRandomInputs(kind, 1, 2, 256, 3, InputProfile::kRealistic);
    ASSERT_TRUE(in.ok());
    StoreU16(&in->w[kind == OpKind::kMatMulQ8_0Q6_K ? 208 : 0], 0x7C00);  // d = +inf
    auto p = cpu->PrepareWeights(in->kind, in->n, in->k, in->w, in->w_scale);
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << p.status();
  }
}

}  // namespace
}  // namespace datanode::ops
