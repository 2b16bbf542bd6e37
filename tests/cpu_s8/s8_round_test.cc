// Copyright 2026 The datanode Authors.
//
// The CPU s8 GEMM's fast single rounding (ops/cpu/s8_round.h) must give exactly the
// bits of the spec's RoundToF32Bits for every operand it can see: |p| < 2^48, any
// int32 isum, exponents from two f32 scales (-298 .. 208).
#include "ops/cpu/s8_round.h"

#include <gtest/gtest.h>

#include <cstdint>

#include "datanode/ops/exact_float.h"
#include "datanode/ops/random_inputs.h"

namespace datanode::ops::cpu {
namespace {

uint32_t Spec(int64_t p, int32_t isum, int e) {
  return RoundToF32Bits(static_cast<int128>(p) * isum, e);
}

TEST(S8RoundTest, RandomOperandsMatchSpec) {
  SplitMix64 rng(2026);
  for (int i = 0; i < 2000000; ++i) {
    // Random bit lengths so short and long products, small and huge, all occur.
    const int p_bits = static_cast<int>(rng.Uniform(0, 48));
    const int i_bits = static_cast<int>(rng.Uniform(0, 31));
    int64_t p = static_cast<int64_t>(rng.Next() & ((uint64_t{1} << p_bits) - 1));
    int64_t isum64 = static_cast<int64_t>(rng.Next() & ((uint64_t{1} << i_bits) - 1));
    if (rng.Next() & 1) p = -p;
    if (rng.Next() & 1) isum64 = -isum64;
    if (rng.Uniform(0, 99) == 0) isum64 = INT32_MIN;
    const int32_t isum = static_cast<int32_t>(isum64);
    const int e = static_cast<int>(rng.Uniform(-298, 208));
    ASSERT_EQ(RoundS8ProductToF32Bits(p, isum, e), Spec(p, isum, e))
        << "p=" << p << " isum=" << isum << " e=" << e;
  }
}

// Constructed boundary cases: exact ties (round to even both ways), one above and
// one below a tie, carries into a new binade and into infinity, the normal /
// subnormal boundary, and exact products of every length.
TEST(S8RoundTest, TiesCarriesAndBoundariesMatchSpec) {
  int checked = 0;
  for (int shift = 1; shift <= 24; ++shift) {
    for (int64_t sig : {int64_t{0x800000}, int64_t{0x800001}, int64_t{0xFFFFFF}, int64_t{0xABCDEF},
                        int64_t{0xABCDEE}}) {
      // value = (sig * 2^shift + delta), delta around half an ulp.
      for (int64_t delta :
           {int64_t{0}, int64_t{1}, (int64_t{1} << (shift - 1)) - 1, int64_t{1} << (shift - 1),
            (int64_t{1} << (shift - 1)) + 1, (int64_t{1} << shift) - 1}) {
        const int64_t p = (sig << shift) + delta;  // < 2^48
        for (int32_t isum : {1, -1, 3, 5, 7}) {
          if (p * isum >= (int64_t{1} << 47) || p * isum <= -(int64_t{1} << 47)) continue;
          for (int e : {-298, -200, -175, -170, -149, -148, -130, -127, -126, -100, -1,
                        0,    1,    60,   90,   100,  103,  104,  105,  110,  150,  208}) {
            ASSERT_EQ(RoundS8ProductToF32Bits(p, isum, e), Spec(p, isum, e))
                << "p=" << p << " isum=" << isum << " e=" << e;
            ++checked;
          }
        }
      }
    }
  }
  // Largest operands: |p| = (2^24 - 1)^2, |isum| = 2^31.
  const int64_t pmax = int64_t{0xFFFFFF} * 0xFFFFFF;
  for (int e : {-298, -250, -149, -60, 0, 40, 48, 49, 50, 208}) {
    for (int32_t isum : {INT32_MIN, INT32_MAX, -INT32_MAX, 1}) {
      ASSERT_EQ(RoundS8ProductToF32Bits(pmax, isum, e), Spec(pmax, isum, e));
      ASSERT_EQ(RoundS8ProductToF32Bits(-pmax, isum, e), Spec(-pmax, isum, e));
      checked += 2;
    }
  }
  EXPECT_EQ(RoundS8ProductToF32Bits(0, 5, 3), 0u);
  EXPECT_EQ(RoundS8ProductToF32Bits(-7, 0, 3), 0u);
  EXPECT_GT(checked, 10000);
}

}  // namespace
}  // namespace datanode::ops::cpu
