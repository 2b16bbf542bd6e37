// Copyright 2026 The datanode Authors.
//
// PLACEHOLDER kernel: row-parallel reference. To be replaced by packed SIMD kernels.
#include "ops/cpu/matmul_s8.h"

#include <algorithm>

#include "datanode/ops/reference.h"
#include "datanode/ops/status_macros.h"
#include "datanode/ops/validate.h"
#include "ops/cpu/row_split.h"

namespace datanode::ops::cpu {

absl::StatusOr<std::unique_ptr<PreparedWeights>> PrepareS8Weights(const Backend* owner,
                                                                  OpKind kind, int64_t n,
                                                                  int64_t k, ByteSpan w,
                                                                  ByteSpan w_scale, Isa isa) {
  RETURN_IF_ERROR(ValidateWeightValues(kind, n, k, w, w_scale));
  return std::make_unique<RawPreparedWeights>(owner, kind, n, k, w, w_scale);
}

absl::Status MatMulS8(const Backend& owner, const OpArgs& args, Isa isa, ThreadPool& pool) {
  ByteSpan w;
  ByteSpan w_scale;
  RETURN_IF_ERROR(ResolveRawWeights(owner, args, &w, &w_scale));
  pool.ParallelFor(args.m, [&](int64_t row) {
    const OpArgs slice = RowSlice(args, row, row + 1);
    if (args.kind == OpKind::kMatMulS8S32) {
      reference::MatMulS8S32(slice, w);
    } else {
      reference::MatMulS8F32(slice, w, w_scale);
    }
  });
  return absl::OkStatus();
}

}  // namespace datanode::ops::cpu
