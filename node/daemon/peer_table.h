// Copyright 2026 The datanode Authors.
//
// Who a gRPC peer is and whether it may call: the uids of the Unix connections the
// UnixListener admitted (keyed by gRPC's peer name "fd:<n>"), and the TCP listener's
// bearer token. Written by RpcServer's accept callback, read by every call
// (AdmitCaller). Thread-safe.
#ifndef DATANODE_NODE_DAEMON_PEER_TABLE_H_
#define DATANODE_NODE_DAEMON_PEER_TABLE_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"

namespace datanode::node {

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

}  // namespace datanode::node

#endif  // DATANODE_NODE_DAEMON_PEER_TABLE_H_
