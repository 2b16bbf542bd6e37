// Copyright 2026 The datanode Authors.
#include "node/daemon/rpc_server.h"

#include <chrono>
#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/server_posix.h"
#include "node/daemon/accelerator_rpc.h"
#include "node/daemon/admission_rpc.h"
#include "node/daemon/inference_rpc.h"
#include "node/daemon/store_rpc.h"
#include "node/daemon/verified_rpc.h"

namespace datanode::node {

RpcServer::RpcServer(const Config& config, RpcDeps deps) : config_(config), deps_(deps) {}

RpcServer::~RpcServer() { Shutdown(); }

absl::Status RpcServer::Start() {
  grpc::ServerBuilder builder;
  builder.SetMaxReceiveMessageSize(static_cast<int>(config_.max_request_bytes));
  // The largest reply is a MatMul output of max_reply_bytes (checked before it is
  // computed) plus a few hundred bytes of fields; other replies are far smaller.
  builder.SetMaxSendMessageSize(static_cast<int>(config_.max_reply_bytes + (int64_t{1} << 20)));
  services_.push_back(NewAcceleratorRpc(deps_));
  services_.push_back(NewStoreRpc(deps_));
  services_.push_back(NewAdmissionRpc(deps_));
  if (deps_.inference != nullptr) services_.push_back(NewInferenceRpc(deps_));
  // Verified inference (verified sessions of their own) is served with inference.
  if (deps_.inference != nullptr) services_.push_back(NewVerifiedInferenceRpc(deps_, config_));
  for (auto& s : services_) builder.RegisterService(s.get());
  deps_.peers->set_tcp_auth_token(config_.tcp_auth_token);
  int tcp_port = 0;
  if (!config_.tcp_address.empty()) {
    builder.AddListeningPort(config_.tcp_address, grpc::InsecureServerCredentials(), &tcp_port);
  }
  server_ = builder.BuildAndStart();
  if (server_ == nullptr) return absl::UnavailableError("gRPC server failed to start");
  if (!config_.tcp_address.empty() && tcp_port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", config_.tcp_address));
  }

  UnixListener::Options listen;
  listen.path = config_.socket_path;
  listen.allowed_uids = config_.allowed_uids;
  listen.adopt_systemd_socket = true;
  listen.name = "gRPC";
  return listener_.Start(
      std::move(listen),
      [this](int fd, uint32_t uid) {
        // gRPC names an fd channel's peer "fd:<n>"; remember whose it is.
        deps_.peers->Set(absl::StrCat("fd:", fd), uid);
        grpc::AddInsecureChannelFromFd(server_.get(), fd);
      },
      [this] { deps_.metrics->AddPeerRejected(); });
}

void RpcServer::Shutdown() {
  listener_.Stop();
  if (server_ != nullptr) {
    // Refuses new calls at once; in-flight calls may finish until the deadline.
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::seconds(config_.drain_timeout_seconds));
    server_->Wait();
  }
  server_.reset();
}

}  // namespace datanode::node
