// Copyright 2026 The datanode Authors.
#include "conformance/challenge_inputs.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <initializer_list>

#include "datanode/ops/exact_float.h"
#include "datanode/ops/status_macros.h"

namespace datanode::conformance {
namespace {

// Keeps the 4 most significant bits of a significand of `frac_bits` fraction bits
// (the implicit bit and 3 below it when normal; the leading one and 2 below it when
// subnormal). Zero, and therefore the value's sign and exponent, stay as they are.
uint32_t ShortenSignificand(uint32_t bits, int frac_bits) {
  const uint32_t frac_mask = (uint32_t{1} << frac_bits) - 1;
  const uint32_t frac = bits & frac_mask;
  const uint32_t exp = (bits >> frac_bits) & (frac_mask == 0x7FFFFF ? 0xFF : 0x1F);
  uint32_t keep;
  if (exp != 0) {
    keep = frac_mask & ~((uint32_t{1} << (frac_bits - 3)) - 1);
  } else if (frac == 0) {
    return bits;
  } else {
    const int lead = std::bit_width(frac) - 1;  // position of the leading one
    keep = frac_mask & ~((uint32_t{1} << std::max(lead - 2, 0)) - 1);
  }
  return (bits & ~frac_mask) | (frac & keep);
}

void ShortenF32(uint8_t* p) { ops::StoreU32(p, ShortenSignificand(ops::LoadU32(p), 23)); }
void ShortenF16(uint8_t* p) {
  ops::StoreU16(p, static_cast<uint16_t>(ShortenSignificand(ops::LoadU16(p), 10)));
}

void ShortenF32Array(std::vector<uint8_t>& v) {
  for (size_t off = 0; off + 4 <= v.size(); off += 4) ShortenF32(&v[off]);
}

// The f16 scales of a block format at `offsets` within each `block` bytes.
void ShortenBlockScales(std::vector<uint8_t>& v, int64_t block,
                        std::initializer_list<int64_t> offsets) {
  for (size_t off = 0; off + block <= v.size(); off += block) {
    for (int64_t o : offsets) ShortenF16(&v[off + o]);
  }
}

void ShortenOperands(ops::OpInputs& in) {
  using ops::OpKind;
  switch (in.kind) {
    case OpKind::kMatMulS8S32:
      return;  // integers only: nothing is rounded
    case OpKind::kMatMulS8F32:
      ShortenF32Array(in.a_scale);
      ShortenF32Array(in.w_scale);
      return;
    case OpKind::kQuantizeS8Row:
    case OpKind::kQuantizeQ8_0:
      ShortenF32Array(in.a);
      return;
    default:
      break;
  }
  // The Q8_0-activation matmuls: A is Q8_0 (f16 d first in each block).
  ShortenBlockScales(in.a, ops::kQ8_0BlockBytes, {0});
  switch (in.kind) {
    case OpKind::kMatMulQ8_0Q8_0:
      ShortenBlockScales(in.w, ops::kQ8_0BlockBytes, {0});
      break;
    case OpKind::kMatMulQ8_0Q4_0:
      ShortenBlockScales(in.w, ops::kQ4_0BlockBytes, {0});
      break;
    case OpKind::kMatMulQ8_0Q4_1:
      ShortenBlockScales(in.w, ops::kQ4_1BlockBytes, {0, 2});  // d, m
      break;
    case OpKind::kMatMulQ8_0Q4_K:
      ShortenBlockScales(in.w, ops::kQ4_KBlockBytes, {0, 2});  // d, dmin
      break;
    case OpKind::kMatMulQ8_0Q6_K:
      ShortenBlockScales(in.w, ops::kQ6_KBlockBytes, {208});  // d after ql, qh, scales
      break;
    default:
      break;
  }
}

}  // namespace

const char* ChallengeProfileName(ChallengeProfile profile) {
  switch (profile) {
    case ChallengeProfile::kWide:
      return "wide";
    case ChallengeProfile::kRealistic:
      return "realistic";
    case ChallengeProfile::kEdge:
      return "edge";
  }
  return "unknown";
}

absl::StatusOr<ops::OpInputs> MakeChallengeInputs(ops::OpKind kind, int64_t m, int64_t n, int64_t k,
                                                  uint64_t seed, ChallengeProfile profile) {
  switch (profile) {
    case ChallengeProfile::kWide:
      return ops::MakeRandomInputs(kind, m, n, k, seed, ops::InputProfile::kWide);
    case ChallengeProfile::kRealistic:
      return ops::MakeRandomInputs(kind, m, n, k, seed, ops::InputProfile::kRealistic);
    case ChallengeProfile::kEdge:
      break;
  }
  ASSIGN_OR_RETURN(ops::OpInputs in,
                   ops::MakeRandomInputs(kind, m, n, k, seed, ops::InputProfile::kExtreme));
  ShortenOperands(in);
  return in;
}

void Poison(ops::MutableByteSpan out, uint64_t seed) {
  ops::SplitMix64 rng(seed);
  size_t i = 0;
  for (; i + 8 <= out.size(); i += 8) {
    const uint64_t v = rng.Next();
    std::memcpy(&out[i], &v, 8);
  }
  for (; i < out.size(); ++i) out[i] = static_cast<uint8_t>(rng.Next());
}

}  // namespace datanode::conformance
