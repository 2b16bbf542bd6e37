// Copyright 2026 The datanode Authors.
//
// The datanode.v1.Inference gRPC service (proto/datanode/v1/inference.proto): converts
// requests to InferenceService calls and back (rpc_convert.h), runs them on the
// daemon's Executor, and streams Generate's tokens as they are sampled. Registered by RpcServer
// when RpcDeps::inference is set. Cancelling a Generate call (client cancel, deadline, shutdown, a
// failed write) stops generation before the next token; a one-call session is then freed, and so is
// an open session (the caller has gone).
#ifndef DATANODE_NODE_DAEMON_INFERENCE_RPC_H_
#define DATANODE_NODE_DAEMON_INFERENCE_RPC_H_

#include <memory>

#include "grpcpp/grpcpp.h"
#include "node/daemon/rpc_call.h"

namespace datanode::node {

std::unique_ptr<grpc::Service> NewInferenceRpc(RpcDeps deps);

}  // namespace datanode::node

#endif  // DATANODE_NODE_DAEMON_INFERENCE_RPC_H_
