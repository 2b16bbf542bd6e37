// Copyright 2026 The datanode Authors.
//
// accel_matmul in verified mode through the C ABI, as replicas run it (ic0_accel.h
// "VERIFIED MODE"), on 5 real datanoded processes (n = 5, f = 1, n - f = 4), each with its
// own node key, store and ic0_accel handle; node 4 runs with test_fault flip_output_bit
// (it answers wrongly whenever it computes, and checks honestly). A canister's Candid
// argument with mode = verified goes through the computing handle, its answer through
// every other handle's check, the verdicts through the combine: the reply's `out` equals
// the replicated call's byte for byte and the charge is VerifiedPrice; node 4's answers are
// caught and named (SYS_TRANSIENT); malformed answers and misrouted modes are clear rejects.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "daemon_process.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/util/ed25519.h"
#include "datanode/util/hex.h"
#include "gate_test_util.h"
#include "gtest/gtest.h"
#include "ic0_accel.h"
#include "node/shim/interface.h"
#include "node/shim/pricing.h"

namespace datanode {
namespace {
namespace fs = std::filesystem;

constexpr uint32_t kNodes = 5;
constexpr uint32_t kFaulty = 4;
constexpr uint64_t kPlenty = uint64_t{1} << 60;

struct Result {
  Result() = default;
  Result(const Result&) = delete;
  ~Result() { ic0_accel_result_free(&r); }
  std::string text() const { return std::string(reinterpret_cast<char*>(r.data), r.data_len); }
  std::vector<uint8_t> bytes() const { return {r.data, r.data + r.data_len}; }
  ic0_accel_result r{};
};

// What the replicas of one verified call produced.
struct VerifiedRun {
  uint32_t compute_code = 0;
  std::vector<uint8_t> answer;
  std::vector<ic0_accel_verdict> verdicts;
  std::vector<std::string> reasons;
  std::vector<uint32_t> combine_codes;  // per replica
  std::vector<std::string> combined;    // per replica: reply bytes or reject message
  std::vector<uint64_t> charged;        // per replica
};

class VerifiedCallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("dn_verified_call_" + std::to_string(getpid()));
    fs::remove_all(root_);
    ::setenv("DATANODE_ALLOW_TEST_FAULTS", "1", 1);
    auto in = ops::MakeRandomInputs(ops::OpKind::kMatMulS8S32, gate_test::kM, gate_test::kN,
                                    gate_test::kK, 16);
    ASSERT_TRUE(in.ok()) << in.status();
    fs::create_directories(root_);
    gate_test::WriteModel(root_ / "m.safetensors", in->w);
    for (uint32_t i = 0; i < kNodes; ++i) {
      const fs::path dir = root_ / ("n" + std::to_string(i));
      fs::create_directories(dir);
      ASSERT_TRUE(
          util::GenerateEd25519KeyFiles(dir / "node-key.pem", dir / "node-key.pub.pem").ok());
      auto pub = util::ReadEd25519PublicKey(dir / "node-key.pub.pem");
      ASSERT_TRUE(pub.ok()) << pub.status();
      keys_.insert(keys_.end(), pub->begin(), pub->end());
      std::string conf = "backend_threads: 1\n";
      if (i == kFaulty) conf += "test_fault: \"flip_output_bit\"\n";
      daemons_.push_back(std::make_unique<DaemonProcess>(dir, conf));
      grpc::ClientContext ctx;
      v1::ImportModelRequest import;
      import.set_path((root_ / "m.safetensors").string());
      v1::ModelInfo model;
      grpc::Status st = daemons_.back()->store->ImportModel(&ctx, import, &model);
      ASSERT_TRUE(st.ok()) << "node " << i << ": " << st.error_message();
      model_digest_ = model.digest();
      ic0_accel_config c{};
      c.abi_version = IC0_ACCEL_ABI_VERSION;
      addresses_.push_back("unix:" + (dir / "d.sock").string());
      c.daemon_address = addresses_.back().c_str();
      c.subnet_size = kNodes;
      c.timeout_ms = 20000;
      ic0_accel* h = nullptr;
      char err[256] = {};
      ASSERT_EQ(ic0_accel_create(&c, &h, err, sizeof err), 0) << err;
      handles_.push_back(h);
    }
    args_.op = ops::OpKind::kMatMulS8S32;
    args_.m = gate_test::kM;
    args_.n = gate_test::kN;
    args_.k = gate_test::kK;
    args_.weights.model = *util::HexDecodeBytes(model_digest_);
    args_.weights.tensor = "w";
    args_.a = in->a;
  }
  void TearDown() override {
    for (ic0_accel* h : handles_) ic0_accel_destroy(h);
    for (auto& d : daemons_) EXPECT_EQ(d->Stop(), 0);
    fs::remove_all(root_);
  }

  std::vector<uint8_t> Arg(std::optional<shim::CallMode> mode) const {
    shim::MatMulArgs a = args_;
    a.mode = mode;
    return shim::EncodeMatMulArgs(a);
  }

  // The whole protocol for one call: compute on `computing`, check on every other
  // node, combine on every node.
  VerifiedRun Run(const std::vector<uint8_t>& arg, uint32_t computing, uint64_t call_id,
                  uint64_t cycles = kPlenty) {
    VerifiedRun run;
    uint8_t request[32];
    ic0_accel_request_digest("accel_matmul", 12, arg.data(), arg.size(), call_id, request);
    {
      Result answer;
      run.compute_code = ic0_accel_verified_compute(handles_[computing], arg.data(), arg.size(),
                                                    cycles, 0, &answer.r);
      if (run.compute_code == IC0_ACCEL_REPLY) {
        EXPECT_EQ(answer.r.cycles_charged_low, 0u) << "the combine charges, not the computing node";
        run.answer = answer.bytes();
      }
    }
    if (run.compute_code == IC0_ACCEL_REPLY) {
      for (uint32_t v = 0; v < kNodes; ++v) {
        if (v == computing) continue;
        ic0_accel_verdict verdict{};
        Result reason;
        const uint32_t code = ic0_accel_verified_check(
            handles_[v], arg.data(), arg.size(), cycles, 0, request, v, computing,
            /*epoch=*/1, run.answer.data(), run.answer.size(), &verdict, &reason.r);
        EXPECT_EQ(code, IC0_ACCEL_REPLY) << "verifier " << v << ": " << reason.text();
        if (code != IC0_ACCEL_REPLY) continue;
        EXPECT_EQ(verdict.node, v);
        run.verdicts.push_back(verdict);
        run.reasons.push_back(reason.text());
      }
    }
    for (uint32_t i = 0; i < kNodes; ++i) {
      Result out;
      run.combine_codes.push_back(ic0_accel_verified_combine(
          handles_[i], arg.data(), arg.size(), cycles, 0, request, keys_.data(), kNodes, nullptr,
          computing, run.answer.data(), run.answer.size(), run.verdicts.data(), run.verdicts.size(),
          &out.r));
      run.combined.push_back(out.text());
      run.charged.push_back(out.r.cycles_charged_low);
    }
    return run;
  }

  fs::path root_;
  std::vector<uint8_t> keys_;  // 32 bytes per node
  std::vector<std::unique_ptr<DaemonProcess>> daemons_;
  std::vector<std::string> addresses_;
  std::vector<ic0_accel*> handles_;
  std::string model_digest_;
  shim::MatMulArgs args_;
};

TEST_F(VerifiedCallTest, HonestCallsEqualTheReplicatedOutputAndChargeTheVerifiedPrice) {
  // The replicated call, through node 0's handle.
  const std::vector<uint8_t> replicated_arg = Arg(std::nullopt);
  Result replicated;
  ASSERT_EQ(ic0_accel_call(handles_[0], "accel_matmul", 12, replicated_arg.data(),
                           replicated_arg.size(), kPlenty, 0, &replicated.r),
            IC0_ACCEL_REPLY)
      << replicated.text();
  auto want = shim::DecodeMatMulReply(replicated.bytes());
  ASSERT_TRUE(want.ok()) << want.status();

  const std::vector<uint8_t> arg = Arg(shim::CallMode::kVerified);
  EXPECT_EQ(ic0_accel_call_mode(handles_[0], "accel_matmul", 12, arg.data(), arg.size()),
            static_cast<uint32_t>(IC0_ACCEL_MODE_VERIFIED));
  EXPECT_EQ(ic0_accel_call_mode(handles_[0], "accel_matmul", 12, replicated_arg.data(),
                                replicated_arg.size()),
            static_cast<uint32_t>(IC0_ACCEL_MODE_REPLICATED));
  auto terms = shim::MatMulPriceTerms(kNodes, args_.op, args_.m, args_.n, args_.k, arg.size());
  ASSERT_TRUE(terms.ok());
  const absl::uint128 price = shim::VerifiedPrice(*terms, args_.m, args_.n, args_.k);
  ASSERT_LT(price, absl::uint128(kPlenty));
  // The price query in verified mode says the same.
  shim::PriceArgs p{args_.op, args_.m, args_.n, args_.k, arg.size(), shim::CallMode::kVerified};
  const std::vector<uint8_t> price_arg = shim::EncodePriceArgs(p);
  Result quoted;
  ASSERT_EQ(ic0_accel_call(handles_[2], "accel_price", 11, price_arg.data(), price_arg.size(), 0, 0,
                           &quoted.r),
            IC0_ACCEL_REPLY);
  EXPECT_EQ(shim::DecodePriceReply(quoted.bytes())->cycles, price);

  // Computing nodes from the beacon (the honest ones: node 4 is evicted from this draw).
  std::vector<uint8_t> evicted(kNodes, 0);
  evicted[kFaulty] = 1;
  int calls = 0;
  for (uint64_t beacon = 100; calls < 3; ++beacon) {
    uint32_t computing = 99;
    ASSERT_EQ(ic0_accel_verified_pick(beacon, evicted.data(), kNodes, &computing), 0);
    ASSERT_NE(computing, kFaulty);
    VerifiedRun run = Run(arg, computing, beacon);
    ASSERT_EQ(run.compute_code, IC0_ACCEL_REPLY);
    ASSERT_EQ(run.verdicts.size(), kNodes - 1);
    for (size_t i = 0; i < run.verdicts.size(); ++i) {
      EXPECT_EQ(run.verdicts[i].accepted, 1u) << run.reasons[i];
      EXPECT_EQ(run.reasons[i], "");
    }
    for (uint32_t i = 0; i < kNodes; ++i) {
      ASSERT_EQ(run.combine_codes[i], IC0_ACCEL_REPLY)
          << "replica " << i << ": " << run.combined[i];
      EXPECT_EQ(run.combined[i], run.combined[0]) << "every replica gives the same reply";
      EXPECT_EQ(run.charged[i], absl::Uint128Low64(price));
    }
    auto got = shim::DecodeMatMulReply(
        {reinterpret_cast<const uint8_t*>(run.combined[0].data()), run.combined[0].size()});
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->out, want->out) << "computing node " << computing;
    EXPECT_EQ(got->out_digest, want->out_digest);
    EXPECT_EQ(got->cycles_charged, price);
    ++calls;
  }
  // Too few cycles for the verified price: the same CANISTER_REJECT with the reject fee in
  // every role, before any daemon runs.
  VerifiedRun poor = Run(arg, 0, 7, absl::Uint128Low64(price) - 1);
  EXPECT_EQ(poor.compute_code, static_cast<uint32_t>(IC0_ACCEL_CANISTER_REJECT));
  for (uint32_t i = 0; i < kNodes; ++i) {
    EXPECT_EQ(poor.combine_codes[i], static_cast<uint32_t>(IC0_ACCEL_CANISTER_REJECT));
    EXPECT_NE(poor.combined[i].find("(verified mode)"), std::string::npos) << poor.combined[i];
    EXPECT_EQ(poor.charged[i], absl::Uint128Low64(shim::RejectFee(kNodes, arg.size())));
  }
}

TEST_F(VerifiedCallTest, AFaultyComputingNodeIsCaughtAndNamed) {
  const std::vector<uint8_t> arg = Arg(shim::CallMode::kVerified);
  for (uint64_t call_id = 1; call_id <= 2; ++call_id) {
    VerifiedRun run = Run(arg, kFaulty, call_id);
    ASSERT_EQ(run.compute_code, IC0_ACCEL_REPLY);
    ASSERT_EQ(run.verdicts.size(), kNodes - 1);
    for (size_t i = 0; i < run.verdicts.size(); ++i) {
      EXPECT_EQ(run.verdicts[i].accepted, 0u);
      EXPECT_NE(run.reasons[i].find("computing node 4"), std::string::npos) << run.reasons[i];
    }
    for (uint32_t i = 0; i < kNodes; ++i) {
      EXPECT_EQ(run.combine_codes[i], static_cast<uint32_t>(IC0_ACCEL_SYS_TRANSIENT));
      EXPECT_NE(run.combined[i].find("computing node 4 answered wrongly"), std::string::npos)
          << run.combined[i];
      EXPECT_EQ(run.charged[i], 0u) << "a caught computing node costs the caller nothing";
    }
  }
}

TEST_F(VerifiedCallTest, MalformedAnswersAndMisroutedModesAreClearRejects) {
  const std::vector<uint8_t> arg = Arg(shim::CallMode::kVerified);
  uint8_t request[32];
  ic0_accel_request_digest("accel_matmul", 12, arg.data(), arg.size(), 5, request);
  Result answer;
  ASSERT_EQ(ic0_accel_verified_compute(handles_[0], arg.data(), arg.size(), kPlenty, 0, &answer.r),
            IC0_ACCEL_REPLY)
      << answer.text();
  const std::vector<uint8_t> good = answer.bytes();
  const size_t out_bytes = gate_test::kM * gate_test::kN * 4;
  ASSERT_GE(good.size(), 8 + out_bytes);

  auto check = [&](const std::vector<uint8_t>& a, ic0_accel_verdict* verdict, Result* r) {
    return ic0_accel_verified_check(handles_[1], arg.data(), arg.size(), kPlenty, 0, request, 1, 0,
                                    1, a.data(), a.size(), verdict, &r->r);
  };
  // Not an answer at all, or cut inside the output: SYS_TRANSIENT naming node 0, no verdict.
  std::vector<uint8_t> bad_magic = good;
  bad_magic[0] ^= 1;
  const std::vector<uint8_t> cut(good.begin(), good.begin() + 8 + out_bytes - 1);
  for (const auto& bad : {bad_magic, cut, std::vector<uint8_t>{}}) {
    ic0_accel_verdict verdict{};
    verdict.node = 77;
    Result r;
    EXPECT_EQ(check(bad, &verdict, &r), static_cast<uint32_t>(IC0_ACCEL_SYS_TRANSIENT)) << r.text();
    EXPECT_NE(r.text().find("answer of computing node 0 is malformed"), std::string::npos)
        << r.text();
    EXPECT_EQ(verdict.node, 77u) << "no verdict on a malformed answer";
    Result combined;
    EXPECT_EQ(ic0_accel_verified_combine(handles_[2], arg.data(), arg.size(), kPlenty, 0, request,
                                         keys_.data(), kNodes, nullptr, 0, bad.data(), bad.size(),
                                         nullptr, 0, &combined.r),
              static_cast<uint32_t>(IC0_ACCEL_SYS_TRANSIENT));
    EXPECT_NE(combined.text().find("computing node 0"), std::string::npos) << combined.text();
  }
  // A well-formed envelope whose exact sums were changed: the verifier's daemon signs a
  // rejection naming node 0, and the combine names node 0 once more than f reject.
  std::vector<uint8_t> flipped = good;
  if (flipped.size() > 8 + out_bytes)
    flipped.back() ^= 0x10;
  else
    flipped[8] ^= 1;  // s8_s32 has no exact sums: change the output instead
  std::vector<ic0_accel_verdict> verdicts;
  for (uint32_t v = 1; v < kNodes; ++v) {
    ic0_accel_verdict verdict{};
    Result r;
    ASSERT_EQ(ic0_accel_verified_check(handles_[v], arg.data(), arg.size(), kPlenty, 0, request, v,
                                       0, 1, flipped.data(), flipped.size(), &verdict, &r.r),
              IC0_ACCEL_REPLY)
        << r.text();
    EXPECT_EQ(verdict.accepted, 0u);
    EXPECT_NE(r.text().find("computing node 0"), std::string::npos) << r.text();
    verdicts.push_back(verdict);
  }
  Result caught;
  EXPECT_EQ(ic0_accel_verified_combine(handles_[3], arg.data(), arg.size(), kPlenty, 0, request,
                                       keys_.data(), kNodes, nullptr, 0, flipped.data(),
                                       flipped.size(), verdicts.data(), verdicts.size(), &caught.r),
            static_cast<uint32_t>(IC0_ACCEL_SYS_TRANSIENT));
  EXPECT_NE(caught.text().find("computing node 0 answered wrongly"), std::string::npos)
      << caught.text();
  // Too few verdicts (n - f = 4 needed): SYS_TRANSIENT, nothing charged.
  Result few;
  EXPECT_EQ(ic0_accel_verified_combine(handles_[3], arg.data(), arg.size(), kPlenty, 0, request,
                                       keys_.data(), kNodes, nullptr, 0, good.data(), good.size(),
                                       nullptr, 0, &few.r),
            static_cast<uint32_t>(IC0_ACCEL_SYS_TRANSIENT));
  EXPECT_EQ(few.r.cycles_charged_low, 0u);
  // Keys for another subnet size: SYS_FATAL.
  Result wrong_n;
  EXPECT_EQ(ic0_accel_verified_combine(handles_[3], arg.data(), arg.size(), kPlenty, 0, request,
                                       keys_.data(), kNodes - 1, nullptr, 0, good.data(),
                                       good.size(), nullptr, 0, &wrong_n.r),
            static_cast<uint32_t>(IC0_ACCEL_SYS_FATAL));
  // A node checking its own answer: SYS_FATAL.
  {
    ic0_accel_verdict verdict{};
    Result r;
    EXPECT_EQ(ic0_accel_verified_check(handles_[0], arg.data(), arg.size(), kPlenty, 0, request, 0,
                                       0, 1, good.data(), good.size(), &verdict, &r.r),
              static_cast<uint32_t>(IC0_ACCEL_SYS_FATAL))
        << r.text();
  }

  // Modes in the wrong entry point: a verified call through ic0_accel_call is not run
  // (DESTINATION_INVALID, free); a replicated one through the verified entry points is
  // the replica's mistake (SYS_FATAL, free).
  Result via_call;
  EXPECT_EQ(ic0_accel_call(handles_[0], "accel_matmul", 12, arg.data(), arg.size(), kPlenty, 0,
                           &via_call.r),
            static_cast<uint32_t>(IC0_ACCEL_DESTINATION_INVALID));
  EXPECT_NE(via_call.text().find("verified mode"), std::string::npos) << via_call.text();
  EXPECT_EQ(via_call.r.cycles_charged_low, 0u);
  const std::vector<uint8_t> replicated = Arg(shim::CallMode::kReplicated);
  Result misrouted;
  EXPECT_EQ(ic0_accel_verified_compute(handles_[0], replicated.data(), replicated.size(), kPlenty,
                                       0, &misrouted.r),
            static_cast<uint32_t>(IC0_ACCEL_SYS_FATAL));
  EXPECT_EQ(misrouted.r.cycles_charged_low, 0u);
  // The handles and daemons still serve.
  Result after;
  EXPECT_EQ(ic0_accel_call(handles_[1], "accel_matmul", 12, replicated.data(), replicated.size(),
                           kPlenty, 0, &after.r),
            IC0_ACCEL_REPLY)
      << after.text();
}

}  // namespace
}  // namespace datanode
