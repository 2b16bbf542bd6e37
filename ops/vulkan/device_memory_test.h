// Copyright 2026 The datanode Authors.
//
// The Vulkan backend's Backend::TestDeviceMemory: a pattern test of device-local
// memory run on the device, as GPU memory testers do. Not thread-safe (the backend
// calls it under its mutex, like every use of a VulkanDevice).
#ifndef DATANODE_OPS_VULKAN_DEVICE_MEMORY_TEST_H_
#define DATANODE_OPS_VULKAN_DEVICE_MEMORY_TEST_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "datanode/ops/backend.h"
#include "ops/vulkan/vulkan_device.h"

namespace datanode::ops::vulkan {

// Splits `bytes` of device-local memory into source and destination halves (buffers
// of at most 256 MiB) and runs five patterns: 0s, 1s, 0xAA.., 0x55.. written by
// vkCmdFillBuffer, and an address-dependent one (a random block from `seed`, copied
// to every block at a block-dependent rotation); each pattern is then copied source ->
// destination on the device, and the destination is read back and compared on the host
// (outside the timed region). Timed: the fills and the copies (the replication of the
// address pattern is not), with timestamp queries when the device has them
// (VkPhysicalDeviceLimits::timestampComputeAndGraphics), else the host clock around
// the submission. RESOURCE_EXHAUSTED when the memory cannot be allocated; UNAVAILABLE
// on device errors.
absl::StatusOr<MemoryTestResult> TestDeviceMemory(VulkanDevice& device, int64_t bytes,
                                                  uint64_t seed);

}  // namespace datanode::ops::vulkan

#endif  // DATANODE_OPS_VULKAN_DEVICE_MEMORY_TEST_H_
