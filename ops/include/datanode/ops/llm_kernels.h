// Copyright 2026 The datanode Authors.
//
// The LLM ops of spec version 2 (llm.h) as a per-backend kernel set. A backend returns
// its Kernels from Backend::LlmKernels(); the engine calls the ops through it. The
// base class forwards every op to the reference functions of llm.h, so a backend
// overrides only the ops it implements itself.
//
// Contract (the same as llm.h): every override returns exactly the bytes, and for an
// invalid input exactly the status, of the llm.h function it replaces, for any thread
// count. Implementations are thread-safe (const; concurrent calls allowed).
#ifndef DATANODE_OPS_LLM_KERNELS_H_
#define DATANODE_OPS_LLM_KERNELS_H_

#include <cstdint>
#include <functional>
#include <span>

#include "absl/status/status.h"
#include "datanode/ops/elementwise.h"
#include "datanode/ops/llm.h"
#include "datanode/ops/types.h"

namespace datanode::ops::llm {

class Kernels {
 public:
  virtual ~Kernels() = default;

  // Short name of the implementation ("reference", "cpu avx512vnni", ...).
  virtual const char* Name() const { return "reference"; }

  virtual absl::Status DequantizeRow(RowFormat format, ByteSpan row, std::span<float> out) const {
    return llm::DequantizeRow(format, row, out);
  }
  virtual absl::Status RmsNorm(std::span<const float> x, std::span<const float> gain, float eps,
                               std::span<float> out) const {
    return llm::RmsNorm(x, gain, eps, out);
  }
  // The elementwise ops of elementwise_ops.inc. Non-virtual: the arguments are checked
  // here once (CheckElementwiseArgs, so every backend returns the same status), then a
  // valid call goes to RunElementwise. Add and SiluMul are named shorthands.
  absl::Status Elementwise(ElementwiseOp op, std::span<const std::span<const float>> in,
                           std::span<float> out) const {
    if (absl::Status s = CheckElementwiseArgs(op, in, out); !s.ok()) return s;
    if (out.empty()) return absl::OkStatus();
    return RunElementwise(op, in, out);
  }
  absl::Status Add(std::span<const float> x, std::span<const float> y, std::span<float> out) const {
    const std::span<const float> in[] = {x, y};
    return Elementwise(ElementwiseOp::kAdd, in, out);
  }
  absl::Status SiluMul(std::span<const float> gate, std::span<const float> up,
                       std::span<float> out) const {
    const std::span<const float> in[] = {gate, up};
    return Elementwise(ElementwiseOp::kSiluMul, in, out);
  }
  virtual absl::Status RopeApply(const RopeTable& table, int64_t pos, int n_heads, int head_dim,
                                 std::span<float> x) const {
    return table.Apply(pos, n_heads, head_dim, x);
  }
  virtual absl::Status EncodeKvRow(const AttentionShape& shape, std::span<const float> row,
                                   std::span<uint8_t> out) const {
    return llm::EncodeKvRow(shape, row, out);
  }
  virtual absl::Status Attend(const AttentionShape& shape, std::span<const float> q,
                              ByteSpan k_cache, ByteSpan v_cache, int64_t n_positions,
                              std::span<float> out) const {
    return llm::Attend(shape, q, k_cache, v_cache, n_positions, out);
  }
  // Attention of `rows` consecutive tokens of one sequence (a prefill pass): row i of q and
  // out (n_heads * head_dim values each) is the token at position first_pos + i, exactly
  // Attend(shape, q row i, k_cache, v_cache, first_pos + i + 1, out row i) for every i,
  // with the status of the lowest failing row. The default is that loop; a backend can
  // share each K / V row's loads across the rows that read it.
  virtual absl::Status AttendRows(const AttentionShape& shape, std::span<const float> q,
                                  ByteSpan k_cache, ByteSpan v_cache, int64_t first_pos,
                                  int64_t rows, std::span<float> out) const {
    const size_t width = static_cast<size_t>(shape.n_heads) * static_cast<size_t>(shape.head_dim);
    if (rows < 0 || q.size() != width * static_cast<size_t>(rows) || out.size() != q.size()) {
      return absl::InvalidArgumentError(
          "AttendRows: q and out must hold rows x n_heads x head_dim values");
    }
    for (int64_t i = 0; i < rows; ++i) {
      const size_t at = static_cast<size_t>(i) * width;
      absl::Status s = Attend(shape, q.subspan(at, width), k_cache, v_cache, first_pos + i + 1,
                              out.subspan(at, width));
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

  // Runs fn(r) for r in [0, n): the per-row steps of a forward pass, each call writing only
  // its own row's outputs (so neither order nor threads can change a byte). Returns the
  // status of the lowest r whose call failed, OK if none. `row_work` (elements one call
  // touches) lets a backend decide whether splitting pays. The default runs the calls in
  // order on the calling thread and stops at the first failure; a backend may run them
  // concurrently on its workers (the ops above allow concurrent calls) and then also runs
  // rows after a failing one.
  virtual absl::Status ForEachRow(int64_t n, int64_t row_work,
                                  const std::function<absl::Status(int64_t)>& fn) const {
    (void)row_work;
    for (int64_t r = 0; r < n; ++r) {
      absl::Status s = fn(r);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

 protected:
  // One checked call of Elementwise: in.size() == arity, every span out.size() >= 1
  // values, all finite. The default is the reference loop.
  virtual absl::Status RunElementwise(ElementwiseOp op, std::span<const std::span<const float>> in,
                                      std::span<float> out) const {
    return llm::Elementwise(op, in, out);
  }
};

// The reference kernel set (every op is the llm.h function).
const Kernels& ReferenceKernels();

}  // namespace datanode::ops::llm

#endif  // DATANODE_OPS_LLM_KERNELS_H_
