// Copyright 2026 The datanode Authors.
#include "node/daemon/verified_inference.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "datanode/ops/status_macros.h"
#include "datanode/util/hex.h"
#include "node/import/model_registry.h"
#include "openssl/rand.h"
#include "spdlog/spdlog.h"

namespace datanode::node {
namespace {

namespace verify = ops::verify;
using inference::ForwardRow;
using inference::Linear;
using inference::MatMulSite;

uint64_t Saturate(absl::uint128 v) {
  return v > absl::uint128(UINT64_MAX) ? UINT64_MAX : static_cast<uint64_t>(v);
}

// The step's next token (VerifiedStep::sampling).
absl::StatusOr<int32_t> NextToken(const VerifiedStep& step, std::span<const float> logits) {
  ops::llm::SpecRng rng(step.seed);
  rng.Seek(step.draw);
  return ops::llm::SampleToken(logits, step.sampling, rng);
}

void FlipBit(std::vector<uint8_t>& bytes, uint64_t which) {
  const uint64_t bit = (which * 0x9E3779B97F4A7C15ull >> 17) % (bytes.size() * 8);
  bytes[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
}

bool SameOutputs(const verify::PassAnswer& a, const verify::PassAnswer& b) {
  if (a.matmuls.size() != b.matmuls.size()) return false;
  for (size_t i = 0; i < a.matmuls.size(); ++i) {
    if (a.matmuls[i].out != b.matmuls[i].out || a.matmuls[i].exact != b.matmuls[i].exact) {
      return false;
    }
  }
  return true;
}

}  // namespace

struct VerifiedInference::Loaded {
  ops::Sha256 digest{};
  std::string id;  // hex digest: the verifier state's key
  // The Inference service's loaded model (its Model, price terms and memory), shared
  // read-only with that service's sessions.
  std::shared_ptr<LoadedModel> shared;
  std::mutex weights_mu;
  std::shared_ptr<const inference::LinearWeights> weights;  // guarded; computing side only
  MemoryBudget::Reservation weights_held;                   // guarded by weights_mu
};

struct VerifiedInference::Session {
  std::shared_ptr<Loaded> loaded;
  inference::KvCache cache;
  MemoryBudget::Reservation kv;
  int64_t filled = 0;  // positions holding the spec's rows; guarded by busy
  bool busy = false;   // guarded by VerifiedInference::mu_
};

// A session marked busy for one call; unmarks it when destroyed.
class VerifiedInference::Use {
 public:
  Use(VerifiedInference* owner, std::shared_ptr<Session> s) : owner_(owner), s_(std::move(s)) {}
  Use(Use&& o) noexcept : owner_(o.owner_), s_(std::move(o.s_)) {}
  ~Use() {
    if (s_ == nullptr) return;
    std::lock_guard<std::mutex> lock(owner_->mu_);
    s_->busy = false;
  }
  Session& operator*() const { return *s_; }

 private:
  VerifiedInference* owner_;
  std::shared_ptr<Session> s_;
};

VerifiedInference::VerifiedInference(NodeService* node, InferenceService* inference,
                                     const Config& config)
    : node_(node), inference_(inference), config_(config), fault_(node->test_fault()) {}

VerifiedInference::~VerifiedInference() = default;

int VerifiedInference::open_sessions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(open_.size());
}

absl::StatusOr<std::shared_ptr<VerifiedInference::Loaded>> VerifiedInference::Load(
    const ops::Sha256& digest) {
  std::lock_guard<std::mutex> load_lock(load_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = models_.find(digest); it != models_.end()) {
      if (std::shared_ptr<Loaded> m = it->second.lock()) return m;
    }
  }
  auto loaded = std::make_shared<Loaded>();
  loaded->digest = digest;
  loaded->id = ops::ToHex(digest);
  ASSIGN_OR_RETURN(loaded->shared, inference_->SharedModel(digest));
  std::lock_guard<std::mutex> lock(mu_);
  std::erase_if(models_, [](const auto& entry) { return entry.second.expired(); });
  models_[digest] = loaded;
  return loaded;
}

absl::StatusOr<OpenedSession> VerifiedInference::OpenSession(const ops::Sha256& digest,
                                                             int64_t context_length) {
  if (context_length < 0) {
    return absl::InvalidArgumentError(absl::StrCat("context_length ", context_length, " < 0"));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (static_cast<int>(open_.size()) >= config_.max_sessions) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "all ", config_.max_sessions, " verified sessions are open (inference.max_sessions)"));
    }
  }
  ASSIGN_OR_RETURN(std::shared_ptr<Loaded> loaded, Load(digest));
  ASSIGN_OR_RETURN(const int64_t context,
                   inference_->SessionContext(*loaded->shared, context_length));
  ASSIGN_OR_RETURN(
      MemoryBudget::Reservation kv,
      node_->memory_budget().Reserve(context * loaded->shared->model->KvBytesPerPosition(),
                                     "a verified session's KV cache"));
  ASSIGN_OR_RETURN(inference::KvCache cache,
                   inference::KvCache::Create(*loaded->shared->model, context));
  auto session =
      std::make_shared<Session>(Session{loaded, std::move(cache), std::move(kv), 0, false});
  uint8_t bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return absl::InternalError("no random bytes for a session id");
  }
  OpenedSession out{util::HexEncode(bytes), context, session->cache.SizeBytes()};
  std::lock_guard<std::mutex> lock(mu_);
  if (static_cast<int>(open_.size()) >= config_.max_sessions) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "all ", config_.max_sessions, " verified sessions are open (inference.max_sessions)"));
  }
  open_[out.id] = std::move(session);
  return out;
}

absl::Status VerifiedInference::CloseSession(const std::string& id) {
  std::shared_ptr<Session> closed;  // freed outside the lock (a running call keeps it)
  std::lock_guard<std::mutex> lock(mu_);
  auto it = open_.find(id);
  if (it == open_.end()) {
    return absl::NotFoundError(absl::StrCat("no open verified session '", id, "'"));
  }
  closed = std::move(it->second);
  open_.erase(it);
  return absl::OkStatus();
}

absl::StatusOr<VerifiedInference::Use> VerifiedInference::Acquire(const VerifiedStep& step) {
  std::shared_ptr<Session> s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = open_.find(step.session_id);
    if (it == open_.end()) {
      return absl::NotFoundError(absl::StrCat("no open verified session '", step.session_id, "'"));
    }
    if (it->second->busy) {
      return absl::FailedPreconditionError("another call is running on this verified session");
    }
    s = it->second;
    s->busy = true;
  }
  Use use(this, s);
  const inference::Model& model = *s->loaded->shared->model;
  const int64_t n = static_cast<int64_t>(step.tokens.size());
  if (n == 0) return absl::InvalidArgumentError("a step needs at least one token");
  RETURN_IF_ERROR(inference::CheckSampling(step.sampling, step.seed));
  if (step.position < 0 || step.position > s->filled) {
    return absl::InvalidArgumentError(absl::StrCat("position ", step.position, " is outside [0, ",
                                                   s->filled,
                                                   "], the positions this session holds"));
  }
  if (step.position + n > s->cache.context()) {
    return absl::OutOfRangeError(absl::StrCat("positions ", step.position, "..",
                                              step.position + n - 1, " do not fit the session's ",
                                              s->cache.context(), "-position context"));
  }
  for (int32_t t : step.tokens) {
    if (t < 0 || t >= model.config().vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "token id ", t, " is outside the vocabulary [0, ", model.config().vocab_size, ")"));
    }
  }
  return use;
}

namespace {

std::vector<ForwardRow> StepRows(const VerifiedStep& step, inference::KvCache* cache) {
  std::vector<ForwardRow> rows;
  for (size_t i = 0; i < step.tokens.size(); ++i) {
    rows.push_back({step.tokens[i], step.position + static_cast<int64_t>(i), cache,
                    i + 1 == step.tokens.size()});
  }
  return rows;
}

// An upper bound of a step's encoded answer: C (f32) and uncompacted exact sums of every
// matmul (rows for the layers, one for the output head), plus the residual digests.
int64_t AnswerBound(const inference::Model& model, int64_t rows) {
  const std::vector<const Linear*> linears = model.linears();
  int64_t bytes = 64 + 32 * (model.config().n_layers + 1);
  for (size_t i = 0; i < linears.size(); ++i) {
    const int64_t m = i + 1 == linears.size() ? 1 : rows;
    bytes +=
        32 + m * linears[i]->n * 4 + verify::ExactSumsBytes(linears[i]->kind, m, linears[i]->n);
  }
  return bytes;
}

// The site of the i-th matmul of a pass (model.linears() order).
void SiteOf(const inference::Model& model, size_t i, int* layer, MatMulSite* site) {
  if (static_cast<int>(i) >= 7 * model.config().n_layers) {
    *layer = -1;
    *site = MatMulSite::kOutput;
  } else {
    *layer = static_cast<int>(i / 7);
    *site = static_cast<MatMulSite>(i % 7);
  }
}

}  // namespace

absl::StatusOr<std::shared_ptr<const inference::LinearWeights>> VerifiedInference::ComputeWeights(
    Loaded& loaded) {
  std::lock_guard<std::mutex> lock(loaded.weights_mu);
  if (loaded.weights != nullptr) return loaded.weights;
  ASSIGN_OR_RETURN(
      inference::LinearWeights w,
      inference::LinearWeights::FromStore(*loaded.shared->model, node_->models(), loaded.digest));
  ASSIGN_OR_RETURN(loaded.weights_held,
                   node_->memory_budget().Reserve(w.SizeBytes(), "stored weights for exact sums"));
  loaded.weights = std::make_shared<const inference::LinearWeights>(std::move(w));
  return loaded.weights;
}

absl::StatusOr<ComputedStep> VerifiedInference::Compute(const VerifiedStep& step) {
  ASSIGN_OR_RETURN(Use use, Acquire(step));
  Session& s = *use;
  Loaded& loaded = *s.loaded;
  const inference::Model& model = *loaded.shared->model;
  const int64_t n = static_cast<int64_t>(step.tokens.size());
  if (const int64_t bound = AnswerBound(model, n); bound > config_.max_reply_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "a ", n, "-token step's answer may take ", bound, " bytes, over max_reply_bytes ",
        config_.max_reply_bytes, "; split the prompt into shorter steps"));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const inference::LinearWeights> weights, ComputeWeights(loaded));
  std::vector<float> logits(static_cast<size_t>(model.config().vocab_size));
  s.filled = std::min(s.filled, step.position);  // rows from position on are rewritten
  ASSIGN_OR_RETURN(
      verify::PassAnswer answer,
      inference::ComputeVerifiedPass(model, *weights, StepRows(step, &s.cache), logits));
  if (fault_ != TestFault::kNone) {
    RETURN_IF_ERROR(ApplyFault(loaded, *weights, step, s, logits, answer));
  }
  s.filled = step.position + n;
  ComputedStep out;
  out.output_digest = PassOutputDigest(answer);
  ASSIGN_OR_RETURN(out.next_token, NextToken(step, logits));
  out.answer = verify::EncodePassAnswer(answer);
  out.answer_bytes = static_cast<int64_t>(out.answer.size());
  ASSIGN_OR_RETURN(
      const shim::PriceTerms terms,
      shim::GeneratePriceTerms(1, loaded.shared->cost, static_cast<uint64_t>(n - 1), 1, 0, 0));
  out.cycles = Saturate(shim::ComputeCycles(terms));
  out.backend = node_->serving_backend().Name();
  return out;
}

absl::Status VerifiedInference::ApplyFault(Loaded& loaded, const inference::LinearWeights& weights,
                                           const VerifiedStep& step, Session& s,
                                           std::span<float> logits, verify::PassAnswer& answer) {
  const inference::Model& model = *loaded.shared->model;
  const uint64_t which = ++faults_;
  auto recompute = [&](const VerifiedStep& st, const inference::ComputeFault& f) {
    return inference::ComputeVerifiedPass(model, weights, StepRows(st, &s.cache), logits, f);
  };
  switch (fault_) {
    case TestFault::kFlipOutputBit:
      FlipBit(answer.matmuls[which % answer.matmuls.size()].out, which);
      return absl::OkStatus();
    case TestFault::kFlipExactBit: {
      std::vector<verify::MatMulAnswer*> with_sums;
      for (verify::MatMulAnswer& a : answer.matmuls) {
        if (!a.exact.empty()) with_sums.push_back(&a);
      }
      if (with_sums.empty()) return absl::OkStatus();
      FlipBit(with_sums[which % with_sums.size()]->exact, which);
      return absl::OkStatus();
    }
    case TestFault::kWrongWeights: {
      // One stored quant or nibble byte of one matmul's weight changed; tried again
      // elsewhere when the change met only zero activations (the answer then is right).
      const std::vector<const Linear*> linears = model.linears();
      for (uint64_t attempt = 0; attempt < 16; ++attempt) {
        const size_t i = (which + attempt) % linears.size();
        inference::ComputeFault f;
        SiteOf(model, i, &f.wrong_weights_layer, &f.wrong_weights_site);
        ASSIGN_OR_RETURN(
            const ops::OperandSizes sizes,
            ops::ComputeOperandSizes(linears[i]->kind, 1, linears[i]->n, linears[i]->k));
        const int64_t blocks = linears[i]->n * (linears[i]->k / 32);
        const int64_t block_bytes = sizes.w / blocks;
        // Byte 4 of a block is a quant (Q8_0) or a nibble pair (Q4_0, Q4_1).
        f.wrong_weights_byte =
            static_cast<int64_t>((which * 7919 + attempt) % static_cast<uint64_t>(blocks)) *
                block_bytes +
            4;
        ASSIGN_OR_RETURN(verify::PassAnswer wrong, recompute(step, f));
        if (!SameOutputs(wrong, answer)) {
          answer = std::move(wrong);
          return absl::OkStatus();
        }
      }
      return absl::OkStatus();
    }
    case TestFault::kSkipLayer: {
      inference::ComputeFault f;
      f.skip_layer = static_cast<int>(which % static_cast<uint64_t>(model.config().n_layers));
      f.skip_as_zeros = which % 2 == 1;
      ASSIGN_OR_RETURN(answer, recompute(step, f));
      return absl::OkStatus();
    }
    case TestFault::kReplay: {
      // The answer to this node's previous step of as many tokens (another input), or to
      // these positions with the first token changed.
      const std::string key = absl::StrCat(loaded.id, "/", step.tokens.size());
      std::optional<verify::PassAnswer> replayed;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = previous_.find(key);
        if (it != previous_.end() &&
            (it->second.tokens != step.tokens || it->second.position != step.position)) {
          replayed = std::move(it->second.answer);
        }
        previous_[key] = Previous{step.tokens, step.position, answer};
      }
      if (replayed) {
        answer = *std::move(replayed);
        return absl::OkStatus();
      }
      VerifiedStep other = step;
      other.tokens[0] = (other.tokens[0] + 1) % model.config().vocab_size;
      ASSIGN_OR_RETURN(answer, recompute(other, {}));
      return absl::OkStatus();
    }
    default:
      return absl::OkStatus();
  }
}

absl::StatusOr<VerifiedStepResult> VerifiedInference::Verify(const VerifiedStep& step,
                                                             const StepAnswer& in) {
  VerifyingNode* verifying = node_->verifying_node();
  if (verifying == nullptr) {
    return absl::FailedPreconditionError("verified mode is not enabled on this node (no node key)");
  }
  ASSIGN_OR_RETURN(Use use, Acquire(step));
  Session& s = *use;
  const Loaded& loaded = *s.loaded;
  const inference::Model& model = *loaded.shared->model;
  // A malformed answer is the computing node's fault: an empty answer fails the
  // structure check, and the rejection is signed like any other.
  absl::StatusOr<verify::PassAnswer> decoded = verify::DecodePassAnswer(in.answer);
  const verify::PassAnswer answer = decoded.ok() ? *std::move(decoded) : verify::PassAnswer{};
  std::vector<float> logits(static_cast<size_t>(model.config().vocab_size));
  s.filled = std::min(s.filled, step.position);
  VerifiedStepResult out;
  const ops::Sha256 digest = loaded.digest;
  NodeService* node = node_;
  ASSIGN_OR_RETURN(
      out.verification,
      verifying->VerifyPass(
          model, loaded.id,
          [&]() { return inference::LinearWeights::FromStore(model, node->models(), digest); },
          StepRows(step, &s.cache), answer, logits, in.epoch, in.request_digest,
          in.computing_node));
  if (!decoded.ok()) {
    absl::StrAppend(&out.verification.reason, " (undecodable answer: ", decoded.status().message(),
                    ")");
  }
  if (out.verification.accepted) {
    s.filled = step.position + static_cast<int64_t>(step.tokens.size());
    ASSIGN_OR_RETURN(out.next_token, NextToken(step, logits));
  }
  absl::uint128 cycles = 0;
  const std::vector<const Linear*> linears = model.linears();
  for (size_t i = 0; i < linears.size(); ++i) {
    const uint32_t m = i + 1 == linears.size() ? 1 : static_cast<uint32_t>(step.tokens.size());
    cycles += shim::CheckCycles(m, static_cast<uint32_t>(linears[i]->n),
                                static_cast<uint32_t>(linears[i]->k));
  }
  out.cycles = Saturate(cycles);
  return out;
}

}  // namespace datanode::node
