// Copyright 2026 The datanode Authors.
//
// Input validity of spec version 1 (docs/determinism.md, "Input validity"). Every
// backend relies on these checks having passed; RunOp() (backend.h) performs them.
// All functions are thread-safe and return INVALID_ARGUMENT with a message naming
// the op, the operand and (for values) the first offending index.
#ifndef DATANODE_OPS_VALIDATE_H_
#define DATANODE_OPS_VALIDATE_H_

#include "absl/status/status.h"
#include "datanode/ops/types.h"

namespace datanode::ops {

// Shapes and buffer sizes only (O(1)). Checks every span has exactly the size
// ComputeOperandSizes() demands (W and w_scale are exempt when w_prepared is set,
// in which case the prepared weights' kind and shape must match).
absl::Status ValidateShapes(const OpArgs& args);

// The A-side / input values (O(M*K)): int8 in [-127, 127], finite f32 / f16 scales,
// finite quantize inputs within range.
absl::Status ValidateInputValues(const OpArgs& args);

// The weight values (O(N*K)) of a matmul of `kind`: int8 / Q8_0 quants in [-127, 127],
// finite f16 block scales (and mins), finite f32 w_scale (pass empty for non-scaled).
absl::Status ValidateWeightValues(OpKind kind, int64_t n, int64_t k, ByteSpan w,
                                  ByteSpan w_scale);

// ValidateShapes + ValidateInputValues + (unless w_prepared) ValidateWeightValues.
absl::Status ValidateOp(const OpArgs& args);

}  // namespace datanode::ops

#endif  // DATANODE_OPS_VALIDATE_H_
