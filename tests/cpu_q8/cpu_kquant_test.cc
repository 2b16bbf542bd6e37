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
#include "tests/cpu_q8/matmul_check.h"
#include "tests/ops/test_util.h"

namespace datanode::ops {
namespace {

constexpr OpKind kKinds[] = {OpKind::kMatMulQ8_0Q4_K, OpKind::kMatMulQ8_0Q6_K};
using testing::kCpuIsas;
using testing::Shape;

int64_t SuperBytes(OpKind kind) {
  return kind == OpKind::kMatMulQ8_0Q6_K ? kQ6_KBlockBytes : kQ4_KBlockBytes;
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
  // The kernels' per-call shortcut (Job::all_fast) holds exactly when every tile is fast.
  EXPECT_EQ(cpu::q8::CallIsFast(rows.base, packed->max_col_span(), cpu::kq::MaxColSpan(in.kind),
                                job.max_fast_span),
            std::find(fast.begin(), fast.end(), false) == fast.end())
      << OpKindName(in.kind);
  return fast;
}

// M: 1 (decode: the 64-column tile when a task has 4 panels), the 4-row tile +-1, 9, 16.
// N: 1, 15/16/17, 33, 47, 64/65 (one decode tile + 1), 80, 144. K: 1, 2, 3 and 16 super-blocks.
constexpr Shape kShapes[] = {
    {1, 1, 256},  {1, 64, 512}, {1, 65, 768}, {1, 144, 256}, {2, 17, 512},  {3, 15, 256},
    {4, 33, 768}, {5, 16, 256}, {9, 47, 512}, {16, 80, 256}, {1, 80, 4096}, {4, 18, 4096},
};

TEST(CpuKQuantTest, MatchesReferenceEveryIsaShapeProfileAndThreadCount) {
  const testing::GridCount count = testing::ExpectGridMatches(kKinds, kShapes, 9000);
  std::cout << count.cases << " cases, each raw and prepared\n";
  EXPECT_GE(count.cases, 3 * 2 * 3 * 12);  // portable at least
}

TEST(CpuKQuantTest, LargeSplitShapesMatchReference) {
  // Over the 1 MiB (prepared bytes x M) threshold, so the pool splits them: a decode row over
  // 65 panels and a prefill of 70 rows (two row tasks).
  uint64_t seed = 300;
  for (OpKind kind : kKinds) {
    for (const Shape& s : {Shape{1, 1040, 2048}, Shape{70, 100, 1024}}) {
      auto in = MakeRandomInputs(kind, s.m, s.n, s.k, ++seed, InputProfile::kRealistic);
      ASSERT_TRUE(in.ok());
      testing::ExpectEveryIsaMatches(
          *in, {3}, absl::StrCat(OpKindName(kind), " m=", s.m, " n=", s.n, " k=", s.k));
    }
  }
}

TEST(CpuKQuantTest, LargestKMatchesReference) {
  // K = 130816 = 511 super-blocks (the largest multiple of 256 <= 131071): the longest int64
  // accumulation and the longest slow path.
  testing::ExpectLongestKMatches(kKinds, 3, 130816, 88);
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
      StoreU16(blk + 208, testing::MaxMantissaF16(e));
    } else {
      StoreU16(blk, testing::MaxMantissaF16(e));
      StoreU16(blk + 2, testing::MaxMantissaF16(e, /*negative=*/true));
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
      testing::SetAMax(*in, sa, kind == OpKind::kMatMulQ8_0Q6_K ? -127 : 127);
      SetWMax(*in, sw);
      for (bool f : FastTiles(*in)) EXPECT_EQ(f, extra == 0) << "span " << span;
      testing::ExpectEveryIsaMatches(*in, {2},
                                     absl::StrCat(OpKindName(kind), " bound span=", span));
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
      testing::SetAMax(*in, 0, kind == OpKind::kMatMulQ8_0Q6_K ? -127 : 127);
      SetWMax(*in, sw);
      for (bool f : FastTiles(*in)) EXPECT_EQ(f, extra == 0) << OpKindName(kind) << " sw " << sw;
      testing::ExpectEveryIsaMatches(*in, {1}, absl::StrCat(OpKindName(kind), " sw=", sw));
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
    testing::ExpectEveryIsaMatches(*in, {1, 3}, OpKindName(kind));
    const std::vector<uint8_t> want = testing::ReferenceOutput(*in);
    for (const char* isa : kCpuIsas) {
      if (testing::MachineHas(isa)) testing::ExpectIgnoresMxcsr(isa, *in, want);
    }
  }
}

TEST(CpuKQuantTest, PreparedSizeStaysNearTheGgufBytes) {
  // Llama-3-8B's ffn_down: N = 4096, K = 14336. GGUF: 144 (Q4_K) / 210 (Q6_K) bytes per 256
  // weights. Prepared (kq_common.h): Q4_K keeps the GGUF's nibbles and packed scales (144 B);
  // Q6_K keeps its 6-bit planes for the AVX-512 kernel (210 B) and one byte per
  // weight for AVX2 / portable (274 B).
  const bool q6_planes = std::string(testing::BestIsa()) == "avx512vnni";
  for (OpKind kind : kKinds) {
    const testing::PreparedSize size = testing::PrepareFfnDown(kind);
    ASSERT_GT(size.prepared_bytes, 0);
    const double bound = kind == OpKind::kMatMulQ8_0Q4_K ? 4.51 : q6_planes ? 6.57 : 8.57;
    EXPECT_LE(size.BitsPerWeight(int64_t{4096} * 14336), bound)
        << OpKindName(kind) << " on " << testing::BestIsa();
  }
}

TEST(CpuKQuantTest, PrepareRejectsInvalidWeights) {
  std::unique_ptr<Backend> cpu = testing::MakeCpu("portable", 1);
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
