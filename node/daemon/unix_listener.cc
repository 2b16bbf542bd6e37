// Copyright 2026 The datanode Authors.
#include "node/daemon/unix_listener.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace datanode::node {
namespace {

// The first fd systemd passes (SD_LISTEN_FDS_START), when LISTEN_PID is us and
// LISTEN_FDS >= 1; else -1.
int SystemdListenFd() {
  const char* pid = std::getenv("LISTEN_PID");
  const char* fds = std::getenv("LISTEN_FDS");
  if (pid == nullptr || fds == nullptr || std::atoi(pid) != ::getpid() || std::atoi(fds) < 1) {
    return -1;
  }
  return 3;
}

}  // namespace

UnixListener::~UnixListener() {
  Stop();
  for (int* fd : {&stop_pipe_[0], &stop_pipe_[1]}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

absl::Status UnixListener::Start(Options options, AcceptFn on_accept, RefuseFn on_refused) {
  if (stop_pipe_[0] >= 0) return absl::FailedPreconditionError("the listener was started before");
  options_ = std::move(options);
  on_accept_ = std::move(on_accept);
  on_refused_ = std::move(on_refused);
  if (options_.allowed_uids.empty()) options_.allowed_uids.push_back(::geteuid());
  if (::pipe2(stop_pipe_, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }

  listen_fd_ = options_.adopt_systemd_socket ? SystemdListenFd() : -1;
  if (listen_fd_ >= 0) {
    adopted_ = true;
    spdlog::info("{}: using the socket passed by systemd (fd {})", options_.name, listen_fd_);
  } else {
    const std::string& path = options_.path;
    sockaddr_un addr{};
    if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
      return absl::UnavailableError(absl::StrCat("cannot listen on '", path, "' (", options_.name,
                                                 "): not a usable socket path"));
    }
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    ::unlink(path.c_str());
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(listen_fd_, options_.backlog) != 0) {
      absl::Status s = absl::UnavailableError(absl::StrCat(
          "cannot listen on ", path, " (", options_.name, "): ", std::strerror(errno)));
      ::close(listen_fd_);
      listen_fd_ = -1;
      return s;
    }
    owns_socket_file_ = true;
    // Group members may connect; the uid check below decides who is served.
    ::chmod(path.c_str(), 0660);
  }
  thread_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

void UnixListener::Stop() {
  if (thread_.joinable()) {
    char c = 0;
    (void)!::write(stop_pipe_[1], &c, 1);
    thread_.join();
  }
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
  if (owns_socket_file_) ::unlink(options_.path.c_str());
  owns_socket_file_ = false;
}

void UnixListener::Loop() {
  const std::vector<uint32_t>& allowed = options_.allowed_uids;
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("{}: poll failed, no longer accepting: {}", options_.name,
                    std::strerror(errno));
      return;
    }
    if (fds[1].revents) return;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) continue;
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
        std::find(allowed.begin(), allowed.end(), cred.uid) == allowed.end()) {
      spdlog::warn("{}: refused connection from uid {} pid {}: uid not in allowed_uids",
                   options_.name, cred.uid, cred.pid);
      ::close(fd);
      if (on_refused_) on_refused_();
      continue;
    }
    on_accept_(fd, cred.uid);
  }
}

}  // namespace datanode::node
