// Copyright 2026 The datanode Authors.
//
// AVX2 micro-kernel of the s8 GEMM: up to 4 rows x 16 columns per pass (8 ymm
// accumulators), four passes per 64-column W panel.
//
// vpmaddubsw multiplies u8 x s8 and adds adjacent pairs into int16 WITH saturation.
// The sign trick keeps it exact: for a k-group, broadcast a = A[r, 4g..4g+3] (s8),
// use |a| as the u8 operand and sign(W, a) (W negated where a < 0, zeroed where
// a == 0) as the s8 operand, so each product |a| * sign(W, a) = a * W. Operands are
// in [-127, 127] (spec; -128 is rejected by validation), so |a| <= 127, the negation
// of W never overflows, and a pair sum is at most 2 * 127 * 127 = 32258 < 32767: no
// saturation ever happens. vpmaddwd with ones then adds the two pairs into int32
// (exact), and vpaddd accumulates with wrap-around. The true partial sums fit int32
// (|sum| <= 127^2 * 131071 < 2^31), so nothing wraps at all.
#include "ops/cpu/s8_kernels.h"

#if defined(__x86_64__)

#include <immintrin.h>

#include <cstring>

#pragma GCC push_options
#pragma GCC target("avx2")

namespace datanode::ops::cpu {
namespace {

constexpr int kMr = 4;

template <int R>
void TileAvx2(const S8TileArgs& t) {
  const __m256i ones = _mm256_set1_epi16(1);
  for (int c0 = 0; c0 < t.cols; c0 += 16) {
    __m256i acc[R][2];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      acc[r][0] = _mm256_setzero_si256();
      acc[r][1] = _mm256_setzero_si256();
    }
    const uint8_t* a = t.a;
    const uint8_t* w = t.w + c0 * 4;
    for (int64_t g = 0; g < t.kgroups; ++g) {
      const __m256i w0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(w));
      const __m256i w1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + 32));
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        int32_t a4;
        std::memcpy(&a4, a + 4 * r, 4);
        const __m256i ar = _mm256_set1_epi32(a4);
        const __m256i abs_a = _mm256_abs_epi8(ar);
        const __m256i p0 = _mm256_maddubs_epi16(abs_a, _mm256_sign_epi8(w0, ar));
        const __m256i p1 = _mm256_maddubs_epi16(abs_a, _mm256_sign_epi8(w1, ar));
        acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(p0, ones));
        acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(p1, ones));
      }
      a += 4 * R;
      w += 256;
    }
    const int valid = t.cols - c0 < 16 ? t.cols - c0 : 16;
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      uint8_t* c = t.c + (r * t.ldc + c0) * 4;
      if (valid == 16) {
        __m256i v0 = acc[r][0];
        __m256i v1 = acc[r][1];
        if (t.accumulate) {
          v0 = _mm256_add_epi32(v0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c)));
          v1 = _mm256_add_epi32(v1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + 32)));
        }
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(c), v0);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + 32), v1);
      } else {
        alignas(32) int32_t tmp[16];
        _mm256_store_si256(reinterpret_cast<__m256i*>(tmp), acc[r][0]);
        _mm256_store_si256(reinterpret_cast<__m256i*>(tmp + 8), acc[r][1]);
        for (int i = 0; i < valid; ++i) {
          uint32_t v = static_cast<uint32_t>(tmp[i]);
          if (t.accumulate) {
            uint32_t old;
            std::memcpy(&old, c + 4 * i, 4);
            v += old;
          }
          std::memcpy(c + 4 * i, &v, 4);
        }
      }
    }
  }
}

}  // namespace

const S8KernelSet& S8KernelsAvx2() {
  static const S8KernelSet kSet = {
      Isa::kAvx2,
      kMr,
      /*a_to_u8=*/false,
      {nullptr, TileAvx2<1>, TileAvx2<2>, TileAvx2<3>, TileAvx2<4>},
      {nullptr, TileAvx2<1>, TileAvx2<2>, TileAvx2<3>, TileAvx2<4>},
  };
  return kSet;
}

}  // namespace datanode::ops::cpu

#pragma GCC pop_options

#else  // !__x86_64__

namespace datanode::ops::cpu {
const S8KernelSet& S8KernelsAvx2() { return S8KernelsPortable(); }
}  // namespace datanode::ops::cpu

#endif
