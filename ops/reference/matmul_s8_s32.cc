// Copyright 2026 The datanode Authors.
//
// Spec: C[m, n] = sum_k A[m, k] * W[n, k], exact. With |A|, |W| <= 127 and
// K <= 131071 the sum fits in int32; it is computed in int64 here so the reference
// is obviously exact, then stored as int32 little-endian.
#include "datanode/ops/exact_float.h"
#include "datanode/ops/reference.h"

namespace datanode::ops::reference {

void MatMulS8S32(const OpArgs& args, ByteSpan w) {
  for (int64_t i = 0; i < args.m; ++i) {
    for (int64_t j = 0; j < args.n; ++j) {
      int64_t sum = 0;
      for (int64_t p = 0; p < args.k; ++p) {
        sum += int64_t{static_cast<int8_t>(args.a[i * args.k + p])} *
               int64_t{static_cast<int8_t>(w[j * args.k + p])};
      }
      StoreU32(&args.out[(i * args.n + j) * 4], static_cast<uint32_t>(static_cast<int32_t>(sum)));
    }
  }
}

}  // namespace datanode::ops::reference
