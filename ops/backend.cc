// Copyright 2026 The datanode Authors.
#include "datanode/ops/backend.h"

#include <unistd.h>

#include <algorithm>

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
  return absl::UnimplementedError(
      absl::StrCat("the ", owner_->Name(), " backend's prepared ", OpKindName(kind_),
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
  return std::make_unique<RawPreparedWeights>(this, kind, n, k, w, w_scale);
}

int64_t Backend::DeviceMemoryBytes() const {
  // Host RAM: right for the CPU backends; GPU backends override.
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page_size > 0 ? int64_t{pages} * page_size : 0;
}

absl::Status RunOp(Backend& backend, const OpArgs& args) {
  RETURN_IF_ERROR(ValidateOp(args));
  if (!backend.Supports(args.kind)) {
    return absl::UnimplementedError(
        absl::StrCat("backend ", backend.Name(), " does not support ", OpKindName(args.kind)));
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
