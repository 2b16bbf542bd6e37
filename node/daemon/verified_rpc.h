// Copyright 2026 The datanode Authors.
//
// The datanode.v1.VerifiedInference gRPC service (proto/datanode/v1/verified_inference.proto):
// converts requests to VerifiedInference calls (verified_inference.h) and back, and runs
// them on the daemon's Executor through RunUnary (caller admission, metrics, ToGrpc).
// Registered by RpcServer beside the Inference service; it owns the daemon's
// VerifiedInference (its verified sessions), built on RpcDeps::service.
#ifndef DATANODE_NODE_DAEMON_VERIFIED_RPC_H_
#define DATANODE_NODE_DAEMON_VERIFIED_RPC_H_

#include <memory>

#include "grpcpp/grpcpp.h"
#include "node/daemon/config.h"
#include "node/daemon/rpc_call.h"

namespace datanode::node {

std::unique_ptr<grpc::Service> NewVerifiedInferenceRpc(RpcDeps deps, const Config& config);

}  // namespace datanode::node

#endif  // DATANODE_NODE_DAEMON_VERIFIED_RPC_H_
