// Copyright 2026 The datanode Authors.
//
// Why doubles give the exact spec result here:
//  * p = a_scale * w_scale is formed exactly: (ma * mw) < 2^48 fits a double's 53-bit
//    significand, and 2^(ea + ew) with ea + ew in [-298, 208] is a normal double.
//  * x = isum is exact (|isum| < 2^31).
//  * hi = RN(p * x) and lo = fma(p, x, -hi) = p * x - hi exactly (the error of a product
//    is representable: |p * x| >= 2^-298 is far above the double underflow range, and
//    below 2^288 far from overflow).
//  * Round-to-odd: if lo != 0 and hi's last significand bit is 0, move hi one ulp towards
//    the exact value; the result is p * x rounded to odd at 53 bits. Rounding that once
//    more to any precision <= 51 bits (binary32: 24, subnormals fewer) gives exactly the
//    round-to-nearest-even of p * x (Boldo & Melquiond, "Emulation of FMA and correctly
//    rounded sums: proved algorithms using rounding to odd", 2008).
//  * The final double -> float conversion rounds to nearest even with gradual underflow
//    and overflows to infinity, as §5 demands, provided MXCSR does not flush subnormals
//    (CanRoundTileAvx512 checks FTZ/DAZ; embedded rounding fixes the direction).
//  * An exact zero (isum == 0 or a zero scale) is written as +0.0.
#include "ops/cpu/s8_round_avx512.h"

#include <immintrin.h>

#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512vl")
// GCC 12 false positive inside its own intrinsic headers (masked ops with undefined src).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace datanode::ops::cpu {
namespace {

constexpr int kRn = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
constexpr unsigned kMxcsrFtz = 1u << 15;
constexpr unsigned kMxcsrDaz = 1u << 6;

// 2^e for e in [-1022, 1023], per 64-bit lane.
inline __m512d Pow2(__m512i e) {
  return _mm512_castsi512_pd(_mm512_slli_epi64(_mm512_add_epi64(e, _mm512_set1_epi64(1023)), 52));
}

// Rounds 8 lanes: isum (int32) times the exact scale product p (double).
inline __m256i Round8(__m256i isum, __m512d p) {
  const __m512d x = _mm512_cvtepi32_pd(isum);
  const __m512d hi = _mm512_mul_round_pd(p, x, kRn);
  const __m512d lo = _mm512_fmsub_round_pd(p, x, hi, kRn);  // p * x - hi, exact
  const __m512i hi_bits = _mm512_castpd_si512(hi);
  const __m512d zero = _mm512_setzero_pd();
  const __mmask8 inexact = _mm512_cmp_pd_mask(lo, zero, _CMP_NEQ_OQ);
  const __mmask8 even = _mm512_testn_epi64_mask(hi_bits, _mm512_set1_epi64(1));
  // lo and hi of the same sign: the exact value is further from zero than hi (+1 in
  // magnitude, i.e. +1 on the bit pattern); otherwise nearer (-1).
  const __mmask8 same_sign = _mm512_cmp_pd_mask(_mm512_mul_pd(hi, lo), zero, _CMP_GT_OQ);
  const __m512i step =
      _mm512_mask_blend_epi64(same_sign, _mm512_set1_epi64(-1), _mm512_set1_epi64(1));
  const __m512i odd_bits = _mm512_mask_add_epi64(hi_bits, inexact & even, hi_bits, step);
  const __m256 f = _mm512_cvt_roundpd_ps(_mm512_castsi512_pd(odd_bits), kRn);
  // Exact zero -> +0.0 (hi == 0 exactly when p * x == 0, since nothing underflows).
  const __mmask8 is_zero = _mm512_cmp_pd_mask(hi, zero, _CMP_EQ_OQ);
  return _mm256_mask_blend_epi32(is_zero, _mm256_castps_si256(f), _mm256_setzero_si256());
}

}  // namespace

bool CanRoundTileAvx512() { return (_mm_getcsr() & (kMxcsrFtz | kMxcsrDaz)) == 0; }

int RoundTileToF32Avx512(uint8_t* c, int64_t n, int rows, int cols, const S8Scale* row_scales,
                         const S8Scale* col_scales) {
  const int vector_cols = cols - cols % 8;
  for (int r = 0; r < rows; ++r) {
    const S8Scale sa = row_scales[r];
    uint8_t* row = c + r * n * 4;
    const __m512i ma = _mm512_set1_epi64(sa.mantissa);
    const __m512i ea = _mm512_set1_epi64(sa.exponent);
    for (int j = 0; j < vector_cols; j += 8) {
      // col_scales[j..j+8): interleaved {mantissa, exponent} int32 pairs = 8 x 64 bits.
      const __m512i pairs = _mm512_loadu_si512(col_scales + j);
      const __m512i mw = _mm512_srai_epi64(_mm512_slli_epi64(pairs, 32), 32);  // low halves
      const __m512i ew = _mm512_srai_epi64(pairs, 32);                         // high halves
      const __m512i mprod = _mm512_mul_epi32(ma, mw);  // |ma * mw| < 2^48, exact
      const __m512d p = _mm512_mul_pd(_mm512_cvtepi64_pd(mprod), Pow2(_mm512_add_epi64(ea, ew)));
      const __m256i isum = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + j * 4));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(row + j * 4), Round8(isum, p));
    }
  }
  return vector_cols;
}

}  // namespace datanode::ops::cpu

#pragma GCC pop_options
