// Copyright 2026 The datanode Authors.
//
// The device layouts of matmul operands, shared by the per-call path and prepared
// weights. The spec's byte layouts are unaligned (s8 rows of any K, 34/18/20-byte ggml
// blocks); the kernels want aligned vector loads, so the host splits and pads once:
//   s8 [rows, k]      -> s8 [PadTo(rows, tile), PadTo(k, 32)], zero padding;
//   Q8_0/Q4_0/Q4_1    -> qs: 32 (Q8_0) or 16 (Q4) quant bytes per block, and
//                        d: one little-endian word per block (f16 d in bits 0..15,
//                        Q4_1's f16 m in bits 16..31), rows padded with zero blocks.
//   Q4_K/Q6_K         -> per 256-value super-block (decoded with kquant.h, so the GGUF
//                        bit layout is written down only there), rows padded to the tile:
//     qs, Q4_K: 8 x 16 bytes, slice s's nibbles as in Q4_1 (byte j: value j in the low
//               nibble, value j + 16 in the high nibble); 128 bytes.
//     qs, Q6_K: 8 x 16 bytes of the slices' low 4 bits of the unsigned 6-bit quants (as
//               Q4_K), then 8 x 8 bytes of their top 2 bits: slice s's word h (0: values
//               0..15, 1: values 16..31) holds value 16 h + 4 w + i at bits 8 i + 2 w;
//               192 bytes.
//     scales: 5 words: word 0 = f16 d | f16 dmin << 16 (Q6_K: dmin 0); bytes 4..19 =
//               Q4_K: the 8 six-bit slice scales, then the 8 six-bit mins;
//               Q6_K: the 16 int8 sub-block scales (2 per slice).
//   That is 148 bytes per 256 values for Q4_K (GGUF: 144) and 212 for Q6_K (GGUF: 210).
// Zero padding contributes exact zeros to every sum, so it cannot change a result.
// Pure functions; `dst` buffers must be zero-filled and large enough.
#ifndef DATANODE_OPS_VULKAN_WEIGHT_PACKING_H_
#define DATANODE_OPS_VULKAN_WEIGHT_PACKING_H_

#include <cstdint>

#include "datanode/ops/types.h"

namespace datanode::ops::vulkan {

// Tile multiples assumed by the kernels (matmul_s8_tile.glsl, matmul_q8_0_tile.glsl).
inline constexpr int64_t kS8Tile = 64;         // rows of A and of W per workgroup
inline constexpr int64_t kS8KAlignBytes = 32;  // K bytes per shared-memory step
inline constexpr int64_t kQ8TileM = 64;
inline constexpr int64_t kQ8TileN = 32;
// Small M (decode, short prefills): up to kQ8GemvMaxM rows run the GEMV kernel
// (matmul_q8_0_gemv.glsl: kQ8TileN columns x kQ8GemvRows rows per workgroup, A
// unpadded) instead of the 64-row tile. On lavapipe one GEMV row costs about 1/30 of a
// tile, so the GEMV wins up to ~24 rows there; 16 keeps real GPUs near the tile.
inline constexpr int64_t kQ8GemvRows = 8;
inline constexpr int64_t kQ8GemvMaxM = 16;

inline int64_t PadTo(int64_t v, int64_t multiple) {
  return (v + multiple - 1) / multiple * multiple;
}

enum class BlockFormat { kQ8_0, kQ4_0, kQ4_1, kQ4_K, kQ6_K };

// The W block format of a Q8_0-family matmul.
BlockFormat WeightBlockFormat(OpKind kind);
// Of the 32-value formats only (not Q4_K / Q6_K):
int64_t SpecBlockBytes(BlockFormat format);  // 34, 18, 20
int64_t PackedQsBytes(BlockFormat format);   // 32, 16, 16
// Device bytes per 256-value super-block of the K-quant formats (layout above).
inline constexpr int64_t kKQuantScaleWords = 5;
int64_t PackedKQuantQsBytes(BlockFormat format);  // 128 (Q4_K), 192 (Q6_K)

uint64_t PackedS8Bytes(int64_t padded_rows, int64_t k);
void PackS8(ByteSpan src, int64_t rows, int64_t k, uint8_t* dst);

// src: rows x blocks ggml blocks. qs: padded_rows * blocks * PackedQsBytes; d:
// padded_rows * blocks * 4 bytes.
void PackBlocks(BlockFormat format, ByteSpan src, int64_t rows, int64_t blocks, uint8_t* qs,
                uint8_t* d);

// W of a matmul of `kind` in device form: `data` (s8 rows or qs) and `scales` (f32
// w_scale for kMatMulS8F32, d words for the block formats, none for kMatMulS8S32).
struct PackedWeightSizes {
  uint64_t data = 0;
  uint64_t scales = 0;
};
PackedWeightSizes PackedWeightBytes(OpKind kind, int64_t n, int64_t k);
void PackWeightData(OpKind kind, int64_t n, int64_t k, ByteSpan w, uint8_t* dst);
void PackWeightScales(OpKind kind, int64_t n, int64_t k, ByteSpan w, ByteSpan w_scale,
                      uint8_t* dst);

}  // namespace datanode::ops::vulkan

#endif  // DATANODE_OPS_VULKAN_WEIGHT_PACKING_H_
