// Copyright 2026 The datanode Authors.
//
// The AVX-512 double-precision epilogue of matmul_s8_f32 (ops/cpu/s8_round_avx512.cc)
// against the normative integer routine RoundToF32Bits, on random scale products and on
// constructed ties and near-ties in the normal, subnormal and overflow ranges.
#include "ops/cpu/s8_round_avx512.h"

#include <gtest/gtest.h>
#include <xmmintrin.h>

#include <cstring>
#include <vector>

#include "datanode/ops/exact_float.h"
#include "datanode/ops/random_inputs.h"

namespace datanode::ops::cpu {
namespace {

bool HasAvx512Dq() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vl");
}

struct Case {
  S8Scale row;
  S8Scale col;
  int32_t isum;
};

// Runs the vector routine on a one-row tile of 8 columns per case (every lane holds the
// case, so each lane's path is exercised) and checks every output against the spec.
void CheckCases(const std::vector<Case>& cases) {
  constexpr int kCols = 8;
  for (const Case& c : cases) {
    const std::vector<S8Scale> col_scales(kCols, c.col);
    std::vector<uint8_t> tile(kCols * 4);
    for (int t = 0; t < kCols; ++t) StoreU32(&tile[t * 4], static_cast<uint32_t>(c.isum));
    ASSERT_EQ(RoundTileToF32Avx512(tile.data(), kCols, 1, kCols, &c.row, col_scales.data()), kCols);
    const uint32_t expected = RoundToF32Bits(
        int128{c.row.mantissa} * c.col.mantissa * int128{c.isum}, c.row.exponent + c.col.exponent);
    for (int t = 0; t < kCols; ++t) {
      ASSERT_EQ(LoadU32(&tile[t * 4]), expected)
          << "lane " << t << " ma=" << c.row.mantissa << " ea=" << c.row.exponent
          << " mw=" << c.col.mantissa << " ew=" << c.col.exponent << " isum=" << c.isum;
    }
  }
}

TEST(S8RoundAvx512, LeavesTheTailToTheCaller) {
  if (!HasAvx512Dq()) GTEST_SKIP() << "CPU lacks AVX-512 F/DQ/VL";
  // 11 columns: 8 rounded, the last 3 left untouched for the scalar routine.
  const S8Scale one{1 << 23, -23};
  const std::vector<S8Scale> col_scales(11, one);
  std::vector<uint8_t> tile(11 * 4);
  for (int t = 0; t < 11; ++t) StoreU32(&tile[t * 4], 3);
  ASSERT_EQ(RoundTileToF32Avx512(tile.data(), 11, 1, 11, &one, col_scales.data()), 8);
  for (int t = 0; t < 8; ++t) EXPECT_EQ(LoadU32(&tile[t * 4]), F32ToBits(3.0f));
  for (int t = 8; t < 11; ++t) EXPECT_EQ(LoadU32(&tile[t * 4]), 3u);
}

S8Scale FromBits(uint32_t bits) {
  const ExactValue v = DecodeF32Bits(bits);
  return {static_cast<int32_t>(v.mantissa), v.exponent};
}

TEST(S8RoundAvx512, RandomScaleProducts) {
  if (!HasAvx512Dq()) GTEST_SKIP() << "CPU lacks AVX-512 F/DQ/VL";
  ASSERT_TRUE(CanRoundTileAvx512()) << "MXCSR has FTZ or DAZ set in the test process";
  SplitMix64 rng(20261122);
  std::vector<Case> cases;
  for (int i = 0; i < 300000; ++i) {
    // Any finite f32 bit patterns, biased towards the range edges a third of the time.
    auto random_scale = [&]() {
      uint32_t bits = static_cast<uint32_t>(rng.Next());
      bits &= 0xFF7FFFFFu | (static_cast<uint32_t>(rng.Uniform(0, 253)) << 23);
      if ((bits >> 23 & 0xFF) == 0xFF) bits &= 0xFEFFFFFFu;
      return FromBits(bits);
    };
    int32_t isum = static_cast<int32_t>(rng.Next());
    if (i % 3 == 0) isum = static_cast<int32_t>(rng.Uniform(-300, 300));
    cases.push_back({random_scale(), random_scale(), isum});
  }
  CheckCases(cases);
}

TEST(S8RoundAvx512, ConstructedTiesAndNearTies) {
  if (!HasAvx512Dq()) GTEST_SKIP() << "CPU lacks AVX-512 F/DQ/VL";
  SplitMix64 rng(7);
  std::vector<Case> cases;
  for (int i = 0; i < 200000; ++i) {
    // isum with exactly `bits` significant bits whose lowest bits sit exactly at, just
    // below or just above the rounding point of the target precision; power-of-two
    // scales place the value anywhere from deep subnormal to overflow.
    const int bits = static_cast<int>(rng.Uniform(2, 31));
    int64_t t =
        (int64_t{1} << (bits - 1)) | static_cast<int64_t>(rng.Next() & ((1ull << (bits - 1)) - 1));
    t |= 1;  // odd: a tie whenever the rounding point is just above the last bit
    t += rng.Uniform(-1, 1);
    if (t >= (int64_t{1} << 31)) t = (int64_t{1} << 31) - 1;
    const int32_t isum = static_cast<int32_t>(rng.Next() & 1 ? t : -t);
    const int e_total = static_cast<int>(rng.Uniform(-180, 127));
    const int ea = static_cast<int>(rng.Uniform(-149, 104));
    int ew = e_total - ea;
    if (ew < -149) ew = -149;
    if (ew > 104) ew = 104;
    const int32_t ma = rng.Next() & 1 ? 1 : static_cast<int32_t>(rng.Uniform(1, 3));
    cases.push_back({{ma, ea}, {1, ew}, isum});
  }
  // Products wider than a double (ma: 24 bits, mw = 2^23, isum: 31 bits -> 55 bits) that
  // sit delta in {1, 2, 3} above or below an exact f32 tie: rounding to double first
  // would erase delta and turn them into ties (double rounding); round-to-odd must not.
  int wide_cases = 0;
  while (wide_cases < 100000) {
    const int64_t ma = (int64_t{1} << 23) | static_cast<int64_t>(rng.Next() & 0x7FFFFF) | 1;
    const int64_t delta = rng.Uniform(1, 3);
    // inverse of ma modulo 2^30 (Newton iteration; ma is odd)
    uint64_t inv = static_cast<uint64_t>(ma);
    for (int it = 0; it < 5; ++it) inv *= 2 - static_cast<uint64_t>(ma) * inv;
    const uint64_t mask30 = (uint64_t{1} << 30) - 1;
    int64_t isum = static_cast<int64_t>((static_cast<uint64_t>(delta) * inv) & mask30);
    if (((static_cast<uint64_t>(ma * isum - delta) >> 30) & 1) == 0) isum += int64_t{1} << 30;
    const uint128 product = uint128(ma) * uint64_t(isum);
    if (product >> 55 != 0 || product >> 54 == 0) continue;  // need exactly 55 bits
    const bool below = rng.Next() & 1;  // mirror: tie - delta instead of tie + delta
    const int32_t signed_isum = static_cast<int32_t>(below ? -isum : isum);
    const int e = static_cast<int>(rng.Uniform(-150, -60));
    cases.push_back({{static_cast<int32_t>(ma), e - (-23)}, {1 << 23, -23 - 23}, signed_isum});
    ++wide_cases;
  }
  // Zero results in every sign combination must be +0.
  cases.push_back({{-5, 3}, {7, -2}, 0});
  cases.push_back({{0, -149}, {-7, 10}, -12345});
  CheckCases(cases);
}

}  // namespace
}  // namespace datanode::ops::cpu
