// Copyright 2026 The datanode Authors.
//
// The CPU backend's Q8_0-family matmul (kMatMulQ8_0Q8_0 / Q4_0 / Q4_1) against the
// reference, byte for byte: every kernel family (DATANODE_CPU_ISA), shapes at the tiling
// edges (M around the 4-row tile, N around the 16- and 32-column tiles, K = 32 ... 131040),
// the narrow-exponent profile (int64 fast path) and the wide one (int128 slow path), raw
// and prepared weights, 1 / 2 / 3 threads. Also checks which path each profile takes, an
// adversarial case at the exact edge of the fast path's int64 bound, and the fast f32
// rounding helper against the spec's routine.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/exact_float.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/types.h"
#include "gtest/gtest.h"
#include "ops/cpu/q8_common.h"
#include "tests/cpu_q8/matmul_check.h"
#include "tests/ops/test_util.h"

namespace datanode::ops {
namespace {

constexpr OpKind kQ8Kinds[] = {OpKind::kMatMulQ8_0Q8_0, OpKind::kMatMulQ8_0Q4_0,
                               OpKind::kMatMulQ8_0Q4_1};
using testing::kCpuIsas;
using testing::Shape;

// M: 1, the 4-row tile +-1, 9 (two tiles + 1), 16. N: 1, odd, 15/16/17 (one panel),
// 31/32/33 (the two-panel tile), 47/49, 64. K: one block, block boundaries, 4096.
constexpr Shape kShapes[] = {
    {1, 1, 32},   {1, 16, 64}, {2, 17, 96},   {3, 15, 32},   {4, 31, 128},  {5, 32, 64},
    {9, 33, 160}, {7, 47, 32}, {16, 49, 256}, {4, 64, 4096}, {1, 65, 4096}, {6, 3, 4096},
};

TEST(CpuQ8Test, MatchesReferenceEveryIsaShapeProfileAndThreadCount) {
  // The full grid at 1 thread; a subset (every third seed) at 2 and 3.
  const auto keep = [](int threads, uint64_t seed) { return threads == 1 || seed % 3 == 0; };
  const testing::GridCount count = testing::ExpectGridMatches(kQ8Kinds, kShapes, 1000, keep);
  EXPECT_GE(count.cases, 3 * 3 * 12);  // portable at 1 thread, at least
}

TEST(CpuQ8Test, LargestKMatchesReference) {
  // K = 131040 = 4095 blocks: the longest int64 accumulation (fast path needs
  // sa + sw <= MaxFastSpan, 10 for Q8_0 here) and the longest slow path.
  testing::ExpectLongestKMatches(kQ8Kinds, 5, 131040, 77);
}

// Whether the inputs take the int64 fast path (true) or the int128 slow path, per
// (row, panel) tile, as the kernels decide it.
std::vector<bool> FastTiles(OpInputs& in) {
  OpArgs args = in.Args();
  auto packed =
      cpu::q8::PackedQ8Weights::Pack(nullptr, in.kind, in.n, in.k, in.w, cpu::Isa::kPortable);
  const cpu::q8::ARows rows = cpu::q8::PrepareARows(args);
  cpu::q8::Job job{};
  job.kind = in.kind;
  job.m = in.m;
  job.n = in.n;
  job.num_blocks = in.k / kQBlockSize;
  job.rows = &rows;
  job.w = packed.get();
  job.max_fast_span = cpu::q8::MaxFastSpan(in.kind, job.num_blocks);
  std::vector<bool> fast;
  for (int64_t r = 0; r < in.m; ++r) {
    for (int64_t p = 0; p < packed->num_panels(); ++p) {
      fast.push_back(cpu::q8::TileIsFast(job, r, r + 1, p, p + 1));
    }
  }
  // The kernels' per-call shortcut (Job::all_fast) holds exactly when every tile is fast.
  EXPECT_EQ(cpu::q8::CallIsFast(rows, packed->max_col_span(), cpu::q8::kMaxColSpan,
                                job.max_fast_span),
            std::find(fast.begin(), fast.end(), false) == fast.end())
      << OpKindName(in.kind);
  return fast;
}

TEST(CpuQ8Test, ProfilesExerciseBothPaths) {
  // The equality tests above only prove both paths when the profiles really reach them.
  for (OpKind kind : kQ8Kinds) {
    for (int64_t k : {int64_t{4096}, int64_t{131040}}) {
      auto narrow = MakeRandomInputs(kind, 4, 33, k, 5, InputProfile::kRealistic);
      ASSERT_TRUE(narrow.ok());
      for (bool f : FastTiles(*narrow)) EXPECT_TRUE(f) << OpKindName(kind) << " k=" << k;
      auto wide = MakeRandomInputs(kind, 4, 33, k, 5, InputProfile::kWide);
      ASSERT_TRUE(wide.ok());
      for (bool f : FastTiles(*wide)) EXPECT_FALSE(f) << OpKindName(kind) << " k=" << k;
    }
  }
}

TEST(CpuQ8Test, FastPathBoundIsTightAndExact) {
  // Every quant +127 (so isum = 32 * 127 * 127, the bound) and every scale mantissa 2047;
  // block 0 sits at the low exponent, the rest at low + span, for span = MaxFastSpan
  // (fast path, int64 sum just below 2^63) and MaxFastSpan + 1 (slow path). An
  // accumulation one bit too narrow would overflow and differ from the reference.
  const int64_t k = 4096;
  const int64_t nb = k / kQBlockSize;
  const int max_span = cpu::q8::MaxFastSpan(OpKind::kMatMulQ8_0Q8_0, nb);
  ASSERT_GE(max_span, 1);
  for (int extra : {0, 1}) {
    const int span = max_span + extra;
    const int sa = span / 2;
    const int sw = span - sa;
    auto in = MakeRandomInputs(OpKind::kMatMulQ8_0Q8_0, 5, 18, k, 1, InputProfile::kRealistic);
    ASSERT_TRUE(in.ok());
    testing::SetAMax(*in, sa, 127);
    for (int64_t b = 0; b < static_cast<int64_t>(in->w.size()) / kQ8_0BlockBytes; ++b) {
      uint8_t* blk = &in->w[b * kQ8_0BlockBytes];
      StoreU16(blk, testing::MaxMantissaF16(b % nb == 0 ? -20 : -20 + sw));
      for (int t = 0; t < 32; ++t) blk[2 + t] = 127;
    }
    for (bool f : FastTiles(*in)) EXPECT_EQ(f, extra == 0) << "span " << span;
    testing::ExpectEveryIsaMatches(*in, {1}, absl::StrCat("bound span=", span));
  }
}

TEST(CpuQ8Test, RoundI64MatchesSpecRounding) {
  SplitMix64 rng(42);
  int checked = 0;
  for (int i = 0; i < 200000; ++i) {
    const int bits = static_cast<int>(rng.Uniform(1, 63));
    int64_t v = static_cast<int64_t>(rng.Next() >> (64 - bits));
    // Force exact ties and near-ties at the 24-bit boundary now and then.
    if (bits > 25 && i % 4 == 0) {
      const int drop = bits - 24;
      v = (v >> drop << drop) | (int64_t{1} << (drop - 1)) | (i % 8 == 0 ? 1 : 0);
    }
    if (rng.Next() & 1) v = -v;
    const int e = static_cast<int>(rng.Uniform(-200, 120));
    ASSERT_EQ(cpu::q8::RoundI64ToF32Bits(v, e), RoundToF32Bits(int128{v}, e))
        << "v=" << v << " e=" << e;
    ++checked;
  }
  EXPECT_EQ(checked, 200000);
  EXPECT_EQ(cpu::q8::RoundI64ToF32Bits(0, 7), 0u);
  EXPECT_EQ(cpu::q8::RoundI64ToF32Bits(INT64_MIN, 0), RoundToF32Bits(int128{INT64_MIN}, 0));
}

// Shapes for the packed-nibble Q4 layout and the decode (M = 1) path: M = 1 and larger
// (M = 1 takes the AVX-512 4-panel decode tile whenever a task has 4 panels);
// N odd multiples of the 16-column panel (48, 80, 144) and odd N; K odd multiples of the
// 32-element block (96, 160, 224, 416) and 1504 (47 blocks).
constexpr Shape kQ4Shapes[] = {
    {1, 48, 96},
    {1, 80, 160},
    {1, 23, 224},
    {1, 144, 416},
    {1, 1, 1504},
    {2, 48, 224},
    {3, 80, 96},
    {5, 21, 160},
    {8, 144, 32},
    {13, 48, 416},
    {4, 35, 1504},
    {1, 592, 96},
    // Over matmul_q8.cc's 1 MiB (prepared bytes x M) threshold, so the pool splits them:
    // decode rows over 129 panels, and a prefill of 70 rows (two row tasks).
    {1, 2064, 1024},
    {3, 1040, 1024},
    {70, 272, 416},
};

TEST(CpuQ8Test, PackedQ4LayoutMatchesReferenceEveryIsaAndThreadCount) {
  const testing::GridCount count = testing::ExpectGridMatches(kQ8Kinds, kQ4Shapes, 5000);
  std::cout << count.cases << " cases (" << count.decode_cases
            << " with M = 1), each raw and prepared\n";
  EXPECT_GE(count.cases, 3 * 3 * 3 * 15);  // portable, at least: 3 threads x 3 kinds x 3 profiles
}

// Scales that the fast path must decode in registers: random signs, f16 subnormals (biased
// exponent 0) next to normals, zero scales and negative zero, all within a 20-bit span.
TEST(CpuQ8Test, DecodedScalesSubnormalSignedAndZeroMatchReference) {
  SplitMix64 rng(99);
  int cases = 0;
  for (OpKind kind : kQ8Kinds) {
    const int64_t wbytes = kind == OpKind::kMatMulQ8_0Q8_0   ? kQ8_0BlockBytes
                           : kind == OpKind::kMatMulQ8_0Q4_0 ? kQ4_0BlockBytes
                                                             : kQ4_1BlockBytes;
    for (const Shape& s : {Shape{1, 37, 320}, Shape{3, 64, 224}}) {
      auto in = MakeRandomInputs(kind, s.m, s.n, s.k, 7 + cases, InputProfile::kRealistic);
      ASSERT_TRUE(in.ok());
      for (int64_t b = 0; b < static_cast<int64_t>(in->w.size()) / wbytes; ++b) {
        for (int which = 0; which < (kind == OpKind::kMatMulQ8_0Q4_1 ? 2 : 1); ++which) {
          uint8_t* at = &in->w[b * wbytes + 2 * which];
          const uint64_t r = rng.Next();
          uint16_t bits = static_cast<uint16_t>((r >> 8) & 0x3FF);  // mantissa field
          bits |= static_cast<uint16_t>(((r >> 20) % 12) << 10);    // biased exponent 0..11
          if (r & 1) bits |= 0x8000;                                // sign
          if ((r >> 40) % 16 == 0) bits &= 0x8000;                  // +0 / -0
          StoreU16(at, bits);
        }
      }
      for (bool f : FastTiles(*in)) EXPECT_TRUE(f) << OpKindName(kind);
      testing::ExpectEveryIsaMatches(
          *in, {1, 3}, absl::StrCat(OpKindName(kind), " m=", s.m, " n=", s.n, " k=", s.k));
      ++cases;
    }
  }
  EXPECT_EQ(cases, 6);
}

TEST(CpuQ8Test, DecodedScalesIgnoreMxcsr) {
#if defined(__x86_64__)
  // The SIMD kernels convert f16 scales with vcvtph2ps and scale them by 2^-e0: exact, with
  // no subnormal input or result, so DAZ / FTZ and the rounding mode cannot change a byte.
  // Run subnormal / signed scales with MXCSR = DAZ | FTZ | round toward zero (1 thread, so the
  // kernel runs on this thread) and compare with the reference computed under the default.
  SplitMix64 rng(123);
  for (OpKind kind : kQ8Kinds) {
    const int64_t wbytes = kind == OpKind::kMatMulQ8_0Q8_0   ? kQ8_0BlockBytes
                           : kind == OpKind::kMatMulQ8_0Q4_0 ? kQ4_0BlockBytes
                                                             : kQ4_1BlockBytes;
    auto in = MakeRandomInputs(kind, 1, 80, 320, 17, InputProfile::kRealistic);
    ASSERT_TRUE(in.ok());
    for (int64_t b = 0; b < static_cast<int64_t>(in->w.size()) / wbytes; ++b) {
      for (int which = 0; which < (kind == OpKind::kMatMulQ8_0Q4_1 ? 2 : 1); ++which) {
        const uint64_t r = rng.Next();
        StoreU16(
            &in->w[b * wbytes + 2 * which],
            static_cast<uint16_t>(((r >> 8) & 0x3FF) | (((r >> 20) % 6) << 10) | ((r & 1) << 15)));
      }
    }
    const std::vector<uint8_t> want = testing::ReferenceOutput(*in);
    for (const char* isa : kCpuIsas) {
      if (testing::MachineHas(isa)) testing::ExpectIgnoresMxcsr(isa, *in, want);
    }
  }
#endif
}

TEST(CpuQ8Test, Q4FastPathBoundIsTightAndExact) {
  // Q4_1 with every nibble 15 and every A quant +127 (isum + asum at the Q4_1 bound), d and m
  // mantissas 2047, spans MaxFastSpan (fast) and MaxFastSpan + 1 (slow); Q4_0 with every
  // nibble 0 (quant -8) likewise.
  const int64_t k = 4096;
  const int64_t nb = k / kQBlockSize;
  for (OpKind kind : {OpKind::kMatMulQ8_0Q4_0, OpKind::kMatMulQ8_0Q4_1}) {
    const bool q41 = kind == OpKind::kMatMulQ8_0Q4_1;
    const int64_t wbytes = q41 ? kQ4_1BlockBytes : kQ4_0BlockBytes;
    const int max_span = cpu::q8::MaxFastSpan(kind, nb);
    ASSERT_GE(max_span, 1);
    for (int extra : {0, 1}) {
      const int span = max_span + extra;
      const int sw = std::min(span, cpu::q8::kMaxColSpan);
      const int sa = span - sw;
      auto in = MakeRandomInputs(kind, 3, 40, k, 11, InputProfile::kRealistic);
      ASSERT_TRUE(in.ok());
      testing::SetAMax(*in, sa, 127);
      for (int64_t b = 0; b < static_cast<int64_t>(in->w.size()) / wbytes; ++b) {
        uint8_t* blk = &in->w[b * wbytes];
        StoreU16(blk, testing::MaxMantissaF16(b % nb == 0 ? -20 : -20 + sw));
        if (q41) StoreU16(blk + 2, testing::MaxMantissaF16(b % nb == 0 ? -20 : -20 + sw));
        for (int t = 0; t < 16; ++t) blk[(q41 ? 4 : 2) + t] = q41 ? 0xFF : 0x00;
      }
      for (bool f : FastTiles(*in)) EXPECT_EQ(f, extra == 0) << "span " << span;
      testing::ExpectEveryIsaMatches(*in, {2},
                                     absl::StrCat(OpKindName(kind), " bound span=", span));
    }
  }
}

TEST(CpuQ8Test, PreparedQ4StaysAtAbout4BitsPerWeight) {
  // Llama-3-8B's ffn_down: N = 4096, K = 14336. GGUF bytes: 18 (Q4_0) / 20 (Q4_1) / 34 (Q8_0)
  // per 32 weights. The prepared tensor keeps the nibbles packed and the f16 scale bits.
  for (OpKind kind : kQ8Kinds) {
    const testing::PreparedSize size = testing::PrepareFfnDown(kind);
    ASSERT_GT(size.prepared_bytes, 0);
    EXPECT_LE(size.prepared_bytes, 115 * size.gguf_bytes / 100) << OpKindName(kind);
  }
}

TEST(CpuQ8Test, PrepareRejectsInvalidWeights) {
  std::unique_ptr<Backend> cpu = testing::MakeCpu("portable", 1);
  ASSERT_NE(cpu, nullptr);
  auto in = MakeRandomInputs(OpKind::kMatMulQ8_0Q8_0, 1, 2, 64, 3, InputProfile::kRealistic);
  ASSERT_TRUE(in.ok());
  in->w[5] = 0x80;  // -128 is not a valid Q8_0 quant
  auto p = cpu->PrepareWeights(in->kind, in->n, in->k, in->w, in->w_scale);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << p.status();
}

}  // namespace
}  // namespace datanode::ops
