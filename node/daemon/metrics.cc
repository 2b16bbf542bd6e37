// Copyright 2026 The datanode Authors.
#include "node/daemon/metrics.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace datanode::node {

void Metrics::RecordCall(const std::string& method, absl::StatusCode code, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  Method& m = methods_[method];
  ++m.requests;
  if (code != absl::StatusCode::kOk) ++m.errors[absl::StatusCodeToString(code)];
  for (size_t i = 0; i < std::size(kBuckets); ++i) {
    if (seconds <= kBuckets[i]) ++m.buckets[i];
  }
  m.sum += seconds;
}

std::string Metrics::Render(const Gauges& g) const {
  std::string out;
  absl::StrAppend(&out, "# HELP datanoded_requests_total RPCs finished, by method.\n",
                  "# TYPE datanoded_requests_total counter\n");
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, m] : methods_) {
    absl::StrAppend(&out, "datanoded_requests_total{method=\"", name, "\"} ", m.requests, "\n");
  }
  absl::StrAppend(
      &out, "# HELP datanoded_errors_total RPCs that failed, by method and cause (status code).\n",
      "# TYPE datanoded_errors_total counter\n");
  for (const auto& [name, m] : methods_) {
    for (const auto& [cause, n] : m.errors) {
      absl::StrAppend(&out, "datanoded_errors_total{method=\"", name, "\",cause=\"", cause, "\"} ",
                      n, "\n");
    }
  }
  absl::StrAppend(
      &out, "# HELP datanoded_request_duration_seconds RPC latency on the daemon, by method.\n",
      "# TYPE datanoded_request_duration_seconds histogram\n");
  for (const auto& [name, m] : methods_) {
    for (size_t i = 0; i < std::size(kBuckets); ++i) {
      absl::StrAppend(&out, "datanoded_request_duration_seconds_bucket{method=\"", name, "\",le=\"",
                      kBuckets[i], "\"} ", m.buckets[i], "\n");
    }
    absl::StrAppend(&out, "datanoded_request_duration_seconds_bucket{method=\"", name,
                    "\",le=\"+Inf\"} ", m.requests, "\n");
    absl::StrAppend(&out, "datanoded_request_duration_seconds_sum{method=\"", name, "\"} ", m.sum,
                    "\n");
    absl::StrAppend(&out, "datanoded_request_duration_seconds_count{method=\"", name, "\"} ",
                    m.requests, "\n");
  }
  auto gauge = [&out](const char* name, const char* help, int64_t v) {
    absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " gauge\n", name, " ", v,
                    "\n");
  };
  gauge("datanoded_store_bytes", "Bytes of chunk data in the weight store.", g.store_bytes);
  gauge("datanoded_store_capacity_bytes", "Store capacity (0 = unlimited).",
        g.store_capacity_bytes);
  gauge("datanoded_store_objects", "Objects in the weight store.", g.objects);
  gauge("datanoded_models", "Imported models.", g.models);
  gauge("datanoded_pinned_bytes", "Prepared weights resident in backend memory.", g.pinned_bytes);
  gauge("datanoded_pin_budget_bytes", "Budget for pinned weights.", g.pin_budget_bytes);
  gauge("datanoded_inference_sessions", "Open inference sessions (one-call ones included).",
        g.inference_sessions);
  gauge("datanoded_inference_models_loaded", "Models loaded for inference.",
        g.inference_models_loaded);
  absl::StrAppend(&out,
                  "# HELP datanoded_cycles_charged_total Cycles charged by the cost formula.\n",
                  "# TYPE datanoded_cycles_charged_total counter\ndatanoded_cycles_charged_total ",
                  cycles_.load(),
                  "\n# HELP datanoded_peers_rejected_total Connections refused by the uid check.\n",
                  "# TYPE datanoded_peers_rejected_total counter\ndatanoded_peers_rejected_total ",
                  peers_rejected_.load(), "\n");
  return out;
}

absl::Status MetricsHttpServer::Start(const std::string& socket_path,
                                      std::vector<uint32_t> allowed_uids,
                                      std::function<std::string()> render) {
  render_ = std::move(render);
  UnixListener::Options options;
  options.path = socket_path;
  options.allowed_uids = std::move(allowed_uids);
  options.backlog = 16;
  options.name = "metrics";
  return listener_.Start(std::move(options), [this](int fd, uint32_t) { Admit(fd); });
}

void MetricsHttpServer::Stop() {
  listener_.Stop();
  std::unique_lock<std::mutex> lock(mu_);
  idle_.wait(lock, [this] { return clients_ == 0; });
}

void MetricsHttpServer::Admit(int fd) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (clients_ >= kMaxClients) {
      ::close(fd);  // the scraper retries; the cap bounds threads and fds
      return;
    }
    ++clients_;
  }
  std::thread([this, fd] {
    Serve(fd);
    ::close(fd);
    std::lock_guard<std::mutex> lock(mu_);
    if (--clients_ == 0) idle_.notify_all();
  }).detach();
}

void MetricsHttpServer::Serve(int fd) {
  // Waits for `events` on fd until the request's deadline or Stop.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kRequestTimeoutMs);
  auto wait = [&](short events) {
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) return false;
      pollfd fds[2] = {{fd, events, 0}, {listener_.stop_fd(), POLLIN, 0}};
      int n = ::poll(fds, 2, static_cast<int>(left));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || fds[1].revents) return false;
      return true;
    }
  };
  std::string req;
  char buf[1024];
  while (req.size() < kMaxRequestBytes && req.find("\r\n\r\n") == std::string::npos &&
         req.find("\n\n") == std::string::npos) {
    if (!wait(POLLIN)) return;
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) break;
    req.append(buf, static_cast<size_t>(n));
  }
  std::string body = render_();
  std::string resp = absl::StrCat(
      "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: ", body.size(),
      "\r\nConnection: close\r\n\r\n", body);
  const char* p = resp.data();
  size_t left = resp.size();
  while (left > 0) {
    ssize_t n = ::send(fd, p, left, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait(POLLOUT)) return;
      continue;
    }
    if (n <= 0) return;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace datanode::node
