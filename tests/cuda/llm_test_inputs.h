// Copyright 2026 The datanode Authors.
//
// Random rows for the CUDA LLM-op tests (llm_math_test.cc on the host,
// llm_cuda_test.cc on a GPU): finite f32 values from a mix of classes that reach every
// branch of the spec's fixed-point steps: ordinary activations, +-0, subnormals, values
// near FLT_MAX, outliers, small integers, and (for Add) pairs whose exact sum is a
// rounding tie.
#ifndef DATANODE_TESTS_CUDA_LLM_TEST_INPUTS_H_
#define DATANODE_TESTS_CUDA_LLM_TEST_INPUTS_H_

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "datanode/ops/llm.h"
#include "datanode/ops/random_inputs.h"

namespace datanode::ops::cuda::llm_test {

inline float FromBits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
inline uint32_t ToBits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return bits;
}

// f32 bits with the given biased exponent (0..254), a random fraction and sign.
inline uint32_t WithExponent(SplitMix64& rng, int biased) {
  const uint32_t sign = static_cast<uint32_t>(rng.Next() & 1) << 31;
  return sign | (static_cast<uint32_t>(biased) << 23) |
         static_cast<uint32_t>(rng.Next() & 0x7FFFFF);
}

// One finite value of a class chosen by `cls` (0..9).
inline uint32_t ValueOfClass(SplitMix64& rng, int cls) {
  switch (cls) {
    case 0:  // +-0
      return static_cast<uint32_t>(rng.Next() & 1) << 31;
    case 1:  // subnormal
      return (static_cast<uint32_t>(rng.Next() & 1) << 31) |
             static_cast<uint32_t>(rng.Uniform(1, 0x7FFFFF));
    case 2:  // near FLT_MAX
      return WithExponent(rng, static_cast<int>(rng.Uniform(250, 254)));
    case 3:  // outlier
      return WithExponent(rng, static_cast<int>(rng.Uniform(127 + 20, 127 + 100)));
    case 4: {  // any finite pattern
      uint32_t bits;
      do {
        bits = static_cast<uint32_t>(rng.Next());
      } while (((bits >> 23) & 0xFF) == 0xFF);
      return bits;
    }
    case 5:  // tiny normal
      return WithExponent(rng, static_cast<int>(rng.Uniform(1, 30)));
    case 6: {  // small integer (exact f32)
      const float f = static_cast<float>(rng.Uniform(-64, 64));
      return ToBits(f);
    }
    default:  // an activation-like value, magnitude in [2^-12, 2^8)
      return WithExponent(rng, static_cast<int>(rng.Uniform(127 - 12, 127 + 7)));
  }
}

// A row of n values: rows of one class, and rows mixing all classes.
inline std::vector<float> RandomRow(SplitMix64& rng, int64_t n) {
  const int row_class = static_cast<int>(rng.Uniform(0, 12));
  std::vector<float> row(static_cast<size_t>(n));
  for (float& v : row) {
    const int cls = row_class >= 10 ? static_cast<int>(rng.Uniform(0, 9)) : row_class;
    v = FromBits(ValueOfClass(rng, cls));
  }
  return row;
}

// A second operand for Add: independent values, or for some elements the exact half
// ulp of x (a tie), or -x (an exact zero), or x itself.
inline std::vector<float> AddPartner(SplitMix64& rng, const std::vector<float>& x) {
  std::vector<float> y = RandomRow(rng, static_cast<int64_t>(x.size()));
  for (size_t i = 0; i < x.size(); ++i) {
    const uint32_t xb = ToBits(x[i]);
    const int biased = static_cast<int>((xb >> 23) & 0xFF);
    switch (rng.Next() % 6) {
      case 0:
        if (biased > 24) {
          // Half an ulp of x: a tie between x and its neighbour, either sign.
          y[i] = FromBits((static_cast<uint32_t>(rng.Next() & 1) << 31) |
                          (static_cast<uint32_t>(biased - 24) << 23));
        }
        break;
      case 1:
        y[i] = FromBits(xb ^ 0x80000000u);
        break;
      case 2:
        y[i] = x[i];
        break;
      default:
        break;
    }
  }
  return y;
}

// An RMSNorm eps: the usual ones, and random positive finite values down to subnormals.
inline float RandomEps(SplitMix64& rng) {
  switch (rng.Next() % 5) {
    case 0:
      return 1e-5f;
    case 1:
      return 1e-6f;
    case 2:
      return FromBits(static_cast<uint32_t>(rng.Uniform(1, 0x7FFFFF)));
    default: {
      uint32_t bits;
      do {
        bits = ValueOfClass(rng, static_cast<int>(rng.Uniform(1, 9))) & 0x7FFFFFFFu;
      } while (bits == 0);
      return FromBits(bits);
    }
  }
}

// A row length for RmsNorm: mostly model-sized, sometimes 1 or the maximum 2^15.
inline int64_t RandomRmsLength(SplitMix64& rng) {
  switch (rng.Next() % 20) {
    case 0:
      return 1;
    case 1:
      return int64_t{1} << 15;
    default:
      return rng.Uniform(1, 1024);
  }
}

// --- Attend: a shape, a query row and n_positions rows of K and V cache ----------------
struct AttendCase {
  llm::AttentionShape shape;
  int64_t n_positions = 0;
  std::vector<float> q;
  std::vector<uint8_t> k, v;  // encoded caches, n_positions rows each
};

// Random f16 cache bits of a finite value: any pattern, +-65504, subnormals, +-0.
inline uint16_t RandomF16(SplitMix64& rng) {
  switch (rng.Next() % 4) {
    case 0:
      return static_cast<uint16_t>((rng.Next() & 0x8000) | 0x7BFF);
    case 1:
      return static_cast<uint16_t>((rng.Next() & 0x8000) | rng.Uniform(0, 0x3FF));
    default: {
      uint16_t bits;
      do {
        bits = static_cast<uint16_t>(rng.Next());
      } while (((bits >> 10) & 0x1F) == 0x1F);
      return bits;
    }
  }
}

inline AttendCase RandomAttendCase(SplitMix64& rng) {
  static constexpr llm::AttentionShape kShapes[] = {{9, 3, 64},  {4, 4, 32}, {2, 1, 128},
                                                    {1, 1, 512}, {8, 2, 32}, {3, 1, 96}};
  AttendCase c;
  c.shape = kShapes[rng.Uniform(0, 5)];
  c.n_positions = rng.Next() % 10 == 0 ? rng.Uniform(250, 600) : rng.Uniform(1, 80);
  const int64_t row_values = int64_t{c.shape.n_kv_heads} * c.shape.head_dim;
  const int64_t row_bytes = llm::KvRowBytes(c.shape);
  // Modes: raw f16 cache bits; rows of RandomRow (extremes, mostly one-hot weights);
  // soft rows of magnitudes in [2^-6, 1), where the softmax weights spread out.
  const int mode = static_cast<int>(rng.Next() % 3);
  const bool raw = mode == 0;
  auto soft_row = [&rng](int64_t n) {
    std::vector<float> row(static_cast<size_t>(n));
    for (float& x : row) x = FromBits(WithExponent(rng, static_cast<int>(rng.Uniform(121, 126))));
    return row;
  };
  const int64_t q_size = int64_t{c.shape.n_heads} * c.shape.head_dim;
  c.q = mode == 2 ? soft_row(q_size) : RandomRow(rng, q_size);
  c.k.resize(static_cast<size_t>(c.n_positions * row_bytes));
  c.v.resize(c.k.size());
  for (int64_t p = 0; p < c.n_positions; ++p) {
    for (std::vector<uint8_t>* cache : {&c.k, &c.v}) {
      std::span<uint8_t> row(cache->data() + p * row_bytes, static_cast<size_t>(row_bytes));
      if (raw) {
        for (int64_t i = 0; i < row_values; ++i) {
          const uint16_t bits = RandomF16(rng);
          row[2 * i] = static_cast<uint8_t>(bits);
          row[2 * i + 1] = static_cast<uint8_t>(bits >> 8);
        }
      } else {
        const std::vector<float> values =
            mode == 2 ? soft_row(row_values) : RandomRow(rng, row_values);
        if (!llm::EncodeKvRow(c.shape, values, row).ok()) std::abort();  // valid by construction
      }
    }
    // Now and then a repeated K row: equal scores (ties for the maximum).
    if (p > 0 && rng.Next() % 8 == 0) {
      const int64_t from = rng.Uniform(0, p - 1);
      std::copy_n(c.k.begin() + from * row_bytes, row_bytes, c.k.begin() + p * row_bytes);
    }
  }
  return c;
}

}  // namespace datanode::ops::cuda::llm_test

#endif  // DATANODE_TESTS_CUDA_LLM_TEST_INPUTS_H_
