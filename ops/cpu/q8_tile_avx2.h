// Copyright 2026 The datanode Authors.
//
// AVX2 pieces of a panel tile that the Q8_0-family kernel (matmul_q8_avx2.cc) and the K-quant
// kernel (matmul_kq_avx2.cc) share: the f16 scale decode, the per-column decode bases and the
// fast path's output rounding. Lanes are output columns, a 16-column panel is two ymm halves.
// Each function carries the kernels' target attribute (so it inlines into their tiles, which
// are compiled under the same `#pragma GCC target`) and lives in q8::avx2 alone.
#ifndef DATANODE_OPS_CPU_Q8_TILE_AVX2_H_
#define DATANODE_OPS_CPU_Q8_TILE_AVX2_H_

#include <immintrin.h>

#include <cstdint>

#include "ops/cpu/q8_common.h"

namespace datanode::ops::cpu::q8::avx2 {

// The decode bases of a panel's two halves: e0 + 25 per column (see DecodeScales).
inline __attribute__((target("avx2"))) void ColumnBases(const int32_t* col_exp,
                                                        __m256i (&base)[2]) {
#pragma GCC unroll 2
  for (int h = 0; h < 2; ++h) {
    base[h] = _mm256_add_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(col_exp + 8 * h)),
                               _mm256_set1_epi32(25));
  }
}

// mw' = mantissa << (exponent - e0) of 8 columns from their f16 bits (q8::DecodeScale's
// integer decode); base = e0 + 25 per column (ColumnBases).
inline __attribute__((target("avx2"))) __m256i DecodeScales(const uint16_t* raw, __m256i base) {
  const __m256i one = _mm256_set1_epi32(1);
  const __m256i x = _mm256_cvtepu16_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(raw)));
  const __m256i e = _mm256_and_si256(_mm256_srli_epi32(x, 10), _mm256_set1_epi32(0x1F));
  __m256i mant = _mm256_or_si256(_mm256_and_si256(x, _mm256_set1_epi32(0x3FF)),
                                 _mm256_slli_epi32(_mm256_min_epi32(e, one), 10));
  mant = _mm256_sllv_epi32(mant, _mm256_sub_epi32(_mm256_max_epi32(e, one), base));
  // vpsignd negates where the f16 sign bit (moved to bit 31) is set; the | 1 keeps it nonzero.
  return _mm256_sign_epi32(mant, _mm256_or_si256(_mm256_slli_epi32(x, 16), one));
}

// Stores columns [0, valid) of one output row of a panel from the fast path's int64 sums:
// acc_e[h] / acc_o[h] hold the even / odd columns of half h; column c is rounded at
// 2^(row_exp + col_exp[c]) (RoundI64ToF32Bits).
inline __attribute__((target("avx2"))) void StoreFastRow(const __m256i (&acc_e)[2],
                                                         const __m256i (&acc_o)[2], int32_t row_exp,
                                                         const int32_t* col_exp, int64_t valid,
                                                         uint8_t* out) {
  alignas(32) int64_t ev[2][4];
  alignas(32) int64_t od[2][4];
#pragma GCC unroll 2
  for (int h = 0; h < 2; ++h) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(ev[h]), acc_e[h]);
    _mm256_store_si256(reinterpret_cast<__m256i*>(od[h]), acc_o[h]);
  }
  for (int64_t c = 0; c < valid; ++c) {
    const int h = static_cast<int>(c / 8);
    const int lane = static_cast<int>(c % 8) / 2;
    const int64_t v = (c % 2 == 0) ? ev[h][lane] : od[h][lane];
    StoreU32(out + c * 4, RoundI64ToF32Bits(v, row_exp + col_exp[c]));
  }
}

// The exact values of columns [0, valid) of one output row from the fast path's int64 sums
// (lanes as in StoreFastRow), at `exact`: q8::StoreFastExactSums.
inline __attribute__((target("avx2"))) void StoreFastExactSums(const __m256i (&acc_e)[2],
                                                               const __m256i (&acc_o)[2],
                                                               int32_t row_exp,
                                                               const int32_t* col_exp,
                                                               int64_t valid, uint8_t* exact) {
  alignas(32) int64_t ev[2][4];
  alignas(32) int64_t od[2][4];
#pragma GCC unroll 2
  for (int h = 0; h < 2; ++h) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(ev[h]), acc_e[h]);
    _mm256_store_si256(reinterpret_cast<__m256i*>(od[h]), acc_o[h]);
  }
  int64_t acc[kPanelCols];
  for (int c = 0; c < kPanelCols; ++c) {
    acc[c] = (c % 2 == 0) ? ev[c / 8][(c % 8) / 2] : od[c / 8][(c % 8) / 2];
  }
  q8::StoreFastExactSums(acc, row_exp, col_exp, valid, exact);
}

}  // namespace datanode::ops::cpu::q8::avx2

#endif  // DATANODE_OPS_CPU_Q8_TILE_AVX2_H_
