// Copyright 2026 The datanode Authors.
//
// Spec §8.6 (residual add): out_i = round_f32(x_i + y_i), the exact sum rounded once
// (which is also what IEEE float addition gives; it is written in integers so that no
// backend depends on its FPU's rounding mode or denormal flushing).
#include "datanode/ops/exact_float.h"
#include "datanode/ops/llm.h"
#include "ops/reference/fixed_point.h"

namespace datanode::ops::llm {

absl::Status Add(std::span<const float> x, std::span<const float> y, std::span<float> out) {
  if (auto s = fixed::CheckSameSize("Add", "x", x.size(), "y", y.size()); !s.ok()) return s;
  if (auto s = fixed::CheckSameSize("Add", "x", x.size(), "out", out.size()); !s.ok()) return s;
  if (auto s = fixed::CheckFiniteF32("Add", "x", x); !s.ok()) return s;
  if (auto s = fixed::CheckFiniteF32("Add", "y", y); !s.ok()) return s;
  for (size_t i = 0; i < x.size(); ++i) {
    const ExactValue a = DecodeF32Bits(F32ToBits(x[i]));
    const ExactValue b = DecodeF32Bits(F32ToBits(y[i]));
    out[i] = BitsToF32(fixed::RoundSum2ToF32Bits(a.mantissa, a.exponent, b.mantissa, b.exponent));
  }
  return absl::OkStatus();
}

}  // namespace datanode::ops::llm
