// Copyright 2026 The datanode Authors.
//
// Portable (plain C++) kernel of the K-quant matmuls over the packed panels: the same
// arithmetic as the SIMD kernels, one output element at a time. The int64 fast path when
// the tile's exponent spans allow it (kq_common.h proves that exact), else the int128
// slow path with the reference's per-slice terms.
#include "ops/cpu/kq_common.h"

namespace datanode::ops::cpu::kq {

void RunTilesPortable(const Job& job, int64_t r0, int64_t r1, int64_t p0, int64_t p1) {
  const PackedKqWeights& w = *job.w;
  const q8::ARows& ar = job.rows->base;
  const int64_t ns = job.num_supers;
  const int64_t nb = ns * kKQuantSlices;
  const bool q6 = w.is_q6();
  const int64_t psb = w.panel_super_bytes();
  for (int64_t p = p0; p < p1; ++p) {
    const int32_t* ce = w.col_exp(p);
    const int64_t valid = std::min<int64_t>(kPanelCols, job.n - p * kPanelCols);
    for (int64_t r = r0; r < r1; ++r) {
      const bool fast = TileIsFast(job, r, r + 1, p, p + 1);
      const uint8_t* arow = job.a + r * job.a_row_bytes;
      int64_t acc64[kPanelCols] = {};
      int128 acc128[kPanelCols] = {};
      for (int64_t s = 0; s < ns; ++s) {
        const uint8_t* wq = w.quants(p) + s * psb;
        uint8_t q4k_rows[kPanelSuperScaleBytes];
        if (!q6) DecodeQ4KScales(w.scales(p, s), q4k_rows);
        const uint8_t* sc = q6 ? w.scales(p, s) : q4k_rows;
        const uint16_t* rd = w.raw_d(p) + s * kPanelCols;
        const uint16_t* rm = q6 ? nullptr : w.raw_m(p) + s * kPanelCols;
        for (int b = 0; b < kKQuantSlices; ++b) {
          const int64_t blk = s * kKQuantSlices + b;  // the A block this slice meets
          const int64_t at = r * nb + blk;
          const int8_t* qa = reinterpret_cast<const int8_t*>(arow + blk * kQ8_0BlockBytes + 2);
          // Integer sums of values 0..15 and 16..31 per column.
          int32_t isum[2][kPanelCols] = {};
          for (int t = 0; t < kQBlockSize; ++t) {
            for (int c = 0; c < kPanelCols; ++c) {
              int qw;
              if (q6) {
                qw = w.Q6At(wq, b, t, c) - 32;
              } else {
                const uint8_t byte = wq[((b / 2) * 8 + t / 4) * kPanelVecBytes + c * 4 + t % 4];
                qw = (byte >> (4 * (b % 2))) & 0x0F;
              }
              isum[t / 16][c] += qa[t] * qw;
            }
          }
          for (int c = 0; c < kPanelCols; ++c) {
            // Q4_K: row b holds the scale, row 8 + b the min; Q6_K: rows 2 b, 2 b + 1.
            const int32_t sc0 =
                q6 ? static_cast<int8_t>(sc[2 * b * kPanelCols + c]) : sc[b * kPanelCols + c];
            const int32_t sc1 = q6 ? static_cast<int8_t>(sc[(2 * b + 1) * kPanelCols + c]) : sc0;
            const int32_t min = q6 ? 0 : sc[(8 + b) * kPanelCols + c];
            if (fast) {
              const int64_t dsh = DecodeScale(rd[c], ce[c]);
              int64_t v = dsh * sc0 * isum[0][c] + dsh * sc1 * isum[1][c];
              if (!q6) v -= int64_t{DecodeScale(rm[c], ce[c])} * min * ar.asum[at];
              acc64[c] += v * ar.ma_shifted[at];
            } else {
              acc128[c] += ExactSliceTerm(ar.ma[at], ar.ea[at], rd[c], q6 ? 0 : rm[c],
                                          sc0 * isum[0][c] + sc1 * isum[1][c], min * ar.asum[at]);
            }
          }
        }
      }
      uint8_t* out = job.out + (r * job.n + p * kPanelCols) * 4;
      if (fast) {
        q8::StoreFastRow(acc64, ar.row_exp[r], ce, valid, out);
      } else {
        q8::StoreExactRow(acc128, valid, out);
      }
      if (job.exact != nullptr) {
        uint8_t* exact = job.exact + (r * job.n + p * kPanelCols) * 16;
        if (fast) {
          q8::StoreFastExactSums(acc64, ar.row_exp[r], ce, valid, exact);
        } else {
          q8::StoreSlowExactSums(acc128, valid, exact);
        }
      }
    }
  }
}

}  // namespace datanode::ops::cpu::kq
