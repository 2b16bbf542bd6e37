// Copyright 2026 The datanode Authors.
//
// The reference implementation: the spec (docs/determinism.md) in scalar, obviously
// correct code. It is the oracle every other backend is compared against, byte for
// byte. Speed is not a goal here. Each function requires ValidateOp() to have passed
// and writes args.out (and args.out_scale); all are thread-safe and pure.
#ifndef DATANODE_OPS_REFERENCE_H_
#define DATANODE_OPS_REFERENCE_H_

#include <memory>

#include "datanode/ops/backend.h"
#include "datanode/ops/types.h"

namespace datanode::ops::reference {

// kMatMulS8S32. w: s8[N,K].
void MatMulS8S32(const OpArgs& args, ByteSpan w);
// kMatMulS8F32. w: s8[N,K], w_scale: f32[N].
void MatMulS8F32(const OpArgs& args, ByteSpan w, ByteSpan w_scale);
// kMatMulQ8_0Q8_0 / kMatMulQ8_0Q4_0 / kMatMulQ8_0Q4_1 (args.kind selects the W format).
void MatMulQ8_0(const OpArgs& args, ByteSpan w);
// kQuantizeS8Row.
void QuantizeS8Row(const OpArgs& args);
// kQuantizeQ8_0.
void QuantizeQ8_0(const OpArgs& args);

// Dispatches on args.kind (W taken from args.w or RawPreparedWeights via `backend`).
absl::Status Run(const Backend& backend, const OpArgs& args);

// The exact value of C[m, n] of a Q8_0-family matmul as a fixed-point integer with
// LSB 2^kQ8FixedPointExponent (every term d_a * d_w * isum is a multiple of 2^-48 since
// f16 scales are multiples of 2^-24). `a_row` and `w_row` are one row of blocks each.
// Exposed so optimized backends can reuse the exact slow path for rare inputs.
inline constexpr int kQ8FixedPointExponent = -48;
__int128 Q8_0DotFixedPoint(OpKind kind, const uint8_t* a_row, const uint8_t* w_row,
                           int64_t num_blocks);

std::unique_ptr<Backend> CreateReferenceBackend();

}  // namespace datanode::ops::reference

#endif  // DATANODE_OPS_REFERENCE_H_
