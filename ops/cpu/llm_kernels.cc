// Copyright 2026 The datanode Authors.
#include "ops/cpu/llm_kernels.h"

#include "absl/strings/str_cat.h"

namespace datanode::ops::cpu {
namespace {

class CpuLlmKernels final : public llm::Kernels {
 public:
  CpuLlmKernels(Isa isa, ThreadPool* pool)
      : isa_(isa), pool_(pool), name_(absl::StrCat("cpu ", IsaName(isa))) {}

  const char* Name() const override { return name_.c_str(); }

  absl::Status Attend(const llm::AttentionShape& shape, std::span<const float> q,
                      ByteSpan k_cache, ByteSpan v_cache, int64_t n_positions,
                      std::span<float> out) const override {
    return llm_kernels::Attend(isa_, pool_, shape, q, k_cache, v_cache, n_positions, out);
  }
  absl::Status SiluMul(std::span<const float> gate, std::span<const float> up,
                       std::span<float> out) const override {
    return llm_kernels::SiluMul(isa_, gate, up, out);
  }
  absl::Status RmsNorm(std::span<const float> x, std::span<const float> gain, float eps,
                       std::span<float> out) const override {
    return llm_kernels::RmsNorm(isa_, x, gain, eps, out);
  }
  absl::Status Add(std::span<const float> x, std::span<const float> y,
                   std::span<float> out) const override {
    return llm_kernels::Add(isa_, x, y, out);
  }
  absl::Status RopeApply(const llm::RopeTable& table, int64_t pos, int n_heads, int head_dim,
                         std::span<float> x) const override {
    return llm_kernels::RopeApply(isa_, table, pos, n_heads, head_dim, x);
  }
  absl::Status EncodeKvRow(const llm::AttentionShape& shape, std::span<const float> row,
                           std::span<uint8_t> out) const override {
    return llm_kernels::EncodeKvRow(shape, row, out);
  }

 private:
  const Isa isa_;
  ThreadPool* const pool_;
  const std::string name_;
};

}  // namespace

std::unique_ptr<llm::Kernels> CreateCpuLlmKernels(Isa isa, ThreadPool* pool) {
  return std::make_unique<CpuLlmKernels>(isa, pool);
}

}  // namespace datanode::ops::cpu
