// Copyright 2026 The datanode Authors.
//
// Integration test of the RunAdmission RPC: the real datanoded on a temp socket, the
// generated C++ client, and the conformance library's verifier checking what the
// daemon signed with the node key it created under its state directory; the admitted
// state survives a restart only while its saved report's signature holds.
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "conformance/conformance.h"
#include "conformance/report.h"
#include "daemon_process.h"
#include "datanode/v1/admission_service.grpc.pb.h"
#include "device_classes/device_class_loader.h"
#include "gtest/gtest.h"

namespace datanode {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr char kNonce[] = "a1b2c3d4e5f60718293a4b5c6d7e8f90";

// A compute class small enough for a loaded 2-core machine: tiny shapes, thresholds
// far below an honest CPU. `performance_seconds` is the quick profile's performance
// phase duration.
std::string TestClass(const std::string& performance_seconds) {
  return R"pb(
           name: "rpc_test_pc"
           spec_version: 2
           compute {
             allowed_backends: [ "cpu", "reference" ]
             required_ops: [ "matmul_s8_s32", "quantize_f32_q8_0" ]
             min_device_memory_mib: 64
             canonical_shape { m: 64 n: 128 k: 128 }
             min_s8_gops: 0.1
             min_memory_bandwidth_gbps: 0.01
             max_repeat_speedup: 3.0
             max_challenge_seconds: 10
           }
           quick { challenge_count: 1 sampled_rows: 1 stability_repetitions: 2 memory_test_mib: 1
                   performance_seconds:)pb" +
         performance_seconds + R"pb(
    }
    full {
      challenge_count: 1
      sampled_rows: 1
      stability_repetitions: 2
      memory_test_mib: 1
      performance_seconds: 1
    }
  )pb";
}

struct RunResult {
  grpc::Status status;
  std::vector<v1::AdmissionProgress> progress;
  v1::AdmissionResult result;
  int results = 0;
};

RunResult RunAdmission(v1::Admission::Stub& stub, const v1::RunAdmissionRequest& req) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  RunResult run;
  auto reader = stub.RunAdmission(&ctx, req);
  v1::RunAdmissionResponse msg;
  while (reader->Read(&msg)) {
    if (msg.has_progress()) run.progress.push_back(msg.progress());
    if (msg.has_result()) {
      run.result = msg.result();
      ++run.results;
    }
  }
  run.status = reader->Finish();
  return run;
}

v1::GetNodeInfoResponse Info(DaemonProcess& d) {
  grpc::ClientContext ctx;
  v1::GetNodeInfoResponse info;
  grpc::Status st = d.acc->GetNodeInfo(&ctx, {}, &info);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return info;
}

class AdmissionRpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("dn_admission_" + std::to_string(getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    daemon_ = std::make_unique<DaemonProcess>(root_);
    stub_ = v1::Admission::NewStub(daemon_->channel());
  }
  void TearDown() override {
    if (daemon_) {
      EXPECT_EQ(daemon_->Stop(), 0);
    }
    fs::remove_all(root_);
  }
  void Restart() {
    ASSERT_EQ(daemon_->Stop(), 0);
    daemon_ = std::make_unique<DaemonProcess>(root_);
    stub_ = v1::Admission::NewStub(daemon_->channel());
  }
  // The key datanoded creates by default: node-key.pem beside store_root.
  std::string PublicKey() {
    auto raw = conformance::LoadRawPublicKey((root_ / "node-key.pub.pem").string());
    EXPECT_TRUE(raw.ok()) << raw.status();
    return raw.ok() ? *raw : "";
  }

  fs::path root_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<v1::Admission::Stub> stub_;
};

TEST_F(AdmissionRpcTest, QuickMiniPcRunIsAdmittedVerifiesAndShowsInNodeInfo) {
  struct stat key_stat {};
  ASSERT_EQ(::stat((root_ / "node-key.pem").c_str(), &key_stat), 0) << "no node key created";
  EXPECT_EQ(key_stat.st_mode & 0777, 0600u);
  EXPECT_EQ(Info(*daemon_).admitted_class(), "");

  // The real mini_pc class, looked up by name as dn-conformance does.
  v1::RunAdmissionRequest req;
  req.set_class_name("mini_pc");
  req.set_nonce_hex(kNonce);
  req.set_profile(v1::ADMISSION_PROFILE_QUICK);
  RunResult run = RunAdmission(*stub_, req);
  ASSERT_TRUE(run.status.ok()) << run.status.error_code() << " " << run.status.error_message();
  ASSERT_EQ(run.results, 1);
  const v1::AdmissionReport& report = run.result.report();
  ASSERT_TRUE(run.result.admitted()) << (report.reasons().empty() ? "" : report.reasons(0));
  EXPECT_EQ(report.class_name(), "mini_pc");
  EXPECT_EQ(report.nonce(), kNonce);
  EXPECT_EQ(report.profile(), "quick");
  EXPECT_EQ(report.device().backend(), "cpu");  // the daemon's serving backend

  // Progress came first and named the phases as they ran.
  bool saw_performance = false;
  for (const auto& p : run.progress) saw_performance |= p.phase() == v1::PHASE_PERFORMANCE;
  EXPECT_TRUE(saw_performance) << run.progress.size() << " progress messages";

  // The admin's check: signature by the node key, nonce, class digest, thresholds,
  // and every challenge recomputed.
  auto path = device_classes::ResolveClassPath("mini_pc", device_classes::DefaultClassDirs());
  ASSERT_TRUE(path.ok()) << path.status();
  auto cls = device_classes::LoadClassFile(*path);
  ASSERT_TRUE(cls.ok()) << cls.status();
  const std::string pub = PublicKey();
  conformance::Verdict v = conformance::VerifyReport(report, *cls, kNonce, pub);
  EXPECT_TRUE(v.admitted) << (v.reasons.empty() ? "" : v.reasons[0]);
  // ... and refuses it under another nonce.
  EXPECT_FALSE(
      conformance::VerifyReport(report, *cls, "00000000000000000000000000000000", pub).admitted);

  v1::GetNodeInfoResponse info = Info(*daemon_);
  EXPECT_EQ(info.admitted_class(), "mini_pc");
  EXPECT_EQ(info.admission_report_digest(), run.result.report_digest());
  EXPECT_EQ(run.result.report_digest().size(), 64u);

  // A restart keeps the admission: the saved report is reloaded after its signature
  // checks out against the node key.
  Restart();
  info = Info(*daemon_);
  EXPECT_EQ(info.admitted_class(), "mini_pc");
  EXPECT_EQ(info.admission_report_digest(), run.result.report_digest());

  // A saved report edited on disk is not believed.
  const fs::path saved = root_ / "last-admission.json";
  std::string text;
  {
    std::ifstream in(saved);
    ASSERT_TRUE(in) << "no saved report at " << saved;
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  size_t at = text.find("\"mini_pc\"");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 9, "\"tpu____\"");
  std::ofstream(saved, std::ios::trunc) << text;
  Restart();
  EXPECT_EQ(Info(*daemon_).admitted_class(), "");
}

TEST_F(AdmissionRpcTest, SecondRunIsRefusedWhileOneRunsAndCancelStopsIt) {
  // A long performance phase that only cancellation can cut short.
  v1::RunAdmissionRequest slow;
  slow.set_class_text(TestClass("60"));
  slow.set_nonce_bytes(std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a", 10));
  grpc::ClientContext ctx;
  auto reader = stub_->RunAdmission(&ctx, slow);
  v1::RunAdmissionResponse msg;
  ASSERT_TRUE(reader->Read(&msg)) << "no progress from the first run";
  ASSERT_TRUE(msg.has_progress());
  auto t0 = Clock::now();

  v1::RunAdmissionRequest second;
  second.set_class_text(TestClass("0.2"));
  std::string nonce_bytes;  // kNonce as bytes: the report must record it as hex
  for (size_t i = 0; i < sizeof(kNonce) - 1; i += 2) {
    nonce_bytes.push_back(static_cast<char>(std::stoi(std::string(kNonce + i, 2), nullptr, 16)));
  }
  second.set_nonce_bytes(nonce_bytes);
  RunResult refused = RunAdmission(*stub_, second);
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(refused.status.error_message().find("already running"), std::string::npos)
      << refused.status.error_message();
  EXPECT_EQ(refused.results, 0);

  ctx.TryCancel();
  while (reader->Read(&msg)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);

  // The daemon stops the run within about one kernel call and frees the slot; a
  // client retries RESOURCE_EXHAUSTED with backoff, as the code asks.
  RunResult next;
  for (int attempt = 0; attempt < 50; ++attempt) {
    next = RunAdmission(*stub_, second);
    if (next.status.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(next.status.ok()) << next.status.error_code() << " " << next.status.error_message();
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 30)
      << "the cancelled run was not stopped";
  EXPECT_TRUE(next.result.admitted());
  EXPECT_EQ(next.result.report().nonce(), kNonce);

  auto cls = device_classes::ParseClassText(TestClass("0.2"), "class_text");
  ASSERT_TRUE(cls.ok()) << cls.status();
  EXPECT_TRUE(conformance::VerifyReport(next.result.report(), *cls, kNonce, PublicKey()).admitted);
  EXPECT_EQ(Info(*daemon_).admitted_class(), "rpc_test_pc");
}

TEST_F(AdmissionRpcTest, BadRequestsGetClearCodesAndNothingIsRecorded) {
  struct Case {
    std::string what;
    v1::RunAdmissionRequest req;
    grpc::StatusCode code;
    std::string message;  // a piece the message must contain
  };
  std::vector<Case> cases;
  auto add = [&](std::string what, grpc::StatusCode code, std::string message, auto edit) {
    v1::RunAdmissionRequest req;
    req.set_class_name("mini_pc");
    req.set_nonce_hex(kNonce);
    edit(req);
    cases.push_back({std::move(what), req, code, std::move(message)});
  };
  add("unknown class", grpc::StatusCode::NOT_FOUND, "no class \"no_such_class\"",
      [](auto& r) { r.set_class_name("no_such_class"); });
  add("path as class name", grpc::StatusCode::INVALID_ARGUMENT, "send class_text",
      [](auto& r) { r.set_class_name("../../etc/passwd"); });
  add("invalid class text", grpc::StatusCode::INVALID_ARGUMENT,
      "class_text:", [](auto& r) { r.set_class_text("name: \"x\"\nbogus_field: 1\n"); });
  add("no class", grpc::StatusCode::INVALID_ARGUMENT, "class_name",
      [](auto& r) { r.clear_device_class(); });
  add("short nonce", grpc::StatusCode::INVALID_ARGUMENT, "nonce",
      [](auto& r) { r.set_nonce_hex("abcd"); });
  add("no nonce", grpc::StatusCode::INVALID_ARGUMENT, "nonce", [](auto& r) { r.clear_nonce(); });
  add("bad profile", grpc::StatusCode::INVALID_ARGUMENT, "profile",
      [](auto& r) { r.set_profile(static_cast<v1::AdmissionProfile>(7)); });
  for (const Case& c : cases) {
    RunResult run = RunAdmission(*stub_, c.req);
    EXPECT_EQ(run.status.error_code(), c.code) << c.what << ": " << run.status.error_message();
    EXPECT_NE(run.status.error_message().find(c.message), std::string::npos)
        << c.what << ": " << run.status.error_message();
    EXPECT_EQ(run.results, 0) << c.what;
  }
  // An unknown backend is not an error but a signed rejection at inventory.
  v1::RunAdmissionRequest req;
  req.set_class_text(TestClass("0.2"));
  req.set_nonce_hex(kNonce);
  req.set_backend("no_such_backend");
  RunResult run = RunAdmission(*stub_, req);
  ASSERT_TRUE(run.status.ok()) << run.status.error_message();
  EXPECT_FALSE(run.result.admitted());
  ASSERT_GT(run.result.reasons_size(), 0);
  EXPECT_NE(run.result.reasons(0).find("no_such_backend"), std::string::npos)
      << run.result.reasons(0);
  EXPECT_TRUE(conformance::VerifyReportSignature(run.result.report(), PublicKey()).ok());
  EXPECT_EQ(Info(*daemon_).admitted_class(), "");
}

}  // namespace
}  // namespace datanode
