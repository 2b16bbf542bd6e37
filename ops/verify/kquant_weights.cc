// Copyright 2026 The datanode Authors.
#include "ops/verify/kquant_weights.h"

#include "datanode/ops/exact_float.h"
#include "datanode/ops/kquant.h"

namespace datanode::ops::verify {
int64_t F16Times2To24(uint16_t bits) {
  const ExactValue d = DecodeF16Bits(bits);
  return d.mantissa * (int64_t{1} << (d.exponent + 24));
}

void DecodeKQuantRow24(OpKind kind, const uint8_t* w_row, int64_t k, int64_t* w24) {
  const int64_t super_bytes = FindOpInfo(kind)->w_block_bytes;
  KQuantSlice slice;
  for (int64_t b = 0; b < k / kQBlockSize; ++b) {
    DecodeKQuantSlice(kind, w_row + (b / kKQuantSlices) * super_bytes,
                      static_cast<int>(b % kKQuantSlices), &slice);
    const int64_t d24 = F16Times2To24(slice.d_bits);
    const int64_t min24 = slice.min != 0 ? F16Times2To24(slice.dmin_bits) * slice.min : 0;
    int64_t* dst = w24 + b * kQBlockSize;
    for (int j = 0; j < kQBlockSize; ++j) {
      dst[j] = d24 * (slice.scale[j / 16] * int64_t{slice.q[j]}) - min24;
    }
  }
}

}  // namespace datanode::ops::verify
