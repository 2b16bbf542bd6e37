// Copyright 2026 The datanode Authors.
//
// The datanode.v1.Accelerator gRPC service (proto/datanode/v1/accelerator.proto):
// GetNodeInfo and MatMul over NodeService. A MatMul is sized, checked and reserved on
// gRPC's thread (NodeService::AdmitMatMul: O(1), no disk), so an invalid or oversized
// call is answered at once, before it is queued or anything is allocated for it; it then
// runs on the daemon's Executor, and its memory stays reserved until gRPC is done with
// the reply (the serialized reply is a second copy of the output). Registered by
// RpcServer.
#ifndef DATANODE_NODE_DAEMON_ACCELERATOR_RPC_H_
#define DATANODE_NODE_DAEMON_ACCELERATOR_RPC_H_

#include <memory>

#include "grpcpp/grpcpp.h"
#include "node/daemon/rpc_call.h"

namespace datanode::node {

std::unique_ptr<grpc::Service> NewAcceleratorRpc(RpcDeps deps);

}  // namespace datanode::node

#endif  // DATANODE_NODE_DAEMON_ACCELERATOR_RPC_H_
