// Copyright 2026 The datanode Authors.
//
// The per-row LLM ops on the CPU (spec §8.6 Add, §8.7 RmsNorm, §8.8 SiluMul, §8.10
// EncodeKvRow): the reference's integer steps, with the one final rounding of each
// element done by a short integer path (RoundI128ToF32Bits) instead of the general
// routine, and inline decoding. Invalid inputs go to the reference for its status.
#include <algorithm>
#include <cstdlib>

#include "datanode/ops/exact_float.h"
#include "datanode/ops/llm.h"
#include "ops/cpu/llm_kernels.h"
#include "ops/cpu/q8_common.h"
#include "ops/reference/fixed_point.h"

namespace datanode::ops::cpu::llm_kernels {
namespace {
namespace fixed = ops::llm::fixed;
}  // namespace

uint32_t RoundI128ToF32Bits(int128 v, int e) {
  const uint128 mag = v < 0 ? uint128(0) - uint128(v) : uint128(v);
  const uint64_t hi = static_cast<uint64_t>(mag >> 64);
  const uint64_t lo = static_cast<uint64_t>(mag);
  if (hi == 0 && lo < (uint64_t{1} << 63)) {
    const int64_t m = static_cast<int64_t>(lo);
    return q8::RoundI64ToF32Bits(v < 0 ? -m : m, e);
  }
  const int shift = fixed::BitLength128(mag) - 63;  // >= 1
  uint64_t m = static_cast<uint64_t>(mag >> shift);
  if ((mag & ((uint128{1} << shift) - 1)) != 0) m |= 1;
  const int64_t s = static_cast<int64_t>(m);
  return q8::RoundI64ToF32Bits(v < 0 ? -s : s, e + shift);
}

absl::Status RmsNorm(Isa isa, std::span<const float> x, std::span<const float> gain, float eps,
                     std::span<float> out) {
  const uint32_t eps_bits = F32ToBits(eps);
  if (x.empty() || x.size() > (size_t{1} << 15) || x.size() != gain.size() ||
      x.size() != out.size() || !AllFinite(x) || !AllFinite(gain) ||
      !IsFiniteF32Bits(eps_bits) || (eps_bits >> 31) != 0 || eps_bits == 0) {
    return llm::RmsNorm(x, gain, eps, out);
  }
  const int64_t n = static_cast<int64_t>(x.size());
  // Step 1 (spec §8.7): squares aligned to the largest exponent, rounded half up.
  int max_exp = -1000;
  for (float v : x) {
    const ExactValue xv = DecodeF32(v);
    if (xv.mantissa != 0 && xv.exponent > max_exp) max_exp = xv.exponent;
  }
  uint64_t sum = 0;
  if (max_exp != -1000) {
    for (float v : x) {
      const ExactValue xv = DecodeF32(v);
      if (xv.mantissa == 0) continue;
      const uint64_t mag = static_cast<uint64_t>(xv.mantissa < 0 ? -xv.mantissa : xv.mantissa);
      const int s = max_exp - xv.exponent;
      const uint64_t t = s == 0 ? mag : (s >= 25 ? 0 : (mag + (uint64_t{1} << (s - 1))) >> s);
      sum += t * t;
    }
  }
  // Step 2: the two terms as truncated 64-bit floats, mantissas in [2^62, 2^63).
  struct Wide {
    uint64_t m = 0;
    int e = 0;
  };
  auto norm62 = [](uint64_t m, int e) -> Wide {
    if (m == 0) return {0, 0};
    const int len = fixed::BitLength64(m);
    if (len > 63) return {m >> (len - 63), e + (len - 63)};
    return {m << (63 - len), e - (63 - len)};
  };
  const ExactValue ev = DecodeF32(eps);
  Wide a = norm62(sum, 2 * max_exp), b = norm62(static_cast<uint64_t>(n * ev.mantissa), ev.exponent);
  Wide total;
  if (a.m == 0) {
    total = b;
  } else {
    if (a.e < b.e) std::swap(a, b);
    const int shift = a.e - b.e;
    total = {a.m + (shift >= 64 ? 0 : (b.m >> shift)), a.e};
  }
  // Step 3: mean, 62-bit mantissa with an even exponent, reciprocal square root.
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
  const int64_t r = static_cast<int64_t>((uint64_t{1} << 62) / fixed::ISqrt64(mm));
  // Step 4: one rounding per element.
  int64_t done = 0;
  if (isa != Isa::kPortable && DefaultFloatEnv()) {
    const int exp = -62 - me / 2;  // in [-250, 250]: mean + eps is within f32^2 range
    if (isa == Isa::kAvx512Vnni) {
      RmsNormScaleAvx512(x.data(), gain.data(), static_cast<uint64_t>(r), exp, out.data(), x.size());
      return absl::OkStatus();
    }
    done = static_cast<int64_t>(
        RmsNormScaleAvx2(x.data(), gain.data(), static_cast<uint64_t>(r), exp, out.data(), x.size()));
  }
  for (int64_t i = done; i < n; ++i) {
    const ExactValue xv = DecodeF32(x[i]), gv = DecodeF32(gain[i]);
    const int128 prod = int128{xv.mantissa * gv.mantissa} * r;
    out[i] = BitsToF32(RoundI128ToF32Bits(prod, xv.exponent + gv.exponent - 62 - me / 2));
  }
  return absl::OkStatus();
}

absl::Status EncodeKvRow(const llm::AttentionShape& shape, std::span<const float> row,
                         std::span<uint8_t> out) {
  const int64_t n = int64_t{shape.n_kv_heads} * shape.head_dim;
  if (!llm::ValidateAttentionShape(shape).ok() || static_cast<int64_t>(row.size()) != n ||
      static_cast<int64_t>(out.size()) != 2 * n || !AllFinite(row)) {
    return llm::EncodeKvRow(shape, row, out);
  }
  for (int64_t i = 0; i < n; ++i) StoreU16(&out[2 * i], F32ToF16SatBits(F32ToBits(row[i])));
  return absl::OkStatus();
}

}  // namespace datanode::ops::cpu::llm_kernels
