// Copyright 2026 The datanode Authors.
//
// The Vulkan backend's resident buffers (Backend::AllocateBuffer / WriteBuffer /
// PrepareResident / RunResident / ReadBuffer): the host writes a buffer, PrepareResident
// moves every operand of a call into device-local memory in the kernel's layout (packed
// A and W, the output's current bytes), and RunResident then runs only the dispatch.
// matmul_s8_s32 runs resident; other kinds run through Run() on the host copies. Not
// thread-safe: the backend calls these under its mutex.
#ifndef DATANODE_OPS_VULKAN_RESIDENT_H_
#define DATANODE_OPS_VULKAN_RESIDENT_H_

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "datanode/ops/backend.h"
#include "ops/vulkan/kernel_runner.h"
#include "ops/vulkan/vulkan_device.h"

namespace datanode::ops::vulkan {

class ResidentBuffer final : public ops::DeviceBuffer {
 public:
  ResidentBuffer(const Backend* owner, int64_t size)
      : ops::DeviceBuffer(owner, size), host(static_cast<size_t>(size)) {}
  std::vector<uint8_t> host;  // what the host last wrote (or read back)
  uint64_t version = 1;       // bumped by every host write
  // The device copy, in the layout of `prepared_as`, made from host version
  // `prepared_version`; `device_newer` once a kernel wrote it.
  vulkan::DeviceBuffer device;
  int prepared_as = -1;  // 0: packed A, 1: packed W, 2: output (raw bytes)
  uint64_t prepared_version = 0;
  bool device_newer = false;
};

// A buffer of `owner`; INVALID_ARGUMENT for size < 0.
absl::StatusOr<std::unique_ptr<ops::DeviceBuffer>> AllocateResident(const Backend* owner,
                                                                    int64_t size);
// The buffer behind `b` if it is `owner`'s, else null.
ResidentBuffer* AsResident(const Backend* owner, const ops::DeviceBuffer* b);

absl::Status PrepareResident(KernelRunner& runner, const ResidentOpArgs& args);
// matmul_s8_s32 only (the caller routes other kinds through Run()).
// *device_seconds as KernelRunner::Run sets it (may be null).
absl::Status RunResidentMatMulS8(KernelRunner& runner, const ResidentOpArgs& args,
                                 double* device_seconds);
// Copies the device copy back to the host copy if a kernel wrote it since.
absl::Status SyncToHost(VulkanDevice& device, ResidentBuffer& b);

}  // namespace datanode::ops::vulkan

#endif  // DATANODE_OPS_VULKAN_RESIDENT_H_
