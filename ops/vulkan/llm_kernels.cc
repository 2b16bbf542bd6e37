// Copyright 2026 The datanode Authors.
#include "ops/vulkan/llm_kernels.h"

#include <cstring>

#include "datanode/ops/exact_float.h"
#include "datanode/ops/status_macros.h"

namespace datanode::ops::vulkan {
namespace {

bool AllFinite(std::span<const float> v) {
  for (float f : v) {
    if (!IsFiniteF32Bits(F32ToBits(f))) return false;
  }
  return true;
}

}  // namespace

absl::Status VulkanLlmKernels::RunBinary(KernelId kernel, std::span<const float> a,
                                         std::span<const float> b, std::span<float> out) const {
  const uint64_t bytes = a.size() * sizeof(float);
  const BufferSpec specs[] = {
      {BufferSpec::Role::kInput, bytes},
      {BufferSpec::Role::kInput, bytes},
      {BufferSpec::Role::kOutput, bytes},
  };
  std::lock_guard<std::mutex> lock(*mu_);
  RETURN_IF_ERROR(runner_->Prepare(specs));
  std::memcpy(runner_->Input(0), a.data(), bytes);
  std::memcpy(runner_->Input(1), b.data(), bytes);
  constexpr uint64_t kWorkgroup = 64;  // local_size_x of llm_add / llm_silu_mul
  KernelCall call;
  call.kernel = kernel;
  call.push = {static_cast<uint32_t>(a.size()), 0};
  call.groups_x = static_cast<uint32_t>((a.size() + kWorkgroup - 1) / kWorkgroup);
  call.x_base_word = 1;
  RETURN_IF_ERROR(runner_->Run(call));
  std::memcpy(out.data(), runner_->Output(2), bytes);
  return absl::OkStatus();
}

absl::Status VulkanLlmKernels::Add(std::span<const float> x, std::span<const float> y,
                                   std::span<float> out) const {
  if (x.empty() || x.size() != y.size() || x.size() != out.size() || x.size() > 0xFFFFFFFFu ||
      !AllFinite(x) || !AllFinite(y)) {
    return llm::Add(x, y, out);
  }
  return RunBinary(KernelId::kLlmAdd, x, y, out);
}

absl::Status VulkanLlmKernels::SiluMul(std::span<const float> gate, std::span<const float> up,
                                       std::span<float> out) const {
  if (gate.empty() || gate.size() != up.size() || gate.size() != out.size() ||
      gate.size() > 0xFFFFFFFFu || !AllFinite(gate) || !AllFinite(up)) {
    return llm::SiluMul(gate, up, out);
  }
  return RunBinary(KernelId::kLlmSiluMul, gate, up, out);
}

absl::Status VulkanLlmKernels::RmsNorm(std::span<const float> x, std::span<const float> gain,
                                       float eps, std::span<float> out) const {
  const uint32_t eps_bits = F32ToBits(eps);
  if (x.empty() || x.size() > (size_t{1} << 15) || x.size() != gain.size() ||
      x.size() != out.size() || !AllFinite(x) || !AllFinite(gain) || !IsFiniteF32Bits(eps_bits) ||
      (eps_bits >> 31) != 0 || eps_bits == 0) {
    return llm::RmsNorm(x, gain, eps, out);
  }
  const uint64_t bytes = x.size() * sizeof(float);
  const BufferSpec specs[] = {
      {BufferSpec::Role::kInput, bytes},
      {BufferSpec::Role::kInput, bytes},
      {BufferSpec::Role::kOutput, bytes},
  };
  std::lock_guard<std::mutex> lock(*mu_);
  RETURN_IF_ERROR(runner_->Prepare(specs));
  std::memcpy(runner_->Input(0), x.data(), bytes);
  std::memcpy(runner_->Input(1), gain.data(), bytes);
  KernelCall call;
  call.kernel = KernelId::kLlmRmsNorm;
  call.push = {static_cast<uint32_t>(x.size()), eps_bits};
  call.groups_x = 1;  // one workgroup per row
  RETURN_IF_ERROR(runner_->Run(call));
  std::memcpy(out.data(), runner_->Output(2), bytes);
  return absl::OkStatus();
}

}  // namespace datanode::ops::vulkan
