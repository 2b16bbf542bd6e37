// Copyright 2026 The datanode Authors.
//
// Integration test of the RunAdmission RPC: the real datanoded on a temp socket, the
// generated C++ client, and the conformance library's verifier checking what the
// daemon signed with the node key it created under its state directory; the admitted
// state survives a restart only while its saved report's signature holds.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "conformance/conformance.h"
#include "conformance/report.h"
#include "daemon_process.h"
#include "datanode/util/ed25519.h"
#include "datanode/util/hex.h"
#include "datanode/v1/admission_service.grpc.pb.h"
#include "device_classes/device_class_loader.h"
#include "gtest/gtest.h"
#include "node/daemon/admission.h"
#include "node/daemon/config.h"
#include "node/import/model_registry.h"
#include "node/store/weight_store.h"

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

// TestClass("0.2") named `name`, with min_s8_gops `gops`.
std::string ClassText(const std::string& name, const std::string& gops = "0.1") {
  std::string text = TestClass("0.2");
  text.replace(text.find("rpc_test_pc"), 11, name);
  text.replace(text.find("min_s8_gops: 0.1"), 16, "min_s8_gops: " + gops);
  return text;
}

// Polls `done` every 100 ms for up to `seconds`.
bool WaitFor(const std::function<bool()>& done, double seconds) {
  for (auto t0 = Clock::now(); std::chrono::duration<double>(Clock::now() - t0).count() < seconds;
       std::this_thread::sleep_for(std::chrono::milliseconds(100))) {
    if (done()) return true;
  }
  return done();
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
    auto raw = util::ReadEd25519PublicKey(root_ / "node-key.pub.pem");
    EXPECT_TRUE(raw.ok()) << raw.status();
    return raw.ok() ? std::string(raw->begin(), raw->end()) : "";
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
  // kNonce as bytes: the report must record it as hex.
  absl::StatusOr<std::string> nonce_bytes = util::HexDecode(kNonce);
  ASSERT_TRUE(nonce_bytes.ok());
  second.set_nonce_bytes(*nonce_bytes);
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
  // The caller's own class: it passed, but the node does not claim it.
  EXPECT_TRUE(next.result.custom_class());
  EXPECT_EQ(Info(*daemon_).admitted_class(), "");
}

// A storage class runs on the daemon's own weight store: its figures describe the
// store's filesystem, its proofs read the models imported into it, and a model the
// class expects but the store lacks fails the phase, naming the model.
TEST_F(AdmissionRpcTest, StorageClassProvesTheDaemonsOwnStoreAndNamesAMissingModel) {
  // A safetensors file (one U8 tensor of 1.5 MiB) imported through the daemon.
  const size_t bytes = 3 * (1 << 19);
  std::string header = "{\"w\":{\"dtype\":\"U8\",\"shape\":[" + std::to_string(bytes) +
                       "],\"data_offsets\":[0," + std::to_string(bytes) + "]}}";
  header.append((8 - header.size() % 8) % 8, ' ');
  {
    std::ofstream f(root_ / "m.safetensors", std::ios::binary);
    for (int i = 0; i < 8; ++i) f.put(static_cast<char>(uint64_t{header.size()} >> (8 * i)));
    f << header;
    for (size_t i = 0; i < bytes; ++i) f.put(static_cast<char>(i * 2654435761u >> 13));
  }
  v1::ModelInfo model;
  {
    grpc::ClientContext ctx;
    v1::ImportModelRequest req;
    req.set_path((root_ / "m.safetensors").string());
    grpc::Status st = daemon_->store->ImportModel(&ctx, req, &model);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  const std::string absent(64, 'e');
  auto storage_class = [](const std::vector<std::string>& models) {
    std::string text =
        "name: \"rpc_storage\"\nspec_version: 2\nstorage {\n"
        "  min_capacity_gib: 0.01 min_seq_write_mbps: 0.1 min_seq_read_mbps: 0.1\n"
        "  max_fsync_latency_ms: 5000 max_proof_response_ms: 5000\n";
    for (const auto& m : models) text += "  expected_models: \"" + m + "\"\n";
    return text +
           "}\nquick { storage_test_mib: 2 proof_challenges: 4 }\n"
           "full { storage_test_mib: 2 proof_challenges: 4 }\n";
  };
  auto storage_phase = [](const v1::AdmissionReport& r) {
    for (const auto& p : r.phases()) {
      if (p.phase() == v1::PHASE_STORAGE) return p;
    }
    return v1::PhaseResult();
  };

  v1::RunAdmissionRequest req;
  req.set_nonce_hex(kNonce);
  req.set_profile(v1::ADMISSION_PROFILE_QUICK);
  req.set_class_text(storage_class({model.digest()}));
  RunResult run = RunAdmission(*stub_, req);
  ASSERT_TRUE(run.status.ok()) << run.status.error_message();
  v1::PhaseResult p = storage_phase(run.result.report());
  EXPECT_TRUE(run.result.admitted()) << p.reason();
  EXPECT_NE(p.reason().find((root_ / "store").string()), std::string::npos) << p.reason();
  ASSERT_EQ(p.proofs_size(), 4);
  for (const auto& proof : p.proofs()) EXPECT_EQ(proof.model(), model.digest());
  struct statvfs vfs;
  ASSERT_EQ(::statvfs((root_ / "store").c_str(), &vfs), 0);
  EXPECT_NEAR(p.figures().at("capacity_gib"),
              static_cast<double>(vfs.f_blocks) * vfs.f_frsize / (1ull << 30), 1e-6);

  req.set_class_text(storage_class({absent, model.digest()}));
  run = RunAdmission(*stub_, req);
  ASSERT_TRUE(run.status.ok()) << run.status.error_message();
  p = storage_phase(run.result.report());
  EXPECT_FALSE(run.result.admitted());
  EXPECT_EQ(p.disposition(), v1::DISPOSITION_FAILED) << p.reason();
  EXPECT_NE(p.reason().find("model " + absent + " is not in the store"), std::string::npos)
      << p.reason();
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

// A daemon whose operator class directory ($DATANODE_CLASS_DIR) holds rpc_test_pc;
// the source tree's device_classes/ (mini_pc, gpu, ...) stay on the search path.
class OperatorClassTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("dn_operator_class_" + std::to_string(getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "classes");
    WriteClass(TestClass("0.2"));
    const char* old = std::getenv("DATANODE_CLASS_DIR");
    old_class_dir_ = old != nullptr ? old : "";
    ::setenv("DATANODE_CLASS_DIR", (root_ / "classes").c_str(), 1);
  }
  void TearDown() override {
    if (daemon_) EXPECT_EQ(daemon_->Stop(), 0);
    ::setenv("DATANODE_CLASS_DIR", old_class_dir_.c_str(), 1);
    fs::remove_all(root_);
  }
  void Start(const std::string& extra_config = "") {
    daemon_ = std::make_unique<DaemonProcess>(root_, extra_config);  // inherits the env
    stub_ = v1::Admission::NewStub(daemon_->channel());
  }
  void WriteClass(const std::string& text) {
    std::ofstream(root_ / "classes" / "rpc_test_pc.textproto", std::ios::trunc) << text;
  }
  RunResult RunText(const std::string& text) {
    v1::RunAdmissionRequest req;
    req.set_class_text(text);
    req.set_nonce_hex(kNonce);
    return RunAdmission(*stub_, req);
  }
  std::string Metrics() { return ScrapeMetrics(root_ / "m.sock"); }

  fs::path root_;
  std::string old_class_dir_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<v1::Admission::Stub> stub_;
};

// A caller may run any class it sends, but only the operator's class files set the
// node's admitted class: a class named like a shipped one with lax thresholds is the
// caller's own custom class, whatever it is called.
TEST_F(OperatorClassTest, CallerClassTextNeverSetsOrClearsTheAdmittedClass) {
  Start();
  for (const char* shipped : {"mini_pc", "gpu", "tpu"}) {
    RunResult run = RunText(ClassText(shipped));
    ASSERT_TRUE(run.status.ok()) << shipped << ": " << run.status.error_message();
    EXPECT_TRUE(run.result.admitted()) << shipped << ": the lax class itself passes";
    EXPECT_TRUE(run.result.custom_class()) << shipped;
    EXPECT_EQ(run.result.report().class_name(), shipped);
    EXPECT_EQ(Info(*daemon_).admitted_class(), "") << shipped;
  }
  // The operator's file, sent byte for byte as text, is that class.
  RunResult same = RunText(TestClass("0.2"));
  ASSERT_TRUE(same.status.ok()) << same.status.error_message();
  EXPECT_TRUE(same.result.admitted());
  EXPECT_FALSE(same.result.custom_class());
  EXPECT_EQ(Info(*daemon_).admitted_class(), "rpc_test_pc");
  // A caller's stricter copy under the same name fails, but cannot evict the node.
  RunResult strict = RunText(ClassText("rpc_test_pc", "1e9"));
  ASSERT_TRUE(strict.status.ok()) << strict.status.error_message();
  EXPECT_FALSE(strict.result.admitted());
  EXPECT_TRUE(strict.result.custom_class());
  EXPECT_EQ(Info(*daemon_).admitted_class(), "rpc_test_pc");
}

// The schedule keeps re-checking the admitted class (metrics count the runs); when
// a re-check fails (here the operator raised the class's throughput floor past what
// the node does) the node is out of the class, in GetNodeInfo, metrics and on disk.
TEST_F(OperatorClassTest, RecheckKeepsTheClassWhilePassingAndRevokesItOnFailure) {
  Start("admission_recheck_seconds: 1\n");
  v1::RunAdmissionRequest req;
  req.set_class_name("rpc_test_pc");
  req.set_nonce_hex(kNonce);
  RunResult run = RunAdmission(*stub_, req);
  ASSERT_TRUE(run.status.ok()) << run.status.error_message();
  ASSERT_TRUE(run.result.admitted());
  ASSERT_EQ(Info(*daemon_).admitted_class(), "rpc_test_pc");

  const std::string passed = "datanode_admission_rechecks_total{result=\"passed\"}";
  const std::string failed = "datanode_admission_rechecks_total{result=\"failed\"}";
  ASSERT_TRUE(WaitFor([&] { return MetricValue(Metrics(), passed) >= 2; }, 60)) << Metrics();
  EXPECT_EQ(MetricValue(Metrics(), failed), 0);
  EXPECT_EQ(MetricValue(Metrics(), "datanode_admission_admitted{class=\"rpc_test_pc\"}"), 1);
  EXPECT_EQ(Info(*daemon_).admitted_class(), "rpc_test_pc");
  EXPECT_TRUE(fs::exists(root_ / "last-admission.json"));

  WriteClass(ClassText("rpc_test_pc", "1e9"));
  ASSERT_TRUE(WaitFor([&] { return Info(*daemon_).admitted_class().empty(); }, 60))
      << "a failing re-check did not take the node out of its class";
  // The failing run drops the class as soon as it rejects; the re-check's record (history,
  // counters) follows when the run returns, so the counters are awaited, not read at once.
  EXPECT_TRUE(WaitFor(
      [&] {
        const std::string now = Metrics();
        return MetricValue(now, failed) >= 1 &&
               MetricValue(now, "datanode_admission_last_recheck_passed") == 0;
      },
      60));
  const std::string m = Metrics();
  EXPECT_GE(MetricValue(m, failed), 1) << m;
  EXPECT_EQ(MetricValue(m, "datanode_admission_admitted"), 0) << m;
  EXPECT_EQ(MetricValue(m, "datanode_admission_last_recheck_passed"), 0) << m;
  EXPECT_FALSE(fs::exists(root_ / "last-admission.json"));
  EXPECT_EQ(Info(*daemon_).admission_report_digest(), "");
}

// In process: a backend that turns faulty after admission is caught by the next
// scheduled re-check and evicted; once healthy, admission restores the class.
class FlakyBackend : public ops::Backend {
 public:
  FlakyBackend() : inner_(std::move(*ops::CreateBackend("cpu"))) {}
  const char* Name() const override { return inner_->Name(); }
  std::string Description() const override { return "flaky " + inner_->Description(); }
  bool Supports(ops::OpKind kind) const override { return inner_->Supports(kind); }
  absl::Status Run(const ops::OpArgs& args) override {
    absl::Status st = inner_->Run(args);
    if (st.ok() && faulty.load() && !args.out.empty()) args.out[args.out.size() / 2] ^= 0x04;
    return st;
  }
  std::atomic<bool> faulty{false};

 private:
  std::unique_ptr<ops::Backend> inner_;
};

TEST(AdmissionRecheckTest, BackendThatTurnsFaultyIsEvictedAndReadmittedWhenHealthy) {
  const fs::path dir = fs::temp_directory_path() / ("dn_recheck_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "classes");
  std::ofstream(dir / "classes" / "rpc_test_pc.textproto") << TestClass("0.2");
  const std::string key = (dir / "node-key.pem").string();
  bool created = false;
  auto pub = node::EnsureNodeKey(key, &created);
  ASSERT_TRUE(pub.ok()) << pub.status();
  FlakyBackend backend;
  auto store = node::WeightStore::Open({.root = dir / "store"});
  ASSERT_TRUE(store.ok()) << store.status();
  auto models = node::ModelRegistry::Open(store->get());
  ASSERT_TRUE(models.ok()) << models.status();
  node::AdmissionService service(&backend, {}, key, {(dir / "classes").string()}, store->get(),
                                 models->get());
  auto admit = [&] {
    auto slot = service.Begin();
    EXPECT_TRUE(slot.ok()) << slot.status();
    node::AdmissionRequest req;
    req.class_name = "rpc_test_pc";
    req.nonce_hex = kNonce;
    auto out = service.Run(*slot, req, nullptr, nullptr);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() && out->admitted;
  };
  ASSERT_TRUE(admit());
  ASSERT_EQ(service.Admitted().class_name, "rpc_test_pc");

  service.StartRechecks(absl::Milliseconds(300), *pub);
  ASSERT_TRUE(WaitFor([&] { return !service.RecheckHistory().empty(); }, 30));
  EXPECT_TRUE(service.RecheckHistory().back().passed) << service.RecheckHistory().back().detail;
  backend.faulty = true;
  ASSERT_TRUE(WaitFor([&] { return service.Admitted().class_name.empty(); }, 30))
      << "the faulty backend kept its class";
  service.StopRechecks();
  const node::RecheckRecord last = service.RecheckHistory().back();
  EXPECT_FALSE(last.passed);
  EXPECT_EQ(last.class_name, "rpc_test_pc");
  // The reason names the phase that caught it (the golden vectors come first).
  EXPECT_NE(last.detail.find("golden:"), std::string::npos) << last.detail;
  EXPECT_NE(service.RenderMetrics().find("datanode_admission_admitted 0"), std::string::npos)
      << service.RenderMetrics();
  EXPECT_FALSE(fs::exists(dir / node::AdmissionService::kLastAdmissionFile));

  // Not admitted: a re-check has nothing to check.
  EXPECT_EQ(service.RecheckNow(nullptr).status().code(), absl::StatusCode::kFailedPrecondition);
  backend.faulty = false;
  EXPECT_TRUE(admit());
  EXPECT_EQ(service.Admitted().class_name, "rpc_test_pc");
  auto again = service.RecheckNow(nullptr);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->passed) << again->detail;
  fs::remove_all(dir);
}

// A re-check that cannot run for a whole interval (another admission holds the node)
// has lapsed: the node leaves its class as on a failure, and the history says why.
TEST(AdmissionRecheckTest, RecheckThatCannotRunForAWholeIntervalLapses) {
  const fs::path dir = fs::temp_directory_path() / ("dn_lapse_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "classes");
  std::ofstream(dir / "classes" / "rpc_test_pc.textproto") << TestClass("0.2");
  const std::string key = (dir / "node-key.pem").string();
  bool created = false;
  auto pub = node::EnsureNodeKey(key, &created);
  ASSERT_TRUE(pub.ok()) << pub.status();
  auto cpu = ops::CreateBackend("cpu");
  ASSERT_TRUE(cpu.ok());
  auto store = node::WeightStore::Open({.root = dir / "store"});
  ASSERT_TRUE(store.ok()) << store.status();
  auto models = node::ModelRegistry::Open(store->get());
  ASSERT_TRUE(models.ok()) << models.status();
  node::AdmissionService service(cpu->get(), {}, key, {(dir / "classes").string()}, store->get(),
                                 models->get());
  {
    auto slot = service.Begin();
    ASSERT_TRUE(slot.ok()) << slot.status();
    node::AdmissionRequest req;
    req.class_name = "rpc_test_pc";
    req.nonce_hex = kNonce;
    auto out = service.Run(*slot, req, nullptr, nullptr);
    ASSERT_TRUE(out.ok() && out->admitted) << out.status();
  }
  ASSERT_EQ(service.Admitted().class_name, "rpc_test_pc");
  {
    auto busy = service.Begin();  // held for longer than an interval and its offset
    ASSERT_TRUE(busy.ok());
    service.StartRechecks(absl::Milliseconds(300), *pub);
    EXPECT_TRUE(WaitFor([&] { return service.Admitted().class_name.empty(); }, 10))
        << "the class outlived a re-check that never ran";
  }
  service.StopRechecks();
  ASSERT_FALSE(service.RecheckHistory().empty());
  const node::RecheckRecord last = service.RecheckHistory().back();
  EXPECT_FALSE(last.passed);
  EXPECT_EQ(last.detail.rfind("lapsed:", 0), 0u) << last.detail;
  EXPECT_FALSE(fs::exists(dir / node::AdmissionService::kLastAdmissionFile));
  EXPECT_TRUE(fs::exists(dir / node::AdmissionService::kRecheckHistoryFile));
  fs::remove_all(dir);
}

TEST(AdmissionRecheckTest, ConfigDefaultsToHourlyAndZeroDisables) {
  auto def = node::ConfigFromText("");
  ASSERT_TRUE(def.ok());
  EXPECT_EQ(def->admission_recheck_seconds, 3600);
  auto off = node::ConfigFromText("admission_recheck_seconds: 0");
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(off->admission_recheck_seconds, 0);
  EXPECT_FALSE(node::ConfigFromText("admission_recheck_seconds: -1").ok());
}

}  // namespace
}  // namespace datanode
