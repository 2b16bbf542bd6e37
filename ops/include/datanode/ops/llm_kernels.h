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
#include <span>

#include "absl/status/status.h"
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
  virtual absl::Status Add(std::span<const float> x, std::span<const float> y,
                           std::span<float> out) const {
    return llm::Add(x, y, out);
  }
  virtual absl::Status SiluMul(std::span<const float> gate, std::span<const float> up,
                               std::span<float> out) const {
    return llm::SiluMul(gate, up, out);
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
};

// The reference kernel set (every op is the llm.h function).
const Kernels& ReferenceKernels();

}  // namespace datanode::ops::llm

#endif  // DATANODE_OPS_LLM_KERNELS_H_
