// Copyright 2026 The datanode Authors.
//
// Resident buffers of the CUDA backend (Backend::AllocateBuffer / WriteBuffer /
// PrepareResident / RunResident / ReadBuffer): what the admission test's performance
// phase times. matmul_s8_s32 operands live on the GPU, packed and padded for the
// call's plan (PlanS8Gemm) by PrepareResident, outside the timed region; RunResident
// runs only the GEMM (LaunchS8Gemm, the kernel ChooseS8Kernel picks, as Run would),
// timed by CUDA events (device_seconds); ReadBuffer copies the result back. Every other
// op kind runs through Backend::Run on the host copies.
//
// A buffer keeps the host's bytes (every WriteBuffer) and, after PrepareResident, the
// device copy made from them: RunResident refuses operands whose latest host bytes were
// not prepared (FAILED_PRECONDITION), so a timed run never includes an upload. The
// output's poisoned host bytes are uploaded too, so a kernel that writes nothing is
// seen. One call at a time per buffer (the DeviceBuffer contract); different buffers
// may be used from different threads.
#ifndef DATANODE_OPS_CUDA_RESIDENT_H_
#define DATANODE_OPS_CUDA_RESIDENT_H_

#include <cstdint>
#include <memory>
#include <span>

#include "absl/status/statusor.h"
#include "datanode/ops/backend.h"
#include "ops/cuda/device_memory.h"

namespace datanode::ops::cuda {

class CudaResident {
 public:
  // `owner` is the backend whose buffers these are; `pool` and `streams` are its own.
  // `wgmma_enabled` is read at each run (the backend sets it once at start-up).
  CudaResident(const Backend* owner, int device, int sm_count, const bool* wgmma_enabled,
               DevicePool& pool, StreamPool& streams)
      : owner_(owner),
        device_(device),
        sm_count_(sm_count),
        wgmma_enabled_(wgmma_enabled),
        pool_(pool),
        streams_(streams) {}

  absl::StatusOr<std::unique_ptr<ops::DeviceBuffer>> Allocate(int64_t size);
  absl::Status Write(ops::DeviceBuffer& dst, int64_t offset, ByteSpan src);
  absl::Status Read(const ops::DeviceBuffer& src, int64_t offset, std::span<uint8_t> dst);
  absl::Status Prepare(const ResidentOpArgs& args);
  // `backend` runs the kinds other than matmul_s8_s32 (through its Run()).
  absl::Status Run(Backend& backend, const ResidentOpArgs& args, double* device_seconds);

 private:
  const Backend* owner_;
  const int device_;
  const int sm_count_;
  const bool* wgmma_enabled_;
  DevicePool& pool_;
  StreamPool& streams_;
};

}  // namespace datanode::ops::cuda

#endif  // DATANODE_OPS_CUDA_RESIDENT_H_
