// Copyright 2026 The datanode Authors.
//
// CPU kernels for kMatMulS8S32 and kMatMulS8F32 (exact s8 GEMM), and their packed
// weight format. Bit-identical to ops/reference for every valid input, for every Isa
// and thread count (each task owns whole output elements; integer sums are exact).
//
// Weights: PrepareS8Weights packs W (and w_scale), validated once by the caller, into
// 64-column panels with per-column compensation terms (s8_pack.h); MatMulS8 also
// accepts raw args.w, which it packs on every call (slower: use prepared weights on
// the decode path). The packed form is the same for every Isa.
#ifndef DATANODE_OPS_CPU_MATMUL_S8_H_
#define DATANODE_OPS_CPU_MATMUL_S8_H_

#include <memory>

#include "absl/status/statusor.h"
#include "datanode/ops/backend.h"
#include "ops/cpu/cpu_features.h"
#include "ops/cpu/thread_pool.h"

namespace datanode::ops::cpu {

// Packed weights (w, w_scale) of an s8 matmul, already checked by Backend::PrepareWeights
// (ValidateWeightValues). Thread-safe.
absl::StatusOr<std::unique_ptr<PreparedWeights>> PrepareS8Weights(const Backend* owner, OpKind kind,
                                                                  int64_t n, int64_t k, ByteSpan w,
                                                                  ByteSpan w_scale, Isa isa);

// Runs a validated (ValidateOp) s8 matmul on `pool`; weights from args.w / w_scale or
// from PrepareS8Weights of the same `owner` (else INVALID_ARGUMENT). Thread-safe.
absl::Status MatMulS8(const Backend& owner, const OpArgs& args, Isa isa, ThreadPool& pool);

}  // namespace datanode::ops::cpu

#endif  // DATANODE_OPS_CPU_MATMUL_S8_H_
