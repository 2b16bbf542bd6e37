// Copyright 2026 The datanode Authors.
//
// AVX-512 kernels of the verifier (kernels.h), chosen at run time. Each returns exactly
// what its portable twin in kernels.cc returns:
//  - dot_s32_r, check_q8_row, dot_q8_v multiply with IFMA (vpmadd52{lo,hi}uq: 52 x 52-bit
//    products split into their low and high 52 bits), on operands made non-negative by an
//    offset that is subtracted once at the end. Accumulators take < 2^53 per step and are
//    flushed every kFlushSteps steps, so no 64-bit lane can wrap.
//  - dot_s8_v uses VNNI (vpdpbusd, u8 x s8 into int32) on v's 8 byte planes.
//  - check_q8_row rounds exact sums that fit in int64 (all of them, for realistic data) with
//    vcvtqq2ps under a static round-to-nearest-even override ({rn-sae}: independent of MXCSR),
//    then scales by 2^-48 on the exponent bits. For an integer x with 1 <= |x| < 2^63 that is
//    the spec's round_f32(x * 2^-48): IEEE 754 converts integers correctly rounded, and
//    x * 2^-48 is never subnormal nor overflows, so the power-of-two scaling is exact. A
//    vector holding a wider value falls back to the portable definition for its 8 elements.
//    Avx512Kernels() checks this path (both encodings) against RoundToF32Bits once (ties,
//    powers of two, extremes) and refuses the AVX-512 kernels if any value differs.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "datanode/ops/exact_float.h"
#include "ops/verify/kernels.h"

namespace datanode::ops::verify::internal {
namespace {

int128 LoadI128(const uint8_t* p) {
  uint64_t lo;
  uint64_t hi;
  std::memcpy(&lo, p, 8);
  std::memcpy(&hi, p + 8, 8);
  return static_cast<int128>((static_cast<uint128>(hi) << 64) | lo);
}

using PortableRow = int64_t (*)(const uint8_t*, const uint8_t*, int64_t, int, const int32_t*,
                                const int16_t*, int64_t);

// Modular combination of limb sums: sum_j s[j] * 2^(52 j) mod q.
uint128 CombineLimbs(const uint128* s, int count) {
  uint128 total = 0;
  for (int j = 0; j < count; ++j) {
    total = M127::Add(total, M127::MulPow2(M127::Reduce(s[j]), (52 * j) % 127));
  }
  return total;
}

// The portable definition for one element of a Q8_0 row (a vector's fallback): range,
// rounding, and x * r added to *acc mod q. False when the element is bad.
bool ScalarQ8Element(const uint8_t* e, const uint8_t* out, uint64_t r, int64_t i,
                     int64_t* first_bad, bool* out_of_range, uint128* acc) {
  const int128 limit = int128{1} << 112;
  const int128 x = LoadI128(e + 16 * i);
  if (x >= limit || x <= -limit) {
    *first_bad = i;
    *out_of_range = true;
    return false;
  }
  if (RoundToF32Bits(x, -48) != LoadU32(out + 4 * i)) {
    *first_bad = i;
    *out_of_range = false;
    return false;
  }
  *acc = M127::Add(*acc, M127::MulU64(M127::FromInt128(x), r));
  return true;
}

#pragma GCC push_options
// GCC 12 warns about the undefined pass-through operand inside some AVX-512 intrinsics.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512cd,avx512ifma,avx512vnni")
#if defined(__clang__)
// Clang ignores "#pragma GCC target"; this is its form of the same per-function target.
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512cd,avx512ifma,avx512vnni"))), apply_to = function)
#endif

// IFMA accumulators gain < 2 * 2^52 per step: 1024 steps stay below 2^63.
constexpr int64_t kFlushSteps = 1024;

uint128 LaneSum(__m512i x) {
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, x);
  uint128 s = 0;
  for (uint64_t l : lanes) s += l;
  return s;
}

// R rows of C against one pass over r: per 8 columns, r is loaded once and each row adds
// lo/hi of (c + 2^31) * r into its own pair of accumulators.
template <int R>
void DotS32RRows(const uint8_t* c, int64_t stride, const uint64_t* r, int64_t n, int128* out) {
  const __m256i flip = _mm256_set1_epi32(INT32_MIN);
  int128 total[R] = {};
  uint128 sum_r = 0;
  int64_t i = 0;
  while (i < n) {
    const int64_t end = std::min(n, i + 8 * kFlushSteps);
    __m512i lo[R];
    __m512i hi[R];
#pragma GCC unroll 4
    for (int j = 0; j < R; ++j) lo[j] = hi[j] = _mm512_setzero_si512();
    __m512i sr = _mm512_setzero_si512();
    for (; i < end; i += 8) {
      const __mmask8 m = end - i >= 8 ? 0xFF : static_cast<__mmask8>((1u << (end - i)) - 1);
      const __m512i rv = _mm512_maskz_loadu_epi64(m, r + i);
      sr = _mm512_add_epi64(sr, rv);
#pragma GCC unroll 4
      for (int j = 0; j < R; ++j) {
        // c + 2^31 in [0, 2^32) (bit 31 flipped), zero-extended; masked-off lanes are 0.
        const __m256i cv =
            _mm256_xor_si256(_mm256_maskz_loadu_epi32(m, c + j * stride + 4 * i), flip);
        const __m512i cz = _mm512_maskz_cvtepu32_epi64(m, cv);
        lo[j] = _mm512_madd52lo_epu64(lo[j], cz, rv);
        hi[j] = _mm512_madd52hi_epu64(hi[j], cz, rv);
      }
    }
    sum_r += LaneSum(sr);
#pragma GCC unroll 4
    for (int j = 0; j < R; ++j) {
      total[j] += static_cast<int128>(LaneSum(lo[j])) + (static_cast<int128>(LaneSum(hi[j])) << 52);
    }
  }
  for (int j = 0; j < R; ++j) out[j] = total[j] - (static_cast<int128>(sum_r) << 31);
}

void DotS32R(const uint8_t* c, int64_t stride, const uint64_t* r, int64_t n, int rows,
             int128* out) {
  switch (rows) {
    case 4:
      return DotS32RRows<4>(c, stride, r, n, out);
    case 3:
      return DotS32RRows<3>(c, stride, r, n, out);
    case 2:
      return DotS32RRows<2>(c, stride, r, n, out);
    default:
      return DotS32RRows<1>(c, stride, r, n, out);
  }
}

// R rows of A against v's byte planes, plane by plane: each 64-byte piece of a plane is
// loaded once for the R rows (A's rows stay in L1). Per int32 lane and step: 4 products of
// u8 * s8, < 2^17; k / 64 < 2^11 steps.
template <int R>
void DotS8VRows(const uint8_t* a, int64_t stride, const S8Tables& t, int64_t k, int128* out) {
  int128 total[R] = {};
  for (int p = 0; p < 8; ++p) {
    __m512i acc[R];
#pragma GCC unroll 4
    for (int j = 0; j < R; ++j) acc[j] = _mm512_setzero_si512();
    const uint8_t* plane = t.planes + p * k;
    for (int64_t i = 0; i < k; i += 64) {
      const __mmask64 m = k - i >= 64 ? ~__mmask64{0} : (__mmask64{1} << (k - i)) - 1;
      const __m512i pv = _mm512_maskz_loadu_epi8(m, plane + i);
#pragma GCC unroll 4
      for (int j = 0; j < R; ++j) {
        acc[j] = _mm512_dpbusd_epi32(acc[j], pv, _mm512_maskz_loadu_epi8(m, a + j * stride + i));
      }
    }
#pragma GCC unroll 4
    for (int j = 0; j < R; ++j) {
      const __m512i lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(acc[j]));
      const __m512i hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(acc[j], 1));
      total[j] += static_cast<int128>(_mm512_reduce_add_epi64(_mm512_add_epi64(lo, hi))) << (8 * p);
    }
  }
  for (int j = 0; j < R; ++j) out[j] = total[j];
}

void DotS8V(const uint8_t* a, int64_t stride, const S8Tables& t, int64_t k, int rows, int128* out) {
  switch (rows) {
    case 4:
      return DotS8VRows<4>(a, stride, t, k, out);
    case 3:
      return DotS8VRows<3>(a, stride, t, k, out);
    case 2:
      return DotS8VRows<2>(a, stride, t, k, out);
    default:
      return DotS8VRows<1>(a, stride, t, k, out);
  }
}

int64_t FirstBadS8F32Row(const uint8_t* isum, const uint8_t* out, int64_t a_mant, int a_exp,
                         const int32_t* w_mant, const int16_t* w_exp, int64_t n) {
  // X = a_mant * w_mant * isum * 2^(a_exp + w_exp) in double precision, then to f32:
  //  - s = a_mant * w_mant (|s| < 2^48) and isum (< 2^31) are exact doubles, and so is
  //    s * 2^(a_exp + w_exp) (exponents in [-298, 208]: far inside double's range);
  //  - x = that times isum, rounded once to 53 bits (round to nearest even);
  //  - x to f32 under {rn-sae}. Rounding twice equals rounding once unless x is a midpoint
  //    of two neighbouring f32 values: x is the double nearest to X, and every f32 midpoint
  //    (25 significant bits) is a double, so x is on the same side of each midpoint as X or
  //    on it. A midpoint shows as fraction bits 0..28 == 1 << 28 and takes the scalar
  //    definition, as do results below 2^-126 (f32 subnormals and zero: their grid is not
  //    24 bits, and the spec's zero is +0). Overflow to infinity converts correctly.
  const PortableRow portable = PortableKernels().first_bad_s8f32_row;
  const __m512i am = _mm512_set1_epi64(a_mant);
  const __m512d ae = _mm512_set1_pd(static_cast<double>(a_exp));
  const __m512i low29 = _mm512_set1_epi64((int64_t{1} << 29) - 1);
  const __m512i half = _mm512_set1_epi64(int64_t{1} << 28);
  // Biased double exponent of 2^-126; |x| below it is not an f32 normal.
  const __m512i min_normal = _mm512_set1_epi64(1023 - 126);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m512d s =
        _mm512_cvtepi32_pd(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(isum + 4 * i)));
    const __m512i mw =
        _mm512_cvtepi32_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w_mant + i)));
    const __m512d ew = _mm512_cvtepi32_pd(
        _mm256_cvtepi16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w_exp + i))));
    const __m512d scale =
        _mm512_scalef_pd(_mm512_cvtepi64_pd(_mm512_mul_epi32(mw, am)), _mm512_add_pd(ew, ae));
    const __m512d x = _mm512_mul_round_pd(scale, s, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512i xb = _mm512_castpd_si512(x);
    const __mmask8 midpoint = _mm512_cmpeq_epi64_mask(_mm512_and_si512(xb, low29), half);
    const __mmask8 tiny = _mm512_cmplt_epi64_mask(
        _mm512_and_si512(_mm512_srli_epi64(xb, 52), _mm512_set1_epi64(0x7FF)), min_normal);
    if ((midpoint | tiny) != 0) {
      const int64_t j =
          portable(isum + 4 * i, out + 4 * i, a_mant, a_exp, w_mant + i, w_exp + i, 8);
      if (j >= 0) return i + j;
      continue;
    }
    const __m256i bits = _mm256_castps_si256(
        _mm512_cvt_roundpd_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    const __mmask8 bad = _mm256_cmpneq_epi32_mask(
        bits, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(out + 4 * i)));
    if (bad != 0) return i + __builtin_ctz(bad);
  }
  if (i < n) {
    const int64_t j =
        portable(isum + 4 * i, out + 4 * i, a_mant, a_exp, w_mant + i, w_exp + i, n - i);
    if (j >= 0) return i + j;
  }
  return -1;
}

uint128 CheckQ8Row(const uint8_t* e, const uint8_t* out, const uint64_t* r, int64_t n,
                   int64_t* first_bad, bool* out_of_range) {
  const __m512i idx_lo = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
  const __m512i idx_hi = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
  const __m512i mask52 = _mm512_set1_epi64((int64_t{1} << 52) - 1);
  const __m512i bias = _mm512_set1_epi64(INT64_MIN);
  const __m256i scale48 = _mm256_set1_epi32(48 << 23);
  *first_bad = -1;
  uint128 wide = 0;  // elements taken by the scalar fallback, mod q
  uint128 fast = 0;  // the vector path, mod q
  int64_t i = 0;
  while (i < n) {
    const int64_t end = std::min(n, i + 8 * kFlushSteps);
    // One accumulator per product: lo(e0 r), hi(e0 r), lo(e1 r), hi(e1 r).
    __m512i acc0 = _mm512_setzero_si512();
    __m512i acc1 = _mm512_setzero_si512();
    __m512i acc2 = _mm512_setzero_si512();
    __m512i acc3 = _mm512_setzero_si512();
    __m512i sr = _mm512_setzero_si512();
    for (; i < end; i += 8) {
      if (end - i < 8) {
        for (int64_t j = i; j < end; ++j) {
          if (!ScalarQ8Element(e, out, r[j], j, first_bad, out_of_range, &wide)) return 0;
        }
        continue;
      }
      const __m512i z0 = _mm512_loadu_si512(e + 16 * i);
      const __m512i z1 = _mm512_loadu_si512(e + 16 * i + 64);
      const __m512i lo = _mm512_permutex2var_epi64(z0, idx_lo, z1);
      const __m512i hi = _mm512_permutex2var_epi64(z0, idx_hi, z1);
      if (_mm512_cmpeq_epi64_mask(hi, _mm512_srai_epi64(lo, 63)) != 0xFF) {
        for (int64_t j = i; j < i + 8; ++j) {
          if (!ScalarQ8Element(e, out, r[j], j, first_bad, out_of_range, &wide)) return 0;
        }
        continue;
      }
      // round_f32(E * 2^-48): the correctly rounded conversion, exponent minus 48.
      __m256i bits = _mm256_castps_si256(
          _mm512_cvt_roundepi64_ps(lo, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
      bits = _mm256_mask_sub_epi32(bits, _mm512_test_epi64_mask(lo, lo), bits, scale48);
      const __mmask8 bad = _mm256_cmpneq_epi32_mask(
          bits, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(out + 4 * i)));
      if (bad != 0) {
        *first_bad = i + __builtin_ctz(bad);
        *out_of_range = false;
        return 0;
      }
      // E + 2^63 in [0, 2^64) = e1 * 2^52 + e0.
      const __m512i ep = _mm512_xor_si512(lo, bias);
      const __m512i e0 = _mm512_and_si512(ep, mask52);
      const __m512i e1 = _mm512_srli_epi64(ep, 52);
      const __m512i rv = _mm512_loadu_si512(r + i);
      acc0 = _mm512_madd52lo_epu64(acc0, e0, rv);
      acc1 = _mm512_madd52hi_epu64(acc1, e0, rv);
      acc2 = _mm512_madd52lo_epu64(acc2, e1, rv);
      acc3 = _mm512_madd52hi_epu64(acc3, e1, rv);
      sr = _mm512_add_epi64(sr, rv);
    }
    // sum (E + 2^63) r = sum lo(e0 r) + (hi(e0 r) + lo(e1 r)) 2^52 + hi(e1 r) 2^104.
    const uint128 limbs[3] = {LaneSum(acc0), LaneSum(acc1) + LaneSum(acc2), LaneSum(acc3)};
    fast = M127::Add(fast, CombineLimbs(limbs, 3));
    fast = M127::Add(fast, M127::Neg(M127::MulPow2(M127::Reduce(LaneSum(sr)), 63)));
  }
  return M127::Add(fast, wide);
}

// One step of CheckQ8Row64: 8 elements (mask m) of the row at i. False on a bad output.
inline bool Q8Row64Step(const uint8_t* e, const uint8_t* out, const uint64_t* r, int64_t i,
                        __mmask8 m, __m512i acc[4], int64_t* first_bad) {
  const __m512i mask52 = _mm512_set1_epi64((int64_t{1} << 52) - 1);
  const __m512i bias = _mm512_set1_epi64(INT64_MIN);
  const __m256i scale48 = _mm256_set1_epi32(48 << 23);
  const __m512i x = _mm512_maskz_loadu_epi64(m, e + 8 * i);
  // round_f32(E * 2^-48) is the correctly rounded conversion with 48 off its exponent, so
  // C + (48 << 23) must equal the conversion's bits (mod 2^32 that is the same test). An
  // exact 0 converts to +0, which this form flags: such lanes are checked again below.
  const __m256i bits = _mm256_castps_si256(
      _mm512_cvt_roundepi64_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  const __m256i c = _mm256_maskz_loadu_epi32(m, out + 4 * i);
  __mmask8 bad = _mm256_mask_cmpneq_epi32_mask(m, bits, _mm256_add_epi32(c, scale48));
  if (bad != 0) {
    bad &= ~_mm256_mask_cmpeq_epi32_mask(_mm512_testn_epi64_mask(x, x), c, _mm256_setzero_si256());
    if (bad != 0) {
      *first_bad = i + __builtin_ctz(bad);
      return false;
    }
  }
  // E + 2^63 in [0, 2^64) = e1 * 2^52 + e0; masked-off lanes have r = 0.
  const __m512i ep = _mm512_xor_si512(x, bias);
  const __m512i e0 = _mm512_and_si512(ep, mask52);
  const __m512i e1 = _mm512_srli_epi64(ep, 52);
  const __m512i rv = _mm512_maskz_loadu_epi64(m, r + i);
  acc[0] = _mm512_madd52lo_epu64(acc[0], e0, rv);
  acc[1] = _mm512_madd52hi_epu64(acc[1], e0, rv);
  acc[2] = _mm512_madd52lo_epu64(acc[2], e1, rv);
  acc[3] = _mm512_madd52hi_epu64(acc[3], e1, rv);
  return true;
}

// How far ahead the row loop prefetches E (C at half): the answer was written by the RPC layer or
// evicted by other work; the hardware prefetcher stops at 4 KiB pages. With a prefetch the
// evicted-answer case of bench_verify improved clearly; between 0.5, 1, 2 and 4 KiB the
// differences were within the shared machine's noise.
constexpr int64_t kPrefetchBytes = 1024;

uint128 CheckQ8Row64(const uint8_t* e, const uint8_t* out, const uint64_t* r, int64_t n,
                     uint128 r_bias, int64_t* first_bad) {
  // As CheckQ8Row's vector path, without the deinterleave and the range check: every value
  // is an int64. Two sets of accumulators (even and odd steps) halve the IFMA dependency
  // chains; the 2^63 offset's share, 2^63 * sum r, is the verifier's precomputed r_bias.
  *first_bad = -1;
  uint128 total = 0;
  int64_t i = 0;
  while (i < n) {
    const int64_t end = std::min(n, i + 8 * kFlushSteps);
    __m512i even[4];
    __m512i odd[4];
    for (int j = 0; j < 4; ++j) even[j] = odd[j] = _mm512_setzero_si512();
    for (; i + 16 <= end; i += 16) {
      _mm_prefetch(reinterpret_cast<const char*>(e + 8 * i + kPrefetchBytes), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(e + 8 * i + kPrefetchBytes + 64), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(out + 4 * i + kPrefetchBytes / 2), _MM_HINT_T0);
      if (!Q8Row64Step(e, out, r, i, 0xFF, even, first_bad) ||
          !Q8Row64Step(e, out, r, i + 8, 0xFF, odd, first_bad)) {
        return 0;
      }
    }
    for (; i < end; i += 8) {
      const __mmask8 m = end - i >= 8 ? 0xFF : static_cast<__mmask8>((1u << (end - i)) - 1);
      if (!Q8Row64Step(e, out, r, i, m, even, first_bad)) return 0;
    }
    // sum (E + 2^63) r = sum lo(e0 r) + (hi(e0 r) + lo(e1 r)) 2^52 + hi(e1 r) 2^104.
    const uint128 limbs[3] = {
        LaneSum(even[0]) + LaneSum(odd[0]),
        LaneSum(even[1]) + LaneSum(odd[1]) + LaneSum(even[2]) + LaneSum(odd[2]),
        LaneSum(even[3]) + LaneSum(odd[3])};
    total = M127::Add(total, CombineLimbs(limbs, 3));
  }
  return M127::Add(total, M127::Neg(r_bias));
}

// R rows of A against v's 16 interleaved byte planes (kernels.h), one block at a time:
//  - per group of 4 columns, one 64-byte load of v's planes serves the R rows, and
//    vpdpbusd with a broadcast of the row's 4 quants adds, to int32 lane p,
//    sum q * (byte p of v): after the block's 8 groups, lane p holds the block's plane sum
//    S_p, |S_p| <= 32 * 127 * 255 < 2^20;
//  - S_p times the scale's signed mantissa (|.| <= 2047) is below 2^31 (vpmulld is exact),
//    shifted by the scale's exponent + 24 (0..29: d * 2^24 = mantissa << shift, an integer)
//    it is below 2^60 and goes into an int64 accumulator per plane;
//  - every 4 blocks the accumulators (< 2^62) carry their bits 32.. into a second int64
//    accumulator per plane, so no lane wraps for any K <= kMaxK.
// The row's sum is sum_p 2^(8p) (carry_p * 2^32 + low_p), reduced mod q once per row.
// Two VNNI instructions per 8 products where the limb form took six IFMA.
template <int R>
void DotQ8VRows(const uint8_t* a, int64_t stride, const Q8Tables& t, int64_t blocks, uint128* out,
                bool* valid) {
  const __m256i minus128 = _mm256_set1_epi8(-128);
  const __m512i low32 = _mm512_set1_epi64(0xFFFFFFFFll);
  __m256i seen_minus128 = _mm256_setzero_si256();
  int nonfinite = 0;
  __m512i low[R][2];    // planes 0..7 and 8..15, in [0, 2^32) after a carry
  __m512i carry[R][2];  // the same planes' bits 32 and up
#pragma GCC unroll 4
  for (int j = 0; j < R; ++j) {
    low[j][0] = low[j][1] = carry[j][0] = carry[j][1] = _mm512_setzero_si512();
  }
  for (int64_t b = 0; b < blocks; ++b) {
    __m512i mant[R];
    __m128i shift[R];
    __m512i sums[R];
    const uint8_t* block[R];
#pragma GCC unroll 4
    for (int j = 0; j < R; ++j) {
      block[j] = a + j * stride + 34 * b;
      const uint16_t dbits = LoadU16(block[j]);
      const int exp_field = (dbits >> 10) & 0x1F;
      nonfinite |= exp_field == 0x1F;
      int32_t m = exp_field == 0 ? (dbits & 0x3FF) : ((dbits & 0x3FF) | 0x400);
      if (dbits & 0x8000) m = -m;
      mant[j] = _mm512_set1_epi32(m);
      shift[j] = _mm_cvtsi32_si128(exp_field == 0 ? 0 : exp_field - 1);  // exponent + 24
      seen_minus128 = _mm256_or_si256(
          seen_minus128,
          _mm256_cmpeq_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(block[j] + 2)),
                            minus128));
      sums[j] = _mm512_setzero_si512();
    }
    const uint8_t* planes = t.v16 + 16 * 32 * b;
#pragma GCC unroll 8
    for (int g = 0; g < 8; ++g) {
      const __m512i pv = _mm512_loadu_si512(planes + 64 * g);
#pragma GCC unroll 4
      for (int j = 0; j < R; ++j) {
        int32_t quads;
        std::memcpy(&quads, block[j] + 2 + 4 * g, 4);
        sums[j] = _mm512_dpbusd_epi32(sums[j], pv, _mm512_set1_epi32(quads));
      }
    }
#pragma GCC unroll 4
    for (int j = 0; j < R; ++j) {
      const __m512i p = _mm512_mullo_epi32(sums[j], mant[j]);
      low[j][0] = _mm512_add_epi64(
          low[j][0], _mm512_sll_epi64(_mm512_cvtepi32_epi64(_mm512_castsi512_si256(p)), shift[j]));
      low[j][1] = _mm512_add_epi64(
          low[j][1],
          _mm512_sll_epi64(_mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(p, 1)), shift[j]));
    }
    if ((b & 3) == 3 || b + 1 == blocks) {
#pragma GCC unroll 4
      for (int j = 0; j < R; ++j) {
        for (int h = 0; h < 2; ++h) {
          carry[j][h] = _mm512_add_epi64(carry[j][h], _mm512_srai_epi64(low[j][h], 32));
          low[j][h] = _mm512_and_si512(low[j][h], low32);
        }
      }
    }
  }
  *valid = nonfinite == 0 && _mm256_testz_si256(seen_minus128, seen_minus128);
#pragma GCC unroll 4
  for (int j = 0; j < R; ++j) {
    alignas(64) int64_t lo[16];
    alignas(64) int64_t hi[16];
    _mm512_store_si512(lo, low[j][0]);
    _mm512_store_si512(lo + 8, low[j][1]);
    _mm512_store_si512(hi, carry[j][0]);
    _mm512_store_si512(hi + 8, carry[j][1]);
    // Four planes at a time in an int128: |carry| < 2^30 * (kMaxK / 128 + 1) < 2^41, so
    // each plane's value is below 2^74 and four of them, shifted by up to 24, below 2^100.
    uint128 total = 0;
    for (int g = 0; g < 4; ++g) {
      int128 part = 0;
      for (int i = 0; i < 4; ++i) {
        const int p = 4 * g + i;
        part += ((static_cast<int128>(hi[p]) << 32) + lo[p]) << (8 * i);
      }
      total = M127::Add(total, M127::MulPow2(M127::FromInt128(part), 32 * g));
    }
    out[j] = total;
  }
}

void DotQ8V(const uint8_t* a, int64_t stride, const Q8Tables& t, int64_t blocks, int rows,
            uint128* out, bool* valid) {
  switch (rows) {
    case 4:
      return DotQ8VRows<4>(a, stride, t, blocks, out, valid);
    case 3:
      return DotQ8VRows<3>(a, stride, t, blocks, out, valid);
    case 2:
      return DotQ8VRows<2>(a, stride, t, blocks, out, valid);
    default:
      return DotQ8VRows<1>(a, stride, t, blocks, out, valid);
  }
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
#pragma GCC diagnostic pop
#pragma GCC pop_options

// The vector rounding path against RoundToF32Bits on values that exercise it: ties at every
// shift, both neighbours of powers of two, the int64 extremes and random magnitudes.
bool RoundingSelfCheckPasses(const Kernels& k) {
  std::vector<int64_t> xs = {0, 1, -1, INT64_MAX, INT64_MIN, INT64_MIN + 1};
  for (int s = 1; s < 63; ++s) {
    const int64_t p = int64_t{1} << s;
    for (int64_t d : {-1, 0, 1}) xs.push_back(p + d);
    if (s > 24) {
      const int64_t half = int64_t{1} << (s - 24);
      xs.push_back(p + half);          // tie, even mantissa
      xs.push_back(p + 3 * half);      // tie, odd mantissa
      xs.push_back(p + 3 * half - 1);  // just below a tie
    }
  }
  uint64_t z = 0x243F6A8885A308D3ull;
  for (int i = 0; i < 2000; ++i) {
    z = z * 6364136223846793005ull + 1442695040888963407ull;
    xs.push_back(static_cast<int64_t>(z) >> (z % 63));
  }
  for (size_t n = xs.size(), i = 0; i < n; ++i) {
    if (xs[i] != INT64_MIN) xs.push_back(-xs[i]);
  }
  while (xs.size() % 8 != 0) xs.push_back(0);
  std::vector<uint8_t> e(16 * xs.size());
  std::vector<uint8_t> out(4 * xs.size());
  std::vector<uint64_t> r(xs.size(), 1);
  for (size_t i = 0; i < xs.size(); ++i) {
    const uint128 u = static_cast<uint128>(static_cast<int128>(xs[i]));
    for (int b = 0; b < 16; ++b) e[16 * i + b] = static_cast<uint8_t>(u >> (8 * b));
    StoreU32(&out[4 * i], RoundToF32Bits(xs[i], -48));
  }
  int64_t bad = 0;
  bool range = false;
  const uint128 got = k.check_q8_row(e.data(), out.data(), r.data(), xs.size(), &bad, &range);
  if (bad != -1) return false;
  int64_t bad_port = 0;
  const uint128 want =
      PortableKernels().check_q8_row(e.data(), out.data(), r.data(), xs.size(), &bad_port, &range);
  if (bad_port != -1 || got != want) return false;
  // The compact encoding's kernel on the same values.
  std::vector<uint8_t> e64(8 * xs.size());
  for (size_t i = 0; i < xs.size(); ++i) std::memcpy(&e64[8 * i], &xs[i], 8);
  const uint128 got64 = k.check_q8_row64(e64.data(), out.data(), r.data(), xs.size(),
                                         RBias(r.data(), xs.size()), &bad);
  return bad == -1 && got64 == want;
}

}  // namespace

const Kernels* Avx512Kernels() {
  static const Kernels* kernels = []() -> const Kernels* {
    __builtin_cpu_init();
    const bool has_all = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
                         __builtin_cpu_supports("avx512cd") &&
                         __builtin_cpu_supports("avx512ifma") &&
                         __builtin_cpu_supports("avx512vnni");
    if (!has_all) return nullptr;
    static constexpr Kernels kAvx512 = {
        "avx512 (ifma, vnni)", DotS32R, DotS8V, FirstBadS8F32Row, CheckQ8Row, CheckQ8Row64, DotQ8V};
    return RoundingSelfCheckPasses(kAvx512) ? &kAvx512 : nullptr;
  }();
  return kernels;
}

}  // namespace datanode::ops::verify::internal
