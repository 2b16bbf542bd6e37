// Copyright 2026 The datanode Authors.
//
// dn-subnet-sim's verified-mode phase (docs/verification.md §8): per call a seeded
// beacon picks one of the n daemons to compute (MatMul with exact_output); the other
// n - 1 check its answer (MatMul with verify) and sign a verdict with their node keys;
// shim::CombineVerified accepts only with n - f "verified digest D" shares. Also what
// the verified phases share: the beacon, the per-fault tallies and their printing.
#ifndef DATANODE_TESTS_SHIM_SUBNET_SIM_VERIFIED_H_
#define DATANODE_TESTS_SHIM_SUBNET_SIM_VERIFIED_H_

#include <cstdint>
#include <functional>
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

// The computing node of a beacon draw: the first 8 bytes of SHA-256(seed, draw) (the
// two u64 in host byte order) mod n.
uint32_t Beacon(uint64_t seed, uint64_t draw, uint32_t n);

// What happened to the faulty computing nodes' answers, per fault kind.
struct FaultTallies {
  std::map<std::string, int64_t> trials;           // answers of a node with that fault
  std::map<std::string, int64_t> caught;           // of them: no agreement, all n - 1 rejected
  std::map<std::string, int64_t> named;            // of them: the verdict names the computing node
  std::map<std::string, int64_t> caught_by_check;  // "fault/check" -> count

  // Counts one answer of a node with `fault`; `check`: the first failed check named.
  void Add(const std::string& fault, bool caught_by_all, bool node_named, const std::string& check);
  // Whether every fault in `faults` had >= min_trials answers, all caught and named.
  bool AllCaught(const std::vector<std::string>& faults, int64_t min_trials) const;
};

// Prints the tallies (one line per fault kind, then the first failed check per trial)
// and the `unexpected` count, in the format docs/verification.md and bench/results quote.
void PrintFaultTallies(const FaultTallies& tallies, int64_t unexpected);

struct VerifiedSimStats {
  int64_t calls = 0;
  int64_t honest_calls = 0, honest_checks = 0, honest_rejected = 0;  // checks: verdicts
  FaultTallies faults;
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

// Restarts every daemon of the subnet, node i with test_fault fault_of(i) ("" = honest),
// and waits until they serve; empty when one does not (said on stdout).
using RestartSubnet = std::function<std::vector<VerifiedSimNode>(
    const std::function<std::string(int node)>& fault_of)>;

// The verified-mode phase (subnet_sim.cc's file comment): 13 honest daemons until
// `checks` verdicts (none may reject), then every daemon restarted with a test fault
// (node i: flip_output_bit, flip_exact_bit, wrong_weights, replay by i mod 4) until each
// fault was the computing node's in `trials` calls, every one rejected by all 12 with
// the computing node named; 0 skips a part. The weights: those of RunVerifiedCalls.
// Prints its figures; returns the number of failures. The daemons are left faulty when
// trials > 0.
int RunVerifiedMode(const RestartSubnet& restart, const std::string& model_digest_hex, uint32_t n_w,
                    uint32_t k_w, const std::vector<int8_t>& w, const std::vector<float>& w_scale,
                    int64_t trials, int64_t checks);

}  // namespace datanode::shim

#endif  // DATANODE_TESTS_SHIM_SUBNET_SIM_VERIFIED_H_
