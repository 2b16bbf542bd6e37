// Copyright 2026 The datanode Authors.
//
// Tensor formats, op kinds and op arguments of the deterministic operator library.
// The normative definition of every op is docs/determinism.md (spec version
// kSpecVersion); ops/reference/ is that spec in code.
//
// All tensors are dense, row-major, little-endian byte buffers. No alignment is
// required of any buffer. Weights follow the GGUF/safetensors linear-layer layout
// W[n, k] (out, in), so a matmul computes C[m, n] = sum_k A[m, k] * W[n, k].
#ifndef DATANODE_OPS_TYPES_H_
#define DATANODE_OPS_TYPES_H_

#include <cstddef>
#include <cstdint>
#include <array>
#include <iterator>
#include <span>
#include <string_view>

#include "absl/status/statusor.h"

namespace datanode::ops {

// Version of docs/determinism.md that this library implements. Bumped whenever any
// op's output bytes could change for some input.
inline constexpr int kSpecVersion = 2;

// Largest accepted reduction length. |s8 * s8| <= 127 * 127 < 2^14, so any
// K <= 131071 < 2^17 keeps every int32 partial sum exact.
inline constexpr int64_t kMaxK = 131071;
// Largest accepted M or N (keeps every byte count far inside int64).
inline constexpr int64_t kMaxRowsOrCols = int64_t{1} << 24;
// Largest accepted single tensor, in bytes (16 GiB).
inline constexpr int64_t kMaxTensorBytes = int64_t{1} << 34;

// Quantized block layouts (ggml / GGUF). Q8_0 / Q4_0 / Q4_1 blocks cover 32 consecutive
// values of one row along K; rows of K values hold K / 32 blocks back to back.
inline constexpr int64_t kQBlockSize = 32;
inline constexpr int64_t kQ8_0BlockBytes = 34;  // f16 d, int8 qs[32]; x = d * q
inline constexpr int64_t kQ4_0BlockBytes = 18;  // f16 d, u8 qs[16]; x = d * (nibble - 8)
inline constexpr int64_t kQ4_1BlockBytes = 20;  // f16 d, f16 m, u8 qs[16]; x = d * nibble + m
// Nibble order in Q4_0 / Q4_1: value j (0..15) is qs[j] & 0x0F, value j + 16 is qs[j] >> 4.
// K-quant super-blocks cover 256 values (docs/determinism.md gives the bit layouts):
//   Q4_K: f16 d, f16 dmin, u8 scales[12] (8 six-bit scales and mins), u8 qs[128];
//         x = d * sc_j * nibble - dmin * m_j for the value's 32-value sub-block j.
//   Q6_K: u8 ql[128], u8 qh[64], int8 scales[16], f16 d;
//         x = d * sc_j * (q6 - 32) for the value's 16-value sub-block j.
inline constexpr int64_t kQKSuperBlockSize = 256;
inline constexpr int64_t kQ4_KBlockBytes = 144;
inline constexpr int64_t kQ6_KBlockBytes = 210;

using ByteSpan = std::span<const uint8_t>;
using MutableByteSpan = std::span<uint8_t>;

// The ops. Values are stable (they appear in reports, logs and the wire API).
enum class OpKind : uint8_t {
  // A s8[M,K] x W s8[N,K] -> C s32[M,N]. Exact.
  kMatMulS8S32 = 1,
  // A s8[M,K] with a_scale f32[M], W s8[N,K] with w_scale f32[N] -> C f32[M,N]:
  // C = round_f32(a_scale[m] * w_scale[n] * sum_k A*W), one rounding.
  kMatMulS8F32 = 2,
  // A Q8_0[M, K/32 blocks] x W Q8_0[N, K/32] -> C f32[M,N], one rounding.
  kMatMulQ8_0Q8_0 = 3,
  // A Q8_0 x W Q4_0 -> f32, one rounding.
  kMatMulQ8_0Q4_0 = 4,
  // A Q8_0 x W Q4_1 -> f32, one rounding.
  kMatMulQ8_0Q4_1 = 5,
  // X f32[M,K] -> Q s8[M,K] (out) and per-row scale f32[M] (out_scale).
  kQuantizeS8Row = 6,
  // X f32[M,K] -> Q8_0[M, K/32 blocks] (out).
  kQuantizeQ8_0 = 7,
  // A Q8_0 x W Q4_K[N, K/256 super-blocks] -> f32, one rounding (spec v2).
  kMatMulQ8_0Q4_K = 8,
  // A Q8_0 x W Q6_K[N, K/256 super-blocks] -> f32, one rounding (spec v2).
  kMatMulQ8_0Q6_K = 9,
};

// THE op table: every per-op fact lives here once. Names, op lists, operand sizes, the
// wire enums (proto OpKind, the Candid variant), the weight dtype of stored tensors and
// pricing all derive from it or are checked against it (tests/ops/op_table_test.cc).
struct OpInfo {
  OpKind kind;
  // Stable lower-case name, e.g. "matmul_s8_s32": logs, reports, the CLI and the Candid
  // variant tag. The proto enum value is "OP_KIND_" + the upper-cased name.
  const char* name;
  bool is_matmul;
  // K must be a multiple of this (the block of the block formats).
  int64_t k_multiple;
  // Matmul weights: a W row of K values is K / w_block_values blocks of w_block_bytes
  // bytes each (1 / 1 for plain int8). 0 / 0 for quantize ops.
  int64_t w_block_values;
  int64_t w_block_bytes;
  // Matmul weights: the GGUF type name of W as the store records it ("I8", "Q8_0", ...);
  // "" for quantize ops.
  const char* w_dtype;
};

inline constexpr OpInfo kOpTable[] = {
    {OpKind::kMatMulS8S32, "matmul_s8_s32", true, 1, 1, 1, "I8"},
    {OpKind::kMatMulS8F32, "matmul_s8_f32", true, 1, 1, 1, "I8"},
    {OpKind::kMatMulQ8_0Q8_0, "matmul_q8_0_q8_0", true, kQBlockSize, kQBlockSize,
     kQ8_0BlockBytes, "Q8_0"},
    {OpKind::kMatMulQ8_0Q4_0, "matmul_q8_0_q4_0", true, kQBlockSize, kQBlockSize,
     kQ4_0BlockBytes, "Q4_0"},
    {OpKind::kMatMulQ8_0Q4_1, "matmul_q8_0_q4_1", true, kQBlockSize, kQBlockSize,
     kQ4_1BlockBytes, "Q4_1"},
    {OpKind::kQuantizeS8Row, "quantize_f32_s8_row", false, 1, 0, 0, ""},
    {OpKind::kQuantizeQ8_0, "quantize_f32_q8_0", false, kQBlockSize, 0, 0, ""},
    {OpKind::kMatMulQ8_0Q4_K, "matmul_q8_0_q4_k", true, kQKSuperBlockSize, kQKSuperBlockSize,
     kQ4_KBlockBytes, "Q4_K"},
    {OpKind::kMatMulQ8_0Q6_K, "matmul_q8_0_q6_k", true, kQKSuperBlockSize, kQKSuperBlockSize,
     kQ6_KBlockBytes, "Q6_K"},
};
inline constexpr size_t kNumOps = std::size(kOpTable);

// The table's row of `kind`, or nullptr for a value outside the enum.
constexpr const OpInfo* FindOpInfo(OpKind kind) {
  for (const OpInfo& info : kOpTable) {
    if (info.kind == kind) return &info;
  }
  return nullptr;
}

// Every op, in table order.
inline constexpr std::array<OpKind, kNumOps> kAllOpKinds = [] {
  std::array<OpKind, kNumOps> kinds{};
  for (size_t i = 0; i < kNumOps; ++i) kinds[i] = kOpTable[i].kind;
  return kinds;
}();

// Every matmul op, in table order.
inline constexpr size_t kNumMatMulOps = [] {
  size_t n = 0;
  for (const OpInfo& info : kOpTable) n += info.is_matmul ? 1 : 0;
  return n;
}();
inline constexpr std::array<OpKind, kNumMatMulOps> kMatMulOpKinds = [] {
  std::array<OpKind, kNumMatMulOps> kinds{};
  size_t n = 0;
  for (const OpInfo& info : kOpTable) {
    if (info.is_matmul) kinds[n++] = info.kind;
  }
  return kinds;
}();

// The Q8_0-activation matmuls (A in Q8_0 blocks, W in a ggml block format).
constexpr bool IsQ8_0MatMul(OpKind kind) {
  const OpInfo* info = FindOpInfo(kind);
  return info != nullptr && info->is_matmul && info->w_block_values > 1;
}

// Stable lower-case name, e.g. "matmul_s8_s32". Used in logs, reports and the API.
const char* OpKindName(OpKind kind);
// Inverse of OpKindName; NOT_FOUND for unknown names.
absl::StatusOr<OpKind> OpKindFromName(std::string_view name);

bool IsMatMul(OpKind kind);
bool IsQuantize(OpKind kind);

// Byte sizes of each operand of an op with the given shape. For quantize ops `n` is
// unused and must be 0.
struct OperandSizes {
  int64_t a = 0;
  int64_t a_scale = 0;
  int64_t w = 0;
  int64_t w_scale = 0;
  int64_t out = 0;
  int64_t out_scale = 0;
};

// INVALID_ARGUMENT (with the reason) for shapes the spec rejects: non-positive or
// oversized dimensions, K > kMaxK, K not a multiple of 32 for block formats, tensors
// above kMaxTensorBytes.
absl::StatusOr<OperandSizes> ComputeOperandSizes(OpKind kind, int64_t m, int64_t n, int64_t k);

class PreparedWeights;

// One op invocation. Spans are borrowed for the duration of the call only.
struct OpArgs {
  OpKind kind = OpKind::kMatMulS8S32;
  int64_t m = 0;
  int64_t n = 0;  // 0 for quantize ops
  int64_t k = 0;
  ByteSpan a;        // matmul: A; quantize: the f32 input X[M,K]
  ByteSpan a_scale;  // kMatMulS8F32 only: f32[M]
  ByteSpan w;        // matmul weights W[N,K]; may be empty when w_prepared is set
  ByteSpan w_scale;  // kMatMulS8F32 only: f32[N] (ignored when w_prepared is set)
  // Weights prepared earlier by the same backend's PrepareWeights (packed, resident on
  // the device, ...). Takes precedence over `w` / `w_scale`.
  const PreparedWeights* w_prepared = nullptr;
  MutableByteSpan out;        // C, or the quantized tensor
  MutableByteSpan out_scale;  // kQuantizeS8Row only: f32[M]
  // Optional, matmuls only: the exact values before the single rounding, written beside
  // `out` by a backend whose WritesExactSums(kind) is true (backend.h states the layout).
  // Empty (the default): nothing but `out` is written.
  MutableByteSpan exact;
};

}  // namespace datanode::ops

#endif  // DATANODE_OPS_TYPES_H_
