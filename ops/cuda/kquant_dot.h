// Copyright 2026 The datanode Authors.
//
// The exact value of one output of a Q8_0 x {Q4_K, Q6_K} matmul (DN_HD), used by
// matmul_kquant.cu on the device and by tests/cuda/kquant_dot_test.cc on the host,
// where it is compared with reference::Q8_0DotFixedPoint and the slice decoders of
// ops/kquant.h.
//
// A K-quant row is K / 256 super-blocks of eight 32-value slices; activation block b
// (Q8_0, 34 bytes) meets slice b % 8 of super-block b / 8. Per block the exact term is
//   d_a * (d_w * (sc0 * isum0 + sc1 * isum1) - dmin_w * min * asum)
// with isum0 / isum1 the integer dot products of values 0..15 / 16..31 with their
// integer scales, asum the sum of the activation quants (Q4_K only: Q6_K has no min).
// Each f16 is mantissa * 2^e with e >= -24, so every term is an integer multiple of
// 2^-48, summed exactly in an int128 and rounded once (exact_math.cuh), as the
// reference does. Magnitudes: |sc0 * isum0 + sc1 * isum1| <= 2 * 128 * 16 * 127 * 32
// < 2^24 (Q6_K; Q4_K: 2 * 63 * 16 * 127 * 15 < 2^22) and |min * asum| <= 63 * 32 * 127
// fit the int32 that FixedTerm takes; a term is below 2^22 * 2^24 * 2^58 = 2^104.
//
// The decoders below mirror ops/kquant.cc bit for bit (the device cannot call host
// code); the host test compares them on every slice of random super-blocks.
#ifndef DATANODE_OPS_CUDA_KQUANT_DOT_H_
#define DATANODE_OPS_CUDA_KQUANT_DOT_H_

#include <cstdint>

#include "ops/cuda/exact_math.cuh"
#include "ops/cuda/host_device.h"
#include "ops/cuda/q8_dot.h"

namespace datanode::ops::cuda {

enum class KQuantFormat : int { kQ4_K = 0, kQ6_K = 1 };

inline constexpr int kKSlicesPerSuper = 8;  // 32-value slices per 256-value super-block

DN_HD constexpr int KQuantSuperBytes(KQuantFormat f) {
  return f == KQuantFormat::kQ4_K ? 144 : 210;
}

// One 32-value slice of a super-block, ready for dp4a.
struct KSliceWeights {
  // Quant j (0..31) in byte j % 4 of q[j / 4], as int8: Q4_K the nibble 0..15, Q6_K the
  // 6-bit value minus 32, -32..31.
  uint32_t q[8];
  int32_t scale[2];    // integer scale of values 0..15 and 16..31
  int32_t min;         // Q4_K: the 6-bit min (times dmin, subtracted); Q6_K: 0
  uint16_t d_bits;     // f16 super-block scale d
  uint16_t dmin_bits;  // Q4_K: f16 dmin; Q6_K: 0
};

// Q4_K super-block: f16 d, f16 dmin, 12 bytes of 6-bit (scale, min) pairs, 128 bytes
// of nibbles (slices 2c and 2c + 1 share bytes 32c..32c + 31: low, high nibbles).
DN_HD void DecodeQ4_KSliceHD(const uint8_t* super, int slice, KSliceWeights* out) {
  const uint8_t* s = super + 4;
  if (slice < 4) {
    out->scale[0] = s[slice] & 63;
    out->min = s[slice + 4] & 63;
  } else {
    out->scale[0] = (s[slice + 4] & 0x0F) | ((s[slice - 4] >> 6) << 4);
    out->min = (s[slice + 4] >> 4) | ((s[slice] >> 6) << 4);
  }
  out->scale[1] = out->scale[0];
  out->d_bits = Load2(super);
  out->dmin_bits = Load2(super + 2);
  const uint8_t* qs = super + 16 + (slice / 2) * 32;
  const int shift = (slice % 2) * 4;
  for (int i = 0; i < 8; ++i) out->q[i] = (Load4(qs + 4 * i) >> shift) & 0x0F0F0F0Fu;
}

// Q6_K super-block: 128 bytes of low nibbles (ql), 64 bytes of high 2-bit pairs (qh),
// 16 int8 scales, f16 d. Value v = 128 h + 32 p + l has low bits from the low (p < 2)
// or high (p >= 2) nibble of ql[64 h + 32 (p % 2) + l] and top bits 2p, 2p + 1 of
// qh[32 h + l]; slice = 4 h + p.
DN_HD void DecodeQ6_KSliceHD(const uint8_t* super, int slice, KSliceWeights* out) {
  const int h = slice / 4;
  const int p = slice % 4;
  const uint8_t* ql = super + 64 * h + 32 * (p % 2);
  const uint8_t* qh = super + 128 + 32 * h;
  const int low_shift = (p / 2) * 4;
  const int high_shift = 2 * p;
  for (int i = 0; i < 8; ++i) {
    const uint32_t low = (Load4(ql + 4 * i) >> low_shift) & 0x0F0F0F0Fu;
    const uint32_t high = ((Load4(qh + 4 * i) >> high_shift) & 0x03030303u) << 4;
    // Bytes 0..63 -> value - 32 as int8: bias each byte lane by +128 so subtracting 32
    // cannot borrow across lanes, then XOR 0x80 removes the bias (as q8_dot.h does).
    out->q[i] = (((low | high) | 0x80808080u) - 0x20202020u) ^ 0x80808080u;
  }
  out->scale[0] = static_cast<int8_t>(super[192 + 2 * slice]);
  out->scale[1] = static_cast<int8_t>(super[192 + 2 * slice + 1]);
  out->min = 0;
  out->d_bits = Load2(super + 208);
  out->dmin_bits = 0;
}

DN_HD void DecodeKSlice(KQuantFormat format, const uint8_t* super, int slice, KSliceWeights* out) {
  if (format == KQuantFormat::kQ6_K) {
    DecodeQ6_KSliceHD(super, slice, out);
  } else {
    DecodeQ4_KSliceHD(super, slice, out);
  }
}

// The exact term of one activation block (34 bytes: f16 d, 32 int8) with one slice,
// in units of 2^-48.
DN_HD i128 KSliceTermFixed(const KSliceWeights& w, const uint8_t* a_block) {
  const ExactParts da = DecodeF16(Load2(a_block));
  int32_t isum0 = 0;
  int32_t isum1 = 0;
  for (int i = 0; i < 4; ++i) isum0 = Dot4S8(Load4(a_block + 2 + 4 * i), w.q[i], isum0);
  for (int i = 4; i < 8; ++i) isum1 = Dot4S8(Load4(a_block + 2 + 4 * i), w.q[i], isum1);
  i128 term = FixedTerm(da, DecodeF16(w.d_bits), w.scale[0] * isum0 + w.scale[1] * isum1);
  if (w.min != 0) {
    int32_t asum = 0;
    for (int i = 0; i < 8; ++i) asum = Dot4S8(Load4(a_block + 2 + 4 * i), 0x01010101u, asum);
    term -= FixedTerm(da, DecodeF16(w.dmin_bits), w.min * asum);
  }
  return term;
}

// The exact sum over blocks first, first + stride, ... < num_blocks of one A row and one
// W row. The kernel gives lane l of a warp first = l, stride = 32 and adds the lanes'
// sums: integer addition, so the split cannot change the total.
DN_HD i128 KQuantDotFixedStrided(KQuantFormat format, const uint8_t* a_row, const uint8_t* w_row,
                                 int64_t num_blocks, int64_t first, int64_t stride) {
  const int super_bytes = KQuantSuperBytes(format);
  i128 acc = 0;
  KSliceWeights w;
  for (int64_t b = first; b < num_blocks; b += stride) {
    DecodeKSlice(format, w_row + (b / kKSlicesPerSuper) * super_bytes,
                 static_cast<int>(b % kKSlicesPerSuper), &w);
    acc += KSliceTermFixed(w, a_row + b * kQ8ABlockBytes);
  }
  return acc;
}

// --- Work split of matmul_kquant.cu -------------------------------------------------
// One thread block per output tile of kKTileM rows x kKTileN columns; warp w of the block
// computes column kKTileN * tile_n + w for every row of the tile (it decodes each W
// slice once for all kKTileM rows). Tiles are numbered row tile major, so consecutive
// blocks share A rows.
inline constexpr int kKTileM = 4;
inline constexpr int kKTileN = 8;  // = warps per block
inline constexpr int kKThreads = 32 * kKTileN;

DN_HD constexpr int64_t KTilesM(int64_t m) { return (m + kKTileM - 1) / kKTileM; }
DN_HD constexpr int64_t KTilesN(int64_t n) { return (n + kKTileN - 1) / kKTileN; }
// Tile t -> its first row and the column of warp `warp` (may be >= n: the warp idles).
DN_HD void KTileOutputs(int64_t t, int64_t tiles_n, int warp, int64_t* row0, int64_t* col) {
  *row0 = (t / tiles_n) * kKTileM;
  *col = (t % tiles_n) * kKTileN + warp;
}

}  // namespace datanode::ops::cuda

#endif  // DATANODE_OPS_CUDA_KQUANT_DOT_H_
