// Copyright 2026 The datanode Authors.
//
// Per-caller admission: at most `max_in_flight` concurrent calls and (for ops) at
// most `max_ops_per_second` calls per second (token bucket, burst = one second's
// worth). A caller is a Unix uid ("uid:1000") or, on the loopback TCP port, a peer
// address. Rejections are RESOURCE_EXHAUSTED (retry later). Thread-safe.
#ifndef DATANODE_NODE_DAEMON_CALLER_LIMITS_H_
#define DATANODE_NODE_DAEMON_CALLER_LIMITS_H_

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace datanode::node {

class CallerLimiter {
 public:
  CallerLimiter(int max_in_flight, double max_ops_per_second)
      : max_in_flight_(max_in_flight), rate_(max_ops_per_second) {}

  // Holds one in-flight slot until destroyed.
  using Lease = std::shared_ptr<void>;

  absl::StatusOr<Lease> Admit(const std::string& caller, bool is_op) {
    std::lock_guard<std::mutex> lock(mu_);
    State& s = callers_[caller];
    if (s.in_flight >= max_in_flight_) {
      return absl::ResourceExhaustedError(absl::StrCat("caller ", caller, " has ", s.in_flight,
                                                       " calls in flight (limit ", max_in_flight_,
                                                       ")"));
    }
    if (is_op) {
      auto now = std::chrono::steady_clock::now();
      double burst = rate_ < 1 ? 1 : rate_;
      if (s.last.time_since_epoch().count() == 0) s.tokens = burst;
      s.tokens =
          std::min(burst, s.tokens + rate_ * std::chrono::duration<double>(now - s.last).count());
      s.last = now;
      if (s.tokens < 1) {
        return absl::ResourceExhaustedError(
            absl::StrCat("caller ", caller, " exceeds ", rate_, " ops per second"));
      }
      s.tokens -= 1;
    }
    ++s.in_flight;
    return Lease(nullptr, [this, caller](void*) {
      std::lock_guard<std::mutex> lock(mu_);
      --callers_[caller].in_flight;
    });
  }

 private:
  struct State {
    int in_flight = 0;
    double tokens = 0;
    std::chrono::steady_clock::time_point last{};
  };
  const int max_in_flight_;
  const double rate_;
  std::mutex mu_;
  std::map<std::string, State> callers_;  // guarded by mu_
};

}  // namespace datanode::node

#endif  // DATANODE_NODE_DAEMON_CALLER_LIMITS_H_
