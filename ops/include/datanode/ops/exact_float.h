// Copyright 2026 The datanode Authors.
//
// Exact conversions between IEEE binary16/binary32 and integers, and the single
// rounding of the determinism spec. These integer routines are the normative
// definition of "round to f32": backends must produce the same bits, and must not
// rely on the FPU's rounding mode, FMA contraction or denormal flushing.
//
// Written by hand: no library here rounds an exact 128-bit fixed-point value to
// binary32 / binary16 with ties-to-even and gradual underflow.
// All functions are pure and thread-safe.
#ifndef DATANODE_OPS_EXACT_FLOAT_H_
#define DATANODE_OPS_EXACT_FLOAT_H_

#include <cstdint>
#include <cstring>

namespace datanode::ops {

using int128 = __int128;
using uint128 = unsigned __int128;

// A finite float decoded exactly: value = mantissa * 2^exponent (mantissa signed).
struct ExactValue {
  int64_t mantissa = 0;
  int exponent = 0;
};

inline bool IsFiniteF32Bits(uint32_t bits) { return ((bits >> 23) & 0xFF) != 0xFF; }
inline bool IsFiniteF16Bits(uint16_t bits) { return ((bits >> 10) & 0x1F) != 0x1F; }

// Requires a finite value. Zero (either sign) decodes to mantissa 0.
// f32: |mantissa| < 2^24, exponent in [-149, 104].
ExactValue DecodeF32Bits(uint32_t bits);
// f16: |mantissa| < 2^11, exponent in [-24, 5].
ExactValue DecodeF16Bits(uint16_t bits);

// Rounds mantissa * 2^exponent to the nearest binary32, ties to even, with gradual
// underflow (subnormals) and overflow to +-infinity. An exact zero gives +0.0; a
// nonzero value that rounds to zero keeps its sign (IEEE 754).
uint32_t RoundToF32Bits(int128 mantissa, int exponent);
// Same for binary16 (overflow gives +-infinity).
uint16_t RoundToF16Bits(int128 mantissa, int exponent);

// Rounds num / den to the nearest integer, ties to even. Requires den > 0 and a
// quotient that fits in int128.
int128 DivRoundHalfEven(int128 num, int128 den);

// Rounds the exact quotient (mantissa * 2^exponent) / divisor to binary32 / binary16
// (ties to even, gradual underflow). Requires 0 < divisor < 2^24.
uint32_t RoundQuotientToF32Bits(int64_t mantissa, int exponent, int64_t divisor);
uint16_t RoundQuotientToF16Bits(int64_t mantissa, int exponent, int64_t divisor);

inline uint32_t F32ToBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float BitsToF32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Little-endian loads / stores from unaligned byte buffers.
inline uint16_t LoadU16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
inline uint32_t LoadU32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}
inline void StoreU16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
inline void StoreU32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace datanode::ops

#endif  // DATANODE_OPS_EXACT_FLOAT_H_
