// Copyright 2026 The datanode Authors.
//
// Spec §8.10 (attention with a KV cache). K and V are stored as binary16, round to
// nearest even with saturation at +-65504 (the same precision as llama.cpp's default f16
// cache). For query head h (KV head g = h / (n_heads / n_kv_heads)):
//  1. q_j is rounded to f16 the same way (llama.cpp converts q to the f16 dot type too).
//     D_p = sum_j q_j * k_pj exactly (int128, units of 2^-48, |D_p| < 2^89).
//  2. Dmax = max_p D_p; diff_p = Dmax - D_p >= 0, exact. The scores are never rounded:
//     y_p = diff_p >= 2^59 ? 2^42 : min(floor(diff_p * C / 2^58), 2^42), the exponent
//     (D_max - D_p) / sqrt(head_dim) * log2(e) in Q.30, with C = isqrt(floor(16 *
//     kLog2eQ38^2 / head_dim)) = log2(e) / sqrt(head_dim) in Q.40.
//  3. w_p = WeightQ40(Exp2NegQ30(y_p)): the largest score has weight 2^40, weights below
//     2^-41 of it are 0.
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
// Cap of the exp argument in Q.30 (2^-4096 is zero as a weight).
constexpr int64_t kExpCap = int64_t{1} << 42;

// log2(e) / sqrt(head_dim) in Q.40: floor(sqrt(16 * kLog2eQ38^2 / head_dim)), which is
// in [2^35, 2^39) for head_dim in [32, 512], so diff * C < 2^59 * 2^39 fits int128.
int64_t ScoreToLog2Q40(int head_dim) {
  const uint128 l = static_cast<uint128>(fixed::kLog2eQ38);
  return static_cast<int64_t>(fixed::ISqrt128((16 * l * l) / static_cast<uint64_t>(head_dim)));
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
    return absl::InvalidArgumentError(absl::StrCat(
        "Attend: q has ", q.size(), " and out ", out.size(), " values; the shape needs ", q_size));
  }
  if (n_positions < 1 || n_positions > kMaxPositions) {
    return absl::InvalidArgumentError(
        absl::StrCat("Attend: n_positions ", n_positions, " not in [1, 2^20]"));
  }
  const int64_t row_bytes = KvRowBytes(shape);
  const int64_t cache_bytes = n_positions * row_bytes;
  if (static_cast<int64_t>(k_cache.size()) < cache_bytes ||
      static_cast<int64_t>(v_cache.size()) < cache_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("Attend: ", n_positions, " positions need ",
                                                   cache_bytes, " bytes per cache; k has ",
                                                   k_cache.size(), ", v has ", v_cache.size()));
  }
  if (auto s = fixed::CheckFiniteF32("Attend", "q", q); !s.ok()) return s;
  // Validate and decode the cache once (query heads of a group share their KV head).
  const int64_t values = cache_bytes / 2;
  std::vector<int64_t> k_units(values), v_units(values);
  for (int64_t i = 0; i < values; ++i) {
    const uint16_t kb = LoadU16(&k_cache[2 * i]), vb = LoadU16(&v_cache[2 * i]);
    if (!IsFiniteF16Bits(kb) || !IsFiniteF16Bits(vb)) {
      return absl::InvalidArgumentError(absl::StrCat("Attend: cache value ", i % (row_bytes / 2),
                                                     " of position ", 2 * i / row_bytes,
                                                     " is not finite"));
    }
    k_units[i] = F16Units(kb);
    v_units[i] = F16Units(vb);
  }
  const int64_t row_values = row_bytes / 2;

  const int64_t c_q40 = ScoreToLog2Q40(hd);
  const int group = shape.n_heads / shape.n_kv_heads;
  std::vector<int64_t> qh(hd);
  std::vector<int128> dots(n_positions);
  std::vector<int64_t> weights(n_positions);
  std::vector<int128> acc(hd);
  for (int h = 0; h < shape.n_heads; ++h) {
    const int64_t kv_offset = int64_t{h / group} * hd;  // in values
    for (int j = 0; j < hd; ++j) {
      const ExactValue v = DecodeF32Bits(F32ToBits(q[int64_t{h} * hd + j]));
      qh[j] = F16Units(fixed::RoundToF16BitsSaturating(v.mantissa, v.exponent));
    }
    // Step 1: exact dot products.
    int128 dmax = 0;
    for (int64_t p = 0; p < n_positions; ++p) {
      const int64_t* k = &k_units[p * row_values + kv_offset];
      int128 dot = 0;
      for (int j = 0; j < hd; ++j) dot += int128{qh[j]} * k[j];
      dots[p] = dot;
      if (p == 0 || dot > dmax) dmax = dot;
    }
    // Steps 2-3: weights from the exact differences.
    int64_t total = 0;
    for (int64_t p = 0; p < n_positions; ++p) {
      const int128 diff = dmax - dots[p];
      int64_t y = kExpCap;
      if (diff < (int128{1} << 59)) {
        const int128 scaled = (diff * c_q40) >> 58;
        if (scaled < kExpCap) y = static_cast<int64_t>(scaled);
      }
      weights[p] = fixed::WeightQ40(fixed::Exp2NegQ30(y));
      total += weights[p];
    }
    // Step 4: exact weighted sum of V, one rounded quotient per output.
    std::fill(acc.begin(), acc.end(), int128{0});
    for (int64_t p = 0; p < n_positions; ++p) {
      if (weights[p] == 0) continue;
      const int64_t* v = &v_units[p * row_values + kv_offset];
      for (int j = 0; j < hd; ++j) acc[j] += int128{weights[p]} * v[j];
    }
    for (int j = 0; j < hd; ++j) {
      out[int64_t{h} * hd + j] =
          BitsToF32(fixed::RoundQuotient128ToF32Bits(acc[j], -24, static_cast<uint64_t>(total)));
    }
  }
  return absl::OkStatus();
}

}  // namespace datanode::ops::llm
