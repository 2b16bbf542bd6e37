// Copyright 2026 The datanode Authors.
#include "node/daemon/rpc_call.h"

#include <string>
#include <utility>

#include "spdlog/spdlog.h"

namespace datanode::node {

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

absl::StatusOr<CallerLimiter::Lease> AdmitCaller(const RpcDeps& d,
                                                 const grpc::CallbackServerContext* ctx,
                                                 bool is_op) {
  if (absl::Status s = d.peers->Authenticate(*ctx); !s.ok()) {
    d.metrics->AddPeerRejected();
    return s;
  }
  return d.limiter->Admit(d.peers->CallerOf(ctx->peer()), is_op);
}

grpc::ServerUnaryReactor* RunUnary(const RpcDeps& d, grpc::CallbackServerContext* ctx,
                                   const char* method, bool is_op,
                                   std::function<absl::Status()> work) {
  auto* reactor = ctx->DefaultReactor();
  RpcClock::time_point start = RpcClock::now();
  auto lease = AdmitCaller(d, ctx, is_op);
  if (!lease.ok()) {
    d.metrics->RecordCall(method, lease.status().code(), SecondsSince(start));
    reactor->Finish(ToGrpc(lease.status()));
    return reactor;
  }
  d.executor->Submit(
      [d, reactor, method, start, work = std::move(work), lease = *std::move(lease)]() mutable {
        absl::Status s = CatchAllocFailure(work);
        d.metrics->RecordCall(method, s.code(), SecondsSince(start));
        if (!s.ok()) spdlog::debug("{} failed: {}", method, s.ToString());
        reactor->Finish(ToGrpc(s));
      });
  return reactor;
}

}  // namespace datanode::node
