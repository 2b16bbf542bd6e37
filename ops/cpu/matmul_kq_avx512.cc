// Copyright 2026 The datanode Authors.
//
// AVX-512 VNNI kernel of kMatMulQ8_0Q4_K (kq_common.h has the packed layout and the
// exactness bounds; Q6_K's is matmul_kq_q6_avx512.cc). 16 output columns per zmm, A's 4
// k-bytes broadcast as s8, vpdpbusd (non-saturating) accumulating u8 weight quants per
// column: one 64-byte load holds quad q of two slices (low / high nibbles), so a slice pair
// runs as two independent vpdpbusd chains; the nibbles are the spec's quants (no offset).
// The high nibbles are masked in place (u8 16 * nibble), their sum divided by 16 exactly.
// Fast path: per slice, v = sc * isum and min * asum, each times A's shifted mantissa ma' in
// one vpmuldq pair (even / odd lanes) into per-super-block int64 sums U and M; once per
// super-block, U times d's integer and M times dmin's (vpmullq) go into the accumulators
// (bounds at usum below). The
// output conversion and the f16 decode are q8_tile_avx512.h's (shared with
// matmul_q8_avx512.cc): vcvtqq2ps under explicit round-to-nearest-even (the one rounding),
// times 2^(ea0 + e0) exactly; MXCSR cannot matter.
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

// 16 scale bytes (one row of a panel's scale block) as int32 lanes.
inline __m512i LoadU8Scales(const uint8_t* p) {
  return _mm512_cvtepu8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(p)));
}

// kq_common.h's DecodeQ4KScales for one panel super-block, 4 rows (64 bytes) per zmm. The
// 16-bit shifts carry bits across bytes only into bits the masks drop.
inline void DecodeQ4KScalesAvx512(const uint8_t* packed, uint8_t* rows) {
  const __m512i v0 = _mm512_load_si512(packed);  // bytes 0..3 of each column
  const __m512i v1 = _mm512_load_si512(packed + 4 * kPanelCols);
  const __m512i v2 = _mm512_load_si512(packed + 8 * kPanelCols);
  const __m512i low6 = _mm512_set1_epi8(63);
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i top2 = _mm512_set1_epi8(0x30);
  constexpr int kOrMasked = 0xF8;                        // ternarylogic a | (b & c)
  _mm512_store_si512(rows, _mm512_and_si512(v0, low6));  // scales 0..3
  _mm512_store_si512(rows + 8 * kPanelCols, _mm512_and_si512(v1, low6));  // mins 0..3
  _mm512_store_si512(rows + 4 * kPanelCols,                               // scales 4..7
                     _mm512_ternarylogic_epi32(_mm512_and_si512(v2, low4), _mm512_srli_epi16(v0, 2),
                                               top2, kOrMasked));
  _mm512_store_si512(rows + 12 * kPanelCols,  // mins 4..7
                     _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(v2, 4), low4),
                                               _mm512_srli_epi16(v1, 2), top2, kOrMasked));
}

template <int MR, int NC, bool kFast>
void TileAvx512(const Job& job, int64_t r0, int64_t p) {
  const PackedKqWeights& w = *job.w;
  const q8::ARows& ar = job.rows->base;
  const int64_t ns = job.num_supers;
  const int64_t nb = ns * kKQuantSlices;
  constexpr int64_t kPsb = kQ4KPanelSuperBytes;
  const uint8_t* wq[NC];
  // This super-block's scale / min rows per panel (DecodeQ4KScalesAvx512).
  alignas(64) uint8_t wsc[NC][kPanelSuperScaleBytes];
  const uint16_t* wd[NC];
  const uint16_t* wm[NC];
  __m512 inv[NC];
#pragma GCC unroll 16
  for (int j = 0; j < NC; ++j) {
    wq[j] = w.quants(p + j);
    wd[j] = w.raw_d(p + j);
    wm[j] = w.raw_m(p + j);
    inv[j] = q8::avx512::InverseColumnScales(w.col_exp(p + j));
  }
  const uint8_t* arow[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) arow[i] = job.a + (r0 + i) * job.a_row_bytes + 2;

  Acc64 acc[MR][NC];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 16
    for (int j = 0; j < NC; ++j) acc[i][j].e = acc[i][j].o = _mm512_setzero_si512();
  }
  int128 acc128[kFast ? 1 : MR][kFast ? 1 : NC * kPanelCols] = {};

  // One slice's integer sums -> the accumulators.
  __m512i dsh[NC];
  __m512i msh[NC];
  // Fast path, per super-block and column: U = sum_b ma'_b * v_b with v_b = sc_b * isum_b and
  // M = sum_b ma'_b * (min_b * asum_b); then acc += U * (md << (ed - e0)) - M * (mm << (em - e0))
  // once per super-block (vpmullq). Each per-slice product is one vpmuldq pair, with no per-slice
  // weight factor or shift: ma' = ma << (ea - ea0) < 2^27 (the fast-path span is <= 16 for any K >=
  // 256: MaxFastSpan at 8 slices), |v_b| < 2^22 (63 * 60960), |min_b * asum_b| < 2^18, so every
  // vpmuldq is exact and |U|, |M| < 2^52. U * d' and M * m' are each a sum of the spec's terms, so
  // |.| <= the fast-path bound <= 2^63 - 1 (kq_common.h), and the low 64 bits that vpmullq keeps
  // are the exact values; every partial sum of acc is bounded the same way.
  Acc64 usum[kFast ? MR : 1][kFast ? NC : 1];
  Acc64 msum[kFast ? MR : 1][kFast ? NC : 1];
  auto scale_slice = [&](int64_t s, int b, __m512i(&isum)[MR][NC]) {
    const int64_t blk = s * kKQuantSlices + b;
    if constexpr (kFast) {
#pragma GCC unroll 16
      for (int j = 0; j < NC; ++j) {
        const uint8_t* sc = wsc[j];
        const __m512i s0 = LoadU8Scales(sc + b * kPanelCols);
        const __m512i mins = LoadU8Scales(sc + (8 + b) * kPanelCols);
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
          const int64_t at = (r0 + i) * nb + blk;
          const __m512i ma = _mm512_set1_epi32(static_cast<int32_t>(ar.ma_shifted[at]));
          MulAdd(_mm512_mullo_epi32(isum[i][j], s0), ma, &usum[i][j]);
          MulAdd(_mm512_mullo_epi32(mins, _mm512_set1_epi32(ar.asum[at])), ma, &msum[i][j]);
        }
      }
    } else {
#pragma GCC unroll 16
      for (int j = 0; j < NC; ++j) {
        const uint8_t* sc = wsc[j];
        const uint16_t* rd = wd[j] + s * kPanelCols;
        const uint16_t* rm = wm[j] + s * kPanelCols;
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
          alignas(64) int32_t i0[kPanelCols];
          _mm512_store_si512(i0, isum[i][j]);
          const int64_t at = (r0 + i) * nb + blk;
          for (int c = 0; c < kPanelCols; ++c) {
            acc128[i][j * kPanelCols + c] +=
                ExactSliceTerm(ar.ma[at], ar.ea[at], rd[c], rm[c], sc[b * kPanelCols + c] * i0[c],
                               sc[(8 + b) * kPanelCols + c] * ar.asum[at]);
          }
        }
      }
    }
  };

  for (int64_t s = 0; s < ns; ++s) {
#pragma GCC unroll 16
    for (int j = 0; j < NC; ++j) DecodeQ4KScalesAvx512(w.scales(p + j, s), wsc[j]);
    if constexpr (kFast) {
#pragma GCC unroll 16
      for (int j = 0; j < NC; ++j) {
        dsh[j] = q8::avx512::DecodeScales(wd[j] + s * kPanelCols, inv[j]);
        msh[j] = q8::avx512::DecodeScales(wm[j] + s * kPanelCols, inv[j]);
      }
    }
    const uint8_t* wqs[NC];
#pragma GCC unroll 16
    for (int j = 0; j < NC; ++j) wqs[j] = wq[j] + s * kPsb;
    if constexpr (kFast) {
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 16
        for (int j = 0; j < NC; ++j) {
          usum[i][j].e = usum[i][j].o = _mm512_setzero_si512();
          msum[i][j].e = msum[i][j].o = _mm512_setzero_si512();
        }
      }
    }
    {
      const __m512i low4 = _mm512_set1_epi8(0x0F);
      const __m512i high4 = _mm512_set1_epi8(static_cast<char>(0xF0));
      for (int c = 0; c < kKQuantSlices / 2; ++c) {
        const int64_t blk = s * kKQuantSlices + 2 * c;
        __m512i ie[MR][NC];  // slice 2 c
        __m512i io[MR][NC];  // slice 2 c + 1
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 16
          for (int j = 0; j < NC; ++j) ie[i][j] = io[i][j] = _mm512_setzero_si512();
        }
#pragma GCC unroll 8
        for (int q = 0; q < 8; ++q) {
          __m512i wlo[NC];
          __m512i whi[NC];
#pragma GCC unroll 16
          for (int j = 0; j < NC; ++j) {
            const __m512i v = _mm512_load_si512(wqs[j] + (c * 8 + q) * 64);
            // The high nibbles stay in place (16 x nibble, u8 <= 240): one op instead of a
            // shift and a mask; the odd slice's sum comes out x 16 and is divided below.
            wlo[j] = _mm512_and_si512(v, low4);
            whi[j] = _mm512_and_si512(v, high4);
          }
#pragma GCC unroll 16
          for (int i = 0; i < MR; ++i) {
            const uint8_t* ab = arow[i] + blk * kQ8_0BlockBytes + q * 4;
            const __m512i ae = _mm512_set1_epi32(q8::LoadI32(ab));
            const __m512i ao = _mm512_set1_epi32(q8::LoadI32(ab + kQ8_0BlockBytes));
#pragma GCC unroll 16
            for (int j = 0; j < NC; ++j) {
              ie[i][j] = _mm512_dpbusd_epi32(ie[i][j], wlo[j], ae);
              io[i][j] = _mm512_dpbusd_epi32(io[i][j], whi[j], ao);
            }
          }
        }
        // 16 * isum (|.| <= 16 * 60960 < 2^20) is a multiple of 16: the shift is exact.
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 16
          for (int j = 0; j < NC; ++j) io[i][j] = _mm512_srai_epi32(io[i][j], 4);
        }
        scale_slice(s, 2 * c, ie);
        scale_slice(s, 2 * c + 1, io);
      }
    }
    if constexpr (kFast) {
#pragma GCC unroll 16
      for (int j = 0; j < NC; ++j) {
        // The int32 factor lanes sign-extended to the even / odd int64 lanes.
        const __m512i d_e = _mm512_srai_epi64(_mm512_slli_epi64(dsh[j], 32), 32);
        const __m512i d_o = _mm512_srai_epi64(dsh[j], 32);
        const __m512i m_e = _mm512_srai_epi64(_mm512_slli_epi64(msh[j], 32), 32);
        const __m512i m_o = _mm512_srai_epi64(msh[j], 32);
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
          const __m512i te = _mm512_sub_epi64(_mm512_mullo_epi64(usum[i][j].e, d_e),
                                              _mm512_mullo_epi64(msum[i][j].e, m_e));
          const __m512i to = _mm512_sub_epi64(_mm512_mullo_epi64(usum[i][j].o, d_o),
                                              _mm512_mullo_epi64(msum[i][j].o, m_o));
          acc[i][j].e = _mm512_add_epi64(acc[i][j].e, te);
          acc[i][j].o = _mm512_add_epi64(acc[i][j].o, to);
        }
      }
    }
  }

#pragma GCC unroll 16
  for (int j = 0; j < NC; ++j) {
    const int64_t valid = std::min<int64_t>(kPanelCols, job.n - (p + j) * kPanelCols);
    if (valid <= 0) break;
    const q8::avx512::PanelOut po = q8::avx512::PreparePanelOut(w.col_exp(p + j), valid);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      uint8_t* out = job.out + ((r0 + i) * job.n + (p + j) * kPanelCols) * 4;
      if constexpr (kFast) {
        q8::avx512::StoreFastRow(po, acc[i][j].e, acc[i][j].o, ar.row_exp[r0 + i], out);
      } else {
        q8::StoreExactRow(acc128[i] + j * kPanelCols, valid, out);
      }
      if (job.exact != nullptr) {
        uint8_t* exact = job.exact + ((r0 + i) * job.n + (p + j) * kPanelCols) * 16;
        if constexpr (kFast) {
          q8::avx512::StoreFastExactSums(acc[i][j].e, acc[i][j].o, ar.row_exp[r0 + i],
                                         w.col_exp(p + j), valid, exact);
        } else {
          q8::StoreSlowExactSums(acc128[i] + j * kPanelCols, valid, exact);
        }
      }
    }
  }
}

template <int MR, int NC>
void Tile(const Job& job, int64_t r0, int64_t p) {
  if (TileIsFast(job, r0, r0 + MR, p, p + NC)) {
    TileAvx512<MR, NC, true>(job, r0, p);
  } else {
    TileAvx512<MR, NC, false>(job, r0, p);
  }
}

}  // namespace

void RunTilesAvx512(const Job& job, int64_t r0, int64_t r1, int64_t p0, int64_t p1) {
  if (job.w->is_q6()) {
    RunTilesQ6Avx512(job, r0, r1, p0, p1);
    return;
  }
  int64_t p = p0;
  if (r1 - r0 == 1) {
    // Decode: one row, two panels per tile: 4 independent vpdpbusd chains (two slices per
    // panel). At four panels the accumulators, factors and weight vectors need
    // more than 32 zmm and GCC spills the int64 accumulators.
    constexpr int kNcDecode = 2;
    for (; p + kNcDecode <= p1; p += kNcDecode) Tile<1, kNcDecode>(job, r0, p);
  }
  // Four rows x one panel: 8 int64 + 8 int32 accumulators stay in registers.
  constexpr int kMr = 4;
  for (; p < p1; ++p) {
    int64_t r = r0;
    for (; r + kMr <= r1; r += kMr) Tile<kMr, 1>(job, r, p);
    switch (r1 - r) {
      case 3:
        Tile<3, 1>(job, r, p);
        break;
      case 2:
        Tile<2, 1>(job, r, p);
        break;
      case 1:
        Tile<1, 1>(job, r, p);
        break;
      default:
        break;
    }
  }
}

}  // namespace datanode::ops::cpu::kq

#pragma GCC pop_options
