// Copyright 2026 The datanode Authors.
//
// Spec §8.10 (attention with a KV cache). K and V are stored as binary16, round to
// nearest even with saturation at +-65504 (the same precision as llama.cpp's default f16
// cache). For query head h (KV head g = h / (n_heads / n_kv_heads)):
//  1. q_j is rounded to f16 the same way (llama.cpp converts q to the f16 dot type too).
//     D_p = sum_j q_j * k_pj exactly (int128, units of 2^-48, |D_p| < 2^89).
//  2. s_p = round_f32(D_p * scale), scale = round_f32(1 / sqrt(head_dim)) computed from
//     the integer square root of 2^120 / head_dim with a sticky bit.
//  3. smax = max_p s_p; d_p = round_f32(smax - s_p) >= 0; w_p = WeightQ40(ExpNeg(d_p)),
//     so the largest score has weight 2^40 and weights below 2^-41 of it are 0.
//  4. out_j = round_f32(sum_p w_p * v_pj / sum_p w_p): the exact quotient (int128
//     numerator in units of 2^-24, |num| < 2^41 * 2^40 * 2^20; denominator < 2^61)
//     rounded once.
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/exact_float.h"
#include "datanode/ops/llm.h"
#include "ops/reference/fixed_point.h"

namespace datanode::ops::llm {
namespace {

constexpr int kMaxHeadDim = 512;
constexpr int64_t kMaxPositions = int64_t{1} << 20;

// round_f32(1 / sqrt(head_dim)).
ExactValue ScoreScale(int head_dim) {
  const uint128 n = (uint128{1} << 120) / static_cast<uint64_t>(head_dim);
  const uint128 root = fixed::ISqrt128(n);  // floor(2^60 / sqrt(head_dim)) (as sqrt(n))
  // Inexact unless head_dim divides 2^120 and the root is exact: then sticky.
  const bool exact = root * root == n && n * static_cast<uint64_t>(head_dim) == (uint128{1} << 120);
  const uint32_t bits = RoundToF32Bits(static_cast<int128>((root << 1) | (exact ? 0 : 1)), -61);
  return DecodeF32Bits(bits);
}

// f16 value as an integer in units of 2^-24 (|v| < 2^40).
int64_t F16Units(uint16_t bits) {
  const ExactValue v = DecodeF16Bits(bits);
  return v.mantissa << (v.exponent + 24);
}

}  // namespace

absl::Status ValidateAttentionShape(const AttentionShape& shape) {
  if (shape.n_heads < 1 || shape.n_kv_heads < 1 || shape.n_heads % shape.n_kv_heads != 0 ||
      shape.head_dim < 32 || shape.head_dim > kMaxHeadDim || shape.head_dim % 32 != 0 ||
      shape.n_heads > 1024) {
    return absl::InvalidArgumentError(absl::StrCat(
        "attention shape: n_heads ", shape.n_heads, ", n_kv_heads ", shape.n_kv_heads,
        ", head_dim ", shape.head_dim,
        " (need n_heads in [1, 1024] a multiple of n_kv_heads >= 1, head_dim a multiple of 32 "
        "in [32, 512])"));
  }
  return absl::OkStatus();
}

int64_t KvRowBytes(const AttentionShape& shape) {
  return int64_t{shape.n_kv_heads} * shape.head_dim * 2;
}

absl::Status EncodeKvRow(const AttentionShape& shape, std::span<const float> row,
                         std::span<uint8_t> out) {
  if (auto s = ValidateAttentionShape(shape); !s.ok()) return s;
  const int64_t n = int64_t{shape.n_kv_heads} * shape.head_dim;
  if (static_cast<int64_t>(row.size()) != n || static_cast<int64_t>(out.size()) != 2 * n) {
    return absl::InvalidArgumentError(absl::StrCat("EncodeKvRow: row has ", row.size(),
                                                   " values and out ", out.size(),
                                                   " bytes; the shape needs ", n, " and ", 2 * n));
  }
  if (auto s = fixed::CheckFiniteF32("EncodeKvRow", "row", row); !s.ok()) return s;
  for (int64_t i = 0; i < n; ++i) {
    const ExactValue v = DecodeF32Bits(F32ToBits(row[i]));
    StoreU16(&out[2 * i], fixed::RoundToF16BitsSaturating(v.mantissa, v.exponent));
  }
  return absl::OkStatus();
}

absl::Status Attend(const AttentionShape& shape, std::span<const float> q, ByteSpan k_cache,
                    ByteSpan v_cache, int64_t n_positions, std::span<float> out) {
  if (auto s = ValidateAttentionShape(shape); !s.ok()) return s;
  const int hd = shape.head_dim;
  const int64_t q_size = int64_t{shape.n_heads} * hd;
  if (static_cast<int64_t>(q.size()) != q_size || static_cast<int64_t>(out.size()) != q_size) {
    return absl::InvalidArgumentError(absl::StrCat("Attend: q has ", q.size(), " and out ",
                                                   out.size(), " values; the shape needs ",
                                                   q_size));
  }
  if (n_positions < 1 || n_positions > kMaxPositions) {
    return absl::InvalidArgumentError(
        absl::StrCat("Attend: n_positions ", n_positions, " not in [1, 2^20]"));
  }
  const int64_t row_bytes = KvRowBytes(shape);
  const int64_t cache_bytes = n_positions * row_bytes;
  if (static_cast<int64_t>(k_cache.size()) < cache_bytes ||
      static_cast<int64_t>(v_cache.size()) < cache_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Attend: ", n_positions, " positions need ", cache_bytes, " bytes per cache; k has ",
        k_cache.size(), ", v has ", v_cache.size()));
  }
  if (auto s = fixed::CheckFiniteF32("Attend", "q", q); !s.ok()) return s;
  for (int64_t i = 0; i < cache_bytes; i += 2) {
    if (!IsFiniteF16Bits(LoadU16(&k_cache[i])) || !IsFiniteF16Bits(LoadU16(&v_cache[i]))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Attend: cache value ", i / 2 % (row_bytes / 2), " of position ", i / row_bytes,
          " is not finite"));
    }
  }

  const ExactValue scale = ScoreScale(hd);
  const int group = shape.n_heads / shape.n_kv_heads;
  std::vector<int64_t> qh(hd);
  std::vector<uint32_t> scores(n_positions);
  std::vector<int64_t> weights(n_positions);
  std::vector<int128> acc(hd);
  for (int h = 0; h < shape.n_heads; ++h) {
    const int64_t kv_offset = int64_t{h / group} * hd * 2;
    for (int j = 0; j < hd; ++j) {
      const ExactValue v = DecodeF32Bits(F32ToBits(q[int64_t{h} * hd + j]));
      qh[j] = F16Units(fixed::RoundToF16BitsSaturating(v.mantissa, v.exponent));
    }
    // Steps 1-2: scores. The max compares the f32 values exactly (OrderKey); which of
    // tied positions is "best" does not matter, their scores are equal.
    int64_t best = 0;
    for (int64_t p = 0; p < n_positions; ++p) {
      const uint8_t* k = &k_cache[p * row_bytes + kv_offset];
      int128 dot = 0;
      for (int j = 0; j < hd; ++j) dot += int128{qh[j]} * F16Units(LoadU16(k + 2 * j));
      scores[p] = RoundToF32Bits(dot * scale.mantissa, scale.exponent - 48);
      if (fixed::OrderKey(scores[p]) > fixed::OrderKey(scores[best])) best = p;
    }
    // Step 3: weights.
    const ExactValue smax = DecodeF32Bits(scores[best]);
    int64_t total = 0;
    for (int64_t p = 0; p < n_positions; ++p) {
      const ExactValue sp = DecodeF32Bits(scores[p]);
      const ExactValue d = DecodeF32Bits(
          fixed::RoundSum2ToF32Bits(smax.mantissa, smax.exponent, -sp.mantissa, sp.exponent));
      weights[p] = fixed::WeightQ40(fixed::ExpNeg(d));
      total += weights[p];
    }
    // Step 4: exact weighted sum of V, one rounded quotient per output.
    std::fill(acc.begin(), acc.end(), int128{0});
    for (int64_t p = 0; p < n_positions; ++p) {
      if (weights[p] == 0) continue;
      const uint8_t* v = &v_cache[p * row_bytes + kv_offset];
      for (int j = 0; j < hd; ++j) acc[j] += int128{weights[p]} * F16Units(LoadU16(v + 2 * j));
    }
    for (int j = 0; j < hd; ++j) {
      out[int64_t{h} * hd + j] =
          BitsToF32(fixed::RoundQuotient128ToF32Bits(acc[j], -24, static_cast<uint64_t>(total)));
    }
  }
  return absl::OkStatus();
}

}  // namespace datanode::ops::llm
