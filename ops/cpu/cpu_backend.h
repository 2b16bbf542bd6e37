// Copyright 2026 The datanode Authors.
//
// The CPU SIMD backend: AVX-512 VNNI / AVX2 / portable kernels chosen at run time,
// multi-threaded over output tiles, bit-identical to the reference.
#ifndef DATANODE_OPS_CPU_CPU_BACKEND_H_
#define DATANODE_OPS_CPU_CPU_BACKEND_H_

#include <memory>

#include "absl/status/statusor.h"
#include "datanode/ops/backend.h"

namespace datanode::ops::cpu {

// options.num_threads: 0 = one per online CPU. Never fails on x86-64 (the portable
// kernels run anywhere); returns INVALID_ARGUMENT for negative thread counts.
absl::StatusOr<std::unique_ptr<Backend>> CreateCpuBackend(const BackendOptions& options);

}  // namespace datanode::ops::cpu

#endif  // DATANODE_OPS_CPU_CPU_BACKEND_H_
