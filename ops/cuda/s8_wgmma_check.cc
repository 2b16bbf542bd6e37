// Copyright 2026 The datanode Authors.
#include "ops/cuda/s8_wgmma_check.h"

#include <cuda_runtime_api.h>

#include <cstring>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/reference.h"
#include "datanode/ops/status_macros.h"
#include "ops/cuda/cuda_status.h"
#include "ops/cuda/device_memory.h"
#include "ops/cuda/matmul_s8_plan.h"

namespace datanode::ops::cuda {
namespace {

// One check GEMM: the operands packed as the kernels read them and the reference's
// result.
struct CheckCase {
  int64_t m, n, k;
  S8GemmPlan plan;
  std::vector<uint8_t> a, w;  // padded [mp, kp] and [np, kp]
  std::vector<int32_t> want;  // [m, n], from the reference
};

absl::StatusOr<CheckCase> MakeCheckCase(int64_t m, int64_t n, int64_t k, uint64_t seed) {
  ASSIGN_OR_RETURN(OpInputs in, MakeRandomInputs(OpKind::kMatMulS8S32, m, n, k, seed));
  reference::MatMulS8S32(in.Args(), in.w);  // in.out now holds the oracle's bytes
  CheckCase c{m, n, k, {}, {}, {}, {}};
  // The check shapes are too small for S8WgmmaPays to pick wgmma, so ask for 128-row
  // tiles explicitly; persistent kernels get one 2-CTA cluster, so each CTA loops over
  // every output tile of the shape.
  c.plan = PlanS8GemmWith128RowTiles(m, n, k, /*sm_count=*/1);
  c.plan.persistent_ctas = 2;
  c.a.resize(static_cast<size_t>(c.plan.mp * c.plan.kp));
  c.w.resize(static_cast<size_t>(c.plan.np * c.plan.kp));
  PackPaddedRows(in.a.data(), m, k, c.plan.mp, c.plan.kp, c.a.data());
  PackPaddedRows(in.w.data(), n, k, c.plan.np, c.plan.kp, c.w.data());
  c.want.resize(static_cast<size_t>(m * n));
  std::memcpy(c.want.data(), in.out.data(), c.want.size() * 4);
  return c;
}

// The check GEMMs, built once per process (the host reference is most of a check's
// cost, and every kernel, every backend created, checks against the same bytes).
//   256 x 384 x 320: 2 x 2 tiles, the second N tile half outside np (zero-filled), the
//     last K tile half outside kp.
//   128 x 256 x 1000: eight K tiles wrap the 4-stage ring; one tile row (odd: a 2-CTA
//     cluster's second CTA stores nothing).
//   200 x 130 x 64: rows past m, one k tile only.
//   384 x 600 x 700: 3 x 3 tiles (odd rows again), six k tiles each, so a persistent
//     CTA's ring runs on across output tiles.
const absl::StatusOr<std::vector<CheckCase>>& CheckCases() {
  static const absl::StatusOr<std::vector<CheckCase>>* cases =
      new absl::StatusOr<std::vector<CheckCase>>([]() -> absl::StatusOr<std::vector<CheckCase>> {
        constexpr int64_t kShapes[][4] = {
            {256, 384, 320, 90}, {128, 256, 1000, 91}, {200, 130, 64, 92}, {384, 600, 700, 93}};
        std::vector<CheckCase> built;
        for (const auto& s : kShapes) {
          ASSIGN_OR_RETURN(CheckCase c, MakeCheckCase(s[0], s[1], s[2], s[3]));
          built.push_back(std::move(c));
        }
        return built;
      }());
  return *cases;
}

absl::Status CheckCaseOn(const WgmmaKernel& kernel, DevicePool& pool, cudaStream_t stream,
                         const CheckCase& c) {
  std::vector<int32_t> got(static_cast<size_t>(c.plan.mp * c.plan.np));
  ASSIGN_OR_RETURN(DeviceBuffer a_dev, pool.Allocate(c.a.size()));
  ASSIGN_OR_RETURN(DeviceBuffer w_dev, pool.Allocate(c.w.size()));
  ASSIGN_OR_RETURN(DeviceBuffer c_dev, pool.Allocate(got.size() * 4));
  auto run = [&]() -> absl::Status {
    CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(a_dev.data(), c.a.data(), c.a.size(), cudaMemcpyHostToDevice, stream),
        "cudaMemcpyAsync(wgmma check a)");
    CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(w_dev.data(), c.w.data(), c.w.size(), cudaMemcpyHostToDevice, stream),
        "cudaMemcpyAsync(wgmma check w)");
    CUDA_RETURN_IF_ERROR(
        kernel.launch(c.plan, a_dev.as<int8_t>(), w_dev.as<int8_t>(), c_dev.as<int32_t>(), stream),
        "s8 GEMM launch (self-check)");
    CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(got.data(), c_dev.data(), got.size() * 4, cudaMemcpyDeviceToHost, stream),
        "cudaMemcpyAsync(wgmma check c)");
    return CudaStatus(cudaStreamSynchronize(stream), "wgmma check");
  };
  const absl::Status status = run();
  // Nothing may still use the buffers when they go back to the pool.
  (void)cudaStreamSynchronize(stream);
  RETURN_IF_ERROR(status);

  for (int64_t i = 0; i < c.m; ++i) {
    for (int64_t j = 0; j < c.n; ++j) {
      const int32_t want = c.want[static_cast<size_t>(i * c.n + j)];
      const int32_t have = got[static_cast<size_t>(i * c.plan.np + j)];
      if (have != want) {
        return absl::InternalError(absl::StrCat(kernel.name, " self-check: ", c.m, "x", c.n, "x",
                                                c.k, " differs at row ", i, ", column ", j,
                                                " (got ", have, ", want ", want, ")"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status CheckOnCurrentDevice(const WgmmaKernel& kernel) {
  if (!kernel.loads()) {
    return absl::UnimplementedError(
        absl::StrCat(kernel.name,
                     " self-check: the kernel cannot run on this device (a build whose CUDA "
                     "architectures lack 90 has no sm_90a kernels; the TMA kernels also need "
                     "cuTensorMapEncodeTiled from the driver, the multicast ones room for a "
                     "2-CTA cluster)"));
  }
  const absl::StatusOr<std::vector<CheckCase>>& cases = CheckCases();
  RETURN_IF_ERROR(cases.status());
  DevicePool pool(/*max_cached_bytes=*/0);  // every buffer freed on return
  OwnedStream stream;
  RETURN_IF_ERROR(stream.Create());
  for (const CheckCase& c : *cases) RETURN_IF_ERROR(CheckCaseOn(kernel, pool, stream.get(), c));
  return absl::OkStatus();
}

}  // namespace

absl::Status RunWithResetOnFault(int device, absl::FunctionRef<absl::Status()> work,
                                 bool* device_lost) {
  *device_lost = false;
  RETURN_IF_ERROR(CudaStatus(cudaSetDevice(device), "cudaSetDevice"));
  const absl::Status status = work();
  if (status.ok() || cudaDeviceSynchronize() == cudaSuccess) return status;
  // The context is gone: start a fresh one.
  (void)cudaGetLastError();
  (void)cudaDeviceReset();
  *device_lost = cudaSetDevice(device) != cudaSuccess || cudaDeviceSynchronize() != cudaSuccess;
  return absl::Status(
      status.code(),
      absl::StrCat(status.message(), *device_lost ? " (the device did not recover from a reset)"
                                                  : " (the device was reset after the fault)"));
}

absl::Status CheckWgmmaKernel(const WgmmaKernel& kernel, int device, bool* device_lost) {
  return RunWithResetOnFault(
      device, [&] { return CheckOnCurrentDevice(kernel); }, device_lost);
}

}  // namespace datanode::ops::cuda
