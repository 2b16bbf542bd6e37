// Copyright 2026 The datanode Authors.
#include "ops/cpu/llm_kernels.h"

#include <algorithm>
#include <functional>
#include <vector>

#include "absl/strings/str_cat.h"

namespace datanode::ops::cpu {
namespace {

class CpuLlmKernels final : public llm::Kernels {
 public:
  CpuLlmKernels(Isa isa, ThreadPool* pool)
      : isa_(isa), pool_(pool), name_(absl::StrCat("cpu ", IsaName(isa))) {}

  const char* Name() const override { return name_.c_str(); }

  absl::Status Attend(const llm::AttentionShape& shape, std::span<const float> q, ByteSpan k_cache,
                      ByteSpan v_cache, int64_t n_positions, std::span<float> out) const override {
    return llm_kernels::Attend(isa_, pool_, shape, q, k_cache, v_cache, n_positions, out);
  }
  absl::Status AttendRows(const llm::AttentionShape& shape, std::span<const float> q,
                          ByteSpan k_cache, ByteSpan v_cache, int64_t first_pos, int64_t rows,
                          std::span<float> out) const override {
    return llm_kernels::AttendRows(isa_, pool_, *this, shape, q, k_cache, v_cache, first_pos, rows,
                                   out);
  }
  absl::Status RmsNorm(std::span<const float> x, std::span<const float> gain, float eps,
                       std::span<float> out) const override {
    return llm_kernels::RmsNorm(isa_, x, gain, eps, out);
  }
  absl::Status RopeApply(const llm::RopeTable& table, int64_t pos, int n_heads, int head_dim,
                         std::span<float> x) const override {
    return llm_kernels::RopeApply(isa_, table, pos, n_heads, head_dim, x);
  }
  absl::Status EncodeKvRow(const llm::AttentionShape& shape, std::span<const float> row,
                           std::span<uint8_t> out) const override {
    return llm_kernels::EncodeKvRow(shape, row, out);
  }
  absl::Status RunElementwise(llm::ElementwiseOp op, std::span<const std::span<const float>> in,
                              std::span<float> out) const override {
    const float* inputs[llm::kMaxElementwiseArity] = {};
    for (size_t i = 0; i < in.size(); ++i) inputs[i] = in[i].data();
    llm_kernels::ElementwiseCpuKernel(op)(isa_, inputs, out.data(), out.size());
    return absl::OkStatus();
  }
  absl::Status ForEachRow(int64_t n, int64_t row_work,
                          const std::function<absl::Status(int64_t)>& fn) const override {
    // A task of fewer elements than this costs less than the hand-off to a worker (a few
    // microseconds): such rows are grouped, and a pass that small stays on this thread.
    constexpr int64_t kMinTaskWork = 16384;
    const int64_t work = std::max<int64_t>(row_work, 1);
    if (pool_ == nullptr || pool_->num_threads() == 1 || n < 2 || n * work < 2 * kMinTaskWork) {
      return Kernels::ForEachRow(n, row_work, fn);
    }
    const int64_t per_task = std::max<int64_t>(1, kMinTaskWork / work);
    const int64_t tasks = (n + per_task - 1) / per_task;
    // Each task stops at its first failing row; tasks cover increasing row ranges, so the
    // first task that failed holds the lowest failing row overall.
    std::vector<absl::Status> failed(static_cast<size_t>(tasks));
    pool_->ParallelFor(tasks, [&](int64_t t) {
      const int64_t end = std::min(n, (t + 1) * per_task);
      for (int64_t r = t * per_task; r < end; ++r) {
        absl::Status s = fn(r);
        if (!s.ok()) {
          failed[static_cast<size_t>(t)] = std::move(s);
          return;
        }
      }
    });
    for (absl::Status& s : failed) {
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

 private:
  const Isa isa_;
  ThreadPool* const pool_;
  const std::string name_;
};

constexpr llm_kernels::ElementwiseCpuFn kElementwiseCpuKernels[] = {
#define DATANODE_ELEMENTWISE_OP(Name, snake, arity, inputs) &llm_kernels::Name##Cpu,
#include "datanode/ops/elementwise_ops.inc"
#undef DATANODE_ELEMENTWISE_OP
};
static_assert(std::size(kElementwiseCpuKernels) == llm::kNumElementwiseOps);

}  // namespace

llm_kernels::ElementwiseCpuFn llm_kernels::ElementwiseCpuKernel(llm::ElementwiseOp op) {
  return kElementwiseCpuKernels[static_cast<int>(op)];
}

std::unique_ptr<llm::Kernels> CreateCpuLlmKernels(Isa isa, ThreadPool* pool) {
  return std::make_unique<CpuLlmKernels>(isa, pool);
}

}  // namespace datanode::ops::cpu
