// Copyright 2026 The datanode Authors.
//
// Start-up check of a Hopper wgmma s8 GEMM (matmul_s8_wgmma.cuh) on the current
// device: before the backend lets a kernel serve a call, it runs it on a few random
// GEMMs that cover its edge cases (a partial N tile, a partial K tile, a K loop longer
// than the stage ring, several CTAs) and compares every output byte with the
// reference. The mma.sync kernel stays the fallback, so a failed check costs speed,
// not correctness.
#ifndef DATANODE_OPS_CUDA_S8_WGMMA_CHECK_H_
#define DATANODE_OPS_CUDA_S8_WGMMA_CHECK_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ops/cuda/matmul_s8_wgmma.cuh"

namespace datanode::ops::cuda {

// OK when the bytes of `kernel` equal the reference's on every check GEMM.
// INTERNAL "<name> self-check: <shape> differs at row i, column j (got x, want y)"
// on a mismatch; UNIMPLEMENTED when the kernel cannot run here; CUDA errors as
// CudaStatus maps them. Runs on `device` (made current), on a stream and buffers of its
// own; takes about 0.1 s (the reference runs on the host).
//
// A fault inside the kernel (illegal address, a trapped mbarrier wait) leaves the
// context unusable for every later call, so then the device is reset - callers run
// this before they own anything on the device - and the message says so. Sets
// *device_lost when the device does not come back from the reset.
absl::Status CheckWgmmaKernel(const WgmmaKernel& kernel, int device, bool* device_lost);

// The wgmma kernels to try, in order, for the operator's DATANODE_CUDA_WGMMA setting
// (`setting` is the variable's value, null when unset):
//   unset, "" or "auto"  every kernel of kWgmmaKernels, in their order of preference;
//   "0"                  none (mma.sync serves everything);
//   a kernel's name      only that kernel (e.g. "wgmma+TMA" to pin a known-good one).
// INVALID_ARGUMENT naming the accepted values for anything else. Thread-safe.
absl::StatusOr<std::vector<const WgmmaKernel*>> WgmmaCandidates(const char* setting);

}  // namespace datanode::ops::cuda

#endif  // DATANODE_OPS_CUDA_S8_WGMMA_CHECK_H_
