// Copyright 2026 The datanode Authors.
//
// Per-caller admission: at most `max_in_flight` concurrent calls and (for ops) at
// most `max_ops_per_second` calls per second (token bucket, burst = one second's
// worth). A caller is a Unix uid ("uid:1000") or, on the loopback TCP port, a peer
// address. Rejections are RESOURCE_EXHAUSTED (retry later). Thread-safe.
// Also the daemon-wide MemoryBudget, the other admission limit.
#ifndef DATANODE_NODE_DAEMON_CALLER_LIMITS_H_
#define DATANODE_NODE_DAEMON_CALLER_LIMITS_H_

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

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

// The daemon-wide memory budget (`limits.memory_budget_bytes`): a call reserves the
// bytes it will hold (its request, its output and the reply's serialized copy, weights
// read from the store) before it allocates them, and releases them when it ends.
// Reserve never waits: a call that does not fit now is refused at once with
// RESOURCE_EXHAUSTED (retry later), because a waiting call would keep holding its
// request. Prepared weights pinned between calls are governed by pin_budget_bytes
// instead (WeightCache), so the daemon's resident memory stays under about
// memory_budget_bytes + pin_budget_bytes + its fixed baseline. Thread-safe.
class MemoryBudget {
 public:
  explicit MemoryBudget(int64_t budget_bytes) : budget_(budget_bytes) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // Bytes held until destroyed (or moved from). The budget must outlive it.
  class Reservation {
   public:
    Reservation() = default;
    Reservation(Reservation&& o) noexcept
        : budget_(std::exchange(o.budget_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
    Reservation& operator=(Reservation&& o) noexcept {
      if (this != &o) {
        Release();
        budget_ = std::exchange(o.budget_, nullptr);
        bytes_ = std::exchange(o.bytes_, 0);
      }
      return *this;
    }
    ~Reservation() { Release(); }
    int64_t bytes() const { return bytes_; }

   private:
    friend class MemoryBudget;
    Reservation(MemoryBudget* budget, int64_t bytes) : budget_(budget), bytes_(bytes) {}
    void Release() {
      if (budget_ != nullptr) budget_->used_.fetch_sub(bytes_);
      budget_ = nullptr;
      bytes_ = 0;
    }
    MemoryBudget* budget_ = nullptr;
    int64_t bytes_ = 0;
  };

  // Reserves `bytes` (>= 0) for `what` (named in the error), or RESOURCE_EXHAUSTED at
  // once when they do not fit beside what calls in flight hold.
  absl::StatusOr<Reservation> Reserve(int64_t bytes, std::string_view what) {
    int64_t used = used_.load();
    do {
      if (bytes > budget_ - used) {
        return absl::ResourceExhaustedError(
            absl::StrCat(std::string(what), " needs ", bytes,
                         " bytes of memory; the daemon's memory budget of ", budget_, " bytes has ",
                         budget_ - used, " free (limits.memory_budget_bytes); retry later"));
      }
    } while (!used_.compare_exchange_weak(used, used + bytes));
    return Reservation(this, bytes);
  }

  int64_t used_bytes() const { return used_.load(); }
  int64_t budget_bytes() const { return budget_; }

 private:
  const int64_t budget_;
  std::atomic<int64_t> used_{0};
};

}  // namespace datanode::node

#endif  // DATANODE_NODE_DAEMON_CALLER_LIMITS_H_
