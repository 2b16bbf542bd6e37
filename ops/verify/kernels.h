// Copyright 2026 The datanode Authors.
//
// The per-row loops of the verifier (internal to ops/verify). Each has a portable
// definition (kernels.cc, the readable statement of what is computed) and, where the CPU
// has AVX-512 with IFMA and VNNI, a vectorized one (kernels_avx512.cc) that returns the same
// value; tests/verify compares the two and Avx512Kernels() checks its rounding against the
// spec's RoundToF32Bits once before it is used.
//
// Every function is pure and thread-safe. Sums are exact integers or canonical residues.
#ifndef DATANODE_OPS_VERIFY_KERNELS_H_
#define DATANODE_OPS_VERIFY_KERNELS_H_

#include <cstdint>

#include "ops/verify/field.h"

namespace datanode::ops::verify::internal {

// v = W^T r of an s8 tensor in two layouts: residues mod 2^61 - 1, and the same bytes as 8
// planes of k bytes (plane i holds byte i of every v[k]; v = sum_i plane_i[k] * 2^(8i)).
struct S8Tables {
  const uint64_t* v = nullptr;
  const uint8_t* planes = nullptr;
};

// v = W^T r of a Q8_0-family tensor: canonical residues mod 2^127 - 1 (< 2^127, 16 bytes
// each), stored as 16 byte planes interleaved for VNNI. For each group of 4 consecutive
// columns k = 4g .. 4g + 3 there are 64 bytes, [plane p][k % 4]: byte 4p + (k % 4) of group g
// is byte p of v[k]. One 64-byte load is then the 16 planes of 4 columns, so vpdpbusd
// against a broadcast of 4 quants of A gives, in int32 lane p, sum over those 4 columns of
// q * (byte p of v). K is a multiple of 32 (Q8_0 blocks). StoreQ8V / LoadQ8V are the
// layout's one definition.
struct Q8Tables {
  const uint8_t* v16 = nullptr;  // 16 * K bytes
};
inline constexpr int64_t kQ8VBytesPerColumn = 16;
inline int64_t Q8VByteOffset(int64_t k, int plane) { return 64 * (k / 4) + 4 * plane + k % 4; }
inline void StoreQ8V(uint8_t* v16, int64_t k, uint128 v) {
  for (int p = 0; p < 16; ++p) v16[Q8VByteOffset(k, p)] = static_cast<uint8_t>(v >> (8 * p));
}
inline uint128 LoadQ8V(const uint8_t* v16, int64_t k) {
  uint128 v = 0;
  for (int p = 0; p < 16; ++p) v |= static_cast<uint128>(v16[Q8VByteOffset(k, p)]) << (8 * p);
  return v;
}

// 2^63 * sum_{i < n} r[i] mod q: what the AVX-512 check_q8_row64 takes back off after
// multiplying E + 2^63 >= 0; a property of r, so the verifier computes it once.
inline uint128 RBias(const uint64_t* r, int64_t n) {
  uint128 sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += r[i];  // < 2^52 * 2^64: no wrap for any real n
  return M127::MulPow2(M127::Reduce(sum), 63);
}

// Kernels that read a table of the verifier state (r, v) take up to kMaxRows rows of the
// answer or of A at once, so that the table is read once per group of rows: the verifier is
// bound by memory traffic, and r and v are as large as a row of C and A.
inline constexpr int kMaxRows = 4;

struct Kernels {
  const char* name;
  // out[j] = sum_i c_j[i] * r[i] exactly for rows j < rows, c_j = the n little-endian s32 at
  // c + j * stride, r[i] < 2^52 (|sum| < 2^107 for n <= 2^24).
  void (*dot_s32_r)(const uint8_t* c, int64_t stride, const uint64_t* r, int64_t n, int rows,
                    int128* out);
  // out[j] = sum_i a_j[i] * v[i] exactly, a_j = the k int8 in [-127, 127] at a + j * stride.
  void (*dot_s8_v)(const uint8_t* a, int64_t stride, const S8Tables& v, int64_t k, int rows,
                   int128* out);
  // One output row of kMatMulS8F32: the first j < n where out[j] (f32) is not
  // RoundToF32Bits(a_mant * w_mant[j] * isum[j], a_exp + w_exp[j]) (isum = the n
  // little-endian s32 exact sums; a_scale = a_mant * 2^a_exp, w_scale[j] likewise), else -1.
  int64_t (*first_bad_s8f32_row)(const uint8_t* isum, const uint8_t* out, int64_t a_mant, int a_exp,
                                 const int32_t* w_mant, const int16_t* w_exp, int64_t n);
  // One output row of the Q8_0 family: E = n little-endian int128 exact sums (LSB 2^-48),
  // out = n f32. Sets *first_bad to the first i with |E[i]| >= 2^112 (*out_of_range =
  // true) or out[i] != RoundToF32Bits(E[i], -48) (*out_of_range = false), else -1 and
  // returns sum_i E[i] * r[i] mod q (r[i] < 2^52). The return value is meaningless when
  // *first_bad >= 0.
  uint128 (*check_q8_row)(const uint8_t* e, const uint8_t* out, const uint64_t* r, int64_t n,
                          int64_t* first_bad, bool* out_of_range);
  // The same for the compact encoding: E = n little-endian int64 (always in range). Sets
  // *first_bad to the first i with out[i] != RoundToF32Bits(E[i], -48), else -1.
  // r_bias = RBias(r, n) (the AVX-512 kernel's offset; the portable one ignores it).
  uint128 (*check_q8_row64)(const uint8_t* e, const uint8_t* out, const uint64_t* r, int64_t n,
                            uint128 r_bias, int64_t* first_bad);
  // out[j] = sum_k a24_j[k] * v[k] mod q for the Q8_0 rows at a + j * stride (`blocks`
  // blocks each): a24 = d * q * 2^24 (an integer: every f16 is a multiple of 2^-24). Also
  // validates the rows (the checks of ValidateInputValues, done here so that A is read
  // once): *valid = false, and meaningless sums, if a scale is not finite or a quant -128.
  void (*dot_q8_v)(const uint8_t* a, int64_t stride, const Q8Tables& v, int64_t blocks, int rows,
                   uint128* out, bool* valid);
};

// The portable kernels.
const Kernels& PortableKernels();
// The AVX-512 kernels when this CPU has AVX512F/BW/DQ/VL/CD, IFMA and VNNI (and their
// start-up check passed); nullptr otherwise.
const Kernels* Avx512Kernels();
// The kernels Verify uses: AVX-512 where available, else portable.
// DATANODE_VERIFY_ISA=portable forces the portable ones (for comparisons).
const Kernels& ActiveKernels();

}  // namespace datanode::ops::verify::internal

#endif  // DATANODE_OPS_VERIFY_KERNELS_H_
