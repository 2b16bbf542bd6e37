// Copyright 2026 The datanode Authors.
//
// Test helper: the real datanoded binary (DATANODED_PATH) started on a temp Unix
// socket under `root` with a generated config, and stopped with SIGTERM. Its log is
// root/d.log; its state (store, node key) lives under root; its metrics socket is
// root/m.sock (ScrapeMetrics, MetricValue).
#ifndef DATANODE_TESTS_NODE_DAEMON_PROCESS_H_
#define DATANODE_TESTS_NODE_DAEMON_PROCESS_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "datanode/v1/accelerator.grpc.pb.h"
#include "datanode/v1/store.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace datanode {

// GET on a daemon's metrics socket; the whole response ("" when it does not answer).
inline std::string ScrapeMetrics(const std::filesystem::path& socket_path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", socket_path.c_str());
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
    if (::write(fd, req, sizeof(req) - 1) == sizeof(req) - 1) {
      char buf[4096];
      for (ssize_t n; (n = ::read(fd, buf, sizeof(buf))) > 0;) out.append(buf, n);
    }
  }
  ::close(fd);
  return out;
}

// The value of the metric line that starts with `series` (name and labels), or -1.
inline double MetricValue(const std::string& text, const std::string& series) {
  size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

class DaemonProcess {
 public:
  DaemonProcess(const std::filesystem::path& root, const std::string& extra_config = "")
      : root_(root) {
    namespace fs = std::filesystem;
    fs::create_directories(root);
    socket_ = (root / "d.sock").string();
    std::ofstream(root / "d.conf") << "socket_path: \"" << socket_ << "\"\nmetrics_socket_path: \""
                                   << (root / "m.sock").string() << "\"\nstore_root: \""
                                   << (root / "store").string() << "\"\nlog_level: \"warn\"\n"
                                   << extra_config;
    // Everything the child needs is made before fork: in a process with other threads
    // (gRPC's, a test's), the child may only call async-signal-safe functions, and
    // freopen or a std::string could wait forever on a lock held at the fork.
    const std::string log = (root / "d.log").string();
    const std::string conf = (root / "d.conf").string();
    const std::string binary = DATANODED_PATH;
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
      execl(binary.c_str(), "datanoded", "--config", conf.c_str(), nullptr);
      _exit(127);
    }
    for (int i = 0; i < 200 && !fs::exists(socket_); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    channel_ = grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials());
    acc = v1::Accelerator::NewStub(channel_);
    store = v1::Store::NewStub(channel_);
  }
  ~DaemonProcess() {
    if (pid_ > 0) Stop();
  }
  // SIGTERM; returns the exit status.
  int Stop() {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  pid_t pid() const { return pid_; }
  // The daemon's metrics (ScrapeMetrics of root/m.sock).
  std::string Metrics() const { return ScrapeMetrics(root_ / "m.sock"); }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

  std::unique_ptr<v1::Accelerator::Stub> acc;
  std::unique_ptr<v1::Store::Stub> store;

 private:
  std::filesystem::path root_;
  std::string socket_;
  pid_t pid_ = -1;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace datanode

#endif  // DATANODE_TESTS_NODE_DAEMON_PROCESS_H_
