// Copyright 2026 The datanode Authors.
#include "ops/cuda/device_memory_test.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/status_macros.h"
#include "ops/cuda/cuda_status.h"
#include "ops/cuda/device_memory.h"

namespace datanode::ops::cuda {
namespace {

constexpr uint64_t kMaxBufferBytes = uint64_t{256} << 20;
constexpr uint64_t kMaxBlockBytes = uint64_t{1} << 20;
constexpr uint64_t kReadbackBytes = uint64_t{64} << 20;

struct Pair {
  DeviceBuffer src, dst;
  uint64_t size = 0;
  uint64_t offset = 0;  // of src within the concatenated source half
};

}  // namespace

absl::StatusOr<MemoryTestResult> TestCudaDeviceMemory(int64_t bytes, uint64_t seed) {
  if (bytes < 16) return absl::InvalidArgumentError(absl::StrCat("memory test of ", bytes));
  const uint64_t half = static_cast<uint64_t>(bytes) / 2 / 8 * 8;
  const uint64_t block = std::min(kMaxBlockBytes, half);
  const uint64_t tested = half / block * block;
  // Declared before the stream: buffers go back to the pool (freed: no cache) only
  // after the stream is synchronized and destroyed.
  DevicePool pool(/*max_cached_bytes=*/0);
  std::vector<Pair> pairs;
  for (uint64_t off = 0; off < tested;) {
    Pair p;
    p.size = std::min(kMaxBufferBytes / block * block, tested - off);
    p.offset = off;
    ASSIGN_OR_RETURN(p.src, pool.Allocate(p.size));
    ASSIGN_OR_RETURN(p.dst, pool.Allocate(p.size));
    off += p.size;
    pairs.push_back(std::move(p));
  }
  OwnedStream stream;
  RETURN_IF_ERROR(stream.Create());
  EventPair events;
  RETURN_IF_ERROR(events.Create());
  // The address pattern's block, and its rotation in global block `b` of the half.
  std::vector<uint8_t> random_block(block);
  SplitMix64 rng(seed);
  for (uint64_t i = 0; i < block; i += 8) {
    const uint64_t v = rng.Next();
    std::memcpy(&random_block[i], &v, 8);
  }
  auto rotation = [&](uint64_t b) { return (b * 8 * 4099) % block; };
  std::vector<uint8_t> readback(std::min(kReadbackBytes, pairs[0].size));
  auto base = [](const Pair& p, bool dst) {
    return static_cast<uint8_t*>((dst ? p.dst : p.src).data());
  };
  const cudaStream_t s = stream.get();

  MemoryTestResult result;
  result.bytes_tested = static_cast<int64_t>(2 * tested);
  result.device_timed = true;
  const uint8_t fills[] = {0x00, 0xFF, 0xAA, 0x55};
  for (int p = 0; p < 5; ++p) {
    const bool address = p == 4;
    if (address) {
      // Untimed: block 0 from the host, then every block from it, rotated.
      CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(base(pairs[0], false), random_block.data(), block,
                                           cudaMemcpyHostToDevice, s),
                           "cudaMemcpyAsync(memory test block)");
      for (const Pair& pr : pairs) {
        for (uint64_t at = 0; at < pr.size; at += block) {
          const uint64_t b = (pr.offset + at) / block;
          if (b == 0) continue;
          const uint64_t rot = rotation(b);
          CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(base(pr, false) + at, base(pairs[0], false) + rot,
                                               block - rot, cudaMemcpyDeviceToDevice, s),
                               "cudaMemcpyAsync(memory test pattern)");
          if (rot != 0) {
            CUDA_RETURN_IF_ERROR(
                cudaMemcpyAsync(base(pr, false) + at + block - rot, base(pairs[0], false), rot,
                                cudaMemcpyDeviceToDevice, s),
                "cudaMemcpyAsync(memory test pattern)");
          }
        }
      }
    }
    CUDA_RETURN_IF_ERROR(cudaEventRecord(events.start(), s), "cudaEventRecord");
    if (!address) {
      for (const Pair& pr : pairs) {
        CUDA_RETURN_IF_ERROR(cudaMemsetAsync(pr.src.data(), fills[p], pr.size, s),
                             "cudaMemsetAsync(memory test)");
      }
    }
    for (const Pair& pr : pairs) {
      CUDA_RETURN_IF_ERROR(
          cudaMemcpyAsync(pr.dst.data(), pr.src.data(), pr.size, cudaMemcpyDeviceToDevice, s),
          "cudaMemcpyAsync(memory test copy)");
    }
    CUDA_RETURN_IF_ERROR(cudaEventRecord(events.stop(), s), "cudaEventRecord");
    CUDA_RETURN_IF_ERROR(cudaEventSynchronize(events.stop()), "cudaEventSynchronize");
    ASSIGN_OR_RETURN(double seconds, events.Seconds());
    result.seconds += seconds;
    // A fill writes the source once; the copy reads it and writes the destination.
    result.bytes_moved += static_cast<int64_t>((address ? 2 : 3) * tested);
    // Untimed: the destination back to the host, compared word by word.
    for (const Pair& pr : pairs) {
      for (uint64_t off = 0; off < pr.size; off += readback.size()) {
        const uint64_t n = std::min<uint64_t>(readback.size(), pr.size - off);
        CUDA_RETURN_IF_ERROR(
            cudaMemcpyAsync(readback.data(), base(pr, true) + off, n, cudaMemcpyDeviceToHost, s),
            "cudaMemcpyAsync(memory test read back)");
        CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(s), "cudaStreamSynchronize");
        for (uint64_t i = 0; i < n; i += 8) {
          uint64_t want;
          if (address) {
            const uint64_t g = pr.offset + off + i;
            const uint64_t within = (g % block + rotation(g / block)) % block;
            std::memcpy(&want, &random_block[within], 8);
          } else {
            want = 0x0101010101010101ull * fills[p];
          }
          uint64_t word;
          std::memcpy(&word, readback.data() + i, 8);
          result.errors += word != want;
        }
      }
    }
  }
  result.method = absl::StrCat("CUDA device memory, ", pairs.size() * 2, " buffers, ",
                               "memset + copy on the device, 5 patterns");
  return result;
}

}  // namespace datanode::ops::cuda
