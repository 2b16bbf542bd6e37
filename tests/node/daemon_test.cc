// Copyright 2026 The datanode Authors.
//
// Integration test: the real datanoded binary on a temp Unix socket, driven by the
// generated C++ gRPC client. Expected digests come from the in-process reference
// backend. Needs $DATANODE_TEST_MODELS (gen_models.py output) and DATANODED_PATH.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "daemon_process.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/digest.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/v1/accelerator.grpc.pb.h"
#include "datanode/v1/store.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace datanode {
namespace {
namespace fs = std::filesystem;

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return c;
}

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* models = std::getenv("DATANODE_TEST_MODELS");
    if (models == nullptr) GTEST_SKIP() << "DATANODE_TEST_MODELS not set (run through ctest)";
    models_ = models;
    root_ = fs::temp_directory_path() /
            ("dn_daemon_" + std::to_string(getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path models_, root_;
};

TEST_F(DaemonTest, BlobsImportAndMatMulByReferenceMatchReferenceBackend) {
  DaemonProcess d(root_);
  // Streaming put / get of a 2.5 MiB blob in uneven pieces.
  std::string data(5 << 19, '\0');
  ops::SplitMix64 rng(3);
  for (auto& c : data) c = static_cast<char>(rng.Next());
  v1::BlobInfo blob;
  {
    auto ctx = Ctx();
    auto w = d.store->PutBlob(ctx.get(), &blob);
    v1::PutBlobRequest req;
    for (size_t off = 0; off < data.size(); off += 700000) {
      req.set_data(data.substr(off, 700000));
      req.set_last(off + 700000 >= data.size());
      ASSERT_TRUE(w->Write(req));
    }
    w->WritesDone();
    grpc::Status st = w->Finish();
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  // The object's name (docs/store.md): SHA-256 of its manifest text.
  std::string manifest = "datanode-object v2\nsize " + std::to_string(data.size()) + "\n";
  for (size_t off = 0; off < data.size(); off += 1 << 20) {
    const std::string chunk = data.substr(off, 1 << 20);
    manifest += "chunk " +
                ops::ToHex(ops::Sha256Of({ops::ByteSpan(
                    reinterpret_cast<const uint8_t*>(chunk.data()), chunk.size())})) +
                "\n";
  }
  EXPECT_EQ(blob.digest(), ops::ToHex(ops::Sha256Of({ops::ByteSpan(
                               reinterpret_cast<const uint8_t*>(manifest.data()),
                               manifest.size())})));
  EXPECT_EQ(blob.chunks_size(), 3);
  {
    auto ctx = Ctx();
    v1::GetBlobRequest req;
    req.set_digest(blob.digest());
    auto r = d.store->GetBlob(ctx.get(), req);
    std::string got;
    v1::GetBlobResponse piece;
    while (r->Read(&piece)) got += piece.data();
    ASSERT_TRUE(r->Finish().ok());
    EXPECT_EQ(got, data);
  }

  // Import the GGUF written by the PyPI writer and run Q8_0 x Q8_0 by reference.
  v1::ModelInfo model;
  {
    auto ctx = Ctx();
    v1::ImportModelRequest req;
    req.set_path((models_ / "q.gguf").string());
    grpc::Status st = d.store->ImportModel(ctx.get(), req, &model);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  const v1::TensorEntry* q8 = nullptr;
  for (const auto& t : model.tensors()) {
    if (t.name() == "q8") q8 = &t;
  }
  ASSERT_NE(q8, nullptr);
  ASSERT_EQ(q8->dtype(), v1::TENSOR_DTYPE_Q8_0);
  auto inputs = ops::MakeRandomInputs(ops::OpKind::kMatMulQ8_0Q8_0, 4, 8, 64, 11,
                                      ops::InputProfile::kRealistic);
  ASSERT_TRUE(inputs.ok());
  // The expected result: the stored tensor's bytes (read back from the file by
  // offset) through the reference backend in process.
  std::ifstream f(models_ / "q.gguf", std::ios::binary);
  f.seekg(q8->offset());
  std::vector<uint8_t> w(static_cast<size_t>(q8->size()));
  f.read(reinterpret_cast<char*>(w.data()), q8->size());
  inputs->w = w;
  auto ref = ops::CreateBackend("reference");
  ASSERT_TRUE(ref.ok());
  ASSERT_TRUE(ops::RunOp(**ref, inputs->Args()).ok());
  std::string want = ops::OutputDigestHex(inputs->Args());

  v1::MatMulRequest req;
  req.set_op(v1::OP_KIND_MATMUL_Q8_0_Q8_0);
  req.set_m(4);
  req.set_n(8);
  req.set_k(64);
  req.set_a(std::string(inputs->a.begin(), inputs->a.end()));
  req.mutable_weight_ref()->set_model_digest(model.digest());
  req.mutable_weight_ref()->set_tensor("q8");
  for (int repeat = 0; repeat < 2; ++repeat) {  // cold (load + pin), then pinned
    auto ctx = Ctx();
    v1::MatMulResponse resp;
    grpc::Status st = d.acc->MatMul(ctx.get(), req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(resp.output_digest(), want) << "repeat " << repeat;
    EXPECT_EQ(resp.out().size(), 4u * 8 * 4);
  }
  v1::GetNodeInfoResponse info;
  ASSERT_TRUE(d.acc->GetNodeInfo(Ctx().get(), {}, &info).ok());
  EXPECT_GT(info.pinned_bytes(), 0);
  EXPECT_EQ(d.Stop(), 0);
}

TEST_F(DaemonTest, PeerWithDisallowedUidIsRefused) {
  // Only a uid that is not ours may connect: our calls must fail, the daemon stays up.
  uint32_t other = getuid() == 4242 ? 4243 : 4242;
  DaemonProcess d(root_, "allowed_uids: " + std::to_string(other) + "\n");
  auto ctx = Ctx();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  v1::GetNodeInfoResponse info;
  grpc::Status st = d.acc->GetNodeInfo(ctx.get(), {}, &info);
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(st.error_code() == grpc::StatusCode::UNAVAILABLE ||
              st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)
      << st.error_code() << " " << st.error_message();
  EXPECT_EQ(kill(d.pid(), 0), 0);  // still running
  EXPECT_EQ(d.Stop(), 0);
}

TEST_F(DaemonTest, BadConfigIsRejectedAtStartup) {
  fs::create_directories(root_);
  std::ofstream(root_ / "bad.conf") << "tcp_address: \"0.0.0.0:1234\"\n";
  std::string cmd = std::string(DATANODED_PATH) + " --config " + (root_ / "bad.conf").string() +
                    " 2>" + (root_ / "err").string();
  EXPECT_EQ(WEXITSTATUS(std::system(cmd.c_str())), 2);
  std::ifstream err(root_ / "err");
  std::string line;
  std::getline(err, line);
  EXPECT_NE(line.find("tcp_address must be on loopback"), std::string::npos) << line;
}

}  // namespace
}  // namespace datanode
