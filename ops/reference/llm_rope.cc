// Copyright 2026 The datanode Authors.
//
// Spec §8.9 (RoPE). The table is built once, on the host, by integer arithmetic in Q.62
// (int128 products); every backend uses the same table bytes, so only Apply (two
// products and one rounding per output) has to be reproduced on a device.
//  1. log2(base) = (e + 23) + frac in Q.62, base = m * 2^e (m in [2^23, 2^24)): frac by
//     62 steps of the squaring algorithm on x = m * 2^39 (Q1.62): x = floor(x^2 / 2^62);
//     if x >= 2^63 { bit = 1; x >>= 1 }.
//  2. For pair i: t = floor(2i * L / rope_dim) (theta_i = 2^(-t / 2^62)). With
//     t = K * 2^62 + F: F == 0 gives theta = 2^62 >> K; otherwise z = floor((2^62 - F) *
//     ln2_q62 / 2^62), P = Taylor of e^z in Q.62 (term_j = floor(term_{j-1} * z / 2^62) / j
//     until a term is 0, summed), theta = P >> (K + 1). theta_q62 = 0 when the shift is
//     >= 128.
//  3. angle = pos * theta_q62 mod (4 * half_pi_q62); quadrant = floor(angle / half_pi_q62);
//     a = angle - quadrant * half_pi_q62 in [0, pi/2).
//  4. sin a, cos a by alternating Taylor series in Q.62 (terms floor(prev * a / 2^62 * a /
//     2^62) / ((2j)(2j+1)) resp. / ((2j-1)(2j)), until a term is 0), rotated by the
//     quadrant, then rounded to Q1.30: (v + 2^31) >> 32 (floor, so halves go up).
// Apply: out0 = round_f32(x0*c - x1*s), out1 = round_f32(x0*s + x1*c), each the exact
// sum of two products rounded once (c, s in Q1.30).
#include <cstring>

#include "absl/strings/str_cat.h"
#include "datanode/ops/exact_float.h"
#include "datanode/ops/llm.h"
#include "ops/reference/fixed_point.h"

namespace datanode::ops::llm {
namespace {

constexpr int128 kOneQ62 = int128{1} << 62;

// floor(log2(base) * 2^62) for a finite base > 1 (a normal f32).
int128 Log2Q62(uint32_t base_bits) {
  const ExactValue b = DecodeF32Bits(base_bits);
  uint128 x = static_cast<uint128>(b.mantissa) << 39;  // [2^62, 2^63): Q1.62 in [1, 2)
  int128 frac = 0;
  for (int bit = 61; bit >= 0; --bit) {
    x = (x * x) >> 62;
    if (x >= (uint128{1} << 63)) {
      frac |= int128{1} << bit;
      x >>= 1;
    }
  }
  return (int128{b.exponent + 23} << 62) + frac;
}

// 2^(-t / 2^62) in Q.62 for t >= 0.
int128 Exp2NegQ62(int128 t) {
  const int128 k = t >> 62;
  const int128 f = t & (kOneQ62 - 1);
  if (f == 0) return k >= 63 ? 0 : (kOneQ62 >> static_cast<int>(k));
  const int128 z = ((kOneQ62 - f) * fixed::kLn2Q62) >> 62;  // (1 - f) * ln2, < ln2
  int128 sum = kOneQ62;
  int128 term = kOneQ62;
  for (int j = 1; term != 0; ++j) {
    term = ((term * z) >> 62) / j;
    sum += term;
  }
  const int128 shift = k + 1;
  return shift >= 126 ? 0 : (sum >> static_cast<int>(shift));
}

// sin and cos of a in [0, pi/2) (Q.62), in Q.62. Every term is non-negative and the
// floor quotient ((term * a >> 62) * a >> 62) / d is below 2^64 (term <= 2^62.7, a <
// 1.58 * 2^62), so it is taken in uint64 (the same integer as the int128 quotient).
void SinCosQ62(int128 a, int128& sin_out, int128& cos_out) {
  const uint64_t a64 = static_cast<uint64_t>(a);
  auto next = [a64](uint64_t term, uint64_t d) {
    const uint64_t t1 = static_cast<uint64_t>((uint128{term} * a64) >> 62);
    return static_cast<uint64_t>((uint128{t1} * a64) >> 62) / d;
  };
  int128 s = a;
  uint64_t term = a64;
  for (uint64_t j = 1; term != 0; ++j) {
    term = next(term, (2 * j) * (2 * j + 1));
    s += (j & 1) ? -int128{term} : int128{term};
  }
  int128 c = kOneQ62;
  term = uint64_t{1} << 62;
  for (uint64_t j = 1; term != 0; ++j) {
    term = next(term, (2 * j - 1) * (2 * j));
    c += (j & 1) ? -int128{term} : int128{term};
  }
  sin_out = s;
  cos_out = c;
}

int32_t ToQ30(int128 v) { return static_cast<int32_t>((v + (int128{1} << 31)) >> 32); }

// round_f32(v * 2^e) for |v| < 2^63, exactly RoundToF32Bits.
uint32_t RoundI64ToF32(int64_t v, int e) {
  const uint64_t mag = v < 0 ? uint64_t{0} - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  return fixed::RoundU64ToF32Bits(v < 0 ? 0x80000000u : 0u, mag, e);
}

// fixed::RoundSum2ToF32Bits for RoPE's terms (|a|, |b| < 2^54): when the exponents are
// within 8 of each other the exact sum fits int64 (< 2^63) and is rounded directly.
uint32_t RoundSum2(int64_t a, int ae, int64_t b, int be) {
  if (a == 0) return RoundI64ToF32(b, be);
  if (b == 0) return RoundI64ToF32(a, ae);
  if (ae - be <= 8 && be - ae <= 8) {
    const int lo = ae < be ? ae : be;
    return RoundI64ToF32((a << (ae - lo)) + (b << (be - lo)), lo);
  }
  return fixed::RoundSum2ToF32Bits(a, ae, b, be);
}

}  // namespace

absl::StatusOr<RopeTable> RopeTable::Create(float freq_base, int rope_dim, int64_t max_positions) {
  const uint32_t base_bits = F32ToBits(freq_base);
  if (!IsFiniteF32Bits(base_bits) || !(freq_base > 1.0f)) {
    return absl::InvalidArgumentError(
        absl::StrCat("RopeTable: freq_base must be finite and > 1, got ", freq_base));
  }
  if (rope_dim < 2 || rope_dim > 1024 || rope_dim % 2 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("RopeTable: rope_dim ", rope_dim, " must be even and in [2, 1024]"));
  }
  if (max_positions < 1 || max_positions > (int64_t{1} << 20)) {
    return absl::InvalidArgumentError(
        absl::StrCat("RopeTable: max_positions ", max_positions, " not in [1, 2^20]"));
  }
  RopeTable table;
  table.rope_dim_ = rope_dim;
  table.max_positions_ = max_positions;
  const int pairs = rope_dim / 2;
  table.cos_.resize(static_cast<size_t>(max_positions) * pairs);
  table.sin_.resize(static_cast<size_t>(max_positions) * pairs);
  const int128 log2_base = Log2Q62(base_bits);
  const int128 quarter = fixed::kHalfPiQ62;
  const int128 full = 4 * quarter;
  for (int i = 0; i < pairs; ++i) {
    const int128 theta = Exp2NegQ62((2 * i * log2_base) / rope_dim);
    // angle = (pos * theta) mod full, kept incrementally: theta <= 2^62 < full, so one
    // conditional subtraction per step; the quadrant by comparison (angle < 4 * quarter).
    int128 angle = 0;
    for (int64_t pos = 0; pos < max_positions; ++pos) {
      if (pos > 0) {
        angle += theta;
        if (angle >= full) angle -= full;
      }
      const int quadrant =
          angle >= 2 * quarter ? (angle >= 3 * quarter ? 3 : 2) : (angle >= quarter ? 1 : 0);
      int128 s, c;
      SinCosQ62(angle - quadrant * quarter, s, c);
      int128 cos_v = c, sin_v = s;
      switch (quadrant) {
        case 1:
          cos_v = -s;
          sin_v = c;
          break;
        case 2:
          cos_v = -c;
          sin_v = -s;
          break;
        case 3:
          cos_v = s;
          sin_v = -c;
          break;
        default:
          break;
      }
      table.cos_[pos * pairs + i] = ToQ30(cos_v);
      table.sin_[pos * pairs + i] = ToQ30(sin_v);
    }
  }
  return table;
}

int64_t RopeTable::SizeBytes() const {
  return static_cast<int64_t>((cos_.size() + sin_.size()) * sizeof(int32_t));
}

absl::Status RopeTable::Apply(int64_t pos, int n_heads, int head_dim, std::span<float> x) const {
  if (pos < 0 || pos >= max_positions_) {
    return absl::InvalidArgumentError(
        absl::StrCat("RoPE: position ", pos, " outside [0, ", max_positions_, ")"));
  }
  if (n_heads < 1 || head_dim < rope_dim_) {
    return absl::InvalidArgumentError(absl::StrCat("RoPE: n_heads ", n_heads, ", head_dim ",
                                                   head_dim, " (rope_dim ", rope_dim_, ")"));
  }
  if (static_cast<int64_t>(x.size()) != int64_t{n_heads} * head_dim) {
    return absl::InvalidArgumentError(absl::StrCat("RoPE: row has ", x.size(), " values, ", n_heads,
                                                   " heads of ", head_dim, " need ",
                                                   int64_t{n_heads} * head_dim));
  }
  if (auto s = fixed::CheckFiniteF32("RoPE", "x", x); !s.ok()) return s;
  const int pairs = rope_dim_ / 2;
  const int32_t* cos_row = &cos_[pos * pairs];
  const int32_t* sin_row = &sin_[pos * pairs];
  for (int h = 0; h < n_heads; ++h) {
    float* head = &x[static_cast<size_t>(h) * head_dim];
    for (int i = 0; i < pairs; ++i) {
      const ExactValue a = DecodeF32Bits(F32ToBits(head[2 * i]));
      const ExactValue b = DecodeF32Bits(F32ToBits(head[2 * i + 1]));
      const int64_t c = cos_row[i], s = sin_row[i];
      head[2 * i] =
          BitsToF32(RoundSum2(a.mantissa * c, a.exponent - 30, -b.mantissa * s, b.exponent - 30));
      head[2 * i + 1] =
          BitsToF32(RoundSum2(a.mantissa * s, a.exponent - 30, b.mantissa * c, b.exponent - 30));
    }
  }
  return absl::OkStatus();
}

}  // namespace datanode::ops::llm
