// Copyright 2026 The datanode Authors.
#include "ops/cuda/cuda_backend.h"

#include <cuda_runtime_api.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/exact_float.h"
#include "datanode/ops/kquant.h"
#include "datanode/ops/llm_kernels.h"
#include "datanode/ops/status_macros.h"
#include "datanode/ops/validate.h"
#include "ops/cuda/cuda_status.h"
#include "ops/cuda/device_memory.h"
#include "ops/cuda/device_memory_test.h"
#include "ops/cuda/llm_kernels.cuh"
#include "ops/cuda/llm_math.cuh"
#include "ops/cuda/matmul_kquant.cuh"
#include "ops/cuda/matmul_q8.cuh"
#include "ops/cuda/matmul_s8_plan.h"
#include "ops/cuda/matmul_s8_wgmma.cuh"
#include "ops/cuda/quantize_q8_0.cuh"
#include "ops/cuda/quantize_s8_row.cuh"
#include "ops/cuda/resident.h"
#include "ops/cuda/s8_gemm.h"
#include "ops/cuda/s8_scale_epilogue.cuh"

namespace datanode::ops::cuda {
namespace {

constexpr int64_t kMaxCachedPoolBytes = int64_t{4} << 30;

Q8WeightFormat FormatOf(OpKind kind) {
  if (kind == OpKind::kMatMulQ8_0Q4_0) return Q8WeightFormat::kQ4_0;
  if (kind == OpKind::kMatMulQ8_0Q4_1) return Q8WeightFormat::kQ4_1;
  return Q8WeightFormat::kQ8_0;
}

bool IsS8MatMul(OpKind kind) {
  return kind == OpKind::kMatMulS8S32 || kind == OpKind::kMatMulS8F32;
}

// Device-resident weights. s8: W zero-padded to [np, kp] (the GEMM layout, see
// matmul_s8_plan.h) plus w_scale f32[n]; Q8_0-activation matmuls: the raw GGUF blocks.
class CudaPreparedWeights final : public PreparedWeights {
 public:
  CudaPreparedWeights(const Backend* owner, OpKind kind, int64_t n, int64_t k, int device)
      : PreparedWeights(owner, kind, n, k), device_(device) {}
  ~CudaPreparedWeights() override {
    int previous = -1;
    (void)cudaGetDevice(&previous);
    (void)cudaSetDevice(device_);
    if (w_ != nullptr) (void)cudaFree(w_);
    if (w_scale_ != nullptr) (void)cudaFree(w_scale_);
    if (previous >= 0) (void)cudaSetDevice(previous);
  }
  int64_t SizeBytes() const override { return static_cast<int64_t>(w_bytes_ + w_scale_bytes_); }

  absl::Status Upload(ByteSpan w, ByteSpan w_scale) {
    std::vector<uint8_t> packed;
    const uint8_t* src = w.data();
    w_bytes_ = w.size();
    if (IsS8MatMul(kind())) {
      const int64_t np = RoundUp(n(), kS8TileN);
      const int64_t kp = RoundUp(k(), kS8TileK);
      packed.resize(static_cast<size_t>(np * kp));
      PackPaddedRows(w.data(), n(), k(), np, kp, packed.data());
      src = packed.data();
      w_bytes_ = packed.size();
    }
    CUDA_RETURN_IF_ERROR(cudaMalloc(&w_, w_bytes_), "cudaMalloc(prepared weights)");
    CUDA_RETURN_IF_ERROR(cudaMemcpy(w_, src, w_bytes_, cudaMemcpyHostToDevice),
                         "cudaMemcpy(prepared weights)");
    if (!w_scale.empty()) {
      w_scale_bytes_ = w_scale.size();
      CUDA_RETURN_IF_ERROR(cudaMalloc(&w_scale_, w_scale_bytes_), "cudaMalloc(prepared w_scale)");
      CUDA_RETURN_IF_ERROR(
          cudaMemcpy(w_scale_, w_scale.data(), w_scale_bytes_, cudaMemcpyHostToDevice),
          "cudaMemcpy(prepared w_scale)");
    }
    return absl::OkStatus();
  }

  const void* w() const { return w_; }
  const void* w_scale() const { return w_scale_; }

 private:
  const int device_;
  void* w_ = nullptr;
  void* w_scale_ = nullptr;
  size_t w_bytes_ = 0;
  size_t w_scale_bytes_ = 0;
};

// Offsets of the operands inside one pinned staging buffer (256-byte aligned).
class StagingLayout {
 public:
  size_t Add(size_t bytes) {
    const size_t offset = total_;
    total_ += (bytes + 255) / 256 * 256;
    return offset;
  }
  size_t total() const { return total_; }

 private:
  size_t total_ = 0;
};

// Everything one Run() holds: the leased stream and the pooled device buffers. The
// destructor waits for the stream before the buffers go back to the pool (also on
// error paths), then returns the stream.
class CallScope {
 public:
  CallScope(StreamPool& streams, std::unique_ptr<StreamSlot> slot)
      : streams_(streams), slot_(std::move(slot)) {}
  ~CallScope() {
    (void)cudaStreamSynchronize(slot_->stream);
    buffers_.clear();
    streams_.Return(std::move(slot_));
  }
  cudaStream_t stream() const { return slot_->stream; }
  PinnedBuffer& staging() { return slot_->staging; }
  absl::StatusOr<void*> Device(DevicePool& pool, size_t bytes) {
    ASSIGN_OR_RETURN(DeviceBuffer buffer, pool.Allocate(bytes));
    buffers_.push_back(std::move(buffer));
    return buffers_.back().data();
  }

 private:
  StreamPool& streams_;
  std::unique_ptr<StreamSlot> slot_;
  std::vector<DeviceBuffer> buffers_;
};

bool AllFinite(std::span<const float> v) {
  for (float f : v) {
    if (!IsFiniteF32Bits(F32ToBits(f))) return false;
  }
  return true;
}

// The backend's llm::Kernels: the elementwise ops, RmsNorm and Attend run llm_kernels.cu on
// the backend's device (upload the row (and the KV cache), one kernel, download); the
// other ops are the reference's (the base class). Inputs the reference rejects go to the reference,
// so the status is exactly its status. Thread-safe: each call leases its own stream.
static_assert(kMaxElementwiseInputs == llm::kMaxElementwiseArity);

class CudaLlmKernels final : public llm::Kernels {
 public:
  CudaLlmKernels(int device, DevicePool& pool, StreamPool& streams)
      : device_(device), pool_(&pool), streams_(&streams) {}

  const char* Name() const override { return "cuda"; }

  absl::Status RmsNorm(std::span<const float> x, std::span<const float> gain, float eps,
                       std::span<float> out) const override {
    const uint32_t eps_bits = F32ToBits(eps);
    if (x.empty() || x.size() > (size_t{1} << 15) || x.size() != gain.size() ||
        x.size() != out.size() || !AllFinite(x) || !AllFinite(gain) || !IsFiniteF32Bits(eps_bits) ||
        (eps_bits >> 31) != 0 || eps_bits == 0) {
      return llm::RmsNorm(x, gain, eps, out);
    }
    const std::span<const float> in[] = {x, gain};
    return RunRow(
        in, out, "LaunchLlmRmsNorm",
        [&](const uint32_t* const* in_dev, int64_t n, uint32_t* out_dev, cudaStream_t stream) {
          return LaunchLlmRmsNorm(in_dev[0], in_dev[1], 1, n, eps_bits, out_dev, stream);
        });
  }
  absl::Status Attend(const llm::AttentionShape& shape, std::span<const float> q, ByteSpan k_cache,
                      ByteSpan v_cache, int64_t n_positions, std::span<float> out) const override {
    if (!ValidAttendInput(shape, q, k_cache, v_cache, n_positions, out)) {
      return llm::Attend(shape, q, k_cache, v_cache, n_positions, out);
    }
    const size_t q_bytes = q.size() * sizeof(float);
    const size_t cache_bytes =
        static_cast<size_t>(n_positions * llm::KvRowBytes(shape));  // each of K and V
    CUDA_RETURN_IF_ERROR(cudaSetDevice(device_), "cudaSetDevice");
    ASSIGN_OR_RETURN(std::unique_ptr<StreamSlot> slot, streams_->Acquire());
    CallScope scope(*streams_, std::move(slot));
    StagingLayout layout;
    const size_t q_off = layout.Add(q_bytes);
    const size_t k_off = layout.Add(cache_bytes);
    const size_t v_off = layout.Add(cache_bytes);
    const size_t in_bytes = layout.total();
    const size_t out_off = layout.Add(q_bytes);
    RETURN_IF_ERROR(scope.staging().Reserve(layout.total()));
    uint8_t* staging = scope.staging().data();
    const cudaStream_t stream = scope.stream();
    std::memcpy(staging + q_off, q.data(), q_bytes);
    std::memcpy(staging + k_off, k_cache.data(), cache_bytes);
    std::memcpy(staging + v_off, v_cache.data(), cache_bytes);
    ASSIGN_OR_RETURN(void* dev, scope.Device(*pool_, layout.total()));
    ASSIGN_OR_RETURN(void* scratch, scope.Device(*pool_, static_cast<size_t>(LlmAttendScratchBytes(
                                                             shape.n_heads, n_positions))));
    auto* base = static_cast<uint8_t*>(dev);
    CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(base, staging, in_bytes, cudaMemcpyHostToDevice, stream),
                         "cudaMemcpyAsync(attend inputs)");
    auto* out_dev = reinterpret_cast<uint32_t*>(base + out_off);
    CUDA_RETURN_IF_ERROR(
        LaunchLlmAttend(reinterpret_cast<const uint32_t*>(base + q_off),
                        reinterpret_cast<const uint16_t*>(base + k_off),
                        reinterpret_cast<const uint16_t*>(base + v_off), shape.n_heads,
                        shape.n_kv_heads, shape.head_dim, n_positions,
                        llm_math::AttendScoreScaleQ40(shape.head_dim), scratch, out_dev, stream),
        "LaunchLlmAttend");
    CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(staging + out_off, out_dev, q_bytes, cudaMemcpyDeviceToHost, stream),
        "cudaMemcpyAsync(attend out)");
    CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream), "llm attend");
    std::memcpy(out.data(), staging + out_off, q_bytes);
    return absl::OkStatus();
  }

 private:
  // Every elementwise op: llm_kernels.cu's kernel of the op over the whole row.
  absl::Status RunElementwise(llm::ElementwiseOp op, std::span<const std::span<const float>> in,
                              std::span<float> out) const override {
    return RunRow(
        in, out, "LaunchLlmElementwise",
        [&](const uint32_t* const* in_dev, int64_t n, uint32_t* out_dev, cudaStream_t stream) {
          return LaunchLlmElementwise(static_cast<int>(op), in_dev, n, out_dev, stream);
        });
  }

  // Whether llm::Attend accepts these inputs (otherwise it gives the status).
  static bool ValidAttendInput(const llm::AttentionShape& shape, std::span<const float> q,
                               ByteSpan k_cache, ByteSpan v_cache, int64_t n_positions,
                               std::span<float> out) {
    if (!llm::ValidateAttentionShape(shape).ok()) return false;
    const int64_t q_size = int64_t{shape.n_heads} * shape.head_dim;
    if (static_cast<int64_t>(q.size()) != q_size || static_cast<int64_t>(out.size()) != q_size ||
        n_positions < 1 || n_positions > (int64_t{1} << 20) || !AllFinite(q)) {
      return false;
    }
    const int64_t cache_bytes = n_positions * llm::KvRowBytes(shape);
    if (static_cast<int64_t>(k_cache.size()) < cache_bytes ||
        static_cast<int64_t>(v_cache.size()) < cache_bytes) {
      return false;
    }
    for (int64_t i = 0; i < cache_bytes; i += 2) {
      const uint16_t kb = LoadU16(&k_cache[i]), vb = LoadU16(&v_cache[i]);
      if (!IsFiniteF16Bits(kb) || !IsFiniteF16Bits(vb)) return false;
    }
    return true;
  }

  // Uploads the input rows (each out.size() values), runs `launch` on their device copies
  // and downloads out. `launch` returns the launch's cudaError_t; `what` names it in errors.
  template <typename Launch>
  absl::Status RunRow(std::span<const std::span<const float>> in, std::span<float> out,
                      const char* what, const Launch& launch) const {
    const size_t bytes = out.size() * sizeof(float);
    const auto n = static_cast<int64_t>(out.size());
    CUDA_RETURN_IF_ERROR(cudaSetDevice(device_), "cudaSetDevice");
    ASSIGN_OR_RETURN(std::unique_ptr<StreamSlot> slot, streams_->Acquire());
    CallScope scope(*streams_, std::move(slot));
    StagingLayout layout;
    size_t in_off[llm::kMaxElementwiseArity];
    for (size_t i = 0; i < in.size(); ++i) in_off[i] = layout.Add(bytes);
    const size_t in_bytes = layout.total();
    const size_t out_off = layout.Add(bytes);
    RETURN_IF_ERROR(scope.staging().Reserve(layout.total()));
    uint8_t* staging = scope.staging().data();
    const cudaStream_t stream = scope.stream();
    for (size_t i = 0; i < in.size(); ++i) std::memcpy(staging + in_off[i], in[i].data(), bytes);
    ASSIGN_OR_RETURN(void* dev, scope.Device(*pool_, layout.total()));
    auto* base = static_cast<uint8_t*>(dev);
    CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(base, staging, in_bytes, cudaMemcpyHostToDevice, stream),
                         "cudaMemcpyAsync(llm inputs)");
    const uint32_t* in_dev[llm::kMaxElementwiseArity] = {};
    for (size_t i = 0; i < in.size(); ++i) {
      in_dev[i] = reinterpret_cast<const uint32_t*>(base + in_off[i]);
    }
    auto* out_dev = reinterpret_cast<uint32_t*>(base + out_off);
    CUDA_RETURN_IF_ERROR(launch(in_dev, n, out_dev, stream), what);
    CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(staging + out_off, out_dev, bytes, cudaMemcpyDeviceToHost, stream),
        "cudaMemcpyAsync(llm out)");
    CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream), "llm op");
    std::memcpy(out.data(), staging + out_off, bytes);
    return absl::OkStatus();
  }

  const int device_;
  DevicePool* const pool_;
  StreamPool* const streams_;
};

// A start-up check ended in a fault that poisoned the process's CUDA context.
absl::Status ContextLost(const absl::Status& check, S8Kernel kernel) {
  return absl::UnavailableError(absl::StrCat(
      "cuda: ", check.message(),
      "; the fault left this process's CUDA context unusable (resetting the device would "
      "also reset it for every other user in the process, so the backend is refused "
      "instead)",
      kernel == S8Kernel::kWgmma ? "; DATANODE_CUDA_WGMMA=0 skips the wgmma kernel" : ""));
}

class CudaBackend final : public Backend {
 public:
  CudaBackend(int device, const cudaDeviceProp& props)
      : device_(device),
        name_(props.name),
        cc_major_(props.major),
        cc_minor_(props.minor),
        sm_count_(props.multiProcessorCount),
        memory_bytes_(static_cast<int64_t>(props.totalGlobalMem)),
        pool_(kMaxCachedPoolBytes),
        llm_(device, pool_, streams_) {}

  const char* Name() const override { return "cuda"; }
  std::string Description() const override {
    const std::string s8 = wgmma_enabled_
                               ? "wgmma (sm_90a) for large shapes, mma.sync for the rest"
                               : absl::StrCat("mma.sync (wgmma off: ", wgmma_off_reason_, ")");
    return absl::StrCat(name_, " (device ", device_, ", sm_", cc_major_, cc_minor_, ", ", sm_count_,
                        " SMs, ", memory_bytes_ >> 20, " MiB), s8 GEMM: ", s8);
  }

  // The start-up check of the s8 GEMM kernels that may serve calls (s8_gemm.h): the
  // mma.sync kernel must pass (it serves every shape the wgmma kernel does not), else
  // the backend is refused (FAILED_PRECONDITION, like a failed golden self-test). The
  // wgmma kernel is checked where it can run and DATANODE_CUDA_WGMMA allows it; if it
  // fails, it stays off, the reason goes to stderr and Description(), and mma.sync
  // serves everything, exactly as well. A fault inside a kernel leaves the process's
  // CUDA context unusable, and resetting the device would pull it from under every
  // other user of that context, so then the backend is refused with UNAVAILABLE.
  absl::Status CheckS8Kernels() {
    const absl::StatusOr<bool> allowed = WgmmaAllowed(std::getenv("DATANODE_CUDA_WGMMA"));
    if (!allowed.ok()) {
      return absl::Status(allowed.status().code(),
                          absl::StrCat("cuda: ", allowed.status().message()));
    }
    bool context_lost = false;
    const absl::Status mma = CheckS8Kernel(S8Kernel::kMma, sm_count_, &context_lost);
    if (!mma.ok()) {
      if (context_lost) return ContextLost(mma, S8Kernel::kMma);
      return absl::FailedPreconditionError(absl::StrCat("cuda: ", mma.message()));
    }
    if (cc_major_ != 9 || cc_minor_ != 0) {
      wgmma_off_reason_ = "needs compute capability 9.0";
      return absl::OkStatus();
    }
    if (!*allowed) {
      wgmma_off_reason_ = "DATANODE_CUDA_WGMMA=0";
      return absl::OkStatus();
    }
    if (!S8WgmmaKernelLoads()) {
      wgmma_off_reason_ = "no sm_90a kernel in this build (CUDA architectures without 90)";
      return absl::OkStatus();
    }
    const absl::Status wgmma = CheckS8Kernel(S8Kernel::kWgmma, sm_count_, &context_lost);
    if (context_lost) return ContextLost(wgmma, S8Kernel::kWgmma);
    if (!wgmma.ok()) {
      wgmma_off_reason_ = std::string(wgmma.message());
      std::fprintf(stderr, "cuda: device %d: the wgmma s8 GEMM is off, mma.sync serves: %s\n",
                   device_, wgmma_off_reason_.c_str());
      return absl::OkStatus();
    }
    wgmma_enabled_ = true;
    return absl::OkStatus();
  }
  // Every op of the table has a kernel here.
  bool Supports(OpKind) const override { return true; }
  int64_t DeviceMemoryBytes() const override { return memory_bytes_; }
  // The admission test's memory phase: global memory, on the GPU (device_memory_test.h).
  absl::StatusOr<MemoryTestResult> TestDeviceMemory(int64_t bytes, uint64_t seed) override {
    CUDA_RETURN_IF_ERROR(cudaSetDevice(device_), "cudaSetDevice");
    return TestCudaDeviceMemory(bytes, seed);
  }
  // Resident buffers (resident.h): the performance phase times the GEMM alone.
  absl::StatusOr<std::unique_ptr<ops::DeviceBuffer>> AllocateBuffer(int64_t size) override {
    return resident_.Allocate(size);
  }
  absl::Status WriteBuffer(ops::DeviceBuffer& dst, int64_t offset, ByteSpan src) override {
    return resident_.Write(dst, offset, src);
  }
  absl::Status ReadBuffer(const ops::DeviceBuffer& src, int64_t offset,
                          std::span<uint8_t> dst) override {
    return resident_.Read(src, offset, dst);
  }
  absl::Status PrepareResident(const ResidentOpArgs& args) override {
    return resident_.Prepare(args);
  }
  absl::Status RunResident(const ResidentOpArgs& args, double* device_seconds) override {
    return resident_.Run(*this, args, device_seconds);
  }
  const llm::Kernels& LlmKernels() const override { return llm_; }

  absl::Status Run(const OpArgs& args) override {
    const CudaPreparedWeights* prepared = nullptr;
    if (args.w_prepared != nullptr) {
      prepared = dynamic_cast<const CudaPreparedWeights*>(args.w_prepared);
      if (prepared == nullptr || prepared->owner() != this) {
        return absl::InvalidArgumentError("cuda: prepared weights belong to another backend");
      }
    }
    CUDA_RETURN_IF_ERROR(cudaSetDevice(device_), "cudaSetDevice");
    ASSIGN_OR_RETURN(std::unique_ptr<StreamSlot> slot, streams_.Acquire());
    CallScope scope(streams_, std::move(slot));
    switch (args.kind) {
      case OpKind::kMatMulS8S32:
      case OpKind::kMatMulS8F32:
        return RunS8(args, prepared, scope);
      case OpKind::kMatMulQ8_0Q8_0:
      case OpKind::kMatMulQ8_0Q4_0:
      case OpKind::kMatMulQ8_0Q4_1:
      case OpKind::kMatMulQ8_0Q4_K:
      case OpKind::kMatMulQ8_0Q6_K:
        return RunQ8(args, prepared, scope);
      case OpKind::kQuantizeS8Row:
      case OpKind::kQuantizeQ8_0:
        return RunQuantize(args, scope);
    }
    return absl::UnimplementedError("cuda: unknown op kind");
  }

  // Weights checked by Backend::PrepareWeights; uploaded to the device here.
  absl::StatusOr<std::unique_ptr<PreparedWeights>> DoPrepareWeights(OpKind kind, int64_t n,
                                                                    int64_t k, ByteSpan w,
                                                                    ByteSpan w_scale) override {
    CUDA_RETURN_IF_ERROR(cudaSetDevice(device_), "cudaSetDevice");
    auto prepared = std::make_unique<CudaPreparedWeights>(this, kind, n, k, device_);
    RETURN_IF_ERROR(prepared->Upload(w, w_scale));
    return prepared;
  }

 private:
  absl::Status RunS8(const OpArgs& args, const CudaPreparedWeights* prepared, CallScope& scope);
  absl::Status RunQ8(const OpArgs& args, const CudaPreparedWeights* prepared, CallScope& scope);
  absl::Status RunQuantize(const OpArgs& args, CallScope& scope);

  const int device_;
  const std::string name_;
  const int cc_major_;
  const int cc_minor_;
  const int sm_count_;
  const int64_t memory_bytes_;
  DevicePool pool_;
  StreamPool streams_;
  CudaLlmKernels llm_;            // shares pool_ and streams_
  bool wgmma_enabled_ = false;    // set once by CheckS8Kernels, before any call
  std::string wgmma_off_reason_;  // why not, for Description()
  CudaResident resident_{this, device_, sm_count_, &wgmma_enabled_, pool_, streams_};
};

absl::Status CudaBackend::RunS8(const OpArgs& args, const CudaPreparedWeights* prepared,
                                CallScope& scope) {
  const S8GemmPlan plan = PlanS8Gemm(args.m, args.n, args.k, sm_count_);
  const bool scaled = args.kind == OpKind::kMatMulS8F32;
  const size_t a_bytes = static_cast<size_t>(plan.mp * plan.kp);
  const size_t w_bytes = static_cast<size_t>(plan.np * plan.kp);
  const size_t out_bytes = static_cast<size_t>(args.m * args.n * 4);
  StagingLayout layout;
  const size_t a_off = layout.Add(a_bytes);
  const size_t w_off = prepared ? 0 : layout.Add(w_bytes);
  const size_t as_off = scaled ? layout.Add(args.a_scale.size()) : 0;
  const size_t ws_off = scaled && !prepared ? layout.Add(args.w_scale.size()) : 0;
  const size_t in_bytes = layout.total();
  const size_t out_off = layout.Add(out_bytes);
  RETURN_IF_ERROR(scope.staging().Reserve(layout.total()));
  uint8_t* staging = scope.staging().data();
  const cudaStream_t stream = scope.stream();

  PackPaddedRows(args.a.data(), args.m, args.k, plan.mp, plan.kp, staging + a_off);
  if (!prepared) PackPaddedRows(args.w.data(), args.n, args.k, plan.np, plan.kp, staging + w_off);
  if (scaled) {
    std::memcpy(staging + as_off, args.a_scale.data(), args.a_scale.size());
    if (!prepared) std::memcpy(staging + ws_off, args.w_scale.data(), args.w_scale.size());
  }
  // One copy for every input region: they are contiguous in the staging buffer.
  ASSIGN_OR_RETURN(void* in_dev, scope.Device(pool_, in_bytes));
  CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(in_dev, staging, in_bytes, cudaMemcpyHostToDevice, stream),
                       "cudaMemcpyAsync(s8 inputs)");
  auto* in = static_cast<uint8_t*>(in_dev);
  const auto* a_dev = reinterpret_cast<const int8_t*>(in + a_off);
  const auto* w_dev = reinterpret_cast<const int8_t*>(prepared ? prepared->w() : in + w_off);
  ASSIGN_OR_RETURN(void* c32, scope.Device(pool_, static_cast<size_t>(plan.mp * plan.np * 4)));
  const S8Kernel kernel = ChooseS8Kernel(plan, sm_count_, wgmma_enabled_);
  CUDA_RETURN_IF_ERROR(LaunchS8Gemm(kernel, plan, a_dev, w_dev, static_cast<int32_t*>(c32), stream),
                       S8KernelName(kernel));
  if (!scaled) {
    CUDA_RETURN_IF_ERROR(
        cudaMemcpy2DAsync(staging + out_off, static_cast<size_t>(args.n * 4), c32,
                          static_cast<size_t>(plan.np * 4), static_cast<size_t>(args.n * 4),
                          static_cast<size_t>(args.m), cudaMemcpyDeviceToHost, stream),
        "cudaMemcpy2DAsync(s32 out)");
  } else {
    const auto* as_dev = reinterpret_cast<const uint32_t*>(in + as_off);
    const auto* ws_dev = static_cast<const uint32_t*>(prepared ? prepared->w_scale() : in + ws_off);
    ASSIGN_OR_RETURN(void* out_dev, scope.Device(pool_, out_bytes));
    CUDA_RETURN_IF_ERROR(
        LaunchS8ScaleEpilogue(static_cast<const int32_t*>(c32), plan.np, as_dev, ws_dev, args.m,
                              args.n, static_cast<uint32_t*>(out_dev), stream),
        "LaunchS8ScaleEpilogue");
    CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(staging + out_off, out_dev, out_bytes, cudaMemcpyDeviceToHost, stream),
        "cudaMemcpyAsync(f32 out)");
  }
  CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream), "s8 matmul");
  std::memcpy(args.out.data(), staging + out_off, out_bytes);
  return absl::OkStatus();
}

absl::Status CudaBackend::RunQ8(const OpArgs& args, const CudaPreparedWeights* prepared,
                                CallScope& scope) {
  StagingLayout layout;
  const size_t a_off = layout.Add(args.a.size());
  const size_t w_off = prepared ? 0 : layout.Add(args.w.size());
  const size_t in_bytes = layout.total();
  const size_t out_off = layout.Add(args.out.size());
  RETURN_IF_ERROR(scope.staging().Reserve(layout.total()));
  uint8_t* staging = scope.staging().data();
  const cudaStream_t stream = scope.stream();
  std::memcpy(staging + a_off, args.a.data(), args.a.size());
  if (!prepared) std::memcpy(staging + w_off, args.w.data(), args.w.size());
  ASSIGN_OR_RETURN(void* in_dev, scope.Device(pool_, in_bytes));
  CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(in_dev, staging, in_bytes, cudaMemcpyHostToDevice, stream),
                       "cudaMemcpyAsync(q8 inputs)");
  auto* in = static_cast<uint8_t*>(in_dev);
  const auto* w_dev = static_cast<const uint8_t*>(prepared ? prepared->w() : in + w_off);
  ASSIGN_OR_RETURN(void* out_dev, scope.Device(pool_, args.out.size()));
  const int64_t blocks = args.k / kQBlockSize;
  if (IsKQuantMatMul(args.kind)) {
    const KQuantFormat format =
        args.kind == OpKind::kMatMulQ8_0Q6_K ? KQuantFormat::kQ6_K : KQuantFormat::kQ4_K;
    CUDA_RETURN_IF_ERROR(LaunchMatMulKQuant(format, in + a_off, w_dev, args.m, args.n, blocks,
                                            static_cast<uint32_t*>(out_dev), stream),
                         "LaunchMatMulKQuant");
  } else {
    CUDA_RETURN_IF_ERROR(LaunchMatMulQ8(FormatOf(args.kind), in + a_off, w_dev, args.m, args.n,
                                        blocks, static_cast<uint32_t*>(out_dev), stream),
                         "LaunchMatMulQ8");
  }
  CUDA_RETURN_IF_ERROR(
      cudaMemcpyAsync(staging + out_off, out_dev, args.out.size(), cudaMemcpyDeviceToHost, stream),
      "cudaMemcpyAsync(q8 out)");
  CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream), "q8 matmul");
  std::memcpy(args.out.data(), staging + out_off, args.out.size());
  return absl::OkStatus();
}

absl::Status CudaBackend::RunQuantize(const OpArgs& args, CallScope& scope) {
  StagingLayout layout;
  const size_t x_off = layout.Add(args.a.size());
  const size_t out_off = layout.Add(args.out.size());
  const size_t scale_off = layout.Add(args.out_scale.size());
  const size_t out_bytes = layout.total() - out_off;
  RETURN_IF_ERROR(scope.staging().Reserve(layout.total()));
  uint8_t* staging = scope.staging().data();
  const cudaStream_t stream = scope.stream();
  std::memcpy(staging + x_off, args.a.data(), args.a.size());
  ASSIGN_OR_RETURN(void* dev, scope.Device(pool_, layout.total()));
  auto* base = static_cast<uint8_t*>(dev);
  CUDA_RETURN_IF_ERROR(
      cudaMemcpyAsync(base + x_off, staging + x_off, args.a.size(), cudaMemcpyHostToDevice, stream),
      "cudaMemcpyAsync(quantize input)");
  const auto* x = reinterpret_cast<const uint32_t*>(base + x_off);
  if (args.kind == OpKind::kQuantizeS8Row) {
    CUDA_RETURN_IF_ERROR(
        LaunchQuantizeS8Row(x, args.m, args.k, reinterpret_cast<int8_t*>(base + out_off),
                            reinterpret_cast<uint32_t*>(base + scale_off), stream),
        "LaunchQuantizeS8Row");
  } else {
    CUDA_RETURN_IF_ERROR(LaunchQuantizeQ8_0(x, args.m, args.k, base + out_off, stream),
                         "LaunchQuantizeQ8_0");
  }
  CUDA_RETURN_IF_ERROR(
      cudaMemcpyAsync(staging + out_off, base + out_off, out_bytes, cudaMemcpyDeviceToHost, stream),
      "cudaMemcpyAsync(quantize out)");
  CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream), "quantize");
  std::memcpy(args.out.data(), staging + out_off, args.out.size());
  if (!args.out_scale.empty()) {
    std::memcpy(args.out_scale.data(), staging + scale_off, args.out_scale.size());
  }
  return absl::OkStatus();
}

bool IsIndex(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> CreateCudaBackend(const BackendOptions& options) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    return absl::UnavailableError(absl::StrCat("cuda: no CUDA device: ", cudaGetErrorString(err),
                                               " [", cudaGetErrorName(err), "]"));
  }
  if (count == 0) {
    return absl::UnavailableError("cuda: no CUDA device: cudaGetDeviceCount found 0 devices");
  }
  int chosen = -1;
  cudaDeviceProp chosen_props{};
  std::string rejected;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp props{};
    RETURN_IF_ERROR(CudaStatus(cudaGetDeviceProperties(&props, i), "cudaGetDeviceProperties"));
    if (IsIndex(options.device) && std::to_string(i) != options.device) continue;
    if (!options.device.empty() && !IsIndex(options.device) &&
        std::string(props.name).find(options.device) == std::string::npos) {
      continue;
    }
    if (props.major < 8) {
      absl::StrAppend(&rejected, rejected.empty() ? "" : "; ", "device ", i, " (", props.name,
                      ") has compute capability ", props.major, ".", props.minor,
                      "; the s8 tensor-core kernels need 8.0+");
      continue;
    }
    if (chosen < 0 || props.multiProcessorCount > chosen_props.multiProcessorCount) {
      chosen = i;
      chosen_props = props;
    }
  }
  if (chosen < 0) {
    if (rejected.empty()) {
      rejected = absl::StrCat("no device matches \"", options.device, "\" among ", count);
    }
    return absl::UnavailableError(absl::StrCat("cuda: ", rejected));
  }
  RETURN_IF_ERROR(CudaStatus(cudaSetDevice(chosen), "cudaSetDevice"));
  auto backend = std::make_unique<CudaBackend>(chosen, chosen_props);
  RETURN_IF_ERROR(backend->CheckS8Kernels());
  return backend;
}

}  // namespace datanode::ops::cuda
