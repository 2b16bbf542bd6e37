// Copyright 2026 The datanode Authors.
//
// The per-element and per-row integer math of the spec-v2 LLM ops RmsNorm (§8.7), the
// elementwise ops (elementwise_ops.inc) and Attend (§8.10) as DN_HD functions: the CUDA kernels
// (llm_kernels.cu) run them on the device, and tests/cuda/llm_math_test.cc compiles the
// very same source for the host and compares it with ops/reference/llm_*.cc byte for
// byte.
//
// Each function is a port of the named step of ops/reference/fixed_point.h or of the
// reference op, integer-only (int64, and the exact_math.cuh 128-bit helpers where the
// reference uses int128). Inputs are f32 bits that the caller has checked to be finite.
#ifndef DATANODE_OPS_CUDA_LLM_MATH_CUH_
#define DATANODE_OPS_CUDA_LLM_MATH_CUH_

#include <cstdint>

#include "ops/cuda/exact_math.cuh"
#include "ops/cuda/host_device.h"

namespace datanode::ops::cuda::llm_math {

DN_HD int BitLength64(uint64_t u) { return u == 0 ? 0 : 64 - Clz64(u); }

// --- exp(-x), fixed::ExpNeg (spec §8.2) ----------------------------------------------
struct ExpResult {
  int64_t e;
  int k;
};

// fixed::kExp2TableQ30[j] (a function-local table: usable in device code).
DN_HD int64_t Exp2TableQ30(int j) {
  constexpr int64_t kTable[16] = {1073741824, 1121280436, 1170923762, 1222764986,
                                  1276901417, 1333434672, 1392470869, 1454120821,
                                  1518500250, 1585730000, 1655936265, 1729250827,
                                  1805811301, 1885761398, 1969251188, 2056437387};
  return kTable[j];
}

// fixed::Log2eTimesQ30.
DN_HD int64_t Log2eTimesQ30(ExactParts x) {
  constexpr int64_t kLog2eQ38 = 396564993198;
  constexpr int64_t kCap = int64_t{1} << 42;
  if (x.mantissa == 0) return 0;
  const int64_t p = x.mantissa * kLog2eQ38;
  const int shift = x.exponent - 8;
  if (shift >= 0) {
    if (shift >= 42 || p >= (kCap >> shift)) return kCap;
    return p << shift;
  }
  if (shift <= -63) return 0;
  const int64_t y = p >> -shift;
  return y < kCap ? y : kCap;
}

// fixed::Exp2FracQ30.
DN_HD int64_t Exp2FracQ30(int64_t f) {
  constexpr int64_t kLn2Q30 = 744261118;
  const int j = static_cast<int>(f >> 26);
  const int64_t r = f & ((int64_t{1} << 26) - 1);
  const int64_t z = (r * kLn2Q30) >> 30;
  int64_t p = int64_t{1} << 30;
  for (int n = 5; n >= 1; --n) p = (int64_t{1} << 30) + ((z * p) >> 30) / n;
  int64_t e = (Exp2TableQ30(j) * p) >> 30;
  if (e > (int64_t{1} << 31) - 1) e = (int64_t{1} << 31) - 1;
  return e;
}

// fixed::Exp2NegQ30 and fixed::ExpNeg.
DN_HD ExpResult Exp2NegQ30(int64_t y) {
  const int64_t neg = -y;
  const int64_t k = neg >> 30;  // arithmetic shift: floor (as in the reference)
  const int64_t f = neg - (k << 30);
  return {Exp2FracQ30(f), static_cast<int>(k)};
}
DN_HD ExpResult ExpNeg(ExactParts x) { return Exp2NegQ30(Log2eTimesQ30(x)); }

// --- fixed::ISqrt64 (spec §8.3) -------------------------------------------------------
DN_HD uint64_t ISqrt64(uint64_t v) {
  uint64_t result = 0;
  uint64_t bit = uint64_t{1} << 62;
  while (bit > v) bit >>= 2;
  while (bit != 0) {
    if (v >= result + bit) {
      v -= result + bit;
      result = (result >> 1) + bit;
    } else {
      result >>= 1;
    }
    bit >>= 2;
  }
  return result;
}

// --- fixed::RoundSum2ToF32Bits (spec §8.4) ---------------------------------------------
DN_HD void Normalize62(int64_t& m, int& e) {
  const int shift = 62 - BitLength64(static_cast<uint64_t>(m < 0 ? -m : m));
  m <<= shift;
  e -= shift;
}
DN_HD uint32_t RoundSum2F32(int64_t a, int ae, int64_t b, int be) {
  if (a == 0) return RoundF32(b, be);
  if (b == 0) return RoundF32(a, ae);
  Normalize62(a, ae);
  Normalize62(b, be);
  if (ae < be) {
    const int64_t tm = a;
    a = b;
    b = tm;
    const int te = ae;
    ae = be;
    be = te;
  }
  const int diff = ae - be;
  if (diff <= 64) return RoundF32((i128(a) << diff) + b, be);
  return RoundF32((i128(a) << 2) + (b < 0 ? -1 : 1), ae - 2);
}

// --- Elementwise ops: one element each, `<Name>Element(in)` for each row of
// elementwise_ops.inc (in: the inputs' f32 bits, in table order). llm_kernels.cu runs them.

// --- Add (§8.6) -------------------------------------------------------------------------
DN_HD uint32_t AddElement(const uint32_t* in) {
  const ExactParts a = DecodeF32(in[0]);
  const ExactParts b = DecodeF32(in[1]);
  return RoundSum2F32(a.mantissa, a.exponent, b.mantissa, b.exponent);
}

// --- SiluMul (§8.8) ---------------------------------------------------------------------
DN_HD uint32_t SiluMulElement(const uint32_t* in) {
  const ExactParts g = DecodeF32(in[0]);
  const ExactParts u = DecodeF32(in[1]);
  const ExactParts abs_g{g.mantissa < 0 ? -g.mantissa : g.mantissa, g.exponent};
  const ExpResult t = ExpNeg(abs_g);
  const int64_t den = (int64_t{1} << 30) + (t.k >= -30 ? t.e >> -t.k : 0);
  int64_t sigma;
  int sigma_exp;
  if (g.mantissa >= 0) {
    sigma = (int64_t{1} << 61) / den;
    sigma_exp = -31;
  } else {
    sigma = (t.e << 31) / den;
    sigma_exp = t.k - 31;
  }
  const i128 prod = i128(g.mantissa * u.mantissa) * sigma;
  return RoundF32(prod, g.exponent + u.exponent + sigma_exp);
}

// --- RmsNorm (§8.7) --------------------------------------------------------------------
// No nonzero element: the reference's max_exp sentinel.
inline constexpr int kRmsNoExponent = -1000;

// Step 1a: this element's contribution to the row's max exponent (kRmsNoExponent for 0).
DN_HD int RmsExponent(uint32_t x_bits) {
  const ExactParts xv = DecodeF32(x_bits);
  return xv.mantissa != 0 ? xv.exponent : kRmsNoExponent;
}

// Step 1b: t_i^2 for the row's max exponent (0 for a zero element or an all-zero row).
// n <= 2^15 terms of at most 2^48 each: the uint64 sum is exact, in any order.
DN_HD uint64_t RmsSquare(uint32_t x_bits, int max_exp) {
  if (max_exp == kRmsNoExponent) return 0;
  const ExactParts xv = DecodeF32(x_bits);
  if (xv.mantissa == 0) return 0;
  const uint64_t mag = static_cast<uint64_t>(xv.mantissa < 0 ? -xv.mantissa : xv.mantissa);
  const int s = max_exp - xv.exponent;
  const uint64_t t = s == 0 ? mag : (s >= 25 ? 0 : (mag + (uint64_t{1} << (s - 1))) >> s);
  return t * t;
}

// Steps 2 and 3: the row's reciprocal square root R * 2^(-62 - me / 2).
struct RmsScale {
  uint64_t r;
  int me;
};

struct Wide {
  uint64_t m;
  int e;
};
DN_HD Wide Norm62(uint64_t m, int e) {
  if (m == 0) return {0, 0};
  const int len = BitLength64(m);
  if (len > 63) return {m >> (len - 63), e + (len - 63)};
  return {m << (63 - len), e - (63 - len)};
}
DN_HD Wide AddTruncated(Wide a, Wide b) {
  if (a.m == 0) return b;
  if (b.m == 0) return a;
  if (a.e < b.e) {
    const Wide t = a;
    a = b;
    b = t;
  }
  const int shift = a.e - b.e;
  const uint64_t aligned = shift >= 64 ? 0 : (b.m >> shift);
  return {a.m + aligned, a.e};
}

DN_HD RmsScale RmsScaleOf(uint64_t sum, int max_exp, int64_t n, uint32_t eps_bits) {
  const ExactParts ev = DecodeF32(eps_bits);
  const Wide total = AddTruncated(Norm62(sum, 2 * max_exp),
                                  Norm62(static_cast<uint64_t>(n * ev.mantissa), ev.exponent));
  uint64_t mm = total.m / static_cast<uint64_t>(n);
  int me = total.e;
  const int len = BitLength64(mm);
  if (len > 62) {
    mm >>= len - 62;
    me += len - 62;
  } else {
    mm <<= 62 - len;
    me -= 62 - len;
  }
  if (me & 1) {
    mm >>= 1;
    me += 1;
  }
  const uint64_t root = ISqrt64(mm);
  return {(uint64_t{1} << 62) / root, me};
}

// Step 4: one output element.
DN_HD uint32_t RmsNormElement(uint32_t x_bits, uint32_t gain_bits, RmsScale scale) {
  const ExactParts xv = DecodeF32(x_bits);
  const ExactParts gv = DecodeF32(gain_bits);
  const i128 prod = i128(xv.mantissa * gv.mantissa) * static_cast<int64_t>(scale.r);
  return RoundF32(prod, xv.exponent + gv.exponent - 62 - scale.me / 2);
}

// The whole row, sequentially (what the kernel computes with one block per row; the
// host tests run this).
DN_HD void RmsNormRow(const uint32_t* x, const uint32_t* gain, int64_t n, uint32_t eps_bits,
                      uint32_t* out) {
  int max_exp = kRmsNoExponent;
  for (int64_t i = 0; i < n; ++i) {
    const int e = RmsExponent(x[i]);  // kRmsNoExponent is below every f32 exponent
    if (e > max_exp) max_exp = e;
  }
  uint64_t sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += RmsSquare(x[i], max_exp);
  const RmsScale scale = RmsScaleOf(sum, max_exp, n, eps_bits);
  for (int64_t i = 0; i < n; ++i) out[i] = RmsNormElement(x[i], gain[i], scale);
}

// --- Attend (§8.10) ---------------------------------------------------------------------
// RoundToF16BitsSaturating: round to f16, +-65504 instead of an infinity.
DN_HD uint16_t RoundF16Saturating(i128 mantissa, int exponent) {
  uint16_t bits = RoundF16(mantissa, exponent);
  if ((bits & 0x7C00) == 0x7C00) bits = static_cast<uint16_t>((bits & 0x8000) | 0x7BFF);
  return bits;
}

// A finite f16 value as an integer in units of 2^-24 (|v| < 2^40).
DN_HD int64_t F16Units(uint16_t bits) {
  const ExactParts v = DecodeF16(bits);
  return v.mantissa * (int64_t{1} << (v.exponent + 24));
}

// Step 1's query element: q rounded to f16 (saturating), in units of 2^-24.
DN_HD int64_t QueryUnits(uint32_t q_bits) {
  const ExactParts v = DecodeF32(q_bits);
  return F16Units(RoundF16Saturating(v.mantissa, v.exponent));
}

// fixed::WeightQ40.
DN_HD int64_t WeightQ40(ExpResult r) {
  const int shift = r.k + 10;
  if (shift >= 0) return r.e << shift;
  return shift <= -31 ? 0 : r.e >> -shift;
}

// Steps 2-3: the weight of a position whose exact dot product is diff (>= 0) below the
// head's maximum; c_q40 = AttendScoreScaleQ40(head_dim).
DN_HD int64_t AttendWeight(i128 diff, int64_t c_q40) {
  constexpr int64_t kExpCap = int64_t{1} << 42;
  int64_t y = kExpCap;
  if (diff < (i128(1) << 59)) {
    const i128 scaled = (diff * c_q40) >> 58;
    if (scaled < kExpCap) y = static_cast<int64_t>(scaled);
  }
  return WeightQ40(Exp2NegQ30(y));
}

// floor(n / d) and whether a remainder is left, for d in (0, 2^63): restoring long
// division, one bit at a time (no 128-bit divide instruction needed on the device).
DN_HD u128 DivU128ByU64(u128 n, uint64_t d, bool* inexact) {
  u128 q = 0;
  uint64_t r = 0;  // < d < 2^63, so r << 1 | bit fits
  for (int i = 127; i >= 0; --i) {
    r = (r << 1) | static_cast<uint64_t>((n >> i) & 1);
    if (r >= d) {
      r -= d;
      q |= u128(1) << i;
    }
  }
  *inexact = r != 0;
  return q;
}

// fixed::RoundQuotient128ToF32Bits for |num| < 2^126, 0 < den < 2^63.
DN_HD uint32_t RoundQuotient128F32(i128 num, int exponent, uint64_t den) {
  if (num == 0) return 0;
  const bool negative = num < 0;
  u128 mag = negative ? u128(0) - u128(num) : u128(num);
  const int shift = 126 - BitLength128(mag);
  mag <<= shift;
  bool inexact = false;
  u128 q = DivU128ByU64(mag, den, &inexact);
  if (inexact) q |= 1;
  const i128 m = negative ? -i128(q) : i128(q);
  return RoundF32(m, exponent - shift);
}

// Step 4: one output element from the exact weighted sum of V and the sum of weights.
DN_HD uint32_t AttendOutput(i128 acc, int64_t total) {
  return RoundQuotient128F32(acc, -24, static_cast<uint64_t>(total));
}

// Host only (the launcher passes it to the kernel): log2(e) / sqrt(head_dim) in Q.40,
// floor(sqrt(floor(16 * kLog2eQ38^2 / head_dim))), as the reference's ScoreToLog2Q40.
inline int64_t AttendScoreScaleQ40(int head_dim) {
  constexpr u128 l = 396564993198;
  u128 v = (16 * l * l) / static_cast<uint64_t>(head_dim);
  u128 result = 0;
  u128 bit = u128(1) << 126;
  while (bit > v) bit >>= 2;
  while (bit != 0) {
    if (v >= result + bit) {
      v -= result + bit;
      result = (result >> 1) + bit;
    } else {
      result >>= 1;
    }
    bit >>= 2;
  }
  return static_cast<int64_t>(result);
}

}  // namespace datanode::ops::cuda::llm_math

#endif  // DATANODE_OPS_CUDA_LLM_MATH_CUH_
