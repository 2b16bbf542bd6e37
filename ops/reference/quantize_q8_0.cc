// Copyright 2026 The datanode Authors.
//
// Spec, per block of 32 consecutive values x_j of a row of X[M, K]:
//   amax = max_j |x_j|                                        (exact)
//   d    = round_f16(amax / 127)                              (exact quotient, one rounding)
//   q_j  = d == 0 ? 0 : clamp(round_half_even(x_j / d), -127, 127)
// Each block is stored as ggml Q8_0: f16 d (little-endian), then the 32 int8 q_j.
// Validation guarantees amax < 8321040, so d is finite.
#include "datanode/ops/exact_float.h"
#include "datanode/ops/reference.h"
#include "ops/reference/quantize_common.h"

namespace datanode::ops::reference {

void QuantizeQ8_0(const OpArgs& args) {
  const int64_t blocks_per_row = args.k / kQBlockSize;
  for (int64_t r = 0; r < args.m; ++r) {
    for (int64_t b = 0; b < blocks_per_row; ++b) {
      const uint8_t* x = &args.a[(r * args.k + b * kQBlockSize) * 4];
      uint8_t* block = &args.out[(r * blocks_per_row + b) * kQ8_0BlockBytes];
      const ExactValue amax = DecodeF32Bits(MaxAbsBits(x, kQBlockSize));
      const uint16_t d_bits =
          amax.mantissa == 0 ? 0 : RoundQuotientToF16Bits(amax.mantissa, amax.exponent, 127);
      StoreU16(block, d_bits);
      const ExactValue d = DecodeF16Bits(d_bits);
      for (int j = 0; j < kQBlockSize; ++j) {
        int8_t q = 0;
        if (d.mantissa != 0) q = QuantizeExact(DecodeF32Bits(LoadU32(x + 4 * j)), d);
        block[2 + j] = static_cast<uint8_t>(q);
      }
    }
  }
}

}  // namespace datanode::ops::reference
