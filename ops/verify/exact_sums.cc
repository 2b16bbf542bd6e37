// Copyright 2026 The datanode Authors.
//
// The computing node's extra answer in verified mode: the exact values before the single
// rounding (verify.h). kMatMulS8F32's isum is reference::MatMulS8S32. The Q8_0 family's
// fixed-point sums are the reference's terms (reference::Q8_0DotFixedPoint, docs/
// determinism.md §3.3) formed from blocks decoded once per row instead of once per output
// element, several times faster; tests/verify compares the two element by element.
#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/exact_float.h"
#include "datanode/ops/kquant.h"
#include "datanode/ops/reference.h"
#include "datanode/ops/status_macros.h"
#include "datanode/ops/validate.h"
#include "datanode/ops/verify.h"
#include "ops/verify/kquant_weights.h"

namespace datanode::ops::verify {
namespace {

// A Q8_0 block of A decoded once for all columns: its scale as exact mantissa and exponent
// (DecodeF16Bits) and the sum of its quants (for Q4_1's m term).
struct ABlock {
  const int8_t* q;
  int64_t d_mant;
  int d_exp;
  int32_t q_sum;
};

// Sum of a's 32 quants times the weight block's, unpacked from `wq` in `kind`'s layout
// (types.h: nibble j is qs[j] & 0x0F, nibble j + 16 is qs[j] >> 4; Q4_0's minus 8).
int32_t BlockIsum(OpKind kind, const int8_t* a, const uint8_t* wq) {
  int32_t isum = 0;
  switch (kind) {
    case OpKind::kMatMulQ8_0Q4_0:
      for (int j = 0; j < 16; ++j) {
        isum += int32_t{a[j]} * ((wq[j] & 0x0F) - 8) + int32_t{a[j + 16]} * ((wq[j] >> 4) - 8);
      }
      break;
    case OpKind::kMatMulQ8_0Q4_1:
      for (int j = 0; j < 16; ++j) {
        isum += int32_t{a[j]} * (wq[j] & 0x0F) + int32_t{a[j + 16]} * (wq[j] >> 4);
      }
      break;
    default:
      for (int j = 0; j < kQBlockSize; ++j) {
        isum += int32_t{a[j]} * int32_t{static_cast<int8_t>(wq[j])};
      }
      break;
  }
  return isum;
}

// The exact sum of docs/determinism.md §3.3 in units of 2^-48, term by term as
// reference::Q8_0DotFixedPoint forms it (tests/verify compares the two): per block
// d_a d_w isum (+ d_a m_w asum for Q4_1), each an exact product of mantissas shifted by the
// exponents. |mantissa product x isum| < 2^11 * 2^11 * 2^19, so it is formed in int64 and
// only the shift and the sum are int128. Adds row j of W's terms to acc[i] for every row
// i of A, decoding each weight block once.
void AccumulateColumn(OpKind kind, const ABlock* a, int64_t m, int64_t blocks, const uint8_t* w_row,
                      int64_t w_block_bytes, int128* acc) {
  const int quant_offset = kind == OpKind::kMatMulQ8_0Q4_1 ? 4 : 2;
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t* wb = w_row + b * w_block_bytes;
    const ExactValue d = DecodeF16Bits(LoadU16(wb));
    ExactValue min{};
    if (kind == OpKind::kMatMulQ8_0Q4_1) min = DecodeF16Bits(LoadU16(wb + 2));
    for (int64_t i = 0; i < m; ++i) {
      const ABlock& ab = a[i * blocks + b];
      const int32_t isum = BlockIsum(kind, ab.q, wb + quant_offset);
      acc[i] += static_cast<int128>(ab.d_mant * d.mantissa * isum)
                << (ab.d_exp + d.exponent - reference::kQ8FixedPointExponent);
      if (kind == OpKind::kMatMulQ8_0Q4_1) {
        acc[i] += static_cast<int128>(ab.d_mant * min.mantissa * ab.q_sum)
                  << (ab.d_exp + min.exponent - reference::kQ8FixedPointExponent);
      }
    }
  }
}

// The K-quant matmuls' exact sums (docs/determinism.md §3.4: the exact sum of a_k * w_k, in
// units of 2^-48): A's values as a24 = q * d * 2^24 (|a24| < 2^47) once, each W row as w24
// (kquant_weights.h, |w24| < 2^52) once, then int128 dot products: a term is < 2^99 and
// K < 2^27 keeps the sum below 2^126. It equals reference::Q8_0DotFixedPoint's grouping of
// the same exact value (tests/verify compares them element by element).
void ComputeKQuantExactSums(OpKind kind, int64_t m, int64_t n, int64_t k, ByteSpan a, ByteSpan w,
                            MutableByteSpan exact) {
  const int64_t blocks = k / kQBlockSize;
  std::vector<int64_t> a24(static_cast<size_t>(m * k));
  for (int64_t i = 0; i < m * blocks; ++i) {
    const uint8_t* block = &a[i * kQ8_0BlockBytes];
    const int64_t d24 = F16Times2To24(LoadU16(block));
    for (int j = 0; j < kQBlockSize; ++j) {
      a24[static_cast<size_t>(i * kQBlockSize + j)] = d24 * static_cast<int8_t>(block[2 + j]);
    }
  }
  const int64_t w_row_bytes = blocks / kKQuantSlices * FindOpInfo(kind)->w_block_bytes;
  std::vector<int64_t> w24(static_cast<size_t>(k));
  for (int64_t j = 0; j < n; ++j) {
    DecodeKQuantRow24(kind, &w[j * w_row_bytes], k, w24.data());
    for (int64_t i = 0; i < m; ++i) {
      const int64_t* ar = &a24[static_cast<size_t>(i * k)];
      int128 acc = 0;
      for (int64_t c = 0; c < k; ++c) acc += int128{ar[c]} * w24[static_cast<size_t>(c)];
      const uint128 u = static_cast<uint128>(acc);
      uint8_t* dst = &exact[(i * n + j) * 16];
      for (int byte = 0; byte < 16; ++byte) dst[byte] = static_cast<uint8_t>(u >> (8 * byte));
    }
  }
}

}  // namespace

bool IsVerifiable(OpKind kind) {
  switch (kind) {
    case OpKind::kMatMulS8S32:
    case OpKind::kMatMulS8F32:
    case OpKind::kMatMulQ8_0Q8_0:
    case OpKind::kMatMulQ8_0Q4_0:
    case OpKind::kMatMulQ8_0Q4_1:
    case OpKind::kMatMulQ8_0Q4_K:
    case OpKind::kMatMulQ8_0Q6_K:
      return true;
    default:
      return false;
  }
}

int64_t ExactSumsBytes(OpKind kind, int64_t m, int64_t n) {
  // One statement of the layout: the backend hook's (backend.h).
  return IsVerifiable(kind) ? ExactOutputBytes(kind, m, n) : 0;
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
  if (IsKQuantMatMul(kind)) {
    ComputeKQuantExactSums(kind, m, n, k, a, w, exact);
    return absl::OkStatus();
  }
  const int64_t blocks = k / kQBlockSize;
  const int64_t w_row_bytes = sizes.w / n;
  // A's blocks once for all columns, each weight block once for all rows of A.
  std::vector<ABlock> a_blocks(static_cast<size_t>(m * blocks));
  for (int64_t i = 0; i < m * blocks; ++i) {
    const uint8_t* block = &a[i * kQ8_0BlockBytes];
    const ExactValue d = DecodeF16Bits(LoadU16(block));
    ABlock& ab = a_blocks[static_cast<size_t>(i)];
    ab.q = reinterpret_cast<const int8_t*>(block + 2);
    ab.d_mant = d.mantissa;
    ab.d_exp = d.exponent;
    ab.q_sum = 0;
    for (int j = 0; j < kQBlockSize; ++j) ab.q_sum += ab.q[j];
  }
  const int64_t w_block_bytes = w_row_bytes / blocks;
  std::vector<int128> acc(static_cast<size_t>(m));
  for (int64_t j = 0; j < n; ++j) {
    std::fill(acc.begin(), acc.end(), int128{0});
    AccumulateColumn(kind, a_blocks.data(), m, blocks, &w[j * w_row_bytes], w_block_bytes,
                     acc.data());
    for (int64_t i = 0; i < m; ++i) {
      const uint128 u = static_cast<uint128>(acc[static_cast<size_t>(i)]);
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
