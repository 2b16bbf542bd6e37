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
//
// Normal results take a branch-free path: the exact 128-bit magnitude is shifted so
// its leading one is bit 127; the top 24 bits are the significand, the next 40 bits
// are compared with one half (1 << 39), and every lower bit is a sticky bit (which
// only matters when those 40 bits equal exactly one half). That is round to nearest,
// ties to even, on the exact value, as in the spec's routine.
inline uint32_t RoundS8ProductToF32Bits(int64_t p, int32_t isum, int e) {
  const int64_t i = isum;
  const uint64_t ap = p < 0 ? uint64_t{0} - static_cast<uint64_t>(p) : static_cast<uint64_t>(p);
  const uint64_t ai = i < 0 ? uint64_t{0} - static_cast<uint64_t>(i) : static_cast<uint64_t>(i);
  const uint128 mag = uint128{ap} * ai;  // < 2^48 * 2^31 = 2^79
  if (mag == 0) return 0;                // an exact zero is +0.0
  const uint32_t sign = (p ^ i) < 0 ? 0x80000000u : 0u;
  const uint64_t hi = static_cast<uint64_t>(mag >> 64);
  const uint64_t lo = static_cast<uint64_t>(mag);
  const int lz = hi != 0 ? __builtin_clzll(hi) : 64 + __builtin_clzll(lo);  // 49..127
  // The value lies in [2^top, 2^(top+1)).
  const int top = 127 - lz + e;
  if (top < -126 || top > 127) [[unlikely]] {
    // Subnormal, underflow or overflow: the spec's routine handles them.
    return RoundToF32Bits(sign != 0 ? -static_cast<int128>(mag) : static_cast<int128>(mag), e);
  }
  const uint128 normalized = mag << lz;
  const uint64_t top64 = static_cast<uint64_t>(normalized >> 64);
  const bool sticky = static_cast<uint64_t>(normalized) != 0;
  uint64_t significand = top64 >> 40;  // 24 bits, leading one at bit 23
  const uint64_t rest = top64 & ((uint64_t{1} << 40) - 1);
  constexpr uint64_t kHalf = uint64_t{1} << 39;
  const bool up = rest > kHalf || (rest == kHalf && (sticky || (significand & 1) != 0));
  significand += up ? 1 : 0;
  // A carry out of 24 bits (2^24) becomes 2^23 with the exponent one higher.
  const uint32_t carry = static_cast<uint32_t>(significand >> 24);
  const uint32_t biased = static_cast<uint32_t>(top + 127) + carry;
  if (biased >= 255) return sign | 0x7F800000u;  // rounded up past FLT_MAX
  return sign | (biased << 23) | (static_cast<uint32_t>(significand >> carry) & 0x7FFFFFu);
}

}  // namespace datanode::ops::cpu

#endif  // DATANODE_OPS_CPU_S8_ROUND_H_
