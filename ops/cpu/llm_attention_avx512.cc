// Copyright 2026 The datanode Authors.
//
// AVX-512 inner loops of attention (see llm_attention.cc for why the double sums are
// exact): 16 f16 values per step, converted with vcvtph2ps, multiplied in f32 (exact),
// widened to two 8-lane doubles and split into floor and fraction.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "ops/cpu/llm_kernels.h"
#include "ops/reference/fixed_point.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,f16c,fma")

namespace datanode::ops::cpu::llm_kernels {
namespace {

inline void Split(__m512d x, __m512d& ints, __m512d& fracs) {
  const __m512d f = _mm512_roundscale_pd(x, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  ints = _mm512_add_pd(ints, f);
  fracs = _mm512_add_pd(fracs, _mm512_sub_pd(x, f));
}

inline __m512 LoadF16x16(const uint8_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

}  // namespace

// Spec §8.2 on 8 lanes. Every product below has factors < 2^32 (vpmuludq): r < 2^26 and
// kLn2Q30 < 2^30; z < 2^26 and P < 2^30 + 2^27; the table entries and P < 2^31. The
// divisions by 5 and 3 are of t < 2^27: t / 5 = (t * 0xCCCCCCCD) >> 34 and t / 3 =
// (t * 0xAAAAAAAB) >> 33 are exact for every t < 2^32.
void WeightsAvx512(const int64_t* y, int64_t n, int64_t* w) {
  namespace fixed = ops::llm::fixed;
  const __m512i table_lo = _mm512_loadu_si512(fixed::kExp2TableQ30);
  const __m512i table_hi = _mm512_loadu_si512(fixed::kExp2TableQ30 + 8);
  const __m512i one30 = _mm512_set1_epi64(int64_t{1} << 30);
  const __m512i mask26 = _mm512_set1_epi64((int64_t{1} << 26) - 1);
  const __m512i mask30 = _mm512_set1_epi64((int64_t{1} << 30) - 1);
  const __m512i ln2 = _mm512_set1_epi64(fixed::kLn2Q30);
  const __m512i m5 = _mm512_set1_epi64(0xCCCCCCCDll), m3 = _mm512_set1_epi64(0xAAAAAAABll);
  const __m512i emax = _mm512_set1_epi64((int64_t{1} << 31) - 1);
  const __m512i zero_y = _mm512_set1_epi64(kZeroWeightY);
  int64_t p = 0;
  for (; p + 8 <= n; p += 8) {
    const __m512i yv = _mm512_loadu_si512(y + p);
    const __m512i neg = _mm512_sub_epi64(_mm512_setzero_si512(), yv);
    const __m512i k = _mm512_srai_epi64(neg, 30);     // floor(-y / 2^30)
    const __m512i f = _mm512_and_si512(neg, mask30);  // -y - k * 2^30
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
    __m512i e = _mm512_srli_epi64(_mm512_mul_epu32(tab, pv), 30);
    e = _mm512_min_epi64(e, emax);
    const __m512i shift = _mm512_add_epi64(k, _mm512_set1_epi64(10));  // in [-30, 10]
    const __m512i left = _mm512_sllv_epi64(e, _mm512_max_epi64(shift, _mm512_setzero_si512()));
    const __m512i right = _mm512_srlv_epi64(
        e,
        _mm512_max_epi64(_mm512_sub_epi64(_mm512_setzero_si512(), shift), _mm512_setzero_si512()));
    const __mmask8 nonneg = _mm512_cmpge_epi64_mask(shift, _mm512_setzero_si512());
    __m512i wv = _mm512_mask_blend_epi64(nonneg, right, left);
    wv = _mm512_maskz_mov_epi64(_mm512_cmple_epi64_mask(yv, zero_y), wv);
    _mm512_storeu_si512(w + p, wv);
  }
  for (; p < n; ++p) w[p] = y[p] > kZeroWeightY ? 0 : fixed::WeightQ40(fixed::Exp2NegQ30(y[p]));
}

namespace {

// kChunks = hd / 16 when known at compile time (registers), 0 for any hd (memory).
template <int kChunks>
bool Dots(const float* q8, const uint8_t* k, int64_t stride, int hd, int64_t n, int128* dots) {
  const int chunks = kChunks > 0 ? kChunks : hd / 16;
  __m512 qv[kChunks > 0 ? kChunks : 32];
  for (int c = 0; c < chunks; ++c) qv[c] = _mm512_loadu_ps(q8 + 16 * c);
  for (int64_t p = 0; p < n; ++p) {
    const uint8_t* row = k + p * stride;
    __m512d ints = _mm512_setzero_pd(), fracs = _mm512_setzero_pd();
    for (int c = 0; c < chunks; ++c) {
      const __m512 t = _mm512_mul_ps(qv[c], LoadF16x16(row + 32 * c));
      Split(_mm512_cvtps_pd(_mm512_castps512_ps256(t)), ints, fracs);
      Split(_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(t), 1))), ints,
            fracs);
    }
    const double si = _mm512_reduce_add_pd(ints), sf = _mm512_reduce_add_pd(fracs);
    if (!std::isfinite(si) || !std::isfinite(sf)) return false;
    dots[p] = (int128{static_cast<int64_t>(si)} << 40) + static_cast<int64_t>(sf * 0x1p40);
  }
  return true;
}

template <int kChunks>
bool WeightedV(const int64_t* w, const uint8_t* v, int64_t stride, int hd, int64_t n, int128* acc) {
  const int chunks = kChunks > 0 ? kChunks : hd / 16;
  __m512d ints[kChunks > 0 ? 2 * kChunks : 64], fracs[kChunks > 0 ? 2 * kChunks : 64];
  for (int64_t p0 = 0; p0 < n; p0 += kVBlock) {
    const int64_t p1 = n < p0 + kVBlock ? n : p0 + kVBlock;
    for (int c = 0; c < 2 * chunks; ++c) ints[c] = fracs[c] = _mm512_setzero_pd();
    for (int64_t p = p0; p < p1; ++p) {
      const __m512d ws = _mm512_set1_pd(static_cast<double>(w[p]) * 0x1p-16);
      const uint8_t* row = v + p * stride;
      for (int c = 0; c < chunks; ++c) {
        const __m512 x = LoadF16x16(row + 32 * c);
        Split(_mm512_mul_pd(ws, _mm512_cvtps_pd(_mm512_castps512_ps256(x))), ints[2 * c],
              fracs[2 * c]);
        Split(_mm512_mul_pd(ws, _mm512_cvtps_pd(_mm256_castpd_ps(
                                    _mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)))),
              ints[2 * c + 1], fracs[2 * c + 1]);
      }
    }
    for (int c = 0; c < 2 * chunks; ++c) {
      alignas(64) double si[8], sf[8];
      _mm512_store_pd(si, ints[c]);
      _mm512_store_pd(sf, fracs[c]);
      for (int l = 0; l < 8; ++l) {
        if (!std::isfinite(si[l]) || !std::isfinite(sf[l])) return false;
        acc[8 * c + l] +=
            (int128{static_cast<int64_t>(si[l])} << 40) + static_cast<int64_t>(sf[l] * 0x1p40);
      }
    }
  }
  return true;
}

}  // namespace

bool DotsAvx512(const float* q8, const uint8_t* k, int64_t stride, int hd, int64_t n,
                int128* dots) {
  switch (hd) {
    case 64:
      return Dots<4>(q8, k, stride, hd, n, dots);
    case 128:
      return Dots<8>(q8, k, stride, hd, n, dots);
    default:
      return Dots<0>(q8, k, stride, hd, n, dots);
  }
}

bool WeightedVAvx512(const int64_t* w, const uint8_t* v, int64_t stride, int hd, int64_t n,
                     int128* acc) {
  switch (hd) {
    case 64:
      return WeightedV<4>(w, v, stride, hd, n, acc);
    case 128:
      return WeightedV<8>(w, v, stride, hd, n, acc);
    default:
      return WeightedV<0>(w, v, stride, hd, n, acc);
  }
}

// ---- Blocked attention (AttendRows): blocks of kPosBlock positions of one KV head,
// converted to doubles once and read by every query of a chunk of rows.

namespace {

// Biased f16 exponent fields of 32 values as 16-bit lanes, with the bounds the fast-path
// test needs: lo = max(e, 1) and hi = e for nonzero values, 64 / 0 for zeros (no
// contribution). `bad` gets the lanes holding inf / NaN.
inline void ExpBounds(__m512i h, __m512i& lo, __m512i& hi, __mmask32& bad) {
  const __m512i e = _mm512_and_si512(_mm512_srli_epi16(h, 10), _mm512_set1_epi16(31));
  const __mmask32 nonzero = _mm512_test_epi16_mask(h, _mm512_set1_epi16(0x7FFF));
  bad |= _mm512_cmpeq_epi16_mask(e, _mm512_set1_epi16(31));
  lo = _mm512_min_epi16(
      lo, _mm512_mask_max_epi16(_mm512_set1_epi16(64), nonzero, e, _mm512_set1_epi16(1)));
  hi = _mm512_max_epi16(hi, _mm512_maskz_mov_epi16(nonzero, e));
}

inline int ReduceMin16(__m512i v) {
  const __m256i a = _mm256_min_epi16(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
  __m128i b = _mm_min_epi16(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
  b = _mm_min_epi16(b, _mm_srli_si128(b, 8));
  b = _mm_min_epi16(b, _mm_srli_si128(b, 4));
  b = _mm_min_epi16(b, _mm_srli_si128(b, 2));
  return static_cast<int16_t>(_mm_extract_epi16(b, 0));
}
inline int ReduceMax16(__m512i v) {
  const __m256i a = _mm256_max_epi16(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
  __m128i b = _mm_max_epi16(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
  b = _mm_max_epi16(b, _mm_srli_si128(b, 8));
  b = _mm_max_epi16(b, _mm_srli_si128(b, 4));
  b = _mm_max_epi16(b, _mm_srli_si128(b, 2));
  return static_cast<int16_t>(_mm_extract_epi16(b, 0));
}

// D (units 2^-48) from an exact double sum s of q8 * k products (units 2^-40).
inline int128 ExactDots(double s) {
  const double x = s * 0x1p40;  // an integer, |x| < 2^90
  if (std::fabs(x) < 0x1p62) return static_cast<int64_t>(x);
  uint64_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  const int e = static_cast<int>((bits >> 52) & 0x7FF) - 1075;  // >= 10 here
  const int128 mag =
      int128{static_cast<int64_t>((bits & ((uint64_t{1} << 52) - 1)) | (uint64_t{1} << 52))} << e;
  return (bits >> 63) != 0 ? -mag : mag;
}

inline int128 SplitDots(double ints, double fracs) {
  return (int128{static_cast<int64_t>(ints)} << 40) + static_cast<int64_t>(fracs * 0x1p40);
}

}  // namespace

bool KBlockAvx512(const uint8_t* k, int64_t stride, int hd, int np, double* kt, int32_t* e_lo,
                  int32_t* e_hi) {
  alignas(64) float row[512];
  __mmask32 bad = 0;
  for (int p = 0; p < np; ++p) {
    const uint8_t* src = k + p * stride;
    __m512i lo = _mm512_set1_epi16(64), hi = _mm512_setzero_si512();
    for (int c = 0; c < hd / 32; ++c) {
      const __m512i h = _mm512_loadu_si512(src + 64 * c);
      ExpBounds(h, lo, hi, bad);
      _mm512_store_ps(row + 32 * c, _mm512_cvtph_ps(_mm512_castsi512_si256(h)));
      _mm512_store_ps(row + 32 * c + 16, _mm512_cvtph_ps(_mm512_extracti64x4_epi64(h, 1)));
    }
    e_lo[p] = ReduceMin16(lo);
    e_hi[p] = ReduceMax16(hi);
    for (int j = 0; j < hd; ++j) kt[j * kPosBlock + p] = row[j];
  }
  for (int p = np; p < kPosBlock; ++p) {
    e_lo[p] = 64;
    e_hi[p] = 0;
    for (int j = 0; j < hd; ++j) kt[j * kPosBlock + p] = 0;
  }
  return bad == 0;
}

namespace {

// s[i][p] = sum_j q8[i][j] * kt[j][p] for Q queries and the first 8 * G positions: one
// FMA chain per (query, 8 positions), so each kt load feeds Q FMAs (the block is read from
// L2 once per Q queries). Exact only where the caller's bound holds.
template <int G, int Q>
void FmaDots(const double* const* q8, int hd, const double* kt, double* s) {
  __m512d acc[Q][G];
  for (int i = 0; i < Q; ++i) {
    for (int g = 0; g < G; ++g) acc[i][g] = _mm512_setzero_pd();
  }
  for (int j = 0; j < hd; ++j) {
    __m512d b[Q];
#pragma GCC unroll 3
    for (int i = 0; i < Q; ++i) b[i] = _mm512_set1_pd(q8[i][j]);
    const double* row = kt + j * kPosBlock;
#pragma GCC unroll 8
    for (int g = 0; g < G; ++g) {
      const __m512d k = _mm512_load_pd(row + 8 * g);
#pragma GCC unroll 3
      for (int i = 0; i < Q; ++i) acc[i][g] = _mm512_fmadd_pd(b[i], k, acc[i][g]);
    }
  }
  for (int i = 0; i < Q; ++i) {
    for (int g = 0; g < G; ++g) _mm512_store_pd(s + i * kPosBlock + 8 * g, acc[i][g]);
  }
}

template <int Q>
void FmaDotsQ(const double* const* q8, int hd, const double* kt, int groups, double* s) {
  switch (groups) {
    case 1:
      FmaDots<1, Q>(q8, hd, kt, s);
      break;
    case 2:
      FmaDots<2, Q>(q8, hd, kt, s);
      break;
    case 3:
      FmaDots<3, Q>(q8, hd, kt, s);
      break;
    case 4:
      FmaDots<4, Q>(q8, hd, kt, s);
      break;
    case 5:
      FmaDots<5, Q>(q8, hd, kt, s);
      break;
    case 6:
      FmaDots<6, Q>(q8, hd, kt, s);
      break;
    case 7:
      FmaDots<7, Q>(q8, hd, kt, s);
      break;
    default:
      FmaDots<8, Q>(q8, hd, kt, s);
      break;
  }
}

}  // namespace

void DotsBlockAvx512(const double* const* q8, int nq, int hd, const double* kt, int groups,
                     const bool* fast, int128* dots) {
  alignas(64) double s[kMaxBlockQueries * kPosBlock], f[8];
  switch (nq) {
    case 1:
      FmaDotsQ<1>(q8, hd, kt, groups, s);
      break;
    case 2:
      FmaDotsQ<2>(q8, hd, kt, groups, s);
      break;
    default:
      FmaDotsQ<3>(q8, hd, kt, groups, s);
      break;
  }
  for (int i = 0; i < nq; ++i) {
    const double* si = s + i * kPosBlock;
    int128* di = dots + i * kPosBlock;
    for (int g = 0; g < groups; ++g) {
      if (fast[i * (kPosBlock / 8) + g]) {
        // Every partial sum is exact (the caller's bound): s is the dot.
        for (int l = 0; l < 8; ++l) di[8 * g + l] = ExactDots(si[8 * g + l]);
        continue;
      }
      // Each product split into floor and fraction, both summed exactly (llm_attention.cc).
      const double* col = kt + 8 * g;
      const double* qi = q8[i];
      __m512d i0 = _mm512_setzero_pd(), f0 = i0, i1 = i0, f1 = i0;
      for (int j = 0; j < hd; j += 2) {
        Split(_mm512_mul_pd(_mm512_set1_pd(qi[j]), _mm512_load_pd(col + j * kPosBlock)), i0, f0);
        Split(_mm512_mul_pd(_mm512_set1_pd(qi[j + 1]), _mm512_load_pd(col + (j + 1) * kPosBlock)),
              i1, f1);
      }
      alignas(64) double ints[8];
      _mm512_store_pd(ints, _mm512_add_pd(i0, i1));
      _mm512_store_pd(f, _mm512_add_pd(f0, f1));
      for (int l = 0; l < 8; ++l) di[8 * g + l] = SplitDots(ints[l], f[l]);
    }
  }
}

bool VBlockAvx512(const uint8_t* v, int64_t stride, int hd, int np, double* vb) {
  __mmask32 bad = 0;
  for (int p = 0; p < np; ++p) {
    const uint8_t* src = v + p * stride;
    double* dst = vb + p * hd;
    for (int c = 0; c < hd / 32; ++c) {
      const __m512i h = _mm512_loadu_si512(src + 64 * c);
      bad |= _mm512_cmpeq_epi16_mask(_mm512_and_si512(h, _mm512_set1_epi16(0x7C00)),
                                     _mm512_set1_epi16(0x7C00));
      const __m512 lo = _mm512_cvtph_ps(_mm512_castsi512_si256(h));
      const __m512 hi = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(h, 1));
      _mm512_store_pd(dst + 32 * c, _mm512_cvtps_pd(_mm512_castps512_ps256(lo)));
      _mm512_store_pd(
          dst + 32 * c + 8,
          _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(lo), 1))));
      _mm512_store_pd(dst + 32 * c + 16, _mm512_cvtps_pd(_mm512_castps512_ps256(hi)));
      _mm512_store_pd(
          dst + 32 * c + 24,
          _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(hi), 1))));
    }
  }
  return bad == 0;
}

namespace {

template <int kChunks>
void WeightedVBlock(const int64_t* w, const double* vb, int hd, int np, double* ints,
                    double* fracs) {
  const int chunks = kChunks > 0 ? kChunks : hd / 8;
  __m512d si[kChunks > 0 ? kChunks : 64], sf[kChunks > 0 ? kChunks : 64];
  for (int c = 0; c < chunks; ++c) {
    si[c] = _mm512_loadu_pd(ints + 8 * c);
    sf[c] = _mm512_loadu_pd(fracs + 8 * c);
  }
  for (int p = 0; p < np; ++p) {
    if (w[p] == 0) continue;  // adds exactly nothing
    const __m512d ws = _mm512_set1_pd(static_cast<double>(w[p]) * 0x1p-16);
    const double* row = vb + p * hd;
#pragma GCC unroll 8
    for (int c = 0; c < chunks; ++c) {
      Split(_mm512_mul_pd(ws, _mm512_load_pd(row + 8 * c)), si[c], sf[c]);
    }
  }
  for (int c = 0; c < chunks; ++c) {
    _mm512_storeu_pd(ints + 8 * c, si[c]);
    _mm512_storeu_pd(fracs + 8 * c, sf[c]);
  }
}

}  // namespace

void WeightedVBlockAvx512(const int64_t* w, const double* vb, int hd, int np, double* ints,
                          double* fracs) {
  if (hd == 64) {
    WeightedVBlock<8>(w, vb, hd, np, ints, fracs);
  } else {
    WeightedVBlock<0>(w, vb, hd, np, ints, fracs);
  }
}

}  // namespace datanode::ops::cpu::llm_kernels

#pragma GCC pop_options
