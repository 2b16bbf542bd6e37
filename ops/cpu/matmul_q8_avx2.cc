// Copyright 2026 The datanode Authors.
//
// AVX2 kernel of the Q8_0-family matmul. Lanes are output columns (8 per ymm, a panel of
// 16 is two ymm), so a block's integer sums land per column without horizontal adds:
// vpmaddubsw with the sign trick (|a| as u8, sign(w, a) as s8; pair sums <= 2 * 127 * 127
// = 32258, never saturating), vpmaddwd by 1 to int32. Per block (fast path, bounds in
// q8_common.h): p = isum * ma in int32 (|p| <= 516128 * 2047 < 2^30), then vpmuldq by
// mw' to int64 (even / odd lanes), shift by the A block's exponent offset, add.
// Q4_0 / Q4_1 weights stay packed nibbles (two quads per 32-byte load, split by a mask and
// a shift): vpmaddubsw takes them as u8 0..15 directly (pair sums <= 2 * 15 * 127), the
// block's 8 quads add in int16 (<= 8 * 3810 = 30480, no saturation) before one vpmaddwd,
// and Q4_0's -8 is the start -8 * asum_b. The f16 scales are decoded to mw' in registers
// (q8_tile_avx2.h, shared with matmul_kq_avx2.cc).
#include <immintrin.h>

#include "ops/cpu/q8_common.h"
#include "ops/cpu/q8_tile_avx2.h"

#pragma GCC push_options
#pragma GCC target("avx2")

namespace datanode::ops::cpu::q8 {
namespace {

template <int MR, bool kMin, bool kFast, bool kQ4>
void TileAvx2(const Job& job, int64_t r0, int64_t p) {
  const PackedQ8Weights& w = *job.w;
  const ARows& ar = *job.rows;
  const int64_t nb = job.num_blocks;
  constexpr int64_t kPbb = kQ4 ? kPanelBlockBytesQ4 : kPanelBlockBytes;
  const uint8_t* wq = w.quants(p);
  const uint16_t* wd = w.raw_d(p);
  const uint16_t* wmr = w.raw_m(p);
  __m256i base[2];
  avx2::ColumnBases(w.col_exp(p), base);
  const uint8_t* arow[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) arow[i] = job.a + (r0 + i) * job.a_row_bytes + 2;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc_e[MR][2];
  __m256i acc_o[MR][2];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 16
    for (int h = 0; h < 2; ++h) acc_e[i][h] = acc_o[i][h] = _mm256_setzero_si256();
  }
  int128 acc128[kFast ? 1 : MR][kPanelCols] = {};

  for (int64_t b = 0; b < nb; ++b) {
    __m256i acc[MR][2];
    const uint8_t* wb = wq + b * kPbb;
    if constexpr (kQ4) {
      const __m256i low4 = _mm256_set1_epi8(0x0F);
      __m256i s16[MR][2];
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) s16[i][0] = s16[i][1] = _mm256_setzero_si256();
#pragma GCC unroll 16
      for (int qq = 0; qq < kQuadsPerBlock / 2; ++qq) {
        __m256i wlo[2];
        __m256i whi[2];
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) {
          const __m256i v =
              _mm256_load_si256(reinterpret_cast<const __m256i*>(wb + qq * 64 + h * 32));
          wlo[h] = _mm256_and_si256(v, low4);
          whi[h] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
        }
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
          const uint8_t* ab = arow[i] + b * kQ8_0BlockBytes;
          const __m256i alo = _mm256_set1_epi32(LoadI32(ab + qq * 4));
          const __m256i ahi = _mm256_set1_epi32(LoadI32(ab + 16 + qq * 4));
#pragma GCC unroll 2
          for (int h = 0; h < 2; ++h) {
            s16[i][h] = _mm256_add_epi16(s16[i][h], _mm256_maddubs_epi16(wlo[h], alo));
            s16[i][h] = _mm256_add_epi16(s16[i][h], _mm256_maddubs_epi16(whi[h], ahi));
          }
        }
      }
      const __m256i ones16 = _mm256_set1_epi16(1);
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const __m256i start = _mm256_set1_epi32(ar.init[(r0 + i) * nb + b]);
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) {
          acc[i][h] = _mm256_add_epi32(start, _mm256_madd_epi16(s16[i][h], ones16));
        }
      }
    } else {
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
#pragma GCC unroll 16
      for (int q = 0; q < kQuadsPerBlock; ++q) {
        const __m256i w0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(wb + q * 64));
        const __m256i w1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(wb + q * 64 + 32));
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
          const __m256i av = _mm256_set1_epi32(LoadI32(arow[i] + b * kQ8_0BlockBytes + q * 4));
          const __m256i aa = _mm256_abs_epi8(av);
          acc[i][0] = _mm256_add_epi32(
              acc[i][0],
              _mm256_madd_epi16(_mm256_maddubs_epi16(aa, _mm256_sign_epi8(w0, av)), ones));
          acc[i][1] = _mm256_add_epi32(
              acc[i][1],
              _mm256_madd_epi16(_mm256_maddubs_epi16(aa, _mm256_sign_epi8(w1, av)), ones));
        }
      }
    }
    if constexpr (kFast) {
#pragma GCC unroll 16
      for (int h = 0; h < 2; ++h) {
        const __m256i s = avx2::DecodeScales(wd + b * 16 + h * 8, base[h]);
        const __m256i s_odd = _mm256_srli_epi64(s, 32);
        __m256i mm = _mm256_setzero_si256();
        __m256i mm_odd = mm;
        if constexpr (kMin) {
          mm = avx2::DecodeScales(wmr + b * 16 + h * 8, base[h]);
          mm_odd = _mm256_srli_epi64(mm, 32);
        }
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
          const int64_t at = (r0 + i) * nb + b;
          const __m256i prod = _mm256_mullo_epi32(acc[i][h], _mm256_set1_epi32(ar.ma[at]));
          __m256i pe = _mm256_mul_epi32(prod, s);
          __m256i po = _mm256_mul_epi32(_mm256_srli_epi64(prod, 32), s_odd);
          if constexpr (kMin) {
            // ma * asum: |.| <= 2047 * 4064 < 2^23.
            const __m256i qa = _mm256_set1_epi32(ar.ma[at] * ar.asum[at]);
            pe = _mm256_add_epi64(pe, _mm256_mul_epi32(qa, mm));
            po = _mm256_add_epi64(po, _mm256_mul_epi32(qa, mm_odd));
          }
          const __m128i sh = _mm_cvtsi32_si128(ar.shift[at]);
          acc_e[i][h] = _mm256_add_epi64(acc_e[i][h], _mm256_sll_epi64(pe, sh));
          acc_o[i][h] = _mm256_add_epi64(acc_o[i][h], _mm256_sll_epi64(po, sh));
        }
      }
    } else {
      const uint16_t* rd = w.raw_d(p) + b * kPanelCols;
      const uint16_t* rm = kMin ? w.raw_m(p) + b * kPanelCols : nullptr;
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        alignas(32) int32_t isum[kPanelCols];
        _mm256_store_si256(reinterpret_cast<__m256i*>(isum), acc[i][0]);
        _mm256_store_si256(reinterpret_cast<__m256i*>(isum + 8), acc[i][1]);
        const int64_t at = (r0 + i) * nb + b;
        for (int c = 0; c < kPanelCols; ++c) {
          acc128[i][c] += ExactBlockTerm(ar.ma[at], ar.ea[at], ar.asum[at], rd[c],
                                         kMin ? rm + c : nullptr, isum[c]);
        }
      }
    }
  }

  const int64_t valid = std::min<int64_t>(kPanelCols, job.n - p * kPanelCols);
  const int32_t* ce = w.col_exp(p);
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    uint8_t* out = job.out + ((r0 + i) * job.n + p * kPanelCols) * 4;
    if constexpr (kFast) {
      avx2::StoreFastRow(acc_e[i], acc_o[i], ar.row_exp[r0 + i], ce, valid, out);
    } else {
      StoreExactRow(acc128[i], valid, out);
    }
    if (job.exact != nullptr) {
      uint8_t* exact = job.exact + ((r0 + i) * job.n + p * kPanelCols) * 16;
      if constexpr (kFast) {
        avx2::StoreFastExactSums(acc_e[i], acc_o[i], ar.row_exp[r0 + i], ce, valid, exact);
      } else {
        StoreSlowExactSums(acc128[i], valid, exact);
      }
    }
  }
}

template <bool kMin, bool kQ4>
void RunAvx2(const Job& job, int64_t r0, int64_t r1, int64_t p0, int64_t p1) {
  constexpr int kMr = 2;
  for (int64_t p = p0; p < p1; ++p) {
    for (int64_t r = r0; r < r1; r += kMr) {
      const int rows = static_cast<int>(std::min<int64_t>(kMr, r1 - r));
      const bool fast = TileIsFast(job, r, r + rows, p, p + 1);
      if (rows == 2) {
        fast ? TileAvx2<2, kMin, true, kQ4>(job, r, p) : TileAvx2<2, kMin, false, kQ4>(job, r, p);
      } else {
        fast ? TileAvx2<1, kMin, true, kQ4>(job, r, p) : TileAvx2<1, kMin, false, kQ4>(job, r, p);
      }
    }
  }
}

}  // namespace

void RunTilesAvx2(const Job& job, int64_t r0, int64_t r1, int64_t p0, int64_t p1) {
  if (job.w->has_min()) {
    RunAvx2<true, true>(job, r0, r1, p0, p1);
  } else if (job.w->is_q4()) {
    RunAvx2<false, true>(job, r0, r1, p0, p1);
  } else {
    RunAvx2<false, false>(job, r0, r1, p0, p1);
  }
}

}  // namespace datanode::ops::cpu::q8

#pragma GCC pop_options
