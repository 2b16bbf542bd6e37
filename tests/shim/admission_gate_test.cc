// Copyright 2026 The datanode Authors.
//
// A node that fails an admission re-check leaves its class, and the shim stops
// serving for it, end to end: the real datanoded on a temp socket (its operator class
// directory in $DATANODE_CLASS_DIR, a model imported into its store), the replica's C
// ABI (ic0_accel, configured with the subnet's required_class) calling it, and the
// Admission service's RunAdmission, RecheckAdmission and GetAdmissionHistory.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "daemon_process.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/util/hex.h"
#include "datanode/v1/admission_service.grpc.pb.h"
#include "gate_test_util.h"
#include "gtest/gtest.h"
#include "ic0_accel.h"
#include "node/shim/interface.h"

namespace datanode {
namespace {
namespace fs = std::filesystem;

using gate_test::ClassText;
using gate_test::kClass;
using gate_test::kK;
using gate_test::kM;
using gate_test::kN;
using gate_test::kNonce;
using gate_test::Replica;
using gate_test::WriteModel;

class AdmissionGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("dn_admission_gate_" + std::to_string(getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "classes");
    WriteClass("0.1");
    const char* old = std::getenv("DATANODE_CLASS_DIR");
    old_class_dir_ = old != nullptr ? old : "";
    ::setenv("DATANODE_CLASS_DIR", (root_ / "classes").c_str(), 1);
  }
  void TearDown() override {
    if (daemon_) {
      EXPECT_EQ(daemon_->Stop(), 0);
    }
    ::setenv("DATANODE_CLASS_DIR", old_class_dir_.c_str(), 1);
    fs::remove_all(root_);
  }
  void WriteClass(const std::string& gops) {
    std::ofstream(root_ / "classes" / (std::string(kClass) + ".textproto"), std::ios::trunc)
        << ClassText(gops);
  }
  // No schedule: every re-check here is requested, so the test controls when.
  void Start() {
    daemon_ = std::make_unique<DaemonProcess>(root_, "admission_recheck_seconds: 0\n");
    admission_ = v1::Admission::NewStub(daemon_->channel());
  }
  std::string AdmittedClass() {
    grpc::ClientContext ctx;
    v1::GetNodeInfoResponse info;
    grpc::Status st = daemon_->acc->GetNodeInfo(&ctx, {}, &info);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return info.admitted_class();
  }
  // RunAdmission of the operator's class by name; its verdict.
  bool Admit() {
    grpc::ClientContext ctx;
    v1::RunAdmissionRequest req;
    req.set_class_name(kClass);
    req.set_nonce_hex(kNonce);
    auto reader = admission_->RunAdmission(&ctx, req);
    v1::RunAdmissionResponse msg;
    bool admitted = false;
    while (reader->Read(&msg)) {
      if (msg.has_result()) admitted = msg.result().admitted();
    }
    grpc::Status st = reader->Finish();
    EXPECT_TRUE(st.ok()) << st.error_message();
    return admitted;
  }
  grpc::Status Recheck(v1::RecheckAdmissionResponse* resp) {
    grpc::ClientContext ctx;
    return admission_->RecheckAdmission(&ctx, {}, resp);
  }
  v1::AdmissionHistory History() {
    grpc::ClientContext ctx;
    v1::AdmissionHistory h;
    grpc::Status st = admission_->GetAdmissionHistory(&ctx, {}, &h);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return h;
  }

  fs::path root_;
  std::string old_class_dir_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<v1::Admission::Stub> admission_;
};

TEST_F(AdmissionGateTest, FailedRecheckEvictsTheNodeTheShimRejectsAndReadmissionRestoresIt) {
  // Operands and the reference's bytes for them.
  auto in = ops::MakeRandomInputs(ops::OpKind::kMatMulS8S32, kM, kN, kK, 13);
  ASSERT_TRUE(in.ok()) << in.status();
  auto reference = ops::CreateBackend("reference");
  ASSERT_TRUE(reference.ok());
  ops::OpArgs ref_args = in->Args();
  ASSERT_TRUE(ops::RunOp(**reference, ref_args).ok());
  const std::vector<uint8_t> want = in->out;

  WriteModel(root_ / "m.safetensors", in->w);
  Start();
  grpc::ClientContext import_ctx;
  v1::ImportModelRequest import;
  import.set_path((root_ / "m.safetensors").string());
  v1::ModelInfo model;
  grpc::Status imported = daemon_->store->ImportModel(&import_ctx, import, &model);
  ASSERT_TRUE(imported.ok()) << imported.error_message();
  auto digest = util::HexDecodeBytes(model.digest());
  ASSERT_TRUE(digest.ok()) << digest.status();
  shim::MatMulArgs args;
  args.op = ops::OpKind::kMatMulS8S32;
  args.m = kM;
  args.n = kN;
  args.k = kK;
  args.weights.model = *digest;
  args.weights.tensor = "w";
  args.a = in->a;
  const std::vector<uint8_t> arg = shim::EncodeMatMulArgs(args);

  Replica gated((root_ / "d.sock").string(), kClass);
  Replica open((root_ / "d.sock").string(), nullptr);
  auto expect_refused = [&](const char* when) {
    Replica::Result r = gated.MatMul(arg);
    EXPECT_EQ(r.code, IC0_ACCEL_SYS_TRANSIENT) << when << ": " << r.message;
    EXPECT_NE(r.message.find("not admitted to device class 'gate_test_pc'"), std::string::npos)
        << when << ": " << r.message;
    EXPECT_NE(r.message.find("holds no class"), std::string::npos) << when << ": " << r.message;
    EXPECT_EQ(r.cycles_charged_low, 0u) << when << ": not the caller's fault, no fee";
  };
  auto expect_served = [&](const char* when) {
    Replica::Result r = gated.MatMul(arg);
    ASSERT_EQ(r.code, IC0_ACCEL_REPLY) << when << ": " << r.message;
    EXPECT_EQ(r.out, want) << when;
  };

  // Never admitted: the gated shim refuses, one without a required class serves.
  expect_refused("before admission");
  Replica::Result ungated = open.MatMul(arg);
  ASSERT_EQ(ungated.code, IC0_ACCEL_REPLY) << ungated.message;
  EXPECT_EQ(ungated.out, want);
  v1::RecheckAdmissionResponse none;
  EXPECT_EQ(Recheck(&none).error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << "nothing to re-check before admission";

  ASSERT_TRUE(Admit());
  ASSERT_EQ(AdmittedClass(), kClass);
  expect_served("after admission");

  // A re-check on request: fresh nonce, passes, the class stays.
  v1::RecheckAdmissionResponse passed;
  grpc::Status st = Recheck(&passed);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(passed.recheck().passed()) << passed.recheck().detail();
  EXPECT_EQ(passed.recheck().trigger(), v1::RECHECK_TRIGGER_REQUEST);
  EXPECT_EQ(passed.recheck().class_name(), kClass);
  EXPECT_EQ(passed.recheck().nonce_hex().size(), 32u);
  EXPECT_NE(passed.recheck().nonce_hex(), kNonce);
  EXPECT_EQ(passed.admitted_class(), kClass);
  expect_served("after a passing re-check");

  // The operator raises the class's floor past what the node does: the next re-check
  // fails at the performance phase and takes the node out of its class.
  WriteClass("1e9");
  v1::RecheckAdmissionResponse failed;
  st = Recheck(&failed);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_FALSE(failed.recheck().passed());
  EXPECT_EQ(failed.recheck().detail().rfind("performance:", 0), 0u) << failed.recheck().detail();
  EXPECT_NE(failed.recheck().nonce_hex(), passed.recheck().nonce_hex());
  EXPECT_EQ(failed.admitted_class(), "");
  EXPECT_EQ(AdmittedClass(), "");
  expect_refused("after the failed re-check");
  ungated = open.MatMul(arg);
  EXPECT_EQ(ungated.code, IC0_ACCEL_REPLY) << "only the gate refuses: " << ungated.message;

  // Out of the class across a restart too, and the history is kept.
  ASSERT_EQ(daemon_->Stop(), 0);
  Start();
  EXPECT_EQ(AdmittedClass(), "");
  expect_refused("after a restart");
  v1::AdmissionHistory history = History();
  ASSERT_EQ(history.rechecks_size(), 2);
  EXPECT_TRUE(history.rechecks(0).passed());
  EXPECT_FALSE(history.rechecks(1).passed());
  EXPECT_EQ(history.rechecks(0).nonce_hex(), passed.recheck().nonce_hex());
  EXPECT_EQ(history.rechecks(1).detail(), failed.recheck().detail());
  EXPECT_LE(history.rechecks(0).time_unix_ms(), history.rechecks(1).time_unix_ms());

  // Once the node passes again (the floor back where it was), it serves again.
  WriteClass("0.1");
  ASSERT_TRUE(Admit());
  EXPECT_EQ(AdmittedClass(), kClass);
  expect_served("after re-admission");
  v1::RecheckAdmissionResponse again;
  st = Recheck(&again);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(again.recheck().passed()) << again.recheck().detail();
  EXPECT_EQ(History().rechecks_size(), 3);
}

}  // namespace
}  // namespace datanode
