// Copyright 2026 The datanode Authors.
//
// Runs without a GPU: compiles the kernels' __host__ __device__ arithmetic
// (ops/cuda/exact_math.cuh, ops/cuda/q8_dot.h) for the host and checks it bit for bit
// against the spec (ops/exact_float.h, ops/reference/) over millions of random
// inputs. The device build compiles the same source, so this is the proof that the
// kernels round exactly like the reference; the GPU tests then check the rest.
#include "ops/cuda/exact_math.cuh"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "datanode/ops/exact_float.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/reference.h"
#include "ops/cuda/q8_dot.h"
#include "ops/reference/quantize_common.h"

namespace datanode::ops::cuda {
namespace {

// A random int128 with a random bit length (0..max_bits) and sign.
i128 RandomMantissa(SplitMix64& rng, int max_bits) {
  const int bits = static_cast<int>(rng.Uniform(0, max_bits));
  u128 u = (u128(rng.Next()) << 64) | rng.Next();
  u = bits == 0 ? 0 : (u >> (128 - bits)) | (u128(1) << (bits - 1));
  // Mantissas near ties: clear a run of low bits or set them, now and then.
  switch (rng.Next() % 4) {
    case 0:
      u &= ~((u128(1) << rng.Uniform(0, 60)) - 1);
      break;
    case 1:
      u |= (u128(1) << rng.Uniform(0, 60)) - 1;
      break;
    default:
      break;
  }
  const i128 v = static_cast<i128>(u >> 1);
  return (rng.Next() & 1) ? -v : v;
}

TEST(CudaExactMath, RoundF32MatchesSpec) {
  SplitMix64 rng(1);
  for (int i = 0; i < 2'000'000; ++i) {
    const i128 m = RandomMantissa(rng, 120);
    const int e = static_cast<int>(rng.Uniform(-330, 160));
    ASSERT_EQ(RoundF32(m, e), RoundToF32Bits(m, e))
        << "mantissa bits " << static_cast<int64_t>(m) << " exponent " << e;
  }
}

TEST(CudaExactMath, RoundF16MatchesSpec) {
  SplitMix64 rng(2);
  for (int i = 0; i < 2'000'000; ++i) {
    const i128 m = RandomMantissa(rng, 120);
    const int e = static_cast<int>(rng.Uniform(-200, 60));
    ASSERT_EQ(RoundF16(m, e), RoundToF16Bits(m, e)) << "exponent " << e;
  }
}

TEST(CudaExactMath, QuantizeScalesMatchSpecForEveryExponent) {
  // Every biased exponent (incl. subnormals) with random and edge fractions.
  SplitMix64 rng(3);
  for (uint32_t biased = 0; biased < 255; ++biased) {
    for (int i = 0; i < 4000; ++i) {
      uint32_t frac = static_cast<uint32_t>(rng.Next() & 0x7FFFFF);
      if (i == 0) frac = 0;
      if (i == 1) frac = 0x7FFFFF;
      const uint32_t bits = (biased << 23) | frac;
      const ExactValue amax = DecodeF32Bits(bits);
      const uint32_t want32 =
          amax.mantissa == 0 ? 0 : RoundQuotientToF32Bits(amax.mantissa, amax.exponent, 127);
      ASSERT_EQ(S8RowScaleBits(bits), want32) << "amax bits " << bits;
      const uint16_t want16 =
          amax.mantissa == 0 ? 0 : RoundQuotientToF16Bits(amax.mantissa, amax.exponent, 127);
      ASSERT_EQ(Q8_0ScaleBits(bits), want16) << "amax bits " << bits;
    }
  }
}

TEST(CudaExactMath, QuantizeExactMatchesSpec) {
  SplitMix64 rng(4);
  for (int i = 0; i < 3'000'000; ++i) {
    const uint32_t x_bits = static_cast<uint32_t>(rng.Next()) & 0xFF7FFFFFu;  // finite
    uint32_t s_bits = static_cast<uint32_t>(rng.Next()) & 0x7F7FFFFFu;        // finite, >= 0
    if (rng.Next() % 2 == 0) {
      // The realistic case: s near |x| / 127, so q lands inside [-127, 127].
      const uint32_t x_abs = x_bits & 0x7FFFFFFFu;
      const ExactValue ax = DecodeF32Bits(x_abs);
      s_bits = ax.mantissa == 0
                   ? 1u
                   : RoundQuotientToF32Bits(ax.mantissa, ax.exponent, rng.Uniform(100, 127)) +
                         static_cast<uint32_t>(rng.Uniform(0, 3));
    }
    if ((s_bits & 0x7FFFFFFFu) == 0) s_bits = 1;
    const ExactValue x = DecodeF32Bits(x_bits);
    const ExactValue s = DecodeF32Bits(s_bits);
    const ExactParts xp{x.mantissa, x.exponent};
    const ExactParts sp{s.mantissa, s.exponent};
    ASSERT_EQ(QuantizeExactParts(xp, sp), reference::QuantizeExact(x, s))
        << "x bits " << x_bits << " s bits " << s_bits;
  }
}

TEST(CudaExactMath, S8ScaleEpilogueMatchesSpec) {
  SplitMix64 rng(5);
  for (int i = 0; i < 2'000'000; ++i) {
    const int64_t bound = int64_t{127} * 127 * kMaxK;
    const int32_t isum =
        static_cast<int32_t>(rng.Uniform(-bound, bound) / (1 << rng.Uniform(0, 24)));
    const uint32_t sa = static_cast<uint32_t>(rng.Next()) & 0xFF7FFFFFu;
    const uint32_t sw = static_cast<uint32_t>(rng.Next()) & 0xFF7FFFFFu;
    const ExactValue a = DecodeF32Bits(sa);
    const ExactValue w = DecodeF32Bits(sw);
    const uint32_t want =
        RoundToF32Bits(int128{a.mantissa} * w.mantissa * isum, a.exponent + w.exponent);
    ASSERT_EQ(ScaleS8Element(isum, sa, sw), want) << isum << " " << sa << " " << sw;
  }
}

TEST(CudaExactMath, Dot4S8IsExact) {
  SplitMix64 rng(6);
  for (int i = 0; i < 1'000'000; ++i) {
    const uint32_t a = static_cast<uint32_t>(rng.Next());
    const uint32_t b = static_cast<uint32_t>(rng.Next());
    int want = 7;
    for (int j = 0; j < 4; ++j) {
      want += int{static_cast<int8_t>(a >> (8 * j))} * int{static_cast<int8_t>(b >> (8 * j))};
    }
    ASSERT_EQ(Dot4S8(a, b, 7), want);
  }
}

TEST(CudaExactMath, Q8DotMatchesReferenceFixedPoint) {
  const struct {
    OpKind kind;
    Q8WeightFormat format;
  } kCases[] = {{OpKind::kMatMulQ8_0Q8_0, Q8WeightFormat::kQ8_0},
                {OpKind::kMatMulQ8_0Q4_0, Q8WeightFormat::kQ4_0},
                {OpKind::kMatMulQ8_0Q4_1, Q8WeightFormat::kQ4_1}};
  int checked = 0;
  for (const auto& c : kCases) {
    for (uint64_t seed = 0; seed < 300; ++seed) {
      const auto profile = static_cast<InputProfile>(seed % 3);
      const int64_t k = 32 * (1 + static_cast<int64_t>(seed % 17));
      auto in = MakeRandomInputs(c.kind, 3, 5, k, seed, profile);
      ASSERT_TRUE(in.ok()) << in.status();
      const int64_t blocks = k / 32;
      const int64_t wb = Q8WeightBlockBytes(c.format);
      for (int64_t i = 0; i < 3; ++i) {
        for (int64_t j = 0; j < 5; ++j) {
          const uint8_t* a_row = &in->a[i * blocks * 34];
          const uint8_t* w_row = &in->w[j * blocks * wb];
          const i128 got = Q8DotFixed(c.format, a_row, w_row, blocks);
          const int128 want = reference::Q8_0DotFixedPoint(c.kind, a_row, w_row, blocks);
          ASSERT_TRUE(got == want) << OpKindName(c.kind) << " seed " << seed;
          ASSERT_EQ(RoundF32(got, kQ8FixedExponent),
                    RoundToF32Bits(want, reference::kQ8FixedPointExponent));
          ++checked;
        }
      }
    }
  }
  EXPECT_EQ(checked, 3 * 300 * 15);
}

// The warp split of matmul_q8.cu: lane l sums blocks l, l + 32, ...; a butterfly of
// xor-shuffles (emulated here) adds the 32 partial sums. Rows of up to 120 blocks, so
// every lane gets several.
TEST(CudaExactMath, Q8WarpSplitSumsToTheWholeRow) {
  for (Q8WeightFormat format :
       {Q8WeightFormat::kQ8_0, Q8WeightFormat::kQ4_0, Q8WeightFormat::kQ4_1}) {
    const OpKind kind = format == Q8WeightFormat::kQ8_0   ? OpKind::kMatMulQ8_0Q8_0
                        : format == Q8WeightFormat::kQ4_0 ? OpKind::kMatMulQ8_0Q4_0
                                                          : OpKind::kMatMulQ8_0Q4_1;
    for (int64_t blocks : {1, 31, 32, 33, 64, 97, 120}) {
      auto in = MakeRandomInputs(kind, 1, 2, 32 * blocks, static_cast<uint64_t>(blocks),
                                 InputProfile::kExtreme);
      ASSERT_TRUE(in.ok()) << in.status();
      const uint8_t* w_row = &in->w[static_cast<size_t>(blocks * Q8WeightBlockBytes(format))];
      i128 lanes[32];
      for (int l = 0; l < 32; ++l) {
        lanes[l] = Q8DotFixedStrided(format, in->a.data(), w_row, blocks, l, 32);
      }
      for (int offset = 16; offset > 0; offset >>= 1) {
        i128 next[32];
        for (int l = 0; l < 32; ++l) next[l] = lanes[l] + lanes[l ^ offset];
        std::copy(next, next + 32, lanes);
      }
      const i128 whole = Q8DotFixed(format, in->a.data(), w_row, blocks);
      const int128 want = reference::Q8_0DotFixedPoint(kind, in->a.data(), w_row, blocks);
      ASSERT_TRUE(whole == want);
      for (int l = 0; l < 32; ++l) ASSERT_TRUE(lanes[l] == whole) << "lane " << l;
    }
  }
}

}  // namespace
}  // namespace datanode::ops::cuda
