// Copyright 2026 The datanode Authors.
//
// AVX-512 VNNI kernel of kMatMulQ8_0Q6_K over the 6-bit packed panels (kq_common.h has the
// layout and the exactness bounds). 16 output columns per zmm, A's 4 k-bytes broadcast as s8,
// vpdpbusd (non-saturating) against u8 q6 = quant + 32.
//
// Why 6 bits and this order: decode streams the weights once per token, so bytes are time.
// Q6_K kept as one byte per weight read 8.56 bits per weight; the planes read 6.56. One quad
// (4 values of all 8 slices of 16 columns) is 384 contiguous bytes: 2 loads of the high planes
// and 4 of the low planes rebuild its 8 q6 vectors with 3 shifts per high plane, an AND (and a
// shift for the odd slices) per low plane and one ternary-logic OR each, about 3.5 vector ops
// per 64 weights on top of the dot product. Each slice's half (values 0..15 / 16..31, quads
// 0..3 / 4..7) accumulates separately, starting at -32 * (A's half sum), so it ends at
// isum0 / isum1 of the spec's quant.
//
// Decode (one row) rebuilds each quad as it streams in and runs all 8 slices of a half at once.
// Several rows (prefill) would pay that rebuild per tile of rows, which made M = 16 about 30%
// slower than the byte layout; instead each panel is widened once per call into a per-thread
// byte copy ([super-block][slice][quad][64 B], L2-resident) that every row tile then reads
// as one byte per weight, four rows at a time.
//
// Fast path, per super-block and column: U = sum over slices b and halves h of
// ma'_b * (sc_bh * isum_bh), each product one vpmuldq pair (ma' < 2^27, |sc * isum| <=
// 128 * 16 * 127 * 32 < 2^23, both exact), |U| < 16 * 2^50 = 2^54; then acc += U * (md << (ed
// - e0)) once per super-block (vpmullq). U * d' is a sum of the spec's terms, so it is within
// the fast-path bound <= 2^63 - 1 (kq_common.h) and the low 64 bits vpmullq keeps are exact;
// every partial sum of acc is bounded the same way. The slow path adds each slice half's
// term (ExactSliceTerm is linear in sc * isum) in int128 with the reference's LSB.
#include <immintrin.h>

#include "ops/cpu/kq_common.h"
#include "ops/cpu/q8_tile_avx512.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")
// GCC 12's _mm512_undefined_epi32() (inside _mm512_srli_epi64, _mm512_srai_epi64 etc.)
// trips -W(maybe-)uninitialized on purpose; no value of ours is uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace datanode::ops::cpu::kq {
namespace {

using q8::avx512::Acc64;
using q8::avx512::MulAdd;

// ternarylogic imm for a | (b & c).
constexpr int kOrMasked = 0xF8;

// The q6 vectors of quad `quad` (kq_common.h's plane order) for the 4 slices 4 g .. 4 g + 3:
// slice b's low 4 bits from low plane b / 2 (nibble b % 2), its top 2 bits from high plane g
// (bits 2 (b % 4)) moved to bits 4..5. The 16-bit shifts carry bits across byte boundaries
// only into bits the masks drop (left by 4 / 2 into bits 0..3, right by 2 into bits 6..7).
inline void DecodeQuadGroup(const uint8_t* quad, int g, __m512i* wv) {
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i top2 = _mm512_set1_epi8(0x30);
  const __m512i h = _mm512_load_si512(quad + g * kPanelVecBytes);
  const __m512i high[4] = {_mm512_slli_epi16(h, 4), _mm512_slli_epi16(h, 2), h,
                           _mm512_srli_epi16(h, 2)};
#pragma GCC unroll 2
  for (int pair = 0; pair < 2; ++pair) {
    const __m512i n = _mm512_load_si512(quad + kQ6KLowPlane + (2 * g + pair) * kPanelVecBytes);
    const __m512i lo_even = _mm512_and_si512(n, low4);
    const __m512i lo_odd = _mm512_and_si512(_mm512_srli_epi16(n, 4), low4);
    wv[2 * pair] = _mm512_ternarylogic_epi32(lo_even, high[2 * pair], top2, kOrMasked);
    wv[2 * pair + 1] = _mm512_ternarylogic_epi32(lo_odd, high[2 * pair + 1], top2, kOrMasked);
  }
}

// Sums of one row's slice half, scaled (fast path: into usum; slow path: into acc128).
template <bool kFast>
inline void ScaleHalf(const Job& job, int64_t at, __m512i isum, const uint8_t* sc_row,
                      const uint16_t* rd, Acc64* usum, int128* acc128) {
  const q8::ARows& ar = job.rows->base;
  if constexpr (kFast) {
    const __m512i scale =
        _mm512_cvtepi8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(sc_row)));
    MulAdd(_mm512_mullo_epi32(isum, scale),
           _mm512_set1_epi32(static_cast<int32_t>(ar.ma_shifted[at])), usum);
  } else {
    alignas(64) int32_t sums[kPanelCols];
    _mm512_store_si512(sums, isum);
    for (int c = 0; c < kPanelCols; ++c) {
      acc128[c] += ExactSliceTerm(ar.ma[at], ar.ea[at], rd[c], 0,
                                  static_cast<int8_t>(sc_row[c]) * sums[c], 0);
    }
  }
}

// Rows [r0, r0 + MR) of panel p. kWide: the quants come from `wide` (WidenPanel's copy), a
// slice at a time with both halves; else from the planes, all 8 slices of a half at a time.
template <int MR, bool kWide, bool kFast>
void TileQ6(const Job& job, int64_t r0, int64_t p, const uint8_t* wide) {
  const PackedKqWeights& w = *job.w;
  const q8::ARows& ar = job.rows->base;
  const int64_t ns = job.num_supers;
  const int64_t nb = ns * kKQuantSlices;
  const uint8_t* wq = w.quants(p);
  const uint16_t* wd = w.raw_d(p);
  const __m512 inv = q8::avx512::InverseColumnScales(w.col_exp(p));
  const uint8_t* arow[MR];
#pragma GCC unroll 4
  for (int i = 0; i < MR; ++i) arow[i] = job.a + (r0 + i) * job.a_row_bytes + 2;
  auto a_quad = [&](int i, int64_t blk, int q) {
    return _mm512_set1_epi32(q8::LoadI32(arow[i] + blk * kQ8_0BlockBytes + q * 4));
  };

  Acc64 acc[MR];
#pragma GCC unroll 4
  for (int i = 0; i < MR; ++i) acc[i].e = acc[i].o = _mm512_setzero_si512();
  int128 acc128[kFast ? 1 : MR][kFast ? 1 : kPanelCols] = {};

  for (int64_t s = 0; s < ns; ++s) {
    const uint8_t* sc = w.scales(p, s);
    const uint16_t* rd = wd + s * kPanelCols;
    Acc64 usum[MR];
#pragma GCC unroll 4
    for (int i = 0; i < MR; ++i) usum[i].e = usum[i].o = _mm512_setzero_si512();
    auto scale = [&](int i, int b, int half, __m512i isum) {
      ScaleHalf<kFast>(job, (r0 + i) * nb + s * kKQuantSlices + b, isum,
                       sc + (2 * b + half) * kPanelCols, rd, &usum[i], kFast ? nullptr : acc128[i]);
    };
    if constexpr (kWide) {
      const uint8_t* super = wide + s * kQ6KWideSuperBytes;
      for (int b = 0; b < kKQuantSlices; ++b) {
        const int64_t blk = s * kKQuantSlices + b;
        __m512i isum[2][MR];
#pragma GCC unroll 4
        for (int i = 0; i < MR; ++i) {
          isum[0][i] = _mm512_set1_epi32(job.rows->init_lo[(r0 + i) * nb + blk]);
          isum[1][i] = _mm512_set1_epi32(job.rows->init_hi[(r0 + i) * nb + blk]);
        }
#pragma GCC unroll 8
        for (int q = 0; q < 8; ++q) {
          const __m512i wv = _mm512_load_si512(super + (b * 8 + q) * kPanelVecBytes);
#pragma GCC unroll 4
          for (int i = 0; i < MR; ++i) {
            isum[q / 4][i] = _mm512_dpbusd_epi32(isum[q / 4][i], wv, a_quad(i, blk, q));
          }
        }
#pragma GCC unroll 4
        for (int i = 0; i < MR; ++i) {
          scale(i, b, 0, isum[0][i]);
          scale(i, b, 1, isum[1][i]);
        }
      }
    } else {
      const uint8_t* super = wq + s * kQ6KPanelSuperBytes;
      for (int half = 0; half < 2; ++half) {
        const int32_t* init = (half == 0 ? job.rows->init_lo : job.rows->init_hi).data();
        __m512i isum[MR][kKQuantSlices];
#pragma GCC unroll 4
        for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 8
          for (int b = 0; b < kKQuantSlices; ++b) {
            isum[i][b] = _mm512_set1_epi32(init[(r0 + i) * nb + s * kKQuantSlices + b]);
          }
        }
#pragma GCC unroll 4
        for (int qq = 0; qq < 4; ++qq) {
          const int q = 4 * half + qq;
          __m512i wv[kKQuantSlices];
          DecodeQuadGroup(super + q * kQ6KQuadBytes, 0, wv);
          DecodeQuadGroup(super + q * kQ6KQuadBytes, 1, wv + 4);
#pragma GCC unroll 4
          for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 8
            for (int b = 0; b < kKQuantSlices; ++b) {
              isum[i][b] =
                  _mm512_dpbusd_epi32(isum[i][b], wv[b], a_quad(i, s * kKQuantSlices + b, q));
            }
          }
        }
#pragma GCC unroll 4
        for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 8
          for (int b = 0; b < kKQuantSlices; ++b) scale(i, b, half, isum[i][b]);
        }
      }
    }
    if constexpr (kFast) {
      const __m512i dsh = q8::avx512::DecodeScales(rd, inv);
      // d's int32 lanes sign-extended to the even / odd int64 lanes.
      const __m512i d_e = _mm512_srai_epi64(_mm512_slli_epi64(dsh, 32), 32);
      const __m512i d_o = _mm512_srai_epi64(dsh, 32);
#pragma GCC unroll 4
      for (int i = 0; i < MR; ++i) {
        acc[i].e = _mm512_add_epi64(acc[i].e, _mm512_mullo_epi64(usum[i].e, d_e));
        acc[i].o = _mm512_add_epi64(acc[i].o, _mm512_mullo_epi64(usum[i].o, d_o));
      }
    }
  }

  const int64_t valid = std::min<int64_t>(kPanelCols, job.n - p * kPanelCols);
  const q8::avx512::PanelOut po = q8::avx512::PreparePanelOut(w.col_exp(p), valid);
#pragma GCC unroll 4
  for (int i = 0; i < MR; ++i) {
    uint8_t* out = job.out + ((r0 + i) * job.n + p * kPanelCols) * 4;
    if constexpr (kFast) {
      q8::avx512::StoreFastRow(po, acc[i].e, acc[i].o, ar.row_exp[r0 + i], out);
    } else {
      q8::StoreExactRow(acc128[i], valid, out);
    }
    if (job.exact != nullptr) {
      uint8_t* exact = job.exact + ((r0 + i) * job.n + p * kPanelCols) * 16;
      if constexpr (kFast) {
        q8::avx512::StoreFastExactSums(acc[i].e, acc[i].o, ar.row_exp[r0 + i], w.col_exp(p), valid,
                                       exact);
      } else {
        q8::StoreSlowExactSums(acc128[i], valid, exact);
      }
    }
  }
}

template <int MR, bool kWide>
void Tile(const Job& job, int64_t r0, int64_t p, const uint8_t* wide) {
  if (TileIsFast(job, r0, r0 + MR, p, p + 1)) {
    TileQ6<MR, kWide, true>(job, r0, p, wide);
  } else {
    TileQ6<MR, kWide, false>(job, r0, p, wide);
  }
}

// Panel p's quants as one byte per weight (kQ6KWideSuperBytes' layout).
void WidenPanel(const PackedKqWeights& w, int64_t p, int64_t ns, uint8_t* wide) {
  const uint8_t* planes = w.quants(p);
  for (int64_t s = 0; s < ns; ++s) {
    uint8_t* super = wide + s * kQ6KWideSuperBytes;
    for (int q = 0; q < 8; ++q) {
      __m512i wv[kKQuantSlices];
      const uint8_t* quad = planes + s * kQ6KPanelSuperBytes + q * kQ6KQuadBytes;
      DecodeQuadGroup(quad, 0, wv);
      DecodeQuadGroup(quad, 1, wv + 4);
#pragma GCC unroll 8
      for (int b = 0; b < kKQuantSlices; ++b) {
        _mm512_store_si512(super + (b * 8 + q) * kPanelVecBytes, wv[b]);
      }
    }
  }
}

}  // namespace

void RunTilesQ6Avx512(const Job& job, int64_t r0, int64_t r1, int64_t p0, int64_t p1) {
  if (r1 - r0 == 1) {
    // Decode: one panel per tile; a half's 8 slices are 8 independent vpdpbusd chains.
    for (int64_t p = p0; p < p1; ++p) Tile<1, false>(job, r0, p, nullptr);
    return;
  }
  // Several rows: widen each panel once, then tiles of four rows (8 int32 sums, 8 int64
  // accumulators in registers).
  uint8_t* wide = WidenScratch(job.num_supers);
  constexpr int kMr = 4;
  for (int64_t p = p0; p < p1; ++p) {
    WidenPanel(*job.w, p, job.num_supers, wide);
    int64_t r = r0;
    for (; r + kMr <= r1; r += kMr) Tile<kMr, true>(job, r, p, wide);
    switch (r1 - r) {
      case 3:
        Tile<3, true>(job, r, p, wide);
        break;
      case 2:
        Tile<2, true>(job, r, p, wide);
        break;
      case 1:
        Tile<1, true>(job, r, p, wide);
        break;
      default:
        break;
    }
  }
}

}  // namespace datanode::ops::cpu::kq

#pragma GCC pop_options
