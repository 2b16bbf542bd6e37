// Copyright 2026 The datanode Authors.
//
// Spec §8.11 (sampling) and §8.12 (SpecRng).
// SpecRng: block i = SHA-256(seed || u64_le(i)); Next() returns the block's 32 bytes as
// four little-endian u64, in order, then moves to block i + 1.
// SampleToken, for logits l[V]:
//  - temperature 0: the argmax, the lowest id among equal maxima; no draw.
//  - otherwise: lmax = max l; d_i = round_f32(round_f32(lmax - l_i) / T) (each step an
//    exact value rounded once); w_i = WeightQ40(ExpNeg(d_i)) (so w = 2^40 at the max).
//    Candidates are ordered by logit descending, ties by lower id (this is also w
//    descending). top_k > 0 keeps the first top_k. top_p < 1 keeps the shortest prefix
//    whose cumulative weight C satisfies C >= top_p * W_k (W_k the kept total; exact
//    integer comparison; at least one). Then u = rng.Next(), W = total kept weight,
//    r = floor(u * W / 2^64), and the token is the first candidate whose cumulative
//    weight exceeds r (zero-weight candidates are never drawn).
#include <openssl/evp.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/exact_float.h"
#include "datanode/ops/llm.h"
#include "ops/reference/fixed_point.h"

namespace datanode::ops::llm {

SpecRng::SpecRng(ByteSpan seed) : seed_(seed.begin(), seed.end()) {}

uint64_t SpecRng::Next() {
  if (next_word_ == 4) {
    uint8_t counter[8];
    for (int i = 0; i < 8; ++i) counter[i] = static_cast<uint8_t>(block_ >> (8 * i));
    uint8_t digest[32];
    unsigned int len = 0;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    EVP_DigestUpdate(ctx, seed_.data(), seed_.size());
    EVP_DigestUpdate(ctx, counter, sizeof(counter));
    EVP_DigestFinal_ex(ctx, digest, &len);
    EVP_MD_CTX_free(ctx);
    for (int w = 0; w < 4; ++w) {
      uint64_t v = 0;
      for (int i = 7; i >= 0; --i) v = (v << 8) | digest[8 * w + i];
      words_[w] = v;
    }
    ++block_;
    next_word_ = 0;
  }
  return words_[next_word_++];
}

absl::Status ValidateSamplingParams(const SamplingParams& params) {
  const uint32_t t_bits = F32ToBits(params.temperature);
  const uint32_t p_bits = F32ToBits(params.top_p);
  if (!IsFiniteF32Bits(t_bits) || (t_bits != 0 && !(params.temperature > 0.0f)) ||
      params.temperature > 100.0f) {
    return absl::InvalidArgumentError(
        absl::StrCat("sampling: temperature must be 0 or in (0, 100], got ", params.temperature));
  }
  if (params.top_k < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("sampling: top_k must be >= 0, got ", params.top_k));
  }
  if (!IsFiniteF32Bits(p_bits) || !(params.top_p > 0.0f) || params.top_p > 1.0f) {
    return absl::InvalidArgumentError(
        absl::StrCat("sampling: top_p must be in (0, 1], got ", params.top_p));
  }
  return absl::OkStatus();
}

absl::StatusOr<int32_t> SampleToken(std::span<const float> logits, const SamplingParams& params,
                                    SpecRng& rng) {
  if (auto s = ValidateSamplingParams(params); !s.ok()) return s;
  // vocab * 2^41 < 2^63: the total weight fits int64.
  if (logits.empty() || logits.size() > (size_t{1} << 22)) {
    return absl::InvalidArgumentError(
        absl::StrCat("sampling: vocabulary size ", logits.size(), " not in [1, 2^22]"));
  }
  if (auto s = fixed::CheckFiniteF32("SampleToken", "logits", logits); !s.ok()) return s;
  const int32_t vocab = static_cast<int32_t>(logits.size());
  auto key = [&](int32_t i) { return fixed::OrderKey(F32ToBits(logits[i])); };
  int32_t best = 0;
  for (int32_t i = 1; i < vocab; ++i) {
    if (key(i) > key(best)) best = i;
  }
  if (F32ToBits(params.temperature) == 0) return best;

  // Candidate order: logit descending, then lower id (ascending (-key, id) pairs). Only
  // the kept prefix is needed.
  std::vector<std::pair<int64_t, int32_t>> ranked(vocab);
  for (int32_t i = 0; i < vocab; ++i) ranked[i] = {-key(i), i};
  int64_t kept = vocab;
  if (params.top_k > 0 && params.top_k < vocab) {
    kept = params.top_k;
    std::partial_sort(ranked.begin(), ranked.begin() + kept, ranked.end());
  } else {
    std::sort(ranked.begin(), ranked.end());
  }
  std::vector<int32_t> order(kept);
  for (int64_t c = 0; c < kept; ++c) order[c] = ranked[c].second;

  const ExactValue lmax = DecodeF32Bits(F32ToBits(logits[best]));
  const ExactValue temp = DecodeF32Bits(F32ToBits(params.temperature));
  std::vector<int64_t> weight(kept);
  int64_t total = 0;
  for (int64_t c = 0; c < kept; ++c) {
    const ExactValue l = DecodeF32Bits(F32ToBits(logits[order[c]]));
    // Either rounding may overflow to +inf (a huge logit range, a tiny temperature):
    // exp(-inf) has weight 0.
    const uint32_t diff_bits =
        fixed::RoundSum2ToF32Bits(lmax.mantissa, lmax.exponent, -l.mantissa, l.exponent);
    uint32_t scaled_bits = diff_bits;
    if (IsFiniteF32Bits(diff_bits)) {
      const ExactValue diff = DecodeF32Bits(diff_bits);
      scaled_bits =
          RoundQuotientToF32Bits(diff.mantissa, diff.exponent - temp.exponent, temp.mantissa);
    }
    weight[c] = IsFiniteF32Bits(scaled_bits)
                    ? fixed::WeightQ40(fixed::ExpNeg(DecodeF32Bits(scaled_bits)))
                    : 0;
    total += weight[c];
  }

  // top-p: C * 2^-pe >= pm * W with top_p = pm * 2^pe (pe <= -23 as top_p <= 1;
  // pm < 2^24, W < 2^63). For pe < -60, top_p * W < 2^27 < 2^40 = w_0, so the first
  // candidate alone suffices (and C << -pe stays below 2^123).
  if (F32ToBits(params.top_p) != F32ToBits(1.0f)) {
    const ExactValue p = DecodeF32Bits(F32ToBits(params.top_p));
    int64_t cum = 0;
    int64_t c = 0;
    while (c < kept) {
      cum += weight[c++];
      if (p.exponent < -60) break;
      const int shift = -p.exponent;
      if ((int128{cum} << shift) >= int128{p.mantissa} * total) break;
    }
    kept = c;
    total = cum;
  }

  const uint64_t u = rng.Next();
  const int64_t r = static_cast<int64_t>((uint128{u} * static_cast<uint64_t>(total)) >> 64);
  int64_t cum = 0;
  for (int64_t c = 0; c < kept; ++c) {
    cum += weight[c];
    if (cum > r) return order[c];
  }
  return order[0];  // unreachable: r < total
}

}  // namespace datanode::ops::llm
