// Copyright 2026 The datanode Authors.
//
// A failed verified check takes the named computing node out, end to end (issue 16):
// 7 real datanoded processes on temp sockets (n = 7, f = 2, n - f = 5), node 0 with the
// test fault flip_output_bit, each with its own node key and the subnet's key list
// (subnet_keys_path). Node 0 computes a verified MatMul, the other 6 reject it,
// CombineVerified names node 0 faulty, and the fault record (shim::FaultEvidenceFrom)
// goes to node 0's daemon through Admission.ReportFault: it leaves its class (history,
// across a restart), the replica's shim in front of it (required_class) refuses calls,
// the subnet's draw (shim::EvictedNodes) skips it and its verdicts are set aside, and
// an admission run that passes restores it. Then the refusals: evidence for another
// node, forged, too short, malformed, no key list, no class.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "daemon_process.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/util/ed25519.h"
#include "datanode/util/hex.h"
#include "datanode/v1/admission_service.grpc.pb.h"
#include "gate_test_util.h"
#include "gtest/gtest.h"
#include "node/shim/agreement.h"

namespace datanode {
namespace {
namespace fs = std::filesystem;
using gate_test::kClass;
using gate_test::kNonce;
using gate_test::Replica;

constexpr uint32_t kNodes = 7;
constexpr uint32_t kFaulty = 0;
constexpr uint32_t kNoKeys = kNodes - 1;  // started without subnet_keys_path
constexpr uint64_t kSeed = 16;

// SHA-256(seed, draw)'s first 8 bytes, little-endian: the simulation's beacon value.
uint64_t BeaconValue(uint64_t seed, uint64_t draw) {
  uint8_t in[16];
  std::memcpy(in, &seed, 8);
  std::memcpy(in + 8, &draw, 8);
  const ops::Sha256 d = ops::Sha256Of({ops::ByteSpan(in, 16)});
  uint64_t v = 0;
  std::memcpy(&v, d.data(), 8);
  return v;
}

struct Call {
  shim::Sha256 request{};
  shim::Sha256 output{};
  std::vector<shim::VerifiedShare> shares;
  shim::VerifiedAgreement agreement;
};

class FaultEvictionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("dn_fault_eviction_" + std::to_string(getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "classes");
    std::ofstream(root_ / "classes" / (std::string(kClass) + ".textproto"))
        << gate_test::ClassText("0.1");
    const char* old = std::getenv("DATANODE_CLASS_DIR");
    old_class_dir_ = old != nullptr ? old : "";
    ::setenv("DATANODE_CLASS_DIR", (root_ / "classes").c_str(), 1);
    ::setenv("DATANODE_ALLOW_TEST_FAULTS", "1", 1);
    // Every node's key first (the daemon keeps a key it finds), then the subnet's list.
    std::ofstream list(root_ / "subnet-keys.txt");
    list << "# the subnet's node keys, node i on line i\n";
    for (uint32_t i = 0; i < kNodes; ++i) {
      fs::create_directories(Dir(i));
      ASSERT_TRUE(
          util::GenerateEd25519KeyFiles(Dir(i) / "node-key.pem", Dir(i) / "node-key.pub.pem").ok());
      auto pub = util::ReadEd25519PublicKey(Dir(i) / "node-key.pub.pem");
      ASSERT_TRUE(pub.ok()) << pub.status();
      keys_.push_back(*pub);
      list << util::HexEncode(*pub) << "\n";
    }
    list.close();
    daemons_.resize(kNodes);
    for (uint32_t i = 0; i < kNodes; ++i) Start(i);
  }
  void TearDown() override {
    for (auto& d : daemons_) {
      if (d) EXPECT_EQ(d->Stop(), 0);
    }
    ::setenv("DATANODE_CLASS_DIR", old_class_dir_.c_str(), 1);
    fs::remove_all(root_);
  }
  fs::path Dir(uint32_t i) const { return root_ / ("n" + std::to_string(i)); }
  void Start(uint32_t i) {
    std::string conf = "admission_recheck_seconds: 0\nbackend_threads: 1\n";
    if (i != kNoKeys) {
      absl::StrAppend(&conf, "subnet_keys_path: \"", (root_ / "subnet-keys.txt").string(), "\"\n");
    }
    if (i == kFaulty) absl::StrAppend(&conf, "test_fault: \"flip_output_bit\"\n");
    daemons_[i] = std::make_unique<DaemonProcess>(Dir(i), conf);
  }
  std::unique_ptr<v1::Admission::Stub> Admission(uint32_t i) {
    return v1::Admission::NewStub(daemons_[i]->channel());
  }
  std::string AdmittedClass(uint32_t i) {
    grpc::ClientContext ctx;
    v1::GetNodeInfoResponse info;
    grpc::Status st = daemons_[i]->acc->GetNodeInfo(&ctx, {}, &info);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return info.admitted_class();
  }
  bool Admit(uint32_t i) {
    grpc::ClientContext ctx;
    v1::RunAdmissionRequest req;
    req.set_class_name(kClass);
    req.set_nonce_hex(kNonce);
    auto reader = Admission(i)->RunAdmission(&ctx, req);
    v1::RunAdmissionResponse msg;
    bool admitted = false;
    while (reader->Read(&msg)) {
      if (msg.has_result()) admitted = msg.result().admitted();
    }
    grpc::Status st = reader->Finish();
    EXPECT_TRUE(st.ok()) << st.error_message();
    return admitted;
  }
  v1::AdmissionHistory History(uint32_t i) {
    grpc::ClientContext ctx;
    v1::AdmissionHistory h;
    grpc::Status st = Admission(i)->GetAdmissionHistory(&ctx, {}, &h);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return h;
  }
  grpc::Status ReportFault(uint32_t i, const v1::FaultEvidence& e, v1::ReportFaultResponse* resp) {
    grpc::ClientContext ctx;
    v1::ReportFaultRequest req;
    *req.mutable_evidence() = e;
    return Admission(i)->ReportFault(&ctx, req, resp);
  }

  // One verified MatMul (Q8_0 x Q8_0, inline weights) computed by `computing` and
  // checked by every other node, combined with `evicted` set aside.
  Call VerifiedCall(uint32_t computing, uint64_t call_id, const shim::EvictedNodes* evicted) {
    auto in = ops::MakeRandomInputs(ops::OpKind::kMatMulQ8_0Q8_0, 2, 16, 64, call_id,
                                    ops::InputProfile::kRealistic);
    EXPECT_TRUE(in.ok()) << in.status();
    v1::MatMulRequest req;
    req.set_op(v1::OP_KIND_MATMUL_Q8_0_Q8_0);
    req.set_m(2);
    req.set_n(16);
    req.set_k(64);
    req.set_a(in->a.data(), in->a.size());
    req.mutable_inline_weights()->set_w(in->w.data(), in->w.size());
    req.set_exact_output(true);
    Call c;
    const std::string bytes = req.SerializeAsString();
    c.request = shim::RequestDigest(shim::kMethodMatMul,
                                    {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()},
                                    call_id);
    v1::MatMulResponse answer;
    {
      grpc::ClientContext ctx;
      grpc::Status s = daemons_[computing]->acc->MatMul(&ctx, req, &answer);
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    c.output = ops::Sha256Of({ops::ByteSpan(reinterpret_cast<const uint8_t*>(answer.out().data()),
                                            answer.out().size())});
    v1::MatMulRequest vreq = req;
    vreq.set_exact_output(false);
    v1::VerifyAnswer* va = vreq.mutable_verify();
    va->set_out(answer.out());
    va->set_exact_sums(answer.exact_sums());
    va->set_epoch(1);
    va->set_request_digest(c.request.data(), c.request.size());
    va->set_computing_node(computing);
    std::vector<v1::MatMulResponse> verdicts(kNodes);
    std::vector<grpc::Status> statuses(kNodes);
    std::vector<std::thread> threads;
    for (uint32_t v = 0; v < kNodes; ++v) {
      if (v == computing) continue;
      threads.emplace_back([&, v] {
        grpc::ClientContext ctx;
        statuses[v] = daemons_[v]->acc->MatMul(&ctx, vreq, &verdicts[v]);
      });
    }
    for (auto& t : threads) t.join();
    for (uint32_t v = 0; v < kNodes; ++v) {
      if (v == computing) continue;
      EXPECT_TRUE(statuses[v].ok()) << "verifier " << v << ": " << statuses[v].error_message();
      const v1::VerifyResult& r = verdicts[v].verification();
      shim::VerifiedShare share;
      share.node = v;
      share.request_digest = c.request;
      share.accepted = r.accepted();
      share.reason = r.reason();
      if (r.output_digest().size() == 32)
        std::memcpy(share.output_digest.data(), r.output_digest().data(), 32);
      if (r.signature().size() == 64) std::memcpy(share.signature.data(), r.signature().data(), 64);
      c.shares.push_back(share);
    }
    c.agreement = shim::CombineVerified(keys_, c.request, computing, c.output, c.shares, evicted);
    return c;
  }
  // The faulty node's call, its record and the record's wire form.
  v1::FaultEvidence FaultRecord(uint64_t call_id, shim::FaultEvidence* out = nullptr) {
    Call c = VerifiedCall(kFaulty, call_id, nullptr);
    EXPECT_FALSE(c.agreement.agreed) << c.agreement.message;
    EXPECT_TRUE(c.agreement.computing_node_faulty) << c.agreement.message;
    EXPECT_EQ(c.agreement.rejecting.size(), kNodes - 1) << c.agreement.message;
    auto e = shim::FaultEvidenceFrom(c.agreement, c.request, c.shares);
    EXPECT_TRUE(e.ok()) << e.status();
    EXPECT_TRUE(shim::CheckFaultEvidence(keys_, *e).ok());
    if (out != nullptr) *out = *e;
    v1::FaultEvidence p;
    p.set_request_digest(e->request_digest.data(), 32);
    p.set_output_digest(e->output_digest.data(), 32);
    p.set_computing_node(e->computing_node);
    for (const shim::VerifiedShare& s : e->rejections) {
      v1::FaultRejection* r = p.add_rejections();
      r->set_node(s.node);
      r->set_signature(s.signature.data(), s.signature.size());
      r->set_reason(s.reason);
    }
    return p;
  }

  fs::path root_;
  std::string old_class_dir_;
  std::vector<shim::PublicKey> keys_;
  std::vector<std::unique_ptr<DaemonProcess>> daemons_;
};

TEST_F(FaultEvictionTest, EvidenceEvictsTheNamedNodeTheDrawSkipsItAndReadmissionRestoresIt) {
  // The node serves a model through a replica that requires the class.
  auto in = ops::MakeRandomInputs(ops::OpKind::kMatMulS8S32, gate_test::kM, gate_test::kN,
                                  gate_test::kK, 13);
  ASSERT_TRUE(in.ok()) << in.status();
  gate_test::WriteModel(root_ / "m.safetensors", in->w);
  grpc::ClientContext import_ctx;
  v1::ImportModelRequest import;
  import.set_path((root_ / "m.safetensors").string());
  v1::ModelInfo model;
  grpc::Status imported = daemons_[kFaulty]->store->ImportModel(&import_ctx, import, &model);
  ASSERT_TRUE(imported.ok()) << imported.error_message();
  shim::MatMulArgs args;
  args.op = ops::OpKind::kMatMulS8S32;
  args.m = gate_test::kM;
  args.n = gate_test::kN;
  args.k = gate_test::kK;
  args.weights.model = *util::HexDecodeBytes(model.digest());
  args.weights.tensor = "w";
  args.a = in->a;
  const std::vector<uint8_t> arg = shim::EncodeMatMulArgs(args);
  Replica gated((Dir(kFaulty) / "d.sock").string(), kClass);

  ASSERT_TRUE(Admit(kFaulty));
  ASSERT_EQ(AdmittedClass(kFaulty), kClass);
  Replica::Result served = gated.MatMul(arg);
  ASSERT_EQ(served.code, IC0_ACCEL_REPLY) << served.message;

  // The subnet's draw picks node 0 for some call; it answers wrongly, all 6 reject.
  shim::EvictedNodes evicted(kNodes);
  uint64_t draw = 0;
  while (*evicted.Pick(BeaconValue(kSeed, draw)) != kFaulty) ++draw;
  shim::FaultEvidence evidence;
  const v1::FaultEvidence record = FaultRecord(draw, &evidence);
  EXPECT_EQ(record.rejections_size(), static_cast<int>(kNodes - 1));

  // The record goes to the named node's daemon: out of its class.
  v1::ReportFaultResponse resp;
  grpc::Status st = ReportFault(kFaulty, record, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  const std::string summary = shim::FaultSummary(evidence);
  EXPECT_EQ(resp.recheck().detail(), summary);
  EXPECT_EQ(summary.rfind("verified-mode fault on call ", 0), 0u) << summary;
  EXPECT_NE(summary.find("rejected by verifiers [1,2,3,4,5,6]"), std::string::npos) << summary;
  EXPECT_FALSE(resp.recheck().passed());
  EXPECT_EQ(resp.recheck().trigger(), v1::RECHECK_TRIGGER_VERIFIED_FAULT);
  EXPECT_EQ(resp.recheck().class_name(), kClass);
  EXPECT_EQ(resp.admitted_class(), "");
  EXPECT_EQ(AdmittedClass(kFaulty), "");
  EXPECT_FALSE(fs::exists(Dir(kFaulty) / "last-admission.json"));
  Replica::Result refused = gated.MatMul(arg);
  EXPECT_EQ(refused.code, IC0_ACCEL_SYS_TRANSIENT) << refused.message;
  EXPECT_NE(refused.message.find("holds no class"), std::string::npos) << refused.message;
  // The same record again: the node holds no class, nothing more is recorded.
  v1::ReportFaultResponse again;
  st = ReportFault(kFaulty, record, &again);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << st.error_message();
  EXPECT_NE(st.error_message().find("holds no admitted class"), std::string::npos)
      << st.error_message();

  // The subnet takes it out of the draw: later calls never pick it, and the 6 others
  // still agree on honest answers (5 = n - f needed; node 0's verdict set aside).
  evicted.Evict(kFaulty);
  for (uint64_t d = 0; d < 200; ++d) EXPECT_NE(*evicted.Pick(BeaconValue(kSeed, d)), kFaulty);
  for (uint64_t d = draw + 1; d < draw + 4; ++d) {
    const uint32_t computing = *evicted.Pick(BeaconValue(kSeed, d));
    Call honest = VerifiedCall(computing, d, &evicted);
    EXPECT_TRUE(honest.agreement.agreed) << honest.agreement.message;
    EXPECT_EQ(honest.agreement.accepting.size(), kNodes - 2) << honest.agreement.message;
    EXPECT_EQ(honest.agreement.out_of_class, std::vector<uint32_t>{kFaulty});
  }

  // Out of the class across a restart, the record kept in the history.
  ASSERT_EQ(daemons_[kFaulty]->Stop(), 0);
  Start(kFaulty);
  EXPECT_EQ(AdmittedClass(kFaulty), "");
  v1::AdmissionHistory history = History(kFaulty);
  ASSERT_EQ(history.rechecks_size(), 1);
  EXPECT_EQ(history.rechecks(0).trigger(), v1::RECHECK_TRIGGER_VERIFIED_FAULT);
  EXPECT_EQ(history.rechecks(0).detail(), summary);
  Replica gated_again((Dir(kFaulty) / "d.sock").string(), kClass);
  refused = gated_again.MatMul(arg);
  EXPECT_EQ(refused.code, IC0_ACCEL_SYS_TRANSIENT) << refused.message;

  // An admission run that passes restores it; the subnet sees the class and readmits it
  // to the draw.
  ASSERT_TRUE(Admit(kFaulty));
  ASSERT_EQ(AdmittedClass(kFaulty), kClass);
  served = gated_again.MatMul(arg);
  EXPECT_EQ(served.code, IC0_ACCEL_REPLY) << served.message;
  evicted.Readmit(kFaulty);
  EXPECT_EQ(*evicted.Pick(BeaconValue(kSeed, draw)), kFaulty);
  // The old record replayed against the re-admitted node acts no more.
  v1::ReportFaultResponse replayed;
  st = ReportFault(kFaulty, record, &replayed);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << st.error_message();
  EXPECT_NE(st.error_message().find("already acted on"), std::string::npos) << st.error_message();
  EXPECT_EQ(AdmittedClass(kFaulty), kClass);
}

TEST_F(FaultEvictionTest, BadEvidenceOrAnotherNodesIsRefusedAndChangesNothing) {
  ASSERT_TRUE(Admit(kFaulty));
  ASSERT_TRUE(Admit(1));
  const v1::FaultEvidence record = FaultRecord(/*call_id=*/1);
  auto expect = [&](uint32_t node, const v1::FaultEvidence& e, grpc::StatusCode code,
                    const std::string& why) {
    v1::ReportFaultResponse resp;
    grpc::Status st = ReportFault(node, e, &resp);
    EXPECT_EQ(st.error_code(), code) << why << ": " << st.error_message();
    EXPECT_NE(st.error_message().find(why), std::string::npos) << st.error_message();
  };

  // Valid evidence, sent to another node.
  expect(1, record, grpc::StatusCode::INVALID_ARGUMENT,
         "the evidence names node 0; this node is 1");
  // A forged signature.
  v1::FaultEvidence forged = record;
  std::string sig = forged.rejections(2).signature();
  sig[5] ^= 1;
  forged.mutable_rejections(2)->set_signature(sig);
  expect(kFaulty, forged, grpc::StatusCode::INVALID_ARGUMENT, "signature does not verify");
  // f = 2 rejections convict nobody.
  v1::FaultEvidence few = record;
  few.mutable_rejections()->DeleteSubrange(2, few.rejections_size() - 2);
  expect(kFaulty, few, grpc::StatusCode::INVALID_ARGUMENT, "more than f = 2");
  // One verifier twice.
  v1::FaultEvidence twice = few;
  *twice.add_rejections() = twice.rejections(0);
  expect(kFaulty, twice, grpc::StatusCode::INVALID_ARGUMENT, "appears more than once");
  // Another call's digest.
  v1::FaultEvidence other = record;
  std::string digest = other.request_digest();
  digest[0] ^= 1;
  other.set_request_digest(digest);
  expect(kFaulty, other, grpc::StatusCode::INVALID_ARGUMENT, "signature does not verify");
  // Malformed.
  v1::FaultEvidence shortened = record;
  shortened.set_output_digest(record.output_digest().substr(0, 31));
  expect(kFaulty, shortened, grpc::StatusCode::INVALID_ARGUMENT, "must be 32 bytes");
  // A daemon without the subnet's key list cannot check anything.
  expect(kNoKeys, record, grpc::StatusCode::FAILED_PRECONDITION, "no subnet_keys_path");

  // Nothing changed anywhere.
  EXPECT_EQ(AdmittedClass(kFaulty), kClass);
  EXPECT_EQ(AdmittedClass(1), kClass);
  EXPECT_EQ(History(kFaulty).rechecks_size(), 0);
  EXPECT_EQ(History(1).rechecks_size(), 0);
  EXPECT_TRUE(fs::exists(Dir(kFaulty) / "last-admission.json"));
}

}  // namespace
}  // namespace datanode
