// Copyright 2026 The datanode Authors.
#include "ops/cuda/device_memory.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "ops/cuda/cuda_status.h"

namespace datanode::ops::cuda {

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    Reset();
    pool_ = std::exchange(other.pool_, nullptr);
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

void DeviceBuffer::Reset() {
  if (data_ != nullptr && pool_ != nullptr) pool_->Release(data_, bytes_);
  pool_ = nullptr;
  data_ = nullptr;
  bytes_ = 0;
}

size_t DevicePool::SizeClass(size_t bytes) {
  constexpr size_t kLarge = size_t{2} << 20;
  if (bytes == 0) bytes = 1;
  if (bytes >= kLarge) return (bytes + kLarge - 1) / kLarge * kLarge;
  size_t size = 256;  // cudaMalloc alignment anyway
  while (size < bytes) size <<= 1;
  return size;
}

DevicePool::~DevicePool() { Trim(); }

absl::StatusOr<DeviceBuffer> DevicePool::Allocate(size_t bytes) {
  const size_t size_class = SizeClass(bytes);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = free_.find(size_class);
    if (it != free_.end() && !it->second.empty()) {
      void* data = it->second.back();
      it->second.pop_back();
      cached_bytes_ -= static_cast<int64_t>(size_class);
      return DeviceBuffer(this, data, size_class);
    }
  }
  void* data = nullptr;
  cudaError_t err = cudaMalloc(&data, size_class);
  if (err == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();  // clear the (non-sticky) error before retrying
    Trim();
    err = cudaMalloc(&data, size_class);
  }
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    return CudaStatus(err, absl::StrCat("cudaMalloc(", size_class, " bytes)").c_str());
  }
  return DeviceBuffer(this, data, size_class);
}

void DevicePool::Release(void* data, size_t size_class) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (cached_bytes_ + static_cast<int64_t>(size_class) <= max_cached_bytes_) {
      free_[size_class].push_back(data);
      cached_bytes_ += static_cast<int64_t>(size_class);
      return;
    }
  }
  (void)cudaFree(data);
}

void DevicePool::Trim() {
  std::map<size_t, std::vector<void*>> blocks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    blocks.swap(free_);
    cached_bytes_ = 0;
  }
  for (auto& [size_class, list] : blocks) {
    for (void* p : list) (void)cudaFree(p);
  }
}

int64_t DevicePool::cached_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cached_bytes_;
}

PinnedBuffer::~PinnedBuffer() {
  if (data_ != nullptr) (void)cudaFreeHost(data_);
}

absl::Status PinnedBuffer::Reserve(size_t bytes) {
  if (bytes <= capacity_) return absl::OkStatus();
  size_t capacity = capacity_ < (size_t{1} << 20) ? (size_t{1} << 20) : capacity_;
  while (capacity < bytes) capacity += capacity / 2;
  if (data_ != nullptr) {
    (void)cudaFreeHost(data_);
    data_ = nullptr;
    capacity_ = 0;
  }
  void* p = nullptr;
  const cudaError_t err = cudaMallocHost(&p, capacity);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    return CudaStatus(err, absl::StrCat("cudaMallocHost(", capacity, " bytes)").c_str());
  }
  data_ = static_cast<uint8_t*>(p);
  capacity_ = capacity;
  return absl::OkStatus();
}

StreamPool::~StreamPool() {
  for (auto& slot : idle_) (void)cudaStreamDestroy(slot->stream);
}

absl::StatusOr<std::unique_ptr<StreamSlot>> StreamPool::Acquire() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      std::unique_ptr<StreamSlot> slot = std::move(idle_.back());
      idle_.pop_back();
      return slot;
    }
  }
  auto slot = std::make_unique<StreamSlot>();
  CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&slot->stream, cudaStreamNonBlocking),
                       "cudaStreamCreateWithFlags");
  return slot;
}

void StreamPool::Return(std::unique_ptr<StreamSlot> slot) {
  std::lock_guard<std::mutex> lock(mu_);
  idle_.push_back(std::move(slot));
}

OwnedStream::~OwnedStream() {
  if (stream_ != nullptr) {
    (void)cudaStreamSynchronize(stream_);
    (void)cudaStreamDestroy(stream_);
  }
}

absl::Status OwnedStream::Create() {
  return CudaStatus(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
}

EventPair::~EventPair() {
  if (start_ != nullptr) (void)cudaEventDestroy(start_);
  if (stop_ != nullptr) (void)cudaEventDestroy(stop_);
}

absl::Status EventPair::Create() {
  CUDA_RETURN_IF_ERROR(cudaEventCreate(&start_), "cudaEventCreate");
  CUDA_RETURN_IF_ERROR(cudaEventCreate(&stop_), "cudaEventCreate");
  return absl::OkStatus();
}

absl::StatusOr<double> EventPair::Seconds() const {
  float ms = 0;
  CUDA_RETURN_IF_ERROR(cudaEventElapsedTime(&ms, start_, stop_), "cudaEventElapsedTime");
  return static_cast<double>(ms) * 1e-3;
}

}  // namespace datanode::ops::cuda
