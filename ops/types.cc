// Copyright 2026 The datanode Authors.
#include "datanode/ops/types.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace datanode::ops {

const char* OpKindName(OpKind kind) {
  const OpInfo* info = FindOpInfo(kind);
  return info != nullptr ? info->name : "unknown_op";
}

absl::StatusOr<OpKind> OpKindFromName(std::string_view name) {
  for (const OpInfo& info : kOpTable) {
    if (info.name == name) return info.kind;
  }
  return absl::NotFoundError(absl::StrCat("unknown op \"", std::string(name), "\""));
}

bool IsMatMul(OpKind kind) {
  const OpInfo* info = FindOpInfo(kind);
  return info != nullptr && info->is_matmul;
}

bool IsQuantize(OpKind kind) {
  const OpInfo* info = FindOpInfo(kind);
  return info != nullptr && !info->is_matmul;
}

namespace {

absl::Status CheckTensorBytes(OpKind kind, const char* operand, int64_t bytes) {
  if (bytes > kMaxTensorBytes) {
    return absl::InvalidArgumentError(absl::StrCat(OpKindName(kind), ": operand ", operand,
                                                   " would be ", bytes, " bytes (limit ",
                                                   kMaxTensorBytes, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<OperandSizes> ComputeOperandSizes(OpKind kind, int64_t m, int64_t n, int64_t k) {
  const OpInfo* info = FindOpInfo(kind);
  if (info == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown op kind ", static_cast<int>(kind)));
  }
  const std::string op = info->name;
  if (m < 1 || m > kMaxRowsOrCols) {
    return absl::InvalidArgumentError(
        absl::StrCat(op, ": M = ", m, " is outside [1, ", kMaxRowsOrCols, "]"));
  }
  if (k < 1 || k > kMaxK) {
    return absl::InvalidArgumentError(absl::StrCat(
        op, ": K = ", k, " is outside [1, ", kMaxK, "] (larger K could overflow int32 sums)"));
  }
  if (info->is_matmul) {
    if (n < 1 || n > kMaxRowsOrCols) {
      return absl::InvalidArgumentError(
          absl::StrCat(op, ": N = ", n, " is outside [1, ", kMaxRowsOrCols, "]"));
    }
  } else if (n != 0) {
    return absl::InvalidArgumentError(absl::StrCat(op, ": N must be 0 for quantize ops, got ", n));
  }
  if (k % info->k_multiple != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        op, ": K = ", k, " is not a multiple of the block size ", info->k_multiple));
  }
  OperandSizes s;
  switch (kind) {
    case OpKind::kMatMulS8F32:
      s.a_scale = m * 4;
      s.w_scale = n * 4;
      [[fallthrough]];
    case OpKind::kMatMulS8S32:
      s.a = m * k;
      break;
    case OpKind::kQuantizeS8Row:
      s.a = m * k * 4;
      s.out = m * k;
      s.out_scale = m * 4;
      break;
    case OpKind::kQuantizeQ8_0:
      s.a = m * k * 4;
      s.out = m * (k / kQBlockSize) * kQ8_0BlockBytes;
      break;
    default:  // the Q8_0-activation matmuls
      s.a = m * (k / kQBlockSize) * kQ8_0BlockBytes;
      break;
  }
  if (info->is_matmul) {
    s.w = n * (k / info->w_block_values) * info->w_block_bytes;
    s.out = m * n * 4;
  }
  // m, n <= 2^24 and k < 2^17 bound every product above by 2^50, far inside int64;
  // the tensor limit keeps allocations sane.
  if (auto st = CheckTensorBytes(kind, "A", s.a); !st.ok()) return st;
  if (auto st = CheckTensorBytes(kind, "W", s.w); !st.ok()) return st;
  if (auto st = CheckTensorBytes(kind, "output", s.out); !st.ok()) return st;
  return s;
}

}  // namespace datanode::ops
