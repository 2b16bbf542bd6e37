// Copyright 2026 The datanode Authors.
//
// dn-subnet-sim's verified-mode phase (docs/verification.md §8): per call a seeded
// beacon picks one of the n daemons to compute (MatMul with exact_output); the other
// n - 1 check its answer (MatMul with verify) and sign a verdict with their node keys;
// shim::CombineVerified accepts only with n - f "verified digest D" shares.
#ifndef DATANODE_TESTS_SHIM_SUBNET_SIM_VERIFIED_H_
#define DATANODE_TESTS_SHIM_SUBNET_SIM_VERIFIED_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "node/shim/agreement.h"

namespace datanode::shim {

struct VerifiedSimNode {
  int index = 0;
  std::string socket;  // unix socket path
  PublicKey key{};     // the daemon's node key (its node-key.pem)
  std::string fault;   // the test_fault it was started with ("" = honest)
};

struct VerifiedSimStats {
  int64_t calls = 0;
  int64_t honest_calls = 0, honest_checks = 0, honest_rejected = 0;  // checks: verdicts
  std::map<std::string, int64_t> trials, caught, named;              // per fault kind
  std::map<std::string, int64_t> caught_by_check;                    // "fault/check" -> count
  int64_t unexpected = 0;  // anything that did not behave as stated (printed)
  double seconds = 0;
};

// Runs calls until every fault kind present among `nodes` was the computing node's
// fault in >= min_trials calls and >= min_honest_checks verdicts were given on honest
// answers (whichever of the two applies; at most max_calls). The call's shape, kind
// (alternately matmul_s8_f32 with the stored tensors "w"/"s" of `model_digest_hex` and
// matmul_q8_0_q8_0 with inline weights) and activations come from the call number;
// the computing node from SHA-256(beacon seed, call number). `epoch` is sent to the
// verifiers. Honest answers must be accepted by all n - 1 and equal the reference's
// bytes (computed here); faulty ones rejected (no agreement) with the computing node
// named.
VerifiedSimStats RunVerifiedCalls(const std::vector<VerifiedSimNode>& nodes,
                                  const std::string& model_digest_hex, uint32_t n_w, uint32_t k_w,
                                  const std::vector<int8_t>& w, const std::vector<float>& w_scale,
                                  int64_t min_trials, int64_t min_honest_checks, int64_t max_calls,
                                  uint64_t beacon_seed, uint64_t first_call, uint64_t epoch);

}  // namespace datanode::shim

#endif  // DATANODE_TESTS_SHIM_SUBNET_SIM_VERIFIED_H_
