// Copyright 2026 The datanode Authors.
#include "node/inference/session.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/status_macros.h"

namespace datanode::node::inference {
namespace {

namespace llm = ops::llm;

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

ops::Sha256 DigestOfTokens(const std::vector<int32_t>& tokens) {
  std::vector<uint8_t> bytes(tokens.size() * 4);
  for (size_t i = 0; i < tokens.size(); ++i) {
    const uint32_t u = static_cast<uint32_t>(tokens[i]);
    for (int b = 0; b < 4; ++b) bytes[4 * i + b] = static_cast<uint8_t>(u >> (8 * b));
  }
  return ops::Sha256Of({bytes});
}

ops::Sha256 DigestOfLogits(const std::vector<float>& logits) {
  // f32 bytes as stored: this code targets little-endian hosts (as the ops do).
  return ops::Sha256Of(
      {ops::ByteSpan(reinterpret_cast<const uint8_t*>(logits.data()), logits.size() * 4)});
}

absl::Status CheckTokens(std::span<const int32_t> tokens, int64_t vocab, const char* what) {
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= vocab) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, "[", i, "] = ", tokens[i], " is outside the vocabulary [0, ", vocab, ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckSampling(const ops::llm::SamplingParams& sampling,
                           std::span<const uint8_t> seed) {
  if (static_cast<int64_t>(seed.size()) > kMaxSeedBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("seed of ", seed.size(), " bytes exceeds ", kMaxSeedBytes));
  }
  return llm::ValidateSamplingParams(sampling);
}

namespace {

absl::Status CheckParams(const GenerateParams& p, const SessionOptions& options, int64_t vocab) {
  if (p.max_tokens < 1 || p.max_tokens > options.max_tokens_per_call) {
    return absl::InvalidArgumentError(absl::StrCat("max_tokens ", p.max_tokens, " is outside [1, ",
                                                   options.max_tokens_per_call, "]"));
  }
  RETURN_IF_ERROR(CheckSampling(p.sampling, p.seed));
  return CheckTokens(p.stop_tokens, vocab, "stop_tokens");
}

// One session's generation inside GenerateBatch.
struct Job {
  Session* session = nullptr;
  const GenerateParams* params = nullptr;
  const TokenCallback* on_token = nullptr;
  std::vector<int32_t> stops;  // sorted
  std::optional<llm::SpecRng> rng;
  std::vector<float> logits;  // the logits the next token is sampled from
  GenerateResult result;
  absl::Status status;
  bool done = false;
  int64_t start_position = 0;
  size_t start_history = 0;
};

}  // namespace

const char* StopReasonName(StopReason reason) {
  switch (reason) {
    case StopReason::kEndOfGeneration:
      return "end_of_generation";
    case StopReason::kMaxTokens:
      return "max_tokens";
    case StopReason::kContextFull:
      return "context_full";
    case StopReason::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<Session>> Session::Create(std::shared_ptr<const Model> model,
                                                         const SessionOptions& options) {
  if (model == nullptr) return absl::InvalidArgumentError("session without a model");
  SessionOptions o = options;
  if (o.context_length == 0) o.context_length = model->max_context();
  if (o.max_tokens_per_call < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_tokens_per_call ", o.max_tokens_per_call, " must be >= 1"));
  }
  if (o.prefill_chunk < 1 || o.prefill_chunk > 4096) {
    return absl::InvalidArgumentError(
        absl::StrCat("prefill_chunk ", o.prefill_chunk, " is outside [1, 4096]"));
  }
  ASSIGN_OR_RETURN(KvCache cache, KvCache::Create(*model, o.context_length));
  return std::unique_ptr<Session>(new Session(std::move(model), o, std::move(cache)));
}

std::vector<uint8_t> Session::KvBytes(int layer) const {
  const size_t n = static_cast<size_t>(position_ * cache_.row_bytes());
  std::vector<uint8_t> out(cache_.K(layer).begin(), cache_.K(layer).begin() + n);
  out.insert(out.end(), cache_.V(layer).begin(), cache_.V(layer).begin() + n);
  return out;
}

// Appends `tokens` to the history and evaluates every token not yet in the cache, in
// chunks of prefill_chunk rows; *logits gets the logits after the last one. Sets
// *cancelled (and returns OK) if `cancel` fires between chunks. On error the session is
// as it was before the call.
static absl::Status Feed(Session& s, std::vector<int32_t>& history, int64_t& position,
                         KvCache& cache, std::span<const int32_t> tokens,
                         const std::function<bool()>& cancel, std::vector<float>* logits,
                         bool* cancelled) {
  const Model& model = s.model();
  const int64_t vocab = model.config().vocab_size;
  RETURN_IF_ERROR(CheckTokens(tokens, vocab, "prompt"));
  const int64_t pending =
      static_cast<int64_t>(history.size()) - position + static_cast<int64_t>(tokens.size());
  if (pending == 0) {
    return absl::InvalidArgumentError(
        "the prompt is empty and the session has no token to continue from");
  }
  if (position + pending > cache.context()) {
    return absl::OutOfRangeError(absl::StrCat(
        "the prompt needs ", pending, " positions but the session has ", cache.context() - position,
        " left (context length ", cache.context(), ", ", position, " in use)"));
  }
  const size_t start_history = history.size();
  const int64_t start_position = position;
  history.insert(history.end(), tokens.begin(), tokens.end());
  *cancelled = false;
  const int64_t chunk = s.options().prefill_chunk;
  std::vector<ForwardRow> rows;
  while (position < static_cast<int64_t>(history.size())) {
    if (cancel && cancel()) {
      *cancelled = true;
      return absl::OkStatus();
    }
    const int64_t n = std::min<int64_t>(chunk, static_cast<int64_t>(history.size()) - position);
    const bool last = position + n == static_cast<int64_t>(history.size());
    rows.clear();
    for (int64_t i = 0; i < n; ++i) {
      rows.push_back(
          {history[static_cast<size_t>(position + i)], position + i, &cache, last && i == n - 1});
    }
    logits->assign(last ? static_cast<size_t>(vocab) : 0, 0.0f);
    if (absl::Status st = model.Forward(rows, *logits); !st.ok()) {
      history.resize(start_history);
      position = start_position;
      return st;
    }
    position += n;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<float>> Session::Evaluate(std::span<const int32_t> tokens) {
  std::vector<float> logits;
  bool cancelled = false;
  RETURN_IF_ERROR(Feed(*this, history_, position_, cache_, tokens, {}, &logits, &cancelled));
  return logits;
}

absl::StatusOr<GenerateResult> Session::Generate(std::span<const int32_t> prompt,
                                                 const GenerateParams& params,
                                                 const TokenCallback& on_token) {
  Session* self = this;
  const std::span<const int32_t> prompts[] = {prompt};
  std::vector<absl::StatusOr<GenerateResult>> results;
  RETURN_IF_ERROR(GenerateBatch({&self, 1}, prompts, {&params, 1}, {&on_token, 1}, &results));
  return std::move(results[0]);
}

absl::Status GenerateBatch(std::span<Session* const> sessions,
                           std::span<const std::span<const int32_t>> prompts,
                           std::span<const GenerateParams> params,
                           std::span<const TokenCallback> on_token,
                           std::vector<absl::StatusOr<GenerateResult>>* results) {
  const size_t n = sessions.size();
  if (n == 0 || prompts.size() != n || params.size() != n || on_token.size() != n) {
    return absl::InvalidArgumentError(
        "GenerateBatch needs one prompt, one GenerateParams and one callback per session");
  }
  const Model* model = &sessions[0]->model();
  std::set<const Session*> seen;
  for (Session* s : sessions) {
    if (s == nullptr || !seen.insert(s).second) {
      return absl::InvalidArgumentError("GenerateBatch: a session is null or repeated");
    }
    if (&s->model() != model) {
      return absl::InvalidArgumentError("GenerateBatch: sessions of different models");
    }
  }
  const int64_t vocab = model->config().vocab_size;

  std::vector<Job> jobs(n);
  for (size_t i = 0; i < n; ++i) {
    Job& job = jobs[i];
    job.session = sessions[i];
    job.params = &params[i];
    job.on_token = &on_token[i];
    job.start_position = job.session->position_;
    job.start_history = job.session->history_.size();
    job.status = CheckParams(params[i], job.session->options(), vocab);
    if (!job.status.ok()) {
      job.done = true;
      continue;
    }
    job.stops = params[i].stop_tokens;
    if (params[i].stop_at_eog) {
      job.stops.insert(job.stops.end(), model->config().eog_tokens.begin(),
                       model->config().eog_tokens.end());
    }
    std::sort(job.stops.begin(), job.stops.end());
    job.rng.emplace(ops::ByteSpan(params[i].seed));
  }

  // Prefill each session on its own (prompts differ in length; each is chunked the same
  // way it would be alone, though any chunking gives the same bytes).
  for (size_t i = 0; i < n; ++i) {
    Job& job = jobs[i];
    if (job.done) continue;
    Session& s = *job.session;
    const auto start = std::chrono::steady_clock::now();
    job.result.prompt_tokens = static_cast<int64_t>(s.history_.size()) - s.position_ +
                               static_cast<int64_t>(prompts[i].size());
    bool cancelled = false;
    job.status = Feed(s, s.history_, s.position_, s.cache_, prompts[i], job.params->should_cancel,
                      &job.logits, &cancelled);
    job.result.prefill_seconds = SecondsSince(start);
    if (!job.status.ok()) {
      job.done = true;
    } else if (cancelled) {
      job.done = true;
      job.result.stop_reason = StopReason::kCancelled;
    }
  }

  // Decode: sample from each job's logits, then evaluate every unfinished job's new
  // token in one forward pass.
  const auto decode_start = std::chrono::steady_clock::now();
  std::vector<ForwardRow> rows;
  std::vector<Job*> active;
  std::vector<float> batch_logits;
  for (;;) {
    active.clear();
    for (Job& job : jobs) {
      if (job.done) continue;
      Session& s = *job.session;
      absl::StatusOr<int32_t> token = llm::SampleToken(job.logits, job.params->sampling, *job.rng);
      if (!token.ok()) {
        job.status = token.status();
        job.done = true;
        continue;
      }
      job.result.tokens.push_back(*token);
      s.history_.push_back(*token);
      const bool keep_going = !*job.on_token || (*job.on_token)(*token);
      if (std::binary_search(job.stops.begin(), job.stops.end(), *token)) {
        job.result.stop_reason = StopReason::kEndOfGeneration;
      } else if (static_cast<int32_t>(job.result.tokens.size()) >= job.params->max_tokens) {
        job.result.stop_reason = StopReason::kMaxTokens;
      } else if (!keep_going || (job.params->should_cancel && job.params->should_cancel())) {
        job.result.stop_reason = StopReason::kCancelled;
      } else if (s.position_ >= s.cache_.context()) {
        job.result.stop_reason = StopReason::kContextFull;
      } else {
        active.push_back(&job);
        continue;
      }
      // The logits the last token was sampled from (copied once, not per token).
      job.result.final_logits = std::move(job.logits);
      job.done = true;
    }
    if (active.empty()) break;
    rows.clear();
    for (Job* job : active) {
      Session& s = *job->session;
      rows.push_back({s.history_.back(), s.position_, &s.cache_, true});
    }
    // One session (the common case) decodes straight into its logits, no batch copy.
    const bool single = active.size() == 1;
    if (single) {
      active[0]->logits.resize(static_cast<size_t>(vocab));
    } else {
      batch_logits.resize(active.size() * static_cast<size_t>(vocab));
    }
    absl::Status st =
        model->Forward(rows, single ? std::span<float>(active[0]->logits) : batch_logits);
    for (size_t a = 0; a < active.size(); ++a) {
      Job& job = *active[a];
      if (st.ok()) {
        if (!single) {
          job.logits.assign(batch_logits.begin() + static_cast<ptrdiff_t>(a * vocab),
                            batch_logits.begin() + static_cast<ptrdiff_t>((a + 1) * vocab));
        }
      } else {
        // Which row failed is not known: run each alone, so one session's numeric
        // failure ends only that session (alone it gives the same bytes as batched).
        job.logits.assign(static_cast<size_t>(vocab), 0.0f);
        absl::Status alone = model->Forward({&rows[a], 1}, job.logits);
        if (!alone.ok()) {
          job.status = alone;
          job.done = true;
          continue;
        }
      }
      ++job.session->position_;
    }
  }
  const double decode_seconds = SecondsSince(decode_start);

  results->clear();
  for (Job& job : jobs) {
    Session& s = *job.session;
    if (!job.status.ok()) {
      // A failed call leaves the session as it was.
      s.history_.resize(job.start_history);
      s.position_ = job.start_position;
      results->push_back(job.status);
      continue;
    }
    GenerateResult& r = job.result;
    r.tokens_digest = DigestOfTokens(r.tokens);
    r.final_logits_digest = DigestOfLogits(r.final_logits);
    r.position = s.position_;
    r.decode_seconds = decode_seconds;
    results->push_back(std::move(r));
  }
  return absl::OkStatus();
}

}  // namespace datanode::node::inference
