// Copyright 2026 The datanode Authors.
//
// Compute pipelines of the embedded kernels (created once, at backend creation) and
// the execution of one kernel call: inputs staged through one host-visible upload
// buffer into device-local buffers, one dispatch (split into several when the grid
// exceeds the device's workgroup-count limits), outputs copied back through one
// readback buffer, all in one command buffer waited on with a fence.
//
// Every buffer (staging, per-binding device buffers) and every descriptor set is
// created once and reused: buffers grow geometrically when a call needs more, never
// shrink. Thread safety: none; the backend serializes calls behind its mutex.
#ifndef DATANODE_OPS_VULKAN_KERNEL_RUNNER_H_
#define DATANODE_OPS_VULKAN_KERNEL_RUNNER_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "datanode/ops/elementwise.h"
#include "ops/vulkan/vulkan_device.h"

namespace datanode::ops::vulkan {

// The shaders that have a host driver of their own: (KernelId name, shader in
// ops/vulkan/shaders, storage-buffer bindings). Each *Exact kernel is its plain kernel's
// source compiled with EXACT_OUT: one more output, binding 5, for the exact sums before the
// rounding (Backend::WritesExactSums); the plain kernels are unchanged. The elementwise ops
// follow them, derived from elementwise_ops.inc: shader llm_<snake>.comp, bindings
// 0 .. arity - 1 the inputs and `arity` the output, push constants (n, workgroup base), 64
// invocations per workgroup.
#define DATANODE_VK_KERNELS(X)                                 \
  X(MatMulS8S32, "matmul_s8_s32", 3)                           \
  X(MatMulS8F32, "matmul_s8_f32", 5)                           \
  X(MatMulQ8_0Q8_0, "matmul_q8_0_q8_0", 5)                     \
  X(MatMulQ8_0Q4_0, "matmul_q8_0_q4_0", 5)                     \
  X(MatMulQ8_0Q4_1, "matmul_q8_0_q4_1", 5)                     \
  X(MatMulQ8_0Q4_K, "matmul_q8_0_q4_k", 5)                     \
  X(MatMulQ8_0Q6_K, "matmul_q8_0_q6_k", 5)                     \
  X(MatMulQ8_0Q8_0Gemv, "matmul_q8_0_q8_0_gemv", 5)            \
  X(MatMulQ8_0Q4_0Gemv, "matmul_q8_0_q4_0_gemv", 5)            \
  X(MatMulQ8_0Q4_1Gemv, "matmul_q8_0_q4_1_gemv", 5)            \
  X(MatMulQ8_0Q4_KGemv, "matmul_q8_0_q4_k_gemv", 5)            \
  X(MatMulQ8_0Q6_KGemv, "matmul_q8_0_q6_k_gemv", 5)            \
  X(MatMulS8F32Exact, "matmul_s8_f32_exact", 6)                \
  X(MatMulQ8_0Q8_0Exact, "matmul_q8_0_q8_0_exact", 6)          \
  X(MatMulQ8_0Q4_0Exact, "matmul_q8_0_q4_0_exact", 6)          \
  X(MatMulQ8_0Q4_1Exact, "matmul_q8_0_q4_1_exact", 6)          \
  X(MatMulQ8_0Q4_KExact, "matmul_q8_0_q4_k_exact", 6)          \
  X(MatMulQ8_0Q6_KExact, "matmul_q8_0_q6_k_exact", 6)          \
  X(MatMulQ8_0Q8_0GemvExact, "matmul_q8_0_q8_0_gemv_exact", 6) \
  X(MatMulQ8_0Q4_0GemvExact, "matmul_q8_0_q4_0_gemv_exact", 6) \
  X(MatMulQ8_0Q4_1GemvExact, "matmul_q8_0_q4_1_gemv_exact", 6) \
  X(MatMulQ8_0Q4_KGemvExact, "matmul_q8_0_q4_k_gemv_exact", 6) \
  X(MatMulQ8_0Q6_KGemvExact, "matmul_q8_0_q6_k_gemv_exact", 6) \
  X(QuantizeS8Row, "quantize_s8_row", 3)                       \
  X(QuantizeQ8_0, "quantize_q8_0", 3)                          \
  X(LlmRmsNorm, "llm_rms_norm", 3)                             \
  X(LlmAttend, "llm_attend", 5)                                \
  X(LlmRope, "llm_rope", 3)                                    \
  X(LlmEncodeKvRow, "llm_encode_kv_row", 2)

enum class KernelId : int {
#define DATANODE_VK_KERNEL_ID(Name, blob, bindings) k##Name,
  DATANODE_VK_KERNELS(DATANODE_VK_KERNEL_ID)
#undef DATANODE_VK_KERNEL_ID
      kElementwiseFirst,
  kCount = kElementwiseFirst + llm::kNumElementwiseOps,
};

// The kernel of an elementwise op.
constexpr KernelId ElementwiseKernelId(llm::ElementwiseOp op) {
  return static_cast<KernelId>(static_cast<int>(KernelId::kElementwiseFirst) +
                               static_cast<int>(op));
}
// Workgroup size (local_size_x) of every elementwise shader.
inline constexpr uint32_t kElementwiseWorkgroup = 64;

inline constexpr int kMaxBindings = 6;
inline constexpr int kMaxPushWords = 8;
static_assert(llm::kMaxElementwiseArity + 1 <= kMaxBindings);

// A storage buffer of one call, in binding order.
struct BufferSpec {
  enum class Role {
    kInput,     // written by the host through Input(), uploaded before the dispatch
    kOutput,    // written by the kernel, readable through Output() after Run()
    kResident,  // an existing device buffer (prepared weights), bound as is
    kScratch,   // device-only working memory of the kernel: neither uploaded nor read back
  };
  Role role = Role::kInput;
  uint64_t bytes = 0;                      // > 0; kResident: the bound range
  const DeviceBuffer* resident = nullptr;  // kResident only
};

struct KernelCall {
  KernelId kernel = KernelId::kMatMulS8S32;
  std::array<uint32_t, kMaxPushWords> push{};
  uint32_t groups_x = 1;
  uint32_t groups_y = 1;
  // Push-constant words that receive the workgroup offset along x / y when the grid is
  // split into several dispatches (-1: that dimension must fit in one dispatch).
  int x_base_word = -1;
  int y_base_word = -1;
};

class KernelRunner {
 public:
  // Creates the pipelines of every kernel. UNAVAILABLE if the driver rejects one.
  static absl::StatusOr<std::unique_ptr<KernelRunner>> Create(VulkanDevice* device);
  ~KernelRunner();
  KernelRunner(const KernelRunner&) = delete;
  KernelRunner& operator=(const KernelRunner&) = delete;

  // Step 1: the buffers of the next call. RESOURCE_EXHAUSTED if one exceeds the
  // device's storage-buffer range (the message says which limit).
  absl::Status Prepare(std::span<const BufferSpec> specs);
  // Step 2: host pointer to input `binding` (bytes as declared, zero-filled: padding
  // the host does not write reads as zero).
  uint8_t* Input(int binding);
  // Step 3: uploads the inputs, runs the kernel, reads back the outputs. With
  // `device_seconds`, sets it to the dispatches' time from timestamp queries, or to -1
  // when the device has none (VkPhysicalDeviceLimits::timestampComputeAndGraphics).
  absl::Status Run(const KernelCall& call, double* device_seconds = nullptr);
  // Step 4: the bytes of output `binding`.
  const uint8_t* Output(int binding) const;

  // A new device-local buffer holding `size` bytes written by `fill` (prepared
  // weights). Uses the shared upload buffer, so it must not interleave with steps 1-4.
  absl::StatusOr<DeviceBuffer> Upload(uint64_t size, const std::function<void(uint8_t*)>& fill);

 private:
  struct Kernel {
    int bindings = 0;
    VkShaderModule module = VK_NULL_HANDLE;
    VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
    VkPipelineLayout layout = VK_NULL_HANDLE;
    VkPipeline pipeline = VK_NULL_HANDLE;
    VkDescriptorSet set = VK_NULL_HANDLE;
  };

  explicit KernelRunner(VulkanDevice* device) : device_(device) {}
  absl::Status Init();
  absl::Status Grow(DeviceBuffer& buffer, uint64_t size, MemoryUse use);

  VulkanDevice* device_;
  VkDescriptorPool pool_ = VK_NULL_HANDLE;
  VkQueryPool timestamps_ = VK_NULL_HANDLE;  // two queries, made at the first timed Run
  std::array<Kernel, static_cast<int>(KernelId::kCount)> kernels_{};

  std::vector<BufferSpec> specs_;
  std::array<uint64_t, kMaxBindings> staging_offset_{};
  DeviceBuffer upload_;
  DeviceBuffer readback_;
  std::array<DeviceBuffer, kMaxBindings> slots_;
};

}  // namespace datanode::ops::vulkan

#endif  // DATANODE_OPS_VULKAN_KERNEL_RUNNER_H_
