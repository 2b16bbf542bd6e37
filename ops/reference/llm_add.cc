// Copyright 2026 The datanode Authors.
//
// Spec §8.6 (residual add): out_i = round_f32(x_i + y_i), the exact sum rounded once
// (which is also what IEEE float addition gives; it is written in integers so that no
// backend depends on its FPU's rounding mode or denormal flushing).
#include "datanode/ops/exact_float.h"
#include "ops/reference/elementwise_elements.h"
#include "ops/reference/fixed_point.h"

namespace datanode::ops::llm::elements {

uint32_t AddElement(const uint32_t* in) {
  const ExactValue a = DecodeF32Bits(in[0]);
  const ExactValue b = DecodeF32Bits(in[1]);
  return fixed::RoundSum2ToF32Bits(a.mantissa, a.exponent, b.mantissa, b.exponent);
}

}  // namespace datanode::ops::llm::elements
