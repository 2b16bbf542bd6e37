// Copyright 2026 The datanode Authors.
//
// Host side of each op on the Vulkan backend: pack the operands into the kernels'
// layout (weight_packing.h), run the kernel through the KernelRunner, unpack the
// result into the spec's bytes. Each requires ValidateOp() to have passed and the
// caller to hold the backend's mutex. Errors: RESOURCE_EXHAUSTED / UNAVAILABLE from
// the device.
#ifndef DATANODE_OPS_VULKAN_VULKAN_OPS_H_
#define DATANODE_OPS_VULKAN_VULKAN_OPS_H_

#include "absl/status/status.h"
#include "datanode/ops/types.h"
#include "ops/vulkan/kernel_runner.h"
#include "ops/vulkan/prepared_weights.h"

namespace datanode::ops::vulkan {

// The weights of a matmul call: raw spec bytes, or device-resident prepared weights.
struct WeightsRef {
  ByteSpan w;
  ByteSpan w_scale;
  const VulkanPreparedWeights* prepared = nullptr;
};

// kMatMulS8S32 / kMatMulS8F32 (matmul_s8.cc).
absl::Status RunMatMulS8(KernelRunner& runner, const OpArgs& args, const WeightsRef& weights);
// kMatMulQ8_0Q8_0 / Q4_0 / Q4_1 / Q4_K / Q6_K (matmul_q8.cc).
absl::Status RunMatMulQ8(KernelRunner& runner, const OpArgs& args, const WeightsRef& weights);
// kQuantizeS8Row (quantize_s8_row.cc).
absl::Status RunQuantizeS8Row(KernelRunner& runner, const OpArgs& args);
// kQuantizeQ8_0 (quantize_q8_0.cc).
absl::Status RunQuantizeQ8_0(KernelRunner& runner, const OpArgs& args);

// Binds the weight operand: uploaded from `w` bytes packed by `pack`, or the prepared
// buffer. Shared helper of the matmuls.
BufferSpec WeightSpec(const WeightsRef& weights, uint64_t bytes, bool scales);

}  // namespace datanode::ops::vulkan

#endif  // DATANODE_OPS_VULKAN_VULKAN_OPS_H_
