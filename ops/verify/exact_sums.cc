// Copyright 2026 The datanode Authors.
//
// The computing node's extra answer in verified mode: the exact values before the single
// rounding (verify.h). Both producers call the reference (the spec in code) rather than
// restating it: reference::MatMulS8S32 for the isum of kMatMulS8F32 and
// reference::Q8_0DotFixedPoint for the fixed-point sums of the Q8_0 family.
#include <cstring>

#include "absl/strings/str_cat.h"
#include "datanode/ops/exact_float.h"
#include "datanode/ops/reference.h"
#include "datanode/ops/status_macros.h"
#include "datanode/ops/validate.h"
#include "datanode/ops/verify.h"

namespace datanode::ops::verify {

bool IsVerifiable(OpKind kind) {
  // Not IsMatMul(): the K-quant matmuls (Q4_K, Q6_K) have no verifier yet.
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

int64_t ExactSumsBytes(OpKind kind, int64_t m, int64_t n) {
  switch (kind) {
    case OpKind::kMatMulS8F32:
      return 4 * m * n;
    case OpKind::kMatMulQ8_0Q8_0:
    case OpKind::kMatMulQ8_0Q4_0:
    case OpKind::kMatMulQ8_0Q4_1:
      return 16 * m * n;
    default:
      return 0;
  }
}

absl::Status ComputeExactSums(OpKind kind, int64_t m, int64_t n, int64_t k, ByteSpan a, ByteSpan w,
                              MutableByteSpan exact) {
  if (!IsVerifiable(kind)) {
    return absl::InvalidArgumentError(absl::StrCat(OpKindName(kind), " has no verified mode"));
  }
  ASSIGN_OR_RETURN(const OperandSizes sizes, ComputeOperandSizes(kind, m, n, k));
  const int64_t exact_bytes = ExactSumsBytes(kind, m, n);
  if (static_cast<int64_t>(a.size()) != sizes.a || static_cast<int64_t>(w.size()) != sizes.w ||
      static_cast<int64_t>(exact.size()) != exact_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(OpKindName(kind), " exact sums: A, W or exact has the wrong size (want ",
                     sizes.a, ", ", sizes.w, ", ", exact_bytes, " bytes)"));
  }
  OpArgs args;
  args.kind = kind;
  args.m = m;
  args.n = n;
  args.k = k;
  args.a = a;
  // kMatMulS8F32's a_scale does not enter the exact isum; validate A's quants only.
  if (kind == OpKind::kMatMulS8F32) args.kind = OpKind::kMatMulS8S32;
  RETURN_IF_ERROR(ValidateInputValues(args));
  RETURN_IF_ERROR(ValidateWeightValues(args.kind, n, k, w, {}));
  switch (kind) {
    case OpKind::kMatMulS8S32:
      return absl::OkStatus();  // the output itself is exact
    case OpKind::kMatMulS8F32:
      args.out = exact;
      reference::MatMulS8S32(args, w);
      return absl::OkStatus();
    default:
      break;
  }
  const int64_t blocks = k / kQBlockSize;
  const int64_t w_row_bytes = sizes.w / n;
  for (int64_t i = 0; i < m; ++i) {
    const uint8_t* a_row = &a[i * blocks * kQ8_0BlockBytes];
    for (int64_t j = 0; j < n; ++j) {
      const int128 e = reference::Q8_0DotFixedPoint(kind, a_row, &w[j * w_row_bytes], blocks);
      const uint128 u = static_cast<uint128>(e);
      uint8_t* dst = &exact[(i * n + j) * 16];
      for (int byte = 0; byte < 16; ++byte) dst[byte] = static_cast<uint8_t>(u >> (8 * byte));
    }
  }
  return absl::OkStatus();
}

int64_t CompactExactSums(OpKind kind, MutableByteSpan exact) {
  if (ExactSumsBytes(kind, 1, 1) != 16 || exact.size() % 16 != 0) {
    return static_cast<int64_t>(exact.size());
  }
  const int64_t count = static_cast<int64_t>(exact.size()) / 16;
  for (int64_t i = 0; i < count; ++i) {
    uint64_t lo;
    uint64_t hi;
    std::memcpy(&lo, &exact[16 * i], 8);
    std::memcpy(&hi, &exact[16 * i + 8], 8);
    if (hi != (static_cast<int64_t>(lo) < 0 ? ~uint64_t{0} : 0)) return 16 * count;
  }
  // In place, front to back: element i moves from 16 i to 8 i <= 16 i.
  for (int64_t i = 0; i < count; ++i) std::memmove(&exact[8 * i], &exact[16 * i], 8);
  return 8 * count;
}

}  // namespace datanode::ops::verify
