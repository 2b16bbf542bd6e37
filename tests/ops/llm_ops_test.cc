// Copyright 2026 The datanode Authors.
//
// The spec-v2 LLM ops (docs/determinism.md §8): the spec's hand-derived examples byte
// for byte, properties that must hold exactly, and invalid inputs. Error bounds against
// a high-precision evaluation are in llm_accuracy_test.cc.
//
// Notation: f32 bits = sign | (biased exponent << 23) | fraction, bias 127;
// f16 bits = sign | (biased exponent << 10) | fraction, bias 15.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "datanode/ops/exact_float.h"
#include "datanode/ops/llm.h"
#include "ops/reference/fixed_point.h"

namespace datanode::ops::llm {
namespace {

uint32_t Bits(float f) { return F32ToBits(f); }
float F(uint32_t bits) { return BitsToF32(bits); }

std::vector<uint8_t> Block(std::initializer_list<uint16_t> halves, std::vector<uint8_t> qs,
                           size_t qs_size) {
  std::vector<uint8_t> out;
  for (uint16_t h : halves) {
    out.push_back(static_cast<uint8_t>(h));
    out.push_back(static_cast<uint8_t>(h >> 8));
  }
  qs.resize(qs_size, 0);
  out.insert(out.end(), qs.begin(), qs.end());
  return out;
}

// --- §8.5 DequantizeRow ------------------------------------------------------------

TEST(LlmDequantizeRow, RowBytes) {
  EXPECT_EQ(*RowBytes(RowFormat::kF32, 3), 12);
  EXPECT_EQ(*RowBytes(RowFormat::kF16, 3), 6);
  EXPECT_EQ(*RowBytes(RowFormat::kQ8_0, 64), 68);
  EXPECT_EQ(*RowBytes(RowFormat::kQ4_0, 64), 36);
  EXPECT_EQ(*RowBytes(RowFormat::kQ4_1, 576), 360);
  EXPECT_EQ(RowBytes(RowFormat::kQ4_1, 33).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RowBytes(RowFormat::kF32, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RowBytes(static_cast<RowFormat>(9), 32).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Spec example: Q4_1 block d = 1024 (0x6400), m = 3 * 2^-12 (0x1200), nibble 13 of value 0.
// Exact value 13312 + 0.000732421875; the f32 ulp at 13312 is 2^-10 and the remainder is
// 0.75 ulp, so it rounds up: 13312 + 2^-10 = 0x46500001. Value 16 (high nibble 0) is
// exactly m = 0x3A400000.
TEST(LlmDequantizeRow, SpecExampleQ4_1) {
  const std::vector<uint8_t> row = Block({0x6400, 0x1200}, {0x0D}, 16);
  std::vector<float> out(32);
  ASSERT_TRUE(DequantizeRow(RowFormat::kQ4_1, row, out).ok());
  EXPECT_EQ(Bits(out[0]), 0x46500001u);
  EXPECT_EQ(Bits(out[16]), 0x3A400000u);
  EXPECT_EQ(Bits(out[1]), 0x3A400000u);
}

// Q8_0 d = 0.5 (0x3800), q0 = -3: -1.5 (0xBFC00000). Q4_0 d = 2 (0x4000), nibble 0 of
// value 0: 2 * (0 - 8) = -16 (0xC1800000). F16 0x0001 = 2^-24 (0x33800000).
TEST(LlmDequantizeRow, SpecExamplesExactFormats) {
  std::vector<float> out(32);
  ASSERT_TRUE(DequantizeRow(RowFormat::kQ8_0, Block({0x3800}, {0xFD}, 32), out).ok());
  EXPECT_EQ(Bits(out[0]), 0xBFC00000u);
  EXPECT_EQ(Bits(out[1]), 0u);
  ASSERT_TRUE(DequantizeRow(RowFormat::kQ4_0, Block({0x4000}, {0x80}, 16), out).ok());
  EXPECT_EQ(Bits(out[0]), 0xC1800000u);
  EXPECT_EQ(Bits(out[16]), 0u);  // high nibble 8: 8 - 8 = 0
  std::vector<float> two(2);
  ASSERT_TRUE(
      DequantizeRow(RowFormat::kF16, std::vector<uint8_t>{0x01, 0x00, 0x00, 0xFC}, two).code() ==
      absl::StatusCode::kInvalidArgument);  // 0xFC00 = -inf
  ASSERT_TRUE(
      DequantizeRow(RowFormat::kF16, std::vector<uint8_t>{0x01, 0x00, 0x00, 0xBC}, two).ok());
  EXPECT_EQ(Bits(two[0]), 0x33800000u);
  EXPECT_EQ(two[1], -1.0f);
}

// §8.5 with §3.4's Q4_K super-block: d = 1, dmin = 0.5; slice 0 scale 3 min 2, slice 5
// scale 33 min 20 (scales bytes 0 = 3, 4 = 2, 1 = 0x80, 5 = 0x40, 9 = 0x41); qs[0] = 0x07,
// qs[67] = 0xF0. Value 0: 3 * 7 - 1 = 20 (0x41A00000); value 163 (slice 5, j = 3):
// 33 * 15 - 10 = 485 (0x43F28000); value 170: -10 (0xC1200000); value 32 (slice 1,
// scale and min 0): +0; value 1 (slice 0, nibble 0): -1 (0xBF800000).
TEST(LlmDequantizeRow, SpecExampleQ4_K) {
  std::vector<uint8_t> row(144, 0);
  StoreU16(&row[0], 0x3C00);
  StoreU16(&row[2], 0x3800);
  row[4 + 0] = 3;
  row[4 + 4] = 2;
  row[4 + 1] = 0x80;
  row[4 + 5] = 0x40;
  row[4 + 9] = 0x41;
  row[16 + 0] = 0x07;
  row[16 + 67] = 0xF0;
  std::vector<float> out(256);
  ASSERT_TRUE(DequantizeRow(RowFormat::kQ4_K, row, out).ok());
  EXPECT_EQ(Bits(out[0]), 0x41A00000u);
  EXPECT_EQ(Bits(out[163]), 0x43F28000u);
  EXPECT_EQ(Bits(out[170]), 0xC1200000u);
  EXPECT_EQ(Bits(out[32]), 0x00000000u);
  EXPECT_EQ(Bits(out[1]), 0xBF800000u);
  // One rounding: d = 1, dmin = 2^-24 (0x0001), slice 0 scale 1, min 1, nibble 2:
  // 2 - 2^-24 is the midpoint of 0x3FFFFFFF and 0x40000000; even: 2.0.
  std::fill(row.begin(), row.end(), 0);
  StoreU16(&row[0], 0x3C00);
  StoreU16(&row[2], 0x0001);
  row[4 + 0] = 1;
  row[4 + 4] = 1;
  row[16 + 0] = 0x02;
  ASSERT_TRUE(DequantizeRow(RowFormat::kQ4_K, row, out).ok());
  EXPECT_EQ(Bits(out[0]), 0x40000000u);
  EXPECT_EQ(Bits(out[1]), 0xB3800000u);  // nibble 0: -2^-24
}

// §3.4's first Q6_K super-block (d = 1, scales[10] = -128, scales[11] = 3, ql[96] = 0x0F,
// qh[32] = 0x0C): value 160 = -128 * 31 = -3968 (0xC5780000), value 177 = 3 * -32 = -96
// (0xC2C00000); then a second super-block with d = 2^-24 and scales[0] = 1: its value 0
// is -32 * 2^-24 = -2^-19 (0xB6000000).
TEST(LlmDequantizeRow, SpecExampleQ6_K) {
  std::vector<uint8_t> row(2 * 210, 0);
  StoreU16(&row[208], 0x3C00);
  row[192 + 10] = 0x80;
  row[192 + 11] = 3;
  row[96] = 0x0F;
  row[128 + 32] = 0x0C;
  StoreU16(&row[210 + 208], 0x0001);
  row[210 + 192] = 1;
  std::vector<float> out(512);
  ASSERT_TRUE(DequantizeRow(RowFormat::kQ6_K, row, out).ok());
  EXPECT_EQ(Bits(out[160]), 0xC5780000u);
  EXPECT_EQ(Bits(out[177]), 0xC2C00000u);
  EXPECT_EQ(Bits(out[256]), 0xB6000000u);
  EXPECT_EQ(Bits(out[0]), 0x00000000u);  // scales[0] of the first super-block is 0
}

TEST(LlmDequantizeRow, KQuantRowBytesAndInvalidInputs) {
  EXPECT_EQ(*RowBytes(RowFormat::kQ4_K, 4096), 16 * 144);
  EXPECT_EQ(*RowBytes(RowFormat::kQ6_K, 256), 210);
  EXPECT_EQ(RowBytes(RowFormat::kQ4_K, 288).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_STREQ(RowFormatName(RowFormat::kQ6_K), "Q6_K");
  std::vector<float> out(256, 7.0f);
  std::vector<uint8_t> q4(144, 0), q6(210, 0);
  StoreU16(&q4[2], 0x7C00);  // dmin = +inf
  EXPECT_EQ(DequantizeRow(RowFormat::kQ4_K, q4, out).code(), absl::StatusCode::kInvalidArgument);
  StoreU16(&q4[0], 0xFE00);  // d = NaN
  StoreU16(&q4[2], 0);
  EXPECT_EQ(DequantizeRow(RowFormat::kQ4_K, q4, out).code(), absl::StatusCode::kInvalidArgument);
  StoreU16(&q6[208], 0x7C00);  // d = +inf
  EXPECT_EQ(DequantizeRow(RowFormat::kQ6_K, q6, out).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(out[0], 7.0f);  // nothing written
  EXPECT_EQ(DequantizeRow(RowFormat::kQ6_K, std::vector<uint8_t>(209), out).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(LlmDequantizeRow, InvalidInputs) {
  std::vector<float> out(32);
  // Wrong byte count.
  EXPECT_EQ(DequantizeRow(RowFormat::kQ8_0, Block({0x3800}, {}, 31), out).code(),
            absl::StatusCode::kInvalidArgument);
  // NaN scale, -128 quant, inf min.
  EXPECT_EQ(DequantizeRow(RowFormat::kQ8_0, Block({0x7E00}, {}, 32), out).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DequantizeRow(RowFormat::kQ8_0, Block({0x3800}, {0, 0x80}, 32), out).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DequantizeRow(RowFormat::kQ4_1, Block({0x3800, 0x7C00}, {}, 16), out).code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<float> odd(33);
  EXPECT_EQ(DequantizeRow(RowFormat::kQ4_0, std::vector<uint8_t>(18), odd).code(),
            absl::StatusCode::kInvalidArgument);
}

// --- §8.6 Add ------------------------------------------------------------------------

// 1 + 2^-24 is a tie between 1 and 1 + 2^-23: even gives 1. 1 + 3*2^-25 is above the
// tie: 1 + 2^-23 (0x3F800001). -1 + 2^-100 lies 2^-100 above -1, far below half of the
// ulp under 1 (2^-25): -1. 2^-149 + -2^-149 is an exact zero: +0.
TEST(LlmAdd, SpecExamples) {
  const std::vector<float> x = {1.0f, 1.0f, -1.0f, F(0x00000001)};
  const std::vector<float> y = {std::ldexp(1.0f, -24), 3 * std::ldexp(1.0f, -25),
                                std::ldexp(1.0f, -100), F(0x80000001)};
  std::vector<float> out(4);
  ASSERT_TRUE(Add(x, y, out).ok());
  EXPECT_EQ(Bits(out[0]), 0x3F800000u);
  EXPECT_EQ(Bits(out[1]), 0x3F800001u);
  EXPECT_EQ(Bits(out[2]), 0xBF800000u);
  EXPECT_EQ(Bits(out[3]), 0x00000000u);
}

// The exact sum rounded once is what IEEE addition gives (except -0 + -0, +0 here).
TEST(LlmAdd, EqualsIeeeAddition) {
  std::mt19937_64 gen(7);
  std::vector<float> x(20000), y(20000), out(20000);
  for (size_t i = 0; i < x.size(); ++i) {
    do {
      x[i] = F(static_cast<uint32_t>(gen()));
      y[i] = F(static_cast<uint32_t>(gen()));
    } while (!std::isfinite(x[i]) || !std::isfinite(y[i]));
    if (i % 3 == 0) y[i] = std::ldexp(x[i], -static_cast<int>(gen() % 70)) * -1.5f;
  }
  ASSERT_TRUE(Add(x, y, out).ok());
  for (size_t i = 0; i < x.size(); ++i) {
    const float want = x[i] + y[i];
    if (want == 0) {
      EXPECT_EQ(out[i], 0.0f) << i;
    } else {
      ASSERT_EQ(Bits(out[i]), Bits(want)) << i << ": " << x[i] << " + " << y[i];
    }
  }
}

TEST(LlmAdd, InvalidInputs) {
  std::vector<float> out(2);
  EXPECT_EQ(Add(std::vector<float>{1, 2}, std::vector<float>{1}, out).code(),
            absl::StatusCode::kInvalidArgument);
  const absl::Status nan = Add(std::vector<float>{1, std::nanf("")}, std::vector<float>{1, 2}, out);
  EXPECT_EQ(nan.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(nan.message().find("x[1]"), std::string::npos) << nan;
  EXPECT_EQ(Add(std::vector<float>{1, 2},
                std::vector<float>{std::numeric_limits<float>::infinity(), 2}, out)
                .code(),
            absl::StatusCode::kInvalidArgument);
}

// --- §8.7 RmsNorm ----------------------------------------------------------------------

// x = [1, 1, 1, 1], g = 1, eps = 2^-20: S = 4 * (2^23)^2 = 2^48 at 2E = -46; T = 2^62 +
// 2^42 at -60; M_m = 2^60 + 2^40, M_e = -60; isqrt = 2^30 + 511; R = floor(2^62 / (2^30 +
// 511)) = 4294965252; out = round_f32(R * 2^-32) = 1 - 8 * 2^-24 = 0x3F7FFFF8 (the true
// 1 / sqrt(1 + 2^-20) rounds to the same).
TEST(LlmRmsNorm, SpecExample) {
  const std::vector<float> x = {1, 1, 1, 1}, g = {1, 1, 1, 1};
  std::vector<float> out(4);
  ASSERT_TRUE(RmsNorm(x, g, std::ldexp(1.0f, -20), out).ok());
  for (float v : out) EXPECT_EQ(Bits(v), 0x3F7FFFF8u);
  // All zero: S = 0, out = +0 whatever eps.
  const std::vector<float> zero = {0, -0.0f, 0, 0};
  ASSERT_TRUE(RmsNorm(zero, g, 1e-5f, out).ok());
  for (float v : out) EXPECT_EQ(Bits(v), 0u);
}

// Scaling x by 2 and eps by 4 changes no integer of the algorithm but the exponents:
// the output is bit-identical. Flipping a sign of x flips only that output's sign.
TEST(LlmRmsNorm, ExactScalingAndSign) {
  std::mt19937_64 gen(3);
  std::normal_distribution<float> normal(0.0f, 0.5f);
  std::vector<float> x(576), g(576), x2(576), a(576), b(576);
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] = normal(gen);
    g[i] = 1.0f + normal(gen);
    x2[i] = 2 * x[i];
  }
  ASSERT_TRUE(RmsNorm(x, g, 1e-5f, a).ok());
  ASSERT_TRUE(RmsNorm(x2, g, 4e-5f, b).ok());
  for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(Bits(a[i]), Bits(b[i])) << i;
  x[5] = -x[5];
  ASSERT_TRUE(RmsNorm(x, g, 1e-5f, b).ok());
  EXPECT_EQ(Bits(a[5]) ^ Bits(b[5]), 0x80000000u);
  EXPECT_EQ(Bits(a[6]), Bits(b[6]));
}

TEST(LlmRmsNorm, InvalidInputs) {
  std::vector<float> x = {1, 2}, g = {1, 1}, out(2);
  EXPECT_EQ(RmsNorm(x, g, 0.0f, out).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RmsNorm(x, g, -1e-5f, out).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RmsNorm(x, g, std::nanf(""), out).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RmsNorm(x, std::vector<float>{1}, 1e-5f, out).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RmsNorm(std::vector<float>{}, std::vector<float>{}, 1e-5f, std::span<float>{}).code(),
            absl::StatusCode::kInvalidArgument);
  x[1] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(RmsNorm(x, g, 1e-5f, out).code(), absl::StatusCode::kInvalidArgument);
  std::vector<float> big(32769, 1.0f);
  EXPECT_EQ(RmsNorm(big, big, 1e-5f, big).code(), absl::StatusCode::kInvalidArgument);
}

// --- §8.2 exp and §8.8 SiluMul ----------------------------------------------------------

// ExpNeg(1): y = floor(kLog2eQ38 / 2^8) = 1549082004; k = -2, f = 598401644; j = 8,
// r = 61530732, z = 42649853, P = 1117250046, E = floor(T[8] * P / 2^30) = 1580030167.
// 1580030167 * 2^-32 = 0.36787944078 (e^-1 = 0.36787944117).
TEST(LlmExp, SpecExample) {
  const fixed::ExpResult r = fixed::ExpNeg(DecodeF32Bits(Bits(1.0f)));
  EXPECT_EQ(r.e, 1580030167);
  EXPECT_EQ(r.k, -2);
  const fixed::ExpResult zero = fixed::ExpNeg(DecodeF32Bits(0));
  EXPECT_EQ(zero.e, int64_t{1} << 30);
  EXPECT_EQ(zero.k, 0);
  // The clamp: exp(-1e30) gives k = -4096, weight 0.
  const fixed::ExpResult huge = fixed::ExpNeg(DecodeF32Bits(Bits(1e30f)));
  EXPECT_EQ(huge.k, -4096);
  EXPECT_EQ(fixed::WeightQ40(huge), 0);
  // 2^31 * 1.5 (exponent 8: the right-shift branch) is capped too.
  EXPECT_EQ(fixed::ExpNeg(DecodeF32Bits(Bits(3221225472.0f))).k, -4096);
  // silu(-1.8e9) * 1.3e30 underflows to -0, silu(1.8e9) * 2 = 3.6e9 exactly.
  std::vector<float> out(2);
  ASSERT_TRUE(
      SiluMul(std::vector<float>{-1.8e9f, 1.8e9f}, std::vector<float>{1.3e30f, 2.0f}, out).ok());
  EXPECT_EQ(Bits(out[0]), 0x80000000u);
  EXPECT_EQ(out[1], 3.6e9f);
  EXPECT_EQ(fixed::WeightQ40(zero), int64_t{1} << 40);
  EXPECT_EQ(fixed::WeightQ40(r), int64_t{1580030167} << 8);
}

// Exhaustive over the top table interval: E never leaves [2^30, 2^31).
TEST(LlmExp, MantissaRange) {
  for (int64_t f = 0; f < (int64_t{1} << 30); f += 4093) {
    const int64_t e = fixed::Exp2FracQ30(f);
    ASSERT_GE(e, int64_t{1} << 30);
    ASSERT_LT(e, int64_t{1} << 31);
  }
  EXPECT_LT(fixed::Exp2FracQ30((int64_t{1} << 30) - 1), int64_t{1} << 31);
}

// silu(1) * 1: den = 2^30 + (E >> 2) = 1468749365, sigma = floor(2^61 / den) =
// 1569936344 (* 2^-31), out = round_f32(2^23 * 2^23 * sigma * 2^-77) = 0x3F3B26A8.
// silu(-1) * 2: sigma = floor(E * 2^31 / den) * 2^(k - 31) = 2310189218 * 2^-33,
// out = 0xBF09B2B1. silu(-20) * 1: k = -29, E = 1188174166, den = 2^30 + 2,
// sigma = 2376348327 * 2^-60, out = 0xB3310D3F. silu(0) * 5 = +0. Each equals the
// correctly rounded true value.
TEST(LlmSiluMul, SpecExamples) {
  const std::vector<float> gate = {1.0f, -1.0f, -20.0f, 0.0f};
  const std::vector<float> up = {1.0f, 2.0f, 1.0f, 5.0f};
  std::vector<float> out(4);
  ASSERT_TRUE(SiluMul(gate, up, out).ok());
  EXPECT_EQ(Bits(out[0]), 0x3F3B26A8u);
  EXPECT_EQ(Bits(out[1]), 0xBF09B2B1u);
  EXPECT_EQ(Bits(out[2]), 0xB3310D3Fu);
  EXPECT_EQ(Bits(out[3]), 0u);
}

TEST(LlmSiluMul, InvalidInputs) {
  std::vector<float> out(2);
  EXPECT_EQ(SiluMul(std::vector<float>{1, 2}, std::vector<float>{1}, out).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SiluMul(std::vector<float>{1, std::nanf("")}, std::vector<float>{1, 2}, out).code(),
            absl::StatusCode::kInvalidArgument);
}

// --- §8.9 RoPE --------------------------------------------------------------------------

// base 10000, rope_dim 4, pos 100: pair 1 has theta = 10000^(-1/2) = 0.01, angle 1:
// C = round(cos(1) * 2^30) = 580145183 (580145183.41), S = 903522590 (903522590.07).
// (1, 2) -> (round_f32((C - 2S) * 2^-30), round_f32((S + 2C) * 2^-30)) =
// (0xBF924204, 0x3FF60693). Pair 0: theta = 1, angle 100 = 15 * 2pi + 5.752: quadrant 3,
// C = round(cos(100) * 2^30) = 925907839 (925907838.80), S = -543705967 (-543705967.10);
// (1, 0) -> (0x3F5CC0EE, 0xBF01A12E).
TEST(LlmRope, SpecExample) {
  auto table = RopeTable::Create(10000.0f, 4, 128);
  ASSERT_TRUE(table.ok()) << table.status();
  std::vector<float> x = {0.0f, 0.0f, 1.0f, 2.0f};
  ASSERT_TRUE(table->Apply(100, 1, 4, x).ok());
  EXPECT_EQ(Bits(x[2]), 0xBF924204u);
  EXPECT_EQ(Bits(x[3]), 0x3FF60693u);
  // (1, 0) gives C and S themselves, rounded to f32.
  std::vector<float> e = {1.0f, 0.0f, 1.0f, 0.0f};
  ASSERT_TRUE(table->Apply(100, 1, 4, e).ok());
  EXPECT_EQ(Bits(e[0]), 0x3F5CC0EEu);
  EXPECT_EQ(Bits(e[1]), 0xBF01A12Eu);
  EXPECT_EQ(Bits(e[2]), 0x3F0A5140u);
  EXPECT_EQ(Bits(e[3]), 0x3F576AA4u);
  EXPECT_EQ(table->SizeBytes(), 128 * 2 * 2 * 4);
}

TEST(LlmRope, PositionZeroIsIdentityAndTailUntouched) {
  auto table = RopeTable::Create(100000.0f, 64, 16);
  ASSERT_TRUE(table.ok());
  std::mt19937_64 gen(5);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> x(3 * 96);
  for (float& v : x) v = normal(gen);
  std::vector<float> y = x;
  ASSERT_TRUE(table->Apply(0, 3, 96, y).ok());
  for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(Bits(x[i]), Bits(y[i])) << i;
  ASSERT_TRUE(table->Apply(7, 3, 96, y).ok());
  for (int h = 0; h < 3; ++h) {
    for (int j = 64; j < 96; ++j) ASSERT_EQ(Bits(x[h * 96 + j]), Bits(y[h * 96 + j]));
    EXPECT_NE(Bits(x[h * 96]), Bits(y[h * 96]));
  }
}

TEST(LlmRope, InvalidInputs) {
  EXPECT_FALSE(RopeTable::Create(1.0f, 64, 16).ok());
  EXPECT_FALSE(RopeTable::Create(std::numeric_limits<float>::infinity(), 64, 16).ok());
  EXPECT_FALSE(RopeTable::Create(10000.0f, 63, 16).ok());
  EXPECT_FALSE(RopeTable::Create(10000.0f, 2048, 16).ok());
  EXPECT_FALSE(RopeTable::Create(10000.0f, 64, 0).ok());
  EXPECT_FALSE(RopeTable::Create(10000.0f, 64, (int64_t{1} << 20) + 1).ok());
  auto table = RopeTable::Create(10000.0f, 64, 16);
  ASSERT_TRUE(table.ok());
  std::vector<float> x(128);
  EXPECT_EQ(table->Apply(16, 2, 64, x).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(table->Apply(-1, 2, 64, x).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(table->Apply(0, 4, 32, x).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(table->Apply(0, 3, 64, x).code(), absl::StatusCode::kInvalidArgument);
  x[3] = std::nanf("");
  EXPECT_EQ(table->Apply(0, 2, 64, x).code(), absl::StatusCode::kInvalidArgument);
}

// --- §8.10 Attention --------------------------------------------------------------------

std::vector<uint8_t> EncodeRows(const AttentionShape& shape,
                                const std::vector<std::vector<float>>& rows) {
  const int64_t row_bytes = KvRowBytes(shape);
  std::vector<uint8_t> cache(rows.size() * row_bytes);
  for (size_t p = 0; p < rows.size(); ++p) {
    EXPECT_TRUE(
        EncodeKvRow(shape, rows[p], std::span<uint8_t>(&cache[p * row_bytes], row_bytes)).ok());
  }
  return cache;
}

// head_dim 64 (scale 1/8, exact), q = e_0, k_0 = 0, k_1 = 8 e_0: scores 0 and 1;
// d_0 = 1, w_0 = 1580030167 * 2^(-2 + 10) = 404487722752, w_1 = 2^40. v_0 = 1, v_1 = 0:
// out = round_f32(404487722752 / 1504001350528) = 0x3E89B2B1 (e^-1 / (1 + e^-1) =
// 0.26894142137 rounds to the same).
TEST(LlmAttention, SpecExample) {
  const AttentionShape shape{1, 1, 64};
  std::vector<float> k0(64, 0.0f), k1(64, 0.0f), v0(64, 1.0f), v1(64, 0.0f), q(64, 0.0f);
  k1[0] = 8.0f;
  q[0] = 1.0f;
  const auto k = EncodeRows(shape, {k0, k1});
  const auto v = EncodeRows(shape, {v0, v1});
  std::vector<float> out(64);
  ASSERT_TRUE(Attend(shape, q, k, v, 2, out).ok());
  for (float o : out) EXPECT_EQ(Bits(o), 0x3E89B2B1u);
  // One position: the output is V (as f16) exactly, whatever q.
  ASSERT_TRUE(Attend(shape, q, k, v, 1, out).ok());
  for (float o : out) EXPECT_EQ(o, 1.0f);
}

// f16 encoding: 1/3 rounds to 0x3555 (0.333251953125); 1e6 saturates to 65504 (0x7BFF);
// -1e-8 underflows to -0 (0x8000).
TEST(LlmAttention, EncodeKvRowF16) {
  const AttentionShape shape{1, 1, 32};
  std::vector<float> row(32, 0.0f);
  row[0] = 1.0f / 3.0f;
  row[1] = 1e6f;
  row[2] = -1e-8f;
  std::vector<uint8_t> out(64);
  ASSERT_TRUE(EncodeKvRow(shape, row, out).ok());
  EXPECT_EQ(LoadU16(&out[0]), 0x3555);
  EXPECT_EQ(LoadU16(&out[2]), 0x7BFF);
  EXPECT_EQ(LoadU16(&out[4]), 0x8000);
}

// Grouped-query heads read their KV head; a constant V gives exactly that constant
// (sum w * v / sum w = v); the query head's output does not depend on other heads.
TEST(LlmAttention, GroupedHeadsAndConstantValues) {
  const AttentionShape shape{4, 2, 32};
  std::mt19937_64 gen(11);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<std::vector<float>> ks, vs;
  for (int p = 0; p < 9; ++p) {
    std::vector<float> kr(64), vr(64);
    for (float& x : kr) x = normal(gen);
    for (int j = 0; j < 64; ++j) vr[j] = j < 32 ? 0.75f : -3.0f;
    ks.push_back(kr);
    vs.push_back(vr);
  }
  const auto k = EncodeRows(shape, ks);
  const auto v = EncodeRows(shape, vs);
  std::vector<float> q(128), out(128);
  for (float& x : q) x = normal(gen);
  ASSERT_TRUE(Attend(shape, q, k, v, 9, out).ok());
  for (int h = 0; h < 4; ++h) {
    for (int j = 0; j < 32; ++j) ASSERT_EQ(out[h * 32 + j], h < 2 ? 0.75f : -3.0f) << h;
  }
}

// The output for position t reads only rows [0, t]: a longer cache holding later rows
// (even non-finite bytes) gives the same bytes, which is what makes a prefill equal to
// token-by-token decoding.
TEST(LlmAttention, ReadsOnlyItsPositions) {
  const AttentionShape shape{2, 1, 32};
  std::mt19937_64 gen(13);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<std::vector<float>> ks, vs;
  for (int p = 0; p < 6; ++p) {
    std::vector<float> kr(32), vr(32);
    for (float& x : kr) x = normal(gen);
    for (float& x : vr) x = normal(gen);
    ks.push_back(kr);
    vs.push_back(vr);
  }
  auto k = EncodeRows(shape, ks);
  auto v = EncodeRows(shape, vs);
  std::vector<float> q(64), a(64), b(64);
  for (float& x : q) x = normal(gen);
  const std::vector<uint8_t> k4(k.begin(), k.begin() + 4 * 64), v4(v.begin(), v.begin() + 4 * 64);
  ASSERT_TRUE(Attend(shape, q, k4, v4, 4, a).ok());
  std::fill(k.begin() + 4 * 64, k.end(), 0xFF);  // NaN f16 beyond position 3
  ASSERT_TRUE(Attend(shape, q, k, v, 4, b).ok());
  for (int j = 0; j < 64; ++j) ASSERT_EQ(Bits(a[j]), Bits(b[j])) << j;
}

TEST(LlmAttention, InvalidInputs) {
  EXPECT_FALSE(ValidateAttentionShape({9, 3, 64}).code() != absl::StatusCode::kOk);
  EXPECT_EQ(ValidateAttentionShape({9, 2, 64}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateAttentionShape({9, 3, 48}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateAttentionShape({0, 0, 64}).code(), absl::StatusCode::kInvalidArgument);
  const AttentionShape shape{2, 1, 32};
  std::vector<uint8_t> k(64 * 2), v(64 * 2);  // two positions of 64 bytes
  std::vector<float> q(64), out(64);
  EXPECT_EQ(Attend(shape, q, k, v, 3, out).code(), absl::StatusCode::kInvalidArgument);  // small
  EXPECT_TRUE(Attend(shape, q, k, v, 1, out).ok());
  EXPECT_EQ(Attend(shape, q, k, v, 0, out).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Attend(shape, std::vector<float>(32), k, v, 1, out).code(),
            absl::StatusCode::kInvalidArgument);
  k[1] = 0x7C;  // value 0 of position 0: +inf
  EXPECT_EQ(Attend(shape, q, k, v, 1, out).code(), absl::StatusCode::kInvalidArgument);
  std::vector<float> row(32, 1.0f);
  row[4] = std::nanf("");
  std::vector<uint8_t> enc(64);
  EXPECT_EQ(EncodeKvRow(shape, row, enc).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EncodeKvRow(shape, std::vector<float>(31), enc).code(),
            absl::StatusCode::kInvalidArgument);
}

// --- §8.11 Sampling, §8.12 SpecRng ------------------------------------------------------

std::vector<uint8_t> Seed(const std::string& s) { return {s.begin(), s.end()}; }

// Known answers from Python: hashlib.sha256(b"datanode" + struct.pack("<Q", i)).digest()
// read as four little-endian u64.
TEST(LlmSpecRng, KnownAnswer) {
  SpecRng rng(Seed("datanode"));
  const uint64_t want[8] = {0x4f437126e0605a34, 0xe80f4e340fa3878a, 0xde9e689d9d1ea12b,
                            0x6ca4f48ec8d49914, 0x1d082d67d91a3a6a, 0xeea20cef6c0442f7,
                            0x4b5afcff0a57a008, 0x879625c93d93aaef};
  for (uint64_t w : want) EXPECT_EQ(rng.Next(), w);
}

// Seek(w) then Next() is the (w + 1)-th Next() of a fresh stream, across block edges.
TEST(LlmSpecRng, SeekLandsOnTheWordAFreshStreamWouldDraw) {
  SpecRng fresh(Seed("beacon"));
  std::vector<uint64_t> words;
  for (int i = 0; i < 13; ++i) words.push_back(fresh.Next());
  for (uint64_t w = 0; w < words.size(); ++w) {
    SpecRng rng(Seed("beacon"));
    rng.Next();  // a used stream seeks as well as a fresh one
    rng.Seek(w);
    for (uint64_t i = w; i < words.size(); ++i) EXPECT_EQ(rng.Next(), words[i]) << w << " " << i;
  }
}

TEST(LlmSampling, GreedyIsArgmaxLowestIdOnTies) {
  SpecRng rng(Seed("x"));
  SamplingParams greedy;
  const std::vector<float> logits = {1.0f, 3.0f, -2.0f, 3.0f, 0.5f};
  EXPECT_EQ(*SampleToken(logits, greedy, rng), 1);
  EXPECT_EQ(*SampleToken(std::vector<float>{-0.0f, 0.0f}, greedy, rng), 0);
  // No draw was made.
  SpecRng fresh(Seed("x"));
  EXPECT_EQ(rng.Next(), fresh.Next());
  // top_k = 1 and a tiny top_p are greedy too.
  SamplingParams k1{1.0f, 1, 1.0f}, p_small{1.0f, 0, 1e-6f};
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(*SampleToken(logits, k1, rng), 1);
    EXPECT_EQ(*SampleToken(logits, p_small, rng), 1);
  }
}

// logits [0, 0], T = 1: w = [2^40, 2^40], W = 2^41, r = floor(u * 2^41 / 2^64) = u >> 23:
// token 0 iff r < 2^40, i.e. u < 2^63. The "datanode" stream starts 0x4f43... (token 0), 0xe80f...
// (token 1), 0xde9e... (1), 0x6ca4... (0).
TEST(LlmSampling, SpecExample) {
  SpecRng rng(Seed("datanode"));
  const SamplingParams params{1.0f, 0, 1.0f};
  const std::vector<float> logits = {0.0f, 0.0f};
  EXPECT_EQ(*SampleToken(logits, params, rng), 0);
  EXPECT_EQ(*SampleToken(logits, params, rng), 1);
  EXPECT_EQ(*SampleToken(logits, params, rng), 1);
  EXPECT_EQ(*SampleToken(logits, params, rng), 0);
}

// Frequencies follow softmax(l / T) and top-k / top-p cut where the spec says.
TEST(LlmSampling, Distribution) {
  SpecRng rng(Seed("dist"));
  // p = [1/6, 2/6, 3/6] (logits ln 1, ln 2, ln 3).
  const std::vector<float> logits = {0.0f, std::log(2.0f), std::log(3.0f)};
  int counts[3] = {};
  const int n = 30000;
  for (int i = 0; i < n; ++i) ++counts[*SampleToken(logits, {1.0f, 0, 1.0f}, rng)];
  EXPECT_NEAR(counts[0] / double{n}, 1.0 / 6, 0.01);
  EXPECT_NEAR(counts[1] / double{n}, 2.0 / 6, 0.01);
  EXPECT_NEAR(counts[2] / double{n}, 3.0 / 6, 0.01);
  // top_k = 2 keeps tokens 2 and 1: 3/5, 2/5; token 0 never.
  int k2[3] = {};
  for (int i = 0; i < n; ++i) ++k2[*SampleToken(logits, {1.0f, 2, 1.0f}, rng)];
  EXPECT_EQ(k2[0], 0);
  EXPECT_NEAR(k2[2] / double{n}, 0.6, 0.01);
  // top_p = 0.4: token 2 (half the mass) alone; top_p = 0.6: tokens 2 and 1.
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(*SampleToken(logits, {1.0f, 0, 0.4f}, rng), 2);
    EXPECT_NE(*SampleToken(logits, {1.0f, 0, 0.6f}, rng), 0);
  }
  // A higher temperature flattens: T = 100 gives nearly uniform.
  int flat[3] = {};
  for (int i = 0; i < n; ++i) ++flat[*SampleToken(logits, {100.0f, 0, 1.0f}, rng)];
  EXPECT_NEAR(flat[0] / double{n}, 1.0 / 3, 0.015);
}

TEST(LlmSampling, InvalidInputs) {
  SpecRng rng(Seed("x"));
  const std::vector<float> logits = {1.0f, 2.0f};
  for (const SamplingParams& p :
       {SamplingParams{-1.0f, 0, 1.0f}, SamplingParams{101.0f, 0, 1.0f},
        SamplingParams{std::nanf(""), 0, 1.0f}, SamplingParams{1.0f, -1, 1.0f},
        SamplingParams{1.0f, 0, 0.0f}, SamplingParams{1.0f, 0, 1.5f}}) {
    EXPECT_EQ(ValidateSamplingParams(p).code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(SampleToken(logits, p, rng).status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(SampleToken(std::vector<float>{}, {}, rng).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SampleToken(std::vector<float>{1.0f, std::nanf("")}, {}, rng).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Extreme but valid: a huge logit range and a tiny temperature give the argmax.
  EXPECT_EQ(*SampleToken(std::vector<float>{-3e38f, 3e38f}, {1e-30f, 0, 1.0f}, rng), 1);
}

}  // namespace
}  // namespace datanode::ops::llm
