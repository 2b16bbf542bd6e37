// Copyright 2026 The datanode Authors.
//
// The Vulkan backend's llm::Kernels (Backend::LlmKernels): the elementwise ops, RmsNorm, RoPE
// (RopeApply; the table is RopeTable's, built on the host), EncodeKvRow and Attend run as
// integer compute shaders (shaders/llm_*.comp) returning the reference's bytes;
// DequantizeRow (the embedding lookup) is the reference's (host). An input the reference rejects
// (size mismatch, non-finite value, bad eps or length) or an empty row is handed to the reference
// function itself, so statuses are exactly the reference's.
//
// Thread safety: const and thread-safe; device work takes the backend's mutex.
#ifndef DATANODE_OPS_VULKAN_LLM_KERNELS_H_
#define DATANODE_OPS_VULKAN_LLM_KERNELS_H_

#include <mutex>

#include "datanode/ops/llm_kernels.h"
#include "ops/vulkan/kernel_runner.h"

namespace datanode::ops::vulkan {

class VulkanLlmKernels final : public llm::Kernels {
 public:
  // runner and mu belong to the backend and outlive this object.
  VulkanLlmKernels(KernelRunner* runner, std::mutex* mu) : runner_(runner), mu_(mu) {}

  const char* Name() const override { return "vulkan"; }

  absl::Status RmsNorm(std::span<const float> x, std::span<const float> gain, float eps,
                       std::span<float> out) const override;
  absl::Status RopeApply(const llm::RopeTable& table, int64_t pos, int n_heads, int head_dim,
                         std::span<float> x) const override;
  absl::Status EncodeKvRow(const llm::AttentionShape& shape, std::span<const float> row,
                           std::span<uint8_t> out) const override;
  // Host fallback (the reference) when the scratch (16 bytes per head and position) or
  // a cache would exceed kMaxAttendScratchBytes.
  absl::Status Attend(const llm::AttentionShape& shape, std::span<const float> q, ByteSpan k_cache,
                      ByteSpan v_cache, int64_t n_positions, std::span<float> out) const override;

  static constexpr uint64_t kMaxAttendScratchBytes = uint64_t{64} << 20;

 protected:
  // Every elementwise op: its shader (kernel_runner.h) over the whole row; rows of more
  // than 2^32 - 1 values go to the reference.
  absl::Status RunElementwise(llm::ElementwiseOp op, std::span<const std::span<const float>> in,
                              std::span<float> out) const override;

 private:
  KernelRunner* runner_;
  std::mutex* mu_;
};

}  // namespace datanode::ops::vulkan

#endif  // DATANODE_OPS_VULKAN_LLM_KERNELS_H_
