// Copyright 2026 The datanode Authors.
#include "ops/cuda/s8_wgmma_select.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/status_macros.h"
#include "ops/cuda/cuda_status.h"
#include "ops/cuda/device_memory.h"
#include "ops/cuda/matmul_s8_plan.h"
#include "ops/cuda/s8_wgmma_check.h"

namespace datanode::ops::cuda {
namespace {

// CUDA events destroyed on every path out.
class EventPair {
 public:
  ~EventPair() {
    if (start_ != nullptr) (void)cudaEventDestroy(start_);
    if (stop_ != nullptr) (void)cudaEventDestroy(stop_);
  }
  absl::Status Create() {
    CUDA_RETURN_IF_ERROR(cudaEventCreate(&start_), "cudaEventCreate");
    return CudaStatus(cudaEventCreate(&stop_), "cudaEventCreate");
  }
  cudaEvent_t start() const { return start_; }
  cudaEvent_t stop() const { return stop_; }

 private:
  cudaEvent_t start_ = nullptr;
  cudaEvent_t stop_ = nullptr;
};

S8GemmPlan TimingPlan() {
  return PlanS8GemmWith128RowTiles(kWgmmaTimingSize, kWgmmaTimingSize, kWgmmaTimingSize,
                                   /*sm_count=*/1);
}

// Random bytes for both timing operands (tensor-core time depends a little on the
// data, so not zeros); made once per selection, not per kernel.
std::vector<uint8_t> TimingOperand() {
  const S8GemmPlan plan = TimingPlan();
  std::vector<uint8_t> host(static_cast<size_t>(plan.mp * plan.kp));
  SplitMix64 rng(0x7143);
  for (size_t i = 0; i < host.size(); i += 8) {
    const uint64_t bits = rng.Next();
    std::memcpy(&host[i], &bits, std::min<size_t>(8, host.size() - i));
  }
  return host;
}

// Best of three timed runs (after one warm-up) of `kernel` on a kWgmmaTimingSize^3 GEMM
// whose A and W are both `host`.
absl::StatusOr<double> TimeOnCurrentDevice(const WgmmaKernel& kernel,
                                           const std::vector<uint8_t>& host) {
  const S8GemmPlan plan = TimingPlan();
  DevicePool pool(/*max_cached_bytes=*/0);
  ASSIGN_OR_RETURN(DeviceBuffer a, pool.Allocate(host.size()));
  ASSIGN_OR_RETURN(DeviceBuffer w, pool.Allocate(host.size()));
  ASSIGN_OR_RETURN(DeviceBuffer c, pool.Allocate(static_cast<size_t>(plan.mp * plan.np * 4)));
  // Declared after the buffers, so destroyed (and synchronized) before they go back.
  OwnedStream stream;
  RETURN_IF_ERROR(stream.Create());
  CUDA_RETURN_IF_ERROR(
      cudaMemcpyAsync(a.data(), host.data(), host.size(), cudaMemcpyHostToDevice, stream.get()),
      "cudaMemcpyAsync(timing a)");
  CUDA_RETURN_IF_ERROR(
      cudaMemcpyAsync(w.data(), host.data(), host.size(), cudaMemcpyHostToDevice, stream.get()),
      "cudaMemcpyAsync(timing w)");
  EventPair events;
  RETURN_IF_ERROR(events.Create());
  float best_ms = 0;
  for (int run = 0; run < 4; ++run) {
    CUDA_RETURN_IF_ERROR(cudaEventRecord(events.start(), stream.get()), "cudaEventRecord");
    CUDA_RETURN_IF_ERROR(
        kernel.launch(plan, a.as<int8_t>(), w.as<int8_t>(), c.as<int32_t>(), stream.get()),
        kernel.name);
    CUDA_RETURN_IF_ERROR(cudaEventRecord(events.stop(), stream.get()), "cudaEventRecord");
    CUDA_RETURN_IF_ERROR(cudaEventSynchronize(events.stop()), "cudaEventSynchronize");
    float ms = 0;
    CUDA_RETURN_IF_ERROR(cudaEventElapsedTime(&ms, events.start(), events.stop()),
                         "cudaEventElapsedTime");
    if (run > 0 && (best_ms == 0 || ms < best_ms)) best_ms = ms;  // run 0 warms up
  }
  if (best_ms <= 0) return absl::InternalError("timing: no elapsed time measured");
  return 2.0 * kWgmmaTimingSize * kWgmmaTimingSize * kWgmmaTimingSize / (best_ms * 1e-3) / 1e12;
}

}  // namespace

absl::StatusOr<std::vector<const WgmmaKernel*>> WgmmaCandidates(const char* setting) {
  std::vector<const WgmmaKernel*> all;
  for (const WgmmaKernel& kernel : kWgmmaKernels) all.push_back(&kernel);
  const std::string value = setting == nullptr ? "" : setting;
  if (value.empty() || value == "auto") return all;
  if (value == "0") return std::vector<const WgmmaKernel*>{};
  for (const WgmmaKernel* kernel : all) {
    if (value == kernel->name) return std::vector<const WgmmaKernel*>{kernel};
  }
  std::string accepted = "auto, 0";
  for (const WgmmaKernel* kernel : all) absl::StrAppend(&accepted, ", ", kernel->name);
  return absl::InvalidArgumentError(
      absl::StrCat("DATANODE_CUDA_WGMMA=\"", value, "\" is not one of: ", accepted));
}

const WgmmaKernel* FastestPassedKernel(const std::vector<WgmmaTrial>& trials) {
  const WgmmaKernel* first_passed = nullptr;
  const WgmmaKernel* fastest = nullptr;
  double best = 0;
  for (const WgmmaTrial& trial : trials) {
    if (!trial.check.ok()) continue;
    if (first_passed == nullptr) first_passed = trial.kernel;
    if (trial.timing.ok() && trial.tera_ops_per_s > best) {
      best = trial.tera_ops_per_s;
      fastest = trial.kernel;
    }
  }
  return fastest != nullptr ? fastest : first_passed;
}

std::string WgmmaSelection::Summary() const {
  std::string out;
  for (const WgmmaTrial& trial : trials) {
    absl::StrAppend(&out, out.empty() ? "" : "; ", trial.kernel->name, ": ");
    if (!trial.check.ok()) {
      absl::StrAppend(&out, trial.check.message());
    } else if (!trial.timing.ok()) {
      absl::StrAppend(&out, "passed its check, timing failed: ", trial.timing.message());
    } else if (trial.tera_ops_per_s > 0) {
      absl::StrAppend(
          &out, absl::StrFormat("%.0f TOP/s at %d^3", trial.tera_ops_per_s, kWgmmaTimingSize));
    } else {
      absl::StrAppend(&out, "passed its check");
    }
  }
  return out;
}

WgmmaSelection SelectWgmmaKernel(const std::vector<const WgmmaKernel*>& candidates, int device) {
  WgmmaSelection selection;
  int passed = 0;
  for (const WgmmaKernel* kernel : candidates) {
    WgmmaTrial trial;
    trial.kernel = kernel;
    trial.check = CheckWgmmaKernel(*kernel, device, &selection.device_lost);
    passed += trial.check.ok();
    selection.trials.push_back(std::move(trial));
    if (selection.device_lost) return selection;
  }
  if (passed > 1) {
    const std::vector<uint8_t> operand = TimingOperand();
    for (WgmmaTrial& trial : selection.trials) {
      if (!trial.check.ok()) continue;
      double tops = 0;
      trial.timing = RunWithResetOnFault(
          device,
          [&]() -> absl::Status {
            ASSIGN_OR_RETURN(tops, TimeOnCurrentDevice(*trial.kernel, operand));
            return absl::OkStatus();
          },
          &selection.device_lost);
      trial.tera_ops_per_s = trial.timing.ok() ? tops : 0;
      if (selection.device_lost) return selection;
    }
  }
  selection.chosen = FastestPassedKernel(selection.trials);
  return selection;
}

}  // namespace datanode::ops::cuda
