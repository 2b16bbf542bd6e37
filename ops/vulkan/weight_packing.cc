// Copyright 2026 The datanode Authors.
#include "ops/vulkan/weight_packing.h"

#include <cstring>

#include "datanode/ops/exact_float.h"
#include "datanode/ops/kquant.h"

namespace datanode::ops::vulkan {
namespace {

// Bytes of the f16 d (and Q4_1's m) that precede the quants of a spec block.
int64_t HeaderBytes(BlockFormat format) { return format == BlockFormat::kQ4_1 ? 4 : 2; }

bool IsKQuant(BlockFormat format) {
  return format == BlockFormat::kQ4_K || format == BlockFormat::kQ6_K;
}

// The K-quant super-blocks of `n` rows of `k` values, each decoded slice by slice
// (kquant.h) and handed to `emit(super_block_index, slice_index, slice)`.
template <typename Emit>
void ForEachKQuantSlice(OpKind kind, int64_t n, int64_t k, ByteSpan w, Emit emit) {
  const int64_t supers = n * (k / kQKSuperBlockSize);
  const int64_t block_bytes = FindOpInfo(kind)->w_block_bytes;
  KQuantSlice slice;
  for (int64_t sb = 0; sb < supers; ++sb) {
    for (int s = 0; s < kKQuantSlices; ++s) {
      DecodeKQuantSlice(kind, w.data() + sb * block_bytes, s, &slice);
      emit(sb, s, slice);
    }
  }
}

// Quants of the K-quant super-blocks in the device layout (weight_packing.h).
void PackKQuantQs(OpKind kind, int64_t n, int64_t k, ByteSpan w, uint8_t* dst) {
  const BlockFormat format = WeightBlockFormat(kind);
  const int64_t super_bytes = PackedKQuantQsBytes(format);
  const int bias = format == BlockFormat::kQ6_K ? 32 : 0;  // back to unsigned 6-bit
  ForEachKQuantSlice(kind, n, k, w, [&](int64_t sb, int s, const KQuantSlice& slice) {
    uint8_t* super = dst + sb * super_bytes;
    uint8_t* nibbles = super + s * 16;
    uint32_t high[2] = {0, 0};
    for (int j = 0; j < 16; ++j) {
      const int lo = slice.q[j] + bias;
      const int hi = slice.q[j + 16] + bias;
      nibbles[j] = static_cast<uint8_t>((lo & 0x0F) | ((hi & 0x0F) << 4));
      const int shift = 8 * (j % 4) + 2 * (j / 4);
      high[0] |= static_cast<uint32_t>(lo >> 4) << shift;
      high[1] |= static_cast<uint32_t>(hi >> 4) << shift;
    }
    if (format == BlockFormat::kQ6_K) {
      StoreU32(super + 128 + s * 8, high[0]);
      StoreU32(super + 128 + s * 8 + 4, high[1]);
    }
  });
}

// Scale words of the K-quant super-blocks (weight_packing.h).
void PackKQuantScales(OpKind kind, int64_t n, int64_t k, ByteSpan w, uint8_t* dst) {
  const bool q6 = WeightBlockFormat(kind) == BlockFormat::kQ6_K;
  ForEachKQuantSlice(kind, n, k, w, [&](int64_t sb, int s, const KQuantSlice& slice) {
    uint8_t* words = dst + sb * kKQuantScaleWords * 4;
    if (s == 0) StoreU32(words, slice.d_bits | (uint32_t{slice.dmin_bits} << 16));
    if (q6) {
      words[4 + 2 * s] = static_cast<uint8_t>(slice.scale[0]);
      words[5 + 2 * s] = static_cast<uint8_t>(slice.scale[1]);
    } else {
      words[4 + s] = static_cast<uint8_t>(slice.scale[0]);
      words[12 + s] = static_cast<uint8_t>(slice.min);
    }
  });
}

}  // namespace

BlockFormat WeightBlockFormat(OpKind kind) {
  switch (kind) {
    case OpKind::kMatMulQ8_0Q4_0:
      return BlockFormat::kQ4_0;
    case OpKind::kMatMulQ8_0Q4_1:
      return BlockFormat::kQ4_1;
    case OpKind::kMatMulQ8_0Q4_K:
      return BlockFormat::kQ4_K;
    case OpKind::kMatMulQ8_0Q6_K:
      return BlockFormat::kQ6_K;
    default:
      return BlockFormat::kQ8_0;
  }
}

int64_t PackedKQuantQsBytes(BlockFormat format) { return format == BlockFormat::kQ6_K ? 192 : 128; }

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
  const BlockFormat format = WeightBlockFormat(kind);
  if (IsKQuant(format)) {
    const uint64_t supers = static_cast<uint64_t>(PadTo(n, kQ8TileN)) * (k / kQKSuperBlockSize);
    sizes.data = supers * PackedKQuantQsBytes(format);
    sizes.scales = supers * kKQuantScaleWords * 4;
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
  if (IsKQuant(format)) {
    PackKQuantQs(kind, n, k, w, dst);
    return;
  }
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
  if (IsKQuant(format)) {
    PackKQuantScales(kind, n, k, w, dst);
    return;
  }
  const int64_t block_bytes = SpecBlockBytes(format);
  const bool has_min = format == BlockFormat::kQ4_1;
  for (int64_t b = 0; b < n * (k / kQBlockSize); ++b) {
    const uint8_t* block = w.data() + b * block_bytes;
    StoreU32(dst + b * 4, has_min ? LoadU32(block) : LoadU16(block));
  }
}

}  // namespace datanode::ops::vulkan
