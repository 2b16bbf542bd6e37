// Copyright 2026 The datanode Authors.
//
// The s8 GEMM as the CUDA backend runs it: its two kernels, the fixed rule that picks
// one for a shape, the launch, and the start-up check that runs each kernel the
// backend may serve with through that same launch.
//
// Kernels (both write identical bytes: integer sums only, see their headers):
//   kMma    matmul_s8_mma.cu, mma.sync m16n8k32, sm_80+: 128x128 or 64x128 tiles,
//           split-K when the tiles cannot fill the GPU. Serves every shape.
//   kWgmma  matmul_s8_wgmma.cu, wgmma m64n256k32 with cp.async loads, sm_90a only:
//           128x256 tiles, no split-K. Serves large shapes on H100/H200 when enabled.
// The choice rule (ChooseS8Kernel) is fixed: no timing at start-up.
#ifndef DATANODE_OPS_CUDA_S8_GEMM_H_
#define DATANODE_OPS_CUDA_S8_GEMM_H_

#include <cuda_runtime_api.h>

#include <cstdint>
#include <span>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ops/cuda/matmul_s8_plan.h"

namespace datanode::ops::cuda {

enum class S8Kernel : int { kMma = 0, kWgmma = 1 };
// Every kernel ChooseS8Kernel may pick (a new one is added here too: the host tests
// check that the start-up check runs each on every plan variant it may serve).
inline constexpr S8Kernel kS8Kernels[] = {S8Kernel::kMma, S8Kernel::kWgmma};

// "mma.sync" or "wgmma": the names Description(), logs and bench_cuda print.
const char* S8KernelName(S8Kernel kernel);

// The rule: kWgmma when the backend enabled it (compute capability 9.0, an sm_90a
// build, DATANODE_CUDA_WGMMA not 0, start-up check passed) and S8WgmmaPays(plan,
// sm_count) - 128-row tiles, no split-K, at least one full wave of 128x256 tiles -
// else kMma. Decode shapes (M <= 64) and small GEMMs always take kMma.
S8Kernel ChooseS8Kernel(const S8GemmPlan& plan, int sm_count, bool wgmma_enabled);

// c32[mp, np] = a[mp, kp] * w[np, kp]^T with `kernel` (device pointers padded as the
// plan says). The one launch path of the backend and of the start-up check. Returns
// the launch error, if any.
cudaError_t LaunchS8Gemm(S8Kernel kernel, const S8GemmPlan& plan, const int8_t* a, const int8_t* w,
                         int32_t* c32, cudaStream_t stream);

// The operator's DATANODE_CUDA_WGMMA setting (null when unset): unset, "", "auto" or
// "1" allow the wgmma kernel where it can run; "0" keeps every GEMM on mma.sync.
// INVALID_ARGUMENT naming the accepted values for anything else.
absl::StatusOr<bool> WgmmaAllowed(const char* setting);

// One GEMM of the start-up check: its shape, the SM count its plan is made for
// (0: the device's own, so the case runs exactly the plan a call of that shape gets),
// and the kernel it checks.
struct S8CheckShape {
  int64_t m, n, k;
  int plan_sm_count;
  S8Kernel kernel;
};

// Every check GEMM, for both kernels. Together they reach both mma.sync tile
// configurations with and without split-K (an uneven last slice included), the decode
// plan the device itself makes for 1 x 4096 x 4096, partial M, N and K tiles, K loops
// longer than each stage ring, and the wgmma kernel's partial N and K tiles over
// several CTAs; tests/cuda/s8_gemm_check_test.cc asserts that coverage.
std::span<const S8CheckShape> S8CheckShapes();

// The plan `shape` runs with on a device of `device_sm_count` multiprocessors.
S8GemmPlan S8CheckPlan(const S8CheckShape& shape, int device_sm_count);

// Runs every check GEMM of `kernel` on the current device, through LaunchS8Gemm, and
// compares each output byte with the reference. OK when all are equal; INTERNAL
// "<kernel> start-up check: <m>x<n>x<k> (<plan>) differs at row i, column j (got x,
// want y)"; UNIMPLEMENTED when the kernel cannot run on this device; CUDA errors as
// CudaStatus maps them. Sets *context_lost when a CUDA error left the context unusable
// (a fault inside the kernel: every later CUDA call of this process fails too). Never
// resets the device. The inputs and the reference's results are built once per process
// and kernel (the host reference: 0.2-0.6 s each on the build machine).
absl::Status CheckS8Kernel(S8Kernel kernel, int device_sm_count, bool* context_lost);

}  // namespace datanode::ops::cuda

#endif  // DATANODE_OPS_CUDA_S8_GEMM_H_
