// Copyright 2026 The datanode Authors.
//
// Spec: A in Q8_0, W in Q8_0 / Q4_0 / Q4_1 (32-value blocks) or Q4_K / Q6_K (256-value
// super-blocks of eight 32-value slices), row-major. For output C[m, n] over the 32-value
// blocks b of A:
//   Q8_0 / Q4_0 weights: exact = sum_b d_a[b] * d_w[b] * isum_b
//   Q4_1 weights:        exact = sum_b d_a[b] * (d_w[b] * isum_b + m_w[b] * asum_b)
//   Q4_K / Q6_K weights: exact = sum_b d_a[b] * (d_w * (sc0 * isum0_b + sc1 * isum1_b)
//                                                - dmin_w * min * asum_b)
// where isum_b = sum_j qa_j * qw_j (qw = int8, nibble - 8, or nibble respectively; for the
// K-quants isum0 / isum1 sum the slice's values 0..15 / 16..31 with their own integer
// scales, kquant.h) and asum_b = sum_j qa_j. In every case this is sum_k a_k * w_k of the
// exactly dequantized values. Every f16 is mantissa * 2^e with e >= -24, so every term is
// an integer multiple of 2^-48: the sum is accumulated exactly in an int128 with LSB 2^-48
// (terms < 2^22 * 2^25 * 2^58 = 2^105 for the K-quants, less for the others; at most 4096
// blocks -> |sum| < 2^117), then rounded once to f32. The magnitude bounds also mean no
// result is subnormal or infinite.
#include "datanode/ops/exact_float.h"
#include "datanode/ops/kquant.h"
#include "datanode/ops/reference.h"

namespace datanode::ops::reference {
namespace {

// Weight quant j (0..31) of a Q4 block's 16 nibble bytes.
int Nibble(const uint8_t* qs, int j) { return j < 16 ? (qs[j] & 0x0F) : (qs[j - 16] >> 4); }

int128 ShiftedTerm(int64_t mantissa_product, int64_t integer_sum, int exponent) {
  // exponent >= -48 always (two f16 exponents >= -24 each).
  return (int128{mantissa_product} * integer_sum) << (exponent - kQ8FixedPointExponent);
}

// The K-quant rows: block b of A meets slice b % 8 of super-block b / 8.
int128 KQuantDotFixedPoint(OpKind kind, const uint8_t* a_row, const uint8_t* w_row,
                           int64_t num_blocks) {
  const int64_t super_bytes = FindOpInfo(kind)->w_block_bytes;
  int128 acc = 0;
  KQuantSlice slice;
  for (int64_t b = 0; b < num_blocks; ++b) {
    const uint8_t* ab = a_row + b * kQ8_0BlockBytes;
    DecodeKQuantSlice(kind, w_row + (b / kKQuantSlices) * super_bytes,
                      static_cast<int>(b % kKQuantSlices), &slice);
    const ExactValue da = DecodeF16Bits(LoadU16(ab));
    const int8_t* qa = reinterpret_cast<const int8_t*>(ab + 2);
    int64_t isum[2] = {0, 0};
    int64_t asum = 0;
    for (int j = 0; j < kQBlockSize; ++j) {
      isum[j / 16] += int64_t{qa[j]} * slice.q[j];
      asum += qa[j];
    }
    const ExactValue dw = DecodeF16Bits(slice.d_bits);
    acc += ShiftedTerm(da.mantissa * dw.mantissa,
                       slice.scale[0] * isum[0] + slice.scale[1] * isum[1],
                       da.exponent + dw.exponent);
    if (slice.min != 0) {
      const ExactValue dmin = DecodeF16Bits(slice.dmin_bits);
      acc -= ShiftedTerm(da.mantissa * dmin.mantissa, slice.min * asum,
                         da.exponent + dmin.exponent);
    }
  }
  return acc;
}

}  // namespace

__int128 Q8_0DotFixedPoint(OpKind kind, const uint8_t* a_row, const uint8_t* w_row,
                           int64_t num_blocks) {
  if (IsKQuantMatMul(kind)) return KQuantDotFixedPoint(kind, a_row, w_row, num_blocks);
  int64_t w_block_bytes = kQ8_0BlockBytes;
  if (kind == OpKind::kMatMulQ8_0Q4_0) w_block_bytes = kQ4_0BlockBytes;
  if (kind == OpKind::kMatMulQ8_0Q4_1) w_block_bytes = kQ4_1BlockBytes;
  int128 acc = 0;
  for (int64_t b = 0; b < num_blocks; ++b) {
    const uint8_t* ab = a_row + b * kQ8_0BlockBytes;
    const uint8_t* wb = w_row + b * w_block_bytes;
    const ExactValue da = DecodeF16Bits(LoadU16(ab));
    const ExactValue dw = DecodeF16Bits(LoadU16(wb));
    const int8_t* qa = reinterpret_cast<const int8_t*>(ab + 2);
    int64_t isum = 0;
    int64_t asum = 0;
    for (int j = 0; j < kQBlockSize; ++j) {
      int qw = 0;
      switch (kind) {
        case OpKind::kMatMulQ8_0Q4_0:
          qw = Nibble(wb + 2, j) - 8;
          break;
        case OpKind::kMatMulQ8_0Q4_1:
          qw = Nibble(wb + 4, j);
          break;
        default:
          qw = static_cast<int8_t>(wb[2 + j]);
          break;
      }
      isum += int64_t{qa[j]} * qw;
      asum += qa[j];
    }
    acc += ShiftedTerm(da.mantissa * dw.mantissa, isum, da.exponent + dw.exponent);
    if (kind == OpKind::kMatMulQ8_0Q4_1) {
      const ExactValue mw = DecodeF16Bits(LoadU16(wb + 2));
      acc += ShiftedTerm(da.mantissa * mw.mantissa, asum, da.exponent + mw.exponent);
    }
  }
  return acc;
}

void MatMulQ8_0(const OpArgs& args, ByteSpan w) {
  const int64_t blocks = args.k / kQBlockSize;
  const OpInfo& info = *FindOpInfo(args.kind);
  const int64_t w_row_bytes = args.k / info.w_block_values * info.w_block_bytes;
  for (int64_t i = 0; i < args.m; ++i) {
    const uint8_t* a_row = &args.a[i * blocks * kQ8_0BlockBytes];
    for (int64_t j = 0; j < args.n; ++j) {
      const uint8_t* w_row = &w[j * w_row_bytes];
      const int128 exact = Q8_0DotFixedPoint(args.kind, a_row, w_row, blocks);
      StoreU32(&args.out[(i * args.n + j) * 4], RoundToF32Bits(exact, kQ8FixedPointExponent));
    }
  }
}

}  // namespace datanode::ops::reference
