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

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "ops/cuda/matmul_s8_wgmma.cuh"

namespace datanode::ops::cuda {

// OK when the bytes of `kernel` equal the reference's on every check GEMM.
// INTERNAL "<name> self-check: <shape> differs at row i, column j (got x, want y)"
// on a mismatch; UNIMPLEMENTED when the kernel cannot run here; CUDA errors as
// CudaStatus maps them. Runs on `device` (made current), on a stream and buffers of its
// own. The check GEMMs and the reference's results are built once per process (about
// 0.15 s on the host); each check after that takes milliseconds.
//
// A fault inside the kernel (illegal address, a trapped mbarrier wait) leaves the
// context unusable for every later call, so then the device is reset - callers run
// this before they own anything on the device - and the message says so. Sets
// *device_lost when the device does not come back from the reset.
absl::Status CheckWgmmaKernel(const WgmmaKernel& kernel, int device, bool* device_lost);

// Runs `work` on `device` (made current). When it fails and the context is unusable
// (a sticky error: illegal address, trap), resets the device and says so in the
// returned status; sets *device_lost when the device does not come back. For start-up
// work only, before the caller owns anything on the device.
absl::Status RunWithResetOnFault(int device, absl::FunctionRef<absl::Status()> work,
                                 bool* device_lost);

}  // namespace datanode::ops::cuda

#endif  // DATANODE_OPS_CUDA_S8_WGMMA_CHECK_H_
