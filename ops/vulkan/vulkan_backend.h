// Copyright 2026 The datanode Authors.
//
// The Vulkan compute backend: every op of the spec as GLSL compute shaders using
// integer arithmetic only (the one rounding to f32/f16 is an integer routine), so any
// Vulkan 1.1 device (AMD, Intel, NVIDIA, mobile, Mesa lavapipe) writes exactly the
// reference's bytes. No shaderInt64, 8/16-bit storage or integer-dot-product feature is
// required. See docs/vulkan.md.
//
// Thread safety: all functions here are thread-safe; the backend's Run() and
// PrepareWeights() serialize device work behind one mutex.
#ifndef DATANODE_OPS_VULKAN_VULKAN_BACKEND_H_
#define DATANODE_OPS_VULKAN_VULKAN_BACKEND_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "datanode/ops/backend.h"

namespace datanode::ops::vulkan {

// Creates the backend on the device chosen by options.device: "" = the best device
// (discrete GPU, then integrated, virtual, CPU), a decimal index into
// ListVulkanDevices(), or a case-insensitive substring of the device name.
// Errors: UNAVAILABLE when the Vulkan loader finds no device, or the chosen device
// lacks what the kernels need (Vulkan 1.1, a compute queue, 256-invocation
// workgroups); NOT_FOUND when the selector matches no device. Messages name the
// devices present. Does not run the golden self-test (CreateBackend("vulkan") does).
absl::StatusOr<std::unique_ptr<Backend>> CreateVulkanBackend(const BackendOptions& options);

struct VulkanDeviceInfo {
  int index = 0;     // position in the loader's enumeration order
  std::string name;  // VkPhysicalDeviceProperties::deviceName
  std::string type;  // "discrete GPU", "integrated GPU", "virtual GPU", "CPU", "other"
  uint32_t vendor_id = 0;
  uint32_t device_id = 0;
  std::string api_version;      // e.g. "1.3.230"
  uint32_t driver_version = 0;  // vendor-encoded
};

// The physical devices the Vulkan loader reports (an empty list when there are none).
// UNAVAILABLE when no Vulkan loader / driver can be initialized at all.
absl::StatusOr<std::vector<VulkanDeviceInfo>> ListVulkanDevices();

struct ShaderDigest {
  std::string name;        // shader file name without ".comp"
  std::string sha256_hex;  // SHA-256 of the embedded SPIR-V bytes
  size_t size_bytes = 0;
};

// Every embedded SPIR-V kernel with its digest, sorted by name.
std::vector<ShaderDigest> ShaderDigests();
// SHA-256 (hex) over the concatenated "name sha256\n" lines of ShaderDigests(): one
// value naming the whole shader build (also in the backend's Description()).
std::string ShaderSetDigest();

}  // namespace datanode::ops::vulkan

#endif  // DATANODE_OPS_VULKAN_VULKAN_BACKEND_H_
