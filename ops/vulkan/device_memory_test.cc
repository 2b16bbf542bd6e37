// Copyright 2026 The datanode Authors.
#include "ops/vulkan/device_memory_test.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/status_macros.h"

namespace datanode::ops::vulkan {
namespace {

constexpr uint64_t kMaxBufferBytes = uint64_t{256} << 20;
constexpr uint64_t kMaxBlockBytes = uint64_t{1} << 20;
constexpr uint64_t kReadbackBytes = uint64_t{64} << 20;

void TransferBarrier(VkCommandBuffer cmd) {
  VkMemoryBarrier barrier{};
  barrier.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER;
  barrier.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
  barrier.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1,
                       &barrier, 0, nullptr, 0, nullptr);
}

// Owns a two-entry timestamp query pool (or none when the device has no timers).
class Timer {
 public:
  explicit Timer(VulkanDevice& device) : device_(device) {
    if (!device.limits().timestampComputeAndGraphics) return;
    VkQueryPoolCreateInfo info{};
    info.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO;
    info.queryType = VK_QUERY_TYPE_TIMESTAMP;
    info.queryCount = 2;
    if (vkCreateQueryPool(device.device(), &info, nullptr, &pool_) != VK_SUCCESS) {
      pool_ = VK_NULL_HANDLE;
    }
  }
  ~Timer() {
    if (pool_ != VK_NULL_HANDLE) vkDestroyQueryPool(device_.device(), pool_, nullptr);
  }
  bool device_timed() const { return pool_ != VK_NULL_HANDLE; }
  void Reset(VkCommandBuffer cmd) {
    if (pool_ != VK_NULL_HANDLE) vkCmdResetQueryPool(cmd, pool_, 0, 2);
  }
  // Written once every earlier transfer command has finished its transfer stage.
  void Mark(VkCommandBuffer cmd, uint32_t which) {
    if (pool_ != VK_NULL_HANDLE) {
      vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, pool_, which);
    }
  }
  absl::StatusOr<double> Seconds() {
    uint64_t ticks[2] = {0, 0};
    VkResult r =
        vkGetQueryPoolResults(device_.device(), pool_, 0, 2, sizeof(ticks), ticks, sizeof(uint64_t),
                              VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
    if (r != VK_SUCCESS) return VkError(r, "vkGetQueryPoolResults");
    return static_cast<double>(ticks[1] - ticks[0]) * device_.limits().timestampPeriod * 1e-9;
  }

 private:
  VulkanDevice& device_;
  VkQueryPool pool_ = VK_NULL_HANDLE;
};

struct Pair {
  DeviceBuffer src, dst;
  uint64_t size = 0;
  uint64_t offset = 0;  // of src within the concatenated source half
};

}  // namespace

absl::StatusOr<MemoryTestResult> TestDeviceMemory(VulkanDevice& device, int64_t bytes,
                                                  uint64_t seed) {
  if (bytes < 16) return absl::InvalidArgumentError(absl::StrCat("memory test of ", bytes));
  const uint64_t half = static_cast<uint64_t>(bytes) / 2 / 8 * 8;
  const uint64_t block = std::min(kMaxBlockBytes, half);
  const uint64_t tested = half / block * block;
  std::vector<Pair> pairs;
  for (uint64_t off = 0; off < tested;) {
    Pair p;
    p.size = std::min(kMaxBufferBytes / block * block, tested - off);
    p.offset = off;
    ASSIGN_OR_RETURN(p.src, device.CreateBuffer(p.size, MemoryUse::kDevice));
    ASSIGN_OR_RETURN(p.dst, device.CreateBuffer(p.size, MemoryUse::kDevice));
    off += p.size;
    pairs.push_back(std::move(p));
  }
  ASSIGN_OR_RETURN(DeviceBuffer upload, device.CreateBuffer(block, MemoryUse::kUpload));
  ASSIGN_OR_RETURN(
      DeviceBuffer readback,
      device.CreateBuffer(std::min(kReadbackBytes, pairs[0].size), MemoryUse::kReadback));
  // The address pattern's block, and its rotation in global block `b` of the half.
  std::vector<uint8_t> random_block(block);
  SplitMix64 rng(seed);
  for (uint64_t i = 0; i < block; i += 8) {
    const uint64_t v = rng.Next();
    std::memcpy(&random_block[i], &v, 8);
  }
  auto rotation = [&](uint64_t b) { return (b * 8 * 4099) % block; };

  Timer timer(device);
  MemoryTestResult result;
  result.bytes_tested = static_cast<int64_t>(2 * tested);
  result.device_timed = timer.device_timed();
  const uint32_t fills[] = {0u, ~0u, 0xAAAAAAAAu, 0x55555555u};
  for (int p = 0; p < 5; ++p) {
    const bool address = p == 4;
    if (address) std::memcpy(upload.mapped(), random_block.data(), block);
    const auto t0 = std::chrono::steady_clock::now();
    RETURN_IF_ERROR(device.SubmitAndWait([&](VkCommandBuffer cmd) {
      timer.Reset(cmd);
      if (address) {
        // Untimed: block 0 from the host, then every block from it, rotated.
        VkBufferCopy first{0, 0, block};
        vkCmdCopyBuffer(cmd, upload.buffer(), pairs[0].src.buffer(), 1, &first);
        TransferBarrier(cmd);
        for (const Pair& pr : pairs) {
          for (uint64_t at = 0; at < pr.size; at += block) {
            const uint64_t b = (pr.offset + at) / block;
            if (b == 0) continue;
            const uint64_t rot = rotation(b);
            VkBufferCopy regions[2] = {{rot, at, block - rot}, {0, at + block - rot, rot}};
            vkCmdCopyBuffer(cmd, pairs[0].src.buffer(), pr.src.buffer(), rot == 0 ? 1 : 2, regions);
          }
        }
        TransferBarrier(cmd);
      }
      timer.Mark(cmd, 0);
      if (!address) {
        for (const Pair& pr : pairs) vkCmdFillBuffer(cmd, pr.src.buffer(), 0, pr.size, fills[p]);
        TransferBarrier(cmd);
      }
      for (const Pair& pr : pairs) {
        VkBufferCopy all{0, 0, pr.size};
        vkCmdCopyBuffer(cmd, pr.src.buffer(), pr.dst.buffer(), 1, &all);
      }
      timer.Mark(cmd, 1);
    }));
    const double host_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (timer.device_timed()) {
      ASSIGN_OR_RETURN(double s, timer.Seconds());
      result.seconds += s;
    } else {
      result.seconds += host_seconds;
    }
    // A fill writes the source once; the copy reads it and writes the destination.
    result.bytes_moved += static_cast<int64_t>((address ? 2 : 3) * tested);
    // Untimed: the destination back to the host, compared word by word.
    for (const Pair& pr : pairs) {
      for (uint64_t off = 0; off < pr.size; off += readback.size()) {
        const uint64_t n = std::min<uint64_t>(readback.size(), pr.size - off);
        RETURN_IF_ERROR(device.SubmitAndWait([&](VkCommandBuffer cmd) {
          VkBufferCopy region{off, 0, n};
          vkCmdCopyBuffer(cmd, pr.dst.buffer(), readback.buffer(), 1, &region);
        }));
        const uint8_t* got = readback.mapped();
        for (uint64_t i = 0; i < n; i += 8) {
          uint64_t want;
          if (address) {
            const uint64_t g = pr.offset + off + i;
            const uint64_t within = (g % block + rotation(g / block)) % block;
            std::memcpy(&want, &random_block[within], 8);
          } else {
            want = uint64_t{fills[p]} << 32 | fills[p];
          }
          uint64_t word;
          std::memcpy(&word, got + i, 8);
          result.errors += word != want;
        }
      }
    }
  }
  result.method = absl::StrCat("Vulkan device memory, ", pairs.size() * 2, " buffers, ",
                               "fill + copy on the device, 5 patterns");
  return result;
}

}  // namespace datanode::ops::vulkan
