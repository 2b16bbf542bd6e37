// Copyright 2026 The datanode Authors.
#include "datanode/ops/types.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace datanode::ops {

const char* OpKindName(OpKind kind) {
  switch (kind) {
    case OpKind::kMatMulS8S32:
      return "matmul_s8_s32";
    case OpKind::kMatMulS8F32:
      return "matmul_s8_f32";
    case OpKind::kMatMulQ8_0Q8_0:
      return "matmul_q8_0_q8_0";
    case OpKind::kMatMulQ8_0Q4_0:
      return "matmul_q8_0_q4_0";
    case OpKind::kMatMulQ8_0Q4_1:
      return "matmul_q8_0_q4_1";
    case OpKind::kQuantizeS8Row:
      return "quantize_f32_s8_row";
    case OpKind::kQuantizeQ8_0:
      return "quantize_f32_q8_0";
  }
  return "unknown_op";
}

absl::StatusOr<OpKind> OpKindFromName(std::string_view name) {
  for (OpKind kind : kAllOpKinds) {
    if (OpKindName(kind) == name) return kind;
  }
  return absl::NotFoundError(absl::StrCat("unknown op \"", std::string(name), "\""));
}

bool IsMatMul(OpKind kind) {
  switch (kind) {
    case OpKind::kMatMulS8S32:
    case OpKind::kMatMulS8F32:
    case OpKind::kMatMulQ8_0Q8_0:
    case OpKind::kMatMulQ8_0Q4_0:
    case OpKind::kMatMulQ8_0Q4_1:
      return true;
    default:
      return false;
  }
}

bool IsQuantize(OpKind kind) {
  return kind == OpKind::kQuantizeS8Row || kind == OpKind::kQuantizeQ8_0;
}

namespace {

int64_t WeightBytesPerBlock(OpKind kind) {
  switch (kind) {
    case OpKind::kMatMulQ8_0Q8_0:
      return kQ8_0BlockBytes;
    case OpKind::kMatMulQ8_0Q4_0:
      return kQ4_0BlockBytes;
    case OpKind::kMatMulQ8_0Q4_1:
      return kQ4_1BlockBytes;
    default:
      return 0;
  }
}

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
  const std::string op = OpKindName(kind);
  if (op == "unknown_op") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown op kind ", static_cast<int>(kind)));
  }
  if (m < 1 || m > kMaxRowsOrCols) {
    return absl::InvalidArgumentError(
        absl::StrCat(op, ": M = ", m, " is outside [1, ", kMaxRowsOrCols, "]"));
  }
  if (k < 1 || k > kMaxK) {
    return absl::InvalidArgumentError(absl::StrCat(
        op, ": K = ", k, " is outside [1, ", kMaxK, "] (larger K could overflow int32 sums)"));
  }
  if (IsMatMul(kind)) {
    if (n < 1 || n > kMaxRowsOrCols) {
      return absl::InvalidArgumentError(
          absl::StrCat(op, ": N = ", n, " is outside [1, ", kMaxRowsOrCols, "]"));
    }
  } else if (n != 0) {
    return absl::InvalidArgumentError(absl::StrCat(op, ": N must be 0 for quantize ops, got ", n));
  }
  const bool blocked = kind == OpKind::kMatMulQ8_0Q8_0 || kind == OpKind::kMatMulQ8_0Q4_0 ||
                       kind == OpKind::kMatMulQ8_0Q4_1 || kind == OpKind::kQuantizeQ8_0;
  if (blocked && k % kQBlockSize != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        op, ": K = ", k, " is not a multiple of the block size ", kQBlockSize));
  }
  OperandSizes s;
  const int64_t blocks = k / kQBlockSize;
  switch (kind) {
    case OpKind::kMatMulS8S32:
    case OpKind::kMatMulS8F32:
      s.a = m * k;
      s.w = n * k;
      s.out = m * n * 4;
      if (kind == OpKind::kMatMulS8F32) {
        s.a_scale = m * 4;
        s.w_scale = n * 4;
      }
      break;
    case OpKind::kMatMulQ8_0Q8_0:
    case OpKind::kMatMulQ8_0Q4_0:
    case OpKind::kMatMulQ8_0Q4_1:
      s.a = m * blocks * kQ8_0BlockBytes;
      s.w = n * blocks * WeightBytesPerBlock(kind);
      s.out = m * n * 4;
      break;
    case OpKind::kQuantizeS8Row:
      s.a = m * k * 4;
      s.out = m * k;
      s.out_scale = m * 4;
      break;
    case OpKind::kQuantizeQ8_0:
      s.a = m * k * 4;
      s.out = m * blocks * kQ8_0BlockBytes;
      break;
  }
  // m, n <= 2^24 and k < 2^17 bound every product above by 2^50, far inside int64;
  // the tensor limit keeps allocations sane.
  if (auto st = CheckTensorBytes(kind, "A", s.a); !st.ok()) return st;
  if (auto st = CheckTensorBytes(kind, "W", s.w); !st.ok()) return st;
  if (auto st = CheckTensorBytes(kind, "output", s.out); !st.ok()) return st;
  return s;
}

}  // namespace datanode::ops
