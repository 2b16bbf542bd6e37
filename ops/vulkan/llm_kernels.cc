// Copyright 2026 The datanode Authors.
#include "ops/vulkan/llm_kernels.h"

#include <cstring>

#include "datanode/ops/exact_float.h"
#include "datanode/ops/status_macros.h"
#include "ops/reference/fixed_point.h"

namespace datanode::ops::vulkan {
namespace {

bool AllFinite(std::span<const float> v) {
  for (float f : v) {
    if (!IsFiniteF32Bits(F32ToBits(f))) return false;
  }
  return true;
}

}  // namespace

absl::Status VulkanLlmKernels::RunElementwise(llm::ElementwiseOp op,
                                              std::span<const std::span<const float>> in,
                                              std::span<float> out) const {
  if (out.size() > 0xFFFFFFFFu) return llm::Elementwise(op, in, out);
  const uint64_t bytes = out.size() * sizeof(float);
  const int arity = static_cast<int>(in.size());
  BufferSpec specs[llm::kMaxElementwiseArity + 1];
  for (int i = 0; i < arity; ++i) specs[i] = {BufferSpec::Role::kInput, bytes};
  specs[arity] = {BufferSpec::Role::kOutput, bytes};
  std::lock_guard<std::mutex> lock(*mu_);
  RETURN_IF_ERROR(runner_->Prepare(std::span<const BufferSpec>(specs, arity + 1)));
  for (int i = 0; i < arity; ++i) std::memcpy(runner_->Input(i), in[i].data(), bytes);
  KernelCall call;
  call.kernel = ElementwiseKernelId(op);
  call.push = {static_cast<uint32_t>(out.size()), 0};
  call.groups_x =
      static_cast<uint32_t>((out.size() + kElementwiseWorkgroup - 1) / kElementwiseWorkgroup);
  call.x_base_word = 1;
  RETURN_IF_ERROR(runner_->Run(call));
  std::memcpy(out.data(), runner_->Output(arity), bytes);
  return absl::OkStatus();
}

absl::Status VulkanLlmKernels::RopeApply(const llm::RopeTable& table, int64_t pos, int n_heads,
                                         int head_dim, std::span<float> x) const {
  const int pairs = table.rope_dim() / 2;
  if (pos < 0 || pos >= table.max_positions() || n_heads < 1 || head_dim < table.rope_dim() ||
      static_cast<int64_t>(x.size()) != int64_t{n_heads} * head_dim || x.size() > 0xFFFFFFFFu ||
      !AllFinite(x)) {
    return table.Apply(pos, n_heads, head_dim, x);
  }
  const uint64_t bytes = x.size() * sizeof(float);
  const uint64_t table_bytes = uint64_t{2} * pairs * sizeof(int32_t);
  const BufferSpec specs[] = {
      {BufferSpec::Role::kInput, bytes},
      {BufferSpec::Role::kInput, table_bytes},
      {BufferSpec::Role::kOutput, bytes},
  };
  std::lock_guard<std::mutex> lock(*mu_);
  RETURN_IF_ERROR(runner_->Prepare(specs));
  std::memcpy(runner_->Input(0), x.data(), bytes);
  std::memcpy(runner_->Input(1), table.CosQ30(pos), table_bytes / 2);
  std::memcpy(runner_->Input(1) + table_bytes / 2, table.SinQ30(pos), table_bytes / 2);
  constexpr uint64_t kWorkgroup = 64;  // local_size_x of llm_rope
  KernelCall call;
  call.kernel = KernelId::kLlmRope;
  call.push = {static_cast<uint32_t>(x.size()), 0, static_cast<uint32_t>(head_dim),
               static_cast<uint32_t>(pairs)};
  call.groups_x = static_cast<uint32_t>((x.size() + kWorkgroup - 1) / kWorkgroup);
  call.x_base_word = 1;
  RETURN_IF_ERROR(runner_->Run(call));
  std::memcpy(x.data(), runner_->Output(2), bytes);
  return absl::OkStatus();
}

absl::Status VulkanLlmKernels::EncodeKvRow(const llm::AttentionShape& shape,
                                           std::span<const float> row,
                                           std::span<uint8_t> out) const {
  if (!llm::ValidateAttentionShape(shape).ok() ||
      static_cast<int64_t>(row.size()) != int64_t{shape.n_kv_heads} * shape.head_dim ||
      out.size() != 2 * row.size() || row.size() % 2 != 0 || row.size() > 0xFFFFFFFFu ||
      !AllFinite(row)) {
    return llm::EncodeKvRow(shape, row, out);
  }
  const uint64_t bytes = row.size() * sizeof(float);
  const BufferSpec specs[] = {
      {BufferSpec::Role::kInput, bytes},
      {BufferSpec::Role::kOutput, out.size()},
  };
  std::lock_guard<std::mutex> lock(*mu_);
  RETURN_IF_ERROR(runner_->Prepare(specs));
  std::memcpy(runner_->Input(0), row.data(), bytes);
  constexpr uint64_t kWorkgroup = 64;  // local_size_x of llm_encode_kv_row
  const uint64_t words = row.size() / 2;
  KernelCall call;
  call.kernel = KernelId::kLlmEncodeKvRow;
  call.push = {static_cast<uint32_t>(words), 0};
  call.groups_x = static_cast<uint32_t>((words + kWorkgroup - 1) / kWorkgroup);
  call.x_base_word = 1;
  RETURN_IF_ERROR(runner_->Run(call));
  std::memcpy(out.data(), runner_->Output(1), out.size());
  return absl::OkStatus();
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

absl::Status VulkanLlmKernels::Attend(const llm::AttentionShape& shape, std::span<const float> q,
                                      ByteSpan k_cache, ByteSpan v_cache, int64_t n_positions,
                                      std::span<float> out) const {
  auto reference = [&] { return llm::Attend(shape, q, k_cache, v_cache, n_positions, out); };
  if (!llm::ValidateAttentionShape(shape).ok()) return reference();
  const int64_t q_size = int64_t{shape.n_heads} * shape.head_dim;
  const int64_t row_bytes = llm::KvRowBytes(shape);
  if (static_cast<int64_t>(q.size()) != q_size || static_cast<int64_t>(out.size()) != q_size ||
      n_positions < 1 || n_positions > (int64_t{1} << 20) || !AllFinite(q)) {
    return reference();
  }
  const uint64_t cache_bytes = static_cast<uint64_t>(n_positions * row_bytes);
  const uint64_t scratch_bytes = static_cast<uint64_t>(shape.n_heads) * n_positions * 16;
  if (k_cache.size() < cache_bytes || v_cache.size() < cache_bytes ||
      scratch_bytes > kMaxAttendScratchBytes || cache_bytes > kMaxAttendScratchBytes) {
    return reference();
  }
  for (uint64_t i = 0; i < cache_bytes; i += 2) {
    if (!IsFiniteF16Bits(LoadU16(&k_cache[i])) || !IsFiniteF16Bits(LoadU16(&v_cache[i]))) {
      return reference();
    }
  }
  // C = floor(sqrt(16 kLog2eQ38^2 / head_dim)), log2(e) / sqrt(head_dim) in Q.40.
  const uint128 l = static_cast<uint128>(llm::fixed::kLog2eQ38);
  const uint64_t c = static_cast<uint64_t>(
      llm::fixed::ISqrt128((16 * l * l) / static_cast<uint64_t>(shape.head_dim)));

  const uint64_t q_bytes = q.size() * sizeof(float);
  const BufferSpec specs[] = {
      {BufferSpec::Role::kInput, q_bytes},     {BufferSpec::Role::kInput, cache_bytes},
      {BufferSpec::Role::kInput, cache_bytes}, {BufferSpec::Role::kScratch, scratch_bytes},
      {BufferSpec::Role::kOutput, q_bytes},
  };
  std::lock_guard<std::mutex> lock(*mu_);
  RETURN_IF_ERROR(runner_->Prepare(specs));
  std::memcpy(runner_->Input(0), q.data(), q_bytes);
  std::memcpy(runner_->Input(1), k_cache.data(), cache_bytes);
  std::memcpy(runner_->Input(2), v_cache.data(), cache_bytes);
  KernelCall call;
  call.kernel = KernelId::kLlmAttend;
  call.push = {static_cast<uint32_t>(shape.n_heads),
               static_cast<uint32_t>(shape.head_dim),
               static_cast<uint32_t>(shape.n_heads / shape.n_kv_heads),
               static_cast<uint32_t>(row_bytes / 2),
               static_cast<uint32_t>(n_positions),
               static_cast<uint32_t>(c),
               static_cast<uint32_t>(c >> 32)};
  call.groups_x = static_cast<uint32_t>(shape.n_heads);  // one workgroup per query head
  RETURN_IF_ERROR(runner_->Run(call));
  std::memcpy(out.data(), runner_->Output(4), q_bytes);
  return absl::OkStatus();
}

}  // namespace datanode::ops::vulkan
