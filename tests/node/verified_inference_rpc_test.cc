// Copyright 2026 The datanode Authors.
//
// The VerifiedInference gRPC service (proto/datanode/v1/verified_inference.proto) on eight
// real datanoded processes (temp sockets, their own stores and node keys; three honest,
// five started with one test_fault each) with a tiny synthetic llama GGUF: one node
// computes each generation step, the other seven verify it on their own verified sessions
// and sign; shim::CombineVerified accepts with n - f = 6 shares. Honest steps give the
// plain pass's logits (an in-process Session here); each faulty node's steps are rejected
// by all seven, naming it, and the step redone by an honest node is accepted (the
// verifiers' KV caches recover). Errors map to the gRPC statuses docs/daemon.md states.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "datanode/ops/backend.h"
#include "datanode/ops/digest.h"
#include "datanode/v1/verified_inference.grpc.pb.h"
#include "gtest/gtest.h"
#include "node/daemon/verified_mode.h"
#include "node/inference/session.h"
#include "node/shim/agreement.h"
#include "node/shim/pricing.h"
#include "tests/inference/engine_test_util.h"
#include "tests/node/daemon_process.h"

namespace datanode::node {
namespace {

// Nodes 0-2 are honest; 3-7 were started with one test_fault each. n = 8, f = 2:
// CombineVerified needs 6 of the 7 verifiers.
constexpr int kNodes = 8;
const char* const kFaults[kNodes] = {
    "", "", "", "flip_output_bit", "flip_exact_bit", "wrong_weights", "replay", "skip_layer"};

struct Node {
  std::unique_ptr<DaemonProcess> daemon;
  std::unique_ptr<v1::VerifiedInference::Stub> stub;
  shim::PublicKey key{};
  std::string session;
};

// The daemons, started once for the suite (each test opens fresh sessions).
struct Subnet {
  std::filesystem::path root;
  std::string gguf, digest;
  inference::testing::TempStore local;
  std::unique_ptr<ops::Backend> cpu;
  std::shared_ptr<const inference::Model> model;
  std::vector<Node> nodes;
  v1::ModelInfo manifest;  // as ImportModel listed it (the tensors' names, shapes, bytes)
  std::string error;
};
Subnet* g_subnet = nullptr;

class VerifiedInferenceRpcTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // An idle C++ client channel reads the daemon's GOAWAY only at gRPC's backup poll
    // (5 s by default), and a daemon's drain waits for it: poll often, before the first
    // channel initializes gRPC.
    setenv("GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS", "100", 1);
    g_subnet = new Subnet;
    Subnet& s = *g_subnet;
    s.root = std::filesystem::temp_directory_path() / ("dn_vi_rpc_" + std::to_string(getpid()));
    std::filesystem::create_directories(s.root);
    inference::testing::TinyLlama spec;
    spec.layers = 2;
    const std::string gguf = inference::testing::TinyLlamaGguf(spec);
    s.gguf = (s.root / "tiny.gguf").string();
    std::ofstream(s.gguf, std::ios::binary) << gguf;
    // The plain pass here, for the expected logits.
    auto digest = s.local.ImportBytes("tiny.gguf", gguf);
    if (!digest.ok()) {
      s.error = digest.status().ToString();
      return;
    }
    s.digest = ops::ToHex(*digest);
    s.cpu = std::move(*ops::CreateBackend("cpu"));
    s.model = *inference::LoadModel(s.local.registry(), s.local.store(), *digest, *s.cpu);
    setenv(kAllowTestFaultsEnv, "1", 1);
    s.nodes.resize(kNodes);
    for (int i = 0; i < kNodes; ++i) {
      std::string config = "inference { max_sessions: 2 }\n";
      if (*kFaults[i] != 0) config += std::string("test_fault: \"") + kFaults[i] + "\"\n";
      s.nodes[i].daemon =
          std::make_unique<DaemonProcess>(s.root / ("n" + std::to_string(i)), config);
    }
    for (int i = 0; i < kNodes; ++i) {
      Node& n = s.nodes[i];
      n.stub = v1::VerifiedInference::NewStub(n.daemon->channel());
      v1::ImportModelRequest req;
      req.set_path(s.gguf);
      v1::ModelInfo info;
      grpc::ClientContext ctx;
      ctx.set_wait_for_ready(true);
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      grpc::Status st = n.daemon->store->ImportModel(&ctx, req, &info);
      auto key = shim::NodeKey::FromPemFile(
          (s.root / ("n" + std::to_string(i)) / "node-key.pem").string());
      if (!st.ok() || info.digest() != s.digest || !key.ok()) {
        s.error = "node " + std::to_string(i) + ": " + st.error_message();
        return;
      }
      n.key = key->public_key();
      if (i == 0) s.manifest = info;
    }
  }
  static void TearDownTestSuite() {
    for (Node& n : g_subnet->nodes) {
      if (n.daemon != nullptr) kill(n.daemon->pid(), SIGTERM);
    }
    g_subnet->nodes.clear();
    std::error_code ec;
    std::filesystem::remove_all(g_subnet->root, ec);
    delete g_subnet;
  }

  // A fresh verified session on every node.
  void SetUp() override {
    ASSERT_TRUE(g_subnet->error.empty()) << g_subnet->error;
    for (int i = 0; i < kNodes; ++i) {
      if (!nodes_[i].session.empty()) Close(i);
      nodes_[i].session = Open(i);
      ASSERT_FALSE(nodes_[i].session.empty()) << "node " << i;
    }
  }

  std::string Open(int i, int context = 32, grpc::Status* status = nullptr) {
    grpc::ClientContext ctx;
    v1::OpenVerifiedSessionRequest req;
    req.set_model_digest(digest_);
    req.set_context_length(context);
    v1::OpenVerifiedSessionResponse resp;
    grpc::Status s = nodes_[i].stub->OpenSession(&ctx, req, &resp);
    if (status != nullptr) *status = s;
    return s.ok() ? resp.session_id() : "";
  }

  grpc::Status Close(int i) {
    grpc::ClientContext ctx;
    v1::CloseVerifiedSessionRequest req;
    req.set_session_id(nodes_[i].session);
    v1::CloseVerifiedSessionResponse resp;
    return nodes_[i].stub->CloseSession(&ctx, req, &resp);
  }

  v1::GenerationStep Step(int i, int position, const std::vector<int32_t>& tokens,
                          const v1::SamplingParams* sampling = nullptr, uint64_t draw = 0) {
    v1::GenerationStep step;
    step.set_session_id(nodes_[i].session);
    step.set_position(position);
    for (int32_t t : tokens) step.add_token_ids(t);
    if (sampling != nullptr) *step.mutable_sampling() = *sampling;
    step.set_draw(draw);
    return step;
  }

  struct Outcome {
    grpc::Status compute_status;
    v1::ComputeStepResponse computed;
    std::vector<v1::VerifyStepResponse> verdicts;
    shim::VerifiedAgreement agreement;
  };

  // One verified step: node `computing` computes, every other node verifies.
  Outcome RunStep(int computing, int position, const std::vector<int32_t>& tokens, uint64_t call,
                  const v1::SamplingParams* sampling = nullptr, uint64_t draw = 0) {
    Outcome out;
    {
      grpc::ClientContext ctx;
      v1::ComputeStepRequest req;
      *req.mutable_step() = Step(computing, position, tokens, sampling, draw);
      out.compute_status = nodes_[computing].stub->ComputeStep(&ctx, req, &out.computed);
      if (!out.compute_status.ok()) return out;
    }
    const ops::Sha256 request =
        ops::Sha256Of({ops::ByteSpan(reinterpret_cast<const uint8_t*>(&call), sizeof call)});
    std::vector<shim::PublicKey> keys;
    std::vector<shim::VerifiedShare> shares;
    for (int v = 0; v < kNodes; ++v) {
      keys.push_back(nodes_[v].key);
      if (v == computing) continue;
      grpc::ClientContext ctx;
      v1::VerifyStepRequest req;
      *req.mutable_step() = Step(v, position, tokens, sampling, draw);
      req.set_pass_answer(out.computed.pass_answer());
      req.set_epoch(1);
      req.set_request_digest(request.data(), request.size());
      req.set_computing_node(static_cast<uint32_t>(computing));
      v1::VerifyStepResponse r;
      grpc::Status s = nodes_[v].stub->VerifyStep(&ctx, req, &r);
      EXPECT_TRUE(s.ok()) << "verifier " << v << ": " << s.error_message();
      out.verdicts.push_back(r);
      shim::VerifiedShare share;
      share.node = static_cast<uint32_t>(v);
      share.request_digest = request;
      share.accepted = r.accepted();
      share.reason = r.reason();
      if (r.output_digest().size() == 32) {
        std::copy(r.output_digest().begin(), r.output_digest().end(), share.output_digest.begin());
      }
      if (r.signature().size() == 64) {
        std::copy(r.signature().begin(), r.signature().end(), share.signature.begin());
      }
      shares.push_back(share);
    }
    ops::Sha256 d{};
    if (out.computed.output_digest().size() == 32) {
      std::copy(out.computed.output_digest().begin(), out.computed.output_digest().end(),
                d.begin());
    }
    out.agreement =
        shim::CombineVerified(keys, request, static_cast<uint32_t>(computing), d, shares);
    return out;
  }

  std::vector<Node>& nodes_ = g_subnet->nodes;
  const std::string& digest_ = g_subnet->digest;
  const std::shared_ptr<const inference::Model>& model_ = g_subnet->model;
};

std::string Hex(const std::string& bytes) {
  ops::Sha256 d{};
  if (bytes.size() == d.size()) std::copy(bytes.begin(), bytes.end(), d.begin());
  return ops::ToHex(d);
}

// A prompt and greedy decode steps, the computing node rotating: every step accepted by
// all three verifiers with D = the plain pass's logits and the same next token.
TEST_F(VerifiedInferenceRpcTest, HonestGenerationIsAcceptedWithThePlainPassLogits) {
  auto local = *inference::Session::Create(model_, {32});
  std::vector<int32_t> tokens = {3, 14, 15, 9, 26};
  int position = 0;
  absl::uint128 charged = 0;  // what the daemons charged: one pass and n - 1 checks a step
  for (int step = 0; step < 6; ++step) {
    const std::vector<float> logits = *local->Evaluate(tokens);
    const std::string expected = ops::ToHex(ops::Sha256Of({ops::ByteSpan(
        reinterpret_cast<const uint8_t*>(logits.data()), logits.size() * sizeof(float))}));
    const int32_t next =
        static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    const Outcome o = RunStep(step % 3, position, tokens, 100 + step);  // honest nodes
    ASSERT_TRUE(o.compute_status.ok()) << o.compute_status.error_message();
    EXPECT_EQ(Hex(o.computed.output_digest()), expected) << "step " << step;
    EXPECT_EQ(o.computed.next_token(), next);
    EXPECT_GT(o.computed.cycles(), 0u);
    EXPECT_TRUE(o.agreement.agreed) << o.agreement.message;
    EXPECT_EQ(o.agreement.accepting.size(), kNodes - 1u);
    for (const auto& r : o.verdicts) {
      EXPECT_TRUE(r.accepted()) << r.reason();
      EXPECT_EQ(r.next_token(), next);
      EXPECT_EQ(r.check(), "none");
      EXPECT_GT(r.verifier_bytes(), 0);
      EXPECT_GT(r.cycles(), 0u);
      EXPECT_LT(r.cycles(), o.computed.cycles());
    }
    charged += o.computed.cycles();
    if (!o.verdicts.empty()) charged += absl::uint128(kNodes - 1) * o.verdicts[0].cycles();
    position += static_cast<int>(tokens.size());
    tokens = {next};
  }
  // The price a canister is charged for this generation (5 prompt tokens, 6 generated) is
  // the daemons' figures plus the consensus term: shim::VerifiedGeneratePrice from the
  // manifest alone (docs/canister-api.md "Verified inference").
  std::vector<std::vector<int64_t>> shapes;
  std::vector<shim::PricedTensor> priced;
  shapes.reserve(g_subnet->manifest.tensors_size());
  for (const v1::TensorEntry& t : g_subnet->manifest.tensors()) {
    shapes.emplace_back(t.shape().begin(), t.shape().end());
    priced.push_back({t.name(), shapes.back(), static_cast<uint64_t>(t.size())});
  }
  auto price = shim::VerifiedGeneratePrice(kNodes, priced, 5, 6, 0, 0);
  ASSERT_TRUE(price.ok()) << price.status();
  EXPECT_EQ(*price, shim::RejectFee(kNodes, 0) + charged);
}

// Seeded sampling (temperature, top-k, top-p): step i draws word i of the seed's stream,
// so the verified generation's tokens, chosen by the computing node and by every verifier
// from the logits it checked, are the tokens a plain Generate gives for the same prompt,
// sampling and seed. Bad sampling parameters are INVALID_ARGUMENT before any work.
TEST_F(VerifiedInferenceRpcTest, SampledGenerationGivesThePlainGeneratesTokens) {
  const std::vector<int32_t> prompt = {3, 14, 15, 9, 26};
  constexpr int kTokens = 8;
  v1::SamplingParams sampling;
  sampling.set_temperature(1.5f);
  sampling.set_top_k(40);
  sampling.set_top_p(0.95f);
  sampling.set_seed("beacon round 7");
  inference::GenerateParams params;
  params.max_tokens = kTokens;
  params.stop_at_eog = false;
  params.sampling = {1.5f, 40, 0.95f};
  params.seed.assign(sampling.seed().begin(), sampling.seed().end());
  auto plain = *inference::Session::Create(model_, {32});
  const absl::StatusOr<inference::GenerateResult> expected = plain->Generate(prompt, params);
  ASSERT_TRUE(expected.ok()) << expected.status();
  ASSERT_EQ(expected->tokens.size(), static_cast<size_t>(kTokens));
  // The same generation greedy, to show that sampling chose differently somewhere (a
  // sampled run equal to the greedy one would not test the draws).
  auto greedy_session = *inference::Session::Create(model_, {32});
  inference::GenerateParams greedy = params;
  greedy.sampling = {};
  const absl::StatusOr<inference::GenerateResult> greedy_result =
      greedy_session->Generate(prompt, greedy);
  ASSERT_TRUE(greedy_result.ok()) << greedy_result.status();
  EXPECT_NE(greedy_result->tokens, expected->tokens);

  std::vector<int32_t> tokens = prompt;
  int position = 0;
  for (int i = 0; i < kTokens; ++i) {
    const Outcome o = RunStep(i % 3, position, tokens, 300 + i, &sampling, i);
    ASSERT_TRUE(o.compute_status.ok()) << o.compute_status.error_message();
    EXPECT_EQ(o.computed.next_token(), expected->tokens[i]) << "token " << i;
    EXPECT_TRUE(o.agreement.agreed) << o.agreement.message;
    for (const auto& r : o.verdicts) {
      EXPECT_TRUE(r.accepted()) << r.reason();
      EXPECT_EQ(r.next_token(), expected->tokens[i]) << "token " << i;
    }
    position += static_cast<int>(tokens.size());
    tokens = {o.computed.next_token()};
  }

  v1::SamplingParams bad = sampling;
  bad.set_temperature(-1.0f);
  grpc::ClientContext ctx;
  v1::ComputeStepRequest req;
  *req.mutable_step() = Step(0, position, tokens, &bad, kTokens);
  v1::ComputeStepResponse resp;
  const grpc::Status s = nodes_[0].stub->ComputeStep(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  bad = sampling;
  bad.set_seed(std::string(inference::kMaxSeedBytes + 1, 'x'));
  grpc::ClientContext ctx2;
  v1::VerifyStepRequest vreq;
  *vreq.mutable_step() = Step(1, position, tokens, &bad, kTokens);
  vreq.set_request_digest(std::string(32, '\0'));
  v1::VerifyStepResponse vresp;
  const grpc::Status s2 = nodes_[1].stub->VerifyStep(&ctx2, vreq, &vresp);
  EXPECT_EQ(s2.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s2.error_message();
}

// Each test fault on the computing node: all three verifiers reject, naming it; the step
// redone at the same position by an honest node is accepted, and so is the next one.
TEST_F(VerifiedInferenceRpcTest, EveryFaultIsRejectedAndNamedAndTheRetryAccepted) {
  uint64_t call = 1000;
  for (int faulty = 3; faulty < kNodes; ++faulty) {
    SCOPED_TRACE(kFaults[faulty]);
    if (faulty > 3) SetUp();  // fresh sessions
    const std::vector<int32_t> prompt = {7, 8, 9};
    Outcome o = RunStep(0, 0, prompt, ++call);
    ASSERT_TRUE(o.agreement.agreed) << o.agreement.message;
    const int32_t next = o.computed.next_token();
    // Two faulty decode steps in a row (a replay has an earlier answer to replay).
    for (int trial = 0; trial < 2; ++trial) {
      Outcome bad = RunStep(faulty, 3, {next}, ++call);
      ASSERT_TRUE(bad.compute_status.ok()) << bad.compute_status.error_message();
      EXPECT_FALSE(bad.agreement.agreed);
      EXPECT_TRUE(bad.agreement.computing_node_faulty) << bad.agreement.message;
      EXPECT_EQ(bad.agreement.rejecting.size(), kNodes - 1u);
      const std::string named = "computing node " + std::to_string(faulty) + " ";
      EXPECT_NE(bad.agreement.message.find(named + "answered wrongly"), std::string::npos)
          << bad.agreement.message;
      for (const auto& r : bad.verdicts) {
        EXPECT_FALSE(r.accepted());
        EXPECT_EQ(r.next_token(), -1);
        EXPECT_NE(r.reason().find(named), std::string::npos) << r.reason();
      }
    }
    // The retry by node 1 at the same position, then one more step by node 2.
    Outcome retry = RunStep(1, 3, {next}, ++call);
    EXPECT_TRUE(retry.agreement.agreed) << retry.agreement.message;
    Outcome after = RunStep(2, 4, {retry.computed.next_token()}, ++call);
    EXPECT_TRUE(after.agreement.agreed) << after.agreement.message;
  }
}

// skip_layer also applies to a verified MatMul (no work: zero output and sums): rejected
// naming the computing node, while an honest node's answer is accepted.
TEST_F(VerifiedInferenceRpcTest, SkipLayerFaultOfAMatMulIsRejected) {
  constexpr int kN = 16, kK = 64;
  auto blocks = [](int rows, uint32_t seed) {
    std::string b;
    for (int i = 0; i < rows * (kK / 32); ++i) {
      b += '\x00';
      b += '\x3C';  // f16 1.0
      for (int j = 0; j < 32; ++j) b += static_cast<char>(1 + (seed + i * 32 + j) % 100);
    }
    return b;
  };
  v1::MatMulRequest req;
  req.set_op(v1::OP_KIND_MATMUL_Q8_0_Q8_0);
  req.set_m(1);
  req.set_n(kN);
  req.set_k(kK);
  req.set_a(blocks(1, 3));
  req.mutable_inline_weights()->set_w(blocks(kN, 7));
  req.set_exact_output(true);
  for (int computing : {1, 7}) {
    SCOPED_TRACE(computing);
    v1::MatMulResponse answer;
    grpc::ClientContext ctx;
    ASSERT_TRUE(nodes_[computing].daemon->acc->MatMul(&ctx, req, &answer).ok());
    v1::MatMulRequest vreq = req;
    vreq.set_exact_output(false);
    vreq.mutable_verify()->set_out(answer.out());
    vreq.mutable_verify()->set_exact_sums(answer.exact_sums());
    vreq.mutable_verify()->set_epoch(1);
    vreq.mutable_verify()->set_request_digest(std::string(32, 'm'));
    vreq.mutable_verify()->set_computing_node(static_cast<uint32_t>(computing));
    v1::MatMulResponse verdict;
    grpc::ClientContext vctx;
    ASSERT_TRUE(nodes_[0].daemon->acc->MatMul(&vctx, vreq, &verdict).ok());
    EXPECT_EQ(verdict.verification().accepted(), computing == 1) << verdict.verification().reason();
    if (computing == 7) {
      EXPECT_EQ(answer.out(), std::string(answer.out().size(), '\0'));
      EXPECT_NE(verdict.verification().reason().find("computing node 7 "), std::string::npos);
    }
  }
}

// A verified session runs on the Inference service's loaded model (one copy per daemon):
// with sessions open on every node, each daemon counts the model as loaded for inference.
TEST_F(VerifiedInferenceRpcTest, VerifiedSessionsShareTheInferenceServicesModel) {
  for (int i = 0; i < kNodes; ++i) {
    const std::string metrics = nodes_[i].daemon->Metrics();
    EXPECT_EQ(MetricValue(metrics, "datanoded_inference_models_loaded"), 1) << "node " << i << ":\n"
                                                                            << metrics;
  }
}

TEST_F(VerifiedInferenceRpcTest, ErrorsMapToGrpcStatuses) {
  auto code = [&](auto call) { return call().error_code(); };
  auto compute = [&](const v1::GenerationStep& step) {
    return code([&] {
      grpc::ClientContext ctx;
      v1::ComputeStepRequest req;
      *req.mutable_step() = step;
      v1::ComputeStepResponse resp;
      return nodes_[0].stub->ComputeStep(&ctx, req, &resp);
    });
  };
  v1::GenerationStep unknown = Step(0, 0, {1});
  unknown.set_session_id("nope");
  EXPECT_EQ(compute(unknown), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(compute(Step(0, 1, {1})), grpc::StatusCode::INVALID_ARGUMENT);   // past the held
  EXPECT_EQ(compute(Step(0, 0, {})), grpc::StatusCode::INVALID_ARGUMENT);    // empty step
  EXPECT_EQ(compute(Step(0, 0, {96})), grpc::StatusCode::INVALID_ARGUMENT);  // vocab is 96
  EXPECT_EQ(compute(Step(0, 0, std::vector<int32_t>(33, 1))), grpc::StatusCode::OUT_OF_RANGE);
  grpc::Status s;
  const std::string second = Open(0, 0, &s);  // the second of max_sessions 2
  EXPECT_TRUE(s.ok()) << s.error_message();
  Open(0, 0, &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  {
    grpc::ClientContext ctx;
    v1::CloseVerifiedSessionRequest req;
    req.set_session_id(second);
    v1::CloseVerifiedSessionResponse resp;
    EXPECT_TRUE(nodes_[0].stub->CloseSession(&ctx, req, &resp).ok());
  }
  Open(1, 100000, &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  {
    grpc::ClientContext ctx;
    v1::OpenVerifiedSessionRequest req;
    req.set_model_digest(std::string(64, 'a'));
    v1::OpenVerifiedSessionResponse resp;
    EXPECT_EQ(nodes_[1].stub->OpenSession(&ctx, req, &resp).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }

  // Verifying: an older epoch is refused; an undecodable answer is a signed rejection.
  ASSERT_TRUE(RunStep(0, 0, {5, 6}, 1).agreement.agreed);
  auto verify = [&](int v, const std::string& answer, uint64_t epoch, v1::VerifyStepResponse* r) {
    grpc::ClientContext ctx;
    v1::VerifyStepRequest req;
    *req.mutable_step() = Step(v, 2, {7});
    req.set_pass_answer(answer);
    req.set_epoch(epoch);
    req.set_request_digest(std::string(32, 'r'));
    req.set_computing_node(0);
    return nodes_[v].stub->VerifyStep(&ctx, req, r);
  };
  v1::VerifyStepResponse r;
  EXPECT_EQ(verify(1, "garbage", 0, &r).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(verify(1, "garbage", 1, &r).ok());
  EXPECT_FALSE(r.accepted());
  EXPECT_EQ(r.check(), "structure");
  EXPECT_NE(r.reason().find("computing node 0 "), std::string::npos) << r.reason();
  EXPECT_NE(r.reason().find("undecodable"), std::string::npos) << r.reason();
  EXPECT_EQ(r.signature().size(), 64u);
  {
    grpc::ClientContext ctx;
    v1::VerifyStepRequest req;
    *req.mutable_step() = Step(1, 2, {7});
    req.set_request_digest("short");
    EXPECT_EQ(nodes_[1].stub->VerifyStep(&ctx, req, &r).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  EXPECT_TRUE(Close(2).ok());
  EXPECT_EQ(Close(2).error_code(), grpc::StatusCode::NOT_FOUND);
  nodes_[2].session.clear();
  EXPECT_EQ(compute(Step(0, 0, {1})), grpc::StatusCode::OK);  // redo from 0: allowed
}

}  // namespace
}  // namespace datanode::node
