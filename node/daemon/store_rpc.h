// Copyright 2026 The datanode Authors.
//
// The datanode.v1.Store gRPC service (proto/datanode/v1/store.proto): blobs
// (PutBlob, GetBlob, StatBlob, ListBlobs, DeleteBlob) over WeightStore and models
// (ImportModel, ImportModelStream, ListModels, GetModel, DeleteModel) over
// NodeService and ModelRegistry. Every disk access runs on the daemon's Executor.
// PutBlob appends each received message on the executor and reads the next only after
// that append (bounded memory: the message and one chunk buffer, held from the memory
// budget); GetBlob reads and verifies one chunk at a time, and a corrupt chunk ends the
// stream with DATA_LOSS (a client keeps nothing unless the call ends OK). Registered by
// RpcServer.
#ifndef DATANODE_NODE_DAEMON_STORE_RPC_H_
#define DATANODE_NODE_DAEMON_STORE_RPC_H_

#include <memory>

#include "grpcpp/grpcpp.h"
#include "node/daemon/rpc_call.h"

namespace datanode::node {

std::unique_ptr<grpc::Service> NewStoreRpc(RpcDeps deps);

}  // namespace datanode::node

#endif  // DATANODE_NODE_DAEMON_STORE_RPC_H_
