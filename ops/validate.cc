// Copyright 2026 The datanode Authors.
#include "datanode/ops/validate.h"

#include <cstring>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/exact_float.h"
#include "datanode/ops/status_macros.h"

namespace datanode::ops {
namespace {

absl::Status CheckSize(OpKind kind, const char* operand, size_t actual, int64_t expected) {
  if (static_cast<int64_t>(actual) != expected) {
    return absl::InvalidArgumentError(absl::StrCat(OpKindName(kind), ": operand ", operand,
                                                   " has ", actual, " bytes, expected ",
                                                   expected));
  }
  return absl::OkStatus();
}

// int8 values in [-127, 127] (row-major [rows, cols]).
absl::Status CheckS8(OpKind kind, const char* operand, ByteSpan data, int64_t cols) {
  // memchr is vectorized in glibc: this scan costs far less than the matmul it guards.
  const void* hit = data.empty() ? nullptr : std::memchr(data.data(), 0x80, data.size());
  if (hit != nullptr) {
    const size_t i = static_cast<size_t>(static_cast<const uint8_t*>(hit) - data.data());
    return absl::InvalidArgumentError(absl::StrCat(
        OpKindName(kind), ": ", operand, "[", i / cols, ", ", i % cols,
        "] = -128 is outside [-127, 127] (int8 operands are symmetric)"));
  }
  return absl::OkStatus();
}

absl::Status CheckF32Scales(OpKind kind, const char* operand, ByteSpan data) {
  for (size_t i = 0; i + 4 <= data.size(); i += 4) {
    if (!IsFiniteF32Bits(LoadU32(&data[i]))) {
      return absl::InvalidArgumentError(absl::StrCat(OpKindName(kind), ": ", operand, "[",
                                                     i / 4, "] is not finite (inf or NaN)"));
    }
  }
  return absl::OkStatus();
}

// Where a weight format keeps its f16 scales (d, and the min for Q4_1 / Q4_K) inside a
// block, and whether its quants are int8 (which must not be -128).
struct BlockScales {
  int64_t block_bytes;
  int d_offset;
  int min_offset;  // -1: none
  bool q8_quants;
};

BlockScales ScalesOf(OpKind kind) {
  switch (kind) {
    case OpKind::kMatMulQ8_0Q4_0:
      return {kQ4_0BlockBytes, 0, -1, false};
    case OpKind::kMatMulQ8_0Q4_1:
      return {kQ4_1BlockBytes, 0, 2, false};
    case OpKind::kMatMulQ8_0Q4_K:
      return {kQ4_KBlockBytes, 0, 2, false};
    case OpKind::kMatMulQ8_0Q6_K:
      return {kQ6_KBlockBytes, kQ6_KBlockBytes - 2, -1, false};
    default:  // Q8_0
      return {kQ8_0BlockBytes, 0, -1, true};
  }
}

// Blocks of a quantized tensor with `rows` rows of `blocks_per_row` blocks.
absl::Status CheckBlocks(OpKind kind, const char* operand, ByteSpan data,
                         int64_t blocks_per_row, const BlockScales& layout) {
  const int64_t total = static_cast<int64_t>(data.size()) / layout.block_bytes;
  for (int64_t b = 0; b < total; ++b) {
    const uint8_t* block = &data[b * layout.block_bytes];
    const int64_t row = b / blocks_per_row;
    const int64_t col = b % blocks_per_row;
    if (!IsFiniteF16Bits(LoadU16(block + layout.d_offset))) {
      return absl::InvalidArgumentError(absl::StrCat(OpKindName(kind), ": ", operand, " row ",
                                                     row, " block ", col,
                                                     ": scale d is not finite (inf or NaN)"));
    }
    if (layout.min_offset >= 0 && !IsFiniteF16Bits(LoadU16(block + layout.min_offset))) {
      return absl::InvalidArgumentError(absl::StrCat(OpKindName(kind), ": ", operand, " row ",
                                                     row, " block ", col,
                                                     ": min m is not finite (inf or NaN)"));
    }
    if (layout.q8_quants) {
      for (int j = 0; j < kQBlockSize; ++j) {
        if (block[2 + j] == 0x80) {
          return absl::InvalidArgumentError(absl::StrCat(
              OpKindName(kind), ": ", operand, " row ", row, " block ", col, " value ", j,
              " = -128 is outside [-127, 127] (int8 operands are symmetric)"));
        }
      }
    }
  }
  return absl::OkStatus();
}

// Largest |x| (exclusive) that quantize_f32_q8_0 accepts: amax / 127 must round to a
// finite f16. The f16 midpoint between 65504 and 2^16 is 65520, which ties to even
// (2^16, i.e. infinity), so amax / 127 < 65520 <=> amax < 8321040.
constexpr float kQ8_0MaxAbsInput = 8321040.0f;

absl::Status CheckQuantizeInput(const OpArgs& args) {
  const int64_t count = args.m * args.k;
  for (int64_t i = 0; i < count; ++i) {
    const uint32_t bits = LoadU32(&args.a[i * 4]);
    if (!IsFiniteF32Bits(bits)) {
      return absl::InvalidArgumentError(absl::StrCat(OpKindName(args.kind), ": X[", i / args.k,
                                                     ", ", i % args.k,
                                                     "] is not finite (inf or NaN)"));
    }
    if (args.kind == OpKind::kQuantizeQ8_0 &&
        (bits & 0x7FFFFFFFu) >= F32ToBits(kQ8_0MaxAbsInput)) {
      return absl::InvalidArgumentError(absl::StrCat(
          OpKindName(args.kind), ": |X[", i / args.k, ", ", i % args.k, "]| = ",
          absl::StrFormat("%.9g", BitsToF32(bits & 0x7FFFFFFFu)),
          " is too large for Q8_0 (|x| must be < 8321040 so that the f16 scale is finite)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateShapes(const OpArgs& args) {
  ASSIGN_OR_RETURN(const OperandSizes sizes,
                   ComputeOperandSizes(args.kind, args.m, args.n, args.k));
  RETURN_IF_ERROR(CheckSize(args.kind, "A", args.a.size(), sizes.a));
  RETURN_IF_ERROR(CheckSize(args.kind, "a_scale", args.a_scale.size(), sizes.a_scale));
  if (args.w_prepared != nullptr) {
    const PreparedWeights& p = *args.w_prepared;
    if (p.kind() != args.kind || p.n() != args.n || p.k() != args.k) {
      return absl::InvalidArgumentError(absl::StrCat(
          OpKindName(args.kind), ": prepared weights are ", OpKindName(p.kind()), " [", p.n(),
          ", ", p.k(), "], the call needs [", args.n, ", ", args.k, "]"));
    }
  } else {
    RETURN_IF_ERROR(CheckSize(args.kind, "W", args.w.size(), sizes.w));
    RETURN_IF_ERROR(CheckSize(args.kind, "w_scale", args.w_scale.size(), sizes.w_scale));
  }
  RETURN_IF_ERROR(CheckSize(args.kind, "out", args.out.size(), sizes.out));
  RETURN_IF_ERROR(CheckSize(args.kind, "out_scale", args.out_scale.size(), sizes.out_scale));
  return absl::OkStatus();
}

absl::Status ValidateInputValues(const OpArgs& args) {
  switch (args.kind) {
    case OpKind::kMatMulS8S32:
      return CheckS8(args.kind, "A", args.a, args.k);
    case OpKind::kMatMulS8F32:
      RETURN_IF_ERROR(CheckS8(args.kind, "A", args.a, args.k));
      return CheckF32Scales(args.kind, "a_scale", args.a_scale);
    case OpKind::kQuantizeS8Row:
    case OpKind::kQuantizeQ8_0:
      return CheckQuantizeInput(args);
    default:
      if (IsQ8_0MatMul(args.kind)) {
        return CheckBlocks(args.kind, "A", args.a, args.k / kQBlockSize,
                           ScalesOf(OpKind::kMatMulQ8_0Q8_0));
      }
      return absl::InvalidArgumentError("unknown op kind");
  }
}

absl::Status ValidateWeightValues(OpKind kind, int64_t n, int64_t k, ByteSpan w,
                                  ByteSpan w_scale) {
  ASSIGN_OR_RETURN(const OperandSizes sizes, ComputeOperandSizes(kind, 1, n, k));
  if (!IsMatMul(kind)) {
    return absl::InvalidArgumentError(
        absl::StrCat(OpKindName(kind), " takes no weights"));
  }
  RETURN_IF_ERROR(CheckSize(kind, "W", w.size(), sizes.w));
  RETURN_IF_ERROR(CheckSize(kind, "w_scale", w_scale.size(), sizes.w_scale));
  switch (kind) {
    case OpKind::kMatMulS8S32:
      return CheckS8(kind, "W", w, k);
    case OpKind::kMatMulS8F32:
      RETURN_IF_ERROR(CheckS8(kind, "W", w, k));
      return CheckF32Scales(kind, "w_scale", w_scale);
    default:
      return CheckBlocks(kind, "W", w, k / FindOpInfo(kind)->w_block_values, ScalesOf(kind));
  }
}

absl::Status ValidateOp(const OpArgs& args) {
  RETURN_IF_ERROR(ValidateShapes(args));
  RETURN_IF_ERROR(ValidateInputValues(args));
  if (IsMatMul(args.kind) && args.w_prepared == nullptr) {
    RETURN_IF_ERROR(ValidateWeightValues(args.kind, args.n, args.k, args.w, args.w_scale));
  }
  return absl::OkStatus();
}

}  // namespace datanode::ops
