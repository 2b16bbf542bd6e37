// Copyright 2026 The datanode Authors.
//
// CPU kernels for the K-quant matmuls kMatMulQ8_0Q4_K and kMatMulQ8_0Q6_K (A in Q8_0 blocks,
// W in GGUF Q4_K / Q6_K super-blocks) and their packed weight format (kq_common.h).
// Bit-identical to ops/reference for every valid input, whatever the thread count.
#ifndef DATANODE_OPS_CPU_MATMUL_KQ_H_
#define DATANODE_OPS_CPU_MATMUL_KQ_H_

#include <memory>

#include "absl/status/statusor.h"
#include "datanode/ops/backend.h"
#include "ops/cpu/cpu_features.h"
#include "ops/cpu/thread_pool.h"

namespace datanode::ops::cpu {

// Packed weights (w) for `isa` of a K-quant matmul, already checked by
// Backend::PrepareWeights (ValidateWeightValues).
absl::StatusOr<std::unique_ptr<PreparedWeights>> PrepareKqWeights(const Backend* owner, OpKind kind,
                                                                  int64_t n, int64_t k, ByteSpan w,
                                                                  ByteSpan w_scale, Isa isa);

// Runs a validated K-quant matmul; weights from args.w or from PrepareKqWeights.
absl::Status MatMulKq(const Backend& owner, const OpArgs& args, Isa isa, ThreadPool& pool);

}  // namespace datanode::ops::cpu

#endif  // DATANODE_OPS_CPU_MATMUL_KQ_H_
