// Copyright 2026 The datanode Authors.
#include "datanode/ops/kquant.h"

#include "datanode/ops/exact_float.h"

namespace datanode::ops {
namespace {

// Q4_K byte offsets: f16 d, f16 dmin, 12 bytes of packed 6-bit scales and mins, then
// 128 bytes of nibbles.
constexpr int kQ4_KScales = 4;
constexpr int kQ4_KQuants = 16;
// Q6_K byte offsets: 128 bytes of low nibbles, 64 bytes of high 2-bit pairs, 16 int8
// scales, then f16 d.
constexpr int kQ6_KHigh = 128;
constexpr int kQ6_KScales = 192;
constexpr int kQ6_KScale = 208;
static_assert(kQ4_KQuants + kQBlockSize * kKQuantSlices / 2 == kQ4_KBlockBytes);
static_assert(kQ6_KScale + 2 == kQ6_KBlockBytes);

}  // namespace

void DecodeQ4_KSlice(const uint8_t* block, int slice, KQuantSlice* out) {
  // The 12 scale bytes hold 8 (scale, min) pairs of 6 bits: pairs 0..3 are the low 6 bits
  // of bytes 0..3 (scale) and 4..7 (min); pairs 4..7 take their low 4 bits from bytes
  // 8..11 (scale: low nibble, min: high nibble) and their top 2 bits from the top 2 bits
  // of bytes 0..3 (scale) and 4..7 (min).
  const uint8_t* s = block + kQ4_KScales;
  int scale = 0;
  int min = 0;
  if (slice < 4) {
    scale = s[slice] & 63;
    min = s[slice + 4] & 63;
  } else {
    scale = (s[slice + 4] & 0x0F) | ((s[slice - 4] >> 6) << 4);
    min = (s[slice + 4] >> 4) | ((s[slice] >> 6) << 4);
  }
  out->scale[0] = scale;
  out->scale[1] = scale;
  out->min = min;
  out->d_bits = LoadU16(block);
  out->dmin_bits = LoadU16(block + 2);
  // Slices 2c and 2c + 1 share 32 quant bytes: low nibbles for the even slice, high for
  // the odd one.
  const uint8_t* qs = block + kQ4_KQuants + (slice / 2) * kQBlockSize;
  const int shift = (slice % 2) * 4;
  for (int i = 0; i < kQBlockSize; ++i) out->q[i] = static_cast<int8_t>((qs[i] >> shift) & 0x0F);
}

void DecodeQ6_KSlice(const uint8_t* block, int slice, KQuantSlice* out) {
  // Value v = 128 h + 32 p + l (half h, part p 0..3, l 0..31): its low 4 bits are the low
  // (p < 2) or high (p >= 2) nibble of ql[64 h + l + 32 (p % 2)], its top 2 bits are bits
  // 2p, 2p + 1 of qh[32 h + l], and its scale is scales[v / 16].
  const int h = slice / 4;
  const int p = slice % 4;
  const uint8_t* ql = block + 64 * h + 32 * (p % 2);
  const uint8_t* qh = block + kQ6_KHigh + 32 * h;
  const int low_shift = (p / 2) * 4;
  const int high_shift = 2 * p;
  for (int l = 0; l < kQBlockSize; ++l) {
    const int q6 = ((ql[l] >> low_shift) & 0x0F) | (((qh[l] >> high_shift) & 3) << 4);
    out->q[l] = static_cast<int8_t>(q6 - 32);
  }
  const int8_t* scales = reinterpret_cast<const int8_t*>(block + kQ6_KScales);
  out->scale[0] = scales[2 * slice];
  out->scale[1] = scales[2 * slice + 1];
  out->min = 0;
  out->d_bits = LoadU16(block + kQ6_KScale);
  out->dmin_bits = 0;
}

void DecodeKQuantSlice(OpKind kind, const uint8_t* block, int slice, KQuantSlice* out) {
  if (kind == OpKind::kMatMulQ8_0Q6_K) {
    DecodeQ6_KSlice(block, slice, out);
  } else {
    DecodeQ4_KSlice(block, slice, out);
  }
}

}  // namespace datanode::ops
