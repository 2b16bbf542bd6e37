// Copyright 2026 The datanode Authors.
//
// Helpers shared by the Q8_0-family matmul kernels (matmul_q8_0_tile.glsl for M > 8,
// matmul_q8_0_gemv.glsl for small M); included after W_FORMAT is set, not a kernel
// itself. Block layouts: see matmul_q8_0_tile.glsl.
#ifndef DATANODE_VULKAN_MATMUL_Q8_0_COMMON_GLSL_
#define DATANODE_VULKAN_MATMUL_Q8_0_COMMON_GLSL_

#include "exact_int.glsl"

#define W_Q8_0 0
#define W_Q4_0 1
#define W_Q4_1 2

#if W_FORMAT == W_Q8_0
#define W_WORDS 8
#else
#define W_WORDS 4
#endif
#define W_VEC4 (W_WORDS / 4)

ivec4 s8x4(uint word) {
  int w = int(word);
  return ivec4(bitfieldExtract(w, 0, 8), bitfieldExtract(w, 8, 8), bitfieldExtract(w, 16, 8),
               bitfieldExtract(w, 24, 8));
}

// Nibbles at bit offset `shift` (0 = low, 4 = high) of the four bytes of a word.
ivec4 nibbles(uint word, int shift) {
  ivec4 v = ivec4(int(bitfieldExtract(word, shift, 4)), int(bitfieldExtract(word, 8 + shift, 4)),
                  int(bitfieldExtract(word, 16 + shift, 4)),
                  int(bitfieldExtract(word, 24 + shift, 4)));
#if W_FORMAT == W_Q4_0
  v -= ivec4(8);
#endif
  return v;
}

// acc += (mantissa_product * integer_sum) << shift.
uvec4 add_term(uvec4 acc, int mantissa_product, int integer_sum, int shift) {
  int hi, lo;
  imulExtended(mantissa_product, integer_sum, hi, lo);
  return u128_add(acc, s64_shl_to_128(uint(lo), uint(hi), uint(shift)));
}

#endif  // DATANODE_VULKAN_MATMUL_Q8_0_COMMON_GLSL_
