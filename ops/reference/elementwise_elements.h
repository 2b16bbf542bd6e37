// Copyright 2026 The datanode Authors.
//
// The reference element function of each row of elementwise_ops.inc, declared from the
// table: ops/reference/llm_<snake>.cc defines `uint32_t <Name>Element(const uint32_t* in)`
// (in: the arity inputs' f32 bit patterns; returns the output's bit pattern, exactly as
// the spec section of the op says). A row without its definition fails to link.
#ifndef DATANODE_OPS_REFERENCE_ELEMENTWISE_ELEMENTS_H_
#define DATANODE_OPS_REFERENCE_ELEMENTWISE_ELEMENTS_H_

#include <cstdint>

namespace datanode::ops::llm::elements {

#define DATANODE_ELEMENTWISE_OP(Name, snake, arity, inputs) \
  uint32_t Name##Element(const uint32_t* in);
#include "datanode/ops/elementwise_ops.inc"
#undef DATANODE_ELEMENTWISE_OP

}  // namespace datanode::ops::llm::elements

#endif  // DATANODE_OPS_REFERENCE_ELEMENTWISE_ELEMENTS_H_
