// Copyright 2026 The datanode Authors.
//
// The CPU kernel of Add (spec §8.6, a row of elementwise_ops.inc): AVX-512 / AVX2 vectors
// under the default MXCSR (llm_elementwise_avx512.cc / _avx2.cc), and an integer path that
// sums in int64 when the exponents are at most 38 apart (exact: < 2^63) and otherwise takes
// the reference's int128 sum. Arguments are checked by llm::Kernels::Elementwise.
#include <algorithm>
#include <cstdlib>
#include <span>

#include "datanode/ops/exact_float.h"
#include "ops/cpu/llm_kernels.h"
#include "ops/cpu/q8_common.h"
#include "ops/reference/fixed_point.h"

namespace datanode::ops::cpu::llm_kernels {
namespace fixed = ops::llm::fixed;

void AddCpu(Isa isa, const float* const* in, float* out, size_t n) {
  const std::span<const float> x(in[0], n), y(in[1], n);
  size_t done = 0;
  if (isa != Isa::kPortable && DefaultFloatEnv()) {
    if (isa == Isa::kAvx512Vnni) {
      AddAvx512(x.data(), y.data(), out, n);
      return;
    }
    done = AddAvx2(x.data(), y.data(), out, n);
  }
  for (size_t i = done; i < n; ++i) {
    const ExactValue a = DecodeF32(x[i]), b = DecodeF32(y[i]);
    uint32_t bits;
    if (a.mantissa == 0) {
      bits = q8::RoundI64ToF32Bits(b.mantissa, b.exponent);
    } else if (b.mantissa == 0) {
      bits = q8::RoundI64ToF32Bits(a.mantissa, a.exponent);
    } else if (std::abs(a.exponent - b.exponent) <= 38) {  // exact in int64 (< 2^63)
      const int lo = std::min(a.exponent, b.exponent);
      bits = q8::RoundI64ToF32Bits(
          (a.mantissa << (a.exponent - lo)) + (b.mantissa << (b.exponent - lo)), lo);
    } else {
      bits = fixed::RoundSum2ToF32Bits(a.mantissa, a.exponent, b.mantissa, b.exponent);
    }
    out[i] = BitsToF32(bits);
  }
}

}  // namespace datanode::ops::cpu::llm_kernels
