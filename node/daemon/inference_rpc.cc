// Copyright 2026 The datanode Authors.
#include "node/daemon/inference_rpc.h"

#include <atomic>
#include <optional>
#include <string>
#include <utility>

#include "datanode/ops/status_macros.h"
#include "datanode/v1/inference.grpc.pb.h"
#include "node/daemon/inference_service.h"
#include "node/daemon/queued_write_reactor.h"
#include "node/daemon/rpc_convert.h"
#include "spdlog/spdlog.h"

namespace datanode::node {
namespace {

// Runs one generation on the executor and streams its tokens. Writes go through a
// queue (gRPC allows one outstanding write; tokens arrive from the executor thread).
// Cancellation (client cancel, deadline, shutdown, a failed write) sets a flag that
// the engine polls between tokens. The reactor is deleted once gRPC is done with it
// (OnDone) and the work has returned, whichever comes last.
class GenerateReactor final : public QueuedWriteReactor<v1::GenerateResponse> {
 public:
  GenerateReactor(RpcDeps d, GenerateCall call, CallerLimiter::Lease lease)
      : d_(d), call_(std::move(call)), lease_(std::move(lease)), start_(RpcClock::now()) {
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
      ToProto(*out, done.mutable_done());
      d_.metrics->AddCycles(out->cycles);
    } else {
      spdlog::debug("Generate failed: {}", s.ToString());
    }
    d_.metrics->RecordCall("Generate", s.code(), SecondsSince(start_));
    EndWith(ToGrpc(s), s.ok() ? std::optional(std::move(done)) : std::nullopt);
    Unref();
  }

  RpcDeps d_;
  GenerateCall call_;
  CallerLimiter::Lease lease_;
  RpcClock::time_point start_;
  std::atomic<int> refs_{2};  // gRPC (until OnDone) and the work
};

class InferenceImpl final : public v1::Inference::CallbackService {
 public:
  explicit InferenceImpl(RpcDeps d) : d_(d) {}

  grpc::ServerUnaryReactor* CreateSession(grpc::CallbackServerContext* ctx,
                                          const v1::CreateSessionRequest* req,
                                          v1::CreateSessionResponse* resp) override {
    return RunUnary(d_, ctx, "CreateSession", false, [this, req, resp]() -> absl::Status {
      ASSIGN_OR_RETURN(Sha256 model, DigestFromProto(req->model_digest(), "model_digest"));
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
      ASSIGN_OR_RETURN(Sha256 model, DigestFromProto(req->model_digest(), "model_digest"));
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
    auto refuse = [&](const absl::Status& s) {
      return RefuseCall<grpc::ServerWriteReactor<v1::GenerateResponse>>(d_, "Generate", s);
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
