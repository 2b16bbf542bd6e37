// Copyright 2026 The datanode Authors.
//
// Portable (plain C++) kernel of the Q8_0-family matmul over the packed panels. The same
// arithmetic as the SIMD kernels, one output element at a time: the int64 fast path when
// the tile's exponent spans allow it (q8_common.h proves that exact), else the int128
// slow path with the reference's per-block terms. Q4 nibbles are read from the packed
// layout (q8_common.h) and the scales decoded from their f16 bits (DecodeScale).
#include "ops/cpu/q8_common.h"

namespace datanode::ops::cpu::q8 {

void RunTilesPortable(const Job& job, int64_t r0, int64_t r1, int64_t p0, int64_t p1) {
  const PackedQ8Weights& w = *job.w;
  const ARows& ar = *job.rows;
  const int64_t nb = job.num_blocks;
  const bool has_min = w.has_min();
  const uint8_t bias = w.quant_bias();
  const bool q4 = w.is_q4();
  const int q4_offset = job.kind == OpKind::kMatMulQ8_0Q4_0 ? 8 : 0;
  const int64_t pbb = w.panel_block_bytes();
  for (int64_t p = p0; p < p1; ++p) {
    const uint8_t* wq = w.quants(p);
    const uint16_t* rd = w.raw_d(p);
    const uint16_t* rm = w.raw_m(p);
    const int32_t* ce = w.col_exp(p);
    const int64_t valid = std::min<int64_t>(kPanelCols, job.n - p * kPanelCols);
    for (int64_t r = r0; r < r1; ++r) {
      const bool fast = TileIsFast(job, r, r + 1, p, p + 1);
      const uint8_t* arow = job.a + r * job.a_row_bytes;
      int64_t acc64[kPanelCols] = {};
      int128 acc128[kPanelCols] = {};
      for (int64_t b = 0; b < nb; ++b) {
        const int8_t* qa = reinterpret_cast<const int8_t*>(arow + b * kQ8_0BlockBytes + 2);
        const uint8_t* wb = wq + b * pbb;
        int32_t isum[kPanelCols] = {};
        if (q4) {
          // Byte j of quad pair qq: low nibble k = 4 qq + j, high nibble k = 16 + 4 qq + j.
          for (int t = 0; t < kQBlockSize / 2; ++t) {
            const uint8_t* wt = wb + (t / 4) * (kPanelCols * 4) + (t % 4);
            const int a_lo = qa[t];
            const int a_hi = qa[t + 16];
            for (int c = 0; c < kPanelCols; ++c) {
              const int v = wt[c * 4];
              isum[c] += a_lo * ((v & 0x0F) - q4_offset) + a_hi * ((v >> 4) - q4_offset);
            }
          }
        } else {
          for (int t = 0; t < kQBlockSize; ++t) {
            const uint8_t* wt = wb + (t / 4) * (kPanelCols * 4) + (t % 4);
            for (int c = 0; c < kPanelCols; ++c) {
              isum[c] += qa[t] * static_cast<int8_t>(static_cast<uint8_t>(wt[c * 4] - bias));
            }
          }
        }
        const int64_t at = r * nb + b;
        for (int c = 0; c < kPanelCols; ++c) {
          const int64_t meta = b * kPanelCols + c;
          if (fast) {
            int64_t v = int64_t{isum[c]} * DecodeScale(rd[meta], ce[c]);
            if (has_min) v += int64_t{ar.asum[at]} * DecodeScale(rm[meta], ce[c]);
            acc64[c] += v * ar.ma_shifted[at];
          } else {
            acc128[c] += ExactBlockTerm(ar.ma[at], ar.ea[at], ar.asum[at], rd[meta],
                                        has_min ? &rm[meta] : nullptr, isum[c]);
          }
        }
      }
      uint8_t* out = job.out + (r * job.n + p * kPanelCols) * 4;
      if (fast) {
        StoreFastRow(acc64, ar.row_exp[r], ce, valid, out);
      } else {
        StoreExactRow(acc128, valid, out);
      }
      if (job.exact != nullptr) {
        uint8_t* exact = job.exact + (r * job.n + p * kPanelCols) * 16;
        if (fast) {
          StoreFastExactSums(acc64, ar.row_exp[r], ce, valid, exact);
        } else {
          StoreSlowExactSums(acc128, valid, exact);
        }
      }
    }
  }
}

}  // namespace datanode::ops::cpu::q8
