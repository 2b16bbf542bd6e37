// Copyright 2026 The datanode Authors.
//
// CPU kernels for kMatMulS8S32 and kMatMulS8F32 (exact s8 GEMM), and their packed
// weight format. Bit-identical to ops/reference for every valid input.
#ifndef DATANODE_OPS_CPU_MATMUL_S8_H_
#define DATANODE_OPS_CPU_MATMUL_S8_H_

#include <memory>

#include "absl/status/statusor.h"
#include "datanode/ops/backend.h"
#include "ops/cpu/cpu_features.h"
#include "ops/cpu/thread_pool.h"

namespace datanode::ops::cpu {

// Validated, packed weights (w, w_scale) for `isa`. Requires kind to be an s8 matmul.
absl::StatusOr<std::unique_ptr<PreparedWeights>> PrepareS8Weights(const Backend* owner,
                                                                  OpKind kind, int64_t n,
                                                                  int64_t k, ByteSpan w,
                                                                  ByteSpan w_scale, Isa isa);

// Runs a validated s8 matmul; weights from args.w/w_scale or from PrepareS8Weights.
absl::Status MatMulS8(const Backend& owner, const OpArgs& args, Isa isa, ThreadPool& pool);

}  // namespace datanode::ops::cpu

#endif  // DATANODE_OPS_CPU_MATMUL_S8_H_
