// Copyright 2026 The datanode Authors.
//
// Store.ImportModelStream: an import (NodeService::ImportModel) run on the daemon's
// Executor whose progress is streamed (ImportModelUpdate: bytes stored durably and the
// file's size, about every 50 ms; a client that reads slowly loses the oldest), then the
// model. Cancelling the call (client cancel, deadline, shutdown, a failed write) stops
// the import within about 50 ms; nothing is registered. Only converts: the import
// knows nothing of protobuf.
#ifndef DATANODE_NODE_DAEMON_IMPORT_RPC_H_
#define DATANODE_NODE_DAEMON_IMPORT_RPC_H_

#include "datanode/v1/store.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "node/daemon/rpc_call.h"

namespace datanode::node {

// Admits the caller and starts the import; a refused caller's call ends at once.
grpc::ServerWriteReactor<v1::ImportModelUpdate>* StartImportModelStream(
    const RpcDeps& d, grpc::CallbackServerContext* ctx, const v1::ImportModelRequest& req);

}  // namespace datanode::node

#endif  // DATANODE_NODE_DAEMON_IMPORT_RPC_H_
