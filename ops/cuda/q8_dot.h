// Copyright 2026 The datanode Authors.
//
// The exact value of one output of a Q8_0 x {Q8_0, Q4_0, Q4_1} matmul (DN_HD), used by
// matmul_q8.cu on the device and by tests/cuda/ on the host, where it is compared with
// reference::Q8_0DotFixedPoint. Per block b (32 values):
//   Q8_0 / Q4_0 W: term = d_a * d_w * isum_b
//   Q4_1 W:        term = d_a * (d_w * isum_b + m_w * asum_b)
// Each f16 scale is mantissa * 2^e with e >= -24, so every term is an integer multiple
// of 2^-48 and the sum is accumulated exactly in an int128 with LSB 2^-48 (|sum| <
// 2^112 for K <= 131071), then rounded once (exact_math.cuh). Blocks are read byte by
// byte: ggml blocks (34 / 18 / 20 bytes) have no alignment.
#ifndef DATANODE_OPS_CUDA_Q8_DOT_H_
#define DATANODE_OPS_CUDA_Q8_DOT_H_

#include <cstdint>

#include "ops/cuda/exact_math.cuh"
#include "ops/cuda/host_device.h"

namespace datanode::ops::cuda {

enum class Q8WeightFormat : int { kQ8_0 = 0, kQ4_0 = 1, kQ4_1 = 2 };

inline constexpr int kQ8FixedExponent = -48;
inline constexpr int kQ8ABlockBytes = 34;

DN_HD constexpr int Q8WeightBlockBytes(Q8WeightFormat f) {
  return f == Q8WeightFormat::kQ8_0 ? 34 : (f == Q8WeightFormat::kQ4_0 ? 18 : 20);
}

DN_HD uint32_t Load4(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}

DN_HD uint16_t Load2(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

// d_x * d_y * s as a multiple of 2^-48 (exponent sum >= -48; |product| < 2^22 * 2^21).
DN_HD i128 FixedTerm(ExactParts x, ExactParts y, int32_t s) {
  return (i128(x.mantissa * y.mantissa) * s) << (x.exponent + y.exponent - kQ8FixedExponent);
}

// The exact sum over blocks first, first + stride, ... < num_blocks. A warp of the
// kernel gives lane l first = l, stride = 32 and adds the 32 partial sums: integer
// addition, so the split cannot change the total.
DN_HD i128 Q8DotFixedStrided(Q8WeightFormat format, const uint8_t* a_row, const uint8_t* w_row,
                             int64_t num_blocks, int64_t first, int64_t stride) {
  const int w_bytes = Q8WeightBlockBytes(format);
  i128 acc = 0;
  for (int64_t b = first; b < num_blocks; b += stride) {
    const uint8_t* ab = a_row + b * kQ8ABlockBytes;
    const uint8_t* wb = w_row + b * w_bytes;
    const ExactParts da = DecodeF16(Load2(ab));
    const ExactParts dw = DecodeF16(Load2(wb));
    int32_t isum = 0;
    int32_t asum = 0;
    if (format == Q8WeightFormat::kQ8_0) {
      for (int j = 0; j < 32; j += 4) isum = Dot4S8(Load4(ab + 2 + j), Load4(wb + 2 + j), isum);
    } else {
      const uint8_t* qs = wb + (format == Q8WeightFormat::kQ4_1 ? 4 : 2);
      // Value j is the low nibble of qs[j], value j + 16 the high nibble; Q4_0 stores
      // nibble - 8. Each byte lane is first biased by +128 (guard bit 0x80) so that
      // subtracting 8 cannot borrow across lanes; XOR 0x80 then removes the bias,
      // since byte (v + 128) ^ 0x80 read as int8 is v for v in [-128, 127].
      const uint32_t bias = format == Q8WeightFormat::kQ4_0 ? 0x08080808u : 0u;
      for (int j = 0; j < 16; j += 4) {
        const uint32_t packed = Load4(qs + j);
        const uint32_t lo = ((packed & 0x0F0F0F0Fu) | 0x80808080u) - bias;
        const uint32_t hi = (((packed >> 4) & 0x0F0F0F0Fu) | 0x80808080u) - bias;
        isum = Dot4S8(Load4(ab + 2 + j), lo ^ 0x80808080u, isum);
        isum = Dot4S8(Load4(ab + 18 + j), hi ^ 0x80808080u, isum);
      }
      if (format == Q8WeightFormat::kQ4_1) {
        for (int j = 0; j < 32; j += 4) asum = Dot4S8(Load4(ab + 2 + j), 0x01010101u, asum);
      }
    }
    acc += FixedTerm(da, dw, isum);
    if (format == Q8WeightFormat::kQ4_1) acc += FixedTerm(da, DecodeF16(Load2(wb + 2)), asum);
  }
  return acc;
}

// The whole row.
DN_HD i128 Q8DotFixed(Q8WeightFormat format, const uint8_t* a_row, const uint8_t* w_row,
                      int64_t num_blocks) {
  return Q8DotFixedStrided(format, a_row, w_row, num_blocks, 0, 1);
}

}  // namespace datanode::ops::cuda

#endif  // DATANODE_OPS_CUDA_Q8_DOT_H_
