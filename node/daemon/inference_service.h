// Copyright 2026 The datanode Authors.
//
// The daemon's side of whole-model inference, free of RPC types: the models loaded on
// the serving backend (a small cache keyed by manifest digest, loaded on first use,
// their memory held from the daemon's MemoryBudget), the open sessions (a
// SessionManager; each session's KV cache also held from the budget), tokenizing, and
// Generate with its price. The RPC layer (inference_rpc.cc) converts protos to these
// types and runs every method here on the daemon's Executor: they block (store reads,
// model loading, the forward passes).
//
// Limits (Config, docs/daemon.md "Inference"): max_sessions open sessions (one-call
// sessions count while they run), contexts of at most max_context_length positions
// (default_context_length when a caller asks for 0), max_tokens_per_call tokens per
// Generate, max_loaded_models models kept loaded (idle ones are evicted first). A
// Generate holds an executor thread until it ends, so at most executor_threads - 1
// (at least 1) run at once and the others get RESOURCE_EXHAUSTED: one thread always
// stays for MatMul, store and admission calls.
//
// Errors: NOT_FOUND for an unknown model or session; INVALID_ARGUMENT for bad
// parameters (max_tokens, sampling, seed, token ids outside the vocabulary, an empty
// prompt); OUT_OF_RANGE for a prompt that does not fit in the context left (and for
// activations outside the spec's range); RESOURCE_EXHAUSTED for too many sessions or
// memory over the budget; FAILED_PRECONDITION for a second concurrent call on one
// session; UNIMPLEMENTED for a model the engine cannot run.
//
// Thread-safe.
#ifndef DATANODE_NODE_DAEMON_INFERENCE_SERVICE_H_
#define DATANODE_NODE_DAEMON_INFERENCE_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "datanode/ops/backend.h"
#include "node/daemon/caller_limits.h"
#include "node/daemon/config.h"
#include "node/daemon/node_service.h"
#include "node/inference/session_manager.h"
#include "node/inference/tokenizer.h"
#include "node/shim/pricing.h"

namespace datanode::node {

// A model loaded for inference: the engine's Model, its tokenizer, its price terms and
// the memory it holds of the budget (released when the last user drops it). One instance
// per digest, shared read-only by the Inference service's sessions and the verified
// sessions (VerifiedInference), each with its own KV cache.
struct LoadedModel {
  Sha256 digest{};
  std::shared_ptr<const inference::Model> model;
  // An error for a GGUF without a usable tokenizer: the Inference service refuses such a
  // model; verified inference, which takes token ids, runs it.
  absl::StatusOr<Tokenizer> tokenizer;
  shim::ModelCost cost;
  int32_t max_piece_bytes = 0;  // the longest Tokenizer::TokenToPiece
  MemoryBudget::Reservation held;
};

// The model's ModelCost (shim::ModelCostFromTensors) from its manifest.
shim::ModelCost ModelCostOf(const ModelManifest& manifest);

// The ChatML turn SmolLM2 (and other ChatML models) expect around a user message:
// "<|im_start|>user\n" + text + "<|im_end|>\n<|im_start|>assistant\n".
std::string ChatPrompt(const std::string& text);

struct OpenedSession {
  std::string id;  // 32 random hex digits: unguessable, so one caller cannot close another's
  int64_t context_length = 0;
  int64_t kv_cache_bytes = 0;
};

struct GenerateCall {
  std::string session_id;  // an open session, or empty for a one-call session of `model`
  Sha256 model{};
  std::variant<std::string, std::vector<int32_t>> prompt;  // text or token ids
  bool chat = false;                                       // wrap text with ChatPrompt
  inference::GenerateParams params;                        // should_cancel set by the caller
};

struct GenerateOutcome {
  inference::GenerateResult result;
  uint64_t cycles = 0;  // shim::ComputeCycles(GeneratePriceTerms(...)) on one node
  std::string backend;
};

class InferenceService {
 public:
  // `node` and `backend` (the serving one) must outlive the service.
  InferenceService(NodeService* node, ops::Backend* backend, const Config& config);
  ~InferenceService();

  absl::StatusOr<OpenedSession> CreateSession(const Sha256& model, int64_t context_length);
  absl::Status CloseSession(const std::string& id);
  struct Tokens {
    std::vector<int32_t> ids;
    int32_t max_piece_bytes = 0;  // LoadedModel::max_piece_bytes
  };
  // `chat` wraps the text with ChatPrompt first.
  absl::StatusOr<Tokens> Tokenize(const Sha256& model, const std::string& text, bool add_special,
                                  bool chat);
  // Runs a generation; `on_token(id, piece, control)` is called as each token is sampled
  // (returning false cancels); `control` is Tokenizer::IsControl. A cancelled call closes its
  // session (the caller is gone) and returns CANCELLED.
  absl::StatusOr<GenerateOutcome> Generate(
      GenerateCall call, const std::function<bool(int32_t, const std::string&, bool)>& on_token);

  // The loaded model of `digest` (memory held from the budget, counted in
  // loaded_models() and max_loaded_models), loading it on first use: the same instance
  // for every caller, so verified sessions share it with this service's. Unlike this
  // service's own calls it does not need the model's tokenizer. Errors as the class
  // comment's (NOT_FOUND, UNIMPLEMENTED, RESOURCE_EXHAUSTED).
  absl::StatusOr<std::shared_ptr<LoadedModel>> SharedModel(const Sha256& digest);

  // The context length a new session of `m` gets for a requested context_length >= 0
  // (0 = default_context_length): at most the model's max_context (itself at most
  // max_context_length), INVALID_ARGUMENT above it.
  absl::StatusOr<int64_t> SessionContext(const LoadedModel& m, int64_t context_length) const;

  int open_sessions() const { return sessions_.open_sessions(); }
  int loaded_models() const;
  const Config& config() const { return config_; }

 private:
  struct Open {
    inference::SessionId id = 0;
    std::shared_ptr<LoadedModel> model;
    MemoryBudget::Reservation kv;
  };

  // The cached model, loading it (and evicting idle models beyond max_loaded_models or
  // to make room in the budget) on first use. With `need_tokenizer`, the tokenizer's
  // error for a model without one (before loading it).
  absl::StatusOr<std::shared_ptr<LoadedModel>> Model(const Sha256& digest,
                                                     bool need_tokenizer = true);
  absl::StatusOr<std::shared_ptr<LoadedModel>> Load(const Sha256& digest, bool need_tokenizer);
  // Drops cached models nobody uses (oldest first) until `keep` remain.
  void EvictIdleLocked(size_t keep);

  NodeService* const node_;
  ops::Backend* const backend_;
  const Config config_;
  const int max_running_;  // concurrent Generate calls
  std::atomic<int> running_{0};
  inference::SessionManager sessions_;
  std::mutex load_mu_;  // one model load at a time
  mutable std::mutex mu_;
  std::list<std::shared_ptr<LoadedModel>> models_;  // guarded by mu_; most recent first
  std::map<std::string, Open> open_;                // guarded by mu_
};

}  // namespace datanode::node

#endif  // DATANODE_NODE_DAEMON_INFERENCE_SERVICE_H_
