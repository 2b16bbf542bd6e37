// Copyright 2026 The datanode Authors.
//
// AVX-512 VNNI kernel of the Q8_0-family matmul. Q8_0 weights are packed as u8 = w + 128
// with 16 output columns per zmm (4 k-bytes each), A's 4 k-bytes are broadcast as s8, and
// vpdpbusd (non-saturating; |sum| < 2^22 here) accumulates per column. The +128 bias adds
// 128 * asum_b to every lane, removed by starting the block's accumulator at -128 * asum_b.
// Q4_0 / Q4_1 weights stay packed nibbles: one 64-byte load holds two quads, split by a
// mask and a shift into u8 0..15 operands; Q4_0's -8 is the start -8 * asum_b. The f16
// scales are decoded to mw' in registers (q8_tile_avx512.h's DecodeScales).
// Per block on the fast path (bounds in q8_common.h): vpmulld by ma (int32), vpmuldq by mw'
// (even / odd lanes, int32 x int32 -> int64), shift by A's exponent offset, add to int64
// lanes. The f16 decode and the output conversion (vcvtqq2ps under an explicit
// round-to-nearest-even, the one rounding, then an exact scaling by 2^(ea0 + e0)) are
// q8_tile_avx512.h's, shared with matmul_kq_avx512.cc, which states why they are exact.
#include <immintrin.h>

#include "ops/cpu/q8_common.h"
#include "ops/cpu/q8_tile_avx512.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")
// GCC 12's _mm512_undefined_epi32() (used inside _mm512_srli_epi64 etc.) self-initializes
// on purpose and trips -Wmaybe-uninitialized; no value of ours is uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace datanode::ops::cpu::q8 {
namespace {

template <int MR, int NC, bool kMin, bool kFast, bool kQ4>
void TileAvx512(const Job& job, int64_t r0, int64_t p) {
  const PackedQ8Weights& w = *job.w;
  const ARows& ar = *job.rows;
  const int64_t nb = job.num_blocks;
  constexpr int64_t kPbb = kQ4 ? kPanelBlockBytesQ4 : kPanelBlockBytes;
  const uint8_t* wq[NC];
  const uint16_t* wd[NC];
  const uint16_t* wmr[NC];
  __m512 inv[NC];
#pragma GCC unroll 16
  for (int j = 0; j < NC; ++j) {
    wq[j] = w.quants(p + j);
    wd[j] = w.raw_d(p + j);
    wmr[j] = w.raw_m(p + j);
    inv[j] = avx512::InverseColumnScales(w.col_exp(p + j));
  }
  const uint8_t* arow[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) arow[i] = job.a + (r0 + i) * job.a_row_bytes + 2;
  const int32_t* init = ar.init.data() + r0 * nb;
  const int32_t* asum = ar.asum.data() + r0 * nb;

  __m512i acc_e[MR][NC];
  __m512i acc_o[MR][NC];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 16
    for (int j = 0; j < NC; ++j) acc_e[i][j] = acc_o[i][j] = _mm512_setzero_si512();
  }
  int128 acc128[kFast ? 1 : MR][kFast ? 1 : NC * kPanelCols] = {};

  // One row (decode): two independent vpdpbusd chains per column panel, halving the
  // latency chain of a block; the int32 sums are added before use (wrap-free, |isum| < 2^22).
  constexpr bool kSplit = MR == 1;
  for (int64_t b = 0; b < nb; ++b) {
    __m512i acc[MR][NC];
    __m512i acc2[kSplit ? NC : 1];
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m512i start = _mm512_set1_epi32(init[i * nb + b]);
#pragma GCC unroll 16
      for (int j = 0; j < NC; ++j) acc[i][j] = start;
    }
#pragma GCC unroll 16
    for (int j = 0; j < (kSplit ? NC : 1); ++j) acc2[j] = _mm512_setzero_si512();
    if constexpr (kQ4) {
      const __m512i low4 = _mm512_set1_epi8(0x0F);
#pragma GCC unroll 16
      for (int qq = 0; qq < kQuadsPerBlock / 2; ++qq) {
        __m512i wlo[NC];
        __m512i whi[NC];
#pragma GCC unroll 16
        for (int j = 0; j < NC; ++j) {
          const __m512i v = _mm512_load_si512(wq[j] + b * kPbb + qq * 64);
          wlo[j] = _mm512_and_si512(v, low4);
          whi[j] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
        }
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
          const uint8_t* ab = arow[i] + b * kQ8_0BlockBytes;
          const __m512i alo = _mm512_set1_epi32(LoadI32(ab + qq * 4));
          const __m512i ahi = _mm512_set1_epi32(LoadI32(ab + 16 + qq * 4));
#pragma GCC unroll 16
          for (int j = 0; j < NC; ++j) {
            acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], wlo[j], alo);
            if constexpr (kSplit) {
              acc2[j] = _mm512_dpbusd_epi32(acc2[j], whi[j], ahi);
            } else {
              acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], whi[j], ahi);
            }
          }
        }
      }
    } else {
#pragma GCC unroll 16
      for (int q = 0; q < kQuadsPerBlock; ++q) {
        __m512i wv[NC];
#pragma GCC unroll 16
        for (int j = 0; j < NC; ++j) wv[j] = _mm512_load_si512(wq[j] + b * kPbb + q * 64);
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
          const __m512i av = _mm512_set1_epi32(LoadI32(arow[i] + b * kQ8_0BlockBytes + q * 4));
#pragma GCC unroll 16
          for (int j = 0; j < NC; ++j) {
            if (kSplit && q % 2 == 1) {
              acc2[j] = _mm512_dpbusd_epi32(acc2[j], wv[j], av);
            } else {
              acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], wv[j], av);
            }
          }
        }
      }
    }
    if constexpr (kSplit) {
#pragma GCC unroll 16
      for (int j = 0; j < NC; ++j) acc[0][j] = _mm512_add_epi32(acc[0][j], acc2[j]);
    }
    if constexpr (kFast) {
#pragma GCC unroll 16
      for (int j = 0; j < NC; ++j) {
        const __m512i s = avx512::DecodeScales(wd[j] + b * kPanelCols, inv[j]);
        const __m512i s_odd = _mm512_srli_epi64(s, 32);
        __m512i mm = _mm512_setzero_si512();
        __m512i mm_odd = mm;
        if constexpr (kMin) {
          mm = avx512::DecodeScales(wmr[j] + b * kPanelCols, inv[j]);
          mm_odd = _mm512_srli_epi64(mm, 32);
        }
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
          // isum * ma in int32 (|.| <= 516128 * 2047 < 2^30), times mw' in int64, then
          // << (ea - ea0): the same integer as isum * mw' * ma', each term inside the int64
          // bound of the fast path.
          const int64_t at = (r0 + i) * nb + b;
          const __m512i prod = _mm512_mullo_epi32(acc[i][j], _mm512_set1_epi32(ar.ma[at]));
          __m512i pe = _mm512_mul_epi32(prod, s);
          __m512i po = _mm512_mul_epi32(_mm512_srli_epi64(prod, 32), s_odd);
          if constexpr (kMin) {
            // ma * asum: |.| <= 2047 * 4064 < 2^23.
            const __m512i qa = _mm512_set1_epi32(ar.ma[at] * asum[i * nb + b]);
            pe = _mm512_add_epi64(pe, _mm512_mul_epi32(qa, mm));
            po = _mm512_add_epi64(po, _mm512_mul_epi32(qa, mm_odd));
          }
          const __m128i sh = _mm_cvtsi32_si128(ar.shift[at]);
          acc_e[i][j] = _mm512_add_epi64(acc_e[i][j], _mm512_sll_epi64(pe, sh));
          acc_o[i][j] = _mm512_add_epi64(acc_o[i][j], _mm512_sll_epi64(po, sh));
        }
      }
    } else {
#pragma GCC unroll 16
      for (int j = 0; j < NC; ++j) {
        const uint16_t* rd = w.raw_d(p + j) + b * kPanelCols;
        const uint16_t* rm = kMin ? w.raw_m(p + j) + b * kPanelCols : nullptr;
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
          alignas(64) int32_t isum[kPanelCols];
          _mm512_store_si512(isum, acc[i][j]);
          const int64_t at = (r0 + i) * nb + b;
          for (int c = 0; c < kPanelCols; ++c) {
            acc128[i][j * kPanelCols + c] += ExactBlockTerm(
                ar.ma[at], ar.ea[at], ar.asum[at], rd[c], kMin ? rm + c : nullptr, isum[c]);
          }
        }
      }
    }
  }

#pragma GCC unroll 16
  for (int j = 0; j < NC; ++j) {
    const int64_t valid = std::min<int64_t>(kPanelCols, job.n - (p + j) * kPanelCols);
    if (valid <= 0) break;
    const avx512::PanelOut po = avx512::PreparePanelOut(w.col_exp(p + j), valid);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      uint8_t* out = job.out + ((r0 + i) * job.n + (p + j) * kPanelCols) * 4;
      if constexpr (kFast) {
        avx512::StoreFastRow(po, acc_e[i][j], acc_o[i][j], ar.row_exp[r0 + i], out);
      } else {
        StoreExactRow(acc128[i] + j * kPanelCols, valid, out);
      }
      if (job.exact != nullptr) {
        uint8_t* exact = job.exact + ((r0 + i) * job.n + (p + j) * kPanelCols) * 16;
        if constexpr (kFast) {
          avx512::StoreFastExactSums(acc_e[i][j], acc_o[i][j], ar.row_exp[r0 + i], w.col_exp(p + j),
                                     valid, exact);
        } else {
          StoreSlowExactSums(acc128[i] + j * kPanelCols, valid, exact);
        }
      }
    }
  }
}

template <int MR, int NC, bool kMin>
void Tile(const Job& job, int64_t r0, int64_t p) {
  const bool q4 = job.w->is_q4();
  if (TileIsFast(job, r0, r0 + MR, p, p + NC)) {
    q4 ? TileAvx512<MR, NC, kMin, true, true>(job, r0, p)
       : TileAvx512<MR, NC, kMin, true, false>(job, r0, p);
  } else {
    q4 ? TileAvx512<MR, NC, kMin, false, true>(job, r0, p)
       : TileAvx512<MR, NC, kMin, false, false>(job, r0, p);
  }
}

template <int NC, bool kMin>
void RowsAvx512(const Job& job, int64_t r0, int64_t r1, int64_t p) {
  constexpr int kMr = 4;
  int64_t r = r0;
  for (; r + kMr <= r1; r += kMr) Tile<kMr, NC, kMin>(job, r, p);
  switch (r1 - r) {
    case 3:
      Tile<3, NC, kMin>(job, r, p);
      break;
    case 2:
      Tile<2, NC, kMin>(job, r, p);
      break;
    case 1:
      Tile<1, NC, kMin>(job, r, p);
      break;
    default:
      break;
  }
}

template <bool kMin>
void RunAvx512(const Job& job, int64_t r0, int64_t r1, int64_t p0, int64_t p1) {
  int64_t p = p0;
  if (r1 - r0 == 1) {
    // Decode: one row, four panels (64 columns) per tile, so the weight stream has more
    // independent work per A block load.
    constexpr int kNcDecode = 4;
    for (; p + kNcDecode <= p1; p += kNcDecode) Tile<1, kNcDecode, kMin>(job, r0, p);
  }
  constexpr int kNc = 2;
  for (; p + kNc <= p1; p += kNc) RowsAvx512<kNc, kMin>(job, r0, r1, p);
  if (p < p1) RowsAvx512<1, kMin>(job, r0, r1, p);
}

}  // namespace

void RunTilesAvx512(const Job& job, int64_t r0, int64_t r1, int64_t p0, int64_t p1) {
  if (job.w->has_min()) {
    RunAvx512<true>(job, r0, r1, p0, p1);
  } else {
    RunAvx512<false>(job, r0, r1, p0, p1);
  }
}

}  // namespace datanode::ops::cpu::q8

#pragma GCC pop_options
