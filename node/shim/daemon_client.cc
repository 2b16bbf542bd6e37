// Copyright 2026 The datanode Authors.
#include "node/shim/daemon_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "datanode/ops/digest.h"
#include "datanode/util/hex.h"
#include "datanode/v1/accelerator.grpc.pb.h"
#include "datanode/v1/inference.grpc.pb.h"
#include "datanode/v1/store.grpc.pb.h"

namespace datanode::shim {
namespace {

namespace v1 = ::datanode::v1;

absl::Status FromGrpc(const grpc::Status& s, const std::string& address) {
  if (s.ok()) return absl::OkStatus();
  std::string msg = s.error_message();
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
    msg = absl::StrCat("data node daemon unavailable at ", address, ": ", msg);
  }
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), msg);
}

std::string Hex(const std::vector<uint8_t>& b) {
  // Not a digest: ValidateMatMulArgs rejects this before any RPC.
  return b.size() == ops::Sha256().size() ? util::HexEncode(b) : "";
}

// "TENSOR_DTYPE_Q8_0" -> "q8_0".
std::string DtypeName(int dtype) {
  std::string name = v1::TensorDtype_Name(static_cast<v1::TensorDtype>(dtype));
  constexpr std::string_view kPrefix = "TENSOR_DTYPE_";
  if (name.rfind(kPrefix, 0) == 0) name = name.substr(kPrefix.size());
  return absl::AsciiStrToLower(name.empty() ? "unknown" : name);
}

std::string FormatName(int format) {
  switch (format) {
    case v1::MODEL_FORMAT_GGUF:
      return "gguf";
    case v1::MODEL_FORMAT_SAFETENSORS:
      return "safetensors";
    default:
      return "unknown";
  }
}

class GrpcDaemonClient : public DaemonClient {
 public:
  GrpcDaemonClient(std::string address, std::chrono::milliseconds timeout, size_t max_reply)
      : address_(address.rfind("unix:", 0) == 0 || address.find(':') != std::string::npos
                     ? std::move(address)
                     : "unix:" + address),
        timeout_(timeout),
        max_reply_(max_reply) {}

  absl::StatusOr<DaemonMatMulResult> MatMul(const MatMulArgs& a) override {
    v1::MatMulRequest req = Request(a);
    v1::MatMulResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    absl::Status s = FromGrpc(Accelerator()->MatMul(&ctx, req, &resp), address_);
    if (!s.ok()) return s;
    DaemonMatMulResult r;
    r.out.assign(resp.out().begin(), resp.out().end());
    r.output_digest_hex = resp.output_digest();
    r.spec_version = resp.spec_version();
    return r;
  }

  absl::StatusOr<DaemonExactResult> MatMulExact(const MatMulArgs& a) override {
    v1::MatMulRequest req = Request(a);
    req.set_exact_output(true);
    v1::MatMulResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    absl::Status s = FromGrpc(Accelerator()->MatMul(&ctx, req, &resp), address_);
    if (!s.ok()) return s;
    DaemonExactResult r;
    r.out.assign(resp.out().begin(), resp.out().end());
    r.exact_sums.assign(resp.exact_sums().begin(), resp.exact_sums().end());
    r.output_digest_hex = resp.output_digest();
    r.spec_version = resp.spec_version();
    return r;
  }

  absl::StatusOr<DaemonVerdict> MatMulVerify(const MatMulArgs& a,
                                             const DaemonVerifyCall& c) override {
    v1::MatMulRequest req = Request(a);
    v1::VerifyAnswer* va = req.mutable_verify();
    va->set_out(c.out.data(), c.out.size());
    va->set_exact_sums(c.exact_sums.data(), c.exact_sums.size());
    va->set_epoch(c.epoch);
    va->set_request_digest(c.request_digest.data(), c.request_digest.size());
    va->set_computing_node(c.computing_node);
    v1::MatMulResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    absl::Status s = FromGrpc(Accelerator()->MatMul(&ctx, req, &resp), address_);
    if (!s.ok()) return s;
    if (!resp.has_verification()) {
      return absl::InternalError("the data node answered a verify call without a verdict");
    }
    const v1::VerifyResult& v = resp.verification();
    DaemonVerdict r;
    r.accepted = v.accepted();
    r.check = v.check();
    r.reason = v.reason();
    r.output_digest.assign(v.output_digest().begin(), v.output_digest().end());
    r.signature.assign(v.signature().begin(), v.signature().end());
    return r;
  }

  absl::StatusOr<std::vector<ModelInfo>> ListModels(
      const std::optional<std::vector<uint8_t>>& model) override {
    std::vector<std::string> digests;
    if (model) {
      digests.push_back(Hex(*model));
    } else {
      v1::ListModelsResponse resp;
      grpc::ClientContext ctx;
      SetDeadline(&ctx);
      absl::Status s =
          FromGrpc(Store()->ListModels(&ctx, v1::ListModelsRequest(), &resp), address_);
      if (!s.ok()) return s;
      for (const auto& m : resp.models()) digests.push_back(m.digest());
    }
    std::sort(digests.begin(), digests.end());
    std::vector<ModelInfo> out;
    for (const std::string& d : digests) {
      v1::GetModelRequest req;
      req.set_digest(d);
      v1::ModelInfo info;
      grpc::ClientContext ctx;
      SetDeadline(&ctx);
      absl::Status s = FromGrpc(Store()->GetModel(&ctx, req, &info), address_);
      if (!s.ok()) return s;
      ModelInfo m;
      absl::StatusOr<std::vector<uint8_t>> digest = util::HexDecodeBytes(info.digest());
      if (!digest.ok()) {
        return absl::InternalError(
            absl::StrCat("the data node named a model \"", info.digest(), "\": not hex"));
      }
      m.digest = *std::move(digest);
      m.format = FormatName(info.format());
      for (const auto& t : info.tensors()) {
        TensorInfo ti;
        ti.name = t.name();
        ti.format = DtypeName(t.dtype());
        for (int64_t dim : t.shape()) ti.shape.push_back(static_cast<uint64_t>(dim));
        ti.bytes = static_cast<uint64_t>(t.size());
        m.tensors.push_back(std::move(ti));
      }
      std::sort(m.tensors.begin(), m.tensors.end(),
                [](const TensorInfo& x, const TensorInfo& y) { return x.name < y.name; });
      out.push_back(std::move(m));
    }
    return out;
  }

  absl::StatusOr<DaemonTokens> Tokenize(const std::vector<uint8_t>& model, const std::string& text,
                                        bool chat) override {
    v1::TokenizeRequest req;
    req.set_model_digest(Hex(model));
    req.set_text(text);
    req.set_add_special(true);
    req.set_chat(chat);
    v1::TokenizeResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    absl::Status s = FromGrpc(Inference()->Tokenize(&ctx, req, &resp), address_);
    if (!s.ok()) return s;
    return DaemonTokens{{resp.token_ids().begin(), resp.token_ids().end()}, resp.max_piece_bytes()};
  }

  // The deadline is the per-RPC timeout plus one second per requested token.
  absl::StatusOr<std::string> AdmittedClass() override {
    v1::GetNodeInfoResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    absl::Status s = FromGrpc(Accelerator()->GetNodeInfo(&ctx, {}, &resp), address_);
    if (!s.ok()) return s;
    return resp.admitted_class();
  }

  absl::StatusOr<DaemonGenerateResult> Generate(const DaemonGenerateCall& c) override {
    v1::GenerateRequest req;
    req.set_model_digest(Hex(c.model));
    req.mutable_token_ids()->mutable_ids()->Assign(c.prompt.begin(), c.prompt.end());
    req.set_max_tokens(static_cast<int32_t>(c.max_tokens));
    req.mutable_sampling()->set_temperature(c.temperature);
    req.mutable_sampling()->set_top_k(static_cast<int32_t>(c.top_k));
    req.mutable_sampling()->set_top_p(c.top_p);
    req.mutable_sampling()->set_seed(c.seed.data(), c.seed.size());
    req.mutable_stop_token_ids()->Assign(c.stop_token_ids.begin(), c.stop_token_ids.end());
    grpc::ClientContext ctx;
    SetDeadline(&ctx, std::chrono::seconds(c.max_tokens));
    auto reader = Inference()->Generate(&ctx, req);
    DaemonGenerateResult r;
    v1::GenerateResponse m;
    bool done = false;
    while (reader->Read(&m)) {
      if (m.has_token()) {
        r.ids.push_back(m.token().id());
        r.text.insert(r.text.end(), m.token().piece().begin(), m.token().piece().end());
      } else if (m.has_done()) {
        const v1::GenerateDone& d = m.done();
        done = true;
        switch (d.stop_reason()) {
          case v1::STOP_REASON_END_OF_GENERATION:
            r.stop_reason = StopReason::kEndOfGeneration;
            break;
          case v1::STOP_REASON_CONTEXT_FULL:
            r.stop_reason = StopReason::kContextFull;
            break;
          default:
            r.stop_reason = StopReason::kMaxTokens;
        }
        r.prompt_tokens = static_cast<uint32_t>(d.prompt_tokens());
        r.tokens_digest_hex = d.tokens_digest();
        r.final_logits_digest_hex = d.final_logits_digest();
        r.spec_version = d.spec_version();
        r.cycles = d.cycles();
      }
    }
    absl::Status s = FromGrpc(reader->Finish(), address_);
    if (!s.ok()) return s;
    if (!done) return absl::InternalError("Generate ended without GenerateDone");
    return r;
  }

 private:
  // The call by reference (the Candid interface never sends weights inline).
  static v1::MatMulRequest Request(const MatMulArgs& a) {
    v1::MatMulRequest req;
    req.set_op(static_cast<v1::OpKind>(static_cast<int>(a.op)));
    req.set_m(a.m);
    req.set_n(a.n);
    req.set_k(a.k);
    req.set_a(a.a.data(), a.a.size());
    if (a.a_scale) req.set_a_scale(a.a_scale->data(), a.a_scale->size());
    v1::WeightRef* ref = req.mutable_weight_ref();
    ref->set_model_digest(Hex(a.weights.model));
    ref->set_tensor(a.weights.tensor);
    if (a.w_scale) ref->set_scale_tensor(*a.w_scale);
    return req;
  }

  void SetDeadline(grpc::ClientContext* ctx,
                   std::chrono::milliseconds extra = std::chrono::milliseconds(0)) const {
    ctx->set_deadline(std::chrono::system_clock::now() + timeout_ + extra);
    ctx->set_wait_for_ready(false);  // fail fast when the daemon is not there
  }

  // The channel is made on first use and shared by all threads (gRPC channels and
  // stubs are thread-safe); the mutex only guards its creation.
  std::shared_ptr<grpc::Channel> Channel() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!channel_) {
      grpc::ChannelArguments args;
      // A verified computing node's reply carries the exact sums beside C: at most 16
      // bytes per 4-byte output element (ops::verify::ExactSumsBytes).
      args.SetMaxReceiveMessageSize(
          static_cast<int>(std::min<size_t>(5 * max_reply_ + 4096, INT32_MAX)));
      args.SetMaxSendMessageSize(-1);
      channel_ = grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), args);
      accel_ = v1::Accelerator::NewStub(channel_);
      store_ = v1::Store::NewStub(channel_);
      inference_ = v1::Inference::NewStub(channel_);
    }
    return channel_;
  }
  v1::Accelerator::Stub* Accelerator() {
    Channel();
    return accel_.get();
  }
  v1::Store::Stub* Store() {
    Channel();
    return store_.get();
  }
  v1::Inference::Stub* Inference() {
    Channel();
    return inference_.get();
  }

  const std::string address_;
  const std::chrono::milliseconds timeout_;
  const size_t max_reply_;
  std::mutex mu_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Accelerator::Stub> accel_;
  std::unique_ptr<v1::Store::Stub> store_;
  std::unique_ptr<v1::Inference::Stub> inference_;
};

}  // namespace

std::unique_ptr<DaemonClient> NewGrpcDaemonClient(std::string address,
                                                  std::chrono::milliseconds timeout,
                                                  size_t max_reply_bytes) {
  return std::make_unique<GrpcDaemonClient>(std::move(address), timeout, max_reply_bytes);
}

}  // namespace datanode::shim
