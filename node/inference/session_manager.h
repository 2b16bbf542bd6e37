// Copyright 2026 The datanode Authors.
//
// The sessions a node serves: creation with a cap on concurrent sessions and a KV-cache
// memory budget, closing, and Generate calls routed to them (alone or batched). This is
// the engine's entry point for the RPC layer: plain C++, a token callback and a
// cancellation check; it knows nothing of gRPC.
//
// Thread safety: all methods are thread-safe. A session runs one call at a time (a
// second concurrent call on it is FAILED_PRECONDITION); different sessions run
// concurrently (the backend's Run is thread-safe).
#ifndef DATANODE_NODE_INFERENCE_SESSION_MANAGER_H_
#define DATANODE_NODE_INFERENCE_SESSION_MANAGER_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "node/inference/model.h"
#include "node/inference/session.h"

namespace datanode::node::inference {

using SessionId = uint64_t;

struct SessionManagerOptions {
  int max_sessions = 16;        // open sessions at once
  int64_t kv_budget_bytes = 0;  // sum of the open sessions' KV caches; 0 = no limit
  // Used for every session: context_length 0 = the model's max_context, the per-call
  // token limit and the prefill chunk.
  SessionOptions session_defaults;
};

struct SessionInfo {
  SessionId id = 0;
  int64_t context_length = 0;
  int64_t position = 0;  // positions in use; -1 while a call runs on the session
  int64_t kv_cache_bytes = 0;
  bool busy = false;
};

class SessionManager {
 public:
  explicit SessionManager(const SessionManagerOptions& options = {}) : options_(options) {}

  // Opens a session of `model` with `context_length` positions (0 = the default).
  // RESOURCE_EXHAUSTED when max_sessions are open or its KV cache would exceed the
  // budget (the message gives the figures); INVALID_ARGUMENT for a bad context length.
  absl::StatusOr<SessionInfo> Create(std::shared_ptr<const Model> model,
                                     int64_t context_length = 0);

  // Closes a session and returns its KV memory to the budget. A call running on it is
  // cancelled (it ends with kCancelled at its next check) and its memory is freed when
  // it returns. NOT_FOUND for an unknown id.
  absl::Status Close(SessionId id);

  // Session::Generate on session `id`. The session's own cancellation (Close) is added
  // to params.should_cancel. A call that ends cancelled closes the session: the caller
  // went away, so its memory comes back now rather than at some timeout.
  // NOT_FOUND for an unknown id, FAILED_PRECONDITION while another call runs on it;
  // otherwise Session::Generate's errors (which leave the session open and unchanged).
  absl::StatusOr<GenerateResult> Generate(SessionId id, std::span<const int32_t> prompt,
                                          const GenerateParams& params,
                                          const TokenCallback& on_token = {});

  // A one-call session: opens a session of `model` with just the context the call can
  // use (prompt.size() + params.max_tokens, capped at the model's max_context), runs
  // Generate and closes it, whatever the outcome. Create's and Generate's errors.
  absl::StatusOr<GenerateResult> GenerateOnce(std::shared_ptr<const Model> model,
                                              std::span<const int32_t> prompt,
                                              const GenerateParams& params,
                                              const TokenCallback& on_token = {});

  // GenerateBatch over sessions `ids` (same model): every decode step runs one forward
  // pass with M = number of sessions still generating; each result equals what
  // Generate gives that session alone. *results has one entry per id (cancelled ones
  // closed, as in Generate). NOT_FOUND / FAILED_PRECONDITION as Generate, for the
  // whole batch, before anything runs.
  absl::Status GenerateBatch(std::span<const SessionId> ids,
                             std::span<const std::span<const int32_t>> prompts,
                             std::span<const GenerateParams> params,
                             std::span<const TokenCallback> on_token,
                             std::vector<absl::StatusOr<GenerateResult>>* results);

  absl::StatusOr<SessionInfo> Info(SessionId id) const;
  int open_sessions() const;
  int64_t kv_bytes_reserved() const;  // KV bytes of the open sessions

 private:
  struct Entry {
    std::shared_ptr<Session> session;
    std::atomic<bool> closed{false};
    bool busy = false;  // guarded by mu_
  };

  SessionInfo InfoLocked(SessionId id, const Entry& e) const;
  // Marks the sessions busy; NOT_FOUND / FAILED_PRECONDITION otherwise (nothing marked).
  absl::Status Acquire(std::span<const SessionId> ids,
                       std::vector<std::shared_ptr<Entry>>* entries);
  void Release(std::span<const SessionId> ids, std::span<const std::shared_ptr<Entry>> entries,
               std::span<const bool> close);

  const SessionManagerOptions options_;
  mutable std::mutex mu_;
  std::map<SessionId, std::shared_ptr<Entry>> sessions_;  // guarded by mu_
  int64_t kv_reserved_ = 0;                               // guarded by mu_
  SessionId next_id_ = 1;                                 // guarded by mu_
};

}  // namespace datanode::node::inference

#endif  // DATANODE_NODE_INFERENCE_SESSION_MANAGER_H_
