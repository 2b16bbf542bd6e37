// Copyright 2026 The datanode Authors.
//
// Exact integer helpers shared by the kernels (included, not a kernel itself).
// Mirrors ops/exact_float.cc: decoding f16/f32 to mantissa * 2^exponent and the one
// rounding of the spec (round to nearest, ties to even, gradual underflow, overflow to
// infinity), built from 32-bit integer operations only. No float arithmetic is used,
// so neither the driver's rounding mode, FMA contraction nor denormal flushing can
// change a bit. 128-bit values are uvec4 with .x the least significant limb; no
// shaderInt64 is needed.
#ifndef DATANODE_VULKAN_EXACT_INT_GLSL_
#define DATANODE_VULKAN_EXACT_INT_GLSL_

// value = mantissa * 2^exponent, |mantissa| < 2^24, exponent in [-149, 104].
void decode_f32(uint bits, out int mantissa, out int exponent) {
  int biased = int((bits >> 23) & 0xFFu);
  int m = int(bits & 0x7FFFFFu);
  exponent = -149;
  if (biased != 0) {
    m |= 0x800000;
    exponent = biased - 150;
  }
  mantissa = (bits >> 31) != 0u ? -m : m;
}

// value = mantissa * 2^exponent, |mantissa| < 2^11, exponent in [-24, 5].
void decode_f16(uint bits, out int mantissa, out int exponent) {
  int biased = int((bits >> 10) & 0x1Fu);
  int m = int(bits & 0x3FFu);
  exponent = -24;
  if (biased != 0) {
    m |= 0x400;
    exponent = biased - 25;
  }
  mantissa = (bits & 0x8000u) != 0u ? -m : m;
}

uvec4 u128_add(uvec4 a, uvec4 b) {
  uvec4 r;
  uint c0, c1, c1b, c2, c2b;
  r.x = uaddCarry(a.x, b.x, c0);
  r.y = uaddCarry(a.y, b.y, c1);
  r.y = uaddCarry(r.y, c0, c1b);
  r.z = uaddCarry(a.z, b.z, c2);
  r.z = uaddCarry(r.z, c1 + c1b, c2b);  // c1 + c1b <= 1
  r.w = a.w + b.w + c2 + c2b;
  return r;
}

uvec4 u128_negate(uvec4 v) { return u128_add(~v, uvec4(1u, 0u, 0u, 0u)); }

bool u128_is_negative(uvec4 v) { return (v.w >> 31) != 0u; }

// The signed 64-bit value hi:lo (two's complement), sign-extended to 128 bits and
// shifted left by s in [0, 63]. Wraps modulo 2^128 like the reference's int128.
uvec4 s64_shl_to_128(uint lo, uint hi, uint s) {
  uint ext = uint(int(hi) >> 31);
  uvec4 v = s >= 32u ? uvec4(0u, lo, hi, ext) : uvec4(lo, hi, ext, ext);
  uint r = s & 31u;
  if (r != 0u) {
    uint l = 32u - r;
    v = uvec4(v.x << r, (v.y << r) | (v.x >> l), (v.z << r) | (v.y >> l),
              (v.w << r) | (v.z >> l));
  }
  return v;
}

uint u128_limb(uvec4 v, int i) {
  return i == 0 ? v.x : (i == 1 ? v.y : (i == 2 ? v.z : (i == 3 ? v.w : 0u)));
}

// Bits [shift, shift + 32) of v (zero above bit 127).
uint u128_extract32(uvec4 v, int shift) {
  if (shift >= 128) return 0u;
  int l = shift >> 5;
  uint r = uint(shift & 31);
  uint lo = u128_limb(v, l) >> r;
  uint hi = r == 0u ? 0u : (u128_limb(v, l + 1) << (32u - r));
  return lo | hi;
}

bool u128_bit(uvec4 v, int p) {
  if (p >= 128) return false;
  return ((u128_limb(v, p >> 5) >> uint(p & 31)) & 1u) != 0u;
}

// Whether any bit at a position below p (p >= 0) is set.
bool u128_any_below(uvec4 v, int p) {
  if (p >= 128) return any(notEqual(v, uvec4(0u)));
  int l = p >> 5;
  uint r = uint(p & 31);
  bool lower = false;
  for (int i = 0; i < 3; ++i) lower = lower || (i < l && u128_limb(v, i) != 0u);
  uint mask = r == 0u ? 0u : ((1u << r) - 1u);
  return lower || (u128_limb(v, l) & mask) != 0u;
}

int u128_bit_length(uvec4 v) {
  if (v.w != 0u) return 97 + findMSB(v.w);
  if (v.z != 0u) return 65 + findMSB(v.z);
  if (v.y != 0u) return 33 + findMSB(v.y);
  return 1 + findMSB(v.x);  // findMSB(0) = -1 -> 0
}

// IEEE binary format with frac_bits stored fraction bits and exp_bits exponent bits:
// the bits of (negative ? -1 : 1) * magnitude * 2^exponent, rounded to nearest, ties
// to even, with gradual underflow and overflow to infinity. An exact zero gives +0; a
// nonzero value that rounds to zero keeps its sign. Same steps as RoundToIeeeBits in
// ops/exact_float.cc.
uint round_ieee_bits(uvec4 magnitude, bool negative, int exponent, int frac_bits,
                     int exp_bits) {
  if (all(equal(magnitude, uvec4(0u)))) return 0u;
  int bias = (1 << (exp_bits - 1)) - 1;
  int min_lsb = 1 - bias - frac_bits;  // LSB exponent of subnormals
  uint inf_bits = ((1u << uint(exp_bits)) - 1u) << uint(frac_bits);
  uint sign = negative ? (1u << uint(frac_bits + exp_bits)) : 0u;
  int top = u128_bit_length(magnitude) - 1 + exponent;  // value in [2^top, 2^(top+1))
  int lsb = max(top - frac_bits, min_lsb);
  uint significand;
  if (lsb <= exponent) {
    // Exact: the magnitude has at most frac_bits + 1 bits, all in limb x.
    significand = magnitude.x << uint(exponent - lsb);
  } else {
    int shift = lsb - exponent;  // >= 1
    significand = u128_extract32(magnitude, shift);
    bool guard = u128_bit(magnitude, shift - 1);
    bool sticky = u128_any_below(magnitude, shift - 1);
    if (guard && (sticky || (significand & 1u) != 0u)) significand += 1u;
  }
  if ((significand >> uint(frac_bits + 1)) != 0u) {  // rounding carried into a new bit
    significand >>= 1;
    lsb += 1;
  }
  if (significand == 0u) return sign;
  if ((significand >> uint(frac_bits)) == 0u) return sign | significand;  // subnormal
  int biased = lsb + frac_bits + bias;
  if (biased >= (1 << exp_bits) - 1) return sign | inf_bits;
  return sign | (uint(biased) << uint(frac_bits)) |
         (significand & ((1u << uint(frac_bits)) - 1u));
}

// Signed 128-bit two's complement value * 2^exponent rounded to f32 bits.
uint round_s128_to_f32_bits(uvec4 value, int exponent) {
  bool negative = u128_is_negative(value);
  return round_ieee_bits(negative ? u128_negate(value) : value, negative, exponent, 23, 8);
}

// The quotient (magnitude * 2^exponent) / divisor, magnitude < 2^24 and
// 0 < divisor < 2^16, as a value with a sticky bit for round_ieee_bits: the exact
// quotient of magnitude << 56 keeps >= 32 significant bits, and a nonzero remainder
// sets one more bit below them, so ties stay ties and nothing else becomes one (the
// same construction as QuotientWithSticky in ops/exact_float.cc). Long division in
// 16-bit digits keeps every partial dividend below 2^32.
uvec4 quotient_with_sticky(uint magnitude, uint divisor, out int exponent_adjust) {
  // magnitude << 56: bits 56..79, i.e. limb y bits 24..31 and limb z bits 0..15.
  uvec4 num = uvec4(0u, magnitude << 24, magnitude >> 8, 0u);
  uvec4 q = uvec4(0u);
  uint rem = 0u;
  for (int i = 7; i >= 0; --i) {
    uint digit = (u128_limb(num, i >> 1) >> uint((i & 1) * 16)) & 0xFFFFu;
    uint cur = (rem << 16) | digit;
    uint qd = cur / divisor;
    rem = cur - qd * divisor;
    if ((i & 1) != 0) {
      q[i >> 1] |= qd << 16;
    } else {
      q[i >> 1] |= qd;
    }
  }
  // (q << 1) | sticky; q < 2^80 so nothing leaves the top limb.
  uvec4 m = uvec4(q.x << 1, (q.y << 1) | (q.x >> 31), (q.z << 1) | (q.y >> 31),
                  (q.w << 1) | (q.z >> 31));
  m.x |= rem != 0u ? 1u : 0u;
  exponent_adjust = -56 - 1;
  return m;
}

// q = clamp(round_half_even(x / s), -127, 127) on the exact rational, for a finite f32
// x and a scale s = s_mantissa * 2^s_exponent with s_mantissa in (0, 2^24). Mirrors
// QuantizeExact in ops/reference/quantize_common.h with 32-bit integers: every
// quotient that can survive the clamp has a numerator below 2^32 (see the branches).
int quantize_exact(uint x_bits, int s_mantissa, int s_exponent) {
  int xm, xe;
  decode_f32(x_bits, xm, xe);
  if (xm == 0) return 0;
  uint ax = uint(abs(xm));
  uint den = uint(s_mantissa);
  uint num;
  int shift = xe - s_exponent;
  if (shift >= 0) {
    // ax << shift >= 2^32 means |x / s| >= 2^32 / 2^24 = 256: saturates.
    if (shift >= 32 || (shift > 0 && (ax >> uint(32 - shift)) != 0u)) {
      return xm > 0 ? 127 : -127;
    }
    num = ax << uint(shift);
  } else {
    // den = s_mantissa << -shift >= 2^32 > 2 * ax means |x / s| < 1/2: rounds to 0.
    int t = -shift;
    if (t >= 32 || (den >> uint(32 - t)) != 0u) return 0;
    den <<= uint(t);
    num = ax;
  }
  uint q = num / den;
  uint rem = num - q * den;
  uint rest = den - rem;
  if (rem > rest || (rem == rest && (q & 1u) != 0u)) q += 1u;
  int v = int(min(q, 127u));
  return xm > 0 ? v : -v;
}

// Packs four int8 values (low byte first) into one little-endian word.
uint pack_s8x4(int q0, int q1, int q2, int q3) {
  return (uint(q0) & 0xFFu) | ((uint(q1) & 0xFFu) << 8) | ((uint(q2) & 0xFFu) << 16) |
         ((uint(q3) & 0xFFu) << 24);
}

#endif  // DATANODE_VULKAN_EXACT_INT_GLSL_
