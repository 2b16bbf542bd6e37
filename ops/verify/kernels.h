// Copyright 2026 The datanode Authors.
//
// The per-row loops of the verifier (internal to ops/verify). Each has a portable
// definition (kernels.cc, the readable statement of what is computed) and, where the CPU
// has AVX-512, a vectorized one (kernels_avx512.cc) that must return the same value;
// tests/verify compares the two. The `Kernels` table is chosen once per process.
//
// Every function is pure and thread-safe. Sums are exact integers or canonical residues.
#ifndef DATANODE_OPS_VERIFY_KERNELS_H_
#define DATANODE_OPS_VERIFY_KERNELS_H_

#include <cstdint>

#include "ops/verify/field.h"

namespace datanode::ops::verify::internal {

struct Kernels {
  const char* name;
  // sum_i c[i] * r[i] exactly, c = n little-endian s32, r[i] < 2^52 (|sum| < 2^107 for
  // n <= 2^24).
  int128 (*dot_s32_r)(const uint8_t* c, const uint64_t* r, int64_t n);
  // sum_i a[i] * v[i] exactly, a = k int8 in [-127, 127], v[i] < 2^61.
  int128 (*dot_s8_v)(const uint8_t* a, const uint64_t* v, int64_t k);
  // sum_i E[i] * r[i] mod q, E = n little-endian int128 with |E| < 2^112 (checked before),
  // r[i] < 2^52.
  uint128 (*dot_e128_r)(const uint8_t* e, const uint64_t* r, int64_t n);
  // sum_k a24[k] * v[k] mod q for one Q8_0 row of `blocks` blocks: a24 = d * q * 2^24 (an
  // integer: every f16 is a multiple of 2^-24), v[k] = v_hi[k] * 2^64 + v_lo[k] < q.
  // The row must be valid (finite scales, quants in [-127, 127]).
  uint128 (*dot_q8_v)(const uint8_t* a_row, const uint64_t* v_lo, const uint64_t* v_hi,
                      int64_t blocks);
  // First index i < n where |E[i]| >= 2^112 or out[i] != round_f32(E[i] * 2^-48) (the
  // spec's single rounding, RoundToF32Bits), or -1. Sets *out_of_range to say which.
  int64_t (*first_bad_q8_output)(const uint8_t* e, const uint8_t* out, int64_t n,
                                 bool* out_of_range);
};

// The portable kernels.
const Kernels& PortableKernels();
// The AVX-512 kernels when this CPU has AVX512F/BW/DQ/VL, IFMA and VNNI and the binary was
// built with them; nullptr otherwise.
const Kernels* Avx512Kernels();
// The kernels Verify uses: AVX-512 where available, else portable. Overridden by
// DATANODE_VERIFY_ISA=portable (for comparisons).
const Kernels& ActiveKernels();

}  // namespace datanode::ops::verify::internal

#endif  // DATANODE_OPS_VERIFY_KERNELS_H_
