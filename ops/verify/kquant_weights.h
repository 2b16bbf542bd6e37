// Copyright 2026 The datanode Authors.
//
// The K-quant weights (Q4_K, Q6_K; docs/determinism.md §3.4) as exact integers in units of
// 2^-24, for the verified mode's producer (exact sums) and verifier (v = W^T r): every
// value d * sc * q - dmin * mn (Q4_K) or d * sc * q (Q6_K) is a multiple of 2^-24 because an
// f16 is mantissa * 2^e with e >= -24. Magnitudes: Q4_K < 2^40 * 63 * 15 + 2^40 * 63 < 2^50,
// Q6_K < 2^40 * 128 * 32 = 2^52. The one decoder of the bits is kquant.h's.
#ifndef DATANODE_OPS_VERIFY_KQUANT_WEIGHTS_H_
#define DATANODE_OPS_VERIFY_KQUANT_WEIGHTS_H_

#include <cstdint>

#include "datanode/ops/types.h"

namespace datanode::ops::verify {

// d * 2^24 for an f16 d: mantissa * 2^(exponent + 24), an integer below 2^40 in magnitude
// (exponent >= -24). The block scales of A and of every weight format in units of 2^-24.
int64_t F16Times2To24(uint16_t bits);

// The largest |w24| a K-quant weight can have (Q6_K's bound; Q4_K's is smaller).
inline constexpr int kKQuantWeight24Bits = 52;

// Writes row `w_row` (k / 256 super-blocks of `kind`, already validated) as k integers
// w24[j] = w_j * 2^24.
void DecodeKQuantRow24(OpKind kind, const uint8_t* w_row, int64_t k, int64_t* w24);

}  // namespace datanode::ops::verify

#endif  // DATANODE_OPS_VERIFY_KQUANT_WEIGHTS_H_
