// Copyright 2026 The datanode Authors.
//
// Verified delegation of LLM generation in the daemon (docs/verification.md §9,
// docs/daemon.md "Verified inference"), free of RPC types: one node computes a generation
// step and returns the pass's answer (every matmul's output and exact sums, the residual
// digests); every other node checks that answer against its own copy of the model and its
// own KV cache (VerifyingNode::VerifyPass) and signs its verdict. So each node holds a
// verified session per generation: its own KV cache, advanced by every step it computes
// or accepts.
//
// A step is (session, position p, tokens): the tokens at positions p, p + 1, ... of the
// session (a prompt's prefill, or one token of a decode step), logits for the last one.
// p may be at most the positions the session holds (a step may be redone at the same p:
// after a rejection the subnet retries it with another computing node). A node's session
// holds p + tokens positions after a step it computed or accepted, and p after one it
// rejected or that failed (its rows from p on are then not the spec's).
//
// next_token is chosen from the step's logits by the step's sampling (greedy: the argmax,
// the lowest id on ties; else the spec's seeded sampler at the step's draw), so it is equal
// on every node that computed or accepted those logits.
//
// Limits (Config, docs/daemon.md "Inference"): at most max_sessions verified sessions
// open (counted apart from the Inference service's), contexts of at most
// max_context_length positions (default_context_length for 0), each session's KV cache
// and each loaded model (and the computing side's stored weights) held from the daemon's
// MemoryBudget; a step's answer at most max_reply_bytes (bounded before computing).
// The model is the Inference service's loaded one (InferenceService::SharedModel), one
// instance shared read-only with that service's sessions: loaded on first use by either,
// kept while a session uses it, then cached with that service's idle models (evicted
// beyond max_loaded_models or when the budget needs room).
//
// Errors: NOT_FOUND for an unknown model or session; INVALID_ARGUMENT for bad positions,
// empty steps, token ids outside the vocabulary or sampling inference::CheckSampling
// refuses; RESOURCE_EXHAUSTED for too many sessions, memory over the budget or an answer over
// max_reply_bytes; FAILED_PRECONDITION for a second concurrent call on one session, an epoch older
// than the node's, or a node without verified mode; UNIMPLEMENTED for a model the engine cannot run
// (not a GGUF); OUT_OF_RANGE when the computing node's pass leaves the spec's range. A wrong answer
// is not an error: it is a signed rejection naming the computing node.
//
// Thread-safe; different sessions run concurrently.
#ifndef DATANODE_NODE_DAEMON_VERIFIED_INFERENCE_H_
#define DATANODE_NODE_DAEMON_VERIFIED_INFERENCE_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "datanode/ops/llm.h"
#include "datanode/ops/verify_pass.h"
#include "node/daemon/caller_limits.h"
#include "node/daemon/config.h"
#include "node/daemon/inference_service.h"
#include "node/daemon/node_service.h"
#include "node/daemon/verified_mode.h"
#include "node/inference/model.h"
#include "node/inference/session.h"
#include "node/inference/verified_forward.h"
#include "node/shim/pricing.h"

namespace datanode::node {

// One generation step of a verified session (see the file comment).
struct VerifiedStep {
  std::string session_id;
  int64_t position = 0;
  std::vector<int32_t> tokens;
  // How the next token is chosen from the step's logits (the default: greedy): the
  // spec's sampler (ops::llm::SampleToken) drawing word `draw` of SpecRng(seed), i.e. the
  // draw-th token the generation samples (0 for the first after the prompt), as
  // inference::Session::Generate draws them; so a verified generation gives the tokens a
  // plain one gives for the same prompt, sampling and seed.
  ops::llm::SamplingParams sampling;
  std::vector<uint8_t> seed;  // at most inference::kMaxSeedBytes
  uint64_t draw = 0;
};

struct ComputedStep {
  std::vector<uint8_t> answer;  // ops::verify::EncodePassAnswer of the pass
  ops::Sha256 output_digest{};  // D = PassOutputDigest (the step's logits)
  int32_t next_token = 0;       // chosen from the logits as step.sampling says
  uint64_t cycles = 0;          // one pass: docs/canister-api.md "Verified inference"
  int64_t answer_bytes = 0;
  std::string backend;
};

// The computing node's answer as a verifier receives it.
struct StepAnswer {
  ops::ByteSpan answer;  // EncodePassAnswer bytes; undecodable ones are a rejection
  uint64_t epoch = 0;
  ops::Sha256 request_digest{};
  uint32_t computing_node = 0;
};

struct VerifiedStepResult {
  PassVerification verification;
  int32_t next_token = -1;  // on acceptance: chosen from the checked logits (step.sampling)
  uint64_t cycles = 0;      // the checks: sum of shim::CheckCycles over the pass's matmuls
};

class VerifiedInference {
 public:
  // `node` and `inference` (the daemon's Inference service, whose loaded models the
  // verified sessions share) must outlive this object; the node's verifying node signs
  // the verdicts and its test fault (test only) applies to every step this node computes.
  VerifiedInference(NodeService* node, InferenceService* inference, const Config& config);
  ~VerifiedInference();

  absl::StatusOr<OpenedSession> OpenSession(const ops::Sha256& model, int64_t context_length);
  absl::Status CloseSession(const std::string& id);
  // The computing node's side of a step.
  absl::StatusOr<ComputedStep> Compute(const VerifiedStep& step);
  // A verifying node's side: checks `answer` for `step` on this node's session.
  absl::StatusOr<VerifiedStepResult> Verify(const VerifiedStep& step, const StepAnswer& answer);

  int open_sessions() const;

 private:
  struct Loaded;
  struct Session;
  class Use;

  absl::StatusOr<std::shared_ptr<Loaded>> Load(const ops::Sha256& digest);
  // The session, marked busy, after checking the step against it.
  absl::StatusOr<Use> Acquire(const VerifiedStep& step);
  absl::StatusOr<std::shared_ptr<const inference::LinearWeights>> ComputeWeights(Loaded& loaded);
  // The answer `fault_` makes of the honest one (already computed into `answer`).
  absl::Status ApplyFault(Loaded& loaded, const inference::LinearWeights& weights,
                          const VerifiedStep& step, Session& session, std::span<float> logits,
                          ops::verify::PassAnswer& answer);

  NodeService* const node_;
  InferenceService* const inference_;
  const Config config_;
  const TestFault fault_;
  std::atomic<uint64_t> faults_{0};  // varies which matmul, bit, weight or layer a fault hits
  std::mutex load_mu_;               // one model load at a time
  mutable std::mutex mu_;
  // guarded by mu_; per model, what its verified sessions add to the shared LoadedModel
  std::map<ops::Sha256, std::weak_ptr<Loaded>> models_;
  std::map<std::string, std::shared_ptr<Session>> open_;  // guarded by mu_
  struct Previous {
    std::vector<int32_t> tokens;
    int64_t position = 0;
    ops::verify::PassAnswer answer;
  };
  std::map<std::string, Previous> previous_;  // guarded by mu_; the replay fault's answers
};

}  // namespace datanode::node

#endif  // DATANODE_NODE_DAEMON_VERIFIED_INFERENCE_H_
