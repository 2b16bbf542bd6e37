// Copyright 2026 The datanode Authors.
//
// Weights resident in device memory, already in the kernels' layout (see
// weight_packing.h). Created by the Vulkan backend's PrepareWeights(); immutable, so
// concurrent Run() calls may share them. Keeps the device alive until destroyed.
#ifndef DATANODE_OPS_VULKAN_PREPARED_WEIGHTS_H_
#define DATANODE_OPS_VULKAN_PREPARED_WEIGHTS_H_

#include <memory>
#include <utility>

#include "datanode/ops/backend.h"
#include "ops/vulkan/vulkan_device.h"

namespace datanode::ops::vulkan {

class VulkanPreparedWeights final : public PreparedWeights {
 public:
  VulkanPreparedWeights(const Backend* owner, OpKind kind, int64_t n, int64_t k,
                        std::shared_ptr<VulkanDevice> device, DeviceBuffer data,
                        uint64_t data_bytes, DeviceBuffer scales, uint64_t scale_bytes)
      : PreparedWeights(owner, kind, n, k),
        device_(std::move(device)),
        data_(std::move(data)),
        scales_(std::move(scales)),
        data_bytes_(data_bytes),
        scale_bytes_(scale_bytes) {}

  int64_t SizeBytes() const override { return static_cast<int64_t>(data_bytes_ + scale_bytes_); }
  const DeviceBuffer& data() const { return data_; }
  const DeviceBuffer& scales() const { return scales_; }  // invalid when scale_bytes() == 0
  uint64_t data_bytes() const { return data_bytes_; }
  uint64_t scale_bytes() const { return scale_bytes_; }

 private:
  std::shared_ptr<VulkanDevice> device_;  // first member: destroyed after the buffers
  DeviceBuffer data_;
  DeviceBuffer scales_;
  uint64_t data_bytes_;
  uint64_t scale_bytes_;
};

}  // namespace datanode::ops::vulkan

#endif  // DATANODE_OPS_VULKAN_PREPARED_WEIGHTS_H_
