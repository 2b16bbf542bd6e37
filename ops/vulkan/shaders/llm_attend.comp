// Copyright 2026 The datanode Authors.
//
// Llm Attend (spec §8.10, ops/reference/llm_attention.cc), one workgroup per query head h
// (KV head h / group), 256 invocations:
//  1. q_j rounded to f16 (saturating at +-65504); D_p = sum_j q_j k_pj exactly in 128-bit
//     fixed point, LSB 2^-48 (each term: f16 mantissa product << exponent sum + 48, as
//     the Q8 matmul's add_term); invocation t owns positions p = t (mod 256).
//  2. Dmax (shared-memory max), diff_p = Dmax - D_p; y_p = diff_p >= 2^59 ? 2^42 :
//     min(floor(diff_p * C / 2^58), 2^42), C = log2(e) / sqrt(head_dim) in Q.40 (host).
//  3. w_p = WeightQ40(Exp2NegQ30(y_p)); total = sum w_p (exact u64).
//  4. out_j = round_f32(sum_p w_p v_pj 2^-24 / total): exact 128-bit numerator (positive
//     and negative terms kept apart, combined once), then RoundQuotient128ToF32Bits:
//     normalize to 126 bits, long division with a sticky bit, one rounding.
// D_p and then w_p live in a scratch buffer (n_heads * n_positions entries).
#version 450
#extension GL_GOOGLE_include_directive : require

#include "llm_fixed.glsl"

#define WG 256u

layout(local_size_x = 256, local_size_y = 1, local_size_z = 1) in;

layout(std430, binding = 0) readonly buffer QBuf { uint q[]; };         // f32 bits
layout(std430, binding = 1) readonly buffer KBuf { uint k_words[]; };   // f16 pairs
layout(std430, binding = 2) readonly buffer VBuf { uint v_words[]; };   // f16 pairs
layout(std430, binding = 3) coherent buffer ScratchBuf { uvec4 scratch[]; };
layout(std430, binding = 4) writeonly buffer OutBuf { uint out_bits[]; };

layout(push_constant) uniform Params {
  uint n_heads;
  uint head_dim;     // multiple of 32, <= 512
  uint group;        // n_heads / n_kv_heads
  uint row_values;   // n_kv_heads * head_dim (values per cache row)
  uint n_positions;
  uint c_lo;         // C (Q.40), low and high words
  uint c_hi;
} params;

shared int q_mant[512];
shared int q_exp[512];  // f16 exponent + 24, in [0, 29]
shared uvec4 red128[256];
shared uvec2 red64[256];

uint half_at(uint word, uint index) { return (index & 1u) != 0u ? (word >> 16) : (word & 0xFFFFu); }

bool s128_less(uvec4 a, uvec4 b) {
  const uvec4 flip = uvec4(0u, 0u, 0u, 0x80000000u);
  return u128_less(a ^ flip, b ^ flip);
}

// RoundQuotient128ToF32Bits(+-mag, exponent, den), den in (0, 2^63).
uint round_quotient(uvec4 mag, bool negative, int exponent, uvec2 den) {
  if (all(equal(mag, uvec4(0u)))) return 0u;
  int shift = 126 - u128_bit_length(mag);
  mag = u128_shl(mag, shift);
  uvec4 quo = uvec4(0u);
  uvec2 rem = uvec2(0u);
  for (int i = 125; i >= 0; --i) {
    rem = u64_shl(rem, 1);
    rem.x |= (u128_limb(mag, i >> 5) >> uint(i & 31)) & 1u;
    if (!u64_less(rem, den)) {
      rem = u64_sub(rem, den);
      quo[i >> 5] |= 1u << uint(i & 31);
    }
  }
  if (!u64_is_zero(rem)) quo.x |= 1u;  // sticky
  return round_ieee_bits(quo, negative, exponent - shift, 23, 8);
}

void main() {
  uint h = gl_WorkGroupID.x;
  uint t = gl_LocalInvocationID.x;
  uint hd = params.head_dim;
  uint np = params.n_positions;
  uint kv_off = (h / params.group) * hd;
  uint sbase = h * np;

  for (uint j = t; j < hd; j += WG) {
    int fm, fe;
    decode_f16(round_f16_sat_bits(q[h * hd + j]), fm, fe);
    q_mant[j] = fm;
    q_exp[j] = fe + 24;
  }
  barrier();

  // Step 1.
  uvec4 local_max = uvec4(0u, 0u, 0u, 0x80000000u);  // below every dot
  for (uint p = t; p < np; p += WG) {
    uint base = p * params.row_values + kv_off;  // even
    uvec4 dot = uvec4(0u);
    for (uint j = 0u; j < hd; j += 2u) {
      uint word = k_words[(base + j) >> 1];
      for (uint i = 0u; i < 2u; ++i) {
        int km, ke;
        decode_f16(half_at(word, i), km, ke);
        int prod = q_mant[j + i] * km;  // |prod| < 2^22
        dot = u128_add(dot, s64_shl_to_128(uint(prod), uint(prod >> 31),
                                           uint(q_exp[j + i] + ke + 24)));
      }
    }
    scratch[sbase + p] = dot;
    if (s128_less(local_max, dot)) local_max = dot;
  }
  red128[t] = local_max;
  barrier();
  for (uint w = WG / 2u; w > 0u; w >>= 1) {
    if (t < w && s128_less(red128[t], red128[t + w])) red128[t] = red128[t + w];
    barrier();
  }
  uvec4 dmax = red128[0];

  // Steps 2-3.
  const uvec2 kCap = uvec2(0u, 1u << 10);  // 2^42
  uvec2 c = uvec2(params.c_lo, params.c_hi);
  uvec2 local_total = uvec2(0u);
  for (uint p = t; p < np; p += WG) {
    uvec4 diff = u128_sub(dmax, scratch[sbase + p]);  // >= 0
    uvec2 y = kCap;
    if (diff.w == 0u && diff.z == 0u && diff.y < (1u << 27)) {  // diff < 2^59
      uvec4 prod = u64_mul_to_128(diff.xy, c);
      if (prod.w < 16u) y = uvec2(u128_extract32(prod, 58), u128_extract32(prod, 90));  // < 2^42
      if (!u64_less(y, kCap)) y = kCap;
    }
    int k;
    uint e = exp2_neg_q30(y, k);
    int shift = k + 10;
    uvec2 w = shift >= 0 ? u64_shl(uvec2(e, 0u), shift)
                         : (shift <= -31 ? uvec2(0u) : uvec2(e >> uint(-shift), 0u));
    scratch[sbase + p] = uvec4(w, 0u, 0u);
    local_total = u64_add(local_total, w);
  }
  red64[t] = local_total;
  memoryBarrierBuffer();
  barrier();
  for (uint w = WG / 2u; w > 0u; w >>= 1) {
    if (t < w) red64[t] = u64_add(red64[t], red64[t + w]);
    barrier();
  }
  uvec2 total = red64[0];

  // Step 4.
  for (uint j = t; j < hd; j += WG) {
    uvec4 acc_pos = uvec4(0u);
    uvec4 acc_neg = uvec4(0u);
    for (uint p = 0u; p < np; ++p) {
      uvec2 w = scratch[sbase + p].xy;
      if (u64_is_zero(w)) continue;
      uint idx = p * params.row_values + kv_off + j;
      int vm, ve;
      decode_f16(half_at(v_words[idx >> 1], idx), vm, ve);
      if (vm == 0) continue;
      uvec4 term = u128_shl(u64_mul_to_128(w, uvec2(uint(abs(vm)), 0u)), ve + 24);
      if (vm > 0) {
        acc_pos = u128_add(acc_pos, term);
      } else {
        acc_neg = u128_add(acc_neg, term);
      }
    }
    bool negative;
    uvec4 mag = signed_sum(acc_pos, false, acc_neg, true, negative);
    out_bits[h * hd + j] = round_quotient(mag, negative, -24, total);
  }
}
