// Copyright 2026 The datanode Authors.
//
// Which Hopper wgmma s8 GEMM serves large GEMMs (matmul_s8_wgmma.cuh): the operator's
// DATANODE_CUDA_WGMMA setting narrows the candidates; each candidate must pass its
// start-up check (s8_wgmma_check.h); of those that pass, the fastest on this device at
// 4096^3 serves. Every kernel writes the same bytes, so the choice changes speed only.
#ifndef DATANODE_OPS_CUDA_S8_WGMMA_SELECT_H_
#define DATANODE_OPS_CUDA_S8_WGMMA_SELECT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ops/cuda/matmul_s8_wgmma.cuh"

namespace datanode::ops::cuda {

// The wgmma kernels to try, in order, for the operator's DATANODE_CUDA_WGMMA setting
// (`setting` is the variable's value, null when unset):
//   unset, "" or "auto"  every kernel of kWgmmaKernels, in their order of preference;
//   "0"                  none (mma.sync serves everything);
//   a kernel's name      only that kernel (e.g. "wgmma+TMA" to pin a known-good one).
// INVALID_ARGUMENT naming the accepted values for anything else. Thread-safe.
absl::StatusOr<std::vector<const WgmmaKernel*>> WgmmaCandidates(const char* setting);

// What happened to one candidate at start-up.
struct WgmmaTrial {
  const WgmmaKernel* kernel = nullptr;
  absl::Status check;         // the start-up check (OK: byte-equal to the reference)
  absl::Status timing;        // the timing run, when the check passed and one was made
  double tera_ops_per_s = 0;  // 2 M N K / time at kWgmmaTimingSize^3; 0 = not timed
};

// The timing shape: kWgmmaTimingSize^3 (large enough to fill an H100/H200 many times).
inline constexpr int64_t kWgmmaTimingSize = 4096;

// The fastest trial whose check passed and timing succeeded (the earlier one on a tie);
// when none was timed, the first whose check passed; null when no check passed.
const WgmmaKernel* FastestPassedKernel(const std::vector<WgmmaTrial>& trials);

struct WgmmaSelection {
  const WgmmaKernel* chosen = nullptr;  // null: mma.sync serves everything
  std::vector<WgmmaTrial> trials;       // one per candidate tried, in order
  bool device_lost = false;             // a fault, and the device did not come back
  // One line for logs and Description(): per candidate its TOP/s or why it is off.
  std::string Summary() const;
};

// Checks every candidate on `device`, times those that pass when more than one does,
// and chooses FastestPassedKernel. Stops early, with device_lost set, if a fault left
// the device unusable. Takes well under a second per candidate.
WgmmaSelection SelectWgmmaKernel(const std::vector<const WgmmaKernel*>& candidates, int device);

}  // namespace datanode::ops::cuda

#endif  // DATANODE_OPS_CUDA_S8_WGMMA_SELECT_H_
