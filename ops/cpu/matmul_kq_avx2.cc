// Copyright 2026 The datanode Authors.
//
// AVX2 kernel of the K-quant matmuls (kq_common.h has the packed layout and the bounds).
// Lanes are output columns (8 per ymm, a 16-column panel is two ymm). vpmaddubsw takes the
// u8 weight quants against A's s8 bytes:
// - Q4_K nibbles (0..15): pair sums <= 2 * 15 * 127 = 3810, a slice's 8 quads add in int16
//   (<= 30480, no wrap) before one vpmaddwd to int32; one 32-byte load gives a quad of two
//   slices (low / high nibbles).
// - Q6_K q6 = quant + 32 (0..63), packed one byte per weight for this kernel: pair sums
//   <= 2 * 63 * 127 = 16002, two quads add in int16 (<= 32004), so each half (4 quads) takes
//   two vpmaddwd; the halves start at -32 * (A's half sum) and end at isum0 / isum1.
// Per slice on the fast path, as in the AVX-512 kernel: Q4_K: f = (md << (ed - e0)) * sc by
// vpmulld, isum * ma in int32, vpmuldq to int64 (even / odd lanes), minus (ma * asum) * g,
// shifted by A's exponent offset, added; Q6_K: a super-block's ma' * (sc0 * isum0 + sc1 *
// isum1) summed first, times d's integer once (MulI64ByI32: AVX2 has no vpmullq). The output
// is rounded by RoundI64ToF32Bits.
#include <immintrin.h>

#include "ops/cpu/kq_common.h"
#include "ops/cpu/q8_tile_avx2.h"

#pragma GCC push_options
#pragma GCC target("avx2")

namespace datanode::ops::cpu::kq {
namespace {

inline __m256i LoadScales(const uint8_t* p, bool is_signed) {
  const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  return is_signed ? _mm256_cvtepi8_epi32(v) : _mm256_cvtepu8_epi32(v);
}

// u * d per int64 lane, d the low (signed) dword of each lane, |u| < 2^57, |d| < 2^31 and
// |u * d| < 2^63 (the caller's bound). u = uh * 2^26 + ul with ul = u & (2^26 - 1) and uh the
// low dword of u >> 26 (logical), which as a signed dword is floor(u / 2^26) since that fits 32
// bits; both vpmuldq products are exact, and (uh * d) << 26 + ul * d may wrap mod 2^64 on the
// way but ends at the exact product, which fits.
inline __m256i MulI64ByI32(__m256i u, __m256i d) {
  const __m256i uh = _mm256_srli_epi64(u, 26);
  const __m256i ul = _mm256_and_si256(u, _mm256_set1_epi64x((int64_t{1} << 26) - 1));
  return _mm256_add_epi64(_mm256_slli_epi64(_mm256_mul_epi32(uh, d), 26), _mm256_mul_epi32(ul, d));
}

inline __m256i LoadRows(const uint8_t* at) {
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(at));
}
inline void StoreRows(uint8_t* at, __m256i v) {
  _mm256_store_si256(reinterpret_cast<__m256i*>(at), v);
}

// kq_common.h's DecodeQ4KScales for one panel super-block, 32 bytes (2 rows) per ymm. The
// 16-bit shifts carry bits across bytes only into bits the masks drop.
inline void DecodeQ4KScalesAvx2(const uint8_t* packed, uint8_t* rows) {
  const __m256i low6 = _mm256_set1_epi8(63);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i top2 = _mm256_set1_epi8(0x30);
#pragma GCC unroll 2
  for (int h = 0; h < 2; ++h) {
    const __m256i v0 = LoadRows(packed + 32 * h);  // bytes 0..3 of each column
    const __m256i v1 = LoadRows(packed + 4 * kPanelCols + 32 * h);
    const __m256i v2 = LoadRows(packed + 8 * kPanelCols + 32 * h);
    StoreRows(rows + 32 * h, _mm256_and_si256(v0, low6));                   // scales 0..3
    StoreRows(rows + 8 * kPanelCols + 32 * h, _mm256_and_si256(v1, low6));  // mins 0..3
    StoreRows(rows + 4 * kPanelCols + 32 * h,                               // scales 4..7
              _mm256_or_si256(_mm256_and_si256(v2, low4),
                              _mm256_and_si256(_mm256_srli_epi16(v0, 2), top2)));
    StoreRows(rows + 12 * kPanelCols + 32 * h,  // mins 4..7
              _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v2, 4), low4),
                              _mm256_and_si256(_mm256_srli_epi16(v1, 2), top2)));
  }
}

template <int MR, bool kFast, bool kQ6>
void TileAvx2(const Job& job, int64_t r0, int64_t p) {
  const PackedKqWeights& w = *job.w;
  const q8::ARows& ar = job.rows->base;
  const int64_t ns = job.num_supers;
  const int64_t nb = ns * kKQuantSlices;
  constexpr int64_t kPsb = kQ6 ? kQ6KWideSuperBytes : kQ4KPanelSuperBytes;
  const uint8_t* wq = w.quants(p);
  // This super-block's Q4_K scale / min rows (DecodeQ4KScalesAvx2).
  alignas(32) uint8_t q4k_rows[kPanelSuperScaleBytes];
  const uint16_t* wd = w.raw_d(p);
  const uint16_t* wm = w.raw_m(p);
  __m256i base[2];
  q8::avx2::ColumnBases(w.col_exp(p), base);
  const uint8_t* arow[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) arow[i] = job.a + (r0 + i) * job.a_row_bytes + 2;
  const __m256i ones16 = _mm256_set1_epi16(1);
  __m256i acc_e[MR][2];
  __m256i acc_o[MR][2];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) acc_e[i][h] = acc_o[i][h] = _mm256_setzero_si256();
  }
  int128 acc128[kFast ? 1 : MR][kPanelCols] = {};
  __m256i dsh[2];
  __m256i msh[2];

  // Q6_K fast path: U = sum_b ma'_b * (sc0 * isum0 + sc1 * isum1) per column over the
  // super-block (ma' < 2^25, the integer part < 2^24: exact vpmuldq, |U| < 2^52), then
  // acc += U * (md << (ed - e0)) once per super-block (MulI64ByI32), as in the AVX-512 kernel.
  __m256i usum_e[kQ6 && kFast ? MR : 1][2];
  __m256i usum_o[kQ6 && kFast ? MR : 1][2];
  // One slice's int32 sums (Q4_K: isum[0]; Q6_K: the two halves) -> the accumulators.
  auto scale_slice = [&](int64_t s, int b, __m256i(&isum)[2][MR][2]) {
    const int64_t blk = s * kKQuantSlices + b;
    const uint8_t* sc = kQ6 ? w.scales(p, s) : q4k_rows;
    if constexpr (kFast && kQ6) {
#pragma GCC unroll 2
      for (int h = 0; h < 2; ++h) {
        const __m256i s0 = LoadScales(sc + 2 * b * kPanelCols + 8 * h, true);
        const __m256i s1 = LoadScales(sc + (2 * b + 1) * kPanelCols + 8 * h, true);
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
          const int64_t at = (r0 + i) * nb + blk;
          const __m256i ma = _mm256_set1_epi32(static_cast<int32_t>(ar.ma_shifted[at]));
          const __m256i v = _mm256_add_epi32(_mm256_mullo_epi32(isum[0][i][h], s0),
                                             _mm256_mullo_epi32(isum[1][i][h], s1));
          usum_e[i][h] = _mm256_add_epi64(usum_e[i][h], _mm256_mul_epi32(v, ma));
          usum_o[i][h] =
              _mm256_add_epi64(usum_o[i][h], _mm256_mul_epi32(_mm256_srli_epi64(v, 32), ma));
        }
      }
    } else if constexpr (kFast) {
#pragma GCC unroll 2
      for (int h = 0; h < 2; ++h) {
        __m256i f0;
        __m256i f1;
        __m256i g;
        if constexpr (kQ6) {
          f0 = _mm256_mullo_epi32(LoadScales(sc + 2 * b * kPanelCols + 8 * h, true), dsh[h]);
          f1 = _mm256_mullo_epi32(LoadScales(sc + (2 * b + 1) * kPanelCols + 8 * h, true), dsh[h]);
        } else {
          f0 = _mm256_mullo_epi32(LoadScales(sc + b * kPanelCols + 8 * h, false), dsh[h]);
          g = _mm256_mullo_epi32(LoadScales(sc + (8 + b) * kPanelCols + 8 * h, false), msh[h]);
        }
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
          const int64_t at = (r0 + i) * nb + blk;
          const __m256i ma = _mm256_set1_epi32(ar.ma[at]);
          const __m256i p0 = _mm256_mullo_epi32(isum[0][i][h], ma);
          __m256i pe = _mm256_mul_epi32(p0, f0);
          __m256i po = _mm256_mul_epi32(_mm256_srli_epi64(p0, 32), _mm256_srli_epi64(f0, 32));
          if constexpr (kQ6) {
            const __m256i p1 = _mm256_mullo_epi32(isum[1][i][h], ma);
            pe = _mm256_add_epi64(pe, _mm256_mul_epi32(p1, f1));
            po = _mm256_add_epi64(
                po, _mm256_mul_epi32(_mm256_srli_epi64(p1, 32), _mm256_srli_epi64(f1, 32)));
          } else {
            // ma * asum: |.| <= 2047 * 4064 < 2^23.
            const __m256i qa = _mm256_set1_epi32(ar.ma[at] * ar.asum[at]);
            pe = _mm256_sub_epi64(pe, _mm256_mul_epi32(qa, g));
            po = _mm256_sub_epi64(po, _mm256_mul_epi32(qa, _mm256_srli_epi64(g, 32)));
          }
          const __m128i sh = _mm_cvtsi32_si128(ar.shift[at]);
          acc_e[i][h] = _mm256_add_epi64(acc_e[i][h], _mm256_sll_epi64(pe, sh));
          acc_o[i][h] = _mm256_add_epi64(acc_o[i][h], _mm256_sll_epi64(po, sh));
        }
      }
    } else {
      const uint16_t* rd = wd + s * kPanelCols;
      const uint16_t* rm = kQ6 ? nullptr : wm + s * kPanelCols;
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        alignas(32) int32_t i0[kPanelCols];
        alignas(32) int32_t i1[kPanelCols];
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) {
          _mm256_store_si256(reinterpret_cast<__m256i*>(i0 + 8 * h), isum[0][i][h]);
          if constexpr (kQ6)
            _mm256_store_si256(reinterpret_cast<__m256i*>(i1 + 8 * h), isum[1][i][h]);
        }
        const int64_t at = (r0 + i) * nb + blk;
        for (int c = 0; c < kPanelCols; ++c) {
          int32_t sc_isum;
          int32_t min_asum = 0;
          if constexpr (kQ6) {
            sc_isum = static_cast<int8_t>(sc[2 * b * kPanelCols + c]) * i0[c] +
                      static_cast<int8_t>(sc[(2 * b + 1) * kPanelCols + c]) * i1[c];
          } else {
            sc_isum = sc[b * kPanelCols + c] * i0[c];
            min_asum = sc[(8 + b) * kPanelCols + c] * ar.asum[at];
          }
          acc128[i][c] +=
              ExactSliceTerm(ar.ma[at], ar.ea[at], rd[c], kQ6 ? 0 : rm[c], sc_isum, min_asum);
        }
      }
    }
  };

  for (int64_t s = 0; s < ns; ++s) {
    if constexpr (!kQ6) DecodeQ4KScalesAvx2(w.scales(p, s), q4k_rows);
    if constexpr (kFast) {
#pragma GCC unroll 2
      for (int h = 0; h < 2; ++h) {
        dsh[h] = q8::avx2::DecodeScales(wd + s * kPanelCols + 8 * h, base[h]);
        if constexpr (!kQ6) msh[h] = q8::avx2::DecodeScales(wm + s * kPanelCols + 8 * h, base[h]);
      }
    }
    const uint8_t* wqs = wq + s * kPsb;
    if constexpr (kQ6) {
      if constexpr (kFast) {
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 2
          for (int h = 0; h < 2; ++h) usum_e[i][h] = usum_o[i][h] = _mm256_setzero_si256();
        }
      }
      for (int b = 0; b < kKQuantSlices; ++b) {
        const int64_t blk = s * kKQuantSlices + b;
        __m256i isum[2][MR][2];
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
          const int64_t at = (r0 + i) * nb + blk;
          const __m256i init[2] = {_mm256_set1_epi32(job.rows->init_lo[at]),
                                   _mm256_set1_epi32(job.rows->init_hi[at])};
#pragma GCC unroll 2
          for (int half = 0; half < 2; ++half) {
#pragma GCC unroll 2
            for (int h = 0; h < 2; ++h) isum[half][i][h] = init[half];
          }
        }
        // Quads 2 t and 2 t + 1 add in int16, then one vpmaddwd into half t / 2.
#pragma GCC unroll 4
        for (int t = 0; t < 4; ++t) {
          __m256i wv[2][2];
#pragma GCC unroll 2
          for (int u = 0; u < 2; ++u) {
#pragma GCC unroll 2
            for (int h = 0; h < 2; ++h) {
              wv[u][h] = _mm256_load_si256(
                  reinterpret_cast<const __m256i*>(wqs + (b * 8 + 2 * t + u) * 64 + 32 * h));
            }
          }
#pragma GCC unroll 16
          for (int i = 0; i < MR; ++i) {
            const uint8_t* ab = arow[i] + blk * kQ8_0BlockBytes + 8 * t;
            const __m256i a0 = _mm256_set1_epi32(q8::LoadI32(ab));
            const __m256i a1 = _mm256_set1_epi32(q8::LoadI32(ab + 4));
#pragma GCC unroll 2
            for (int h = 0; h < 2; ++h) {
              const __m256i s16 = _mm256_add_epi16(_mm256_maddubs_epi16(wv[0][h], a0),
                                                   _mm256_maddubs_epi16(wv[1][h], a1));
              isum[t / 2][i][h] =
                  _mm256_add_epi32(isum[t / 2][i][h], _mm256_madd_epi16(s16, ones16));
            }
          }
        }
        scale_slice(s, b, isum);
      }
      if constexpr (kFast) {
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) {
          const __m256i d_odd = _mm256_srli_epi64(dsh[h], 32);
#pragma GCC unroll 16
          for (int i = 0; i < MR; ++i) {
            acc_e[i][h] = _mm256_add_epi64(acc_e[i][h], MulI64ByI32(usum_e[i][h], dsh[h]));
            acc_o[i][h] = _mm256_add_epi64(acc_o[i][h], MulI64ByI32(usum_o[i][h], d_odd));
          }
        }
      }
    } else {
      const __m256i low4 = _mm256_set1_epi8(0x0F);
      for (int c = 0; c < kKQuantSlices / 2; ++c) {
        const int64_t blk = s * kKQuantSlices + 2 * c;
        __m256i s16e[MR][2];
        __m256i s16o[MR][2];
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 2
          for (int h = 0; h < 2; ++h) s16e[i][h] = s16o[i][h] = _mm256_setzero_si256();
        }
#pragma GCC unroll 8
        for (int q = 0; q < 8; ++q) {
          __m256i wlo[2];
          __m256i whi[2];
#pragma GCC unroll 2
          for (int h = 0; h < 2; ++h) {
            const __m256i v = _mm256_load_si256(
                reinterpret_cast<const __m256i*>(wqs + (c * 8 + q) * 64 + 32 * h));
            wlo[h] = _mm256_and_si256(v, low4);
            whi[h] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
          }
#pragma GCC unroll 16
          for (int i = 0; i < MR; ++i) {
            const uint8_t* ab = arow[i] + blk * kQ8_0BlockBytes + q * 4;
            const __m256i ae = _mm256_set1_epi32(q8::LoadI32(ab));
            const __m256i ao = _mm256_set1_epi32(q8::LoadI32(ab + kQ8_0BlockBytes));
#pragma GCC unroll 2
            for (int h = 0; h < 2; ++h) {
              s16e[i][h] = _mm256_add_epi16(s16e[i][h], _mm256_maddubs_epi16(wlo[h], ae));
              s16o[i][h] = _mm256_add_epi16(s16o[i][h], _mm256_maddubs_epi16(whi[h], ao));
            }
          }
        }
        __m256i ie[2][MR][2];  // slice 2 c; only [0] is read for Q4_K
        __m256i io[2][MR][2];  // slice 2 c + 1
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 2
          for (int h = 0; h < 2; ++h) {
            ie[0][i][h] = _mm256_madd_epi16(s16e[i][h], ones16);
            io[0][i][h] = _mm256_madd_epi16(s16o[i][h], ones16);
          }
        }
        scale_slice(s, 2 * c, ie);
        scale_slice(s, 2 * c + 1, io);
      }
    }
  }

  const int64_t valid = std::min<int64_t>(kPanelCols, job.n - p * kPanelCols);
  const int32_t* ce = w.col_exp(p);
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    uint8_t* out = job.out + ((r0 + i) * job.n + p * kPanelCols) * 4;
    if constexpr (kFast) {
      q8::avx2::StoreFastRow(acc_e[i], acc_o[i], ar.row_exp[r0 + i], ce, valid, out);
    } else {
      q8::StoreExactRow(acc128[i], valid, out);
    }
    if (job.exact != nullptr) {
      uint8_t* exact = job.exact + ((r0 + i) * job.n + p * kPanelCols) * 16;
      if constexpr (kFast) {
        q8::avx2::StoreFastExactSums(acc_e[i], acc_o[i], ar.row_exp[r0 + i], ce, valid, exact);
      } else {
        q8::StoreSlowExactSums(acc128[i], valid, exact);
      }
    }
  }
}

template <bool kQ6>
void RunAvx2(const Job& job, int64_t r0, int64_t r1, int64_t p0, int64_t p1) {
  constexpr int kMr = 2;
  for (int64_t p = p0; p < p1; ++p) {
    for (int64_t r = r0; r < r1; r += kMr) {
      const int rows = static_cast<int>(std::min<int64_t>(kMr, r1 - r));
      const bool fast = TileIsFast(job, r, r + rows, p, p + 1);
      if (rows == 2) {
        fast ? TileAvx2<2, true, kQ6>(job, r, p) : TileAvx2<2, false, kQ6>(job, r, p);
      } else {
        fast ? TileAvx2<1, true, kQ6>(job, r, p) : TileAvx2<1, false, kQ6>(job, r, p);
      }
    }
  }
}

}  // namespace

void RunTilesAvx2(const Job& job, int64_t r0, int64_t r1, int64_t p0, int64_t p1) {
  if (job.w->is_q6()) {
    RunAvx2<true>(job, r0, r1, p0, p1);
  } else {
    RunAvx2<false>(job, r0, r1, p0, p1);
  }
}

}  // namespace datanode::ops::cpu::kq

#pragma GCC pop_options
