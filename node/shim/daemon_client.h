// Copyright 2026 The datanode Authors.
//
// The shim's gRPC client of datanoded (proto/datanode/v1: Accelerator, Store) over
// the daemon's Unix socket. The channel is created on first use (lazy connect) and
// reused; every RPC has a deadline and does not wait for a connection, so an absent
// daemon gives UNAVAILABLE at once (-> SYS_TRANSIENT), not a hang.
#ifndef DATANODE_NODE_SHIM_DAEMON_CLIENT_H_
#define DATANODE_NODE_SHIM_DAEMON_CLIENT_H_

#include <chrono>
#include <memory>
#include <string>

#include "node/shim/shim.h"

namespace datanode::shim {

// `address`: a gRPC target, "unix:/run/ic-node/datanode/socket" (a bare path is
// taken as a Unix socket). `timeout`: per RPC. `max_reply_bytes`: largest message
// accepted from the daemon.
std::unique_ptr<DaemonClient> NewGrpcDaemonClient(std::string address,
                                                  std::chrono::milliseconds timeout,
                                                  size_t max_reply_bytes);

}  // namespace datanode::shim

#endif  // DATANODE_NODE_SHIM_DAEMON_CLIENT_H_
