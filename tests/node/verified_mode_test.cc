// Copyright 2026 The datanode Authors.
//
// Verified mode in the daemon's domain code (node/daemon/verified_mode.h, NodeService):
// a computing NodeService's exact_output answer is checked by a verifying NodeService,
// in process. Honest answers accepted and signed, every test fault rejected naming the
// computing node, the secret rotated on a rejection and on a new epoch, verifier state
// held from the memory budget, the test fault refused without its environment flag,
// and the daemon's charges equal to the shim's price terms. (The 13-daemon run with
// >= 1,000 trials per fault is dn-subnet-sim.)
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "datanode/ops/backend.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/verify.h"
#include "gtest/gtest.h"
#include "node/daemon/config.h"
#include "node/daemon/node_service.h"
#include "node/shim/agreement.h"
#include "node/shim/pricing.h"

namespace datanode::node {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;

struct Daemon {
  std::filesystem::path root;
  std::unique_ptr<ops::Backend> backend;
  std::unique_ptr<WeightStore> store;
  std::unique_ptr<ModelRegistry> models;
  std::unique_ptr<NodeService> service;
  shim::PublicKey key{};

  Daemon(const std::string& name, TestFault fault) {
    backend = std::move(*ops::CreateBackend("reference"));
    root = std::filesystem::temp_directory_path() /
           ("dn_verified_mode_test_" + name + "_" + std::to_string(::getpid()));
    store = std::move(*WeightStore::Open({root, 0, false}));
    models = std::move(*ModelRegistry::Open(store.get()));
    service = std::make_unique<NodeService>(backend.get(), store.get(), models.get(), 64 * kMiB,
                                            MatMulLimits{16 * kMiB, 64 * kMiB});
    shim::NodeKey k = *shim::NodeKey::Generate();
    key = k.public_key();
    service->EnableVerifiedMode(std::move(k), fault);
  }
  ~Daemon() {
    service.reset();
    models.reset();
    store.reset();
    std::filesystem::remove_all(root);
  }
};

MatMulCall Inline(ops::OpInputs& in) {
  MatMulCall c;
  c.kind = in.kind;
  c.m = in.m;
  c.n = in.n;
  c.k = in.k;
  c.a = in.a;
  c.a_scale = in.a_scale;
  c.w = in.w;
  c.w_scale = in.w_scale;
  return c;
}

const ops::OpKind kKinds[] = {ops::OpKind::kMatMulS8S32, ops::OpKind::kMatMulS8F32,
                              ops::OpKind::kMatMulQ8_0Q8_0, ops::OpKind::kMatMulQ8_0Q4_0,
                              ops::OpKind::kMatMulQ8_0Q4_1};

absl::StatusOr<MatMulResult> Check(Daemon& verifier, const MatMulCall& call,
                                   const MatMulResult& answer, uint64_t epoch, uint32_t node) {
  MatMulCall v = call;
  v.verify = true;
  v.answer.out = answer.out;
  v.answer.exact = answer.exact;
  v.answer.epoch = epoch;
  v.answer.request_digest = ops::Sha256Of({call.a});
  v.answer.computing_node = node;
  return verifier.service->MatMul(v);
}

TEST(VerifiedModeTest, HonestAnswersAreAcceptedAndSigned) {
  Daemon computing("c", TestFault::kNone), verifier("v", TestFault::kNone);
  for (ops::OpKind kind : kKinds) {
    for (uint64_t seed = 1; seed <= 20; ++seed) {
      auto in = *ops::MakeRandomInputs(kind, 1 + seed % 3, 8, 64, seed);
      MatMulCall call = Inline(in);
      MatMulCall exact_call = call;
      exact_call.exact_output = true;
      auto answer = computing.service->MatMul(exact_call);
      ASSERT_TRUE(answer.ok()) << answer.status();
      // The output is the plain MatMul's, bytes and digest.
      auto plain = computing.service->MatMul(call);
      ASSERT_TRUE(plain.ok());
      EXPECT_EQ(answer->out, plain->out);
      EXPECT_EQ(answer->output_digest, plain->output_digest);
      EXPECT_EQ(answer->exact.empty(), kind == ops::OpKind::kMatMulS8S32);
      auto v = Check(verifier, call, *answer, 1, 3);
      ASSERT_TRUE(v.ok()) << v.status();
      ASSERT_TRUE(v->verification.has_value());
      const Verification& r = *v->verification;
      EXPECT_TRUE(r.accepted) << ops::OpKindName(kind) << " seed " << seed << ": " << r.reason;
      EXPECT_TRUE(v->out.empty());
      EXPECT_EQ(r.output_digest, ops::Sha256Of({answer->out}));
      EXPECT_EQ(r.public_key, verifier.key);
      EXPECT_TRUE(util::Ed25519Verify(
          verifier.key, shim::VerifiedShareMessage(ops::Sha256Of({call.a}), r.output_digest, true),
          r.signature));
      EXPECT_GT(r.verifier_bytes, 0);
      // The charges are the shim's: compute share, and one check.
      auto terms = *shim::MatMulPriceTerms(1, kind, call.m, call.n, call.k, 0);
      EXPECT_EQ(answer->cycles, absl::Uint128Low64(shim::ComputeCycles(terms)));
      EXPECT_EQ(v->cycles, absl::Uint128Low64(shim::CheckCycles(call.m, call.n, call.k)));
    }
  }
  // Verifier state is held from the memory budget while cached (one per tensor).
  EXPECT_GT(verifier.service->verifier_memory_bytes(), 0);
  EXPECT_GE(verifier.service->memory_budget().used_bytes(),
            verifier.service->verifier_memory_bytes());
  EXPECT_EQ(verifier.service->Info().verifier_bytes, verifier.service->verifier_memory_bytes());
}

TEST(VerifiedModeTest, EveryTestFaultIsRejectedNamingTheComputingNode) {
  Daemon verifier("v", TestFault::kNone);
  const TestFault faults[] = {TestFault::kFlipOutputBit, TestFault::kFlipExactBit,
                              TestFault::kWrongWeights, TestFault::kReplay};
  for (TestFault fault : faults) {
    Daemon computing(TestFaultName(fault), fault);
    Daemon honest("h", TestFault::kNone);
    for (ops::OpKind kind : kKinds) {
      int rejected = 0, unchanged = 0;
      for (uint64_t seed = 1; seed <= 30; ++seed) {
        auto in = *ops::MakeRandomInputs(kind, 2, 8, 64, seed, ops::InputProfile::kRealistic);
        MatMulCall call = Inline(in);
        call.exact_output = true;
        auto answer = computing.service->MatMul(call);
        ASSERT_TRUE(answer.ok()) << answer.status();
        auto truth = honest.service->MatMul(call);
        ASSERT_TRUE(truth.ok());
        if (answer->out == truth->out && answer->exact == truth->exact) {
          ++unchanged;  // e.g. a changed weight met a zero activation: a correct answer
          continue;
        }
        call.exact_output = false;
        const int64_t before = verifier.service->verifier_memory_bytes();
        auto v = Check(verifier, call, *answer, 1, 7);
        ASSERT_TRUE(v.ok()) << v.status();
        const Verification& r = *v->verification;
        EXPECT_FALSE(r.accepted) << TestFaultName(fault) << " " << ops::OpKindName(kind) << " seed "
                                 << seed;
        EXPECT_NE(r.reason.find("computing node 7 answered wrongly"), std::string::npos)
            << r.reason;
        EXPECT_TRUE(util::Ed25519Verify(
            verifier.key,
            shim::VerifiedShareMessage(ops::Sha256Of({call.a}), r.output_digest, false),
            r.signature));
        // A rejection draws a new secret: the verifier state of the old one is gone.
        EXPECT_GT(before + r.verifier_bytes, 0);
        EXPECT_EQ(verifier.service->verifier_memory_bytes(), 0);
        ++rejected;
      }
      EXPECT_GE(rejected, 20) << TestFaultName(fault) << " " << ops::OpKindName(kind)
                              << " (unchanged answers: " << unchanged << ")";
    }
  }
}

TEST(VerifiedModeTest, EpochsRotateAndOldEpochsAreRefused) {
  Daemon computing("c", TestFault::kNone), verifier("v", TestFault::kNone);
  auto in = *ops::MakeRandomInputs(ops::OpKind::kMatMulQ8_0Q8_0, 1, 8, 64, 5);
  MatMulCall call = Inline(in);
  MatMulCall exact_call = call;
  exact_call.exact_output = true;
  auto answer = *computing.service->MatMul(exact_call);
  EXPECT_EQ(Check(verifier, call, answer, 5, 0)->verification->epoch, 5u);
  EXPECT_EQ(Check(verifier, call, answer, 6, 0)->verification->epoch, 6u);
  auto old = Check(verifier, call, answer, 5, 0);
  EXPECT_EQ(old.status().code(), absl::StatusCode::kFailedPrecondition) << old.status();
}

TEST(VerifiedModeTest, RequestsVerifiedModeCannotServe) {
  Daemon verifier("v", TestFault::kNone);
  // Every matmul kind has a verified mode now, the K-quants included: their exact sums come
  // back (16 bytes per output value before compaction, 8 after).
  auto kq = *ops::MakeRandomInputs(ops::OpKind::kMatMulQ8_0Q4_K, 1, 8, 256, 1);
  MatMulCall call = Inline(kq);
  call.exact_output = true;
  auto kq_answer = verifier.service->MatMul(call);
  ASSERT_TRUE(kq_answer.ok()) << kq_answer.status();
  EXPECT_TRUE(kq_answer->exact.size() == 8 * 8 || kq_answer->exact.size() == 16 * 8)
      << kq_answer->exact.size();
  // Verify without EnableVerifiedMode.
  auto backend = std::move(*ops::CreateBackend("reference"));
  const auto root = std::filesystem::temp_directory_path() /
                    ("dn_verified_mode_test_off_" + std::to_string(::getpid()));
  auto store = std::move(*WeightStore::Open({root, 0, false}));
  auto models = std::move(*ModelRegistry::Open(store.get()));
  NodeService plain(backend.get(), store.get(), models.get(), kMiB);
  auto in = *ops::MakeRandomInputs(ops::OpKind::kMatMulS8S32, 1, 8, 64, 1);
  MatMulCall v = Inline(in);
  v.verify = true;
  std::vector<uint8_t> out(32);
  v.answer.out = out;
  EXPECT_EQ(plain.MatMul(v).status().code(), absl::StatusCode::kFailedPrecondition);
  std::filesystem::remove_all(root);
}

TEST(VerifiedModeTest, TestFaultsNeedTheEnvironmentFlag) {
  unsetenv(kAllowTestFaultsEnv);
  EXPECT_EQ(ParseTestFault("").value(), TestFault::kNone);
  EXPECT_EQ(ParseTestFault("replay").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ParseTestFault("bogus").status().code(), absl::StatusCode::kInvalidArgument);
  auto refused = ConfigFromText("test_fault: \"flip_output_bit\"");
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("DATANODE_ALLOW_TEST_FAULTS"), std::string::npos)
      << refused.status();
  EXPECT_TRUE(ConfigFromText("").ok());
  setenv(kAllowTestFaultsEnv, "1", 1);
  auto allowed = ConfigFromText("test_fault: \"flip_output_bit\"");
  ASSERT_TRUE(allowed.ok()) << allowed.status();
  EXPECT_EQ(allowed->test_fault, "flip_output_bit");
  EXPECT_EQ(ParseTestFault("wrong_weights").value(), TestFault::kWrongWeights);
  unsetenv(kAllowTestFaultsEnv);
}

}  // namespace
}  // namespace datanode::node
