// Copyright 2026 The datanode Authors.
//
// The CPU kernel of SiluMul (spec §8.8, a row of elementwise_ops.inc): all of it on 8
// AVX-512 lanes (SiluMulAvx512), or sigma in integers and the final rounding in AVX2 vectors,
// or the integer path with the short rounding (RoundI128ToF32Bits). Arguments are checked
// by llm::Kernels::Elementwise.
#include <algorithm>
#include <cstdlib>
#include <span>

#include "datanode/ops/exact_float.h"
#include "ops/cpu/llm_kernels.h"
#include "ops/cpu/q8_common.h"
#include "ops/reference/fixed_point.h"

namespace datanode::ops::cpu::llm_kernels {
namespace fixed = ops::llm::fixed;

void SiluMulCpu(Isa isa, const float* const* in, float* out, size_t n_values) {
  const std::span<const float> gate(in[0], n_values), up(in[1], n_values);
  if (isa == Isa::kAvx512Vnni && DefaultFloatEnv()) {
    SiluMulAvx512(gate.data(), up.data(), out, n_values);
    return;
  }
  if (isa != Isa::kPortable && DefaultFloatEnv()) {
    // sigma in integers (spec §8.8 steps 1-3), the final rounding in vectors.
    const size_t n = gate.size();
    constexpr size_t kChunk = 512;
    uint64_t sigma[kChunk];
    int sigma_exp[kChunk];
    for (size_t c0 = 0; c0 < n; c0 += kChunk) {
      const size_t len = std::min(kChunk, n - c0);
      for (size_t i = 0; i < len; ++i) {
        const ExactValue g = DecodeF32(gate[c0 + i]);
        const ExactValue abs_g{g.mantissa < 0 ? -g.mantissa : g.mantissa, g.exponent};
        const fixed::ExpResult t = fixed::ExpNeg(abs_g);
        const uint64_t den = (uint64_t{1} << 30) + (t.k >= -30 ? uint64_t(t.e) >> -t.k : 0);
        if (g.mantissa >= 0) {
          sigma[i] = (uint64_t{1} << 61) / den;
          sigma_exp[i] = -31;
        } else {
          sigma[i] = (static_cast<uint64_t>(t.e) << 31) / den;
          // Below 2^-1000 the product (< 2^300) is far below every f32: a signed zero.
          sigma_exp[i] = std::max(t.k - 31, -1000);
        }
      }
      size_t done = 0;
      if (isa == Isa::kAvx512Vnni) {
        SiluRoundAvx512(&gate[c0], &up[c0], sigma, sigma_exp, &out[c0], len);
        done = len;
      } else {
        done = SiluRoundAvx2(&gate[c0], &up[c0], sigma, sigma_exp, &out[c0], len);
      }
      for (size_t i = done; i < len; ++i) {
        const ExactValue g = DecodeF32(gate[c0 + i]), u = DecodeF32(up[c0 + i]);
        if (g.mantissa == 0 || u.mantissa == 0) {
          out[c0 + i] = 0.0f;
          continue;
        }
        // sigma_exp was clamped: recompute the exact exponent for the integer rounding.
        const fixed::ExpResult t =
            fixed::ExpNeg({g.mantissa < 0 ? -g.mantissa : g.mantissa, g.exponent});
        const int e = g.mantissa >= 0 ? -31 : t.k - 31;
        const int128 prod = int128{g.mantissa * u.mantissa} * static_cast<int64_t>(sigma[i]);
        out[c0 + i] = BitsToF32(RoundI128ToF32Bits(prod, g.exponent + u.exponent + e));
      }
    }
    return;
  }
  for (size_t i = 0; i < gate.size(); ++i) {
    const ExactValue g = DecodeF32(gate[i]), u = DecodeF32(up[i]);
    if (g.mantissa == 0 || u.mantissa == 0) {
      out[i] = 0.0f;  // an exact zero is +0
      continue;
    }
    const ExactValue abs_g{g.mantissa < 0 ? -g.mantissa : g.mantissa, g.exponent};
    const fixed::ExpResult t = fixed::ExpNeg(abs_g);
    const uint64_t den = (uint64_t{1} << 30) + (t.k >= -30 ? uint64_t(t.e) >> -t.k : 0);
    uint64_t sigma;
    int sigma_exp;
    if (g.mantissa >= 0) {
      sigma = (uint64_t{1} << 61) / den;
      sigma_exp = -31;
    } else {
      sigma = (static_cast<uint64_t>(t.e) << 31) / den;
      sigma_exp = t.k - 31;
    }
    const int128 prod = int128{g.mantissa * u.mantissa} * static_cast<int64_t>(sigma);
    out[i] = BitsToF32(RoundI128ToF32Bits(prod, g.exponent + u.exponent + sigma_exp));
  }
}

}  // namespace datanode::ops::cpu::llm_kernels
