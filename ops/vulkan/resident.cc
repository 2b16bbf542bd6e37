// Copyright 2026 The datanode Authors.
#include "ops/vulkan/resident.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "datanode/ops/status_macros.h"
#include "ops/vulkan/weight_packing.h"

namespace datanode::ops::vulkan {
namespace {

enum Layout { kPackedA = 0, kPackedW = 1, kRaw = 2 };

// Puts `b`'s host bytes on the device in `layout`, unless that is already done.
absl::Status Place(KernelRunner& runner, ResidentBuffer& b, Layout layout,
                   const ResidentOpArgs& a) {
  if (b.prepared_as == layout && b.prepared_version == b.version) return absl::OkStatus();
  uint64_t size = 0;
  std::function<void(uint8_t*)> fill;
  switch (layout) {
    case kPackedA:
      size = PackedS8Bytes(PadTo(a.m, kS8Tile), a.k);
      fill = [&](uint8_t* dst) { PackS8(b.host, a.m, a.k, dst); };
      break;
    case kPackedW:
      size = PackedWeightBytes(a.kind, a.n, a.k).data;
      fill = [&](uint8_t* dst) { PackWeightData(a.kind, a.n, a.k, b.host, dst); };
      break;
    case kRaw:
      size = b.host.size();
      fill = [&](uint8_t* dst) { std::memcpy(dst, b.host.data(), b.host.size()); };
      break;
  }
  ASSIGN_OR_RETURN(b.device, runner.Upload(size, fill));
  b.prepared_as = layout;
  b.prepared_version = b.version;
  b.device_newer = false;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ops::DeviceBuffer>> AllocateResident(const Backend* owner,
                                                                    int64_t size) {
  if (size < 0) return absl::InvalidArgumentError(absl::StrCat("buffer size ", size));
  return std::make_unique<ResidentBuffer>(owner, size);
}

ResidentBuffer* AsResident(const Backend* owner, const ops::DeviceBuffer* b) {
  auto* r = dynamic_cast<ResidentBuffer*>(const_cast<ops::DeviceBuffer*>(b));
  return r != nullptr && r->owner() == owner ? r : nullptr;
}

absl::Status PrepareResident(KernelRunner& runner, const ResidentOpArgs& args) {
  if (args.kind != OpKind::kMatMulS8S32) return absl::OkStatus();  // runs from the host copies
  auto* a = AsResident(args.out->owner(), args.a);
  auto* w = AsResident(args.out->owner(), args.w);
  auto* out = AsResident(args.out->owner(), args.out);
  if (a == nullptr || w == nullptr || out == nullptr) {
    return absl::InvalidArgumentError("vulkan: a buffer of another backend");
  }
  RETURN_IF_ERROR(Place(runner, *a, kPackedA, args));
  RETURN_IF_ERROR(Place(runner, *w, kPackedW, args));
  // The output's current bytes too (a caller's poison): a kernel that writes nothing
  // must leave exactly those.
  return Place(runner, *out, kRaw, args);
}

absl::Status RunResidentMatMulS8(KernelRunner& runner, const ResidentOpArgs& args,
                                 double* device_seconds) {
  auto* a = AsResident(args.out->owner(), args.a);
  auto* w = AsResident(args.out->owner(), args.w);
  auto* out = AsResident(args.out->owner(), args.out);
  if (a == nullptr || w == nullptr || out == nullptr) {
    return absl::InvalidArgumentError("vulkan: a buffer of another backend");
  }
  if (a->prepared_as != kPackedA || a->prepared_version != a->version ||
      w->prepared_as != kPackedW || w->prepared_version != w->version || out->prepared_as != kRaw ||
      out->prepared_version != out->version) {
    return absl::FailedPreconditionError(
        "vulkan: RunResident before PrepareResident of the same operands");
  }
  const int64_t m_pad = PadTo(args.m, kS8Tile);
  const int64_t n_pad = PadTo(args.n, kS8Tile);
  const BufferSpec specs[] = {
      {BufferSpec::Role::kResident, a->device.size(), &a->device},
      {BufferSpec::Role::kResident, w->device.size(), &w->device},
      {BufferSpec::Role::kResident, out->device.size(), &out->device},
  };
  RETURN_IF_ERROR(runner.Prepare(specs));
  KernelCall call;
  call.kernel = KernelId::kMatMulS8S32;
  call.push = {static_cast<uint32_t>(args.m), static_cast<uint32_t>(args.n),
               static_cast<uint32_t>(PadTo(args.k, kS8KAlignBytes) / 16), 0, 0};
  call.groups_x = static_cast<uint32_t>(n_pad / kS8Tile);
  call.groups_y = static_cast<uint32_t>(m_pad / kS8Tile);
  call.y_base_word = 3;
  call.x_base_word = 4;
  RETURN_IF_ERROR(runner.Run(call, device_seconds));
  out->device_newer = true;
  return absl::OkStatus();
}

absl::Status SyncToHost(VulkanDevice& device, ResidentBuffer& b) {
  if (!b.device_newer) return absl::OkStatus();
  const uint64_t n = b.host.size();
  ASSIGN_OR_RETURN(DeviceBuffer readback, device.CreateBuffer(n, MemoryUse::kReadback));
  RETURN_IF_ERROR(device.SubmitAndWait([&](VkCommandBuffer cb) {
    VkBufferCopy region{0, 0, n};
    vkCmdCopyBuffer(cb, b.device.buffer(), readback.buffer(), 1, &region);
  }));
  std::memcpy(b.host.data(), readback.mapped(), n);
  b.device_newer = false;
  b.prepared_version = b.version;  // the device copy equals the host copy again
  return absl::OkStatus();
}

}  // namespace datanode::ops::vulkan
