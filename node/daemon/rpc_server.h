// Copyright 2026 The datanode Authors.
//
// The RPC edge of datanoded: gRPC callback services (Accelerator, Store, Admission) that only
// convert protos to domain calls (NodeService, WeightStore, ModelRegistry) and back,
// run the work on the daemon's Executor (never on gRPC threads), apply per-caller
// limits, record metrics, and convert absl::Status to grpc::Status exactly once
// (codes are identical; the message is kept).
//
// Listening: the Unix socket is accepted by the daemon's UnixListener, so every
// connection's peer uid (SO_PEERCRED) is checked against allowed_uids before gRPC sees
// it (refusals count in datanoded_peers_rejected_total); an admitted connection is
// handed to gRPC with AddInsecureChannelFromFd. With systemd socket activation the
// inherited fd 3 is the listening socket (unix_listener.h). The
// optional loopback TCP listener has no uid to check: every call on it must carry the
// configured bearer token (PeerTable::Authenticate), checked before anything else.
#ifndef DATANODE_NODE_DAEMON_RPC_SERVER_H_
#define DATANODE_NODE_DAEMON_RPC_SERVER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"
#include "node/daemon/admission.h"
#include "node/daemon/caller_limits.h"
#include "node/daemon/config.h"
#include "node/daemon/executor.h"
#include "node/daemon/metrics.h"
#include "node/daemon/node_service.h"
#include "node/daemon/unix_listener.h"

namespace datanode::node {

// Who a peer is and whether it may call: the uids of the Unix connections the accept
// loop admitted, and the TCP listener's token. Shared by the accept loop and the
// services.
class PeerTable {
 public:
  void Set(const std::string& peer, uint32_t uid) {
    std::lock_guard<std::mutex> lock(mu_);
    uids_[peer] = uid;
  }
  // "uid:N" for Unix peers, else the peer address without its port.
  std::string CallerOf(const std::string& peer) const;
  // Set once before serving (Config::tcp_auth_token).
  void set_tcp_auth_token(const std::string& token) { bearer_ = "Bearer " + token; }
  // OK for a Unix peer (its uid was checked at accept). A TCP peer must send the
  // metadata "authorization: Bearer <tcp_auth_token>" (compared in constant time);
  // UNAUTHENTICATED otherwise, and always when no token is set.
  absl::Status Authenticate(const grpc::CallbackServerContext& ctx) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, uint32_t> uids_;  // guarded by mu_
  std::string bearer_;                    // "Bearer <token>", or "" for none
};

class InferenceService;

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
// numbers; codes were chosen inside by retry semantics. Every service uses it.
grpc::Status ToGrpc(const absl::Status& s);

// Authenticates the caller (PeerTable::Authenticate), then applies its per-caller
// limits. Every call of every service passes here first.
absl::StatusOr<CallerLimiter::Lease> AdmitCaller(const RpcDeps& d,
                                                 const grpc::CallbackServerContext* ctx,
                                                 bool is_op);

// A unary call: admits the caller, runs `work` on the executor (through
// CatchAllocFailure), records the call's metrics and finishes with its status.
grpc::ServerUnaryReactor* RunUnary(const RpcDeps& d, grpc::CallbackServerContext* ctx,
                                   const char* method, bool is_op,
                                   std::function<absl::Status()> work);

class RpcServer {
 public:
  RpcServer(const Config& config, RpcDeps deps);
  ~RpcServer();
  // Binds the Unix socket (or adopts systemd's), the optional TCP port, and starts.
  absl::Status Start();
  // Stops accepting, then waits up to the drain timeout for in-flight calls.
  void Shutdown();

 private:
  Config config_;
  RpcDeps deps_;
  std::vector<std::unique_ptr<grpc::Service>> services_;
  std::unique_ptr<grpc::Server> server_;
  UnixListener listener_;  // after server_: its thread hands connections to it
};

}  // namespace datanode::node

#endif  // DATANODE_NODE_DAEMON_RPC_SERVER_H_
