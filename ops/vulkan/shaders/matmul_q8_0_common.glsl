// Copyright 2026 The datanode Authors.
//
// What the Q8_0-family matmul kernels share (matmul_q8_0_tile.glsl for larger M,
// matmul_q8_0_gemv.glsl for small M): the operand bindings, quant unpacking and the
// per-format scale decoding. Included after W_FORMAT is set, not a kernel itself.
//
// Device layouts (written by ops/vulkan/weight_packing.cc, which documents them):
// a_qs: 8 words (32 int8) per Q8_0 block, a_d: one word per block (f16 bits of d).
//   Q8_0 / Q4_0 / Q4_1 W: w_qs 8 (Q8_0) or 4 (Q4: 16 nibble bytes, low nibbles values
//     0..15, high nibbles 16..31) words per block; w_d one word per block, f16 d in
//     bits 0..15 and (Q4_1) f16 m in bits 16..31.
//   Q4_K / Q6_K W: per 256-value super-block sb (all columns' super-blocks in order,
//     index col * (blocks / 8) + block / 8) and slice s = block % 8:
//     w_qs Q4_K: uvec4 8 sb + s, the slice's nibbles as Q4_1;
//     w_qs Q6_K: uvec4 12 sb + s the low 4 bits as Q4_1, uvec4 12 sb + 8 + s / 2 the top
//       2 bits (.xy for even s, .zw for odd s);
//     w_d: 5 words at 5 sb: f16 d | f16 dmin << 16, then 16 bytes of sub-scales (Q4_K:
//       8 scales, 8 mins, 6-bit; Q6_K: 16 int8, two per slice).
// Rows are padded with zero blocks to the tile (loads need no bounds checks).
#ifndef DATANODE_VULKAN_MATMUL_Q8_0_COMMON_GLSL_
#define DATANODE_VULKAN_MATMUL_Q8_0_COMMON_GLSL_

#include "exact_int.glsl"

#define W_Q8_0 0
#define W_Q4_0 1
#define W_Q4_1 2
#define W_Q4_K 3
#define W_Q6_K 4

// W_WORDS: quant words of W per 32-value block; W_VEC4: uvec4 loads of them from w_qs
// (Q6_K: one uvec4 of low bits + half a uvec4 of top bits, loaded by q6_k_words).
#if W_FORMAT == W_Q8_0
#define W_WORDS 8
#define W_VEC4 2
#elif W_FORMAT == W_Q6_K
#define W_WORDS 6
#define W_VEC4 1
#else
#define W_WORDS 4
#define W_VEC4 1
#endif
// Formats with a second (min) term per block: d_a * m * asum.
#define W_HAS_MIN (W_FORMAT == W_Q4_1 || W_FORMAT == W_Q4_K)
#define W_KQUANT (W_FORMAT == W_Q4_K || W_FORMAT == W_Q6_K)
#define KQ_SLICES 8u

layout(std430, binding = 0) readonly buffer AQsBuf { uvec4 a_qs[]; };
layout(std430, binding = 1) readonly buffer ADBuf { uint a_d[]; };
layout(std430, binding = 2) readonly buffer WQsBuf { uvec4 w_qs[]; };
layout(std430, binding = 3) readonly buffer WDBuf { uint w_d[]; };
layout(std430, binding = 4) writeonly buffer CBuf { uint c[]; };
#ifdef EXACT_OUT
// The exact-output variants only (matmul_q8_0_*_exact.comp, Backend::WritesExactSums):
// E[row * n + col] = the element's 128-bit accumulator before its one rounding, i.e. the
// exact sum in units of 2^-48 (every add_term shift is exponent sum + 48) as two's
// complement; a uvec4 with .x the least significant limb is exactly the int128
// little-endian bytes verify::ComputeExactSums writes. The plain kernels have no binding 5.
layout(std430, binding = 5) writeonly buffer EBuf { uvec4 e[]; };
#endif

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

// acc += (mantissa_product * integer_sum) << shift; the product must fit in 64 bits.
uvec4 add_term(uvec4 acc, int mantissa_product, int integer_sum, int shift) {
  int hi, lo;
  imulExtended(mantissa_product, integer_sum, hi, lo);
  return u128_add(acc, s64_shl_to_128(uint(lo), uint(hi), uint(shift)));
}

#if W_FORMAT == W_Q4_K
// Slice s of super-block sb: the weight of value i is d * sc * q_i - dmin * mn. Returns
// d * sc as mantissa dm * 2^de and -(dmin * mn) as mm * 2^me: f16 mantissas < 2^11
// times 6-bit integers, so |dm|, |mm| < 2^17.
void q4_k_scales(uint sb, uint s, out int dm, out int de, out int mm, out int me) {
  uint base = sb * 5u;
  uint dw = w_d[base];
  decode_f16(dw & 0xFFFFu, dm, de);
  decode_f16(dw >> 16, mm, me);
  int off = int(8u * (s % 4u));
  int sc = int(bitfieldExtract(w_d[base + 1u + s / 4u], off, 8));
  int mn = int(bitfieldExtract(w_d[base + 3u + s / 4u], off, 8));
  dm *= sc;
  mm = -(mm * mn);
}
#endif

#if W_FORMAT == W_Q6_K
// Slice s of super-block sb: the weight of value i is d * sc_{i / 16} * q_i. Returns d
// as dm * 2^de (|dm| < 2^11) and the two int8 sub-block scales.
void q6_k_scales(uint sb, uint s, out int dm, out int de, out int sc0, out int sc1) {
  uint base = sb * 5u;
  decode_f16(w_d[base] & 0xFFFFu, dm, de);
  int word = int(w_d[base + 1u + s / 2u]);
  int off = int(16u * (s % 2u));
  sc0 = bitfieldExtract(word, off, 8);  // sign-extending
  sc1 = bitfieldExtract(word, off + 8, 8);
}

// The quant words of slice s of super-block sb: low 4 bits (as Q4) and top 2 bits.
void q6_k_words(uint sb, uint s, out uvec4 low, out uvec2 high) {
  low = w_qs[sb * 12u + s];
  uvec4 h = w_qs[sb * 12u + 8u + s / 2u];
  high = (s % 2u) == 0u ? h.xy : h.zw;
}

// The signed quants (q6 - 32, in [-32, 31]) of the four byte lanes of low-bit word kw at
// nibble `shift` (0: values 4 kw + i, top bits in high.x; 4: values 16 + 4 kw + i, top
// bits in high.y), `high_word` being the matching top-bit word.
ivec4 q6x4(uint low_word, int shift, uint high_word, int kw) {
  uint v = ((low_word >> uint(shift)) & 0x0F0F0F0Fu) |
           (((high_word >> uint(2 * kw)) & 0x03030303u) << 4);
  return s8x4(v) - ivec4(32);  // lanes in [0, 63]: s8x4 reads them unsigned
}
#endif

int hsum(ivec4 v) { return v.x + v.y + v.z + v.w; }

#endif  // DATANODE_VULKAN_MATMUL_Q8_0_COMMON_GLSL_
