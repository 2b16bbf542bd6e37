// Copyright 2026 The datanode Authors.
//
// The exact quantization step shared by both quantize ops (docs/determinism.md,
// "quantize"): q = clamp(round_half_even(x / s), -127, 127) computed on the exact
// rational x / s, never through a float reciprocal.
#ifndef DATANODE_OPS_REFERENCE_QUANTIZE_COMMON_H_
#define DATANODE_OPS_REFERENCE_QUANTIZE_COMMON_H_

#include <cstdint>

#include "datanode/ops/exact_float.h"

namespace datanode::ops::reference {

// x and s decoded exactly; s must be > 0.
inline int8_t QuantizeExact(ExactValue x, ExactValue s) {
  if (x.mantissa == 0) return 0;
  const int shift = x.exponent - s.exponent;
  int128 q;
  if (shift >= 0) {
    // |x / s| <= 127 * (1 + 2^-10) for every x of the block/row, so the numerator is
    // small; the cap only guards the shift itself.
    if (shift > 80) return x.mantissa > 0 ? 127 : -127;
    q = DivRoundHalfEven(int128{x.mantissa} << shift, int128{s.mantissa});
  } else {
    // |x| < 2^24 * 2^x.exponent; for -shift > 90 the quotient is below 2^-66: zero.
    if (-shift > 90) return 0;
    q = DivRoundHalfEven(int128{x.mantissa}, int128{s.mantissa} << -shift);
  }
  if (q > 127) return 127;
  if (q < -127) return -127;
  return static_cast<int8_t>(q);
}

// max |x| over `count` little-endian f32 values at `p`, as bits of a non-negative f32
// (for finite non-negative floats the bit patterns order like the values).
inline uint32_t MaxAbsBits(const uint8_t* p, int64_t count) {
  uint32_t max_bits = 0;
  for (int64_t i = 0; i < count; ++i) {
    const uint32_t bits = LoadU32(p + 4 * i) & 0x7FFFFFFFu;
    if (bits > max_bits) max_bits = bits;
  }
  return max_bits;
}

}  // namespace datanode::ops::reference

#endif  // DATANODE_OPS_REFERENCE_QUANTIZE_COMMON_H_
