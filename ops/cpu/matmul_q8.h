// Copyright 2026 The datanode Authors.
//
// CPU kernels for kMatMulQ8_0Q8_0, kMatMulQ8_0Q4_0 and kMatMulQ8_0Q4_1, and their packed
// weight format. Bit-identical to ops/reference for every valid input.
#ifndef DATANODE_OPS_CPU_MATMUL_Q8_H_
#define DATANODE_OPS_CPU_MATMUL_Q8_H_

#include <memory>

#include "absl/status/statusor.h"
#include "datanode/ops/backend.h"
#include "ops/cpu/cpu_features.h"
#include "ops/cpu/thread_pool.h"

namespace datanode::ops::cpu {

// Packed weights (w) for `isa` of a Q8_0-family matmul, already checked by
// Backend::PrepareWeights (ValidateWeightValues).
absl::StatusOr<std::unique_ptr<PreparedWeights>> PrepareQ8Weights(const Backend* owner,
                                                                  OpKind kind, int64_t n,
                                                                  int64_t k, ByteSpan w,
                                                                  ByteSpan w_scale, Isa isa);

// Runs a validated Q8_0-family matmul; weights from args.w/w_scale or from PrepareQ8Weights.
absl::Status MatMulQ8(const Backend& owner, const OpArgs& args, Isa isa, ThreadPool& pool);

}  // namespace datanode::ops::cpu

#endif  // DATANODE_OPS_CPU_MATMUL_Q8_H_
