// Copyright 2026 The datanode Authors.
//
// Test helper: the real datanoded binary (DATANODED_PATH) started on a temp Unix
// socket under `root` with a generated config, and stopped with SIGTERM. Its log is
// root/d.log; its state (store, node key) lives under root.
#ifndef DATANODE_TESTS_NODE_DAEMON_PROCESS_H_
#define DATANODE_TESTS_NODE_DAEMON_PROCESS_H_

#include <fcntl.h>
#include <signal.h>
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
