// Copyright 2026 The datanode Authors.
//
// The Vulkan plumbing of the backend: instance and physical-device selection, one
// logical device with one compute queue, buffers, and synchronous submission (record,
// submit, wait on a fence). Kernel-agnostic; the kernels live in kernels.h.
//
// Thread safety: enumeration functions are thread-safe. A VulkanDevice is NOT: the
// backend serializes every use behind its mutex (one command buffer, one fence).
#ifndef DATANODE_OPS_VULKAN_VULKAN_DEVICE_H_
#define DATANODE_OPS_VULKAN_VULKAN_DEVICE_H_

#include <vulkan/vulkan.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ops/vulkan/vulkan_backend.h"

namespace datanode::ops::vulkan {

// Maps a failed VkResult to the backend's error codes: out-of-memory ->
// RESOURCE_EXHAUSTED, everything else (device lost, driver errors) -> UNAVAILABLE.
absl::Status VkError(VkResult result, const char* what);

// A VkBuffer with its own memory allocation. Move-only; frees itself. Must not outlive
// the VulkanDevice that created it.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  ~DeviceBuffer() { Reset(); }
  DeviceBuffer(DeviceBuffer&& other) noexcept { *this = std::move(other); }
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  VkBuffer buffer() const { return buffer_; }
  uint64_t size() const { return size_; }
  // Host pointer for host-visible buffers (kUpload / kReadback), else nullptr.
  uint8_t* mapped() const { return mapped_; }
  bool valid() const { return buffer_ != VK_NULL_HANDLE; }
  void Reset();

 private:
  friend class VulkanDevice;
  VkDevice device_ = VK_NULL_HANDLE;
  VkBuffer buffer_ = VK_NULL_HANDLE;
  VkDeviceMemory memory_ = VK_NULL_HANDLE;
  uint64_t size_ = 0;
  uint8_t* mapped_ = nullptr;
};

enum class MemoryUse {
  kDevice,    // device-local storage buffer (transfer source and destination too)
  kUpload,    // host-visible, coherent, persistently mapped: staging for uploads
  kReadback,  // host-visible, coherent (cached if offered), mapped: staging for results
};

class VulkanDevice {
 public:
  // Creates an instance and a device for `selector` ("" = best: discrete, then
  // integrated, virtual, CPU; a decimal index into ListVulkanDevices(); otherwise a
  // case-insensitive substring of the device name). NOT_FOUND when the selector matches
  // nothing, UNAVAILABLE when no (suitable) device exists; messages list the devices.
  static absl::StatusOr<std::unique_ptr<VulkanDevice>> Create(const std::string& selector);
  ~VulkanDevice();
  VulkanDevice(const VulkanDevice&) = delete;
  VulkanDevice& operator=(const VulkanDevice&) = delete;

  VkDevice device() const { return device_; }
  const VulkanDeviceInfo& info() const { return info_; }
  const VkPhysicalDeviceLimits& limits() const { return limits_; }
  // Total size of the device-local memory heaps, in bytes.
  int64_t DeviceLocalBytes() const {
    int64_t total = 0;
    for (uint32_t i = 0; i < memory_.memoryHeapCount; ++i) {
      if (memory_.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) {
        total += static_cast<int64_t>(memory_.memoryHeaps[i].size);
      }
    }
    return total;
  }

  // A buffer of at least `size` bytes (> 0).
  absl::StatusOr<DeviceBuffer> CreateBuffer(uint64_t size, MemoryUse use);

  // Records one command buffer with `record`, submits it and waits for its fence.
  // UNAVAILABLE on device loss or if the work does not finish within the timeout.
  absl::Status SubmitAndWait(const std::function<void(VkCommandBuffer)>& record);

 private:
  VulkanDevice() = default;
  absl::Status Init(VkPhysicalDevice physical, uint32_t queue_family);

  VkInstance instance_ = VK_NULL_HANDLE;
  VkPhysicalDevice physical_ = VK_NULL_HANDLE;
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  VkCommandPool command_pool_ = VK_NULL_HANDLE;
  VkCommandBuffer command_buffer_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  VkPhysicalDeviceMemoryProperties memory_{};
  VkPhysicalDeviceLimits limits_{};
  VulkanDeviceInfo info_;
};

}  // namespace datanode::ops::vulkan

#endif  // DATANODE_OPS_VULKAN_VULKAN_DEVICE_H_
