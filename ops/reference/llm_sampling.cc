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
#include <algorithm>
#include <cstdlib>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/exact_float.h"
#include "datanode/ops/llm.h"
#include "datanode/util/sha256.h"
#include "ops/reference/fixed_point.h"

namespace datanode::ops::llm {

SpecRng::SpecRng(ByteSpan seed) : seed_(seed.begin(), seed.end()) {}

uint64_t SpecRng::Next() {
  if (next_word_ == 4) {
    uint8_t counter[8];
    for (int i = 0; i < 8; ++i) counter[i] = static_cast<uint8_t>(block_ >> (8 * i));
    const util::Sha256 digest = util::Sha256Of({seed_, counter});
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

void SpecRng::Seek(uint64_t word) {
  block_ = word / 4;
  next_word_ = 4;
  const int skip = static_cast<int>(word % 4);
  if (skip != 0) {
    Next();  // computes the block's four words (and moves block_ past it)
    next_word_ = skip;
  }
}

namespace {

using fixed::RoundU64ToF32Bits;

// A candidate's weight (spec §8.11 step 2): d = round_f32(lmax - l), d' = round_f32(d / T),
// w = WeightQ40(ExpNeg(d')), 0 if d or d' is +inf. Short integer paths where they are
// exact (both terms within 38 bits of each other; a 64-bit quotient with >= 38 bits and
// a sticky bit), the spec routines otherwise.
int64_t Weight(ExactValue lmax, ExactValue l, ExactValue temp) {
  uint32_t diff_bits;
  const int lo = std::min(lmax.exponent, l.exponent);
  if (lmax.mantissa != 0 && l.mantissa != 0 && std::abs(lmax.exponent - l.exponent) <= 38) {
    const int64_t v = (lmax.mantissa << (lmax.exponent - lo)) - (l.mantissa << (l.exponent - lo));
    // lmax >= l, so v >= 0.
    diff_bits = RoundU64ToF32Bits(0, static_cast<uint64_t>(v), lo);
  } else {
    diff_bits = fixed::RoundSum2ToF32Bits(lmax.mantissa, lmax.exponent, -l.mantissa, l.exponent);
  }
  if (!IsFiniteF32Bits(diff_bits)) return 0;
  const ExactValue diff = DecodeF32Bits(diff_bits);  // >= 0
  // diff.mantissa < 2^24: (m << 39) / t < 2^63 has >= 38 bits (t < 2^24), plus sticky.
  const uint64_t num = static_cast<uint64_t>(diff.mantissa) << 39;
  const uint64_t den = static_cast<uint64_t>(temp.mantissa);
  uint64_t q = num / den;
  if (q * den != num) q |= 1;
  const uint32_t scaled_bits = RoundU64ToF32Bits(0, q, diff.exponent - temp.exponent - 39);
  if (!IsFiniteF32Bits(scaled_bits)) return 0;
  return fixed::WeightQ40(fixed::ExpNeg(DecodeF32Bits(scaled_bits)));
}

}  // namespace

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
  // The largest key, then its lowest id (two simple loops the compiler vectorizes).
  int64_t best_key = key(0);
  for (int32_t i = 1; i < vocab; ++i) best_key = std::max(best_key, key(i));
  int32_t best = 0;
  while (key(best) != best_key) ++best;
  if (F32ToBits(params.temperature) == 0) return best;

  // Candidate order: logit descending, then lower id (ascending (-key, id)). Only the
  // candidates whose weight can be nonzero matter: one with (lmax - l) / T > 28.5 has
  // d' >= 28.5 * (1 - 2^-23) (two roundings), so y >= 28.4 * log2(e) * 2^30 > 40 * 2^30,
  // k <= -41 and WeightQ40 = 0. Such candidates change no cumulative weight, so neither
  // the top-p prefix nor the draw can end on one, and dropping them returns the same
  // token. The test keeps every candidate with (double)lmax - (double)l <= 29 T (a
  // dropped one has exact diff > 29 T (1 - 2^-52)); it is monotone in l, so the kept set
  // is a prefix of the order and the first top_k of it are the order's first top_k.
  const double cut = 29.0 * static_cast<double>(params.temperature);  // exact (29 bits)
  const double lmax_d = static_cast<double>(logits[best]);
  const ExactValue lmax = DecodeF32Bits(F32ToBits(logits[best]));
  const ExactValue temp = DecodeF32Bits(F32ToBits(params.temperature));
  struct Candidate {
    int64_t neg_key;
    int32_t id;
    int64_t weight;
    bool operator<(const Candidate& o) const {
      return neg_key != o.neg_key ? neg_key < o.neg_key : id < o.id;
    }
  };
  std::vector<Candidate> cand;
  cand.reserve(static_cast<size_t>(vocab));
  for (int32_t i = 0; i < vocab; ++i) {
    if (lmax_d - static_cast<double>(logits[i]) <= cut) cand.push_back({-key(i), i, 0});
  }
  int64_t kept = static_cast<int64_t>(cand.size());
  int64_t sorted = 0;  // cand[0, sorted) is in candidate order
  if (params.top_k > 0 && params.top_k < kept) {
    kept = params.top_k;
    std::partial_sort(cand.begin(), cand.begin() + kept, cand.end());
    cand.resize(static_cast<size_t>(kept));
    sorted = kept;
  }
  // Weights depend on the logit alone, so they are computed in any order.
  int64_t total = 0;
  for (Candidate& c : cand) {
    const ExactValue l = DecodeF32Bits(F32ToBits(logits[c.id]));
    c.weight = Weight(lmax, l, temp);
    total += c.weight;
  }
  // The order is needed only up to where the top-p prefix and the draw end (for real
  // logits, a few dozen candidates): sort the head lazily, doubling it as needed.
  auto at = [&](int64_t c) -> const Candidate& {
    if (c >= sorted) {
      const int64_t upto = std::min(kept, std::max<int64_t>(64, 4 * sorted));
      if (upto < kept) std::nth_element(cand.begin() + sorted, cand.begin() + upto, cand.end());
      std::sort(cand.begin() + sorted, cand.begin() + upto);
      sorted = upto;
    }
    return cand[static_cast<size_t>(c)];
  };

  // top-p: C * 2^-pe >= pm * W with top_p = pm * 2^pe (pe <= -23 as top_p <= 1;
  // pm < 2^24, W < 2^63). For pe < -60, top_p * W < 2^27 < 2^40 = w_0, so the first
  // candidate alone suffices (and C << -pe stays below 2^123).
  if (F32ToBits(params.top_p) != F32ToBits(1.0f)) {
    const ExactValue p = DecodeF32Bits(F32ToBits(params.top_p));
    int64_t cum = 0;
    int64_t c = 0;
    while (c < kept) {
      cum += at(c++).weight;
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
    cum += at(c).weight;
    if (cum > r) return at(c).id;
  }
  return at(0).id;  // unreachable: r < total
}

}  // namespace datanode::ops::llm
