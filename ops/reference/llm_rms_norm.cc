// Copyright 2026 The datanode Authors.
//
// Spec §8.7 (RMSNorm), for a row x[n] (n <= 2^15), gain g[n], eps > 0:
//  1. E = max exponent of the nonzero x_i as decoded (x_i = m_i * 2^e_i, |m_i| < 2^24);
//     t_i = (|m_i| + 2^(s-1)) >> s with s = E - e_i (round half up; s = 0: t_i = |m_i|;
//     s >= 25: t_i = 0). S = sum t_i^2 < 2^63 (uint64, exact).
//  2. T = S * 2^(2E) + n * eps as a truncated 64-bit float (Norm62 / AddTruncated), then
//     M = floor(T_m / n) * 2^T_e, renormalized to M_m in [2^60, 2^62) with M_e even.
//  3. s = isqrt(M_m) in [2^30, 2^31); R = floor(2^62 / s), so 1/sqrt(mean + eps) ~=
//     R * 2^(-62 - M_e / 2) (relative error < 2^-29).
//  4. out_i = round_f32(m_i * mg_i * R * 2^(e_i + eg_i - 62 - M_e / 2)), one rounding.
// Why fixed point: the sum of squares and the reciprocal square root are the only
// non-exact steps, each with a stated truncation, so every backend gets the same R.
#include "absl/strings/str_cat.h"
#include "datanode/ops/exact_float.h"
#include "datanode/ops/llm.h"
#include "ops/reference/fixed_point.h"

namespace datanode::ops::llm {
namespace {

// A non-negative value m * 2^e with m normalized to [2^62, 2^63) (or 0).
struct Wide {
  uint64_t m = 0;
  int e = 0;
};

Wide Norm62(uint64_t m, int e) {
  if (m == 0) return {0, 0};
  const int len = fixed::BitLength64(m);
  if (len > 63) return {m >> (len - 63), e + (len - 63)};  // truncates
  return {m << (63 - len), e - (63 - len)};
}

// a + b, both normalized; the smaller is aligned by a truncating right shift. The result
// is in [2^62, 2^64), not renormalized.
Wide AddTruncated(Wide a, Wide b) {
  if (a.m == 0) return b;
  if (b.m == 0) return a;
  if (a.e < b.e) std::swap(a, b);
  const int shift = a.e - b.e;
  const uint64_t aligned = shift >= 64 ? 0 : (b.m >> shift);
  return {a.m + aligned, a.e};
}

}  // namespace

absl::Status RmsNorm(std::span<const float> x, std::span<const float> gain, float eps,
                     std::span<float> out) {
  constexpr size_t kMaxN = size_t{1} << 15;
  if (x.empty() || x.size() > kMaxN) {
    return absl::InvalidArgumentError(
        absl::StrCat("RmsNorm: row length ", x.size(), " not in [1, 32768]"));
  }
  if (auto s = fixed::CheckSameSize("RmsNorm", "x", x.size(), "gain", gain.size()); !s.ok()) {
    return s;
  }
  if (auto s = fixed::CheckSameSize("RmsNorm", "x", x.size(), "out", out.size()); !s.ok()) {
    return s;
  }
  if (auto s = fixed::CheckFiniteF32("RmsNorm", "x", x); !s.ok()) return s;
  if (auto s = fixed::CheckFiniteF32("RmsNorm", "gain", gain); !s.ok()) return s;
  const uint32_t eps_bits = F32ToBits(eps);
  if (!IsFiniteF32Bits(eps_bits) || (eps_bits >> 31) != 0 || eps_bits == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("RmsNorm: eps must be finite and > 0, got ", eps));
  }
  const int64_t n = static_cast<int64_t>(x.size());

  // Step 1: the sum of squares aligned to the largest exponent.
  int max_exp = -1000;
  for (float v : x) {
    const ExactValue xv = DecodeF32Bits(F32ToBits(v));
    if (xv.mantissa != 0 && xv.exponent > max_exp) max_exp = xv.exponent;
  }
  uint64_t sum = 0;
  if (max_exp != -1000) {
    for (float v : x) {
      const ExactValue xv = DecodeF32Bits(F32ToBits(v));
      if (xv.mantissa == 0) continue;
      const uint64_t mag = static_cast<uint64_t>(xv.mantissa < 0 ? -xv.mantissa : xv.mantissa);
      const int s = max_exp - xv.exponent;
      const uint64_t t = s == 0 ? mag : (s >= 25 ? 0 : (mag + (uint64_t{1} << (s - 1))) >> s);
      sum += t * t;
    }
  }

  // Step 2: mean + eps as a truncated float, even exponent, 61-62 bit mantissa.
  const ExactValue ev = DecodeF32Bits(eps_bits);
  const Wide total = AddTruncated(Norm62(sum, 2 * max_exp),
                                  Norm62(static_cast<uint64_t>(n * ev.mantissa), ev.exponent));
  uint64_t mm = total.m / static_cast<uint64_t>(n);
  int me = total.e;
  const int len = fixed::BitLength64(mm);
  if (len > 62) {
    mm >>= len - 62;
    me += len - 62;
  } else {
    mm <<= 62 - len;
    me -= 62 - len;
  }
  if (me & 1) {
    mm >>= 1;
    me += 1;
  }

  // Step 3: reciprocal square root.
  const uint64_t root = fixed::ISqrt64(mm);
  const uint64_t r = (uint64_t{1} << 62) / root;

  // Step 4: one rounding per element.
  for (int64_t i = 0; i < n; ++i) {
    const ExactValue xv = DecodeF32Bits(F32ToBits(x[i]));
    const ExactValue gv = DecodeF32Bits(F32ToBits(gain[i]));
    const int128 prod = int128{xv.mantissa * gv.mantissa} * static_cast<int64_t>(r);
    out[i] = BitsToF32(RoundToF32Bits(prod, xv.exponent + gv.exponent - 62 - me / 2));
  }
  return absl::OkStatus();
}

}  // namespace datanode::ops::llm
