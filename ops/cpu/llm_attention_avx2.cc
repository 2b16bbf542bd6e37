// Copyright 2026 The datanode Authors.
//
// AVX2 inner loops of attention (see llm_attention.cc for why the double sums are
// exact): 8 f16 values per step (vcvtph2ps, F16C), f32 products, two 4-lane doubles.
#include <immintrin.h>

#include <cmath>

#include "ops/cpu/llm_kernels.h"

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
