// Copyright 2026 The datanode Authors.
#include "node/inference/session_manager.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "datanode/ops/status_macros.h"

namespace datanode::node::inference {

SessionInfo SessionManager::InfoLocked(SessionId id, const Entry& e) const {
  SessionInfo info;
  info.id = id;
  info.context_length = e.session->context_length();
  info.kv_cache_bytes = e.session->kv_cache_bytes();
  info.busy = e.busy;
  // position() changes only while busy; report it when idle.
  info.position = e.busy ? -1 : e.session->position();
  return info;
}

absl::StatusOr<SessionInfo> SessionManager::Create(std::shared_ptr<const Model> model,
                                                   int64_t context_length) {
  if (model == nullptr) return absl::InvalidArgumentError("no model");
  SessionOptions o = options_.session_defaults;
  if (context_length != 0) o.context_length = context_length;
  if (o.context_length == 0) o.context_length = model->max_context();
  if (o.context_length < 1 || o.context_length > model->max_context()) {
    return absl::InvalidArgumentError(absl::StrCat("context length ", o.context_length,
                                                   " is outside [1, ", model->max_context(),
                                                   "] for this model"));
  }
  const int64_t kv_bytes = o.context_length * model->KvBytesPerPosition();
  SessionId id;
  {
    // Reserve first, allocate outside the lock.
    std::lock_guard<std::mutex> lock(mu_);
    if (static_cast<int>(sessions_.size()) >= options_.max_sessions) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "all ", options_.max_sessions, " sessions are open; close one or retry later"));
    }
    if (options_.kv_budget_bytes > 0 && kv_reserved_ + kv_bytes > options_.kv_budget_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "a KV cache of ", kv_bytes, " bytes (", o.context_length, " positions) does not fit: ",
          kv_reserved_, " of ", options_.kv_budget_bytes, " bytes are in use"));
    }
    id = next_id_++;
    auto entry = std::make_shared<Entry>();
    entry->busy = true;  // not usable until the session exists
    sessions_[id] = entry;
    kv_reserved_ += kv_bytes;
  }
  absl::StatusOr<std::unique_ptr<Session>> session = Session::Create(std::move(model), o);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(id);
  if (!session.ok()) {
    sessions_.erase(it);
    kv_reserved_ -= kv_bytes;
    return session.status();
  }
  it->second->session = std::move(*session);
  it->second->busy = false;
  return InfoLocked(id, *it->second);
}

absl::Status SessionManager::Close(SessionId id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end() || it->second->session == nullptr) {
    return absl::NotFoundError(absl::StrCat("no open session ", id));
  }
  it->second->closed = true;  // a running call sees it at its next check
  kv_reserved_ -= it->second->session->kv_cache_bytes();
  sessions_.erase(it);
  return absl::OkStatus();
}

absl::Status SessionManager::Acquire(std::span<const SessionId> ids,
                                     std::vector<std::shared_ptr<Entry>>* entries) {
  std::lock_guard<std::mutex> lock(mu_);
  std::set<SessionId> seen;
  for (SessionId id : ids) {
    auto it = sessions_.find(id);
    if (it == sessions_.end() || it->second->session == nullptr) {
      return absl::NotFoundError(absl::StrCat("no open session ", id));
    }
    if (it->second->busy || !seen.insert(id).second) {
      return absl::FailedPreconditionError(
          absl::StrCat("session ", id, " is already running a call"));
    }
  }
  entries->clear();
  for (SessionId id : ids) {
    auto& e = sessions_[id];
    e->busy = true;
    entries->push_back(e);
  }
  return absl::OkStatus();
}

void SessionManager::Release(std::span<const SessionId> ids,
                             std::span<const std::shared_ptr<Entry>> entries,
                             std::span<const bool> close) {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < ids.size(); ++i) {
    entries[i]->busy = false;
    auto it = sessions_.find(ids[i]);
    // Closed meanwhile (Close already released its budget), or to be closed now.
    if (it == sessions_.end() || it->second != entries[i]) continue;
    if (close[i]) {
      kv_reserved_ -= entries[i]->session->kv_cache_bytes();
      sessions_.erase(it);
    }
  }
}

absl::StatusOr<GenerateResult> SessionManager::Generate(SessionId id,
                                                        std::span<const int32_t> prompt,
                                                        const GenerateParams& params,
                                                        const TokenCallback& on_token) {
  const SessionId ids[] = {id};
  const std::span<const int32_t> prompts[] = {prompt};
  std::vector<absl::StatusOr<GenerateResult>> results;
  RETURN_IF_ERROR(GenerateBatch(ids, prompts, {&params, 1}, {&on_token, 1}, &results));
  return std::move(results[0]);
}

absl::StatusOr<GenerateResult> SessionManager::GenerateOnce(std::shared_ptr<const Model> model,
                                                            std::span<const int32_t> prompt,
                                                            const GenerateParams& params,
                                                            const TokenCallback& on_token) {
  if (model == nullptr) return absl::InvalidArgumentError("no model");
  // Prompt positions plus max_tokens - 1 generated tokens fed back (the last sampled
  // token is never evaluated), at least 1.
  const int64_t need =
      static_cast<int64_t>(prompt.size()) + std::max<int64_t>(params.max_tokens, 1) - 1;
  const int64_t context = std::clamp<int64_t>(need, 1, model->max_context());
  ASSIGN_OR_RETURN(SessionInfo info, Create(std::move(model), context));
  absl::StatusOr<GenerateResult> result = Generate(info.id, prompt, params, on_token);
  Close(info.id).IgnoreError();  // NOT_FOUND when a cancelled call closed it already
  return result;
}

absl::Status SessionManager::GenerateBatch(std::span<const SessionId> ids,
                                           std::span<const std::span<const int32_t>> prompts,
                                           std::span<const GenerateParams> params,
                                           std::span<const TokenCallback> on_token,
                                           std::vector<absl::StatusOr<GenerateResult>>* results) {
  if (prompts.size() != ids.size() || params.size() != ids.size() ||
      on_token.size() != ids.size()) {
    return absl::InvalidArgumentError(
        "GenerateBatch needs one prompt, one GenerateParams and one callback per session");
  }
  std::vector<std::shared_ptr<Entry>> entries;
  RETURN_IF_ERROR(Acquire(ids, &entries));
  std::vector<Session*> sessions;
  std::vector<GenerateParams> wrapped(params.begin(), params.end());
  for (size_t i = 0; i < ids.size(); ++i) {
    sessions.push_back(entries[i]->session.get());
    // Closing the session cancels its call.
    Entry* e = entries[i].get();
    wrapped[i].should_cancel = [e, user = params[i].should_cancel] {
      return e->closed.load() || (user && user());
    };
  }
  absl::Status status = inference::GenerateBatch(sessions, prompts, wrapped, on_token, results);
  // A cancelled call closes its session (the caller has gone).
  std::unique_ptr<bool[]> close(new bool[ids.size()]());
  for (size_t i = 0; status.ok() && i < ids.size(); ++i) {
    const auto& r = (*results)[i];
    close[i] = r.ok() && r->stop_reason == StopReason::kCancelled;
  }
  Release(ids, entries, {close.get(), ids.size()});
  return status;
}

absl::StatusOr<SessionInfo> SessionManager::Info(SessionId id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end() || it->second->session == nullptr) {
    return absl::NotFoundError(absl::StrCat("no open session ", id));
  }
  return InfoLocked(id, *it->second);
}

int SessionManager::open_sessions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(sessions_.size());
}

int64_t SessionManager::kv_bytes_reserved() const {
  std::lock_guard<std::mutex> lock(mu_);
  return kv_reserved_;
}

}  // namespace datanode::node::inference
