// Copyright 2026 The datanode Authors.
//
// The RPC edge of datanoded: one gRPC server carrying the services (Accelerator, Store,
// Admission, and Inference when RpcDeps::inference is set: accelerator_rpc.h,
// store_rpc.h, admission_rpc.h, inference_rpc.h). The services only convert protos to
// domain calls and back (rpc_convert.h) and pass every call through rpc_call.h
// (caller admission, the Executor, metrics, the one absl -> gRPC status conversion).
//
// Listening: the Unix socket is accepted by the daemon's UnixListener, so every
// connection's peer uid (SO_PEERCRED) is checked against allowed_uids before gRPC sees
// it (refusals count in datanoded_peers_rejected_total); an admitted connection is
// handed to gRPC with AddInsecureChannelFromFd. With systemd socket activation the
// inherited fd 3 is the listening socket (unix_listener.h). The optional loopback TCP
// listener has no uid to check: every call on it must carry the configured bearer token
// (PeerTable::Authenticate), checked before anything else.
#ifndef DATANODE_NODE_DAEMON_RPC_SERVER_H_
#define DATANODE_NODE_DAEMON_RPC_SERVER_H_

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/service_type.h"
#include "node/daemon/admission.h"
#include "node/daemon/caller_limits.h"
#include "node/daemon/config.h"
#include "node/daemon/executor.h"
#include "node/daemon/metrics.h"
#include "node/daemon/node_service.h"
#include "node/daemon/peer_table.h"
#include "node/daemon/rpc_call.h"
#include "node/daemon/unix_listener.h"

namespace datanode::node {

class RpcServer {
 public:
  RpcServer(const Config& config, RpcDeps deps);
  ~RpcServer();
  // Registers the services, binds the Unix socket (or adopts systemd's) and the
  // optional TCP port, and starts serving. UNAVAILABLE when a socket cannot be bound.
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
