// Copyright 2026 The datanode Authors.
//
// AVX2 parts of the elementwise LLM ops: the same round-to-odd rounding as
// llm_elementwise_avx512.cc (see there why it is exact), 4 doubles per step; the tail
// (n % 4) is left to the caller's scalar path (the return value is the count done).
#include <immintrin.h>

#include <cstdint>

#include "ops/cpu/llm_kernels.h"

#pragma GCC push_options
#pragma GCC target("avx2,f16c,fma")

namespace datanode::ops::cpu::llm_kernels {
namespace {

// round_f32(x * y * b * scale) for 4 lanes; x * y is exact in double.
inline __m128 RoundProduct4(__m128 x, __m128 y, __m256d b, __m256d scale) {
  const __m256d a = _mm256_mul_pd(_mm256_cvtps_pd(x), _mm256_cvtps_pd(y));
  const __m256d p = _mm256_mul_pd(a, b);
  const __m256d err = _mm256_fmsub_pd(a, b, p);
  const __m256i pbits = _mm256_castpd_si256(p);
  const __m256i inexact = _mm256_castpd_si256(_mm256_cmp_pd(err, _mm256_setzero_pd(), _CMP_NEQ_OQ));
  // Sign of (p xor err) as an all-ones mask: rounded away from zero.
  const __m256i opposite = _mm256_cmpgt_epi64(
      _mm256_setzero_si256(), _mm256_xor_si256(pbits, _mm256_castpd_si256(err)));
  const __m256i away = _mm256_and_si256(inexact, opposite);
  __m256i odd = _mm256_add_epi64(pbits, away);  // away lanes: -1
  odd = _mm256_or_si256(odd, _mm256_and_si256(inexact, _mm256_set1_epi64x(1)));
  const __m128 f = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_castsi256_pd(odd), scale));
  // An exact zero (x == 0 or y == 0) is +0.
  const __m128 zero = _mm_or_ps(_mm_cmpeq_ps(x, _mm_setzero_ps()), _mm_cmpeq_ps(y, _mm_setzero_ps()));
  return _mm_andnot_ps(zero, f);
}

}  // namespace

size_t RmsNormScaleAvx2(const float* x, const float* g, uint64_t r, int exp, float* out,
                        size_t n) {
  const __m256d rv = _mm256_set1_pd(static_cast<double>(r));
  const __m256d scale = _mm256_set1_pd(Pow2(exp));
  size_t i = 0;
  for (; i + 4 <= n; i += 4) _mm_storeu_ps(out + i, RoundProduct4(_mm_loadu_ps(x + i), _mm_loadu_ps(g + i), rv, scale));
  return i;
}

size_t SiluRoundAvx2(const float* g, const float* u, const uint64_t* sigma, const int* sigma_exp,
                     float* out, size_t n) {
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m256d s = _mm256_setr_pd(static_cast<double>(sigma[i]), static_cast<double>(sigma[i + 1]),
                                     static_cast<double>(sigma[i + 2]), static_cast<double>(sigma[i + 3]));
    const __m256d scale = _mm256_setr_pd(Pow2(sigma_exp[i]), Pow2(sigma_exp[i + 1]),
                                         Pow2(sigma_exp[i + 2]), Pow2(sigma_exp[i + 3]));
    _mm_storeu_ps(out + i, RoundProduct4(_mm_loadu_ps(g + i), _mm_loadu_ps(u + i), s, scale));
  }
  return i;
}

size_t AddAvx2(const float* x, const float* y, float* out, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 s = _mm256_add_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i));
    const __m256i negzero =
        _mm256_cmpeq_epi32(_mm256_castps_si256(s), _mm256_set1_epi32(INT32_MIN));
    _mm256_storeu_ps(out + i, _mm256_andnot_ps(_mm256_castsi256_ps(negzero), s));
  }
  return i;
}

}  // namespace datanode::ops::cpu::llm_kernels

#pragma GCC pop_options
