// Copyright 2026 The datanode Authors.
#include "node/daemon/inference_service.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "datanode/ops/status_macros.h"
#include "datanode/util/hex.h"
#include "node/import/gguf_metadata.h"
#include "node/import/model_registry.h"
#include "node/inference/model_config.h"
#include "openssl/rand.h"
#include "spdlog/spdlog.h"

namespace datanode::node {
namespace {

inference::SessionManagerOptions ManagerOptions(const Config& c) {
  inference::SessionManagerOptions o;
  o.max_sessions = c.max_sessions;
  o.kv_budget_bytes = 0;                  // the daemon's MemoryBudget holds KV memory instead
  o.session_defaults.context_length = 0;  // set per call from the config and the model
  o.session_defaults.max_tokens_per_call = c.max_tokens_per_call;
  return o;
}

std::string RandomId() {
  uint8_t bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return "";
  return util::HexEncode(bytes);
}

}  // namespace

shim::ModelCost ModelCostOf(const ModelManifest& manifest) {
  std::vector<shim::PricedTensor> tensors;
  for (const TensorInfo& t : manifest.tensors) {
    tensors.push_back({t.name, t.shape, static_cast<uint64_t>(t.size)});
  }
  return shim::ModelCostFromTensors(tensors);
}

std::string ChatPrompt(const std::string& text) {
  return absl::StrCat("<|im_start|>user\n", text, "<|im_end|>\n<|im_start|>assistant\n");
}

InferenceService::InferenceService(NodeService* node, ops::Backend* backend, const Config& config)
    : node_(node),
      backend_(backend),
      config_(config),
      max_running_(std::max(1, config.executor_threads - 1)),
      sessions_(ManagerOptions(config)) {}

InferenceService::~InferenceService() = default;

int InferenceService::loaded_models() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(models_.size());
}

void InferenceService::EvictIdleLocked(size_t keep) {
  // Oldest first; a model in use (a session, a call) is kept.
  for (auto it = models_.end(); models_.size() > keep && it != models_.begin();) {
    --it;
    if (it->use_count() == 1) {
      spdlog::info("unloading model {}", ops::ToHex((*it)->digest));
      it = models_.erase(it);
    }
  }
}

absl::StatusOr<std::shared_ptr<LoadedModel>> InferenceService::SharedModel(const Sha256& digest) {
  return Model(digest, /*need_tokenizer=*/false);
}

absl::StatusOr<std::shared_ptr<LoadedModel>> InferenceService::Model(const Sha256& digest,
                                                                     bool need_tokenizer) {
  auto find = [&]() -> absl::StatusOr<std::shared_ptr<LoadedModel>> {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = models_.begin(); it != models_.end(); ++it) {
      if ((*it)->digest == digest) {
        models_.splice(models_.begin(), models_, it);
        if (need_tokenizer && !models_.front()->tokenizer.ok()) {
          return models_.front()->tokenizer.status();
        }
        return models_.front();
      }
    }
    return nullptr;
  };
  if (auto m = find(); !m.ok() || *m != nullptr) return m;
  std::lock_guard<std::mutex> load_lock(load_mu_);
  // Loaded by the call we waited for?
  if (auto m = find(); !m.ok() || *m != nullptr) return m;
  ASSIGN_OR_RETURN(std::shared_ptr<LoadedModel> m, Load(digest, need_tokenizer));
  std::lock_guard<std::mutex> lock(mu_);
  models_.push_front(m);
  EvictIdleLocked(static_cast<size_t>(config_.max_loaded_models));
  return m;
}

absl::StatusOr<std::shared_ptr<LoadedModel>> InferenceService::Load(const Sha256& digest,
                                                                    bool need_tokenizer) {
  const ModelRegistry& registry = node_->models();
  const WeightStore& store = node_->store();
  ASSIGN_OR_RETURN(ModelManifest manifest, registry.Get(digest));
  if (manifest.format != ModelFormat::kGguf) {
    return absl::UnimplementedError(
        absl::StrCat("model ", ops::ToHex(digest), " is not a GGUF file; inference needs one"));
  }
  ASSIGN_OR_RETURN(ObjectInfo source_info, store.Stat(manifest.source));
  GgufMetadata metadata;
  {
    const StoreSource source(&store, std::move(source_info));
    ASSIGN_OR_RETURN(metadata, ReadGgufMetadata(source));
  }
  ASSIGN_OR_RETURN(inference::ModelConfig model_config, inference::ModelConfigFromGguf(metadata));
  absl::StatusOr<Tokenizer> tokenizer = Tokenizer::FromGguf(metadata);
  if (need_tokenizer && !tokenizer.ok()) return tokenizer.status();

  // While loading, the file's size stands for the model's memory; the measured figure
  // (ModelMemory::total, 2.2x the file for SmolLM2 Q4_1 on cpu) replaces it once loaded,
  // and a model that does not fit then is dropped with RESOURCE_EXHAUSTED. Idle models
  // make room first.
  auto reserve = [&](int64_t bytes) {
    auto r = node_->memory_budget().Reserve(bytes, absl::StrCat("model ", ops::ToHex(digest)));
    if (!r.ok()) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        EvictIdleLocked(0);
      }
      r = node_->memory_budget().Reserve(bytes, absl::StrCat("model ", ops::ToHex(digest)));
    }
    return r;
  };
  ASSIGN_OR_RETURN(MemoryBudget::Reservation loading, reserve(manifest.source_size));
  inference::ModelOptions options;
  options.max_context = std::min<int64_t>(config_.max_context_length, model_config.context_length);
  ASSIGN_OR_RETURN(std::shared_ptr<const inference::Model> model,
                   inference::LoadModel(registry, store, digest, *backend_, options));
  auto loaded = std::make_shared<LoadedModel>(
      LoadedModel{digest, std::move(model), std::move(tokenizer), ModelCostOf(manifest), 0, {}});
  for (int32_t id = 0; loaded->tokenizer.ok() && id < loaded->tokenizer->vocab_size(); ++id) {
    loaded->max_piece_bytes = std::max<int32_t>(
        loaded->max_piece_bytes, static_cast<int32_t>(loaded->tokenizer->TokenToPiece(id).size()));
  }
  loading = {};
  ASSIGN_OR_RETURN(loaded->held, reserve(loaded->model->memory().total()));
  spdlog::info("loaded model {} on {}: {} layers, d={}, vocab {}, {} bytes, max context {}",
               ops::ToHex(digest), backend_->Name(), model_config.n_layers, model_config.d_model,
               model_config.vocab_size, loaded->model->memory().total(),
               loaded->model->max_context());
  return loaded;
}

absl::StatusOr<int64_t> InferenceService::SessionContext(const LoadedModel& m,
                                                         int64_t context_length) const {
  const int64_t max = m.model->max_context();
  const int64_t context =
      context_length == 0 ? std::min(config_.default_context_length, max) : context_length;
  if (context > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("context_length ", context, " is above this node's limit for the model (", max,
                     ": inference.max_context_length and the model's own)"));
  }
  return context;
}

absl::StatusOr<OpenedSession> InferenceService::CreateSession(const Sha256& digest,
                                                              int64_t context_length) {
  if (context_length < 0) {
    return absl::InvalidArgumentError(absl::StrCat("context_length ", context_length, " < 0"));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<LoadedModel> m, Model(digest));
  ASSIGN_OR_RETURN(const int64_t context, SessionContext(*m, context_length));
  Open open;
  open.model = m;
  ASSIGN_OR_RETURN(open.kv, node_->memory_budget().Reserve(context * m->model->KvBytesPerPosition(),
                                                           "a session's KV cache"));
  ASSIGN_OR_RETURN(inference::SessionInfo info, sessions_.Create(m->model, context));
  open.id = info.id;
  OpenedSession out;
  out.context_length = info.context_length;
  out.kv_cache_bytes = info.kv_cache_bytes;
  out.id = RandomId();
  if (out.id.empty()) {
    sessions_.Close(info.id).IgnoreError();
    return absl::InternalError("no random bytes for a session id");
  }
  std::lock_guard<std::mutex> lock(mu_);
  open_[out.id] = std::move(open);
  return out;
}

absl::Status InferenceService::CloseSession(const std::string& id) {
  Open open;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = open_.find(id);
    if (it == open_.end()) return absl::NotFoundError(absl::StrCat("no open session '", id, "'"));
    open = std::move(it->second);
    open_.erase(it);
  }
  // A call running on it stops at its next check; its memory goes when it returns.
  sessions_.Close(open.id).IgnoreError();
  return absl::OkStatus();
}

absl::StatusOr<InferenceService::Tokens> InferenceService::Tokenize(const Sha256& digest,
                                                                    const std::string& text,
                                                                    bool add_special, bool chat) {
  ASSIGN_OR_RETURN(std::shared_ptr<LoadedModel> m, Model(digest));
  return Tokens{m->tokenizer->Encode(chat ? ChatPrompt(text) : text, add_special),
                m->max_piece_bytes};
}

absl::StatusOr<GenerateOutcome> InferenceService::Generate(
    GenerateCall call, const std::function<bool(int32_t, const std::string&, bool)>& on_token) {
  std::shared_ptr<LoadedModel> m;
  inference::SessionId session = 0;
  if (!call.session_id.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = open_.find(call.session_id);
    if (it == open_.end()) {
      return absl::NotFoundError(absl::StrCat("no open session '", call.session_id, "'"));
    }
    m = it->second.model;
    session = it->second.id;
  } else {
    ASSIGN_OR_RETURN(m, Model(call.model));
  }
  const inference::GenerateParams& p = call.params;
  if (p.max_tokens < 1 || p.max_tokens > config_.max_tokens_per_call) {
    return absl::InvalidArgumentError(absl::StrCat("max_tokens ", p.max_tokens, " is outside [1, ",
                                                   config_.max_tokens_per_call,
                                                   "] (inference.max_tokens_per_call)"));
  }
  std::vector<int32_t> prompt;
  if (const std::string* text = std::get_if<std::string>(&call.prompt)) {
    const std::string full = call.chat ? ChatPrompt(*text) : *text;
    // Every byte of the text is covered by some token's piece (special tokens by their
    // own text), so a text longer than max_context pieces of the longest piece cannot
    // fit: refuse it before tokenizing, whose cost grows with the text.
    if (static_cast<int64_t>(full.size()) >
        m->model->max_context() * std::max<int64_t>(m->max_piece_bytes, 1)) {
      return absl::OutOfRangeError(absl::StrCat(
          "the prompt's ", full.size(), " bytes are more than this node's ",
          m->model->max_context(), "-position context can hold (inference.max_context_length)"));
    }
    prompt = m->tokenizer->Encode(full, /*add_special=*/true);
  } else {
    if (call.chat) return absl::InvalidArgumentError("chat applies to a text prompt only");
    prompt = std::get<std::vector<int32_t>>(std::move(call.prompt));
  }
  if (session == 0 && prompt.empty()) return absl::InvalidArgumentError("the prompt is empty");
  if (session == 0 && static_cast<int64_t>(prompt.size()) >= m->model->max_context()) {
    return absl::OutOfRangeError(absl::StrCat(
        "the prompt's ", prompt.size(), " tokens leave no room to generate in this node's ",
        m->model->max_context(), "-position context (inference.max_context_length)"));
  }
  // The slot is taken only once the request has passed every check above, so a
  // malformed request gets its own error (INVALID_ARGUMENT, NOT_FOUND, OUT_OF_RANGE)
  // however busy the node is, never RESOURCE_EXHAUSTED.
  if (running_.fetch_add(1) >= max_running_) {
    running_.fetch_sub(1);
    return absl::ResourceExhaustedError(
        absl::StrCat("all ", max_running_,
                     " generation slots are busy (executor_threads - 1); retry later"));
  }
  struct Slot {
    std::atomic<int>* running;
    ~Slot() { running->fetch_sub(1); }
  } slot{&running_};
  auto callback = [&](int32_t token) {
    return on_token(token, m->tokenizer->TokenToPiece(token), m->tokenizer->IsControl(token));
  };

  absl::StatusOr<inference::GenerateResult> result;
  if (session != 0) {
    result = sessions_.Generate(session, prompt, p, callback);
  } else {
    // The one-call session's KV cache is held from the budget while it runs (the size
    // GenerateOnce gives it).
    const int64_t context = std::clamp<int64_t>(
        static_cast<int64_t>(prompt.size()) + p.max_tokens - 1, 1, m->model->max_context());
    ASSIGN_OR_RETURN(MemoryBudget::Reservation kv,
                     node_->memory_budget().Reserve(context * m->model->KvBytesPerPosition(),
                                                    "the call's KV cache"));
    result = sessions_.GenerateOnce(m->model, prompt, p, callback);
  }
  if (!result.ok()) return result.status();
  if (result->stop_reason == inference::StopReason::kCancelled) {
    if (session != 0) {  // SessionManager closed it: the caller has gone
      std::lock_guard<std::mutex> lock(mu_);
      open_.erase(call.session_id);
    }
    return absl::CancelledError("the call was cancelled; its session is closed");
  }
  GenerateOutcome out;
  ASSIGN_OR_RETURN(
      shim::PriceTerms terms,
      shim::GeneratePriceTerms(1, m->cost, static_cast<uint64_t>(result->prompt_tokens),
                               result->tokens.size(), 0, 0));
  const absl::uint128 cycles = shim::ComputeCycles(terms);
  out.cycles = cycles > absl::uint128(UINT64_MAX) ? UINT64_MAX : static_cast<uint64_t>(cycles);
  out.backend = backend_->Name();
  out.result = *std::move(result);
  return out;
}

}  // namespace datanode::node
