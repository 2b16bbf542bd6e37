// Copyright 2026 The datanode Authors.
//
// The CUDA backend's Backend::TestDeviceMemory: a pattern test of the GPU's global
// memory run on the GPU, as GPU memory testers do (the host-RAM default would measure
// the wrong memory). The same test as the Vulkan backend's (ops/vulkan/
// device_memory_test.h), with the CUDA runtime's memset and copy engines.
#ifndef DATANODE_OPS_CUDA_DEVICE_MEMORY_TEST_H_
#define DATANODE_OPS_CUDA_DEVICE_MEMORY_TEST_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "datanode/ops/backend.h"

namespace datanode::ops::cuda {

// On the current device: splits `bytes` into source and destination halves (buffers of
// at most 256 MiB) and runs five patterns: 0s, 1s, 0xAA.., 0x55.. written by
// cudaMemsetAsync, and an address-dependent one (a random 1 MiB block from `seed`,
// copied to every block at a block-dependent rotation); each pattern is then copied
// source -> destination on the device, and the destination is read back and compared
// on the host (outside the timed region). Timed with CUDA events around the fills and
// copies (the replication of the address pattern is not timed), so device_timed is
// true. bytes_moved counts a fill as one write and a copy as a read and a write.
// INVALID_ARGUMENT below 16 bytes; RESOURCE_EXHAUSTED when the memory cannot be
// allocated; other CUDA errors as CudaStatus maps them. Not thread-safe with other
// users of the same buffers (it allocates its own, and frees them before returning).
absl::StatusOr<MemoryTestResult> TestCudaDeviceMemory(int64_t bytes, uint64_t seed);

}  // namespace datanode::ops::cuda

#endif  // DATANODE_OPS_CUDA_DEVICE_MEMORY_TEST_H_
