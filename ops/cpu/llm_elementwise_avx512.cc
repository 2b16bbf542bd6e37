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
