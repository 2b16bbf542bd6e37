// Copyright 2026 The datanode Authors.
//
// A gRPC server-streaming reactor whose messages come from a worker thread (the
// daemon's executor) while gRPC allows one outstanding write: messages are queued and
// written one at a time, and the call finishes once the work has ended and the queue is
// drained. Cancellation (client cancel, deadline, server shutdown, a failed write) sets
// a flag the work polls through cancelled(); queued messages are then dropped.
//
// Used by RunAdmission (progress lines) and Generate (tokens). Subclasses implement
// OnDone() (their own lifetime rule) and call Push() / EndWith() from the work.
// Thread-safe: decisions are made under the lock, gRPC calls outside it.
#ifndef DATANODE_NODE_DAEMON_QUEUED_WRITE_REACTOR_H_
#define DATANODE_NODE_DAEMON_QUEUED_WRITE_REACTOR_H_

#include <atomic>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>

#include "grpcpp/grpcpp.h"

namespace datanode::node {

template <typename Response>
class QueuedWriteReactor : public grpc::ServerWriteReactor<Response> {
 public:
  void OnCancel() override { cancelled_ = true; }
  void OnWriteDone(bool ok) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      if (!ok) {
        cancelled_ = true;  // the client is gone: stop the work
        queue_.clear();
      }
    }
    Pump();
  }

 protected:
  bool cancelled() const { return cancelled_.load(); }

  // Queues `m` unless the call was cancelled. With max_queued > 0 the oldest queued
  // message is dropped first when that many wait (for a client that reads slowly).
  void Push(Response m, size_t max_queued = 0) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (cancelled_) return;
      if (max_queued > 0 && queue_.size() >= max_queued) queue_.pop_front();
      queue_.push_back(std::move(m));
    }
    Pump();
  }

  // Ends the work: `last` (if any) is written after what is queued, then the call
  // finishes with `status`. Call once, as the work's last use of this object.
  void EndWith(grpc::Status status, std::optional<Response> last = std::nullopt) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (last.has_value()) queue_.push_back(*std::move(last));
      final_ = std::move(status);
      done_ = true;
    }
    Pump();
  }

 private:
  // Starts the next write, or finishes once the work is done and the queue drained.
  void Pump() {
    enum { kNothing, kWrite, kFinish } action = kNothing;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (writing_ || finished_) return;
      if (!queue_.empty() && !cancelled_) {
        current_ = std::move(queue_.front());
        queue_.pop_front();
        writing_ = true;
        action = kWrite;
      } else if (done_) {
        finished_ = true;
        action = kFinish;
      }
    }
    if (action == kWrite) this->StartWrite(&current_);
    if (action == kFinish) this->Finish(final_);
  }

  std::atomic<bool> cancelled_{false};
  std::mutex mu_;
  std::deque<Response> queue_;  // guarded by mu_
  Response current_;            // owned by the write in flight
  bool writing_ = false;        // guarded by mu_
  bool done_ = false;           // guarded by mu_
  bool finished_ = false;       // guarded by mu_
  grpc::Status final_;          // guarded by mu_
};

}  // namespace datanode::node

#endif  // DATANODE_NODE_DAEMON_QUEUED_WRITE_REACTOR_H_
