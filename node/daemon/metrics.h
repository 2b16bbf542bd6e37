// Copyright 2026 The datanode Authors.
//
// The daemon's metrics (one struct, as the IC adapters do) rendered in Prometheus
// text format, and a tiny HTTP/1.0 server for them on a Unix socket (the second
// socket beside the gRPC one, accepted by the same UnixListener and so the same
// peer-uid check). Thread-safe.
#ifndef DATANODE_NODE_DAEMON_METRICS_H_
#define DATANODE_NODE_DAEMON_METRICS_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "node/daemon/unix_listener.h"

namespace datanode::node {

class Metrics {
 public:
  // One finished call: counts it, its error cause (status code name) and latency.
  void RecordCall(const std::string& method, absl::StatusCode code, double seconds);
  void AddCycles(uint64_t cycles) { cycles_.fetch_add(cycles, std::memory_order_relaxed); }
  void AddPeerRejected() { peers_rejected_.fetch_add(1, std::memory_order_relaxed); }

  struct Gauges {
    int64_t store_bytes = 0, store_capacity_bytes = 0, pinned_bytes = 0, pin_budget_bytes = 0,
            objects = 0, models = 0;
    int64_t inference_sessions = 0, inference_models_loaded = 0;
  };
  std::string Render(const Gauges& gauges) const;

 private:
  static constexpr double kBuckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                        0.05,   0.1,     0.25,   0.5,   1,      2.5,   10};
  struct Method {
    uint64_t requests = 0;
    std::map<std::string, uint64_t> errors;  // cause -> count
    std::vector<uint64_t> buckets = std::vector<uint64_t>(std::size(kBuckets), 0);
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::string, Method> methods_;  // guarded by mu_
  std::atomic<uint64_t> cycles_{0};
  std::atomic<uint64_t> peers_rejected_{0};
};

// Serves GET (any path) with `render()` as text/plain; version=0.0.4, to peers whose
// uid is in `allowed_uids` (empty = the daemon's own; others are refused by the
// UnixListener). Each connection gets its own thread, at most kMaxClients at once (more
// are closed at once), and has kRequestTimeoutMs to send its request head (at most
// kMaxRequestBytes), so an idle or slow client holds only its own thread, never another
// scrape.
class MetricsHttpServer {
 public:
  static constexpr int kMaxClients = 16;
  static constexpr int kRequestTimeoutMs = 2000;
  static constexpr size_t kMaxRequestBytes = 8192;

  ~MetricsHttpServer() { Stop(); }
  // UNAVAILABLE when the socket cannot be bound (UnixListener::Start).
  absl::Status Start(const std::string& socket_path, std::vector<uint32_t> allowed_uids,
                     std::function<std::string()> render);
  // Stops accepting and waits for the connection threads (they see the stop at once).
  void Stop();

 private:
  void Admit(int fd);
  void Serve(int fd);
  std::function<std::string()> render_;
  UnixListener listener_;  // declared after render_: its thread uses it
  std::mutex mu_;
  std::condition_variable idle_;
  int clients_ = 0;  // connection threads running; guarded by mu_
};

}  // namespace datanode::node

#endif  // DATANODE_NODE_DAEMON_METRICS_H_
