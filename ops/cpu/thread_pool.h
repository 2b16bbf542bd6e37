// Copyright 2026 The datanode Authors.
//
// A fixed-size worker pool for the CPU kernels. ParallelFor hands out task indices
// dynamically; kernels make every task own whole output elements, so which thread
// runs which task can never change an output byte.
#ifndef DATANODE_OPS_CPU_THREAD_POOL_H_
#define DATANODE_OPS_CPU_THREAD_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace datanode::ops::cpu {

class ThreadPool {
 public:
  // num_threads >= 1 (the calling thread counts as one worker).
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }

  // Runs fn(task) for task in [0, num_tasks) on up to num_threads threads and returns
  // when all are done. Thread-safe: concurrent callers are serialized (one parallel
  // region at a time, each using every worker). A call from inside one of this pool's
  // tasks (a kernel that splits its own work, run by a caller that split rows) runs its
  // tasks inline on that thread. fn must not throw.
  void ParallelFor(int64_t num_tasks, const std::function<void(int64_t)>& fn);

 private:
  void WorkerLoop();
  void RunTasks();

  const int num_threads_;
  std::vector<std::thread> workers_;
  std::mutex region_mutex_;  // serializes ParallelFor calls

  // Workers spin briefly on generation_ after a region before sleeping on wake_, so
  // back-to-back calls (a decode loop) do not pay a futex wake-up each time.
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  std::atomic<int> active_workers_{0};
  const std::function<void(int64_t)>* fn_ = nullptr;
  int64_t num_tasks_ = 0;
  std::atomic<int64_t> next_task_{0};
};

}  // namespace datanode::ops::cpu

#endif  // DATANODE_OPS_CPU_THREAD_POOL_H_
