// Copyright 2026 The datanode Authors.
//
// Nonce-seeded challenges of the LLM ops (ops/include/datanode/ops/llm_kernels.h: the
// inference ops of spec version 2 a backend serves through Backend::LlmKernels()).
// Every op of that kernel set, with inputs from every challenge profile (edge: huge,
// subnormal and 4-significant-bit values), run on the backend's kernels and on the
// reference's into poisoned outputs; the bytes (or, for an input the spec refuses, the
// status code) must be equal. The ops are O(row) or O(positions x row): the reference
// recomputes them whole, no sampling needed. Thread-safe (pure functions).
#ifndef DATANODE_CONFORMANCE_LLM_CHALLENGES_H_
#define DATANODE_CONFORMANCE_LLM_CHALLENGES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "conformance/challenge_inputs.h"
#include "datanode/ops/llm_kernels.h"

namespace datanode::conformance {

// One challenge. `op` is one of LlmChallengeOps(); m, n, k describe its shape for the
// report (row ops: 1, 0, d; rope: heads, position, head_dim; attention: heads,
// positions, head_dim).
struct LlmChallenge {
  std::string label;  // "challenge/<op>/<i>"
  std::string op;
  int64_t m = 0, n = 0, k = 0;
  uint64_t seed = 0;
  ChallengeProfile profile = ChallengeProfile::kWide;
};

// "llm_dequantize_row_<format>" for every row format, "llm_rms_norm", "llm_<snake>" for
// every elementwise op (elementwise_ops.inc), "llm_rope", "llm_encode_kv_row", "llm_attend",
// "llm_attend_rows".
const std::vector<std::string>& LlmChallengeOps();

// `count` challenges of every op, shapes and profiles chosen by the nonce (profiles
// rotate from a nonce-chosen start, shifted per op, as for the matmul challenges).
std::vector<LlmChallenge> LlmChallengeCases(uint32_t count, const std::vector<uint8_t>& nonce);

// Runs `c` on `kernels` (inputs derived from c.seed, outputs poisoned first) and
// returns what it produced: "ok:" + the output bytes, or "status:" + the status code
// name when the op refused the input. INTERNAL only when the inputs cannot be built.
absl::StatusOr<std::string> RunLlmChallenge(const ops::llm::Kernels& kernels,
                                            const LlmChallenge& c);

// The report's output_digest of an outcome: SHA-256 hex of its bytes.
std::string LlmChallengeDigest(const std::string& outcome);

}  // namespace datanode::conformance

#endif  // DATANODE_CONFORMANCE_LLM_CHALLENGES_H_
