// Copyright 2026 The datanode Authors.
//
// The compute shaders of the Vulkan backend, compiled from ops/vulkan/shaders/*.comp by
// glslc at build time and embedded by embed_spirv.cmake (generated spirv_blobs.cc).
// Each blob carries the SHA-256 of its exact bytes, so reports can name the shader
// build that produced a result. Immutable data: thread-safe.
#ifndef DATANODE_OPS_VULKAN_SPIRV_BLOBS_H_
#define DATANODE_OPS_VULKAN_SPIRV_BLOBS_H_

#include <cstddef>
#include <cstdint>
#include <span>

namespace datanode::ops::vulkan {

struct SpirvBlob {
  const char* name;        // shader file name without ".comp", e.g. "matmul_s8_s32"
  const uint32_t* words;   // SPIR-V code
  size_t size_bytes;       // a multiple of 4
  const char* sha256_hex;  // SHA-256 of the size_bytes bytes, lower-case hex
};

// All blobs, sorted by name.
std::span<const SpirvBlob> SpirvBlobs();

}  // namespace datanode::ops::vulkan

#endif  // DATANODE_OPS_VULKAN_SPIRV_BLOBS_H_
