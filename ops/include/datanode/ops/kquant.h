// Copyright 2026 The datanode Authors.
//
// Bit layouts of the GGUF K-quant weight formats Q4_K and Q6_K (docs/determinism.md,
// "K-quant weights"), decoded one 32-value slice at a time. A super-block covers 256
// values of one row along K (kQKSuperBlockSize) and holds 8 slices; slice b of a row's
// super-block s covers values 256 s + 32 b ... + 31, exactly the Q8_0 activation block
// 8 s + b that a matmul multiplies it with.
//
// The exact value of weight i (0..31) of a slice is
//   d * scale[i / 16] * q[i] - dmin * min
// with d and dmin the super-block's f16 scales. These decoders only move bits; every
// backend's packer and the reference use them, so the layout is written down once.
// Thread-safe (pure functions).
#ifndef DATANODE_OPS_KQUANT_H_
#define DATANODE_OPS_KQUANT_H_

#include <cstdint>

#include "datanode/ops/types.h"

namespace datanode::ops {

inline constexpr int kKQuantSlices = static_cast<int>(kQKSuperBlockSize / kQBlockSize);  // 8

struct KQuantSlice {
  // Q4_K: the nibble, 0..15. Q6_K: the 6-bit quant minus 32, -32..31.
  int8_t q[kQBlockSize];
  // Integer scale of values 0..15 and 16..31. Q4_K: both the slice's 6-bit scale (0..63);
  // Q6_K: the two 16-value sub-blocks' int8 scales (-128..127).
  int32_t scale[2];
  // Q4_K: the slice's 6-bit min (0..63), multiplied by dmin and subtracted. Q6_K: 0.
  int32_t min;
  uint16_t d_bits;     // f16 bits of the super-block scale d
  uint16_t dmin_bits;  // Q4_K: f16 bits of dmin; Q6_K: 0
};

// Slice `slice` (0..7) of the 144-byte Q4_K super-block at `block`.
void DecodeQ4_KSlice(const uint8_t* block, int slice, KQuantSlice* out);
// Slice `slice` (0..7) of the 210-byte Q6_K super-block at `block`.
void DecodeQ6_KSlice(const uint8_t* block, int slice, KQuantSlice* out);
// Either of the above by op kind (kMatMulQ8_0Q4_K or kMatMulQ8_0Q6_K).
void DecodeKQuantSlice(OpKind kind, const uint8_t* block, int slice, KQuantSlice* out);

constexpr bool IsKQuantMatMul(OpKind kind) {
  return kind == OpKind::kMatMulQ8_0Q4_K || kind == OpKind::kMatMulQ8_0Q6_K;
}

}  // namespace datanode::ops

#endif  // DATANODE_OPS_KQUANT_H_
