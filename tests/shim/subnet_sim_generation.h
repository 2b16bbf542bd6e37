// Copyright 2026 The datanode Authors.
//
// dn-subnet-sim's verified generation phase (docs/verification.md §9.6): LLM generations
// (greedy, and every other one with seeded sampling) on n real daemons through the VerifiedInference service. Every node opens
// a verified session per generation; per step attempt a seeded beacon picks one node to
// compute (ComputeStep) and the other n - 1 check its pass answer on their own sessions
// (VerifyStep) and sign; shim::CombineVerified accepts only with n - f "verified digest D"
// shares. A rejected attempt names the computing node and the step is redone at the same
// position with the next beacon draw, so a generation goes on past faulty nodes.
#ifndef DATANODE_TESTS_SHIM_SUBNET_SIM_GENERATION_H_
#define DATANODE_TESTS_SHIM_SUBNET_SIM_GENERATION_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "node/inference/model.h"
#include "tests/shim/subnet_sim_verified.h"

namespace datanode::shim {

struct GenerationSimStats {
  int64_t generations = 0, steps = 0, attempts = 0, tokens = 0;
  int64_t sampled_generations = 0;  // the odd ones: seeded sampling, the others greedy
  int64_t honest_attempts = 0, honest_checks = 0, honest_rejected = 0;
  FaultTallies faults;
  int64_t max_answer_bytes = 0;
  int64_t unexpected = 0;  // anything that did not behave as stated (printed)
  double seconds = 0;
  std::string text;  // the last generation's token ids
};

struct GenerationSimOptions {
  std::string model_digest_hex;  // imported on every node
  // The plain pass, in process: every accepted D must be the digest of its logits.
  std::shared_ptr<const node::inference::Model> local;
  std::function<std::vector<int32_t>(int64_t generation)> prompt;
  int32_t tokens = 4;      // tokens per generation
  int64_t min_trials = 1;  // per fault kind present among the nodes
  int64_t min_generations = 1;
  int64_t max_generations = 1000;
  uint64_t beacon_seed = 0;
  uint64_t epoch = 1;
  int deadline_seconds = 120;  // per RPC
};

// Runs generations until every fault kind present among `nodes` was the computing
// node's fault in >= min_trials attempts and min_generations ran (at most
// max_generations). Honest attempts must
// be accepted by all n - 1 with D equal to the plain pass's logits digest and the same
// next token everywhere, the one the spec's sampler picks from the plain pass's logits; faulty ones rejected by all n - 1 with the computing node named.
GenerationSimStats RunVerifiedGenerations(const std::vector<VerifiedSimNode>& nodes,
                                          const GenerationSimOptions& options);

// Prints the figures of a run of RunVerifiedGenerations, `phase` naming it.
void PrintGenerationStats(const std::string& phase, const GenerationSimStats& st);

}  // namespace datanode::shim

#endif  // DATANODE_TESTS_SHIM_SUBNET_SIM_GENERATION_H_
