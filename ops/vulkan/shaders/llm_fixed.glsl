// Copyright 2026 The datanode Authors.
//
// Integer helpers of the spec-v2 LLM op kernels (llm_*.comp; included, not a kernel):
// 64-bit unsigned arithmetic emulated on uvec2 (.x the low word; no shaderInt64), and
// ports of the normative fixed-point steps of ops/reference/fixed_point.h
// (RoundSum2ToF32Bits, ExpNeg). Every shift, floor and constant is the reference's.
#ifndef DATANODE_VULKAN_LLM_FIXED_GLSL_
#define DATANODE_VULKAN_LLM_FIXED_GLSL_

#include "exact_int.glsl"

uvec2 u64_add(uvec2 a, uvec2 b) {
  uint c;
  uint lo = uaddCarry(a.x, b.x, c);
  return uvec2(lo, a.y + b.y + c);
}

uvec2 u64_sub(uvec2 a, uvec2 b) {
  uint br;
  uint lo = usubBorrow(a.x, b.x, br);
  return uvec2(lo, a.y - b.y - br);
}

bool u64_less(uvec2 a, uvec2 b) { return a.y < b.y || (a.y == b.y && a.x < b.x); }

bool u64_is_zero(uvec2 a) { return (a.x | a.y) == 0u; }

// a << s, s in [0, 63].
uvec2 u64_shl(uvec2 a, int s) {
  if (s >= 32) return uvec2(0u, a.x << uint(s - 32));
  if (s == 0) return a;
  return uvec2(a.x << uint(s), (a.y << uint(s)) | (a.x >> uint(32 - s)));
}

// a >> s (logical), s in [0, 63].
uvec2 u64_shr(uvec2 a, int s) {
  if (s >= 32) return uvec2(a.y >> uint(s - 32), 0u);
  if (s == 0) return a;
  return uvec2((a.x >> uint(s)) | (a.y << uint(32 - s)), a.y >> uint(s));
}

uvec2 u64_mul32(uint a, uint b) {
  uint hi, lo;
  umulExtended(a, b, hi, lo);
  return uvec2(lo, hi);
}

int u64_bit_length(uvec2 a) {
  return a.y != 0u ? 33 + findMSB(a.y) : 1 + findMSB(a.x);  // findMSB(0) = -1
}

// floor(num / den) for den > 0 when the quotient is below 2^32 (num.y < den): restoring
// division bit by bit; the carry keeps the partial remainder's 33rd bit.
uint u64_div32_small(uvec2 num, uint den) {
  uint rem = num.y;
  uint q = 0u;
  for (int i = 31; i >= 0; --i) {
    uint carry = rem >> 31;
    rem = (rem << 1) | ((num.x >> uint(i)) & 1u);
    q <<= 1;
    if (carry != 0u || rem >= den) {
      rem -= den;
      q |= 1u;
    }
  }
  return q;
}

// floor(num / den), den > 0, any 64-bit num.
uvec2 u64_div32(uvec2 num, uint den) {
  uint q_hi = num.y / den;
  uint r = num.y - q_hi * den;
  return uvec2(u64_div32_small(uvec2(num.x, r), den), q_hi);
}

// a * b as 128 bits.
uvec4 u64_mul_to_128(uvec2 a, uvec2 b) {
  uvec2 ll = u64_mul32(a.x, b.x);
  uvec2 lh = u64_mul32(a.x, b.y);
  uvec2 hl = u64_mul32(a.y, b.x);
  uvec2 hh = u64_mul32(a.y, b.y);
  uvec4 r = uvec4(ll.x, ll.y, hh.x, hh.y);
  r = u128_add(r, uvec4(0u, lh.x, lh.y, 0u));
  return u128_add(r, uvec4(0u, hl.x, hl.y, 0u));
}

// v << s for s in [0, 127] (bits above 127 are dropped).
uvec4 u128_shl(uvec4 v, int s) {
  uvec4 w = v;
  if (s >= 64) w = uvec4(0u, 0u, w.x, w.y);
  if ((s & 32) != 0) w = uvec4(0u, w.x, w.y, w.z);
  uint r = uint(s & 31);
  if (r == 0u) return w;
  uint l = 32u - r;
  return uvec4(w.x << r, (w.y << r) | (w.x >> l), (w.z << r) | (w.y >> l),
               (w.w << r) | (w.z >> l));
}

bool u128_less(uvec4 a, uvec4 b) {
  if (a.w != b.w) return a.w < b.w;
  if (a.z != b.z) return a.z < b.z;
  if (a.y != b.y) return a.y < b.y;
  return a.x < b.x;
}

// a - b for a >= b.
uvec4 u128_sub(uvec4 a, uvec4 b) {
  uvec4 r;
  uint b0, b1, b2;
  r.x = usubBorrow(a.x, b.x, b0);
  r.y = usubBorrow(a.y, b.y, b1);
  uint b1b;
  r.y = usubBorrow(r.y, b0, b1b);
  r.z = usubBorrow(a.z, b.z, b2);
  uint b2b;
  r.z = usubBorrow(r.z, b1 + b1b, b2b);
  r.w = a.w - b.w - b2 - b2b;
  return r;
}

// The signed 128-bit value (negative ? -mag : mag).
uvec4 s128_from(uvec4 mag, bool negative) { return negative ? u128_negate(mag) : mag; }

// The signed sum (na ? -ma : ma) + (nb ? -mb : mb) as a magnitude and a sign.
uvec4 signed_sum(uvec4 ma, bool na, uvec4 mb, bool nb, out bool negative) {
  if (na == nb) {
    negative = na;
    return u128_add(ma, mb);
  }
  bool b_larger = u128_less(ma, mb);
  negative = b_larger ? nb : na;
  return b_larger ? u128_sub(mb, ma) : u128_sub(ma, mb);
}

// RoundSum2ToF32Bits(a, ae, b, be) for magnitudes below 2^62 given as sign + uvec2:
// round_f32(a 2^ae + b 2^be), each magnitude first normalized to [2^61, 2^62); an
// exponent gap above 64 turns the smaller term into a sticky +-1 two bits below.
uint round_sum2_u64_to_f32_bits(uvec2 ma, bool na, int ae, uvec2 mb, bool nb, int be) {
  uvec4 mag;
  bool negative;
  int exponent;
  bool a_zero = u64_is_zero(ma);
  if (a_zero || u64_is_zero(mb)) {
    mag = uvec4(a_zero ? mb : ma, 0u, 0u);
    negative = a_zero ? nb : na;
    exponent = a_zero ? be : ae;
  } else {
    int sa = 62 - u64_bit_length(ma);  // normalizes to [2^61, 2^62)
    int sb = 62 - u64_bit_length(mb);
    int ea = ae - sa;
    int eb = be - sb;
    // hi: the term with the larger normalized exponent (a on ties), lo: the other.
    bool a_hi = ea >= eb;
    uvec2 m_hi = a_hi ? ma : mb;
    uvec2 m_lo = a_hi ? mb : ma;
    int s_hi = a_hi ? sa : sb;
    int s_lo = a_hi ? sb : sa;
    bool n_hi = a_hi ? na : nb;
    bool n_lo = a_hi ? nb : na;
    int e_hi = a_hi ? ea : eb;
    int e_lo = a_hi ? eb : ea;
    int diff = e_hi - e_lo;
    if (diff <= 64) {
      mag = signed_sum(u128_shl(uvec4(m_hi, 0u, 0u), s_hi + diff), n_hi,
                       u128_shl(uvec4(m_lo, 0u, 0u), s_lo), n_lo, negative);
      exponent = e_lo;
    } else {
      // (hi << 2) + sign(lo): the smaller term only decides the sticky bit.
      mag = signed_sum(u128_shl(uvec4(m_hi, 0u, 0u), s_hi + 2), n_hi, uvec4(1u, 0u, 0u, 0u),
                       n_lo, negative);
      exponent = e_hi - 2;
    }
  }
  return round_ieee_bits(mag, negative, exponent, 23, 8);
}

// The same for |a|, |b| < 2^24 (decoded f32 mantissas).
uint round_sum2_to_f32_bits(int a, int ae, int b, int be) {
  return round_sum2_u64_to_f32_bits(uvec2(uint(abs(a)), 0u), a < 0, ae, uvec2(uint(abs(b)), 0u),
                                    b < 0, be);
}

// round_f16_sat (spec §8.4) of a finite f32: the one rounding to binary16, then +-inf
// replaced by +-65504 (RoundToF16BitsSaturating).
uint round_f16_sat_bits(uint f32_bits) {
  int m, e;
  decode_f32(f32_bits, m, e);
  uint bits = round_ieee_bits(uvec4(uint(abs(m)), 0u, 0u, 0u), m < 0, e, 10, 5);
  if ((bits & 0x7C00u) == 0x7C00u) bits = (bits & 0x8000u) | 0x7BFFu;
  return bits;
}

// --- exp(-x) (fixed_point.h ExpNeg): exp(-x) ~= e * 2^(k - 30), e in [2^30, 2^31).

// min(floor(x * kLog2eQ38 * 2^-8), 2^42) for x = m * 2^ex, m >= 0, as a u64.
uvec2 log2e_times_q30(uint m, int ex) {
  const uvec2 kCap = uvec2(0u, 1u << 10);  // 2^42
  if (m == 0u) return uvec2(0u);
  // kLog2eQ38 = 0x5C_551D94AE; the product < 2^63.
  uvec2 p = u64_add(u64_mul32(m, 0x551D94AEu), uvec2(0u, m * 0x5Cu));
  int shift = ex - 8;
  if (shift >= 0) {
    if (shift >= 42 || !u64_less(p, u64_shr(kCap, shift))) return kCap;
    return u64_shl(p, shift);
  }
  if (shift <= -63) return uvec2(0u);
  uvec2 y = u64_shr(p, -shift);
  return u64_less(y, kCap) ? y : kCap;
}

// 2^(f / 2^30) in Q.30 for f in [0, 2^30).
uint exp2_frac_q30(uint f) {
  const uint kTable[16] = uint[16](
      1073741824u, 1121280436u, 1170923762u, 1222764986u, 1276901417u, 1333434672u,
      1392470869u, 1454120821u, 1518500250u, 1585730000u, 1655936265u, 1729250827u,
      1805811301u, 1885761398u, 1969251188u, 2056437387u);
  uint j = f >> 26;
  uint r = f & ((1u << 26) - 1u);
  uint z = u64_shr(u64_mul32(r, 744261118u), 30).x;  // kLn2Q30; z < 2^26
  uint p = 1u << 30;
  for (uint n = 5u; n >= 1u; --n) p = (1u << 30) + u64_shr(u64_mul32(z, p), 30).x / n;
  uvec2 e = u64_shr(u64_mul32(kTable[j], p), 30);
  if (e.y != 0u || e.x > 0x7FFFFFFFu) return 0x7FFFFFFFu;
  return e.x;
}

// Exp2NegQ30: 2^(-y / 2^30) = e * 2^(k - 30) for y in [0, 2^42].
uint exp2_neg_q30(uvec2 y, out int k) {
  // k = floor(-y / 2^30) = -ceil(y / 2^30); f = -y - k 2^30 in [0, 2^30).
  uvec2 c = u64_shr(u64_add(y, uvec2((1u << 30) - 1u, 0u)), 30);
  k = -int(c.x);
  uint f = (0u - y.x) & ((1u << 30) - 1u);
  return exp2_frac_q30(f);
}

// ExpNeg of x = m * 2^ex (m >= 0): e, and k in [-4096, 0].
uint exp_neg(uint m, int ex, out int k) { return exp2_neg_q30(log2e_times_q30(m, ex), k); }

#endif  // DATANODE_VULKAN_LLM_FIXED_GLSL_
