// Copyright 2026 The datanode Authors.
#include "ops/vulkan/weight_packing.h"

#include <cstring>

#include "datanode/ops/exact_float.h"

namespace datanode::ops::vulkan {
namespace {

// Bytes of the f16 d (and Q4_1's m) that precede the quants of a spec block.
int64_t HeaderBytes(BlockFormat format) { return format == BlockFormat::kQ4_1 ? 4 : 2; }

}  // namespace

BlockFormat WeightBlockFormat(OpKind kind) {
  if (kind == OpKind::kMatMulQ8_0Q4_0) return BlockFormat::kQ4_0;
  if (kind == OpKind::kMatMulQ8_0Q4_1) return BlockFormat::kQ4_1;
  return BlockFormat::kQ8_0;
}

int64_t SpecBlockBytes(BlockFormat format) {
  switch (format) {
    case BlockFormat::kQ4_0:
      return kQ4_0BlockBytes;
    case BlockFormat::kQ4_1:
      return kQ4_1BlockBytes;
    default:
      return kQ8_0BlockBytes;
  }
}

int64_t PackedQsBytes(BlockFormat format) { return format == BlockFormat::kQ8_0 ? 32 : 16; }

uint64_t PackedS8Bytes(int64_t padded_rows, int64_t k) {
  return static_cast<uint64_t>(padded_rows) * static_cast<uint64_t>(PadTo(k, kS8KAlignBytes));
}

void PackS8(ByteSpan src, int64_t rows, int64_t k, uint8_t* dst) {
  const int64_t stride = PadTo(k, kS8KAlignBytes);
  for (int64_t r = 0; r < rows; ++r) std::memcpy(dst + r * stride, src.data() + r * k, k);
}

void PackBlocks(BlockFormat format, ByteSpan src, int64_t rows, int64_t blocks, uint8_t* qs,
                uint8_t* d) {
  const int64_t block_bytes = SpecBlockBytes(format);
  const int64_t header = HeaderBytes(format);
  const int64_t qs_bytes = PackedQsBytes(format);
  for (int64_t b = 0; b < rows * blocks; ++b) {
    const uint8_t* block = src.data() + b * block_bytes;
    std::memcpy(qs + b * qs_bytes, block + header, qs_bytes);
    // d (and m) verbatim: the word's low half is d, the high half Q4_1's m.
    StoreU32(d + b * 4, header == 4 ? LoadU32(block) : LoadU16(block));
  }
}

PackedWeightSizes PackedWeightBytes(OpKind kind, int64_t n, int64_t k) {
  PackedWeightSizes sizes;
  if (kind == OpKind::kMatMulS8S32 || kind == OpKind::kMatMulS8F32) {
    sizes.data = PackedS8Bytes(PadTo(n, kS8Tile), k);
    if (kind == OpKind::kMatMulS8F32) sizes.scales = static_cast<uint64_t>(n) * 4;
    return sizes;
  }
  const uint64_t blocks = static_cast<uint64_t>(PadTo(n, kQ8TileN)) * (k / kQBlockSize);
  sizes.data = blocks * PackedQsBytes(WeightBlockFormat(kind));
  sizes.scales = blocks * 4;
  return sizes;
}

void PackWeightData(OpKind kind, int64_t n, int64_t k, ByteSpan w, uint8_t* dst) {
  if (kind == OpKind::kMatMulS8S32 || kind == OpKind::kMatMulS8F32) {
    PackS8(w, n, k, dst);
    return;
  }
  // Quants only; PackWeightScales writes the d words.
  const BlockFormat format = WeightBlockFormat(kind);
  const int64_t block_bytes = SpecBlockBytes(format);
  const int64_t header = HeaderBytes(format);
  const int64_t qs_bytes = PackedQsBytes(format);
  for (int64_t b = 0; b < n * (k / kQBlockSize); ++b) {
    std::memcpy(dst + b * qs_bytes, w.data() + b * block_bytes + header, qs_bytes);
  }
}

void PackWeightScales(OpKind kind, int64_t n, int64_t k, ByteSpan w, ByteSpan w_scale,
                      uint8_t* dst) {
  if (kind == OpKind::kMatMulS8S32) return;
  if (kind == OpKind::kMatMulS8F32) {
    std::memcpy(dst, w_scale.data(), w_scale.size());
    return;
  }
  const BlockFormat format = WeightBlockFormat(kind);
  const int64_t block_bytes = SpecBlockBytes(format);
  const bool has_min = format == BlockFormat::kQ4_1;
  for (int64_t b = 0; b < n * (k / kQBlockSize); ++b) {
    const uint8_t* block = w.data() + b * block_bytes;
    StoreU32(dst + b * 4, has_min ? LoadU32(block) : LoadU16(block));
  }
}

}  // namespace datanode::ops::vulkan
