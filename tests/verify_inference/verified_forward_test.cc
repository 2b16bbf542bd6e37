// Copyright 2026 The datanode Authors.
//
// Verified delegation of a whole forward pass (node/inference/verified_forward.h,
// docs/verification.md §9) on tiny synthetic llama models: honest passes (prefill and
// decode, every matmul format) are accepted with the plain pass's logits and KV bytes,
// and every kind of wrong answer is rejected on every trial: a flipped output bit, a
// flipped exact-sum bit, wrong weights, a skipped layer and a replayed answer.
#include "node/inference/verified_forward.h"

#include <cstdio>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/verify.h"
#include "datanode/ops/verify_pass.h"
#include "gtest/gtest.h"
#include "node/inference/model.h"
#include "tests/inference/engine_test_util.h"
#include "tests/verify_inference/verify_test_util.h"

namespace datanode::node::inference {
namespace {

using ops::verify::PassAnswer;
using ops::verify::PassCheck;
using ops::verify::PassVerdict;
using testing::FaultTally;
using testing::GgufWriter;
using testing::StepRows;
using testing::TinyLlama;

constexpr int64_t kContext = 48;

std::unique_ptr<ops::Backend> Backend(const char* name) {
  ops::BackendOptions options;
  options.num_threads = 1;
  absl::StatusOr<std::unique_ptr<ops::Backend>> b = ops::CreateBackend(name, options);
  EXPECT_TRUE(b.ok()) << b.status();
  return b.ok() ? std::move(*b) : nullptr;
}

// A computing node (cpu backend) and a verifying node (its own backend and Model) on one
// tiny model, and the verifier prepared for a fresh epoch secret.
class Nodes {
 public:
  Nodes(const TinyLlama& spec, const char* verifier_backend) {
    absl::StatusOr<ops::Sha256> digest = store_.ImportBytes("tiny.gguf", TinyLlamaGguf(spec));
    EXPECT_TRUE(digest.ok()) << digest.status();
    compute_backend_ = Backend("cpu");
    verify_backend_ = Backend(verifier_backend);
    compute_ = Load(*digest, *compute_backend_);
    verify_ = Load(*digest, *verify_backend_);
    absl::StatusOr<LinearWeights> w = LinearWeights::FromModel(*compute_);
    EXPECT_TRUE(w.ok()) << w.status();
    weights_ = std::make_unique<LinearWeights>(*std::move(w));
    absl::StatusOr<LinearWeights> vw = LinearWeights::FromModel(*verify_);
    EXPECT_TRUE(vw.ok()) << vw.status();
    absl::StatusOr<ops::verify::EpochSecret> secret = ops::verify::NewEpochSecret();
    EXPECT_TRUE(secret.ok());
    absl::StatusOr<PassVerifier> pv =
        PassVerifier::Prepare(*verify_, *vw, *secret, ops::ToHex(*digest));
    EXPECT_TRUE(pv.ok()) << pv.status();
    verifier_ = std::make_unique<PassVerifier>(*std::move(pv));
  }

  const Model& compute() const { return *compute_; }
  const Model& verify() const { return *verify_; }
  const LinearWeights& weights() const { return *weights_; }
  const PassVerifier& verifier() const { return *verifier_; }
  KvCache Cache(const Model& m) const { return *KvCache::Create(m, kContext); }
  int64_t vocab() const { return compute_->config().vocab_size; }

  // The computing node's answer (with `fault`) for tokens at pos in `cache`.
  PassAnswer Answer(const std::vector<int32_t>& tokens, int64_t pos, KvCache& cache,
                    std::vector<float>* logits, const ComputeFault& fault = {}) const {
    logits->assign(static_cast<size_t>(vocab()), 0.0f);
    const std::vector<ForwardRow> rows = StepRows(tokens, pos, &cache);
    absl::StatusOr<PassAnswer> a = ComputeVerifiedPass(*compute_, *weights_, rows, *logits, fault);
    EXPECT_TRUE(a.ok()) << a.status();
    return a.ok() ? *std::move(a) : PassAnswer();
  }
  PassVerdict Check(const std::vector<int32_t>& tokens, int64_t pos, KvCache& cache,
                    const PassAnswer& answer, std::vector<float>* logits) const {
    logits->assign(static_cast<size_t>(vocab()), 0.0f);
    const std::vector<ForwardRow> rows = StepRows(tokens, pos, &cache);
    absl::StatusOr<PassVerdict> v = verifier_->Verify(*verify_, rows, answer, *logits);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : PassVerdict();
  }

 private:
  std::shared_ptr<const Model> Load(const ops::Sha256& digest, ops::Backend& backend) {
    absl::StatusOr<std::shared_ptr<const Model>> m =
        LoadModel(store_.registry(), store_.store(), digest, backend);
    EXPECT_TRUE(m.ok()) << m.status();
    return m.ok() ? *m : nullptr;
  }

  testing::TempStore store_;
  std::unique_ptr<ops::Backend> compute_backend_, verify_backend_;
  std::shared_ptr<const Model> compute_, verify_;
  std::unique_ptr<LinearWeights> weights_;
  std::unique_ptr<PassVerifier> verifier_;
};

std::vector<int32_t> RandomTokens(int n, int64_t vocab, std::mt19937_64& rng) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int32_t& x : t) x = static_cast<int32_t>(rng() % static_cast<uint64_t>(vocab));
  return t;
}

bool CachesEqual(const KvCache& a, const KvCache& b, int layers, int64_t positions) {
  const size_t n = static_cast<size_t>(positions * a.row_bytes());
  for (int l = 0; l < layers; ++l) {
    if (!std::equal(a.K(l).begin(), a.K(l).begin() + n, b.K(l).begin()) ||
        !std::equal(a.V(l).begin(), a.V(l).begin() + n, b.V(l).begin())) {
      return false;
    }
  }
  return true;
}

struct Format {
  const char* name;
  uint32_t linear_type;
  uint32_t embedding_type;
};

void PrintTo(const Format& f, std::ostream* os) { *os << f.name; }

class HonestTest : public ::testing::TestWithParam<Format> {};

// Honest generations on every matmul format, verified on the cpu and the reference
// backend: every pass accepted, the accepted logits equal the plain pass's, and the
// verifier's KV cache ends byte-equal to the computing node's.
TEST_P(HonestTest, HonestPassesAreAcceptedWithThePlainPassBytes) {
  for (const char* verifier_backend : {"cpu", "reference"}) {
    TinyLlama spec;
    spec.layers = 3;
    spec.linear_type = GetParam().linear_type;
    spec.embedding_type = GetParam().embedding_type;
    spec.seed = 7;
    Nodes nodes(spec, verifier_backend);
    std::mt19937_64 rng(11);
    int passes = 0;
    int64_t matmul_checks = 0;
    // >= 10,000 honest passes over the three formats on the cpu verifier; the reference
    // verifier (slower) checks a few sessions.
    const int sessions = std::string(verifier_backend) == "cpu" ? 210 : 4;
    for (int session = 0; session < sessions; ++session) {
      KvCache compute_cache = nodes.Cache(nodes.compute());
      KvCache verify_cache = nodes.Cache(nodes.verify());
      KvCache plain_cache = nodes.Cache(nodes.compute());
      std::vector<int32_t> tokens = RandomTokens(2 + session % 5 * 3, nodes.vocab(), rng);
      int64_t pos = 0;
      for (int step = 0; step < 16; ++step) {
        std::vector<float> computed, verified, plain(static_cast<size_t>(nodes.vocab()));
        const PassAnswer answer = nodes.Answer(tokens, pos, compute_cache, &computed);
        const PassVerdict v = nodes.Check(tokens, pos, verify_cache, answer, &verified);
        ASSERT_TRUE(v.accepted) << verifier_backend << " step " << step << ": " << v.reason;
        const std::vector<ForwardRow> rows = StepRows(tokens, pos, &plain_cache);
        ASSERT_TRUE(nodes.compute().Forward(rows, plain).ok());
        ASSERT_EQ(verified, plain);
        ASSERT_EQ(computed, plain);
        ++passes;
        matmul_checks += static_cast<int64_t>(answer.matmuls.size());
        pos += static_cast<int64_t>(tokens.size());
        tokens = {testing::Argmax(verified)};
      }
      EXPECT_TRUE(CachesEqual(compute_cache, verify_cache, spec.layers, pos));
    }
    std::printf(
        "[ info     ] %s, verifier on %s: %d honest passes (%lld matmul checks), 0 "
        "rejected; verifier state %lld bytes\n",
        GetParam().name, verifier_backend, passes, static_cast<long long>(matmul_checks),
        static_cast<long long>(nodes.verifier().MemoryBytes()));
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, HonestTest,
                         ::testing::Values(Format{"Q8_0", GgufWriter::kQ8_0, GgufWriter::kQ8_0},
                                           Format{"Q4_0", GgufWriter::kQ4_0, GgufWriter::kQ8_0},
                                           Format{"Q4_1", GgufWriter::kQ4_1, GgufWriter::kQ4_1}),
                         [](const auto& info) { return std::string(info.param.name); });

// A batched pass of two sessions (M = 2, rows of different caches) is checked like any.
TEST(VerifiedForwardTest, BatchedPassOfTwoSessionsIsAccepted) {
  Nodes nodes(TinyLlama{}, "cpu");
  KvCache c1 = nodes.Cache(nodes.compute()), c2 = nodes.Cache(nodes.compute());
  KvCache v1 = nodes.Cache(nodes.verify()), v2 = nodes.Cache(nodes.verify());
  std::vector<float> logits;
  const std::vector<int32_t> p1 = {3, 5, 7}, p2 = {9, 4};
  ASSERT_TRUE(nodes.Check(p1, 0, v1, nodes.Answer(p1, 0, c1, &logits), &logits).accepted);
  ASSERT_TRUE(nodes.Check(p2, 0, v2, nodes.Answer(p2, 0, c2, &logits), &logits).accepted);
  std::vector<ForwardRow> rows = {{11, 3, &c1, true}, {12, 2, &c2, true}};
  std::vector<float> computed(static_cast<size_t>(2 * nodes.vocab()));
  absl::StatusOr<PassAnswer> answer =
      ComputeVerifiedPass(nodes.compute(), nodes.weights(), rows, computed);
  ASSERT_TRUE(answer.ok()) << answer.status();
  rows = {{11, 3, &v1, true}, {12, 2, &v2, true}};
  std::vector<float> verified(computed.size());
  absl::StatusOr<PassVerdict> v = nodes.verifier().Verify(nodes.verify(), rows, *answer, verified);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->accepted) << v->reason;
  EXPECT_EQ(verified, computed);
}

// Answers with parts missing, extra or reordered are rejected as kStructure, and the wire
// encoding round-trips and refuses malformed bytes.
TEST(VerifiedForwardTest, MalformedAnswersAreRejected) {
  Nodes nodes(TinyLlama{}, "cpu");
  KvCache cc = nodes.Cache(nodes.compute()), vc = nodes.Cache(nodes.verify());
  std::vector<float> logits;
  const std::vector<int32_t> prompt = {1, 2, 3};
  const PassAnswer honest = nodes.Answer(prompt, 0, cc, &logits);
  const std::vector<uint8_t> wire = ops::verify::EncodePassAnswer(honest);
  absl::StatusOr<PassAnswer> decoded = ops::verify::DecodePassAnswer(wire);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(testing::SameOutputs(*decoded, honest));
  EXPECT_TRUE(nodes.Check(prompt, 0, vc, *decoded, &logits).accepted);
  for (size_t cut : {size_t{0}, size_t{7}, wire.size() / 2, wire.size() - 1}) {
    EXPECT_FALSE(ops::verify::DecodePassAnswer(ops::ByteSpan(wire).first(cut)).ok()) << cut;
  }
  std::vector<uint8_t> longer = wire;
  longer.push_back(0);
  EXPECT_FALSE(ops::verify::DecodePassAnswer(longer).ok());

  auto expect_structure = [&](PassAnswer a, const char* what) {
    const PassVerdict v = nodes.Check(prompt, 0, vc, a, &logits);
    EXPECT_FALSE(v.accepted) << what;
    EXPECT_EQ(v.failed, PassCheck::kStructure) << what << ": " << v.reason;
  };
  PassAnswer a = honest;
  a.matmuls.pop_back();
  expect_structure(a, "last matmul missing");
  a = honest;
  a.matmuls.push_back(a.matmuls.back());
  expect_structure(a, "extra matmul");
  a = honest;
  std::swap(a.matmuls[1], a.matmuls[2]);
  expect_structure(a, "k and v swapped");
  a = honest;
  a.residual_digests.pop_back();
  expect_structure(a, "a digest missing");
  a = honest;
  a.residual_digests.push_back(a.residual_digests.back());
  expect_structure(a, "an extra digest");
  expect_structure(PassAnswer(), "empty answer");
  // The honest answer still passes after all of that (the caches were only overwritten).
  EXPECT_TRUE(nodes.Check(prompt, 0, vc, honest, &logits).accepted);
}

// >= 1,000 trials per fault kind at one decode step after a verified prompt; each wrong
// answer must be rejected. Prints what caught them.
TEST(VerifiedForwardTest, EveryFaultIsCaughtOnEveryTrial) {
  TinyLlama spec;
  spec.layers = 3;
  spec.linear_type = GgufWriter::kQ4_1;
  spec.embedding_type = GgufWriter::kQ8_0;  // untied Q4_1 head and Q8_0 lookups
  spec.untied = true;
  Nodes nodes(spec, "cpu");
  std::mt19937_64 rng(2026);
  const std::vector<int32_t> prompt = RandomTokens(6, nodes.vocab(), rng);
  KvCache cc = nodes.Cache(nodes.compute()), vc = nodes.Cache(nodes.verify());
  std::vector<float> logits, verified;
  ASSERT_TRUE(nodes.Check(prompt, 0, vc, nodes.Answer(prompt, 0, cc, &logits), &verified).accepted);
  const int64_t pos = static_cast<int64_t>(prompt.size());
  const std::vector<int32_t> step = {testing::Argmax(verified)};
  // The computing node's cache is only read at [0, pos) and rewritten at pos by each answer.
  const PassAnswer honest = nodes.Answer(step, pos, cc, &logits);
  ASSERT_TRUE(nodes.Check(step, pos, vc, honest, &verified).accepted);
  constexpr int kTrials = 1000;
  int honest_checks = 1;

  FaultTally flip_out, flip_exact, wrong_weights, skipped, replay;
  std::string where;
  for (int t = 0; t < kTrials; ++t) {
    PassAnswer a = honest;
    ASSERT_TRUE(testing::FlipRandomBit(a, /*exact=*/false, rng, &where));
    flip_out.Count(nodes.Check(step, pos, vc, a, &verified));
    ASSERT_EQ(flip_out.caught, flip_out.trials) << "flipped output bit accepted: " << where;
    a = honest;
    ASSERT_TRUE(testing::FlipRandomBit(a, /*exact=*/true, rng, &where));
    flip_exact.Count(nodes.Check(step, pos, vc, a, &verified));
    ASSERT_EQ(flip_exact.caught, flip_exact.trials) << "flipped exact-sum bit accepted: " << where;
  }
  const int layers = spec.layers;
  while (wrong_weights.trials < kTrials) {
    ComputeFault f;
    f.wrong_weights_layer = static_cast<int>(rng() % (layers + 1)) - 1;
    f.wrong_weights_site =
        f.wrong_weights_layer < 0 ? MatMulSite::kOutput : static_cast<MatMulSite>(rng() % 7);
    f.wrong_weights_byte = static_cast<int64_t>(rng() >> 1);
    const PassAnswer a = nodes.Answer(step, pos, cc, &logits, f);
    if (testing::SameOutputs(a, honest)) {
      ++wrong_weights.unchanged;
      continue;
    }
    wrong_weights.Count(nodes.Check(step, pos, vc, a, &verified));
    ASSERT_EQ(wrong_weights.caught, wrong_weights.trials)
        << "wrong weights accepted: layer " << f.wrong_weights_layer << " site "
        << MatMulSiteName(f.wrong_weights_site) << " byte " << f.wrong_weights_byte;
  }
  for (int t = 0; t < kTrials; ++t) {
    ComputeFault f;
    f.skip_layer = static_cast<int>(rng() % layers);
    f.skip_as_zeros = t % 2 == 1;
    PassAnswer a = nodes.Answer(step, pos, cc, &logits, f);
    ASSERT_FALSE(testing::SameOutputs(a, honest));
    // Half of them carry the honest residual digests: the digests only name the layer,
    // the Freivalds checks catch the fault without them.
    if (t % 4 >= 2) a.residual_digests = honest.residual_digests;
    skipped.Count(nodes.Check(step, pos, vc, a, &verified));
    ASSERT_EQ(skipped.caught, skipped.trials)
        << "skipped layer " << f.skip_layer << (f.skip_as_zeros ? " (zeros)" : "") << " accepted";
  }
  // Replays: the answers to other tokens at this position, and to other prompts' steps
  // (other KV caches; the same token too), each verified once.
  for (int other = 0; replay.trials < kTrials; ++other) {
    KvCache other_cache = nodes.Cache(nodes.compute());
    std::vector<int32_t> other_prompt = prompt;
    if (other > 0) other_prompt = RandomTokens(static_cast<int>(prompt.size()), nodes.vocab(), rng);
    nodes.Answer(other_prompt, 0, other_cache, &logits);
    for (int32_t token = 0; token < nodes.vocab() && replay.trials < kTrials; ++token) {
      if (other_prompt == prompt && token == step[0]) continue;  // that is the honest answer
      PassAnswer a = nodes.Answer({token}, pos, other_cache, &logits);
      if (replay.trials % 2 == 1) a.residual_digests = honest.residual_digests;
      replay.Count(nodes.Check(step, pos, vc, a, &verified));
      ASSERT_EQ(replay.caught, replay.trials) << "replay of token " << token << " accepted";
    }
  }
  // Honest answers in between faults are still accepted (rejections never poison the
  // verifier's cache for later positions).
  for (int t = 0; t < 10; ++t, ++honest_checks) {
    ASSERT_TRUE(nodes.Check(step, pos, vc, honest, &verified).accepted);
  }
  std::printf("[ info     ] flip_output_bit: %s\n", flip_out.Summary().c_str());
  std::printf("[ info     ] flip_exact_bit: %s\n", flip_exact.Summary().c_str());
  std::printf("[ info     ] wrong_weights: %s\n", wrong_weights.Summary().c_str());
  std::printf("[ info     ] skipped_layer: %s\n", skipped.Summary().c_str());
  std::printf("[ info     ] replay: %s\n", replay.Summary().c_str());
  std::printf("[ info     ] honest answers checked between faults: %d, 0 rejected\n",
              honest_checks);
  EXPECT_GE(wrong_weights.trials, kTrials);
  EXPECT_GE(replay.trials, kTrials);
}

// The answer of another model of the same shape (other weights) is rejected where the
// passes first part: the embedding's residual digest.
TEST(VerifiedForwardTest, AnotherModelsAnswerIsRejected) {
  TinyLlama spec;
  Nodes a(spec, "cpu");
  spec.seed = 99;  // another model of the same shape
  Nodes b(spec, "cpu");
  KvCache cc = a.Cache(a.compute()), vc = b.Cache(b.verify());
  std::vector<float> logits(static_cast<size_t>(a.vocab()));
  const PassAnswer answer = a.Answer({1, 2}, 0, cc, &logits);
  // b's verifier checks a's answer against b's weights: rejected (wrong weights, in effect).
  const PassVerdict v = b.Check({1, 2}, 0, vc, answer, &logits);
  EXPECT_FALSE(v.accepted);
  EXPECT_EQ(v.failed, PassCheck::kResidual) << v.reason;
  EXPECT_EQ(v.layer, -1);
}

}  // namespace
}  // namespace datanode::node::inference

namespace datanode::node::inference {
namespace {

// A model in llama.cpp's Q4_K_M layout (Q4_K matmuls, Q6_K output / attn_v / ffn_down in
// the layers Q4_K_M gives them, a Q4_K embedding): every pass of an honest generation is
// accepted with the plain pass's bytes, and flipped output or exact-sum bits in any of its
// K-quant matmuls are caught on every trial.
TEST(VerifiedForwardTest, Q4KMModelPassesAreVerifiedAndFlippedBitsCaught) {
  const TinyLlama spec = testing::Q4KMSpec(3);
  Nodes nodes(spec, "cpu");
  std::mt19937_64 rng(4242);
  int passes = 0;
  for (int session = 0; session < 4; ++session) {
    KvCache cc = nodes.Cache(nodes.compute()), vc = nodes.Cache(nodes.verify());
    KvCache plain_cache = nodes.Cache(nodes.compute());
    std::vector<int32_t> tokens = RandomTokens(3 + session, nodes.vocab(), rng);
    int64_t pos = 0;
    for (int step = 0; step < 6; ++step) {
      std::vector<float> computed, verified, plain(static_cast<size_t>(nodes.vocab()));
      const PassAnswer honest = nodes.Answer(tokens, pos, cc, &computed);
      ASSERT_TRUE(nodes.Check(tokens, pos, vc, honest, &verified).accepted) << "step " << step;
      ASSERT_TRUE(nodes.compute().Forward(StepRows(tokens, pos, &plain_cache), plain).ok());
      ASSERT_EQ(verified, plain);
      ++passes;
      if (session == 0 && step == 1) {
        std::string where;
        for (int t = 0; t < 200; ++t) {
          for (bool exact : {false, true}) {
            PassAnswer a = honest;
            ASSERT_TRUE(testing::FlipRandomBit(a, exact, rng, &where));
            // The verifier's cache is rewritten at pos by each check, so probing on it is
            // fine: the honest answer below rewrites it again.
            ASSERT_FALSE(nodes.Check(tokens, pos, vc, a, &verified).accepted)
                << (exact ? "flipped exact-sum bit" : "flipped output bit")
                << " accepted: " << where;
          }
        }
        ASSERT_TRUE(nodes.Check(tokens, pos, vc, honest, &verified).accepted);
      }
      pos += static_cast<int64_t>(tokens.size());
      tokens = {testing::Argmax(verified)};
    }
    EXPECT_TRUE(CachesEqual(cc, vc, spec.layers, pos));
  }
  std::printf(
      "[ info     ] Q4_K_M tiny model: %d honest passes accepted, 400 flipped bits caught\n",
      passes);
}

}  // namespace
}  // namespace datanode::node::inference
