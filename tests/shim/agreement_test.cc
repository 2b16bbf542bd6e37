// Copyright 2026 The datanode Authors.
//
// Shares and agreement: Combine on a 13-node subnet with honest, wrong, forged, replayed,
// equivocating and missing shares (Ed25519 itself is tested in tests/util).
#include "node/shim/agreement.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace datanode::shim {
namespace {

class CombineTest : public ::testing::Test {
 protected:
  static constexpr uint32_t kN = 13;

  void SetUp() override {
    for (uint32_t i = 0; i < kN; ++i) {
      std::vector<uint8_t> seed(32, static_cast<uint8_t>(i + 1));
      auto k = NodeKey::FromSeed(seed);
      ASSERT_TRUE(k.ok());
      keys_.push_back(*k);
      pubs_.push_back(k->public_key());
    }
    const std::vector<uint8_t> arg = {'D', 'I', 'D', 'L', 0, 0};
    request_ = RequestDigest("accel_matmul", arg, 7);
    const std::vector<uint8_t> reply = {1, 2, 3};
    good_ = ResultDigest(RejectCode::kNone, reply);
    const std::vector<uint8_t> other = {1, 2, 4};
    bad_ = ResultDigest(RejectCode::kNone, other);
  }

  Share ShareOf(uint32_t node, const Sha256& result) {
    auto s = MakeShare(keys_[node], node, request_, result);
    EXPECT_TRUE(s.ok());
    return *s;
  }

  std::vector<Share> Honest() {
    std::vector<Share> s;
    for (uint32_t i = 0; i < kN; ++i) s.push_back(ShareOf(i, good_));
    return s;
  }

  std::vector<NodeKey> keys_;
  std::vector<PublicKey> pubs_;
  Sha256 request_{}, good_{}, bad_{};
};

TEST_F(CombineTest, AllHonestAgree) {
  Agreement a = Combine(pubs_, request_, Honest());
  EXPECT_TRUE(a.agreed) << a.message;
  EXPECT_EQ(a.threshold, 9u);
  EXPECT_EQ(a.result_digest, good_);
  EXPECT_EQ(a.agreeing.size(), kN);
  EXPECT_TRUE(a.disagreeing.empty() && a.invalid.empty() && a.missing.empty());
}

TEST_F(CombineTest, FourFaultyOfEveryKindStillAgreeAndAreNamed) {
  std::vector<Share> s = Honest();
  s[2] = ShareOf(2, bad_);    // a wrong result, properly signed
  s[5].signature[0] ^= 0x40;  // a forged / corrupted signature
  s[8].result_digest = bad_;  // result changed after signing
  s.erase(s.begin() + 11);    // node 11 crashed: no share
  Agreement a = Combine(pubs_, request_, s);
  ASSERT_TRUE(a.agreed) << a.message;
  EXPECT_EQ(a.result_digest, good_);
  EXPECT_EQ(a.agreeing.size(), 9u);
  EXPECT_EQ(a.disagreeing, (std::vector<uint32_t>{2}));
  EXPECT_EQ(a.invalid, (std::vector<uint32_t>{5, 8}));
  EXPECT_EQ(a.missing, (std::vector<uint32_t>{11}));
  EXPECT_NE(a.message.find("9 of 13"), std::string::npos) << a.message;
}

TEST_F(CombineTest, FiveWrongResultsIsAFatalNoAgreement) {
  std::vector<Share> s = Honest();
  for (uint32_t i : {0u, 3u, 6u, 9u, 12u}) s[i] = ShareOf(i, bad_);
  Agreement a = Combine(pubs_, request_, s);
  EXPECT_FALSE(a.agreed);
  EXPECT_EQ(a.reject, RejectCode::kSysFatal) << a.message;
  EXPECT_NE(a.message.find("no agreement"), std::string::npos);
}

TEST_F(CombineTest, FiveMissingIsATransientNoAgreement) {
  std::vector<Share> s = Honest();
  s.resize(8);
  Agreement a = Combine(pubs_, request_, s);
  EXPECT_FALSE(a.agreed);
  EXPECT_EQ(a.reject, RejectCode::kSysTransient) << a.message;
  EXPECT_EQ(a.missing.size(), 5u);
}

TEST_F(CombineTest, ReplayedEquivocatingAndForeignSharesDoNotCount) {
  std::vector<Share> s = Honest();
  // Node 1 re-sends a share from another call.
  const std::vector<uint8_t> other_arg = {'D', 'I', 'D', 'L', 0, 1};
  auto replay = MakeShare(keys_[1], 1, RequestDigest("accel_matmul", other_arg, 7), good_);
  ASSERT_TRUE(replay.ok());
  s[1] = *replay;
  // Node 4 signs both outcomes.
  s.push_back(ShareOf(4, bad_));
  // Node 7's slot carries a share signed by node 6's key.
  s[7] = *MakeShare(keys_[6], 7, request_, good_);
  // A share from a node index outside the subnet is ignored.
  s.push_back(*MakeShare(keys_[0], 99, request_, bad_));
  Agreement a = Combine(pubs_, request_, s);
  ASSERT_TRUE(a.agreed) << a.message;
  EXPECT_EQ(a.agreeing.size(), 10u);
  EXPECT_EQ(a.invalid, (std::vector<uint32_t>{1, 4, 7}));
  // Two shares from the same honest node count once.
  std::vector<Share> dup(9, ShareOf(0, good_));
  EXPECT_FALSE(Combine(pubs_, request_, dup).agreed);
}

TEST_F(CombineTest, DigestsSeparateCallsAndOutcomes) {
  const std::vector<uint8_t> arg = {1, 2};
  EXPECT_NE(RequestDigest("accel_matmul", arg, 1), RequestDigest("accel_matmul", arg, 2));
  EXPECT_NE(RequestDigest("accel_matmul", arg, 1), RequestDigest("accel_price", arg, 1));
  EXPECT_NE(ResultDigest(RejectCode::kNone, arg), ResultDigest(RejectCode::kCanisterReject, arg));
}

// Verified mode: node 4 computes, the other 12 verify; 9 acceptances are needed.
class CombineVerifiedTest : public CombineTest {
 protected:
  static constexpr uint32_t kComputing = 4;
  VerifiedShare VerdictOf(uint32_t node, bool accepted, const Sha256& digest) {
    VerifiedShare v;
    v.node = node;
    v.request_digest = request_;
    v.output_digest = digest;
    v.accepted = accepted;
    v.signature = *keys_[node].Sign(VerifiedShareMessage(request_, digest, accepted));
    if (!accepted) v.reason = "computing node 4 answered wrongly: freivalds check failed";
    return v;
  }
  // `accepting` verifiers accept, `rejecting` reject, the rest send nothing.
  std::vector<VerifiedShare> Verdicts(uint32_t accepting, uint32_t rejecting) {
    std::vector<VerifiedShare> out;
    for (uint32_t i = 0; i < kN; ++i) {
      if (i == kComputing) continue;
      if (accepting > 0) {
        out.push_back(VerdictOf(i, true, good_)), --accepting;
      } else if (rejecting > 0) {
        out.push_back(VerdictOf(i, false, good_)), --rejecting;
      }
    }
    return out;
  }
};

TEST_F(CombineVerifiedTest, AcceptedOnlyWithNMinusFVerifierShares) {
  VerifiedAgreement all = CombineVerified(pubs_, request_, kComputing, good_, Verdicts(12, 0));
  EXPECT_TRUE(all.agreed) << all.message;
  EXPECT_EQ(all.threshold, 9u);
  EXPECT_EQ(all.accepting.size(), 12u);
  VerifiedAgreement nine = CombineVerified(pubs_, request_, kComputing, good_, Verdicts(9, 0));
  EXPECT_TRUE(nine.agreed) << nine.message;
  EXPECT_EQ(nine.missing.size(), 3u);
  VerifiedAgreement eight = CombineVerified(pubs_, request_, kComputing, good_, Verdicts(8, 0));
  EXPECT_FALSE(eight.agreed);
  EXPECT_FALSE(eight.computing_node_faulty);
  EXPECT_EQ(eight.reject, RejectCode::kSysTransient);
  // The computing node's own "verified" share never counts.
  std::vector<VerifiedShare> with_self = Verdicts(8, 0);
  with_self.push_back(VerdictOf(kComputing, true, good_));
  VerifiedAgreement self = CombineVerified(pubs_, request_, kComputing, good_, with_self);
  EXPECT_FALSE(self.agreed) << self.message;
  EXPECT_EQ(self.invalid, std::vector<uint32_t>{kComputing});
}

TEST_F(CombineVerifiedTest, RejectionsBeyondFNameTheComputingNode) {
  VerifiedAgreement a = CombineVerified(pubs_, request_, kComputing, good_, Verdicts(0, 12));
  EXPECT_FALSE(a.agreed);
  EXPECT_TRUE(a.computing_node_faulty);
  EXPECT_EQ(a.rejecting.size(), 12u);
  EXPECT_NE(a.message.find("computing node 4 answered wrongly"), std::string::npos) << a.message;
  EXPECT_NE(a.message.find("freivalds"), std::string::npos) << a.message;
  // f = 4 rejections (possibly byzantine verifiers) do not convict it, nor block 8 honest
  // acceptances from agreeing (they need 9).
  VerifiedAgreement four = CombineVerified(pubs_, request_, kComputing, good_, Verdicts(8, 4));
  EXPECT_FALSE(four.agreed);
  EXPECT_FALSE(four.computing_node_faulty);
  VerifiedAgreement nine_and_three =
      CombineVerified(pubs_, request_, kComputing, good_, Verdicts(9, 3));
  EXPECT_TRUE(nine_and_three.agreed);
  EXPECT_EQ(nine_and_three.rejecting.size(), 3u);
}

TEST_F(CombineVerifiedTest, ForgedOrForeignVerdictsDoNotCount) {
  std::vector<VerifiedShare> v = Verdicts(9, 0);
  v[0].accepted = false;       // a verdict flipped after signing
  v[1].output_digest = bad_;   // a verdict on another output
  v[2].request_digest = bad_;  // a verdict for another call
  VerifiedAgreement a = CombineVerified(pubs_, request_, kComputing, good_, v);
  EXPECT_FALSE(a.agreed);
  EXPECT_EQ(a.invalid.size(), 3u) << a.message;
  EXPECT_EQ(a.accepting.size(), 6u);
  // Two different verdicts from one node: neither counts.
  std::vector<VerifiedShare> eq = Verdicts(9, 0);
  eq.push_back(VerdictOf(eq[0].node, false, good_));
  VerifiedAgreement b = CombineVerified(pubs_, request_, kComputing, good_, eq);
  EXPECT_FALSE(b.agreed);
  EXPECT_EQ(b.invalid, std::vector<uint32_t>{eq[0].node});
}

}  // namespace
}  // namespace datanode::shim
