// Copyright 2026 The datanode Authors.
//
// AVX-512 pieces of a panel tile that the Q8_0-family kernel (matmul_q8_avx512.cc) and the
// K-quant kernels (matmul_kq_avx512.cc, matmul_kq_q6_avx512.cc) share: the f16 scale decode,
// the int64 multiply-accumulate and the fast path's output conversion. 16 output columns per
// zmm. Each function carries the kernels' target attribute (so it inlines into their tiles,
// compiled under the same `#pragma GCC target`) and lives in q8::avx512 alone.
//
// Exactness: vcvtph2ps is exact (every f16 is a normal f32), the product by 2^-e0 is an exact
// power-of-two scaling to the integer mw' < 2^31 (fast-path columns), and vcvttps2dq of an
// integer-valued f32 is exact. The output converts each int64 with vcvtqq2ps under an explicit
// round-to-nearest-even (the one rounding) and scales by 2^(ea0 + e0) exactly: every nonzero
// result lies in [2^-48, 2^73), far inside the normal range, so the power-of-two product is
// exact and MXCSR (rounding mode, FTZ/DAZ) cannot matter.
#ifndef DATANODE_OPS_CPU_Q8_TILE_AVX512_H_
#define DATANODE_OPS_CPU_Q8_TILE_AVX512_H_

#include <immintrin.h>

#include <cstdint>

#include "ops/cpu/q8_common.h"

// GCC 12's _mm512_undefined_epi32() (inside _mm512_srli_epi64 etc.) self-initializes on
// purpose and trips -W(maybe-)uninitialized; no value of ours is uninitialized.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace datanode::ops::cpu::q8::avx512 {

// 2^-e0 per column of a panel (e0 in [-24, 5]: a normal f32), DecodeScales' `inv`.
inline __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni"))) __m512
InverseColumnScales(const int32_t* col_exp) {
  return _mm512_castsi512_ps(
      _mm512_slli_epi32(_mm512_sub_epi32(_mm512_set1_epi32(127), _mm512_load_si512(col_exp)), 23));
}

// mw' = mantissa << (exponent - e0) of 16 columns from their f16 bits (exact, see above).
inline __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni"))) __m512i
DecodeScales(const uint16_t* raw, __m512 inv) {
  const __m512 d = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(raw)));
  return _mm512_cvttps_epi32(_mm512_mul_ps(d, inv));
}

// Even / odd int64 lanes of 16 int64 sums (lane l: column 2 l / 2 l + 1).
struct Acc64 {
  __m512i e, o;
};

// acc += prod * f per column in int64 lanes: prod's even / odd int32 lanes times the factor
// in the low half of each int64 lane of f (vpmuldq: exact, 32 x 32 -> 64 bits signed).
inline __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni"))) void MulAdd(
    __m512i prod, __m512i f, Acc64* acc) {
  acc->e = _mm512_add_epi64(acc->e, _mm512_mul_epi32(prod, f));
  acc->o = _mm512_add_epi64(acc->o, _mm512_mul_epi32(_mm512_srli_epi64(prod, 32), f));
}

// What the output of one panel needs: the store mask of its `valid` (1..16) columns and its
// column exponents split as the even / odd int64 accumulator lanes hold them.
struct PanelOut {
  __mmask16 mask;
  __m256i ce_even;
  __m256i ce_odd;
};
inline __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni"))) PanelOut
PreparePanelOut(const int32_t* col_exp, int64_t valid) {
  const __m512i ce = _mm512_load_si512(col_exp);
  return {static_cast<__mmask16>((1u << valid) - 1), _mm512_cvtepi64_epi32(ce),
          _mm512_cvtepi64_epi32(_mm512_srli_epi64(ce, 32))};
}

// Stores one output row of a panel from the fast path's int64 sums (lane l of acc_e / acc_o:
// column 2 l / 2 l + 1), each rounded once and scaled by 2^(row_exp + e0) (see above).
inline __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni"))) void StoreFastRow(
    const PanelOut& po, __m512i acc_e, __m512i acc_o, int32_t row_exp, uint8_t* out) {
  const __m512i interleave =
      _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  // 2^(ea0 + e0) as f32 bits; ea0 + e0 is in [-48, 10], a normal exponent.
  const __m256i bias = _mm256_set1_epi32(row_exp + 127);
  const __m256 pow_e =
      _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(po.ce_even, bias), 23));
  const __m256 pow_o =
      _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(po.ce_odd, bias), 23));
  const __m256 fe = _mm256_mul_ps(
      _mm512_cvt_roundepi64_ps(acc_e, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), pow_e);
  const __m256 fo = _mm256_mul_ps(
      _mm512_cvt_roundepi64_ps(acc_o, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), pow_o);
  const __m512 f =
      _mm512_permutex2var_ps(_mm512_castps256_ps512(fe), interleave, _mm512_castps256_ps512(fo));
  _mm512_mask_storeu_ps(out, po.mask, f);
}

// The exact values of columns [0, valid) of one output row from the fast path's int64 sums
// (lanes as in StoreFastRow), at `exact`: q8::StoreFastExactSums in registers. With
// s = 48 + row_exp + e0 in [0, 58] per column, E's low word is sum << s (vpsllvq) and its high
// word sum >> (64 - s) arithmetic (vpsravq; a count of 64 gives the sign fill, right for s = 0).
inline __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni"))) void
StoreFastExactSums(__m512i acc_e, __m512i acc_o, int32_t row_exp, const int32_t* col_exp,
                   int64_t valid, uint8_t* exact) {
  const __m512i ce = _mm512_load_si512(col_exp);
  const __m512i base = _mm512_set1_epi64(48 + int64_t{row_exp});
  const __m512i s_e = _mm512_add_epi64(base, _mm512_srai_epi64(_mm512_slli_epi64(ce, 32), 32));
  const __m512i s_o = _mm512_add_epi64(base, _mm512_srai_epi64(ce, 32));
  const __m512i sixty_four = _mm512_set1_epi64(64);
  const __m512i lo_e = _mm512_sllv_epi64(acc_e, s_e);
  const __m512i hi_e = _mm512_srav_epi64(acc_e, _mm512_sub_epi64(sixty_four, s_e));
  const __m512i lo_o = _mm512_sllv_epi64(acc_o, s_o);
  const __m512i hi_o = _mm512_srav_epi64(acc_o, _mm512_sub_epi64(sixty_four, s_o));
  // 128-bit lane j of each: column 4 j (e0), 4 j + 2 (e1), 4 j + 1 (o0), 4 j + 3 (o1).
  alignas(64) __m128i parts[4][4];
  _mm512_store_si512(parts[0], _mm512_unpacklo_epi64(lo_e, hi_e));
  _mm512_store_si512(parts[1], _mm512_unpacklo_epi64(lo_o, hi_o));
  _mm512_store_si512(parts[2], _mm512_unpackhi_epi64(lo_e, hi_e));
  _mm512_store_si512(parts[3], _mm512_unpackhi_epi64(lo_o, hi_o));
  for (int64_t c = 0; c < valid; ++c) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(exact + c * 16), parts[c % 4][c / 4]);
  }
}

}  // namespace datanode::ops::cpu::q8::avx512

#pragma GCC diagnostic pop

#endif  // DATANODE_OPS_CPU_Q8_TILE_AVX512_H_
