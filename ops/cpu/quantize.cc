// Copyright 2026 The datanode Authors.
#include "ops/cpu/quantize.h"

#include <algorithm>

#include "datanode/ops/exact_float.h"
#include "datanode/ops/reference.h"
#include "ops/cpu/row_split.h"
#include "ops/reference/quantize_common.h"

namespace datanode::ops::cpu {
namespace {

// reference::QuantizeExact(DecodeF32Bits(x_bits), d) with 64-bit integers where the
// operands provably fit, the reference's int128 routine elsewhere. The quotient x / d is
// the same rational either way: x = mag * 2^xe (mag < 2^24), d = dm * 2^de (0 < dm < 2^11),
// so for shift = xe - de >= 0 it is (mag << shift) / dm, exact in uint64 while shift <= 38
// (< 2^62), and for shift < 0 it is mag / (dm << -shift), exact while -shift <= 51
// (< 2^62). Rounding (half to even on the magnitude, then the sign) and the clamp to
// [-127, 127] are the reference's (DivRoundHalfEven is sign-symmetric).
inline int8_t QuantizeElement(uint32_t x_bits, ExactValue d) {
  const uint32_t e = (x_bits >> 23) & 0xFF;
  const uint64_t frac = x_bits & 0x7FFFFFu;
  if (e == 0 && frac == 0) return 0;  // +-0
  const int shift = (e == 0 ? 1 : static_cast<int>(e)) - 150 - d.exponent;
  if (e == 0xFF || shift > 38 || shift < -51 || d.mantissa <= 0 || d.mantissa >= 2048) {
    return reference::QuantizeExact(DecodeF32Bits(x_bits), d);
  }
  const uint64_t mag = e == 0 ? frac : (frac | 0x800000u);
  const uint64_t n = shift >= 0 ? mag << shift : mag;
  const uint64_t den = shift >= 0 ? static_cast<uint64_t>(d.mantissa)
                                  : static_cast<uint64_t>(d.mantissa) << -shift;
  uint64_t q = n / den;
  const uint64_t rem = n - q * den;
  if (rem > den - rem || (rem == den - rem && (q & 1) != 0)) ++q;
  const int v = static_cast<int>(std::min<uint64_t>(q, 127));
  return static_cast<int8_t>((x_bits >> 31) != 0 ? -v : v);
}

}  // namespace

void QuantizeQ8_0Rows(const OpArgs& args) {
  const int64_t blocks_per_row = args.k / kQBlockSize;
  for (int64_t r = 0; r < args.m; ++r) {
    for (int64_t b = 0; b < blocks_per_row; ++b) {
      const uint8_t* x = &args.a[(r * args.k + b * kQBlockSize) * 4];
      uint8_t* block = &args.out[(r * blocks_per_row + b) * kQ8_0BlockBytes];
      // The block scale exactly as reference::QuantizeQ8_0 computes it.
      const ExactValue amax = DecodeF32Bits(reference::MaxAbsBits(x, kQBlockSize));
      const uint16_t d_bits =
          amax.mantissa == 0 ? 0 : RoundQuotientToF16Bits(amax.mantissa, amax.exponent, 127);
      StoreU16(block, d_bits);
      const ExactValue d = DecodeF16Bits(d_bits);
      for (int j = 0; j < kQBlockSize; ++j) {
        const int8_t q = d.mantissa == 0 ? 0 : QuantizeElement(LoadU32(x + 4 * j), d);
        block[2 + j] = static_cast<uint8_t>(q);
      }
    }
  }
}

absl::Status Quantize(const OpArgs& args, Isa /*isa*/, ThreadPool& pool) {
  // Quantizing is O(M*K), small beside the matmul it feeds: the reference's exact integer
  // routine (Q8_0 with its division in 64 bits where that is exact), split over rows.
  constexpr int64_t kRowsPerTask = 4;
  const int64_t tasks = (args.m + kRowsPerTask - 1) / kRowsPerTask;
  pool.ParallelFor(tasks, [&](int64_t t) {
    const int64_t begin = t * kRowsPerTask;
    const int64_t end = std::min(args.m, begin + kRowsPerTask);
    const OpArgs slice = RowSlice(args, begin, end);
    if (args.kind == OpKind::kQuantizeS8Row) {
      reference::QuantizeS8Row(slice);
    } else {
      QuantizeQ8_0Rows(slice);
    }
  });
  return absl::OkStatus();
}

}  // namespace datanode::ops::cpu
