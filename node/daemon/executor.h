// Copyright 2026 The datanode Authors.
//
// The daemon's own worker pool. RPC handlers hand every piece of work that can block
// (disk, compute) to it, so gRPC's threads never wait on I/O or kernels.
// Thread-safe. The destructor drains queued work, then joins.
#ifndef DATANODE_NODE_DAEMON_EXECUTOR_H_
#define DATANODE_NODE_DAEMON_EXECUTOR_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "spdlog/spdlog.h"

namespace datanode::node {

// Runs `work` (returning absl::Status) and turns an allocation failure inside it into
// RESOURCE_EXHAUSTED, so that a request the memory budget let through but the system
// could not satisfy fails alone instead of terminating the daemon. This is the one
// place where node/ catches std::bad_alloc: every task the RPC layer hands to the
// Executor runs its work through it (sizes are checked before allocating, so this is
// the last line, not the plan).
template <typename Work>
absl::Status CatchAllocFailure(Work&& work) {
  try {
    return work();
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("the node ran out of memory for this call; retry later");
  }
}

class Executor {
 public:
  explicit Executor(int threads) {
    if (threads < 1) threads = 1;
    for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { Loop(); });
  }
  ~Executor() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  void Submit(std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(fn));
    }
    cv_.notify_one();
  }

 private:
  void Loop() {
    while (true) {
      std::function<void()> fn;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping and drained
        fn = std::move(queue_.front());
        queue_.pop_front();
      }
      // A task that lets an allocation failure escape (its work should have run
      // through CatchAllocFailure) is logged and dropped rather than terminating the
      // daemon with every other call.
      try {
        fn();
      } catch (const std::bad_alloc&) {
        spdlog::error("an executor task failed to allocate memory outside CatchAllocFailure");
      }
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> workers_;
};

}  // namespace datanode::node

#endif  // DATANODE_NODE_DAEMON_EXECUTOR_H_
