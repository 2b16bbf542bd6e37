// Copyright 2026 The datanode Authors.
//
// The elementwise LLM ops (spec v2 §8), derived from the one table elementwise_ops.inc:
// out[i] = f(in_0[i], ..., in_{arity-1}[i]) over f32 rows, f defined bit-exactly by the
// spec on the inputs' bit patterns.
//
// Contract (every backend, through llm::Kernels::Elementwise):
// - Inputs: exactly `arity` spans, each of out.size() values, every value finite.
//   Anything else is INVALID_ARGUMENT from CheckElementwiseArgs, the same status on every
//   backend (the check runs once, before any backend code).
// - Output: out[i] = ReferenceElement(op)(bits of in_0[i], ...), byte for byte, for any
//   backend, ISA and thread count. Pure and thread-safe.
#ifndef DATANODE_OPS_ELEMENTWISE_H_
#define DATANODE_OPS_ELEMENTWISE_H_

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <span>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace datanode::ops::llm {

enum class ElementwiseOp : int {
#define DATANODE_ELEMENTWISE_OP(Name, snake, arity, inputs) k##Name,
#include "datanode/ops/elementwise_ops.inc"
#undef DATANODE_ELEMENTWISE_OP
};

struct ElementwiseOpInfo {
  const char* name;         // "SiluMul": the spec's name, used in error messages
  const char* snake;        // "silu_mul": "llm_<snake>" names the challenge and the shader
  int arity;                // inputs, 1 .. kMaxElementwiseArity
  const char* input_names;  // "gate up": one name per input, space-separated
};

inline constexpr ElementwiseOpInfo kElementwiseOps[] = {
#define DATANODE_ELEMENTWISE_OP(Name, snake, arity, inputs) {#Name, #snake, arity, inputs},
#include "datanode/ops/elementwise_ops.inc"
#undef DATANODE_ELEMENTWISE_OP
};
inline constexpr int kNumElementwiseOps = static_cast<int>(std::size(kElementwiseOps));
inline constexpr int kMaxElementwiseArity = 3;

constexpr const ElementwiseOpInfo& InfoOf(ElementwiseOp op) {
  return kElementwiseOps[static_cast<int>(op)];
}
// Every op, in table order (for loops over the table).
constexpr ElementwiseOp ElementwiseOpAt(int index) { return static_cast<ElementwiseOp>(index); }

namespace internal {
constexpr int CountNames(const char* s) {
  int n = 0;
  bool in_word = false;
  for (; *s != '\0'; ++s) {
    if (*s != ' ' && !in_word) ++n;
    in_word = *s != ' ';
  }
  return n;
}
constexpr bool TableIsConsistent() {
  for (const ElementwiseOpInfo& info : kElementwiseOps) {
    if (info.arity < 1 || info.arity > kMaxElementwiseArity) return false;
    if (CountNames(info.input_names) != info.arity) return false;
  }
  return true;
}
static_assert(TableIsConsistent(),
              "elementwise_ops.inc: an arity is out of range or does not match its input names");
}  // namespace internal

// The name of input `i` of `op` ("gate"), as a view into the table.
absl::string_view ElementwiseInputName(ElementwiseOp op, int i);

// One element: the inputs' f32 bit patterns (arity of them) -> the output's bit pattern.
using ElementFn = uint32_t (*)(const uint32_t* in);

// The spec's element function of `op` (ops/reference/llm_<snake>.cc): the oracle.
ElementFn ReferenceElement(ElementwiseOp op);

// INVALID_ARGUMENT unless `in` holds arity(op) spans of out.size() values each, all finite.
// Messages name the op and the input ("SiluMul: gate has 3 values but up has 4",
// "Add: y[7] is not finite"); the first failing check in input order wins.
absl::Status CheckElementwiseArgs(ElementwiseOp op, std::span<const std::span<const float>> in,
                                  std::span<const float> out);

// The reference op: CheckElementwiseArgs, then out[i] = ReferenceElement(op)(...).
absl::Status Elementwise(ElementwiseOp op, std::span<const std::span<const float>> in,
                         std::span<float> out);

}  // namespace datanode::ops::llm

#endif  // DATANODE_OPS_ELEMENTWISE_H_
