// Copyright 2026 The datanode Authors.
//
// Spec, per row r of X[M, K]:
//   amax = max_k |X[r, k]|                                   (exact)
//   s    = round_f32(amax / 127)                             (exact quotient, one rounding)
//   Q[r, k] = s == 0 ? 0 : clamp(round_half_even(X[r, k] / s), -127, 127)
// out = Q (s8), out_scale = s (f32).
#include "datanode/ops/exact_float.h"
#include "datanode/ops/reference.h"
#include "ops/reference/quantize_common.h"

namespace datanode::ops::reference {

void QuantizeS8Row(const OpArgs& args) {
  for (int64_t r = 0; r < args.m; ++r) {
    const uint8_t* row = &args.a[r * args.k * 4];
    const ExactValue amax = DecodeF32Bits(MaxAbsBits(row, args.k));
    const uint32_t scale_bits =
        amax.mantissa == 0 ? 0 : RoundQuotientToF32Bits(amax.mantissa, amax.exponent, 127);
    StoreU32(&args.out_scale[r * 4], scale_bits);
    const ExactValue scale = DecodeF32Bits(scale_bits);
    for (int64_t p = 0; p < args.k; ++p) {
      int8_t q = 0;
      if (scale.mantissa != 0) q = QuantizeExact(DecodeF32Bits(LoadU32(row + 4 * p)), scale);
      args.out[r * args.k + p] = static_cast<uint8_t>(q);
    }
  }
}

}  // namespace datanode::ops::reference
