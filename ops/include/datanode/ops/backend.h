// Copyright 2026 The datanode Authors.
//
// The one small interface every backend (reference, cpu, vulkan, cuda) implements,
// and the registry of the backends compiled in and present at run time.
//
// Contract of every backend: for any input that passes ValidateOp(), Run() writes
// exactly the bytes the reference backend writes (docs/determinism.md). Backends are
// compared by byte equality, never by tolerance.
#ifndef DATANODE_OPS_BACKEND_H_
#define DATANODE_OPS_BACKEND_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "datanode/ops/llm_kernels.h"
#include "datanode/ops/types.h"

namespace datanode::ops {

class Backend;

// Weights validated once and kept in a backend's preferred form (packed panels,
// device memory, ...). Owned by the caller; must not outlive the backend that made
// it. Immutable after creation, so it may be shared by concurrent Run() calls.
class PreparedWeights {
 public:
  PreparedWeights(const Backend* owner, OpKind kind, int64_t n, int64_t k)
      : owner_(owner), kind_(kind), n_(n), k_(k) {}
  virtual ~PreparedWeights() = default;
  PreparedWeights(const PreparedWeights&) = delete;
  PreparedWeights& operator=(const PreparedWeights&) = delete;

  const Backend* owner() const { return owner_; }
  OpKind kind() const { return kind_; }
  int64_t n() const { return n_; }
  int64_t k() const { return k_; }
  // Bytes this object holds (host or device), for memory budgets.
  virtual int64_t SizeBytes() const = 0;
  // Copies output row `row` of W exactly as it was given to PrepareWeights (for the
  // Q8_0-family kinds: k / 32 GGUF blocks of the weight format) into `out`, which must
  // hold exactly that many bytes. Lets a caller keep one copy of a tensor that is both a
  // matmul weight and a lookup table (a tied embedding). Thread-safe like Run().
  // UNIMPLEMENTED where a backend cannot (the default); INVALID_ARGUMENT for a row
  // outside [0, n) or a wrong size.
  virtual absl::Status ReadRow(int64_t row, std::span<uint8_t> out) const;

 private:
  const Backend* owner_;
  OpKind kind_;
  int64_t n_;
  int64_t k_;
};

// Prepared weights that simply keep a validated copy of the original bytes (the
// default for backends with no special layout).
class RawPreparedWeights : public PreparedWeights {
 public:
  RawPreparedWeights(const Backend* owner, OpKind kind, int64_t n, int64_t k, ByteSpan w,
                     ByteSpan w_scale);
  int64_t SizeBytes() const override { return static_cast<int64_t>(w_.size() + w_scale_.size()); }
  ByteSpan w() const { return w_; }
  ByteSpan w_scale() const { return w_scale_; }
  // The Q8_0-family kinds only (their rows are whole blocks); UNIMPLEMENTED otherwise.
  absl::Status ReadRow(int64_t row, std::span<uint8_t> out) const override;

 private:
  std::vector<uint8_t> w_;
  std::vector<uint8_t> w_scale_;
};

// Device memory holding one operand of Backend::RunResident: uploaded once, used by
// many calls, read back. Lets a caller time a kernel without host packing and copies
// (the admission test's performance phase, docs/admission.md). Owned by the caller;
// must not outlive the backend that made it. One call at a time may use a buffer.
class DeviceBuffer {
 public:
  DeviceBuffer(const Backend* owner, int64_t size) : owner_(owner), size_(size) {}
  virtual ~DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  const Backend* owner() const { return owner_; }
  int64_t size() const { return size_; }

 private:
  const Backend* owner_;
  int64_t size_;
};

// The default DeviceBuffer: host memory (where the reference and CPU backends compute).
class HostBuffer final : public DeviceBuffer {
 public:
  HostBuffer(const Backend* owner, int64_t size)
      : DeviceBuffer(owner, size), bytes_(static_cast<size_t>(size)) {}
  std::span<uint8_t> bytes() { return bytes_; }
  ByteSpan bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

// An op on resident operands (shapes and sizes as in OpArgs; a_scale, w_scale and
// out_scale are null where the op has none).
struct ResidentOpArgs {
  OpKind kind = OpKind::kMatMulS8S32;
  int64_t m = 0, n = 0, k = 0;
  const DeviceBuffer* a = nullptr;
  const DeviceBuffer* a_scale = nullptr;
  const DeviceBuffer* w = nullptr;
  const DeviceBuffer* w_scale = nullptr;
  DeviceBuffer* out = nullptr;
  DeviceBuffer* out_scale = nullptr;
};

// What Backend::TestDeviceMemory measured.
struct MemoryTestResult {
  int64_t bytes_tested = 0;   // size of the buffer the patterns covered
  int64_t bytes_moved = 0;    // bytes written plus bytes read in the timed passes
  int64_t errors = 0;         // 64-bit words that read back differently
  double seconds = 0;         // of the timed passes
  bool device_timed = false;  // seconds from device timers (else the host clock)
  std::string method;         // how, for reports: "host RAM, 16 threads, 5 patterns"
};

struct BackendOptions {
  // Worker threads for CPU backends; 0 = one per online CPU.
  int num_threads = 0;
  // Device selector for GPU backends: "" = best, else an index ("1") or a name substring.
  std::string device;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Stable short name: "reference", "cpu", "vulkan", "cuda".
  virtual const char* Name() const = 0;
  // Human-readable device and kernel description (e.g. "AMD EPYC, avx512_vnni, 2 threads").
  virtual std::string Description() const = 0;

  // Whether this backend implements `kind` (on this device).
  virtual bool Supports(OpKind kind) const = 0;

  // Runs a validated op (see RunOp for the validating entry point). Writes args.out
  // (and args.out_scale, and args.exact when it is not empty). Thread-safe: concurrent
  // calls are allowed and must not change any output byte. Errors: UNIMPLEMENTED when
  // !Supports(kind), RESOURCE_EXHAUSTED / UNAVAILABLE for device failures; never a wrong
  // result.
  virtual absl::Status Run(const OpArgs& args) = 0;

  // --- Exact output (verified mode, docs/verification.md §1, ops/verify.h) ---------
  // Whether Run() also writes args.exact for `kind` when it is not empty: the exact values
  // E[m, n] before the op's single rounding, which a kernel forms anyway, so a verified
  // answer costs about one matmul instead of a matmul plus verify::ComputeExactSums.
  // Layout (row-major [M, N] like the output, ExactOutputBytes bytes), exactly what
  // verify::ComputeExactSums writes:
  //   kMatMulS8F32                  s32 isum = sum_k A * W, little-endian (4 bytes each)
  //   kMatMulQ8_0Q8_0 / Q4_0 / Q4_1 int128 little-endian two's complement, the exact sum of
  //   / Q4_K / Q6_K                 docs/determinism.md §3.3 / §3.4 in units of 2^-48 (16
  //                                 bytes each; never the compact int64 form)
  // kMatMulS8S32 and the quantize ops have no exact values (their outputs are exact / not
  // matmuls): a backend returns false for them. E is written by the same tasks that write
  // `out`, with the same thread safety. RunOp refuses a non-empty args.exact with
  // FAILED_PRECONDITION when this is false and INVALID_ARGUMENT when its size is wrong, so
  // Run() sees only the right size. The default: false (reference, CUDA), and
  // callers fall back to ComputeExactSums (verify::RunOpWithExactSums does this).
  virtual bool WritesExactSums(OpKind kind) const {
    (void)kind;
    return false;
  }

  // Memory of the device this backend computes in, in bytes: device-local memory for a
  // GPU, physical RAM for CPU backends. 0 if unknown. What a device says about itself
  // proves nothing (the admission test measures); this is for inventory and budgets.
  virtual int64_t DeviceMemoryBytes() const;

  // Validates W (and w_scale) once and returns them in this backend's preferred form.
  // Non-virtual: the checks run here, the same for every backend (UNIMPLEMENTED unless
  // Supports(kind); INVALID_ARGUMENT from ValidateWeightValues: not a matmul, wrong sizes,
  // bad values), then DoPrepareWeights.
  absl::StatusOr<std::unique_ptr<PreparedWeights>> PrepareWeights(OpKind kind, int64_t n, int64_t k,
                                                                  ByteSpan w, ByteSpan w_scale);

  // The LLM ops (spec v2, llm.h) of this backend: byte-equal to the reference for any
  // thread count. The default is the reference itself. Lives as long as the backend.
  virtual const llm::Kernels& LlmKernels() const { return llm::ReferenceKernels(); }

  // --- Resident buffers (timing the device, not the host) ----------------------
  // The defaults keep buffers in host memory (HostBuffer) and RunResident calls
  // RunOp on them: right for the reference and CPU backends; a GPU backend overrides
  // them to keep operands in device memory (Vulkan: ops/vulkan/resident.h).
  // Thread-safe like Run().
  // RESOURCE_EXHAUSTED when the memory cannot be had; INVALID_ARGUMENT for size < 0.
  virtual absl::StatusOr<std::unique_ptr<DeviceBuffer>> AllocateBuffer(int64_t size);
  // Copies `src` into `dst` at byte `offset` (upload) / `dst.size()` bytes out of
  // `src` from `offset` (read back). INVALID_ARGUMENT for a range outside the buffer
  // or a buffer of another backend.
  virtual absl::Status WriteBuffer(DeviceBuffer& dst, int64_t offset, ByteSpan src);
  virtual absl::Status ReadBuffer(const DeviceBuffer& src, int64_t offset, std::span<uint8_t> dst);
  // Called after the host wrote a call's buffers and before RunResident on them, outside
  // any timed region: a GPU backend moves the operands (and the output's current bytes)
  // into device memory in its kernels' layout here. Buffers unchanged since the last
  // call are not moved again. The default does nothing.
  virtual absl::Status PrepareResident(const ResidentOpArgs& args);
  // Runs a validated op on resident buffers (after PrepareResident). When the backend
  // has device timers it sets *device_seconds (if not null) to the op's device time and
  // otherwise to -1: the caller then times the call on the host. Errors as Run();
  // INVALID_ARGUMENT for wrong buffer sizes or buffers of another backend.
  virtual absl::Status RunResident(const ResidentOpArgs& args, double* device_seconds);

  // Pattern test of `bytes` of the memory this backend computes in, as memory testers
  // do: fixed patterns (0s, 1s, 0xAA.., 0x55..) and an address-dependent one derived
  // from `seed`, each written and read back, counting words that differ and timing
  // the passes. The default tests host RAM with one thread per online CPU (the memory
  // and parallelism of the reference / CPU backends); a GPU backend tests device
  // memory on the device. RESOURCE_EXHAUSTED when `bytes` cannot be allocated.
  virtual absl::StatusOr<MemoryTestResult> TestDeviceMemory(int64_t bytes, uint64_t seed);

 protected:
  // PrepareWeights after its checks: kind is a supported matmul and W / w_scale are valid
  // for [n, k]. The default keeps a copy (RawPreparedWeights).
  virtual absl::StatusOr<std::unique_ptr<PreparedWeights>> DoPrepareWeights(OpKind kind, int64_t n,
                                                                            int64_t k, ByteSpan w,
                                                                            ByteSpan w_scale);
};

// Bytes of the exact values (Backend::WritesExactSums) of an [m, n] output of `kind`:
// 4 * m * n for kMatMulS8F32, 16 * m * n for the Q8_0 family and the K-quants, 0 otherwise.
int64_t ExactOutputBytes(OpKind kind, int64_t m, int64_t n);

// Validates `args` (ValidateOp; a non-empty args.exact as WritesExactSums states) and runs
// them on `backend`. The only entry point the daemon and tests use.
absl::Status RunOp(Backend& backend, const OpArgs& args);

// Returns (w, w_scale) for a call: from args, or from RawPreparedWeights.
// INVALID_ARGUMENT if w_prepared is of another type or another backend.
absl::Status ResolveRawWeights(const Backend& backend, const OpArgs& args, ByteSpan* w,
                               ByteSpan* w_scale);

// --- Registry -------------------------------------------------------------------

// The registry is one table of {name, factory} rows (ops/registry.cc, generated by CMake).
// Every backend of the project, compiled into this build or not, in preference order
// (reference, cpu, vulkan, cuda): the names a device class may list.
std::vector<std::string> AllBackendNames();

// Names of the backends compiled into this binary, reference first.
std::vector<std::string> CompiledBackends();

// Creates a backend by name. NOT_FOUND if unknown or not compiled in; UNAVAILABLE if compiled
// in but no usable device is present (the message says why); FAILED_PRECONDITION if
// its start-up golden self-test fails.
absl::StatusOr<std::unique_ptr<Backend>> CreateBackend(std::string_view name,
                                                       const BackendOptions& options = {});

}  // namespace datanode::ops

#endif  // DATANODE_OPS_BACKEND_H_
