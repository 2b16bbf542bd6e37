// Copyright 2026 The datanode Authors.
//
// AVX2 inner loops of attention (see llm_attention.cc for why the double sums are
// exact): 8 f16 values per step (vcvtph2ps, F16C), f32 products, two 4-lane doubles.
#include <immintrin.h>

#include <cmath>

#include "ops/cpu/llm_kernels.h"
#include "ops/reference/fixed_point.h"

#pragma GCC push_options
#pragma GCC target("avx2,f16c,fma")

namespace datanode::ops::cpu::llm_kernels {
namespace {

inline void Split(__m256d x, __m256d& ints, __m256d& fracs) {
  const __m256d f = _mm256_floor_pd(x);
  ints = _mm256_add_pd(ints, f);
  fracs = _mm256_add_pd(fracs, _mm256_sub_pd(x, f));
}

inline __m256 LoadF16x8(const uint8_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

inline double Sum(__m256d v) {
  alignas(32) double d[4];
  _mm256_store_pd(d, v);
  return (d[0] + d[1]) + (d[2] + d[3]);  // exact: integers / 2^-40 multiples below 2^53
}

}  // namespace

// Spec §8.2 on 4 lanes; the same bounds as WeightsAvx512 (every vpmuludq factor < 2^32,
// exact magic divisions by 5 and 3 of t < 2^27).
void WeightsAvx2(const int64_t* y, int64_t n, int64_t* w) {
  namespace fixed = ops::llm::fixed;
  const __m256i one30 = _mm256_set1_epi64x(int64_t{1} << 30);
  const __m256i mask26 = _mm256_set1_epi64x((int64_t{1} << 26) - 1);
  const __m256i mask30 = _mm256_set1_epi64x((int64_t{1} << 30) - 1);
  const __m256i ln2 = _mm256_set1_epi64x(fixed::kLn2Q30);
  const __m256i m5 = _mm256_set1_epi64x(0xCCCCCCCDll), m3 = _mm256_set1_epi64x(0xAAAAAAABll);
  const __m256i emax = _mm256_set1_epi64x((int64_t{1} << 31) - 1);
  const __m256i ten = _mm256_set1_epi64x(10);
  int64_t p = 0;
  for (; p + 4 <= n; p += 4) {
    const __m256i yv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + p));
    // y <= 2^42: k = -ceil(y / 2^30) = -((y + 2^30 - 1) >> 30), f = (-y) mod 2^30.
    const __m256i ky = _mm256_srli_epi64(_mm256_add_epi64(yv, mask30), 30);  // -k
    const __m256i f = _mm256_and_si256(_mm256_sub_epi64(_mm256_setzero_si256(), yv), mask30);
    const __m256i j = _mm256_srli_epi64(f, 26);
    const __m256i z = _mm256_srli_epi64(_mm256_mul_epu32(_mm256_and_si256(f, mask26), ln2), 30);
    __m256i pv = one30;
    __m256i t = _mm256_srli_epi64(_mm256_mul_epu32(z, pv), 30);
    pv = _mm256_add_epi64(one30, _mm256_srli_epi64(_mm256_mul_epu32(t, m5), 34));
    t = _mm256_srli_epi64(_mm256_mul_epu32(z, pv), 30);
    pv = _mm256_add_epi64(one30, _mm256_srli_epi64(t, 2));
    t = _mm256_srli_epi64(_mm256_mul_epu32(z, pv), 30);
    pv = _mm256_add_epi64(one30, _mm256_srli_epi64(_mm256_mul_epu32(t, m3), 33));
    t = _mm256_srli_epi64(_mm256_mul_epu32(z, pv), 30);
    pv = _mm256_add_epi64(one30, _mm256_srli_epi64(t, 1));
    t = _mm256_srli_epi64(_mm256_mul_epu32(z, pv), 30);
    pv = _mm256_add_epi64(one30, t);
    const __m256i tab = _mm256_i64gather_epi64(
        reinterpret_cast<const long long*>(fixed::kExp2TableQ30), j, 8);
    __m256i e = _mm256_srli_epi64(_mm256_mul_epu32(tab, pv), 30);
    // min(e, 2^31 - 1): e < 2^32, so a signed compare is safe.
    e = _mm256_blendv_epi8(e, emax, _mm256_cmpgt_epi64(e, emax));
    // shift = 10 - (-k): left by 10 - ky when ky <= 10, else right by ky - 10 (< 64 here:
    // lanes with y > 40 * 2^30 are zeroed below). Out-of-range counts give 0 (vpsllvq).
    const __m256i left = _mm256_sllv_epi64(e, _mm256_sub_epi64(ten, ky));
    const __m256i right = _mm256_srlv_epi64(e, _mm256_sub_epi64(ky, ten));
    const __m256i use_left = _mm256_cmpgt_epi64(_mm256_add_epi64(ten, _mm256_set1_epi64x(1)), ky);
    __m256i wv = _mm256_blendv_epi8(right, left, use_left);
    const __m256i zero = _mm256_cmpgt_epi64(yv, _mm256_set1_epi64x(kZeroWeightY));
    wv = _mm256_andnot_si256(zero, wv);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(w + p), wv);
  }
  for (; p < n; ++p) w[p] = y[p] > kZeroWeightY ? 0 : fixed::WeightQ40(fixed::Exp2NegQ30(y[p]));
}

bool DotsAvx2(const float* q8, const uint8_t* k, int64_t stride, int hd, int64_t n,
              int128* dots) {
  for (int64_t p = 0; p < n; ++p) {
    const uint8_t* row = k + p * stride;
    __m256d ints = _mm256_setzero_pd(), fracs = _mm256_setzero_pd();
    for (int c = 0; c < hd / 8; ++c) {
      const __m256 t = _mm256_mul_ps(_mm256_loadu_ps(q8 + 8 * c), LoadF16x8(row + 16 * c));
      Split(_mm256_cvtps_pd(_mm256_castps256_ps128(t)), ints, fracs);
      Split(_mm256_cvtps_pd(_mm256_extractf128_ps(t, 1)), ints, fracs);
    }
    const double si = Sum(ints), sf = Sum(fracs);
    if (!std::isfinite(si) || !std::isfinite(sf)) return false;
    dots[p] = (int128{static_cast<int64_t>(si)} << 40) + static_cast<int64_t>(sf * 0x1p40);
  }
  return true;
}

bool WeightedVAvx2(const int64_t* w, const uint8_t* v, int64_t stride, int hd, int64_t n,
                   int128* acc) {
  __m256d ints[128], fracs[128];  // hd / 4 <= 128 lanes of 4
  const int chunks = hd / 8;
  for (int64_t p0 = 0; p0 < n; p0 += kVBlock) {
    const int64_t p1 = n < p0 + kVBlock ? n : p0 + kVBlock;
    for (int c = 0; c < 2 * chunks; ++c) ints[c] = fracs[c] = _mm256_setzero_pd();
    for (int64_t p = p0; p < p1; ++p) {
      const __m256d ws = _mm256_set1_pd(static_cast<double>(w[p]) * 0x1p-16);
      const uint8_t* row = v + p * stride;
      for (int c = 0; c < chunks; ++c) {
        const __m256 x = LoadF16x8(row + 16 * c);
        Split(_mm256_mul_pd(ws, _mm256_cvtps_pd(_mm256_castps256_ps128(x))), ints[2 * c],
              fracs[2 * c]);
        Split(_mm256_mul_pd(ws, _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1))), ints[2 * c + 1],
              fracs[2 * c + 1]);
      }
    }
    for (int c = 0; c < 2 * chunks; ++c) {
      alignas(32) double si[4], sf[4];
      _mm256_store_pd(si, ints[c]);
      _mm256_store_pd(sf, fracs[c]);
      for (int l = 0; l < 4; ++l) {
        if (!std::isfinite(si[l]) || !std::isfinite(sf[l])) return false;
        acc[4 * c + l] +=
            (int128{static_cast<int64_t>(si[l])} << 40) + static_cast<int64_t>(sf[l] * 0x1p40);
      }
    }
  }
  return true;
}

}  // namespace datanode::ops::cpu::llm_kernels

#pragma GCC pop_options
