// Copyright 2026 The datanode Authors.
#include "node/daemon/accelerator_rpc.h"

#include "datanode/ops/status_macros.h"
#include "datanode/v1/accelerator.grpc.pb.h"
#include "node/daemon/admission.h"
#include "node/daemon/node_service.h"
#include "node/daemon/rpc_convert.h"
#include "spdlog/spdlog.h"

namespace datanode::node {
namespace {

class AcceleratorImpl final : public v1::Accelerator::CallbackService {
 public:
  explicit AcceleratorImpl(RpcDeps d) : d_(d) {}

  grpc::ServerUnaryReactor* GetNodeInfo(grpc::CallbackServerContext* ctx,
                                        const v1::GetNodeInfoRequest*,
                                        v1::GetNodeInfoResponse* resp) override {
    return RunUnary(d_, ctx, "GetNodeInfo", false, [this, resp] {
      ToProto(d_.service->Info(), d_.admission->Admitted(), resp);
      return absl::OkStatus();
    });
  }

  // Holds what a MatMul keeps until gRPC is done with the reply (OnDone).
  class MatMulReactor final : public grpc::ServerUnaryReactor {
   public:
    void OnDone() override { delete this; }
    CallerLimiter::Lease lease;
    MatMulCall call;
    MatMulTicket ticket;
  };

  grpc::ServerUnaryReactor* MatMul(grpc::CallbackServerContext* ctx, const v1::MatMulRequest* req,
                                   v1::MatMulResponse* resp) override {
    auto* reactor = new MatMulReactor;
    RpcClock::time_point start = RpcClock::now();
    auto finish = [this, reactor, start](const absl::Status& s) {
      d_.metrics->RecordCall("MatMul", s.code(), SecondsSince(start));
      if (!s.ok()) spdlog::debug("MatMul failed: {}", s.ToString());
      reactor->Finish(ToGrpc(s));
    };
    absl::Status admitted = CatchAllocFailure([&]() -> absl::Status {
      ASSIGN_OR_RETURN(reactor->lease, AdmitCaller(d_, ctx, true));
      ASSIGN_OR_RETURN(reactor->call, FromProto(*req));
      ASSIGN_OR_RETURN(
          reactor->ticket,
          d_.service->AdmitMatMul(reactor->call, static_cast<int64_t>(req->ByteSizeLong())));
      return absl::OkStatus();
    });
    if (!admitted.ok()) {
      finish(admitted);
      return reactor;
    }
    d_.executor->Submit([this, reactor, resp, finish] {
      finish(CatchAllocFailure([&]() -> absl::Status {
        ASSIGN_OR_RETURN(MatMulResult result, d_.service->MatMul(reactor->call, reactor->ticket));
        ToProto(result, d_.service->backend().Name(), resp);
        d_.metrics->AddCycles(result.cycles);
        return absl::OkStatus();
      }));
    });
    return reactor;
  }

 private:
  RpcDeps d_;
};

}  // namespace

std::unique_ptr<grpc::Service> NewAcceleratorRpc(RpcDeps deps) {
  return std::make_unique<AcceleratorImpl>(deps);
}

}  // namespace datanode::node
