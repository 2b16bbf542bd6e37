// Copyright 2026 The datanode Authors.
#include "datanode/ops/backend.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <new>
#include <thread>

#include "absl/strings/str_cat.h"
#include "datanode/ops/status_macros.h"
#include "datanode/ops/validate.h"

namespace datanode::ops {

RawPreparedWeights::RawPreparedWeights(const Backend* owner, OpKind kind, int64_t n, int64_t k,
                                       ByteSpan w, ByteSpan w_scale)
    : PreparedWeights(owner, kind, n, k),
      w_(w.begin(), w.end()),
      w_scale_(w_scale.begin(), w_scale.end()) {}

absl::Status PreparedWeights::ReadRow(int64_t /*row*/, std::span<uint8_t> /*out*/) const {
  return absl::UnimplementedError(absl::StrCat("the ", owner_->Name(), " backend's prepared ",
                                               OpKindName(kind_),
                                               " weights cannot read a row back"));
}

absl::Status RawPreparedWeights::ReadRow(int64_t row, std::span<uint8_t> out) const {
  // Rows of the block formats only: an int8 row is not what an embedding lookup reads.
  if (!IsQ8_0MatMul(kind())) return PreparedWeights::ReadRow(row, out);
  const OpInfo& info = *FindOpInfo(kind());
  const int64_t row_bytes = k() / info.w_block_values * info.w_block_bytes;
  if (row < 0 || row >= n() || static_cast<int64_t>(out.size()) != row_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("ReadRow(", row, ") of ", n(), " rows into ",
                                                   out.size(), " bytes; a row has ", row_bytes));
  }
  std::copy_n(w_.begin() + row * row_bytes, row_bytes, out.begin());
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<PreparedWeights>> Backend::PrepareWeights(OpKind kind, int64_t n,
                                                                         int64_t k, ByteSpan w,
                                                                         ByteSpan w_scale) {
  if (!Supports(kind)) {
    return absl::UnimplementedError(
        absl::StrCat("backend ", Name(), " does not support ", OpKindName(kind)));
  }
  RETURN_IF_ERROR(ValidateWeightValues(kind, n, k, w, w_scale));
  return DoPrepareWeights(kind, n, k, w, w_scale);
}

absl::StatusOr<std::unique_ptr<PreparedWeights>> Backend::DoPrepareWeights(OpKind kind, int64_t n,
                                                                           int64_t k, ByteSpan w,
                                                                           ByteSpan w_scale) {
  return std::make_unique<RawPreparedWeights>(this, kind, n, k, w, w_scale);
}

int64_t Backend::DeviceMemoryBytes() const {
  // Host RAM: right for the CPU backends; GPU backends override.
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page_size > 0 ? int64_t{pages} * page_size : 0;
}

namespace {

// The HostBuffer of `backend` behind `b`, or null.
const HostBuffer* AsHostBuffer(const Backend& backend, const DeviceBuffer* b) {
  const auto* h = dynamic_cast<const HostBuffer*>(b);
  return h != nullptr && h->owner() == &backend ? h : nullptr;
}

absl::Status CheckRange(const DeviceBuffer& b, int64_t offset, size_t bytes) {
  if (offset < 0 || offset > b.size() || static_cast<int64_t>(bytes) > b.size() - offset) {
    return absl::InvalidArgumentError(
        absl::StrCat("range [", offset, ", +", bytes, ") is outside a buffer of ", b.size()));
  }
  return absl::OkStatus();
}

// Writes one 64-bit pattern over words [begin, end), then reads it back and counts
// the words that differ. The barrier keeps the compiler from forwarding the stores
// to the loads.
__attribute__((noinline)) int64_t PatternPass(uint64_t* buf, size_t begin, size_t end,
                                              uint64_t pattern, bool address_xor) {
  for (size_t i = begin; i < end; ++i)
    buf[i] = address_xor ? (pattern ^ (i * 0x9E3779B97F4A7C15ull)) : pattern;
  asm volatile("" ::: "memory");
  int64_t errors = 0;
  for (size_t i = begin; i < end; ++i) {
    const uint64_t want = address_xor ? (pattern ^ (i * 0x9E3779B97F4A7C15ull)) : pattern;
    errors += buf[i] != want;
  }
  return errors;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DeviceBuffer>> Backend::AllocateBuffer(int64_t size) {
  if (size < 0) return absl::InvalidArgumentError(absl::StrCat("buffer size ", size));
  if (size > kMaxTensorBytes) {
    return absl::ResourceExhaustedError(absl::StrCat("buffer of ", size, " bytes"));
  }
  std::unique_ptr<HostBuffer> b(new (std::nothrow) HostBuffer(this, size));
  if (b == nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat("cannot allocate ", size, " bytes"));
  }
  return b;
}

absl::Status Backend::WriteBuffer(DeviceBuffer& dst, int64_t offset, ByteSpan src) {
  auto* h = dynamic_cast<HostBuffer*>(&dst);
  if (h == nullptr || h->owner() != this) {
    return absl::InvalidArgumentError("a buffer of another backend");
  }
  RETURN_IF_ERROR(CheckRange(dst, offset, src.size()));
  std::copy(src.begin(), src.end(), h->bytes().begin() + offset);
  return absl::OkStatus();
}

absl::Status Backend::ReadBuffer(const DeviceBuffer& src, int64_t offset, std::span<uint8_t> dst) {
  const HostBuffer* h = AsHostBuffer(*this, &src);
  if (h == nullptr) return absl::InvalidArgumentError("a buffer of another backend");
  RETURN_IF_ERROR(CheckRange(src, offset, dst.size()));
  std::copy_n(h->bytes().begin() + offset, dst.size(), dst.begin());
  return absl::OkStatus();
}

absl::Status Backend::PrepareResident(const ResidentOpArgs& /*args*/) {
  return absl::OkStatus();  // host buffers are where the kernels read them
}

absl::Status Backend::RunResident(const ResidentOpArgs& r, double* device_seconds) {
  if (device_seconds != nullptr) *device_seconds = -1;  // no device timers on the host
  auto view = [&](const DeviceBuffer* b, ByteSpan* out) -> absl::Status {
    if (b == nullptr) return absl::OkStatus();  // an operand the op does not have
    const HostBuffer* h = AsHostBuffer(*this, b);
    if (h == nullptr) return absl::InvalidArgumentError("a buffer of another backend");
    *out = h->bytes();
    return absl::OkStatus();
  };
  auto mutable_view = [&](DeviceBuffer* b, MutableByteSpan* out) -> absl::Status {
    if (b == nullptr) return absl::OkStatus();
    auto* h = dynamic_cast<HostBuffer*>(b);
    if (h == nullptr || h->owner() != this) {
      return absl::InvalidArgumentError("a buffer of another backend");
    }
    *out = h->bytes();
    return absl::OkStatus();
  };
  OpArgs args;
  args.kind = r.kind;
  args.m = r.m;
  args.n = r.n;
  args.k = r.k;
  RETURN_IF_ERROR(view(r.a, &args.a));
  RETURN_IF_ERROR(view(r.a_scale, &args.a_scale));
  RETURN_IF_ERROR(view(r.w, &args.w));
  RETURN_IF_ERROR(view(r.w_scale, &args.w_scale));
  RETURN_IF_ERROR(mutable_view(r.out, &args.out));
  RETURN_IF_ERROR(mutable_view(r.out_scale, &args.out_scale));
  return RunOp(*this, args);
}

absl::StatusOr<MemoryTestResult> Backend::TestDeviceMemory(int64_t bytes, uint64_t seed) {
  const size_t words = static_cast<size_t>(std::max<int64_t>(bytes, 0) / 8);
  if (words == 0) return absl::InvalidArgumentError(absl::StrCat("memory test of ", bytes));
  std::unique_ptr<uint64_t[]> buf(new (std::nothrow) uint64_t[words]);
  if (buf == nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat("cannot allocate ", bytes, " bytes"));
  }
  const uint64_t patterns[] = {0, ~0ull, 0xAAAAAAAAAAAAAAAAull, 0x5555555555555555ull, seed};
  const int threads = static_cast<int>(std::clamp<size_t>(std::thread::hardware_concurrency(), 1,
                                                          std::max<size_t>(1, words / 4096)));
  std::vector<int64_t> errors(threads, 0);
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t p = 0; p < std::size(patterns); ++p) {
    // One thread per slice and pattern: every pass ends before the next begins, so a
    // slice is written over whole before any thread reads the next pattern.
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t, p] {
        const size_t begin = words * t / threads, end = words * (t + 1) / threads;
        errors[t] += PatternPass(buf.get(), begin, end, patterns[p], p + 1 == std::size(patterns));
      });
    }
    for (auto& th : pool) th.join();
  }
  MemoryTestResult r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.bytes_tested = static_cast<int64_t>(words * 8);
  r.bytes_moved = 2 * r.bytes_tested * static_cast<int64_t>(std::size(patterns));
  for (int64_t e : errors) r.errors += e;
  r.method = absl::StrCat("host RAM, ", threads, " threads, ", std::size(patterns), " patterns");
  return r;
}

int64_t ExactOutputBytes(OpKind kind, int64_t m, int64_t n) {
  if (kind == OpKind::kMatMulS8F32) return 4 * m * n;
  if (IsQ8_0MatMul(kind)) return 16 * m * n;
  return 0;
}

absl::Status RunOp(Backend& backend, const OpArgs& args) {
  RETURN_IF_ERROR(ValidateOp(args));
  if (!backend.Supports(args.kind)) {
    return absl::UnimplementedError(
        absl::StrCat("backend ", backend.Name(), " does not support ", OpKindName(args.kind)));
  }
  if (!args.exact.empty()) {
    if (!backend.WritesExactSums(args.kind)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "backend ", backend.Name(), " does not write exact sums for ", OpKindName(args.kind)));
    }
    const int64_t want = ExactOutputBytes(args.kind, args.m, args.n);
    if (static_cast<int64_t>(args.exact.size()) != want) {
      return absl::InvalidArgumentError(absl::StrCat(OpKindName(args.kind), ": exact has ",
                                                     args.exact.size(), " bytes, want ", want));
    }
  }
  if (args.w_prepared != nullptr && args.w_prepared->owner() != &backend) {
    return absl::InvalidArgumentError(absl::StrCat(
        "prepared weights were made by another backend instance than ", backend.Name()));
  }
  return backend.Run(args);
}

absl::Status ResolveRawWeights(const Backend& backend, const OpArgs& args, ByteSpan* w,
                               ByteSpan* w_scale) {
  if (args.w_prepared == nullptr) {
    *w = args.w;
    *w_scale = args.w_scale;
    return absl::OkStatus();
  }
  const auto* raw = dynamic_cast<const RawPreparedWeights*>(args.w_prepared);
  if (raw == nullptr || raw->owner() != &backend) {
    return absl::InvalidArgumentError(
        absl::StrCat("prepared weights do not belong to backend ", backend.Name()));
  }
  *w = raw->w();
  *w_scale = raw->w_scale();
  return absl::OkStatus();
}

}  // namespace datanode::ops
