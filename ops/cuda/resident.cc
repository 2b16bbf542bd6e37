// Copyright 2026 The datanode Authors.
#include "ops/cuda/resident.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/status_macros.h"
#include "ops/cuda/cuda_status.h"
#include "ops/cuda/matmul_s8_plan.h"
#include "ops/cuda/s8_gemm.h"

namespace datanode::ops::cuda {
namespace {

// A resident buffer: the host's bytes, and the device copy prepared from them (a
// padded operand, or an output's C32 [rows_p, cols_p] int32 of which [rows, cols] is
// the result).
class CudaBuffer final : public ops::DeviceBuffer {
 public:
  CudaBuffer(const Backend* owner, int64_t size)
      : ops::DeviceBuffer(owner, size), host(static_cast<size_t>(size)) {}
  std::vector<uint8_t> host;
  uint64_t version = 0;                    // bumped by every host write
  cuda::DeviceBuffer device;               // the pool's allocation
  uint64_t device_version = ~uint64_t{0};  // the host version the device copy holds
  int64_t rows = 0, cols = 0, rows_p = 0, cols_p = 0;
  bool result_on_device = false;  // an output a run wrote that the host has not read
};

CudaBuffer* Own(const Backend* owner, const ops::DeviceBuffer* b) {
  auto* c = dynamic_cast<CudaBuffer*>(const_cast<ops::DeviceBuffer*>(b));
  return c != nullptr && c->owner() == owner ? c : nullptr;
}

// The s8 GEMM's three operands as this backend's buffers, each the size the shape needs.
struct S8Buffers {
  CudaBuffer* a;
  CudaBuffer* w;
  CudaBuffer* out;
};
absl::StatusOr<S8Buffers> ResolveS8Buffers(const Backend* owner, const ResidentOpArgs& args) {
  ASSIGN_OR_RETURN(const OperandSizes sizes,
                   ComputeOperandSizes(args.kind, args.m, args.n, args.k));
  S8Buffers b{Own(owner, args.a), Own(owner, args.w), Own(owner, args.out)};
  if (b.a == nullptr || b.w == nullptr || b.out == nullptr) {
    return absl::InvalidArgumentError("cuda: a buffer of another backend");
  }
  if (b.a->size() != sizes.a || b.w->size() != sizes.w || b.out->size() != sizes.out) {
    return absl::InvalidArgumentError("cuda: resident buffer sizes do not match the shape");
  }
  return b;
}

absl::Status CheckRange(const ops::DeviceBuffer& b, int64_t offset, size_t bytes) {
  if (offset < 0 || offset > b.size() || static_cast<int64_t>(bytes) > b.size() - offset) {
    return absl::InvalidArgumentError(
        absl::StrCat("range [", offset, ", +", bytes, ") is outside a buffer of ", b.size()));
  }
  return absl::OkStatus();
}

// A leased stream, synchronized and returned on every path out.
class StreamLease {
 public:
  explicit StreamLease(StreamPool& pool) : pool_(pool) {}
  ~StreamLease() {
    if (slot_ == nullptr) return;
    (void)cudaStreamSynchronize(slot_->stream);
    pool_.Return(std::move(slot_));
  }
  absl::Status Acquire() {
    ASSIGN_OR_RETURN(slot_, pool_.Acquire());
    return absl::OkStatus();
  }
  cudaStream_t get() const { return slot_->stream; }

 private:
  StreamPool& pool_;
  std::unique_ptr<StreamSlot> slot_;
};

// The output's result (int32 [rows, cols] of C32 with pitch cols_p) into its host bytes.
absl::Status FetchResult(CudaBuffer& out) {
  if (!out.result_on_device) return absl::OkStatus();
  CUDA_RETURN_IF_ERROR(
      cudaMemcpy2D(out.host.data(), static_cast<size_t>(out.cols * 4), out.device.data(),
                   static_cast<size_t>(out.cols_p * 4), static_cast<size_t>(out.cols * 4),
                   static_cast<size_t>(out.rows), cudaMemcpyDeviceToHost),
      "cudaMemcpy2D(resident result)");
  out.result_on_device = false;
  return absl::OkStatus();
}

absl::Status EnsureDevice(CudaBuffer& b, DevicePool& pool, size_t bytes) {
  if (b.device.data() != nullptr && b.device.bytes() >= bytes) return absl::OkStatus();
  b.device = cuda::DeviceBuffer();
  ASSIGN_OR_RETURN(b.device, pool.Allocate(bytes));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ops::DeviceBuffer>> CudaResident::Allocate(int64_t size) {
  if (size < 0) return absl::InvalidArgumentError(absl::StrCat("buffer size ", size));
  if (size > kMaxTensorBytes) {
    return absl::ResourceExhaustedError(absl::StrCat("buffer of ", size, " bytes"));
  }
  std::unique_ptr<CudaBuffer> b(new (std::nothrow) CudaBuffer(owner_, size));
  if (b == nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat("cannot allocate ", size, " bytes"));
  }
  return b;
}

absl::Status CudaResident::Write(ops::DeviceBuffer& dst, int64_t offset, ByteSpan src) {
  CudaBuffer* b = Own(owner_, &dst);
  if (b == nullptr) return absl::InvalidArgumentError("cuda: a buffer of another backend");
  RETURN_IF_ERROR(CheckRange(dst, offset, src.size()));
  RETURN_IF_ERROR(FetchResult(*b));  // a partial write keeps the rest of the result
  std::copy(src.begin(), src.end(), b->host.begin() + offset);
  ++b->version;
  return absl::OkStatus();
}

absl::Status CudaResident::Read(const ops::DeviceBuffer& src, int64_t offset,
                                std::span<uint8_t> dst) {
  CudaBuffer* b = Own(owner_, &src);
  if (b == nullptr) return absl::InvalidArgumentError("cuda: a buffer of another backend");
  RETURN_IF_ERROR(CheckRange(src, offset, dst.size()));
  CUDA_RETURN_IF_ERROR(cudaSetDevice(device_), "cudaSetDevice");
  RETURN_IF_ERROR(FetchResult(*b));
  std::copy_n(b->host.begin() + offset, dst.size(), dst.begin());
  return absl::OkStatus();
}

absl::Status CudaResident::Prepare(const ResidentOpArgs& args) {
  if (args.kind != OpKind::kMatMulS8S32) return absl::OkStatus();  // Run() on host copies
  ASSIGN_OR_RETURN(const S8Buffers buffers, ResolveS8Buffers(owner_, args));
  CudaBuffer* a = buffers.a;
  CudaBuffer* w = buffers.w;
  CudaBuffer* out = buffers.out;
  const S8GemmPlan plan = PlanS8Gemm(args.m, args.n, args.k, sm_count_);
  CUDA_RETURN_IF_ERROR(cudaSetDevice(device_), "cudaSetDevice");
  StreamLease stream(streams_);
  RETURN_IF_ERROR(stream.Acquire());
  // Operands: packed and zero-padded as the plan says, uploaded when the host wrote
  // them since (or the plan's padding differs).
  for (auto [b, rows, rows_p] : {std::tuple{a, args.m, plan.mp}, std::tuple{w, args.n, plan.np}}) {
    if (b->device_version == b->version && b->rows == rows && b->cols == args.k &&
        b->rows_p == rows_p && b->cols_p == plan.kp) {
      continue;
    }
    std::vector<uint8_t> packed(static_cast<size_t>(rows_p * plan.kp));
    PackPaddedRows(b->host.data(), rows, args.k, rows_p, plan.kp, packed.data());
    RETURN_IF_ERROR(EnsureDevice(*b, pool_, packed.size()));
    CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(b->device.data(), packed.data(), packed.size(),
                                         cudaMemcpyHostToDevice, stream.get()),
                         "cudaMemcpyAsync(resident operand)");
    CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream.get()), "cudaStreamSynchronize");
    b->device_version = b->version;
    b->rows = rows;
    b->cols = args.k;
    b->rows_p = rows_p;
    b->cols_p = plan.kp;
  }
  // The output's C32, holding the host's (poisoned) bytes in its [m, n] corner.
  RETURN_IF_ERROR(FetchResult(*out));
  RETURN_IF_ERROR(EnsureDevice(*out, pool_, static_cast<size_t>(plan.mp * plan.np * 4)));
  CUDA_RETURN_IF_ERROR(
      cudaMemcpy2DAsync(out->device.data(), static_cast<size_t>(plan.np * 4), out->host.data(),
                        static_cast<size_t>(args.n * 4), static_cast<size_t>(args.n * 4),
                        static_cast<size_t>(args.m), cudaMemcpyHostToDevice, stream.get()),
      "cudaMemcpy2DAsync(resident output)");
  CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream.get()), "cudaStreamSynchronize");
  out->device_version = out->version;
  out->rows = args.m;
  out->cols = args.n;
  out->rows_p = plan.mp;
  out->cols_p = plan.np;
  return absl::OkStatus();
}

absl::Status CudaResident::Run(Backend& backend, const ResidentOpArgs& args,
                               double* device_seconds) {
  if (device_seconds != nullptr) *device_seconds = -1;
  if (args.kind != OpKind::kMatMulS8S32) {
    // Through Run() on the host copies (results of earlier resident runs fetched first).
    OpArgs host;
    host.kind = args.kind;
    host.m = args.m;
    host.n = args.n;
    host.k = args.k;
    auto view = [&](const ops::DeviceBuffer* d, ByteSpan* span) -> absl::Status {
      if (d == nullptr) return absl::OkStatus();
      CudaBuffer* b = Own(owner_, d);
      if (b == nullptr) return absl::InvalidArgumentError("cuda: a buffer of another backend");
      RETURN_IF_ERROR(FetchResult(*b));
      *span = b->host;
      return absl::OkStatus();
    };
    auto mutable_view = [&](ops::DeviceBuffer* d, MutableByteSpan* span) -> absl::Status {
      if (d == nullptr) return absl::OkStatus();
      CudaBuffer* b = Own(owner_, d);
      if (b == nullptr) return absl::InvalidArgumentError("cuda: a buffer of another backend");
      RETURN_IF_ERROR(FetchResult(*b));
      ++b->version;  // the host bytes change
      *span = b->host;
      return absl::OkStatus();
    };
    RETURN_IF_ERROR(view(args.a, &host.a));
    RETURN_IF_ERROR(view(args.a_scale, &host.a_scale));
    RETURN_IF_ERROR(view(args.w, &host.w));
    RETURN_IF_ERROR(view(args.w_scale, &host.w_scale));
    RETURN_IF_ERROR(mutable_view(args.out, &host.out));
    RETURN_IF_ERROR(mutable_view(args.out_scale, &host.out_scale));
    return RunOp(backend, host);
  }
  ASSIGN_OR_RETURN(const S8Buffers buffers, ResolveS8Buffers(owner_, args));
  CudaBuffer* a = buffers.a;
  CudaBuffer* w = buffers.w;
  CudaBuffer* out = buffers.out;
  const S8GemmPlan plan = PlanS8Gemm(args.m, args.n, args.k, sm_count_);
  const bool prepared =
      a->device_version == a->version && a->rows == args.m && a->rows_p == plan.mp &&
      a->cols_p == plan.kp && w->device_version == w->version && w->rows == args.n &&
      w->rows_p == plan.np && w->cols_p == plan.kp && out->device_version == out->version &&
      out->rows == args.m && out->cols == args.n && out->cols_p == plan.np;
  if (!prepared) {
    return absl::FailedPreconditionError(
        "cuda: RunResident on buffers written since PrepareResident (or never prepared)");
  }
  CUDA_RETURN_IF_ERROR(cudaSetDevice(device_), "cudaSetDevice");
  StreamLease stream(streams_);
  RETURN_IF_ERROR(stream.Acquire());
  EventPair events;
  RETURN_IF_ERROR(events.Create());
  const S8Kernel kernel = ChooseS8Kernel(plan, sm_count_, *wgmma_enabled_);
  CUDA_RETURN_IF_ERROR(cudaEventRecord(events.start(), stream.get()), "cudaEventRecord");
  CUDA_RETURN_IF_ERROR(LaunchS8Gemm(kernel, plan, a->device.as<int8_t>(), w->device.as<int8_t>(),
                                    out->device.as<int32_t>(), stream.get()),
                       S8KernelName(kernel));
  CUDA_RETURN_IF_ERROR(cudaEventRecord(events.stop(), stream.get()), "cudaEventRecord");
  CUDA_RETURN_IF_ERROR(cudaEventSynchronize(events.stop()), "resident s8 matmul");
  out->result_on_device = true;
  ASSIGN_OR_RETURN(const double seconds, events.Seconds());
  if (device_seconds != nullptr) *device_seconds = seconds;
  return absl::OkStatus();
}

}  // namespace datanode::ops::cuda
