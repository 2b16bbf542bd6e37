// Copyright 2026 The datanode Authors.
//
// The one path of a call through the daemon's RPC layer, shared by every service
// (accelerator_rpc, store_rpc, admission_rpc, import_rpc, inference_rpc): authenticate
// the peer and apply its per-caller limits (AdmitCaller), run the work on the daemon's
// Executor (never on gRPC's threads), record the call's metrics, and convert
// absl::Status to grpc::Status (ToGrpc, the only place that does).
#ifndef DATANODE_NODE_DAEMON_RPC_CALL_H_
#define DATANODE_NODE_DAEMON_RPC_CALL_H_

#include <chrono>
#include <functional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "node/daemon/caller_limits.h"
#include "node/daemon/executor.h"
#include "node/daemon/metrics.h"
#include "node/daemon/peer_table.h"

namespace datanode::node {

class AdmissionService;
class InferenceService;
class NodeService;

// What the services call into; every pointer outlives the server.
struct RpcDeps {
  NodeService* service;
  Executor* executor;
  Metrics* metrics;
  CallerLimiter* limiter;
  PeerTable* peers;
  AdmissionService* admission;
  InferenceService* inference = nullptr;  // the Inference service is served when set
};

// The one conversion from the domain's status to the wire's. absl and gRPC share code
// numbers, and the domain chose its codes by retry semantics, so the code is kept as
// is and so is the message.
grpc::Status ToGrpc(const absl::Status& s);

// Authenticates the caller (PeerTable::Authenticate; a refusal counts in
// datanoded_peers_rejected_total), then applies its per-caller limits. Every call of
// every service passes here first; the lease is held until the call ends.
absl::StatusOr<CallerLimiter::Lease> AdmitCaller(const RpcDeps& d,
                                                 const grpc::CallbackServerContext* ctx,
                                                 bool is_op);

// A unary call: admits the caller, runs `work` on the executor (through
// CatchAllocFailure), records the call's metrics under `method` and finishes with its
// status. `work` may use the request and response: both live until the call finishes.
grpc::ServerUnaryReactor* RunUnary(const RpcDeps& d, grpc::CallbackServerContext* ctx,
                                   const char* method, bool is_op,
                                   std::function<absl::Status()> work);

// Seconds since `start` on the clock the call metrics use.
using RpcClock = std::chrono::steady_clock;
inline double SecondsSince(RpcClock::time_point start) {
  return std::chrono::duration<double>(RpcClock::now() - start).count();
}

// A streaming call refused before any work (bad request, busy node, caller limits):
// finishes at once with `s`, counted under `method`. `Reactor` is the call's
// grpc::ServerReadReactor<...> or grpc::ServerWriteReactor<...>.
template <typename Reactor>
Reactor* RefuseCall(const RpcDeps& d, const char* method, const absl::Status& s) {
  class Refused final : public Reactor {
   public:
    explicit Refused(const absl::Status& s) { this->Finish(ToGrpc(s)); }
    void OnDone() override { delete this; }
  };
  d.metrics->RecordCall(method, s.code(), 0);
  return new Refused(s);
}

}  // namespace datanode::node

#endif  // DATANODE_NODE_DAEMON_RPC_CALL_H_
