// Copyright 2026 The datanode Authors.
//
// The single rounding of kMatMulS8F32, specialised for the CPU kernels' epilogue.
// Gives exactly the bits of the spec's RoundToF32Bits (exact_float.h) for the
// product p * isum * 2^e (tests/cpu_s8/s8_round_test.cc checks this on random and
// constructed tie / carry / boundary cases); it is only faster because it knows the
// operands: |p| < 2^48 (a product of two f32 mantissas) and isum is an int32, so the
// exact magnitude has at most 79 bits.
#ifndef DATANODE_OPS_CPU_S8_ROUND_H_
#define DATANODE_OPS_CPU_S8_ROUND_H_

#include <cstdint>

#include "datanode/ops/exact_float.h"

namespace datanode::ops::cpu {

// Requires |p| < 2^48. Returns RoundToF32Bits(int128{p} * isum, e).
inline uint32_t RoundS8ProductToF32Bits(int64_t p, int32_t isum, int e) {
  if (p == 0 || isum == 0) return 0;  // exact zero is +0.0
  const bool negative = (p < 0) != (isum < 0);
  const uint64_t ap = p < 0 ? uint64_t{0} - static_cast<uint64_t>(p) : static_cast<uint64_t>(p);
  const uint64_t ai =
      isum < 0 ? uint64_t{0} - static_cast<uint64_t>(int64_t{isum}) : static_cast<uint64_t>(isum);
  const uint128 mag = uint128{ap} * ai;
  const uint64_t hi = static_cast<uint64_t>(mag >> 64);
  const uint64_t lo = static_cast<uint64_t>(mag);
  const int length = hi != 0 ? 128 - __builtin_clzll(hi) : 64 - __builtin_clzll(lo);
  // The value lies in [2^top, 2^(top+1)).
  const int top = length - 1 + e;
  if (top < -126 || top > 127) {
    // Subnormal, underflow or overflow: rare; the spec's routine handles them.
    const int128 signed_mag = negative ? -static_cast<int128>(mag) : static_cast<int128>(mag);
    return RoundToF32Bits(signed_mag, e);
  }
  // Normal result: keep the leading 24 bits, round the rest to nearest, ties to even.
  // The least significant kept bit has exponent top - 23 >= -149, as in the spec.
  uint32_t biased = static_cast<uint32_t>(top + 127);
  uint64_t significand;
  if (length <= 24) {
    significand = lo << (24 - length);  // exact
  } else {
    const int shift = length - 24;  // 1..55
    significand = static_cast<uint64_t>(mag >> shift);
    const uint128 rem = mag & ((uint128{1} << shift) - 1);
    const uint128 half = uint128{1} << (shift - 1);
    if (rem > half || (rem == half && (significand & 1) != 0)) ++significand;
    if (significand >> 24) {  // rounding carried into a 25th bit: 2^24 -> 2^23, exponent + 1
      significand >>= 1;
      ++biased;
      if (biased >= 255) return (negative ? 0x80000000u : 0u) | 0x7F800000u;
    }
  }
  return (negative ? 0x80000000u : 0u) | (biased << 23) |
         (static_cast<uint32_t>(significand) & 0x7FFFFFu);
}

}  // namespace datanode::ops::cpu

#endif  // DATANODE_OPS_CPU_S8_ROUND_H_
