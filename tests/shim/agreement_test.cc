// Copyright 2026 The datanode Authors.
//
// Shares and agreement: Combine on a 13-node subnet with honest, wrong, forged, replayed,
// equivocating and missing shares (Ed25519 itself is tested in tests/util); verified
// mode's CombineVerified, the fault evidence it yields (CheckFaultEvidence) and the
// record of evicted nodes the computing-node draw skips.
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

// Fault evidence: node 4 computed, 12 verifiers rejected; > f = 4 valid rejections prove it.
class FaultEvidenceTest : public CombineVerifiedTest {
 protected:
  FaultEvidence Evidence(uint32_t rejecting) {
    std::vector<VerifiedShare> shares = Verdicts(0, rejecting);
    VerifiedAgreement a = CombineVerified(pubs_, request_, kComputing, good_, shares);
    auto e = FaultEvidenceFrom(a, request_, shares);
    EXPECT_TRUE(e.ok()) << e.status() << " " << a.message;
    return e.ok() ? *e : FaultEvidence{};
  }
  static void ExpectRefused(const absl::Status& s, const std::string& why) {
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_NE(s.message().find(why), std::string::npos) << s;
  }
};

TEST_F(FaultEvidenceTest, ValidEvidenceFromACombineChecks) {
  FaultEvidence all = Evidence(12);
  EXPECT_EQ(all.computing_node, kComputing);
  EXPECT_EQ(all.rejections.size(), 12u);
  EXPECT_TRUE(CheckFaultEvidence(pubs_, all).ok()) << CheckFaultEvidence(pubs_, all);
  // Five of them (f + 1) are enough.
  FaultEvidence five = Evidence(5);
  EXPECT_TRUE(CheckFaultEvidence(pubs_, five).ok()) << CheckFaultEvidence(pubs_, five);
  EXPECT_EQ(FaultSummary(five), "verified-mode fault on call " +
                                    ops::ToHex(request_).substr(0, 16) +
                                    ": rejected by verifiers [0,1,2,3,5]");
  // A combine that named nobody gives no evidence.
  std::vector<VerifiedShare> shares = Verdicts(8, 4);
  VerifiedAgreement four = CombineVerified(pubs_, request_, kComputing, good_, shares);
  EXPECT_EQ(FaultEvidenceFrom(four, request_, shares).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(FaultEvidenceTest, ForgedSignatureIsRefused) {
  FaultEvidence e = Evidence(12);
  e.rejections[3].signature[0] ^= 1;
  ExpectRefused(CheckFaultEvidence(pubs_, e), "signature does not verify");
  // An acceptance relabelled as a rejection does not verify either.
  FaultEvidence relabelled = Evidence(12);
  relabelled.rejections[0] = VerdictOf(relabelled.rejections[0].node, true, good_);
  relabelled.rejections[0].accepted = false;
  ExpectRefused(CheckFaultEvidence(pubs_, relabelled), "signature does not verify");
  // A genuine acceptance is no rejection.
  FaultEvidence acceptance = Evidence(12);
  acceptance.rejections[0] = VerdictOf(acceptance.rejections[0].node, true, good_);
  ExpectRefused(CheckFaultEvidence(pubs_, acceptance), "is an acceptance");
  // Keys the evidence was not signed under (another subnet's) do not check it.
  std::vector<PublicKey> other = pubs_;
  std::swap(other[0], other[1]);
  ExpectRefused(CheckFaultEvidence(other, Evidence(12)), "signature does not verify");
}

TEST_F(FaultEvidenceTest, TooFewRejectionsAreRefused) {
  FaultEvidence four = Evidence(12);
  four.rejections.resize(4);  // f = 4 could all be byzantine verifiers
  ExpectRefused(CheckFaultEvidence(pubs_, four), "4 valid rejections");
  ExpectRefused(CheckFaultEvidence(pubs_, four), "more than f = 4");
  FaultEvidence none = Evidence(12);
  none.rejections.clear();
  ExpectRefused(CheckFaultEvidence(pubs_, none), "0 valid rejections");
}

TEST_F(FaultEvidenceTest, DuplicateVerifierIsRefused) {
  // Five shares but only four verifiers: node 0's rejection twice.
  FaultEvidence e = Evidence(12);
  e.rejections.resize(4);
  e.rejections.push_back(e.rejections[0]);
  ExpectRefused(CheckFaultEvidence(pubs_, e), "node 0 appears more than once");
}

TEST_F(FaultEvidenceTest, TheComputingNodesOwnShareIsRefused) {
  FaultEvidence e = Evidence(12);
  e.rejections.push_back(VerdictOf(kComputing, false, good_));
  ExpectRefused(CheckFaultEvidence(pubs_, e), "is the computing node");
  // Evidence naming a node outside the key list.
  FaultEvidence outside = Evidence(12);
  outside.computing_node = kN;
  ExpectRefused(CheckFaultEvidence(pubs_, outside), "not in the subnet's 13 keys");
  // Evidence re-pointed at another node: node 0's share now is "the computing node's".
  FaultEvidence moved = Evidence(12);
  moved.computing_node = 0;
  ExpectRefused(CheckFaultEvidence(pubs_, moved), "node 0 is the computing node");
}

TEST_F(FaultEvidenceTest, AnotherRequestOrDigestIsRefused) {
  FaultEvidence call = Evidence(12);
  call.request_digest = bad_;  // the record claims another call than its shares signed
  ExpectRefused(CheckFaultEvidence(pubs_, call), "for another call");
  FaultEvidence share = Evidence(12);
  share.rejections[2].request_digest = bad_;  // one share from another call
  ExpectRefused(CheckFaultEvidence(pubs_, share), "for another call");
  FaultEvidence digest = Evidence(12);
  digest.output_digest = bad_;
  ExpectRefused(CheckFaultEvidence(pubs_, digest), "another output digest");
  // Shares signed for another call, carried under this one's digests: bad signatures.
  FaultEvidence resigned = Evidence(12);
  for (VerifiedShare& s : resigned.rejections) {
    s.signature = *keys_[s.node].Sign(VerifiedShareMessage(bad_, good_, false));
  }
  ExpectRefused(CheckFaultEvidence(pubs_, resigned), "signature does not verify");
}

// Evicted nodes: skipped by the draw, their verdicts set aside, n - f unchanged.
TEST_F(CombineVerifiedTest, EvictedNodesAreSkippedByTheDrawAndTheirSharesDoNotCount) {
  EvictedNodes out(kN);
  for (uint64_t b = 0; b < 100; ++b) EXPECT_EQ(*out.Pick(b), b % kN);
  out.Evict(4);
  out.Evict(7);
  EXPECT_EQ(out.Evicted(), (std::vector<uint32_t>{4, 7}));
  std::vector<int> picked(kN, 0);
  for (uint64_t b = 0; b < 1100; ++b) {
    auto p = out.Pick(b);
    ASSERT_TRUE(p.ok());
    ++picked[*p];
    EXPECT_EQ(*p, *out.Pick(b)) << "deterministic";
  }
  for (uint32_t i = 0; i < kN; ++i) EXPECT_EQ(picked[i], i == 4 || i == 7 ? 0 : 100) << i;
  EXPECT_EQ(*out.Pick(4), 5u);  // the 5th of [0,1,2,3,5,6,8,...]
  // Node 4 computes here only to test the combine; verifiers 0..2 are evicted too: 9
  // acceptances of which 3 are theirs do not reach n - f = 9.
  EvictedNodes three(kN);
  for (uint32_t i : {0u, 1u, 2u}) three.Evict(i);
  VerifiedAgreement a = CombineVerified(pubs_, request_, kComputing, good_, Verdicts(9, 0), &three);
  EXPECT_FALSE(a.agreed) << a.message;
  EXPECT_EQ(a.threshold, 9u);
  EXPECT_EQ(a.accepting.size(), 6u);
  EXPECT_EQ(a.out_of_class, (std::vector<uint32_t>{0, 1, 2}));
  EXPECT_TRUE(a.missing.size() == 3u) << a.message;  // 10..12 sent nothing; 0..2 did
  EXPECT_NE(a.message.find("out of class [0,1,2]"), std::string::npos) << a.message;
  VerifiedAgreement b =
      CombineVerified(pubs_, request_, kComputing, good_, Verdicts(12, 0), &three);
  EXPECT_TRUE(b.agreed) << b.message;
  // Nor do evicted verifiers' rejections convict: 5 rejections, 3 of them out of class.
  VerifiedAgreement c = CombineVerified(pubs_, request_, kComputing, good_, Verdicts(0, 5), &three);
  EXPECT_FALSE(c.computing_node_faulty) << c.message;
  // Readmitted, they count again; with every node out the draw refuses.
  three.Readmit(0);
  EXPECT_FALSE(three.IsEvicted(0));
  EvictedNodes all(2);
  all.Evict(0);
  all.Evict(1);
  EXPECT_EQ(all.Pick(0).status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace datanode::shim
