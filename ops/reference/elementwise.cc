// Copyright 2026 The datanode Authors.
//
// The table-driven part of the elementwise ops (datanode/ops/elementwise.h): the one
// argument check every backend shares, and the reference loop over the element functions
// (ops/reference/llm_<snake>.cc).
#include "datanode/ops/elementwise.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "datanode/ops/exact_float.h"
#include "datanode/ops/llm.h"
#include "datanode/ops/status_macros.h"
#include "ops/reference/elementwise_elements.h"
#include "ops/reference/fixed_point.h"

namespace datanode::ops::llm {
namespace {

constexpr ElementFn kReferenceElements[] = {
#define DATANODE_ELEMENTWISE_OP(Name, snake, arity, inputs) &elements::Name##Element,
#include "datanode/ops/elementwise_ops.inc"
#undef DATANODE_ELEMENTWISE_OP
};
static_assert(std::size(kReferenceElements) == kNumElementwiseOps);

}  // namespace

absl::string_view ElementwiseInputName(ElementwiseOp op, int i) {
  absl::string_view names = InfoOf(op).input_names;
  for (;;) {
    while (!names.empty() && names.front() == ' ') names.remove_prefix(1);
    const size_t end = std::min(names.find(' '), names.size());
    if (i == 0) return names.substr(0, end);
    names.remove_prefix(end);
    --i;
  }
}

ElementFn ReferenceElement(ElementwiseOp op) { return kReferenceElements[static_cast<int>(op)]; }

absl::Status CheckElementwiseArgs(ElementwiseOp op, std::span<const std::span<const float>> in,
                                  std::span<const float> out) {
  const ElementwiseOpInfo& info = InfoOf(op);
  if (static_cast<int>(in.size()) != info.arity) {
    return absl::InvalidArgumentError(
        absl::StrCat(info.name, ": takes ", info.arity, " inputs, got ", in.size()));
  }
  const absl::string_view first = ElementwiseInputName(op, 0);
  for (int i = 1; i < info.arity; ++i) {
    RETURN_IF_ERROR(fixed::CheckSameSize(info.name, first, in[0].size(),
                                         ElementwiseInputName(op, i), in[i].size()));
  }
  RETURN_IF_ERROR(fixed::CheckSameSize(info.name, first, in[0].size(), "out", out.size()));
  for (int i = 0; i < info.arity; ++i) {
    RETURN_IF_ERROR(fixed::CheckFiniteF32(info.name, ElementwiseInputName(op, i), in[i]));
  }
  return absl::OkStatus();
}

absl::Status Elementwise(ElementwiseOp op, std::span<const std::span<const float>> in,
                         std::span<float> out) {
  RETURN_IF_ERROR(CheckElementwiseArgs(op, in, out));
  const ElementFn element = ReferenceElement(op);
  const int arity = InfoOf(op).arity;
  uint32_t bits[kMaxElementwiseArity];
  for (size_t i = 0; i < out.size(); ++i) {
    for (int j = 0; j < arity; ++j) bits[j] = F32ToBits(in[j][i]);
    out[i] = BitsToF32(element(bits));
  }
  return absl::OkStatus();
}

absl::Status Add(std::span<const float> x, std::span<const float> y, std::span<float> out) {
  const std::span<const float> in[] = {x, y};
  return Elementwise(ElementwiseOp::kAdd, in, out);
}

absl::Status SiluMul(std::span<const float> gate, std::span<const float> up, std::span<float> out) {
  const std::span<const float> in[] = {gate, up};
  return Elementwise(ElementwiseOp::kSiluMul, in, out);
}

}  // namespace datanode::ops::llm
