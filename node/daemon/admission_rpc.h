// Copyright 2026 The datanode Authors.
//
// The datanode.v1.Admission gRPC service (proto/datanode/v1/admission_service.proto):
// RunAdmission over AdmissionService. One run at a time (AdmissionService::Begin; a
// second is refused at once), executed on the daemon's Executor (it blocks for the whole
// test) with its progress streamed; a class sent as text first reserves what the run
// allocates (admission_memory.h). Cancelling the call (client cancel, deadline, server
// shutdown, a failed write) stops the run, which then ends CANCELLED. Registered by
// RpcServer.
#ifndef DATANODE_NODE_DAEMON_ADMISSION_RPC_H_
#define DATANODE_NODE_DAEMON_ADMISSION_RPC_H_

#include <memory>

#include "grpcpp/grpcpp.h"
#include "node/daemon/rpc_call.h"

namespace datanode::node {

std::unique_ptr<grpc::Service> NewAdmissionRpc(RpcDeps deps);

}  // namespace datanode::node

#endif  // DATANODE_NODE_DAEMON_ADMISSION_RPC_H_
