// Copyright 2026 The datanode Authors.
//
// The daemon's verifying node for a whole forward pass (VerifyingNode::VerifyPass,
// node/daemon/verified_mode.h; docs/verification.md §9) on a tiny synthetic model: an
// honest step is accepted and signed over D = SHA-256 of the claimed logits; a wrong one is
// rejected naming the computing node, rotates the epoch secret and drops the prepared
// state; older epochs are refused; the state is held from the memory budget.
#include <memory>
#include <string>
#include <vector>

#include "datanode/ops/backend.h"
#include "datanode/ops/verify_pass.h"
#include "datanode/util/ed25519.h"
#include "gtest/gtest.h"
#include "node/daemon/verified_mode.h"
#include "node/inference/model.h"
#include "node/inference/verified_forward.h"
#include "tests/inference/engine_test_util.h"
#include "tests/verify_inference/verify_test_util.h"

namespace datanode::node {
namespace {

using inference::ForwardRow;
using inference::KvCache;
using inference::LinearWeights;
using inference::Model;
using inference::testing::StepRows;
using ops::verify::PassAnswer;

class DaemonVerifyPassTest : public ::testing::Test {
 protected:
  void SetUp() override {
    inference::testing::TinyLlama spec;
    spec.layers = 2;
    absl::StatusOr<ops::Sha256> digest = store_.ImportBytes("tiny.gguf", TinyLlamaGguf(spec));
    ASSERT_TRUE(digest.ok()) << digest.status();
    model_id_ = ops::ToHex(*digest);
    backend_ = std::move(*ops::CreateBackend("cpu"));
    compute_ = *inference::LoadModel(store_.registry(), store_.store(), *digest, *backend_);
    verify_ = *inference::LoadModel(store_.registry(), store_.store(), *digest, *backend_);
    weights_ = std::make_unique<LinearWeights>(*LinearWeights::FromModel(*compute_));
  }

  VerifyingNode::PassLoadFn Load() {
    return [this]() -> absl::StatusOr<LinearWeights> {
      ++loads_;
      return LinearWeights::FromModel(*verify_);
    };
  }

  PassAnswer Answer(const std::vector<int32_t>& tokens, int64_t pos, KvCache& cache,
                    std::vector<float>* logits, const inference::ComputeFault& fault = {}) {
    logits->assign(static_cast<size_t>(compute_->config().vocab_size), 0.0f);
    return *inference::ComputeVerifiedPass(*compute_, *weights_, StepRows(tokens, pos, &cache),
                                           *logits, fault);
  }

  inference::testing::TempStore store_;
  std::string model_id_;
  std::unique_ptr<ops::Backend> backend_;
  std::shared_ptr<const Model> compute_, verify_;
  std::unique_ptr<LinearWeights> weights_;
  int loads_ = 0;
};

TEST_F(DaemonVerifyPassTest, HonestAcceptedAndSignedWrongRejectedAndRotated) {
  MemoryBudget budget(64 << 20);
  shim::NodeKey key = *shim::NodeKey::Generate();
  const shim::PublicKey public_key = key.public_key();
  VerifyingNode node(std::move(key), &budget);
  KvCache cc = *KvCache::Create(*compute_, 32), vc = *KvCache::Create(*verify_, 32);
  std::vector<float> computed, verified(static_cast<size_t>(compute_->config().vocab_size));
  const ops::Sha256 request = ops::Sha256Of({});

  const std::vector<int32_t> prompt = {5, 6, 7};
  PassAnswer a = Answer(prompt, 0, cc, &computed);
  absl::StatusOr<PassVerification> v = node.VerifyPass(
      *verify_, model_id_, Load(), StepRows(prompt, 0, &vc), a, verified, 1, request, 4);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->accepted) << v->reason;
  EXPECT_EQ(verified, computed);
  EXPECT_EQ(v->output_digest,
            ops::Sha256Of({ops::ByteSpan(reinterpret_cast<const uint8_t*>(computed.data()),
                                         computed.size() * sizeof(float))}));
  EXPECT_TRUE(util::Ed25519Verify(
      public_key, shim::VerifiedShareMessage(request, v->output_digest, true), v->signature));
  EXPECT_GT(v->verifier_bytes, 0);
  EXPECT_EQ(node.memory_bytes(), v->verifier_bytes);
  EXPECT_EQ(budget.used_bytes(), v->verifier_bytes);

  // The next step reuses the prepared state.
  const std::vector<int32_t> step = {inference::testing::Argmax(verified)};
  a = Answer(step, 3, cc, &computed);
  v = node.VerifyPass(*verify_, model_id_, Load(), StepRows(step, 3, &vc), a, verified, 1, request,
                      4);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->accepted) << v->reason;
  EXPECT_EQ(loads_, 1);

  // A skipped layer at the next step: rejected, naming node 4, secret rotated, state dropped.
  const std::vector<int32_t> next = {inference::testing::Argmax(verified)};
  inference::ComputeFault fault;
  fault.skip_layer = 1;
  a = Answer(next, 4, cc, &computed, fault);
  v = node.VerifyPass(*verify_, model_id_, Load(), StepRows(next, 4, &vc), a, verified, 1, request,
                      4);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_FALSE(v->accepted);
  EXPECT_NE(v->reason.find("computing node 4"), std::string::npos) << v->reason;
  EXPECT_EQ(v->layer, 1) << v->reason;
  EXPECT_TRUE(util::Ed25519Verify(
      public_key, shim::VerifiedShareMessage(request, v->output_digest, false), v->signature));
  EXPECT_EQ(node.rotations(), 1);
  EXPECT_EQ(node.memory_bytes(), 0);
  EXPECT_EQ(budget.used_bytes(), 0);

  // The honest answer for that step, under the new secret (prepared again).
  a = Answer(next, 4, cc, &computed);
  v = node.VerifyPass(*verify_, model_id_, Load(), StepRows(next, 4, &vc), a, verified, 2, request,
                      4);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->accepted) << v->reason;
  EXPECT_EQ(v->epoch, 2u);
  EXPECT_EQ(loads_, 2);
  // An older epoch is refused.
  v = node.VerifyPass(*verify_, model_id_, Load(), StepRows(next, 4, &vc), a, verified, 1, request,
                      4);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(DaemonVerifyPassTest, StateBeyondTheBudgetIsResourceExhausted) {
  MemoryBudget budget(1024);
  VerifyingNode node(*shim::NodeKey::Generate(), &budget);
  KvCache cc = *KvCache::Create(*compute_, 8), vc = *KvCache::Create(*verify_, 8);
  std::vector<float> computed, verified(static_cast<size_t>(compute_->config().vocab_size));
  const PassAnswer a = Answer({1}, 0, cc, &computed);
  absl::StatusOr<PassVerification> v = node.VerifyPass(
      *verify_, model_id_, Load(), StepRows({1}, 0, &vc), a, verified, 1, ops::Sha256Of({}), 0);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kResourceExhausted) << v.status();
  EXPECT_EQ(budget.used_bytes(), 0);
}

}  // namespace
}  // namespace datanode::node
