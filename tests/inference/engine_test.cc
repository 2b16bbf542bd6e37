// Copyright 2026 The datanode Authors.
//
// The inference engine on tiny synthetic llama models (GGUFs written by
// engine_test_util.h, imported into a temp store): loading and its errors, prefill ==
// token-by-token, a batch of sessions == each alone, seeded sampling, the session
// limits, the session manager's caps and cancellation, and every backend giving the
// same bytes. The real model (SmolLM2) is exercised by smollm2_test.cc.
#include <atomic>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/backend.h"
#include "gtest/gtest.h"
#include "node/inference/model.h"
#include "node/inference/session.h"
#include "node/inference/session_manager.h"
#include "tests/inference/engine_test_util.h"
#include "tests/inference/prefill_check.h"
#include "tests/ops/test_util.h"

namespace datanode::node::inference {
namespace {

using testing::TempStore;
using testing::TinyLlama;
using testing::TinyLlamaGguf;

class TinyModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto backend = ops::CreateBackend("reference");
    ASSERT_TRUE(backend.ok()) << backend.status();
    backend_ = std::move(*backend);
  }

  absl::StatusOr<std::shared_ptr<const Model>> Load(const TinyLlama& spec,
                                                    ops::Backend* backend = nullptr,
                                                    const ModelOptions& options = {}) {
    absl::StatusOr<ops::Sha256> digest =
        store_.ImportBytes(absl::StrCat("tiny", ++files_, ".gguf"), TinyLlamaGguf(spec));
    if (!digest.ok()) return digest.status();
    return LoadModel(store_.registry(), store_.store(), *digest,
                     backend != nullptr ? *backend : *backend_, options);
  }

  std::shared_ptr<const Model> LoadOk(const TinyLlama& spec = {}, ops::Backend* backend = nullptr) {
    absl::StatusOr<std::shared_ptr<const Model>> model = Load(spec, backend);
    EXPECT_TRUE(model.ok()) << model.status();
    return model.ok() ? *model : nullptr;
  }

  TempStore store_;
  std::unique_ptr<ops::Backend> backend_;
  int files_ = 0;
};

GenerateParams Greedy(int max_tokens) {
  GenerateParams p;
  p.max_tokens = max_tokens;
  p.stop_at_eog = false;
  return p;
}

const std::vector<int32_t> kPrompt = {5, 17, 42, 3, 77, 8, 60, 11, 90};

TEST_F(TinyModelTest, LoadsAndReportsMemory) {
  std::shared_ptr<const Model> model = LoadOk();
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->config().n_layers, 2);
  EXPECT_EQ(model->config().head_dim, 32);
  EXPECT_EQ(model->config().eog_tokens, std::vector<int32_t>{2});
  EXPECT_TRUE(model->tied_embeddings());
  EXPECT_GT(model->memory().prepared_weights, 0);
  // Tied: the lookup reads rows from the prepared output weights, no host copy.
  EXPECT_EQ(model->memory().embedding_rows, 0);
  EXPECT_EQ(model->memory().norms, (2 * 2 + 1) * 64 * 4);
  EXPECT_GT(model->memory().rope_table, 0);
  EXPECT_EQ(model->max_context(), 64);
}

TEST_F(TinyModelTest, UnknownArchitectureIsUnimplemented) {
  TinyLlama spec;
  spec.architecture = "mamba";
  absl::StatusOr<std::shared_ptr<const Model>> model = Load(spec);
  ASSERT_EQ(model.status().code(), absl::StatusCode::kUnimplemented) << model.status();
  EXPECT_NE(model.status().message().find("'mamba'"), std::string::npos) << model.status();
}

TEST_F(TinyModelTest, MissingTensorIsNamed) {
  TinyLlama spec;
  spec.drop_tensor = "blk.1.ffn_up.weight";
  absl::StatusOr<std::shared_ptr<const Model>> model = Load(spec);
  ASSERT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument) << model.status();
  EXPECT_NE(model.status().message().find("'blk.1.ffn_up.weight'"), std::string::npos)
      << model.status();
  EXPECT_NE(model.status().message().find("[96, 64]"), std::string::npos) << model.status();
}

TEST_F(TinyModelTest, MisshapenTensorIsNamed) {
  for (const char* name : {"blk.0.attn_k.weight", "output_norm.weight", "token_embd.weight"}) {
    TinyLlama spec;
    spec.misshape_tensor = name;
    absl::StatusOr<std::shared_ptr<const Model>> model = Load(spec);
    ASSERT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument) << model.status();
    EXPECT_NE(model.status().message().find(absl::StrCat("'", name, "'")), std::string::npos)
        << model.status();
    EXPECT_NE(model.status().message().find("need"), std::string::npos) << model.status();
  }
}

// Every embedding row format and matmul weight format the engine accepts, tied and
// untied: loads, generates, and gives the same bytes on the cpu backend as on the
// reference.
TEST_F(TinyModelTest, EveryWeightFormatRuns) {
  using W = testing::GgufWriter;
  struct Case {
    uint32_t embedding, linear;
    bool untied;
  };
  const Case cases[] = {{W::kQ8_0, W::kQ8_0, false}, {W::kQ4_0, W::kQ4_0, false},
                        {W::kQ4_1, W::kQ4_1, false}, {W::kF32, W::kQ4_1, true},
                        {W::kF16, W::kQ4_0, true},   {W::kF16, W::kQ8_0, true}};
  absl::StatusOr<std::unique_ptr<ops::Backend>> cpu = ops::CreateBackend("cpu");
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat("embedding type ", c.embedding, ", linear type ", c.linear,
                              c.untied ? ", untied" : ", tied"));
    TinyLlama spec;
    spec.embedding_type = c.embedding;
    spec.linear_type = c.linear;
    spec.untied = c.untied;
    std::shared_ptr<const Model> model = LoadOk(spec);
    ASSERT_NE(model, nullptr);
    EXPECT_EQ(model->tied_embeddings(), !c.untied);
    absl::StatusOr<GenerateResult> want = (*Session::Create(model))->Generate(kPrompt, Greedy(8));
    ASSERT_TRUE(want.ok()) << want.status();
    if (!cpu.ok()) continue;
    std::shared_ptr<const Model> on_cpu = LoadOk(spec, cpu->get());
    ASSERT_NE(on_cpu, nullptr);
    // One copy of a tied embedding (both backends read rows back); untied keeps its own.
    EXPECT_EQ(model->memory().embedding_rows == 0, !c.untied);
    EXPECT_EQ(on_cpu->memory().embedding_rows == 0, !c.untied);
    absl::StatusOr<GenerateResult> got = (*Session::Create(on_cpu))->Generate(kPrompt, Greedy(8));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->tokens, want->tokens);
    EXPECT_EQ(got->final_logits_digest, want->final_logits_digest);
  }
}

// The reference backend, except that its prepared weights cannot read rows back
// (PreparedWeights::ReadRow's default): a tied embedding then keeps its host copy.
class NoReadRowBackend : public ops::Backend {
 public:
  NoReadRowBackend() : inner_(std::move(ops::CreateBackend("reference")).value()) {}
  const char* Name() const override { return "no-read-row"; }
  std::string Description() const override { return "reference, prepared rows unreadable"; }
  bool Supports(ops::OpKind kind) const override { return inner_->Supports(kind); }
  absl::Status Run(const ops::OpArgs& args) override {
    ops::OpArgs a = args;
    if (const auto* w = dynamic_cast<const Weights*>(args.w_prepared)) {
      a.w = w->w();
      a.w_scale = w->w_scale();
      a.w_prepared = nullptr;
    }
    return ops::RunOp(*inner_, a);
  }
  const ops::llm::Kernels& LlmKernels() const override { return inner_->LlmKernels(); }

 protected:
  absl::StatusOr<std::unique_ptr<ops::PreparedWeights>> DoPrepareWeights(
      ops::OpKind kind, int64_t n, int64_t k, ops::ByteSpan w, ops::ByteSpan w_scale) override {
    return std::make_unique<Weights>(this, kind, n, k, w, w_scale);
  }

 private:
  class Weights : public ops::RawPreparedWeights {
   public:
    using RawPreparedWeights::RawPreparedWeights;
    absl::Status ReadRow(int64_t row, std::span<uint8_t> out) const override {
      return PreparedWeights::ReadRow(row, out);  // UNIMPLEMENTED
    }
  };
  std::unique_ptr<ops::Backend> inner_;
};

TEST_F(TinyModelTest, TiedEmbeddingKeepsItsCopyWhenRowsCannotBeReadBack) {
  std::shared_ptr<const Model> want_model = LoadOk();
  ASSERT_NE(want_model, nullptr);
  EXPECT_EQ(want_model->memory().embedding_rows, 0);
  NoReadRowBackend backend;
  std::shared_ptr<const Model> model = LoadOk({}, &backend);
  ASSERT_NE(model, nullptr);
  EXPECT_TRUE(model->tied_embeddings());
  EXPECT_EQ(model->memory().embedding_rows, 96 * 2 * 34);
  absl::StatusOr<GenerateResult> want =
      (*Session::Create(want_model))->Generate(kPrompt, Greedy(8));
  absl::StatusOr<GenerateResult> got = (*Session::Create(model))->Generate(kPrompt, Greedy(8));
  ASSERT_TRUE(want.ok()) << want.status();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->tokens, want->tokens);
  EXPECT_EQ(got->final_logits_digest, want->final_logits_digest);
}

TEST_F(TinyModelTest, UnusableFormatsAreUnimplementedAndNamed) {
  TinyLlama spec;
  spec.linear_type = testing::GgufWriter::kF16;
  spec.embedding_type = testing::GgufWriter::kF16;
  spec.untied = true;
  absl::StatusOr<std::shared_ptr<const Model>> model = Load(spec);
  ASSERT_EQ(model.status().code(), absl::StatusCode::kUnimplemented) << model.status();
  EXPECT_NE(model.status().message().find("'blk.0.attn_q.weight' is F16"), std::string::npos)
      << model.status();
  // An F16 embedding cannot serve as the tied output projection.
  spec = {};
  spec.embedding_type = testing::GgufWriter::kF16;
  model = Load(spec);
  ASSERT_EQ(model.status().code(), absl::StatusCode::kUnimplemented) << model.status();
  EXPECT_NE(model.status().message().find("'output.weight'"), std::string::npos) << model.status();
}

TEST_F(TinyModelTest, BadContextOptionIsRejected) {
  ModelOptions options;
  options.max_context = 65;  // above the file's context_length of 64
  EXPECT_EQ(Load({}, nullptr, options).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TinyModelTest, ActivationOverflowIsAClearError) {
  TinyLlama spec;
  spec.weight_scale_bits = 0x7000;  // 8192: activations far beyond Q8_0's range
  std::shared_ptr<const Model> model = LoadOk(spec);
  ASSERT_NE(model, nullptr);
  auto s = *Session::Create(model);
  absl::StatusOr<GenerateResult> r = s->Generate(kPrompt, Greedy(4));
  ASSERT_EQ(r.status().code(), absl::StatusCode::kOutOfRange) << r.status();
  EXPECT_NE(r.status().message().find("layer 0"), std::string::npos) << r.status();
  EXPECT_EQ(s->position(), 0);
  EXPECT_TRUE(s->history().empty());
}

TEST_F(TinyModelTest, OneSessionsFailureLeavesTheOthers) {
  TinyLlama spec;
  spec.nan_token = 95;
  std::shared_ptr<const Model> model = LoadOk(spec);
  ASSERT_NE(model, nullptr);
  EXPECT_FALSE(model->tied_embeddings());
  const std::vector<int32_t> good = {5, 6, 7}, bad = {5, 95, 7};
  absl::StatusOr<GenerateResult> alone = (*Session::Create(model))->Generate(good, Greedy(6));
  ASSERT_TRUE(alone.ok()) << alone.status();
  auto a = *Session::Create(model);
  auto b = *Session::Create(model);
  Session* sessions[] = {a.get(), b.get()};
  const std::span<const int32_t> prompts[] = {good, bad};
  const GenerateParams params[] = {Greedy(6), Greedy(6)};
  const TokenCallback callbacks[2];
  std::vector<absl::StatusOr<GenerateResult>> results;
  ASSERT_TRUE(GenerateBatch(sessions, prompts, params, callbacks, &results).ok());
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  EXPECT_EQ(results[0]->tokens, alone->tokens);
  ASSERT_EQ(results[1].status().code(), absl::StatusCode::kOutOfRange) << results[1].status();
  EXPECT_NE(results[1].status().message().find("embedding lookup"), std::string::npos)
      << results[1].status();
  EXPECT_EQ(b->position(), 0);
}

TEST_F(TinyModelTest, ForwardRejectsBadRows) {
  std::shared_ptr<const Model> model = LoadOk();
  ASSERT_NE(model, nullptr);
  absl::StatusOr<KvCache> cache = KvCache::Create(*model, 8);
  ASSERT_TRUE(cache.ok());
  EXPECT_EQ(cache->SizeBytes(), 8 * model->KvBytesPerPosition());
  EXPECT_EQ(KvCache::Create(*model, 65).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<float> logits(96);
  auto forward = [&](std::vector<ForwardRow> rows, size_t n_logits = 96) {
    logits.assign(n_logits, 0.0f);
    return model->Forward(rows, logits).code();
  };
  const auto kBad = absl::StatusCode::kInvalidArgument;
  EXPECT_EQ(forward({}, 0), kBad);
  EXPECT_EQ(forward({{96, 0, &*cache, true}}), kBad);  // token outside the vocabulary
  EXPECT_EQ(forward({{-1, 0, &*cache, true}}), kBad);
  EXPECT_EQ(forward({{1, 8, &*cache, true}}), kBad);  // position outside the cache
  EXPECT_EQ(forward({{1, 0, nullptr, true}}), kBad);
  EXPECT_EQ(forward({{1, 0, &*cache, true}}, 95), kBad);  // logits buffer size
  // Rows of one cache must be consecutive positions in order.
  EXPECT_EQ(forward({{1, 0, &*cache, false}, {2, 2, &*cache, true}}), kBad);
  EXPECT_EQ(forward({{1, 1, &*cache, false}, {2, 0, &*cache, true}}), kBad);
  EXPECT_EQ(forward({{1, 0, &*cache, false}, {2, 1, &*cache, true}}), absl::StatusCode::kOk);
  EXPECT_EQ(forward({{1, 0, &*cache, true}, {2, 1, &*cache, true}}, 192), absl::StatusCode::kOk);
}

TEST_F(TinyModelTest, PrefillEqualsTokenByToken) {
  std::shared_ptr<const Model> model = LoadOk();
  ASSERT_NE(model, nullptr);
  // Whole prompt in one pass, in chunks of 4, and one token at a time; all but the last
  // prompt token: Generate evaluates that one and continues.
  std::vector<std::unique_ptr<Session>> sessions = testing::ExpectPrefillChunkingInvariant(
      model, std::span<const int32_t>(kPrompt.data(), kPrompt.size() - 1), 2);
  ASSERT_EQ(sessions.size(), 3u);
  // And the generations continuing from each are the same.
  std::vector<int32_t> first;
  for (auto& s : sessions) {
    absl::StatusOr<GenerateResult> r = s->Generate({&kPrompt.back(), 1}, Greedy(8));
    ASSERT_TRUE(r.ok()) << r.status();
    if (first.empty()) first = r->tokens;
    EXPECT_EQ(r->tokens, first);
  }
}

TEST_F(TinyModelTest, BatchOfSessionsEqualsEachAlone) {
  std::shared_ptr<const Model> model = LoadOk();
  ASSERT_NE(model, nullptr);
  const std::vector<std::vector<int32_t>> prompts = {{5, 17, 42}, {9}, {1, 2, 3, 4, 5, 6, 7}};
  std::vector<GenerateParams> params = {Greedy(10), Greedy(4), Greedy(10)};
  params[2].sampling.temperature = 0.8f;
  params[2].seed = {1, 2, 3};
  std::vector<GenerateResult> alone;
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto s = Session::Create(model);
    ASSERT_TRUE(s.ok());
    absl::StatusOr<GenerateResult> r = (*s)->Generate(prompts[i], params[i]);
    ASSERT_TRUE(r.ok()) << r.status();
    alone.push_back(*r);
  }
  std::vector<std::unique_ptr<Session>> owned;
  std::vector<Session*> sessions;
  std::vector<std::span<const int32_t>> prompt_spans;
  for (size_t i = 0; i < prompts.size(); ++i) {
    owned.push_back(*Session::Create(model));
    sessions.push_back(owned.back().get());
    prompt_spans.push_back(prompts[i]);
  }
  std::vector<TokenCallback> callbacks(prompts.size());
  std::vector<absl::StatusOr<GenerateResult>> batch;
  ASSERT_TRUE(GenerateBatch(sessions, prompt_spans, params, callbacks, &batch).ok());
  for (size_t i = 0; i < prompts.size(); ++i) {
    ASSERT_TRUE(batch[i].ok()) << batch[i].status();
    EXPECT_EQ(batch[i]->tokens, alone[i].tokens) << "session " << i;
    EXPECT_EQ(batch[i]->final_logits_digest, alone[i].final_logits_digest) << "session " << i;
    EXPECT_EQ(batch[i]->tokens_digest, alone[i].tokens_digest) << "session " << i;
  }
  EXPECT_EQ(batch[1]->tokens.size(), 4u);
}

TEST_F(TinyModelTest, SeededSamplingIsReproducibleAndSeedDependent) {
  std::shared_ptr<const Model> model = LoadOk();
  ASSERT_NE(model, nullptr);
  auto run = [&](std::vector<uint8_t> seed) {
    GenerateParams p = Greedy(24);
    p.sampling.temperature = 1.5f;
    p.sampling.top_k = 40;
    p.sampling.top_p = 0.95f;
    p.seed = std::move(seed);
    auto s = Session::Create(model);
    absl::StatusOr<GenerateResult> r = (*s)->Generate(kPrompt, p);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->tokens : std::vector<int32_t>{};
  };
  const std::vector<int32_t> a = run({1, 2, 3});
  EXPECT_EQ(run({1, 2, 3}), a);
  EXPECT_NE(run({1, 2, 4}), a);
  auto s = Session::Create(model);
  absl::StatusOr<GenerateResult> greedy = (*s)->Generate(kPrompt, Greedy(24));
  ASSERT_TRUE(greedy.ok());
  EXPECT_NE(greedy->tokens, a);
}

TEST_F(TinyModelTest, LimitsAndStopReasons) {
  std::shared_ptr<const Model> model = LoadOk();
  ASSERT_NE(model, nullptr);
  SessionOptions options;
  options.context_length = 12;
  options.max_tokens_per_call = 16;
  auto s = *Session::Create(model, options);
  // A prompt beyond the context.
  const std::vector<int32_t> long_prompt(13, 7);
  absl::StatusOr<GenerateResult> r = s->Generate(long_prompt, Greedy(1));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kOutOfRange) << r.status();
  EXPECT_EQ(s->position(), 0);
  EXPECT_TRUE(s->history().empty());
  // Bad arguments leave the session unchanged.
  EXPECT_EQ(s->Generate(kPrompt, Greedy(17)).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s->Generate({}, Greedy(1)).status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<int32_t> bad_token = {1, 96};
  EXPECT_EQ(s->Generate(bad_token, Greedy(1)).status().code(), absl::StatusCode::kInvalidArgument);
  GenerateParams bad_seed = Greedy(1);
  bad_seed.seed.assign(65, 0);
  EXPECT_EQ(s->Generate(kPrompt, bad_seed).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s->position(), 0);
  // 9 prompt tokens + generated tokens fill the 12 positions: the 4th token has no room.
  r = s->Generate(kPrompt, Greedy(16));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stop_reason, StopReason::kContextFull);
  EXPECT_EQ(r->tokens.size(), 4u);
  EXPECT_EQ(s->position(), 12);
  EXPECT_EQ(s->history().size(), 13u);
  EXPECT_EQ(s->Generate({}, Greedy(1)).status().code(), absl::StatusCode::kOutOfRange);

  // Max tokens, then continuing the same session; a stop token ends generation and is
  // included.
  auto t = *Session::Create(model);
  r = t->Generate(kPrompt, Greedy(3));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stop_reason, StopReason::kMaxTokens);
  ASSERT_EQ(r->tokens.size(), 3u);
  auto u = *Session::Create(model);
  GenerateParams stop = Greedy(10);
  stop.stop_tokens = {r->tokens[1]};
  absl::StatusOr<GenerateResult> r2 = u->Generate(kPrompt, stop);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->stop_reason, StopReason::kEndOfGeneration);
  EXPECT_EQ(r2->tokens, std::vector<int32_t>(r->tokens.begin(), r->tokens.begin() + 2));
  EXPECT_EQ(r2->final_logits.size(), 96u);
}

TEST_F(TinyModelTest, ContinuationEqualsOneLongCall) {
  std::shared_ptr<const Model> model = LoadOk();
  ASSERT_NE(model, nullptr);
  auto a = *Session::Create(model);
  absl::StatusOr<GenerateResult> whole = a->Generate(kPrompt, Greedy(12));
  ASSERT_TRUE(whole.ok());
  auto b = *Session::Create(model);
  absl::StatusOr<GenerateResult> first = b->Generate(kPrompt, Greedy(5));
  absl::StatusOr<GenerateResult> rest = b->Generate({}, Greedy(7));
  ASSERT_TRUE(first.ok() && rest.ok());
  std::vector<int32_t> joined = first->tokens;
  joined.insert(joined.end(), rest->tokens.begin(), rest->tokens.end());
  EXPECT_EQ(joined, whole->tokens);
  EXPECT_EQ(rest->final_logits_digest, whole->final_logits_digest);
}

TEST_F(TinyModelTest, ManagerCapsSessionsAndMemory) {
  std::shared_ptr<const Model> model = LoadOk();
  ASSERT_NE(model, nullptr);
  SessionManagerOptions options;
  options.max_sessions = 2;
  options.kv_budget_bytes = 80 * model->KvBytesPerPosition();
  SessionManager manager(options);
  absl::StatusOr<SessionInfo> a = manager.Create(model, 32);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->kv_cache_bytes, 32 * model->KvBytesPerPosition());
  // 64 positions do not fit in the budget left (80 - 32).
  EXPECT_EQ(manager.Create(model, 64).status().code(), absl::StatusCode::kResourceExhausted);
  absl::StatusOr<SessionInfo> b = manager.Create(model, 32);
  ASSERT_TRUE(b.ok());
  absl::StatusOr<SessionInfo> c = manager.Create(model, 8);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kResourceExhausted) << c.status();
  EXPECT_EQ(manager.open_sessions(), 2);
  EXPECT_EQ(manager.kv_bytes_reserved(), 64 * model->KvBytesPerPosition());
  ASSERT_TRUE(manager.Close(a->id).ok());
  EXPECT_EQ(manager.Close(a->id).code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(manager.Create(model, 8).ok());
  EXPECT_EQ(manager.Create(model, 65).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TinyModelTest, CancelledGenerationFreesItsSession) {
  std::shared_ptr<const Model> model = LoadOk();
  ASSERT_NE(model, nullptr);
  SessionManagerOptions options;
  options.max_sessions = 1;
  SessionManager manager(options);
  absl::StatusOr<SessionInfo> a = manager.Create(model);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(manager.Create(model).status().code(), absl::StatusCode::kResourceExhausted);
  int seen = 0;
  absl::StatusOr<GenerateResult> r =
      manager.Generate(a->id, kPrompt, Greedy(20), [&](int32_t) { return ++seen < 3; });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stop_reason, StopReason::kCancelled);
  EXPECT_EQ(r->tokens.size(), 3u);
  EXPECT_EQ(manager.open_sessions(), 0);
  EXPECT_EQ(manager.kv_bytes_reserved(), 0);
  EXPECT_EQ(manager.Generate(a->id, kPrompt, Greedy(1)).status().code(),
            absl::StatusCode::kNotFound);
  // The slot is free again, and a should_cancel that fires before the prompt works too.
  absl::StatusOr<SessionInfo> b = manager.Create(model);
  ASSERT_TRUE(b.ok()) << b.status();
  GenerateParams p = Greedy(5);
  p.should_cancel = [] { return true; };
  r = manager.Generate(b->id, kPrompt, p);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stop_reason, StopReason::kCancelled);
  EXPECT_TRUE(r->tokens.empty());
  EXPECT_EQ(manager.open_sessions(), 0);
}

TEST_F(TinyModelTest, CloseCancelsARunningCall) {
  std::shared_ptr<const Model> model = LoadOk();
  ASSERT_NE(model, nullptr);
  SessionManager manager;
  absl::StatusOr<SessionInfo> a = manager.Create(model);
  ASSERT_TRUE(a.ok());
  std::atomic<bool> started{false};
  std::atomic<bool> closed{false};
  absl::StatusOr<GenerateResult> r;
  std::thread worker([&] {
    r = manager.Generate(a->id, kPrompt, Greedy(50), [&](int32_t) {
      started = true;
      while (!closed) std::this_thread::yield();
      return true;
    });
  });
  while (!started) std::this_thread::yield();
  // Busy: a second call is refused; Close cancels the running one.
  EXPECT_EQ(manager.Generate(a->id, kPrompt, Greedy(1)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(manager.Close(a->id).ok());
  closed = true;
  worker.join();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stop_reason, StopReason::kCancelled);
  EXPECT_EQ(manager.open_sessions(), 0);
  EXPECT_EQ(manager.kv_bytes_reserved(), 0);
}

TEST_F(TinyModelTest, GenerateOnceEqualsASessionAndClosesIt) {
  std::shared_ptr<const Model> model = LoadOk();
  ASSERT_NE(model, nullptr);
  absl::StatusOr<GenerateResult> want = (*Session::Create(model))->Generate(kPrompt, Greedy(16));
  ASSERT_TRUE(want.ok());
  SessionManager manager;
  absl::StatusOr<GenerateResult> got = manager.GenerateOnce(model, kPrompt, Greedy(16));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->tokens, want->tokens);
  EXPECT_EQ(got->final_logits_digest, want->final_logits_digest);
  EXPECT_EQ(got->stop_reason, StopReason::kMaxTokens);  // its context was just enough
  EXPECT_EQ(manager.open_sessions(), 0);
  EXPECT_EQ(manager.kv_bytes_reserved(), 0);
  const std::vector<int32_t> too_long(65, 3);
  EXPECT_EQ(manager.GenerateOnce(model, too_long, Greedy(1)).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(manager.open_sessions(), 0);
}

TEST_F(TinyModelTest, ManagerRunsSessionsConcurrentlyAndBatched) {
  std::shared_ptr<const Model> model = LoadOk();
  ASSERT_NE(model, nullptr);
  const std::vector<std::vector<int32_t>> prompts = {{5, 17, 42}, {9, 8}, {1, 2, 3, 4}};
  std::vector<std::vector<int32_t>> alone;
  for (const auto& prompt : prompts) {
    absl::StatusOr<GenerateResult> r = (*Session::Create(model))->Generate(prompt, Greedy(12));
    ASSERT_TRUE(r.ok());
    alone.push_back(r->tokens);
  }
  SessionManager manager;
  // One thread per session, all at once.
  std::vector<SessionId> ids;
  for (size_t i = 0; i < prompts.size(); ++i) ids.push_back(manager.Create(model, 32)->id);
  std::vector<absl::StatusOr<GenerateResult>> results(prompts.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < prompts.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = manager.Generate(ids[i], prompts[i], Greedy(12)); });
  }
  for (std::thread& t : threads) t.join();
  for (size_t i = 0; i < prompts.size(); ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].status();
    EXPECT_EQ(results[i]->tokens, alone[i]) << "session " << i;
    ASSERT_TRUE(manager.Close(ids[i]).ok());
  }
  // The manager's batch.
  ids.clear();
  std::vector<std::span<const int32_t>> spans;
  for (const auto& prompt : prompts) {
    ids.push_back(manager.Create(model, 32)->id);
    spans.push_back(prompt);
  }
  const std::vector<GenerateParams> params(prompts.size(), Greedy(12));
  const std::vector<TokenCallback> callbacks(prompts.size());
  std::vector<absl::StatusOr<GenerateResult>> batch;
  ASSERT_TRUE(manager.GenerateBatch(ids, spans, params, callbacks, &batch).ok());
  for (size_t i = 0; i < prompts.size(); ++i) {
    ASSERT_TRUE(batch[i].ok()) << batch[i].status();
    EXPECT_EQ(batch[i]->tokens, alone[i]) << "session " << i;
  }
  // A session named twice in one batch is refused before anything runs.
  const SessionId twice[] = {ids[0], ids[0]};
  EXPECT_EQ(manager
                .GenerateBatch(twice, {spans.data(), 2}, {params.data(), 2}, {callbacks.data(), 2},
                               &batch)
                .code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(manager.Info(ids[0])->position, 3 + 11);
}

// The same generation on every backend and CPU configuration gives the same bytes.
TEST_F(TinyModelTest, EveryBackendGivesTheSameBytes) {
  std::shared_ptr<const Model> ref = LoadOk();
  ASSERT_NE(ref, nullptr);
  GenerateParams p = Greedy(16);
  absl::StatusOr<GenerateResult> want = (*Session::Create(ref))->Generate(kPrompt, p);
  ASSERT_TRUE(want.ok()) << want.status();
  int checked = 0;
  auto check = [&](absl::StatusOr<std::unique_ptr<ops::Backend>> backend, const std::string& what) {
    if (!backend.ok()) {
      std::printf("[ skipped  ] %s: %s\n", what.c_str(),
                  std::string(backend.status().message()).c_str());
      return;
    }
    std::shared_ptr<const Model> model = LoadOk({}, backend->get());
    ASSERT_NE(model, nullptr);
    absl::StatusOr<GenerateResult> got = (*Session::Create(model))->Generate(kPrompt, p);
    ASSERT_TRUE(got.ok()) << what << ": " << got.status();
    EXPECT_EQ(got->tokens, want->tokens) << what;
    EXPECT_EQ(got->final_logits_digest, want->final_logits_digest) << what;
    ++checked;
  };
  for (const char* isa : ops::testing::kCpuIsas) {
    std::string why;
    if (!ops::testing::MachineHasIsa(isa, &why)) continue;
    for (int threads : {1, 2, 3}) {
      check(ops::testing::CreateCpuWithIsa(isa, threads), absl::StrCat("cpu ", isa, " x", threads));
    }
  }
  check(ops::CreateBackend("vulkan"), "vulkan");
  EXPECT_GE(checked, 1);
}

}  // namespace
}  // namespace datanode::node::inference
