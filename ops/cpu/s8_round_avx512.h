// Copyright 2026 The datanode Authors.
//
// AVX-512 epilogue of kMatMulS8F32: rounds a finished int32 tile to f32 with the
// spec's single rounding (docs/determinism.md §3.2, §5), 8 outputs per step.
#ifndef DATANODE_OPS_CPU_S8_ROUND_AVX512_H_
#define DATANODE_OPS_CPU_S8_ROUND_AVX512_H_

#include <cstdint>

#include "ops/cpu/s8_pack.h"

namespace datanode::ops::cpu {

// Whether the vector epilogue may run on this thread now: it needs AVX-512 F/DQ and
// the default MXCSR flush behaviour (no FTZ, no DAZ), which some libraries change.
// Rounding direction does not matter (every instruction carries its own).
bool CanRoundTileAvx512();

// Rounds the int32 values of columns [0, returned count) of a rows x cols tile at c (row
// stride n elements) in place to f32 bits: c[r][j] = round_f32(row_scales[r] *
// col_scales[j] * c[r][j]), the same bits as RoundS8ProductToF32Bits. Handles whole
// groups of 8 columns; the caller rounds the remaining cols % 8 with the scalar routine.
// Requires CanRoundTileAvx512().
int RoundTileToF32Avx512(uint8_t* c, int64_t n, int rows, int cols, const S8Scale* row_scales,
                         const S8Scale* col_scales);

}  // namespace datanode::ops::cpu

#endif  // DATANODE_OPS_CPU_S8_ROUND_AVX512_H_
