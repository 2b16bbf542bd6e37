// Copyright 2026 The datanode Authors.
//
// Spec §8.8 (SwiGLU): out_i = round_f32(g_i * u_i * sigma(g_i)), one rounding, where the
// logistic sigma is a fixed-point value with a 32-bit mantissa:
//   (e, k) = ExpNeg(|g|), so exp(-|g|) ~= e * 2^(k - 30);
//   den = 2^30 + (k >= -30 ? e >> -k : 0)            (1 + exp(-|g|) in Q.30)
//   g >= 0: sigma = floor(2^61 / den) * 2^-31        (1 / (1 + exp(-g)))
//   g <  0: sigma = floor(e * 2^31 / den) * 2^(k-31) (exp(g) / (1 + exp(g)))
// The second form keeps sigma's relative precision for very negative g, where silu
// itself is tiny, instead of flushing it to a fixed-point zero.
#include "datanode/ops/exact_float.h"
#include "ops/reference/elementwise_elements.h"
#include "ops/reference/fixed_point.h"

namespace datanode::ops::llm::elements {

uint32_t SiluMulElement(const uint32_t* in) {
  const ExactValue g = DecodeF32Bits(in[0]);
  const ExactValue u = DecodeF32Bits(in[1]);
  const ExactValue abs_g{g.mantissa < 0 ? -g.mantissa : g.mantissa, g.exponent};
  const fixed::ExpResult t = fixed::ExpNeg(abs_g);
  const int64_t den = (int64_t{1} << 30) + (t.k >= -30 ? t.e >> -t.k : 0);
  int64_t sigma;
  int sigma_exp;
  if (g.mantissa >= 0) {
    sigma = (int64_t{1} << 61) / den;
    sigma_exp = -31;
  } else {
    sigma = (t.e << 31) / den;
    sigma_exp = t.k - 31;
  }
  const int128 prod = int128{g.mantissa * u.mantissa} * sigma;
  return RoundToF32Bits(prod, g.exponent + u.exponent + sigma_exp);
}

}  // namespace datanode::ops::llm::elements
