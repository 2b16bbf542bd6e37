// Copyright 2026 The datanode Authors.
//
// AVX-512 parts of the elementwise LLM ops. The final rounding round_f32(A * B * 2^E),
// A an exact double (a product of two f32: 48 bits), B an integer below 2^33, uses
// round-to-odd: p = RN(A * B) and err = fma(A, B, -p) (exact); if err != 0, p is moved to
// the neighbour towards zero when it was rounded away, and its last bit set. A 53-bit
// round-to-odd value rounds to any format of <= 51 bits (f32, subnormals included)
// exactly as the exact value does; scaling by 2^E is exact while the double stays
// normal, and below the double range the f32 result is a signed zero either way. An
// exact zero product is +0 (spec §5). Needs the default float environment (round to
// nearest, no FTZ / DAZ): callers check DefaultFloatEnv().
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "ops/cpu/llm_kernels.h"
#include "ops/reference/fixed_point.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,f16c,fma")

namespace datanode::ops::cpu::llm_kernels {
namespace {

// 8 results of round_f32(a * b * scale) (see above); a, b, scale doubles.
inline __m256 RoundProduct8(__m512d a, __m512d b, __m512d scale) {
  const __m512d p = _mm512_mul_pd(a, b);
  const __m512d err = _mm512_fmsub_pd(a, b, p);
  const __m512i pbits = _mm512_castpd_si512(p);
  const __m512i ebits = _mm512_castpd_si512(err);
  const __mmask8 inexact = _mm512_cmp_pd_mask(err, _mm512_setzero_pd(), _CMP_NEQ_OQ);
  // Rounded away from zero: err's sign differs from p's.
  const __mmask8 away =
      inexact & _mm512_cmplt_epi64_mask(_mm512_xor_si512(pbits, ebits), _mm512_setzero_si512());
  __m512i odd = _mm512_mask_sub_epi64(pbits, away, pbits, _mm512_set1_epi64(1));
  odd = _mm512_mask_or_epi64(odd, inexact, odd, _mm512_set1_epi64(1));
  const __m512d q = _mm512_mul_pd(_mm512_castsi512_pd(odd), scale);
  __m256 f = _mm512_cvtpd_ps(q);
  // An exact zero (a == 0) is +0.
  const __mmask8 zero = _mm512_cmp_pd_mask(a, _mm512_setzero_pd(), _CMP_EQ_OQ);
  return _mm256_mask_mov_ps(f, zero, _mm256_setzero_ps());
}

inline __m512d ExactProduct8(const float* x, const float* y, __mmask8 m) {
  return _mm512_mul_pd(_mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, x)),
                       _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, y)));
}

inline __mmask8 TailMask(size_t left) {
  return left >= 8 ? __mmask8(0xFF) : static_cast<__mmask8>((1u << left) - 1);
}

}  // namespace

void RmsNormScaleAvx512(const float* x, const float* g, uint64_t r, int exp, float* out,
                        size_t n) {
  const __m512d rv = _mm512_set1_pd(static_cast<double>(r));  // r <= 2^32: exact
  const __m512d scale = _mm512_set1_pd(Pow2(exp));
  for (size_t i = 0; i < n; i += 8) {
    const __mmask8 m = TailMask(n - i);
    _mm256_mask_storeu_ps(out + i, m, RoundProduct8(ExactProduct8(x + i, g + i, m), rv, scale));
  }
}

void SiluRoundAvx512(const float* g, const float* u, const uint64_t* sigma, const int* sigma_exp,
                     float* out, size_t n) {
  for (size_t i = 0; i < n; i += 8) {
    const __mmask8 m = TailMask(n - i);
    const __m512d s = _mm512_cvtepu64_pd(_mm512_maskz_loadu_epi64(m, sigma + i));  // < 2^33: exact
    // 2^e as double bits ((e + 1023) << 52); e is clamped to [-1000, 1000] by the caller.
    const __m512i e = _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(m, sigma_exp + i));
    const __m512d scale = _mm512_castsi512_pd(
        _mm512_slli_epi64(_mm512_add_epi64(e, _mm512_set1_epi64(1023)), 52));
    _mm256_mask_storeu_ps(out + i, m, RoundProduct8(ExactProduct8(g + i, u + i, m), s, scale));
  }
}

// The whole of SiluMul (spec §8.8) on 8 lanes: decoding, ExpNeg (§8.2) in 64-bit lanes
// (the products of the §8.2 steps have factors < 2^32 except p = m * kLog2eQ38 < 2^63,
// vpmullq), sigma by a double quotient with an exact integer correction (num = 2^61 or
// E * 2^31 is exact in a double, den < 2^31 too, so the rounded quotient is at most one
// above the floor), and the round-to-odd final rounding.
void SiluMulAvx512(const float* gate, const float* up, float* out, size_t n) {
  namespace fixed = ops::llm::fixed;
  const __m512i zero = _mm512_setzero_si512();
  const __m512i cap = _mm512_set1_epi64(int64_t{1} << 42);
  const __m512i table_lo = _mm512_loadu_si512(fixed::kExp2TableQ30);
  const __m512i table_hi = _mm512_loadu_si512(fixed::kExp2TableQ30 + 8);
  const __m512i one30 = _mm512_set1_epi64(int64_t{1} << 30);
  const __m512i mask26 = _mm512_set1_epi64((int64_t{1} << 26) - 1);
  const __m512i mask30 = _mm512_set1_epi64((int64_t{1} << 30) - 1);
  const __m512i ln2 = _mm512_set1_epi64(fixed::kLn2Q30);
  const __m512i m5 = _mm512_set1_epi64(0xCCCCCCCDll), m3 = _mm512_set1_epi64(0xAAAAAAABll);
  const __m512i emax = _mm512_set1_epi64((int64_t{1} << 31) - 1);
  for (size_t i = 0; i < n; i += 8) {
    const __mmask8 m = TailMask(n - i);
    const __m512i bits = _mm512_cvtepu32_epi64(_mm256_maskz_loadu_epi32(m, gate + i));
    const __m512i biased = _mm512_and_si512(_mm512_srli_epi64(bits, 23), _mm512_set1_epi64(0xFF));
    const __mmask8 normal = _mm512_cmpneq_epi64_mask(biased, zero);
    const __m512i mant = _mm512_mask_or_epi64(_mm512_and_si512(bits, _mm512_set1_epi64(0x7FFFFF)),
                                              normal, _mm512_and_si512(bits, _mm512_set1_epi64(0x7FFFFF)),
                                              _mm512_set1_epi64(0x800000));
    const __m512i e = _mm512_mask_sub_epi64(_mm512_set1_epi64(-149), normal, biased,
                                            _mm512_set1_epi64(150));
    const __mmask8 negative = _mm512_test_epi64_mask(bits, _mm512_set1_epi64(0x80000000ll));
    // y = Log2eTimesQ30(|g|).
    const __m512i p = _mm512_mullo_epi64(mant, _mm512_set1_epi64(fixed::kLog2eQ38));
    const __m512i shift = _mm512_sub_epi64(e, _mm512_set1_epi64(8));
    const __mmask8 up_shift = _mm512_cmpge_epi64_mask(shift, zero);
    // shift >= 0: cap if shift >= 42 or p >= cap >> shift, else p << shift.
    const __mmask8 capped =
        _mm512_cmpge_epi64_mask(shift, _mm512_set1_epi64(42)) |
        _mm512_cmpge_epi64_mask(p, _mm512_srlv_epi64(cap, _mm512_max_epi64(shift, zero)));
    __m512i y_left = _mm512_mask_mov_epi64(_mm512_sllv_epi64(p, _mm512_max_epi64(shift, zero)),
                                           capped, cap);
    // shift < 0: min(p >> -shift, cap) (0 for -shift >= 64, as vpsrlvq gives).
    const __m512i y_right =
        _mm512_min_epi64(_mm512_srlv_epi64(p, _mm512_sub_epi64(zero, shift)), cap);
    __m512i y = _mm512_mask_blend_epi64(up_shift, y_right, y_left);
    y = _mm512_maskz_mov_epi64(_mm512_cmpneq_epi64_mask(mant, zero), y);
    // (E, k) = Exp2NegQ30(y).
    const __m512i neg = _mm512_sub_epi64(zero, y);
    const __m512i k = _mm512_srai_epi64(neg, 30);
    const __m512i f = _mm512_and_si512(neg, mask30);
    const __m512i j = _mm512_srli_epi64(f, 26);
    const __m512i z = _mm512_srli_epi64(_mm512_mul_epu32(_mm512_and_si512(f, mask26), ln2), 30);
    __m512i pv = one30;
    __m512i t = _mm512_srli_epi64(_mm512_mul_epu32(z, pv), 30);
    pv = _mm512_add_epi64(one30, _mm512_srli_epi64(_mm512_mul_epu32(t, m5), 34));
    t = _mm512_srli_epi64(_mm512_mul_epu32(z, pv), 30);
    pv = _mm512_add_epi64(one30, _mm512_srli_epi64(t, 2));
    t = _mm512_srli_epi64(_mm512_mul_epu32(z, pv), 30);
    pv = _mm512_add_epi64(one30, _mm512_srli_epi64(_mm512_mul_epu32(t, m3), 33));
    t = _mm512_srli_epi64(_mm512_mul_epu32(z, pv), 30);
    pv = _mm512_add_epi64(one30, _mm512_srli_epi64(t, 1));
    t = _mm512_srli_epi64(_mm512_mul_epu32(z, pv), 30);
    pv = _mm512_add_epi64(one30, t);
    const __m512i tab = _mm512_permutex2var_epi64(table_lo, j, table_hi);
    const __m512i big_e = _mm512_min_epi64(_mm512_srli_epi64(_mm512_mul_epu32(tab, pv), 30), emax);
    // den = 2^30 + (E >> -k) (0 for -k >= 31 since E < 2^31).
    const __m512i den = _mm512_add_epi64(one30, _mm512_srlv_epi64(big_e, _mm512_sub_epi64(zero, k)));
    const __m512i num = _mm512_mask_blend_epi64(negative, _mm512_set1_epi64(int64_t{1} << 61),
                                                _mm512_slli_epi64(big_e, 31));
    const __m512d qd = _mm512_div_pd(_mm512_cvtepi64_pd(num), _mm512_cvtepi64_pd(den));
    __m512i sigma = _mm512_cvttpd_epi64(qd);
    const __m512i r = _mm512_sub_epi64(num, _mm512_mullo_epi64(sigma, den));
    sigma = _mm512_mask_sub_epi64(sigma, _mm512_cmplt_epi64_mask(r, zero), sigma,
                                  _mm512_set1_epi64(1));
    sigma = _mm512_mask_add_epi64(sigma, _mm512_cmpge_epi64_mask(r, den), sigma,
                                  _mm512_set1_epi64(1));
    const __m512i sigma_exp = _mm512_mask_blend_epi64(
        negative, _mm512_set1_epi64(-31),
        _mm512_max_epi64(_mm512_sub_epi64(k, _mm512_set1_epi64(31)), _mm512_set1_epi64(-1000)));
    const __m512d scale = _mm512_castsi512_pd(
        _mm512_slli_epi64(_mm512_add_epi64(sigma_exp, _mm512_set1_epi64(1023)), 52));
    _mm256_mask_storeu_ps(out + i, m,
                          RoundProduct8(ExactProduct8(gate + i, up + i, m),
                                        _mm512_cvtepi64_pd(sigma), scale));
  }
}

void AddAvx512(const float* x, const float* y, float* out, size_t n) {
  for (size_t i = 0; i < n; i += 16) {
    const size_t left = n - i;
    const __mmask16 m = left >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
    const __m512 s = _mm512_add_ps(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i));
    // IEEE addition is the exact sum rounded once; only -0 (from -0 + -0) becomes +0.
    const __m512i bits = _mm512_castps_si512(s);
    const __mmask16 negzero = _mm512_cmpeq_epi32_mask(bits, _mm512_set1_epi32(INT32_MIN));
    _mm512_mask_storeu_ps(out + i, m, _mm512_mask_mov_ps(s, negzero, _mm512_setzero_ps()));
  }
}

}  // namespace datanode::ops::cpu::llm_kernels

#pragma GCC pop_options
