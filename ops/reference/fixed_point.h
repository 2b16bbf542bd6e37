// Copyright 2026 The datanode Authors.
//
// Integer fixed-point helpers of the spec-v2 LLM ops (docs/determinism.md, §8): the
// exponential, the integer square root, the sum of two exact terms rounded once and the
// wide quotient rounded once. Everything here is the spec in code: a backend must give
// the same integers, so every shift, floor and constant below is normative. Only
// int64 arithmetic is used inside the fixed-point steps; int128 appears where the spec
// allows it (the single final rounding, exact wide sums, and the RoPE table that is
// built once on the host).
#ifndef DATANODE_OPS_REFERENCE_FIXED_POINT_H_
#define DATANODE_OPS_REFERENCE_FIXED_POINT_H_

#include <cstdint>
#include <span>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "datanode/ops/exact_float.h"

namespace datanode::ops::llm::fixed {

// --- Constants (spec §8.1). Each is round-half-even(c * 2^f) of the real constant c.
// log2(e) in Q.38: the product with a 24-bit mantissa stays below 2^63.
inline constexpr int64_t kLog2eQ38 = 396564993198;  // 0x5C551D94AE
// ln(2) in Q.30.
inline constexpr int64_t kLn2Q30 = 744261118;
// 2^(j/16) in Q.30, j = 0..15.
inline constexpr int64_t kExp2TableQ30[16] = {
    1073741824, 1121280436, 1170923762, 1222764986, 1276901417, 1333434672, 1392470869, 1454120821,
    1518500250, 1585730000, 1655936265, 1729250827, 1805811301, 1885761398, 1969251188, 2056437387};
// ln(2) and pi/2 in Q.62 (RoPE table only).
inline constexpr int64_t kLn2Q62 = 3196577161300663915;     // 0x2C5C85FDF473DE6B
inline constexpr int64_t kHalfPiQ62 = 7244019458077122842;  // 0x6487ED5110B4611A

inline int BitLength64(uint64_t u) { return u == 0 ? 0 : 64 - __builtin_clzll(u); }
inline int BitLength128(uint128 u) {
  const uint64_t hi = static_cast<uint64_t>(u >> 64);
  return hi != 0 ? 64 + BitLength64(hi) : BitLength64(static_cast<uint64_t>(u));
}

// A finite f32's bits mapped to an integer that orders like the value (+0 == -0).
inline int64_t OrderKey(uint32_t bits) {
  const int64_t mag = bits & 0x7FFFFFFF;
  return (bits >> 31) ? -mag : mag;
}

// --- exp(-x) for x >= 0 (spec §8.2) ------------------------------------------------
// Result: exp(-x) ~= e * 2^(k - 30) with e in [2^30, 2^31) and k in [-4096, 0].
struct ExpResult {
  int64_t e = 0;
  int k = 0;
};

// y = min(floor(x * kLog2eQ38 * 2^-8), 2^42): x * log2(e) in Q.30, clamped at 4096
// (exp(-4096) is far below every f32 result it can reach).
inline int64_t Log2eTimesQ30(ExactValue x) {
  constexpr int64_t kCap = int64_t{1} << 42;
  if (x.mantissa == 0) return 0;
  const int64_t p = x.mantissa * kLog2eQ38;  // < 2^24 * 2^39 = 2^63
  const int shift = x.exponent - 8;
  if (shift >= 0) {
    if (shift >= 42 || p >= (kCap >> shift)) return kCap;
    return p << shift;
  }
  if (shift <= -63) return 0;
  const int64_t y = p >> -shift;  // x up to 2^31: still above the cap
  return y < kCap ? y : kCap;
}

// 2^(f / 2^30) for f in [0, 2^30), in Q.30: table for the top 4 bits, a degree-5
// Taylor polynomial of e^z for the rest (z < ln(2)/16, truncation error < 2^-36).
inline int64_t Exp2FracQ30(int64_t f) {
  const int j = static_cast<int>(f >> 26);
  const int64_t r = f & ((int64_t{1} << 26) - 1);
  const int64_t z = (r * kLn2Q30) >> 30;  // < 2^26
  int64_t p = int64_t{1} << 30;
  for (int n = 5; n >= 1; --n) p = (int64_t{1} << 30) + ((z * p) >> 30) / n;
  int64_t e = (kExp2TableQ30[j] * p) >> 30;
  // The top of the last table interval can round up to 2^31; keep e a Q1.30 mantissa.
  if (e > (int64_t{1} << 31) - 1) e = (int64_t{1} << 31) - 1;
  return e;
}

// 2^(-y / 2^30) for y in [0, 2^42].
inline ExpResult Exp2NegQ30(int64_t y) {
  const int64_t neg = -y;
  const int64_t k = neg >> 30;        // floor (arithmetic shift)
  const int64_t f = neg - (k << 30);  // [0, 2^30)
  return {Exp2FracQ30(f), static_cast<int>(k)};
}

// exp(-x) for a finite x >= 0 given exactly.
inline ExpResult ExpNeg(ExactValue x) { return Exp2NegQ30(Log2eTimesQ30(x)); }

// Softmax weight in Q.40 from an ExpResult: floor(e * 2^(k + 10)), so exp(0) = 2^40 and
// weights below 2^-41 are 0. 40 fraction bits (not 30, the precision of e) keep the sum
// of many small floored weights accurate: each loses < 2^-40 of the largest.
inline int64_t WeightQ40(ExpResult r) {
  const int shift = r.k + 10;
  if (shift >= 0) return r.e << shift;
  return shift <= -31 ? 0 : r.e >> -shift;
}

// --- Integer square root (spec §8.3) ------------------------------------------------
// floor(sqrt(v)), bit by bit (no division, no float).
inline uint64_t ISqrt64(uint64_t v) {
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
inline uint128 ISqrt128(uint128 v) {
  uint128 result = 0;
  uint128 bit = uint128{1} << 126;
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

// round_f32(mag * 2^e) with the sign bit `sign`, exactly RoundToF32Bits: a short uint64
// path for normal results (what the per-element ops produce almost always), the spec
// routine otherwise.
inline uint32_t RoundU64ToF32Bits(uint32_t sign, uint64_t mag, int e) {
  if (mag == 0) return 0;
  const int length = BitLength64(mag);
  const int top = length - 1 + e;
  if (top < -126 || top > 126 || length > 63) {
    const int128 m = sign ? -int128{mag} : int128{mag};
    return RoundToF32Bits(m, e);
  }
  uint64_t sig;
  int biased = top + 127;
  if (length <= 24) {
    sig = mag << (24 - length);
  } else {
    const int shift = length - 24;
    sig = mag >> shift;
    const uint64_t rem = mag & ((uint64_t{1} << shift) - 1);
    const uint64_t half = uint64_t{1} << (shift - 1);
    if (rem > half || (rem == half && (sig & 1) != 0)) ++sig;
    if (sig >> 24) {
      sig >>= 1;
      ++biased;
    }
  }
  return sign | (static_cast<uint32_t>(biased) << 23) | (static_cast<uint32_t>(sig) & 0x7FFFFFu);
}

// --- Single roundings (spec §8.4) ----------------------------------------------------
// round_f32(a * 2^ae + b * 2^be) for |a|, |b| < 2^62, exactly (one rounding). When the
// exponents are more than 64 apart (after normalizing both mantissas to 62 bits) the
// smaller term lies below every bit the rounding looks at and is replaced by a sticky
// unit of its sign, which rounds identically.
inline uint32_t RoundSum2ToF32Bits(int64_t a, int ae, int64_t b, int be) {
  if (a == 0) return RoundToF32Bits(b, be);
  if (b == 0) return RoundToF32Bits(a, ae);
  // Normalize each magnitude to [2^61, 2^62).
  auto normalize = [](int64_t& m, int& e) {
    const int shift = 62 - BitLength64(static_cast<uint64_t>(m < 0 ? -m : m));
    m <<= shift;
    e -= shift;
  };
  normalize(a, ae);
  normalize(b, be);
  if (ae < be) {
    std::swap(a, b);
    std::swap(ae, be);
  }
  const int diff = ae - be;
  if (diff <= 64) return RoundToF32Bits((int128{a} << diff) + b, be);
  return RoundToF32Bits((int128{a} << 2) + (b < 0 ? -1 : 1), ae - 2);
}

// round_f32(num * 2^exponent / den) for |num| < 2^126, 0 < den < 2^63: the exact
// quotient rounded once (at least 62 quotient bits plus a sticky bit).
inline uint32_t RoundQuotient128ToF32Bits(int128 num, int exponent, uint64_t den) {
  if (num == 0) return 0;
  const bool negative = num < 0;
  uint128 mag = negative ? uint128(0) - uint128(num) : uint128(num);
  const int shift = 126 - BitLength128(mag);
  mag <<= shift;
  uint128 q = mag / den;
  if (q * den != mag) q |= 1;  // sticky: q has >= 63 bits, far below the rounding point
  const int128 m = negative ? -int128(q) : int128(q);
  return RoundToF32Bits(m, exponent - shift);
}

// round_f16 with saturation: values beyond the f16 range become +-65504 (the KV cache
// never holds an infinity).
inline uint16_t RoundToF16BitsSaturating(int128 mantissa, int exponent) {
  uint16_t bits = RoundToF16Bits(mantissa, exponent);
  if (!IsFiniteF16Bits(bits)) bits = static_cast<uint16_t>((bits & 0x8000) | 0x7BFF);
  return bits;
}

// --- Validation shared by the ops ----------------------------------------------------
inline absl::Status CheckFiniteF32(absl::string_view op, absl::string_view operand,
                                   std::span<const float> v) {
  for (size_t i = 0; i < v.size(); ++i) {
    if (!IsFiniteF32Bits(F32ToBits(v[i]))) {
      return absl::InvalidArgumentError(absl::StrCat(op, ": ", operand, "[", i, "] is not finite"));
    }
  }
  return absl::OkStatus();
}

inline absl::Status CheckSameSize(absl::string_view op, absl::string_view a, size_t a_size,
                                  absl::string_view b, size_t b_size) {
  if (a_size == b_size) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(op, ": ", a, " has ", a_size, " values but ", b, " has ", b_size));
}

}  // namespace datanode::ops::llm::fixed

#endif  // DATANODE_OPS_REFERENCE_FIXED_POINT_H_
