// Copyright 2026 The datanode Authors.
#include "ops/vulkan/kernel_runner.h"

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/status_macros.h"
#include "ops/vulkan/spirv_blobs.h"

namespace datanode::ops::vulkan {
namespace {

struct KernelDef {
  std::string blob;  // shader name
  int bindings;      // storage buffers 0 .. bindings - 1
};

// Indexed by KernelId: kernel_runner.h's list, then one per elementwise op.
const std::vector<KernelDef>& KernelDefs() {
  static const std::vector<KernelDef>* const defs = [] {
    auto* d = new std::vector<KernelDef>{
#define DATANODE_VK_KERNEL_DEF(Name, blob, bindings) {blob, bindings},
        DATANODE_VK_KERNELS(DATANODE_VK_KERNEL_DEF)
#undef DATANODE_VK_KERNEL_DEF
    };
    for (const llm::ElementwiseOpInfo& op : llm::kElementwiseOps) {
      d->push_back({absl::StrCat("llm_", op.snake), op.arity + 1});
    }
    return d;
  }();
  return *defs;
}

constexpr uint64_t kStagingAlign = 64;
constexpr uint64_t kMinBufferBytes = 64 * 1024;

uint64_t AlignUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

const SpirvBlob* FindBlob(std::string_view name) {
  for (const SpirvBlob& b : SpirvBlobs()) {
    if (name == b.name) return &b;
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<std::unique_ptr<KernelRunner>> KernelRunner::Create(VulkanDevice* device) {
  std::unique_ptr<KernelRunner> runner(new KernelRunner(device));
  RETURN_IF_ERROR(runner->Init());
  return runner;
}

absl::Status KernelRunner::Init() {
  VkDevice dev = device_->device();
  int total_bindings = 0;
  const std::vector<KernelDef>& defs = KernelDefs();
  if (defs.size() != kernels_.size()) return absl::InternalError("vulkan: kernel table size");
  for (const KernelDef& d : defs) total_bindings += d.bindings;
  VkDescriptorPoolSize pool_size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                 static_cast<uint32_t>(total_bindings)};
  VkDescriptorPoolCreateInfo pool_info{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
  pool_info.maxSets = static_cast<uint32_t>(KernelId::kCount);
  pool_info.poolSizeCount = 1;
  pool_info.pPoolSizes = &pool_size;
  if (VkResult r = vkCreateDescriptorPool(dev, &pool_info, nullptr, &pool_); r != VK_SUCCESS) {
    return VkError(r, "vkCreateDescriptorPool");
  }

  for (size_t i = 0; i < kernels_.size(); ++i) {
    const KernelDef& def = defs[i];
    Kernel& k = kernels_[i];
    k.bindings = def.bindings;
    const SpirvBlob* blob = FindBlob(def.blob);
    if (blob == nullptr) {
      return absl::InternalError(absl::StrCat(
          "vulkan: shader ", def.blob,
          " is not embedded (each shader of kernel_runner.h's list "
          "and each elementwise op's llm_<snake>.comp must be in ops/vulkan/shaders)"));
    }
    VkShaderModuleCreateInfo module_info{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    module_info.codeSize = blob->size_bytes;
    module_info.pCode = blob->words;
    if (VkResult r = vkCreateShaderModule(dev, &module_info, nullptr, &k.module); r != VK_SUCCESS) {
      return VkError(r, "vkCreateShaderModule");
    }

    VkDescriptorSetLayoutBinding bindings[kMaxBindings];
    for (int b = 0; b < def.bindings; ++b) {
      bindings[b] = {};
      bindings[b].binding = static_cast<uint32_t>(b);
      bindings[b].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
      bindings[b].descriptorCount = 1;
      bindings[b].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
    }
    VkDescriptorSetLayoutCreateInfo set_info{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    set_info.bindingCount = static_cast<uint32_t>(def.bindings);
    set_info.pBindings = bindings;
    if (VkResult r = vkCreateDescriptorSetLayout(dev, &set_info, nullptr, &k.set_layout);
        r != VK_SUCCESS) {
      return VkError(r, "vkCreateDescriptorSetLayout");
    }

    VkPushConstantRange push{VK_SHADER_STAGE_COMPUTE_BIT, 0, kMaxPushWords * 4};
    VkPipelineLayoutCreateInfo layout_info{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    layout_info.setLayoutCount = 1;
    layout_info.pSetLayouts = &k.set_layout;
    layout_info.pushConstantRangeCount = 1;
    layout_info.pPushConstantRanges = &push;
    if (VkResult r = vkCreatePipelineLayout(dev, &layout_info, nullptr, &k.layout);
        r != VK_SUCCESS) {
      return VkError(r, "vkCreatePipelineLayout");
    }

    VkComputePipelineCreateInfo pipe_info{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    pipe_info.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
    pipe_info.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    pipe_info.stage.module = k.module;
    pipe_info.stage.pName = "main";
    pipe_info.layout = k.layout;
    if (VkResult r =
            vkCreateComputePipelines(dev, VK_NULL_HANDLE, 1, &pipe_info, nullptr, &k.pipeline);
        r != VK_SUCCESS) {
      return VkError(r, "vkCreateComputePipelines");
    }

    VkDescriptorSetAllocateInfo alloc{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    alloc.descriptorPool = pool_;
    alloc.descriptorSetCount = 1;
    alloc.pSetLayouts = &k.set_layout;
    if (VkResult r = vkAllocateDescriptorSets(dev, &alloc, &k.set); r != VK_SUCCESS) {
      return VkError(r, "vkAllocateDescriptorSets");
    }
  }
  return absl::OkStatus();
}

KernelRunner::~KernelRunner() {
  VkDevice dev = device_->device();
  for (Kernel& k : kernels_) {
    if (k.pipeline != VK_NULL_HANDLE) vkDestroyPipeline(dev, k.pipeline, nullptr);
    if (k.layout != VK_NULL_HANDLE) vkDestroyPipelineLayout(dev, k.layout, nullptr);
    if (k.set_layout != VK_NULL_HANDLE) vkDestroyDescriptorSetLayout(dev, k.set_layout, nullptr);
    if (k.module != VK_NULL_HANDLE) vkDestroyShaderModule(dev, k.module, nullptr);
  }
  if (pool_ != VK_NULL_HANDLE) vkDestroyDescriptorPool(dev, pool_, nullptr);  // frees the sets
  if (timestamps_ != VK_NULL_HANDLE) vkDestroyQueryPool(dev, timestamps_, nullptr);
}

absl::Status KernelRunner::Grow(DeviceBuffer& buffer, uint64_t size, MemoryUse use) {
  if (buffer.valid() && buffer.size() >= size) return absl::OkStatus();
  uint64_t capacity = kMinBufferBytes;
  while (capacity < size) capacity *= 2;
  buffer.Reset();
  ASSIGN_OR_RETURN(buffer, device_->CreateBuffer(capacity, use));
  return absl::OkStatus();
}

absl::Status KernelRunner::Prepare(std::span<const BufferSpec> specs) {
  const uint64_t max_range = device_->limits().maxStorageBufferRange;
  uint64_t upload_bytes = 0;
  uint64_t readback_bytes = 0;
  specs_.assign(specs.begin(), specs.end());
  for (size_t b = 0; b < specs.size(); ++b) {
    const BufferSpec& s = specs[b];
    if (s.bytes == 0 || s.bytes > max_range) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "vulkan: operand buffer ", b, " needs ", s.bytes,
          " bytes; the device's maxStorageBufferRange is ", max_range, " (split the call)"));
    }
    if (s.role == BufferSpec::Role::kInput) {
      staging_offset_[b] = upload_bytes;
      upload_bytes = AlignUp(upload_bytes + s.bytes, kStagingAlign);
    } else if (s.role == BufferSpec::Role::kOutput) {
      staging_offset_[b] = readback_bytes;
      readback_bytes = AlignUp(readback_bytes + s.bytes, kStagingAlign);
    }
    if (s.role != BufferSpec::Role::kResident) {
      RETURN_IF_ERROR(Grow(slots_[b], s.bytes, MemoryUse::kDevice));
    }
  }
  if (upload_bytes > 0) {
    RETURN_IF_ERROR(Grow(upload_, upload_bytes, MemoryUse::kUpload));
    std::memset(upload_.mapped(), 0, upload_bytes);
  }
  if (readback_bytes > 0) RETURN_IF_ERROR(Grow(readback_, readback_bytes, MemoryUse::kReadback));
  return absl::OkStatus();
}

uint8_t* KernelRunner::Input(int binding) { return upload_.mapped() + staging_offset_[binding]; }

const uint8_t* KernelRunner::Output(int binding) const {
  return readback_.mapped() + staging_offset_[binding];
}

absl::Status KernelRunner::Run(const KernelCall& call, double* device_seconds) {
  const Kernel& k = kernels_[static_cast<int>(call.kernel)];
  if (device_seconds != nullptr) *device_seconds = -1;
  const bool timed = device_seconds != nullptr && device_->limits().timestampComputeAndGraphics;
  if (timed && timestamps_ == VK_NULL_HANDLE) {
    VkQueryPoolCreateInfo info{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
    info.queryType = VK_QUERY_TYPE_TIMESTAMP;
    info.queryCount = 2;
    VkResult r = vkCreateQueryPool(device_->device(), &info, nullptr, &timestamps_);
    if (r != VK_SUCCESS) return VkError(r, "vkCreateQueryPool");
  }
  if (static_cast<int>(specs_.size()) != k.bindings) {
    return absl::InternalError(absl::StrCat("vulkan: kernel ", KernelDefs()[int(call.kernel)].blob,
                                            " takes ", k.bindings, " buffers, got ",
                                            specs_.size()));
  }
  const uint32_t max_x = device_->limits().maxComputeWorkGroupCount[0];
  const uint32_t max_y = device_->limits().maxComputeWorkGroupCount[1];
  if ((call.groups_x > max_x && call.x_base_word < 0) ||
      (call.groups_y > max_y && call.y_base_word < 0)) {
    return absl::ResourceExhaustedError("vulkan: the call's grid exceeds the device's limits");
  }

  VkDescriptorBufferInfo infos[kMaxBindings];
  VkWriteDescriptorSet writes[kMaxBindings];
  for (int b = 0; b < k.bindings; ++b) {
    const BufferSpec& s = specs_[b];
    infos[b] = {s.role == BufferSpec::Role::kResident ? s.resident->buffer() : slots_[b].buffer(),
                0, s.bytes};
    writes[b] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
    writes[b].dstSet = k.set;
    writes[b].dstBinding = static_cast<uint32_t>(b);
    writes[b].descriptorCount = 1;
    writes[b].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    writes[b].pBufferInfo = &infos[b];
  }
  // Safe: the previous call's command buffer has completed (SubmitAndWait).
  vkUpdateDescriptorSets(device_->device(), static_cast<uint32_t>(k.bindings), writes, 0, nullptr);

  auto record = [&](VkCommandBuffer cb) {
    for (int b = 0; b < k.bindings; ++b) {
      if (specs_[b].role != BufferSpec::Role::kInput) continue;
      VkBufferCopy region{staging_offset_[b], 0, specs_[b].bytes};
      vkCmdCopyBuffer(cb, upload_.buffer(), slots_[b].buffer(), 1, &region);
    }
    VkMemoryBarrier to_compute{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    to_compute.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_HOST_WRITE_BIT;
    to_compute.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
    vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_HOST_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &to_compute, 0, nullptr, 0,
                         nullptr);
    if (timed) {
      vkCmdResetQueryPool(cb, timestamps_, 0, 2);
      vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, timestamps_, 0);
    }
    vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, k.pipeline);
    vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, k.layout, 0, 1, &k.set, 0, nullptr);
    // Split grids beyond the workgroup-count limits; each piece learns its offset.
    for (uint32_t y0 = 0; y0 < call.groups_y; y0 += max_y) {
      for (uint32_t x0 = 0; x0 < call.groups_x; x0 += max_x) {
        std::array<uint32_t, kMaxPushWords> push = call.push;
        if (call.x_base_word >= 0) push[call.x_base_word] = x0;
        if (call.y_base_word >= 0) push[call.y_base_word] = y0;
        vkCmdPushConstants(cb, k.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, kMaxPushWords * 4,
                           push.data());
        vkCmdDispatch(cb, std::min(max_x, call.groups_x - x0), std::min(max_y, call.groups_y - y0),
                      1);
      }
    }
    if (timed) vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, timestamps_, 1);
    VkMemoryBarrier to_transfer{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    to_transfer.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
    to_transfer.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
    vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
                         0, 1, &to_transfer, 0, nullptr, 0, nullptr);
    for (int b = 0; b < k.bindings; ++b) {
      if (specs_[b].role != BufferSpec::Role::kOutput) continue;
      VkBufferCopy region{0, staging_offset_[b], specs_[b].bytes};
      vkCmdCopyBuffer(cb, slots_[b].buffer(), readback_.buffer(), 1, &region);
    }
    VkMemoryBarrier to_host{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    to_host.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
    to_host.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1,
                         &to_host, 0, nullptr, 0, nullptr);
  };
  RETURN_IF_ERROR(device_->SubmitAndWait(record));
  if (timed) {
    uint64_t ticks[2] = {0, 0};
    VkResult r =
        vkGetQueryPoolResults(device_->device(), timestamps_, 0, 2, sizeof(ticks), ticks,
                              sizeof(uint64_t), VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
    if (r != VK_SUCCESS) return VkError(r, "vkGetQueryPoolResults");
    *device_seconds =
        static_cast<double>(ticks[1] - ticks[0]) * device_->limits().timestampPeriod * 1e-9;
  }
  return absl::OkStatus();
}

absl::StatusOr<DeviceBuffer> KernelRunner::Upload(uint64_t size,
                                                  const std::function<void(uint8_t*)>& fill) {
  if (size == 0 || size > device_->limits().maxStorageBufferRange) {
    return absl::ResourceExhaustedError(absl::StrCat("vulkan: a ", size,
                                                     "-byte weight buffer exceeds the device's "
                                                     "maxStorageBufferRange of ",
                                                     device_->limits().maxStorageBufferRange));
  }
  RETURN_IF_ERROR(Grow(upload_, size, MemoryUse::kUpload));
  std::memset(upload_.mapped(), 0, size);
  fill(upload_.mapped());
  ASSIGN_OR_RETURN(DeviceBuffer out, device_->CreateBuffer(size, MemoryUse::kDevice));
  RETURN_IF_ERROR(device_->SubmitAndWait([&](VkCommandBuffer cb) {
    VkBufferCopy region{0, 0, size};
    vkCmdCopyBuffer(cb, upload_.buffer(), out.buffer(), 1, &region);
  }));
  return out;
}

}  // namespace datanode::ops::vulkan
