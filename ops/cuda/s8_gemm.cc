// Copyright 2026 The datanode Authors.
#include "ops/cuda/s8_gemm.h"

#include <cuda_runtime_api.h>

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/reference.h"
#include "datanode/ops/status_macros.h"
#include "ops/cuda/cuda_status.h"
#include "ops/cuda/device_memory.h"
#include "ops/cuda/matmul_s8_mma.cuh"
#include "ops/cuda/matmul_s8_wgmma.cuh"

namespace datanode::ops::cuda {
namespace {

// Why each shape is here (the test asserts the plans have these properties, for any
// device SM count):
constexpr S8CheckShape kCheckShapes[] = {
    // mma.sync, the decode plan of this device: 64x128 tiles, split-K on any GPU of more
    // than 16 SMs, 64 k tiles.
    {1, 4096, 4096, 0, S8Kernel::kMma},
    // 64x128, no split, one k tile, a partial N tile (129 of 256 columns).
    {33, 129, 64, 1, S8Kernel::kMma},
    // 64x128, split-K into 5 slices of 5, 5, 5, 5 and 1 k tiles; K padded 1300 -> 1344.
    {64, 384, 1300, 132, S8Kernel::kMma},
    // 128x128, no split, 9 k tiles (over the 4-stage ring), partial M, N and K tiles.
    {200, 300, 520, 1, S8Kernel::kMma},
    // 128x128, split-K into 7 slices of 5 k tiles, the last of 3.
    {130, 260, 2100, 64, S8Kernel::kMma},
    // wgmma: 2 x 2 tiles, the second N tile half outside np (zero-filled), the last K
    // tile half outside kp.
    {256, 384, 320, 1, S8Kernel::kWgmma},
    // 8 k tiles wrap the 4-stage ring; one tile row.
    {128, 256, 1000, 1, S8Kernel::kWgmma},
    // Rows past m, one k tile only.
    {200, 130, 64, 1, S8Kernel::kWgmma},
    // 3 x 3 tiles, 6 k tiles each.
    {384, 600, 700, 1, S8Kernel::kWgmma},
};

// Inputs of one check GEMM (unpadded) and the reference's result.
struct CheckData {
  std::vector<uint8_t> a, w;  // [m, k], [n, k]
  std::vector<int32_t> want;  // [m, n]
};

absl::StatusOr<std::vector<CheckData>> BuildCheckData(S8Kernel kernel) {
  std::vector<CheckData> built;
  uint64_t seed = 0x5C8 + static_cast<uint64_t>(kernel) * 100;
  for (const S8CheckShape& s : kCheckShapes) {
    if (s.kernel != kernel) continue;
    // Alternate extreme (|q| = 127 mostly: the largest sums) and uniform operands.
    const InputProfile profile =
        built.size() % 2 == 0 ? InputProfile::kExtreme : InputProfile::kWide;
    ASSIGN_OR_RETURN(OpInputs in,
                     MakeRandomInputs(OpKind::kMatMulS8S32, s.m, s.n, s.k, ++seed, profile));
    reference::MatMulS8S32(in.Args(), in.w);  // in.out now holds the oracle's bytes
    CheckData d;
    d.a = std::move(in.a);
    d.w = std::move(in.w);
    d.want.resize(static_cast<size_t>(s.m * s.n));
    std::memcpy(d.want.data(), in.out.data(), d.want.size() * 4);
    built.push_back(std::move(d));
  }
  return built;
}

// Built once per process per kernel: the host reference is most of a check's cost.
const absl::StatusOr<std::vector<CheckData>>& CheckDataFor(S8Kernel kernel) {
  if (kernel == S8Kernel::kMma) {
    static const auto* mma = new absl::StatusOr<std::vector<CheckData>>(BuildCheckData(kernel));
    return *mma;
  }
  static const auto* wgmma = new absl::StatusOr<std::vector<CheckData>>(BuildCheckData(kernel));
  return *wgmma;
}

std::string PlanText(const S8GemmPlan& p) {
  return absl::StrCat(TileShapeOf(p.config).bm, "x", kS8TileN, " tiles, ", p.splits,
                      p.splits == 1 ? " slice" : " split-K slices");
}

absl::Status CheckOne(S8Kernel kernel, const S8CheckShape& s, const CheckData& d,
                      int device_sm_count, DevicePool& pool, cudaStream_t stream) {
  const S8GemmPlan plan = S8CheckPlan(s, device_sm_count);
  std::vector<uint8_t> a(static_cast<size_t>(plan.mp * plan.kp));
  std::vector<uint8_t> w(static_cast<size_t>(plan.np * plan.kp));
  PackPaddedRows(d.a.data(), s.m, s.k, plan.mp, plan.kp, a.data());
  PackPaddedRows(d.w.data(), s.n, s.k, plan.np, plan.kp, w.data());
  std::vector<int32_t> got(static_cast<size_t>(plan.mp * plan.np));
  ASSIGN_OR_RETURN(DeviceBuffer a_dev, pool.Allocate(a.size()));
  ASSIGN_OR_RETURN(DeviceBuffer w_dev, pool.Allocate(w.size()));
  ASSIGN_OR_RETURN(DeviceBuffer c_dev, pool.Allocate(got.size() * 4));
  auto run = [&]() -> absl::Status {
    CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(a_dev.data(), a.data(), a.size(), cudaMemcpyHostToDevice, stream),
        "cudaMemcpyAsync(s8 check a)");
    CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(w_dev.data(), w.data(), w.size(), cudaMemcpyHostToDevice, stream),
        "cudaMemcpyAsync(s8 check w)");
    // Bytes no kernel writes: an element the kernel fails to store cannot pass by luck.
    CUDA_RETURN_IF_ERROR(cudaMemsetAsync(c_dev.data(), 0x5A, got.size() * 4, stream),
                         "cudaMemsetAsync(s8 check c)");
    CUDA_RETURN_IF_ERROR(LaunchS8Gemm(kernel, plan, a_dev.as<int8_t>(), w_dev.as<int8_t>(),
                                      c_dev.as<int32_t>(), stream),
                         S8KernelName(kernel));
    CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(got.data(), c_dev.data(), got.size() * 4, cudaMemcpyDeviceToHost, stream),
        "cudaMemcpyAsync(s8 check c)");
    return CudaStatus(cudaStreamSynchronize(stream), "s8 start-up check");
  };
  const absl::Status status = run();
  // Nothing may still use the buffers when they go back to the pool.
  (void)cudaStreamSynchronize(stream);
  RETURN_IF_ERROR(status);
  for (int64_t i = 0; i < s.m; ++i) {
    for (int64_t j = 0; j < s.n; ++j) {
      const int32_t want = d.want[static_cast<size_t>(i * s.n + j)];
      const int32_t have = got[static_cast<size_t>(i * plan.np + j)];
      if (have != want) {
        return absl::InternalError(absl::StrCat(S8KernelName(kernel), " start-up check: ", s.m, "x",
                                                s.n, "x", s.k, " (", PlanText(plan),
                                                ") differs at row ", i, ", column ", j, " (got ",
                                                have, ", want ", want, ")"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status CheckOnCurrentDevice(S8Kernel kernel, int device_sm_count) {
  if (kernel == S8Kernel::kWgmma && !S8WgmmaKernelLoads()) {
    return absl::UnimplementedError(
        "wgmma start-up check: the kernel cannot run on this device (it needs compute "
        "capability 9.0 and a build whose CUDA architectures include 90)");
  }
  const absl::StatusOr<std::vector<CheckData>>& data = CheckDataFor(kernel);
  RETURN_IF_ERROR(data.status());
  DevicePool pool(/*max_cached_bytes=*/0);  // every buffer freed on return
  OwnedStream stream;
  RETURN_IF_ERROR(stream.Create());
  size_t index = 0;
  for (const S8CheckShape& s : kCheckShapes) {
    if (s.kernel != kernel) continue;
    RETURN_IF_ERROR(CheckOne(kernel, s, (*data)[index++], device_sm_count, pool, stream.get()));
  }
  return absl::OkStatus();
}

}  // namespace

const char* S8KernelName(S8Kernel kernel) {
  return kernel == S8Kernel::kWgmma ? "wgmma" : "mma.sync";
}

S8Kernel ChooseS8Kernel(const S8GemmPlan& plan, int sm_count, bool wgmma_enabled) {
  return wgmma_enabled && S8WgmmaPays(plan, sm_count) ? S8Kernel::kWgmma : S8Kernel::kMma;
}

cudaError_t LaunchS8Gemm(S8Kernel kernel, const S8GemmPlan& plan, const int8_t* a, const int8_t* w,
                         int32_t* c32, cudaStream_t stream) {
  if (kernel == S8Kernel::kWgmma) return LaunchMatMulS8Wgmma(plan, a, w, c32, stream);
  return LaunchMatMulS8Mma(plan, a, w, c32, stream);
}

absl::StatusOr<bool> WgmmaAllowed(const char* setting) {
  const std::string value = setting == nullptr ? "" : setting;
  if (value.empty() || value == "auto" || value == "1") return true;
  if (value == "0") return false;
  return absl::InvalidArgumentError(absl::StrCat(
      "DATANODE_CUDA_WGMMA=\"", value, "\" is not one of: auto, 1 (wgmma where it can run), 0"));
}

std::span<const S8CheckShape> S8CheckShapes() { return kCheckShapes; }

S8GemmPlan S8CheckPlan(const S8CheckShape& shape, int device_sm_count) {
  return PlanS8Gemm(shape.m, shape.n, shape.k,
                    shape.plan_sm_count > 0 ? shape.plan_sm_count : device_sm_count);
}

absl::Status CheckS8Kernel(S8Kernel kernel, int device_sm_count, bool* context_lost) {
  *context_lost = false;
  const absl::Status status = CheckOnCurrentDevice(kernel, device_sm_count);
  if (status.ok()) return status;
  // A non-sticky error is cleared here; a sticky one (illegal address, trap) stays and
  // fails the synchronization too: the context is gone for this whole process.
  (void)cudaGetLastError();
  *context_lost = cudaDeviceSynchronize() != cudaSuccess;
  return status;
}

}  // namespace datanode::ops::cuda
