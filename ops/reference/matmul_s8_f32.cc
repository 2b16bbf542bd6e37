// Copyright 2026 The datanode Authors.
//
// Spec: C[m, n] = round_f32(a_scale[m] * w_scale[n] * isum[m, n]) where isum is the
// exact s8 dot product. Both scales are decoded exactly (mantissa * 2^exponent), the
// product of the two mantissas and isum (< 2^24 * 2^24 * 2^31 = 2^79) is an exact
// int128, and RoundToF32Bits applies the single rounding.
#include "datanode/ops/exact_float.h"
#include "datanode/ops/reference.h"

namespace datanode::ops::reference {

void MatMulS8F32(const OpArgs& args, ByteSpan w, ByteSpan w_scale) {
  for (int64_t i = 0; i < args.m; ++i) {
    const ExactValue sa = DecodeF32Bits(LoadU32(&args.a_scale[i * 4]));
    for (int64_t j = 0; j < args.n; ++j) {
      const ExactValue sw = DecodeF32Bits(LoadU32(&w_scale[j * 4]));
      int64_t isum = 0;
      for (int64_t p = 0; p < args.k; ++p) {
        isum += int64_t{static_cast<int8_t>(args.a[i * args.k + p])} *
                int64_t{static_cast<int8_t>(w[j * args.k + p])};
      }
      const int128 mantissa = int128{sa.mantissa} * sw.mantissa * isum;
      StoreU32(&args.out[(i * args.n + j) * 4],
               RoundToF32Bits(mantissa, sa.exponent + sw.exponent));
    }
  }
}

}  // namespace datanode::ops::reference
