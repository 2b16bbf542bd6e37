// Copyright 2026 The datanode Authors.
#include "node/daemon/verified_rpc.h"

#include <string>
#include <utility>

#include "datanode/ops/status_macros.h"
#include "datanode/ops/verify_pass.h"
#include "datanode/v1/verified_inference.grpc.pb.h"
#include "node/daemon/rpc_convert.h"
#include "node/daemon/verified_inference.h"

namespace datanode::node {
namespace {

absl::StatusOr<VerifiedStep> FromProto(const v1::GenerationStep& p) {
  VerifiedStep step{p.session_id(), p.position(), {p.token_ids().begin(), p.token_ids().end()}};
  RETURN_IF_ERROR(SamplingFromProto(p.sampling(), &step.sampling, &step.seed));
  step.draw = p.draw();
  return step;
}

ops::ByteSpan Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

void SetBytes(std::string* out, ops::ByteSpan bytes) {
  out->assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

void ToProto(const VerifiedStepResult& r, v1::VerifyStepResponse* out) {
  const PassVerification& v = r.verification;
  out->set_accepted(v.accepted);
  out->set_check(ops::verify::PassCheckName(v.check));
  out->set_matmul_check(ops::verify::CheckName(v.matmul_check));
  out->set_layer(v.layer);
  out->set_site(v.site);
  out->set_reason(v.reason);
  SetBytes(out->mutable_output_digest(), v.output_digest);
  SetBytes(out->mutable_signature(), v.signature);
  SetBytes(out->mutable_public_key(), v.public_key);
  out->set_epoch(v.epoch);
  out->set_verifier_bytes(v.verifier_bytes);
  out->set_next_token(r.next_token);
  out->set_cycles(r.cycles);
}

class VerifiedInferenceImpl final : public v1::VerifiedInference::CallbackService {
 public:
  VerifiedInferenceImpl(RpcDeps d, const Config& config)
      : d_(d), domain_(d.service, d.inference, config) {}

  grpc::ServerUnaryReactor* OpenSession(grpc::CallbackServerContext* ctx,
                                        const v1::OpenVerifiedSessionRequest* req,
                                        v1::OpenVerifiedSessionResponse* resp) override {
    return RunUnary(d_, ctx, "OpenVerifiedSession", false, [this, req, resp]() -> absl::Status {
      ASSIGN_OR_RETURN(Sha256 model, DigestFromProto(req->model_digest(), "model_digest"));
      ASSIGN_OR_RETURN(OpenedSession s, domain_.OpenSession(model, req->context_length()));
      resp->set_session_id(s.id);
      resp->set_context_length(static_cast<int32_t>(s.context_length));
      resp->set_kv_cache_bytes(s.kv_cache_bytes);
      return absl::OkStatus();
    });
  }

  grpc::ServerUnaryReactor* CloseSession(grpc::CallbackServerContext* ctx,
                                         const v1::CloseVerifiedSessionRequest* req,
                                         v1::CloseVerifiedSessionResponse*) override {
    return RunUnary(d_, ctx, "CloseVerifiedSession", false,
                    [this, req] { return domain_.CloseSession(req->session_id()); });
  }

  grpc::ServerUnaryReactor* ComputeStep(grpc::CallbackServerContext* ctx,
                                        const v1::ComputeStepRequest* req,
                                        v1::ComputeStepResponse* resp) override {
    return RunUnary(d_, ctx, "ComputeStep", true, [this, req, resp]() -> absl::Status {
      ASSIGN_OR_RETURN(const VerifiedStep step, FromProto(req->step()));
      ASSIGN_OR_RETURN(ComputedStep c, domain_.Compute(step));
      SetBytes(resp->mutable_pass_answer(), c.answer);
      SetBytes(resp->mutable_output_digest(), c.output_digest);
      resp->set_next_token(c.next_token);
      resp->set_cycles(c.cycles);
      resp->set_backend(c.backend);
      d_.metrics->AddCycles(c.cycles);
      return absl::OkStatus();
    });
  }

  grpc::ServerUnaryReactor* VerifyStep(grpc::CallbackServerContext* ctx,
                                       const v1::VerifyStepRequest* req,
                                       v1::VerifyStepResponse* resp) override {
    return RunUnary(d_, ctx, "VerifyStep", true, [this, req, resp]() -> absl::Status {
      StepAnswer answer;
      answer.answer = Bytes(req->pass_answer());
      answer.epoch = req->epoch();
      if (req->request_digest().size() != answer.request_digest.size()) {
        return absl::InvalidArgumentError("request_digest must be 32 bytes");
      }
      std::copy(req->request_digest().begin(), req->request_digest().end(),
                answer.request_digest.begin());
      answer.computing_node = req->computing_node();
      ASSIGN_OR_RETURN(const VerifiedStep step, FromProto(req->step()));
      ASSIGN_OR_RETURN(VerifiedStepResult r, domain_.Verify(step, answer));
      ToProto(r, resp);
      d_.metrics->AddCycles(r.cycles);
      return absl::OkStatus();
    });
  }

 private:
  RpcDeps d_;
  VerifiedInference domain_;
};

}  // namespace

std::unique_ptr<grpc::Service> NewVerifiedInferenceRpc(RpcDeps deps, const Config& config) {
  return std::make_unique<VerifiedInferenceImpl>(deps, config);
}

}  // namespace datanode::node
