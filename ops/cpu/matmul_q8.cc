// Copyright 2026 The datanode Authors.
//
// PLACEHOLDER kernel: row-parallel reference. To be replaced by packed SIMD kernels.
#include "ops/cpu/matmul_q8.h"

#include "datanode/ops/reference.h"
#include "datanode/ops/status_macros.h"
#include "datanode/ops/validate.h"
#include "ops/cpu/row_split.h"

namespace datanode::ops::cpu {

absl::StatusOr<std::unique_ptr<PreparedWeights>> PrepareQ8Weights(const Backend* owner,
                                                                  OpKind kind, int64_t n,
                                                                  int64_t k, ByteSpan w,
                                                                  ByteSpan w_scale, Isa isa) {
  RETURN_IF_ERROR(ValidateWeightValues(kind, n, k, w, w_scale));
  return std::make_unique<RawPreparedWeights>(owner, kind, n, k, w, w_scale);
}

absl::Status MatMulQ8(const Backend& owner, const OpArgs& args, Isa isa, ThreadPool& pool) {
  ByteSpan w;
  ByteSpan w_scale;
  RETURN_IF_ERROR(ResolveRawWeights(owner, args, &w, &w_scale));
  pool.ParallelFor(args.m, [&](int64_t row) {
    reference::MatMulQ8_0(RowSlice(args, row, row + 1), w);
  });
  return absl::OkStatus();
}

}  // namespace datanode::ops::cpu
