// Copyright 2026 The datanode Authors.
#include "node/daemon/inference_rpc.h"

#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "datanode/ops/status_macros.h"
#include "datanode/v1/inference.grpc.pb.h"
#include "node/daemon/inference_service.h"
#include "node/daemon/queued_write_reactor.h"
#include "spdlog/spdlog.h"

namespace datanode::node {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

absl::StatusOr<Sha256> ModelArg(const std::string& hex) {
  auto d = ParseDigestHex(hex);
  if (!d.ok())
    return absl::InvalidArgumentError(absl::StrCat("model_digest: ", d.status().message()));
  return d;
}

v1::StopReason ToProto(inference::StopReason r) {
  switch (r) {
    case inference::StopReason::kEndOfGeneration:
      return v1::STOP_REASON_END_OF_GENERATION;
    case inference::StopReason::kMaxTokens:
      return v1::STOP_REASON_MAX_TOKENS;
    case inference::StopReason::kContextFull:
      return v1::STOP_REASON_CONTEXT_FULL;
    default:
      return v1::STOP_REASON_UNSPECIFIED;
  }
}

absl::StatusOr<GenerateCall> FromProto(const v1::GenerateRequest& r) {
  GenerateCall c;
  switch (r.target_case()) {
    case v1::GenerateRequest::kSessionId:
      if (r.session_id().empty()) return absl::InvalidArgumentError("session_id is empty");
      c.session_id = r.session_id();
      break;
    case v1::GenerateRequest::kModelDigest: {
      ASSIGN_OR_RETURN(c.model, ModelArg(r.model_digest()));
      break;
    }
    default:
      return absl::InvalidArgumentError("request has neither session_id nor model_digest");
  }
  switch (r.prompt_case()) {
    case v1::GenerateRequest::kText:
      c.prompt = r.text();
      break;
    case v1::GenerateRequest::kTokenIds:
      c.prompt = std::vector<int32_t>(r.token_ids().ids().begin(), r.token_ids().ids().end());
      break;
    default:
      return absl::InvalidArgumentError("request has neither text nor token_ids");
  }
  c.chat = r.chat();
  inference::GenerateParams& p = c.params;
  p.max_tokens = r.max_tokens();
  p.sampling.temperature = r.sampling().temperature();
  p.sampling.top_k = r.sampling().top_k();
  p.sampling.top_p = r.sampling().top_p() == 0 ? 1.0f : r.sampling().top_p();
  RETURN_IF_ERROR(ops::llm::ValidateSamplingParams(p.sampling));
  if (static_cast<int64_t>(r.sampling().seed().size()) > inference::kMaxSeedBytes) {
    return absl::InvalidArgumentError(absl::StrCat("seed has ", r.sampling().seed().size(),
                                                   " bytes; at most ", inference::kMaxSeedBytes));
  }
  p.seed.assign(r.sampling().seed().begin(), r.sampling().seed().end());
  p.stop_tokens.assign(r.stop_token_ids().begin(), r.stop_token_ids().end());
  return c;
}

// Runs one generation on the executor and streams its tokens. Writes go through a
// queue (gRPC allows one outstanding write; tokens arrive from the executor thread).
// Cancellation (client cancel, deadline, shutdown, a failed write) sets a flag that
// the engine polls between tokens. The reactor is deleted once gRPC is done with it
// (OnDone) and the work has returned, whichever comes last.
class GenerateReactor final : public QueuedWriteReactor<v1::GenerateResponse> {
 public:
  GenerateReactor(RpcDeps d, GenerateCall call, CallerLimiter::Lease lease)
      : d_(d), call_(std::move(call)), lease_(std::move(lease)), start_(Clock::now()) {
    d_.executor->Submit([this] { Work(); });
  }
  void OnDone() override { Unref(); }

 private:
  void Unref() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }

  void Work() {
    call_.params.should_cancel = [this] { return cancelled(); };
    absl::StatusOr<GenerateOutcome> out = absl::InternalError("generation did not run");
    absl::Status s = CatchAllocFailure([&]() -> absl::Status {
      out = d_.inference->Generate(std::move(call_),
                                   [this](int32_t id, const std::string& piece, bool control) {
                                     v1::GenerateResponse m;
                                     m.mutable_token()->set_id(id);
                                     m.mutable_token()->set_piece(piece);
                                     m.mutable_token()->set_control(control);
                                     Push(std::move(m));
                                     return !cancelled();
                                   });
      return out.status();
    });
    v1::GenerateResponse done;
    if (s.ok()) {
      const inference::GenerateResult& r = out->result;
      v1::GenerateDone* pb = done.mutable_done();
      pb->set_stop_reason(ToProto(r.stop_reason));
      pb->set_prompt_tokens(static_cast<int32_t>(r.prompt_tokens));
      pb->set_generated_tokens(static_cast<int32_t>(r.tokens.size()));
      pb->set_tokens_digest(ops::ToHex(r.tokens_digest));
      pb->set_final_logits_digest(ops::ToHex(r.final_logits_digest));
      pb->set_cycles(out->cycles);
      pb->set_backend(out->backend);
      pb->set_spec_version(ops::kSpecVersion);
      pb->set_prefill_seconds(r.prefill_seconds);
      pb->set_decode_seconds(r.decode_seconds);
      d_.metrics->AddCycles(out->cycles);
    } else {
      spdlog::debug("Generate failed: {}", s.ToString());
    }
    d_.metrics->RecordCall("Generate", s.code(), Since(start_));
    EndWith(ToGrpc(s), s.ok() ? std::optional(std::move(done)) : std::nullopt);
    Unref();
  }

  RpcDeps d_;
  GenerateCall call_;
  CallerLimiter::Lease lease_;
  Clock::time_point start_;
  std::atomic<int> refs_{2};  // gRPC (until OnDone) and the work
};

class InferenceImpl final : public v1::Inference::CallbackService {
 public:
  explicit InferenceImpl(RpcDeps d) : d_(d) {}

  grpc::ServerUnaryReactor* CreateSession(grpc::CallbackServerContext* ctx,
                                          const v1::CreateSessionRequest* req,
                                          v1::CreateSessionResponse* resp) override {
    return RunUnary(d_, ctx, "CreateSession", false, [this, req, resp]() -> absl::Status {
      ASSIGN_OR_RETURN(Sha256 model, ModelArg(req->model_digest()));
      ASSIGN_OR_RETURN(OpenedSession s, d_.inference->CreateSession(model, req->context_length()));
      resp->set_session_id(s.id);
      resp->set_context_length(static_cast<int32_t>(s.context_length));
      resp->set_kv_cache_bytes(s.kv_cache_bytes);
      return absl::OkStatus();
    });
  }

  grpc::ServerUnaryReactor* CloseSession(grpc::CallbackServerContext* ctx,
                                         const v1::CloseSessionRequest* req,
                                         v1::CloseSessionResponse*) override {
    return RunUnary(d_, ctx, "CloseSession", false,
                    [this, req] { return d_.inference->CloseSession(req->session_id()); });
  }

  grpc::ServerUnaryReactor* Tokenize(grpc::CallbackServerContext* ctx,
                                     const v1::TokenizeRequest* req,
                                     v1::TokenizeResponse* resp) override {
    return RunUnary(d_, ctx, "Tokenize", false, [this, req, resp]() -> absl::Status {
      ASSIGN_OR_RETURN(Sha256 model, ModelArg(req->model_digest()));
      ASSIGN_OR_RETURN(InferenceService::Tokens t,
                       d_.inference->Tokenize(model, req->text(), req->add_special(), req->chat()));
      resp->mutable_token_ids()->Assign(t.ids.begin(), t.ids.end());
      resp->set_max_piece_bytes(t.max_piece_bytes);
      return absl::OkStatus();
    });
  }

  grpc::ServerWriteReactor<v1::GenerateResponse>* Generate(
      grpc::CallbackServerContext* ctx, const v1::GenerateRequest* req) override {
    // Refusals (bad request, caller limits) end at once, before any work.
    class Refuse final : public grpc::ServerWriteReactor<v1::GenerateResponse> {
     public:
      explicit Refuse(const absl::Status& s) { Finish(ToGrpc(s)); }
      void OnDone() override { delete this; }
    };
    auto refuse = [&](const absl::Status& s) {
      d_.metrics->RecordCall("Generate", s.code(), 0);
      return new Refuse(s);
    };
    auto lease = AdmitCaller(d_, ctx, true);
    if (!lease.ok()) return refuse(lease.status());
    auto call = FromProto(*req);
    if (!call.ok()) return refuse(call.status());
    return new GenerateReactor(d_, *std::move(call), *std::move(lease));
  }

 private:
  RpcDeps d_;
};

}  // namespace

std::unique_ptr<grpc::Service> NewInferenceRpc(RpcDeps deps) {
  return std::make_unique<InferenceImpl>(deps);
}

}  // namespace datanode::node
