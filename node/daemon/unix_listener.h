// Copyright 2026 The datanode Authors.
//
// The daemon's one accept loop: a listening Unix stream socket whose connections are
// admitted by the peer's uid. Both servers on Unix sockets use it, the gRPC server
// (RpcServer) and the metrics server (MetricsHttpServer), so both apply the same rule:
// each accepted connection's SO_PEERCRED uid must be in the allowed uids before the
// connection is handed on; a refused connection is closed at once, logged and reported
// to `on_refused`.
//
// systemd socket activation: with adopt_systemd_socket, when LISTEN_PID is this process
// and LISTEN_FDS >= 1, the inherited fd 3 is the listening socket (systemd owns its
// file). Otherwise the socket file is created at `path` (its directory too, if missing;
// a stale file is replaced), made mode 0660, and removed by Stop.
//
// Thread safety: Start and Stop are called from one thread; the callbacks run on the
// listener's own thread, one at a time.
#ifndef DATANODE_NODE_DAEMON_UNIX_LISTENER_H_
#define DATANODE_NODE_DAEMON_UNIX_LISTENER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"

namespace datanode::node {

class UnixListener {
 public:
  struct Options {
    std::string path;
    // Peers whose uid is not listed are refused; empty = only this process's effective
    // uid (Config::allowed_uids).
    std::vector<uint32_t> allowed_uids;
    bool adopt_systemd_socket = false;
    int backlog = 128;
    std::string name = "unix";  // what the socket serves, for log lines
  };
  // An admitted connection: non-blocking and close-on-exec (gRPC's endpoints require
  // non-blocking sockets); the callback owns `fd`.
  using AcceptFn = std::function<void(int fd, uint32_t uid)>;
  using RefuseFn = std::function<void()>;

  UnixListener() = default;
  UnixListener(const UnixListener&) = delete;
  UnixListener& operator=(const UnixListener&) = delete;
  ~UnixListener();

  // Binds (or adopts) the socket and starts accepting on a new thread. UNAVAILABLE when
  // the socket cannot be bound or listened on, INTERNAL when a descriptor cannot be made.
  absl::Status Start(Options options, AcceptFn on_accept, RefuseFn on_refused = {});
  // Stops accepting: wakes and joins the accept thread, closes the listening socket and
  // removes the socket file Start created. Connections already handed on are untouched.
  // Idempotent.
  void Stop();
  // Readable from the moment Stop begins; valid from Start until destruction, so
  // connection handlers that poll their own descriptor can see the stop at once.
  int stop_fd() const { return stop_pipe_[0]; }
  // Whether Start adopted systemd's socket instead of binding `path`.
  bool adopted_systemd_socket() const { return adopted_; }

 private:
  void Loop();

  Options options_;
  AcceptFn on_accept_;
  RefuseFn on_refused_;
  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  bool adopted_ = false;
  bool owns_socket_file_ = false;
  std::thread thread_;
};

}  // namespace datanode::node

#endif  // DATANODE_NODE_DAEMON_UNIX_LISTENER_H_
