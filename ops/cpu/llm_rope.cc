// Copyright 2026 The datanode Authors.
//
// Spec §8.9 RoPE Apply on the CPU. x'[2i] = round_f32(x0 C - x1 S), x'[2i+1] =
// round_f32(x0 S + x1 C) with C, S in Q1.30 from the shared table. AVX-512: 8 pairs per
// step in 64-bit lanes; each product m * C is exact in int64 (< 2^54), and when the two
// exponents are within 8 of each other the aligned sum is exact in int64 (< 2^63; lanes
// with |sum| >= 2^62 also go to the scalar path). That integer is rounded to odd in a
// double (err = v - (int64)RN(v) exact) and then to f32 (see llm_elementwise_avx512.cc).
// Other lanes (zeros, distant exponents) use the spec routine. Portable and AVX2 use the
// reference Apply.
#include <immintrin.h>

#include "datanode/ops/exact_float.h"
#include "datanode/ops/llm.h"
#include "ops/cpu/llm_kernels.h"
#include "ops/reference/fixed_point.h"

namespace datanode::ops::cpu::llm_kernels {
namespace {

namespace fixed = ops::llm::fixed;

void ApplyPairScalar(float* pair, int32_t c32, int32_t s32) {
  const ExactValue a = DecodeF32(pair[0]), b = DecodeF32(pair[1]);
  const int64_t c = c32, s = s32;
  pair[0] = BitsToF32(
      fixed::RoundSum2ToF32Bits(a.mantissa * c, a.exponent - 30, -b.mantissa * s, b.exponent - 30));
  pair[1] = BitsToF32(
      fixed::RoundSum2ToF32Bits(a.mantissa * s, a.exponent - 30, b.mantissa * c, b.exponent - 30));
}

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq")

struct Decoded {
  __m512i m;  // signed mantissa
  __m512i e;  // exponent
};

inline Decoded Decode8(__m512i bits) {  // bits: one f32 in the low 32 bits of each lane
  const __m512i zero = _mm512_setzero_si512();
  const __m512i biased = _mm512_and_si512(_mm512_srli_epi64(bits, 23), _mm512_set1_epi64(0xFF));
  const __mmask8 normal = _mm512_cmpneq_epi64_mask(biased, zero);
  __m512i mant = _mm512_and_si512(bits, _mm512_set1_epi64(0x7FFFFF));
  mant = _mm512_mask_or_epi64(mant, normal, mant, _mm512_set1_epi64(0x800000));
  const __mmask8 negative = _mm512_test_epi64_mask(bits, _mm512_set1_epi64(0x80000000ll));
  mant = _mm512_mask_sub_epi64(mant, negative, zero, mant);
  const __m512i e =
      _mm512_mask_sub_epi64(_mm512_set1_epi64(-149), normal, biased, _mm512_set1_epi64(150));
  return {mant, e};
}

// round_f32(v * 2^(lo - 30)) for |v| < 2^62, lanes of `ok`; others are left to the caller.
inline __m512i RoundSum8(__m512i v, __m512i lo) {
  const __m512d d = _mm512_cvtepi64_pd(v);
  const __m512i err = _mm512_sub_epi64(v, _mm512_cvtpd_epi64(d));  // d is an integer
  const __m512i dbits = _mm512_castpd_si512(d);
  const __mmask8 inexact = _mm512_cmpneq_epi64_mask(err, _mm512_setzero_si512());
  const __mmask8 away =
      inexact & _mm512_cmplt_epi64_mask(_mm512_xor_si512(dbits, err), _mm512_setzero_si512());
  __m512i odd = _mm512_mask_sub_epi64(dbits, away, dbits, _mm512_set1_epi64(1));
  odd = _mm512_mask_or_epi64(odd, inexact, odd, _mm512_set1_epi64(1));
  const __m512d scale = _mm512_castsi512_pd(_mm512_slli_epi64(
      _mm512_add_epi64(lo, _mm512_set1_epi64(1023 - 30)), 52));
  const __m256 f = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_castsi512_pd(odd), scale));
  // v == 0 gives +0 (d = +0).
  return _mm512_cvtepu32_epi64(_mm256_castps_si256(f));
}

// Rotates pairs [0, 8 * blocks) of one head; returns the mask of pairs left to the scalar
// path, one bit per pair, in `todo` (8 bits per block).
void ApplyHeadAvx512(float* head, const int32_t* cos_row, const int32_t* sin_row, int blocks,
                     uint8_t* todo) {
  const __m512i limit = _mm512_set1_epi64(int64_t{1} << 62);
  for (int b = 0; b < blocks; ++b) {
    const __m512i xy = _mm512_loadu_si512(head + 16 * b);
    const Decoded x0 = Decode8(_mm512_and_si512(xy, _mm512_set1_epi64(0xFFFFFFFFll)));
    const Decoded x1 = Decode8(_mm512_srli_epi64(xy, 32));
    const __m512i c = _mm512_cvtepi32_epi64(_mm256_loadu_si256(
        reinterpret_cast<const __m256i*>(cos_row + 8 * b)));
    const __m512i s = _mm512_cvtepi32_epi64(_mm256_loadu_si256(
        reinterpret_cast<const __m256i*>(sin_row + 8 * b)));
    const __m512i lo = _mm512_min_epi64(x0.e, x1.e);
    const __m512i sh0 = _mm512_sub_epi64(x0.e, lo), sh1 = _mm512_sub_epi64(x1.e, lo);
    const __m512i eight = _mm512_set1_epi64(8);
    __mmask8 ok = _mm512_cmple_epi64_mask(sh0, eight) & _mm512_cmple_epi64_mask(sh1, eight) &
                  _mm512_cmpneq_epi64_mask(x0.m, _mm512_setzero_si512()) &
                  _mm512_cmpneq_epi64_mask(x1.m, _mm512_setzero_si512());
    const __m512i sh0c = _mm512_min_epi64(sh0, eight), sh1c = _mm512_min_epi64(sh1, eight);
    const __m512i v0 = _mm512_sub_epi64(_mm512_sllv_epi64(_mm512_mullo_epi64(x0.m, c), sh0c),
                                        _mm512_sllv_epi64(_mm512_mullo_epi64(x1.m, s), sh1c));
    const __m512i v1 = _mm512_add_epi64(_mm512_sllv_epi64(_mm512_mullo_epi64(x0.m, s), sh0c),
                                        _mm512_sllv_epi64(_mm512_mullo_epi64(x1.m, c), sh1c));
    ok &= _mm512_cmplt_epi64_mask(_mm512_abs_epi64(v0), limit) &
          _mm512_cmplt_epi64_mask(_mm512_abs_epi64(v1), limit);
    const __m512i r0 = RoundSum8(v0, lo), r1 = RoundSum8(v1, lo);
    const __m512i out = _mm512_or_si512(r0, _mm512_slli_epi64(r1, 32));
    _mm512_mask_storeu_epi64(head + 16 * b, ok, out);
    todo[b] = static_cast<uint8_t>(~ok);
  }
}

#pragma GCC pop_options

}  // namespace

absl::Status RopeApply(Isa isa, const llm::RopeTable& table, int64_t pos, int n_heads,
                       int head_dim, std::span<float> x) {
  if (isa != Isa::kAvx512Vnni || !DefaultFloatEnv() || pos < 0 ||
      pos >= table.max_positions() || n_heads < 1 || head_dim < table.rope_dim() ||
      static_cast<int64_t>(x.size()) != int64_t{n_heads} * head_dim || !AllFinite(x)) {
    return table.Apply(pos, n_heads, head_dim, x);
  }
  const int pairs = table.rope_dim() / 2;
  const int32_t* cos_row = table.CosQ30(pos);
  const int32_t* sin_row = table.SinQ30(pos);
  const int blocks = pairs / 8;
  uint8_t todo[64];  // pairs <= 512
  for (int h = 0; h < n_heads; ++h) {
    float* head = x.data() + static_cast<size_t>(h) * head_dim;
    ApplyHeadAvx512(head, cos_row, sin_row, blocks, todo);
    for (int b = 0; b < blocks; ++b) {
      for (int l = 0; l < 8; ++l) {
        if (todo[b] >> l & 1) ApplyPairScalar(head + 2 * (8 * b + l), cos_row[8 * b + l], sin_row[8 * b + l]);
      }
    }
    for (int i = 8 * blocks; i < pairs; ++i) ApplyPairScalar(head + 2 * i, cos_row[i], sin_row[i]);
  }
  return absl::OkStatus();
}

}  // namespace datanode::ops::cpu::llm_kernels
