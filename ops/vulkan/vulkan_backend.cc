// Copyright 2026 The datanode Authors.
#include "ops/vulkan/vulkan_backend.h"

#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "datanode/ops/digest.h"
#include "datanode/ops/status_macros.h"
#include "datanode/ops/validate.h"
#include "ops/vulkan/device_memory_test.h"
#include "ops/vulkan/kernel_runner.h"
#include "ops/vulkan/llm_kernels.h"
#include "ops/vulkan/prepared_weights.h"
#include "ops/vulkan/resident.h"
#include "ops/vulkan/spirv_blobs.h"
#include "ops/vulkan/vulkan_device.h"
#include "ops/vulkan/vulkan_ops.h"
#include "ops/vulkan/weight_packing.h"

namespace datanode::ops::vulkan {
namespace {

// Resident-buffer argument checks: every buffer is this backend's, and has the size
// the op's shape gives it.
absl::Status CheckResidentRange(const ResidentBuffer* b, int64_t offset, size_t bytes) {
  if (b == nullptr) return absl::InvalidArgumentError("vulkan: a buffer of another backend");
  if (offset < 0 || offset > b->size() || static_cast<int64_t>(bytes) > b->size() - offset) {
    return absl::InvalidArgumentError(absl::StrCat("vulkan: range [", offset, ", +", bytes,
                                                   ") is outside a buffer of ", b->size()));
  }
  return absl::OkStatus();
}

class VulkanBackend final : public Backend {
 public:
  VulkanBackend(std::shared_ptr<VulkanDevice> device, std::unique_ptr<KernelRunner> runner)
      : device_(std::move(device)), runner_(std::move(runner)), llm_(runner_.get(), &mu_) {}

  const char* Name() const override { return "vulkan"; }

  std::string Description() const override {
    const VulkanDeviceInfo& i = device_->info();
    return absl::StrCat(i.name, " (", i.type, ", vendor 0x", absl::Hex(i.vendor_id), " device 0x",
                        absl::Hex(i.device_id), ", driver 0x", absl::Hex(i.driver_version),
                        ", Vulkan ", i.api_version, "), integer kernels, shader set sha256 ",
                        ShaderSetDigest());
  }

  bool Supports(OpKind kind) const override { return FindOpInfo(kind) != nullptr; }
  // The exact sums come from the *_exact kernels (matmul_q8.cc, matmul_s8.cc): the Q8_0
  // family's and K-quants' 128-bit accumulators and s8_f32's isums, before the rounding.
  bool WritesExactSums(OpKind kind) const override {
    return kind == OpKind::kMatMulS8F32 || IsQ8_0MatMul(kind);
  }
  int64_t DeviceMemoryBytes() const override { return device_->DeviceLocalBytes(); }
  // Resident buffers (resident.h): matmul_s8_s32 runs on device-local operands.
  absl::StatusOr<std::unique_ptr<ops::DeviceBuffer>> AllocateBuffer(int64_t size) override {
    return AllocateResident(this, size);
  }
  absl::Status WriteBuffer(ops::DeviceBuffer& dst, int64_t offset, ByteSpan src) override {
    std::lock_guard<std::mutex> lock(mu_);
    ResidentBuffer* b = AsResident(this, &dst);
    RETURN_IF_ERROR(CheckResidentRange(b, offset, src.size()));
    RETURN_IF_ERROR(SyncToHost(*device_, *b));  // bytes outside [offset, +size) stay
    std::memcpy(b->host.data() + offset, src.data(), src.size());
    ++b->version;
    return absl::OkStatus();
  }
  absl::Status ReadBuffer(const ops::DeviceBuffer& src, int64_t offset,
                          std::span<uint8_t> dst) override {
    std::lock_guard<std::mutex> lock(mu_);
    ResidentBuffer* b = AsResident(this, &src);
    RETURN_IF_ERROR(CheckResidentRange(b, offset, dst.size()));
    RETURN_IF_ERROR(SyncToHost(*device_, *b));
    std::memcpy(dst.data(), b->host.data() + offset, dst.size());
    return absl::OkStatus();
  }
  absl::Status PrepareResident(const ResidentOpArgs& args) override {
    RETURN_IF_ERROR(CheckResidentSizes(args));
    std::lock_guard<std::mutex> lock(mu_);
    return vulkan::PrepareResident(*runner_, args);
  }
  absl::Status RunResident(const ResidentOpArgs& args, double* device_seconds) override {
    if (device_seconds != nullptr) *device_seconds = -1;  // unless timestamps say otherwise
    RETURN_IF_ERROR(CheckResidentSizes(args));
    if (args.kind == OpKind::kMatMulS8S32) {
      std::lock_guard<std::mutex> lock(mu_);
      return RunResidentMatMulS8(*runner_, args, device_seconds);
    }
    // Other kinds: Run() on the host copies.
    OpArgs op;
    op.kind = args.kind;
    op.m = args.m;
    op.n = args.n;
    op.k = args.k;
    auto host = [&](const ops::DeviceBuffer* d) -> ResidentBuffer* { return AsResident(this, d); };
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const ops::DeviceBuffer* d : {args.a, args.a_scale, args.w, args.w_scale}) {
        if (d != nullptr) RETURN_IF_ERROR(SyncToHost(*device_, *host(d)));
      }
    }
    if (args.a != nullptr) op.a = host(args.a)->host;
    if (args.a_scale != nullptr) op.a_scale = host(args.a_scale)->host;
    if (args.w != nullptr) op.w = host(args.w)->host;
    if (args.w_scale != nullptr) op.w_scale = host(args.w_scale)->host;
    if (args.out != nullptr) op.out = host(args.out)->host;
    if (args.out_scale != nullptr) op.out_scale = host(args.out_scale)->host;
    RETURN_IF_ERROR(RunOp(*this, op));
    std::lock_guard<std::mutex> lock(mu_);
    for (ops::DeviceBuffer* d : {args.out, args.out_scale}) {
      if (d != nullptr) ++host(d)->version;
    }
    return absl::OkStatus();
  }

  absl::Status CheckResidentSizes(const ResidentOpArgs& args) const {
    ASSIGN_OR_RETURN(const OperandSizes sz, ComputeOperandSizes(args.kind, args.m, args.n, args.k));
    const std::pair<const ops::DeviceBuffer*, int64_t> want[] = {
        {args.a, sz.a},     {args.a_scale, sz.a_scale},
        {args.w, sz.w},     {args.w_scale, sz.w_scale},
        {args.out, sz.out}, {args.out_scale, sz.out_scale}};
    for (const auto& [buf, bytes] : want) {
      if (bytes == 0 && buf == nullptr) continue;
      if (buf == nullptr || AsResident(this, buf) == nullptr || buf->size() != bytes) {
        return absl::InvalidArgumentError(
            absl::StrCat("vulkan: ", OpKindName(args.kind),
                         " needs resident buffers of this backend sized by its shape"));
      }
    }
    return absl::OkStatus();
  }

  // The pattern test in device-local memory, on the device (device_memory_test.h).
  absl::StatusOr<MemoryTestResult> TestDeviceMemory(int64_t bytes, uint64_t seed) override {
    std::lock_guard<std::mutex> lock(mu_);
    return vulkan::TestDeviceMemory(*device_, bytes, seed);
  }
  // The elementwise ops, RmsNorm, RoPE, EncodeKvRow, Attend as shaders; DequantizeRow the
  // reference's.
  const llm::Kernels& LlmKernels() const override { return llm_; }

  absl::Status Run(const OpArgs& args) override {
    WeightsRef weights{args.w, args.w_scale, nullptr};
    if (IsMatMul(args.kind) && args.w_prepared != nullptr) {
      const auto* prepared = dynamic_cast<const VulkanPreparedWeights*>(args.w_prepared);
      if (prepared == nullptr || prepared->owner() != this) {
        return absl::InvalidArgumentError(
            "vulkan: prepared weights were not made by this Vulkan backend");
      }
      weights.prepared = prepared;
    }
    std::lock_guard<std::mutex> lock(mu_);
    switch (args.kind) {
      case OpKind::kMatMulS8S32:
      case OpKind::kMatMulS8F32:
        return RunMatMulS8(*runner_, args, weights);
      case OpKind::kMatMulQ8_0Q8_0:
      case OpKind::kMatMulQ8_0Q4_0:
      case OpKind::kMatMulQ8_0Q4_1:
      case OpKind::kMatMulQ8_0Q4_K:
      case OpKind::kMatMulQ8_0Q6_K:
        return RunMatMulQ8(*runner_, args, weights);
      case OpKind::kQuantizeS8Row:
        return RunQuantizeS8Row(*runner_, args);
      case OpKind::kQuantizeQ8_0:
        return RunQuantizeQ8_0(*runner_, args);
    }
    return absl::UnimplementedError("vulkan: unknown op kind");
  }

  // Weights checked by Backend::PrepareWeights; packed and uploaded here.
  absl::StatusOr<std::unique_ptr<PreparedWeights>> DoPrepareWeights(OpKind kind, int64_t n,
                                                                    int64_t k, ByteSpan w,
                                                                    ByteSpan w_scale) override {
    const PackedWeightSizes sizes = PackedWeightBytes(kind, n, k);
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(DeviceBuffer data, runner_->Upload(sizes.data, [&](uint8_t* dst) {
      PackWeightData(kind, n, k, w, dst);
    }));
    DeviceBuffer scales;
    if (sizes.scales > 0) {
      ASSIGN_OR_RETURN(scales, runner_->Upload(sizes.scales, [&](uint8_t* dst) {
        PackWeightScales(kind, n, k, w, w_scale, dst);
      }));
    }
    return std::make_unique<VulkanPreparedWeights>(this, kind, n, k, device_, std::move(data),
                                                   sizes.data, std::move(scales), sizes.scales);
  }

 private:
  std::shared_ptr<VulkanDevice> device_;  // outlives runner_ (declared first)
  std::unique_ptr<KernelRunner> runner_;
  std::mutex mu_;         // one command buffer, one fence, shared staging: one call at a time
  VulkanLlmKernels llm_;  // shares runner_ and mu_
};

}  // namespace

std::vector<ShaderDigest> ShaderDigests() {
  std::vector<ShaderDigest> out;
  for (const SpirvBlob& b : SpirvBlobs()) out.push_back({b.name, b.sha256_hex, b.size_bytes});
  return out;
}

std::string ShaderSetDigest() {
  std::string lines;
  for (const ShaderDigest& d : ShaderDigests())
    absl::StrAppend(&lines, d.name, " ", d.sha256_hex, "\n");
  const ByteSpan bytes(reinterpret_cast<const uint8_t*>(lines.data()), lines.size());
  return ToHex(Sha256Of({bytes}));
}

absl::StatusOr<std::unique_ptr<Backend>> CreateVulkanBackend(const BackendOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<VulkanDevice> device, VulkanDevice::Create(options.device));
  std::shared_ptr<VulkanDevice> shared(std::move(device));
  ASSIGN_OR_RETURN(std::unique_ptr<KernelRunner> runner, KernelRunner::Create(shared.get()));
  return std::make_unique<VulkanBackend>(std::move(shared), std::move(runner));
}

}  // namespace datanode::ops::vulkan
