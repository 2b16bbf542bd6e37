// Copyright 2026 The datanode Authors.
#include "node/daemon/peer_table.h"

#include "absl/strings/str_cat.h"
#include "openssl/crypto.h"

namespace datanode::node {

absl::Status PeerTable::Authenticate(const grpc::CallbackServerContext& ctx) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (uids_.count(ctx.peer())) return absl::OkStatus();  // Unix: uid checked at accept
  }
  const auto& metadata = ctx.client_metadata();
  auto it = metadata.find("authorization");
  if (!bearer_.empty() && it != metadata.end() && it->second.size() == bearer_.size() &&
      CRYPTO_memcmp(it->second.data(), bearer_.data(), bearer_.size()) == 0) {
    return absl::OkStatus();
  }
  return absl::UnauthenticatedError(
      "TCP calls need the metadata \"authorization: Bearer <tcp_auth_token>\"");
}

std::string PeerTable::CallerOf(const std::string& peer) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = uids_.find(peer);
    if (it != uids_.end()) return absl::StrCat("uid:", it->second);
  }
  size_t colon = peer.rfind(':');
  return colon == std::string::npos ? peer : peer.substr(0, colon);
}

}  // namespace datanode::node
