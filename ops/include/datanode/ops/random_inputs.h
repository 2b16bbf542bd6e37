// Copyright 2026 The datanode Authors.
//
// Deterministic generation of valid op inputs from a 64-bit seed. Used by tests,
// benchmarks, the start-up self-test and the admission test's nonce-seeded
// challenges, so the generator is part of the spec's test vectors: changing it
// changes golden digests (datanode/ops/golden.h; tests/ops/golden_test.cc catches that).
#ifndef DATANODE_OPS_RANDOM_INPUTS_H_
#define DATANODE_OPS_RANDOM_INPUTS_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "datanode/ops/types.h"

namespace datanode::ops {

// SplitMix64 (Steele, Lea, Flood 2014): tiny, fully specified, good enough for test
// data. Hand-written because the stream must be identical on every platform and
// library version (std:: distributions are not).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [lo, hi] (inclusive); hi - lo < 2^32.
  int64_t Uniform(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>((Next() >> 32) % static_cast<uint64_t>(hi - lo + 1));
  }

 private:
  uint64_t state_;
};

enum class InputProfile : uint8_t {
  // Quants uniform in their full valid range; scales with random exponents over most
  // of the format's range (exercises exact wide accumulation and rare rounding paths).
  kWide = 0,
  // Quants mostly +-127 (and nibble extremes); scales at the edges of the range (f32
  // near FLT_MAX and in the subnormals, so results overflow and round to subnormals).
  kExtreme = 1,
  // Like real LLM tensors: quants uniform, scales within a narrow band (f16 d in
  // [2^-9, 2^-5), f32 scales in [2^-10, 2^-4)). What benchmarks use.
  kRealistic = 2,
};

inline constexpr InputProfile kAllInputProfiles[] = {InputProfile::kWide, InputProfile::kExtreme,
                                                     InputProfile::kRealistic};

// "wide", "extreme", "realistic": the names golden files and test messages use.
const char* InputProfileName(InputProfile profile);
// INVALID_ARGUMENT for any other name.
absl::StatusOr<InputProfile> InputProfileFromName(std::string_view name);

// Owned buffers for one op invocation, sized by ComputeOperandSizes.
struct OpInputs {
  OpKind kind = OpKind::kMatMulS8S32;
  int64_t m = 0, n = 0, k = 0;
  std::vector<uint8_t> a, a_scale, w, w_scale, out, out_scale;

  // Views of the buffers (out and out_scale zero-filled at creation).
  OpArgs Args();
};

// INVALID_ARGUMENT if the shape is invalid (see ComputeOperandSizes).
absl::StatusOr<OpInputs> MakeRandomInputs(OpKind kind, int64_t m, int64_t n, int64_t k,
                                          uint64_t seed,
                                          InputProfile profile = InputProfile::kWide);

}  // namespace datanode::ops

#endif  // DATANODE_OPS_RANDOM_INPUTS_H_
