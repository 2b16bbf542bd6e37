// Copyright 2026 The datanode Authors.
//
// A generation session: one sequence's KV cache, its position and token history, and
// Generate (prefill the prompt, then sample token after token) over a shared Model.
//
// Determinism: for the same model file, prompt, GenerateParams (sampling, seed, limits)
// and session history, every backend, thread count and batch composition produces the
// same token ids and the same final logits bytes (docs/inference.md). Wall-clock
// figures in the result are informational only.
//
// Threads: a Session is used by one thread at a time (SessionManager enforces it);
// different sessions of one Model may run concurrently.
#ifndef DATANODE_NODE_INFERENCE_SESSION_H_
#define DATANODE_NODE_INFERENCE_SESSION_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "datanode/ops/digest.h"
#include "datanode/ops/llm.h"
#include "node/inference/model.h"

namespace datanode::node::inference {

inline constexpr int64_t kMaxSeedBytes = 64;

// The checks every caller of the sampler makes (Generate, a verified generation step):
// ValidateSamplingParams and a seed of at most kMaxSeedBytes. INVALID_ARGUMENT otherwise.
absl::Status CheckSampling(const ops::llm::SamplingParams& sampling, std::span<const uint8_t> seed);

struct SessionOptions {
  // Positions of the KV cache (prompt + generated tokens over the session's life);
  // 0 = the model's max_context. At most the model's max_context.
  int64_t context_length = 0;
  // Most tokens one Generate call may produce; params.max_tokens above it is
  // INVALID_ARGUMENT.
  int32_t max_tokens_per_call = 4096;
  // Prompt tokens per forward pass while prefilling (M of its matmuls). Any value gives
  // the same bytes; it bounds scratch memory (about 32 KiB per row for SmolLM2).
  int32_t prefill_chunk = 64;
};

enum class StopReason : uint8_t {
  kEndOfGeneration = 1,  // an end-of-generation token or a stop token was generated
  kMaxTokens = 2,        // params.max_tokens tokens were generated
  kContextFull = 3,      // the KV cache has no position left for the next token
  kCancelled = 4,        // should_cancel() or the token callback asked to stop
};
const char* StopReasonName(StopReason reason);  // "end_of_generation", ...

struct GenerateParams {
  int32_t max_tokens = 32;            // in [1, SessionOptions::max_tokens_per_call]
  ops::llm::SamplingParams sampling;  // temperature 0 = greedy
  std::vector<uint8_t> seed;          // the SpecRng seed (at most kMaxSeedBytes)
  // Generation stops after producing one of these (the stop token is included in the
  // result), besides the model's end-of-generation tokens when stop_at_eog is set.
  std::vector<int32_t> stop_tokens;
  bool stop_at_eog = true;
  // Polled before every forward pass (between prompt chunks and between tokens);
  // returning true ends the call with kCancelled. May be empty.
  std::function<bool()> should_cancel;
};

// Called with each generated token as soon as it is sampled; returning false cancels
// (the call ends with kCancelled after that token). May be empty.
using TokenCallback = std::function<bool(int32_t token)>;

struct GenerateResult {
  std::vector<int32_t> tokens;  // generated ids, in order (a final stop token included)
  StopReason stop_reason = StopReason::kMaxTokens;
  int64_t prompt_tokens = 0;  // tokens evaluated by this call before the first sample
  // SHA-256 of `tokens` as little-endian int32s.
  ops::Sha256 tokens_digest{};
  // SHA-256 of the logits (vocab f32, little-endian) the last token was sampled from;
  // of no bytes when no token was generated.
  ops::Sha256 final_logits_digest{};
  std::vector<float> final_logits;  // those logits (empty when no token was generated)
  int64_t position = 0;             // positions of the KV cache in use after the call
  double prefill_seconds = 0;       // wall clock, informational
  double decode_seconds = 0;
};

class Session {
 public:
  // Allocates the KV cache (reserved, touched as used). INVALID_ARGUMENT for options
  // out of range.
  static absl::StatusOr<std::unique_ptr<Session>> Create(std::shared_ptr<const Model> model,
                                                         const SessionOptions& options = {});

  // Appends `prompt` to the session's history and generates up to params.max_tokens
  // tokens after it. On a fresh session the prompt must not be empty. The history
  // persists across calls (a later call continues the conversation); the last generated
  // token is evaluated by the next call.
  // Errors (the session is unchanged by a failed call; a cancelled call is not an
  // error): INVALID_ARGUMENT for bad params, an empty first prompt or token ids outside
  // the vocabulary; OUT_OF_RANGE when the prompt does not fit in the context left, or
  // when the model's activations leave the spec's range; backend errors pass through.
  absl::StatusOr<GenerateResult> Generate(std::span<const int32_t> prompt,
                                          const GenerateParams& params,
                                          const TokenCallback& on_token = {});

  // Evaluates `tokens` at the next positions (prefill when several, decode when one)
  // and returns the logits after the last of them. Generate is built on it; tests use
  // it to compare chunkings. Same errors as Generate.
  absl::StatusOr<std::vector<float>> Evaluate(std::span<const int32_t> tokens);

  const Model& model() const { return *model_; }
  const SessionOptions& options() const { return options_; }
  int64_t context_length() const { return cache_.context(); }
  int64_t kv_cache_bytes() const { return cache_.SizeBytes(); }
  // Positions whose K/V rows are in the cache.
  int64_t position() const { return position_; }
  // Every token of the session: prompts and generated tokens, in order.
  const std::vector<int32_t>& history() const { return history_; }
  // The cache bytes of positions [0, position()) of `layer` (K then V), for tests.
  std::vector<uint8_t> KvBytes(int layer) const;

 private:
  friend absl::Status GenerateBatch(std::span<Session* const> sessions,
                                    std::span<const std::span<const int32_t>> prompts,
                                    std::span<const GenerateParams> params,
                                    std::span<const TokenCallback> on_token,
                                    std::vector<absl::StatusOr<GenerateResult>>* results);
  Session(std::shared_ptr<const Model> model, const SessionOptions& options, KvCache cache)
      : model_(std::move(model)), options_(options), cache_(std::move(cache)) {}

  std::shared_ptr<const Model> model_;
  SessionOptions options_;
  KvCache cache_;
  int64_t position_ = 0;
  std::vector<int32_t> history_;
};

// Runs several sessions' generations together: each session's prompt is prefilled on
// its own, then every decode step runs the next token of all sessions still generating
// in one forward pass (M = number of such sessions). Each session's result is exactly
// what Generate would give it alone. The spans have one entry per session (on_token may
// hold empty callbacks); sessions must be distinct and of the same Model.
// *results gets one entry per session: a session's error ends only that session.
// INVALID_ARGUMENT (and no result) for mismatched spans, repeated sessions or mixed
// models.
absl::Status GenerateBatch(std::span<Session* const> sessions,
                           std::span<const std::span<const int32_t>> prompts,
                           std::span<const GenerateParams> params,
                           std::span<const TokenCallback> on_token,
                           std::vector<absl::StatusOr<GenerateResult>>* results);

}  // namespace datanode::node::inference

#endif  // DATANODE_NODE_INFERENCE_SESSION_H_
