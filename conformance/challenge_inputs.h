// Copyright 2026 The datanode Authors.
//
// Inputs of the admission test's nonce-seeded challenges, and output poisoning.
//
// Challenges draw from every input profile, so the values that break kernels
// (subnormal and overflowing results, rounding ties) come from the nonce, not only
// from the public golden vectors a cheating device can precompute. Thread-safe (pure
// functions).
#ifndef DATANODE_CONFORMANCE_CHALLENGE_INPUTS_H_
#define DATANODE_CONFORMANCE_CHALLENGE_INPUTS_H_

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "datanode/ops/random_inputs.h"

namespace datanode::conformance {

enum class ChallengeProfile : uint8_t {
  kWide = 0,       // ops::InputProfile::kWide
  kRealistic = 1,  // ops::InputProfile::kRealistic
  // ops::InputProfile::kExtreme (scales at FLT_MAX / f16 max and in the subnormals,
  // quants at +-127) with every f32 / f16 scale and f32 input cut to 4 significant
  // bits: exact results then have few significant bits, so besides overflow and
  // subnormal results, rounding ties (exact halves) are frequent.
  kEdge = 2,
};
inline constexpr ChallengeProfile kAllChallengeProfiles[] = {
    ChallengeProfile::kWide, ChallengeProfile::kRealistic, ChallengeProfile::kEdge};

// "wide", "realistic", "edge".
const char* ChallengeProfileName(ChallengeProfile profile);

// MakeRandomInputs for `profile` (see above). INVALID_ARGUMENT for an invalid shape.
absl::StatusOr<ops::OpInputs> MakeChallengeInputs(ops::OpKind kind, int64_t m, int64_t n, int64_t k,
                                                  uint64_t seed, ChallengeProfile profile);

// Fills `out` with bytes derived from `seed` (SplitMix64): a run whose output must be
// written over it. A backend that skips writing (e.g. on a repeated input) leaves
// these bytes and fails the byte check that follows.
void Poison(ops::MutableByteSpan out, uint64_t seed);

}  // namespace datanode::conformance

#endif  // DATANODE_CONFORMANCE_CHALLENGE_INPUTS_H_
