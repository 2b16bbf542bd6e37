// Copyright 2026 The datanode Authors.
//
// Host-side resources of the CUDA backend:
//   DevicePool   - a caching allocator for per-call device buffers (cudaMalloc is slow
//                  and synchronizing; a daemon serving matmuls reuses the same sizes);
//   PinnedBuffer - page-locked host staging memory, so copies are true DMA and async;
//   StreamPool   - streams, each with its own pinned staging, leased one per Run() so
//                  concurrent calls overlap without sharing any buffer;
//   OwnedStream  - one stream, synchronized and destroyed on every path out (start-up
//                  checks and timings).
// All classes are thread-safe where stated; every CUDA error becomes an absl::Status.
// The caller makes the backend's device current (cudaSetDevice) before using them.
#ifndef DATANODE_OPS_CUDA_DEVICE_MEMORY_H_
#define DATANODE_OPS_CUDA_DEVICE_MEMORY_H_

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/status/statusor.h"

namespace datanode::ops::cuda {

class DevicePool;

// A device allocation on loan from a DevicePool; returned to it on destruction.
// Move-only. The owner must make sure no stream still uses it (the backend
// synchronizes its stream before its buffers go out of scope).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(DevicePool* pool, void* data, size_t bytes)
      : pool_(pool), data_(data), bytes_(bytes) {}
  DeviceBuffer(DeviceBuffer&& other) noexcept { *this = std::move(other); }
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { Reset(); }

  void* data() const { return data_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data_);
  }
  size_t bytes() const { return bytes_; }
  void Reset();

 private:
  DevicePool* pool_ = nullptr;
  void* data_ = nullptr;
  size_t bytes_ = 0;  // the size class actually allocated
};

// Thread-safe. Sizes are rounded up to a size class (powers of two below 2 MiB, then
// multiples of 2 MiB) and freed blocks are kept per class, up to `max_cached_bytes`.
class DevicePool {
 public:
  explicit DevicePool(int64_t max_cached_bytes) : max_cached_bytes_(max_cached_bytes) {}
  ~DevicePool();
  DevicePool(const DevicePool&) = delete;
  DevicePool& operator=(const DevicePool&) = delete;

  // RESOURCE_EXHAUSTED if the device is out of memory even after the cache is dropped.
  absl::StatusOr<DeviceBuffer> Allocate(size_t bytes);
  // Frees every cached block (not the ones on loan).
  void Trim();
  int64_t cached_bytes() const;

  static size_t SizeClass(size_t bytes);

 private:
  friend class DeviceBuffer;
  void Release(void* data, size_t size_class);

  const int64_t max_cached_bytes_;
  mutable std::mutex mu_;
  std::map<size_t, std::vector<void*>> free_;
  int64_t cached_bytes_ = 0;
};

// Page-locked host memory that grows on demand (not thread-safe: one per stream).
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  ~PinnedBuffer();
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  // Makes data() at least `bytes` long (contents are not preserved on growth).
  absl::Status Reserve(size_t bytes);
  uint8_t* data() const { return data_; }
  size_t capacity() const { return capacity_; }

 private:
  uint8_t* data_ = nullptr;
  size_t capacity_ = 0;
};

// A non-blocking stream owned by one scope: synchronized and destroyed in the
// destructor, so buffers freed after it are never still in use. Not thread-safe.
class OwnedStream {
 public:
  OwnedStream() = default;
  OwnedStream(const OwnedStream&) = delete;
  OwnedStream& operator=(const OwnedStream&) = delete;
  ~OwnedStream();
  absl::Status Create();
  cudaStream_t get() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

// A stream and its staging memory, leased to one Run() at a time.
struct StreamSlot {
  cudaStream_t stream = nullptr;
  PinnedBuffer staging;
};

// Two CUDA events bracketing timed work on one stream; destroyed on every path out.
// Not thread-safe.
class EventPair {
 public:
  EventPair() = default;
  EventPair(const EventPair&) = delete;
  EventPair& operator=(const EventPair&) = delete;
  ~EventPair();
  absl::Status Create();
  cudaEvent_t start() const { return start_; }
  cudaEvent_t stop() const { return stop_; }
  // Seconds between the two, once the stop event has completed.
  absl::StatusOr<double> Seconds() const;

 private:
  cudaEvent_t start_ = nullptr;
  cudaEvent_t stop_ = nullptr;
};

// Thread-safe pool of StreamSlots; creates a new stream when all are leased.
class StreamPool {
 public:
  StreamPool() = default;
  ~StreamPool();
  StreamPool(const StreamPool&) = delete;
  StreamPool& operator=(const StreamPool&) = delete;

  absl::StatusOr<std::unique_ptr<StreamSlot>> Acquire();
  void Return(std::unique_ptr<StreamSlot> slot);

 private:
  std::mutex mu_;
  std::vector<std::unique_ptr<StreamSlot>> idle_;
};

}  // namespace datanode::ops::cuda

#endif  // DATANODE_OPS_CUDA_DEVICE_MEMORY_H_
