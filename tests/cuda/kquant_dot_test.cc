// Copyright 2026 The datanode Authors.
//
// Runs without a GPU: the K-quant matmul kernel's __host__ __device__ math
// (ops/cuda/kquant_dot.h) compiled for the host and compared bit for bit with the spec:
// its slice decoders with ops/kquant.h, each block's exact term with the reference's
// (the difference of reference::Q8_0DotFixedPoint over b + 1 and over b blocks), whole
// rows, and a replay of the kernel's tile / warp / lane split (kquant_dot.h's
// KTileOutputs, an emulated shuffle butterfly) against reference::MatMulQ8_0's bytes.
#include "ops/cuda/kquant_dot.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "datanode/ops/exact_float.h"
#include "datanode/ops/kquant.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/reference.h"

namespace datanode::ops::cuda {
namespace {

struct Format {
  OpKind kind;
  KQuantFormat format;
};
constexpr Format kFormats[] = {{OpKind::kMatMulQ8_0Q4_K, KQuantFormat::kQ4_K},
                               {OpKind::kMatMulQ8_0Q6_K, KQuantFormat::kQ6_K}};

std::string Name(const Format& f) { return OpKindName(f.kind); }

int8_t QuantAt(const KSliceWeights& w, int j) {
  return static_cast<int8_t>(w.q[j / 4] >> (8 * (j % 4)));
}

TEST(CudaKQuant, SuperBlockSizesMatchTheOpTable) {
  for (const Format& f : kFormats) {
    EXPECT_EQ(KQuantSuperBytes(f.format), FindOpInfo(f.kind)->w_block_bytes) << Name(f);
    EXPECT_EQ(kKSlicesPerSuper, kKQuantSlices);
  }
}

// Every slice of random super-blocks (any byte pattern: the decoders only move bits),
// plus all-zero and all-one blocks, decodes exactly as ops/kquant.cc decodes it.
TEST(CudaKQuant, SliceDecodersMirrorOpsKquant) {
  SplitMix64 rng(0x4B51);
  for (const Format& f : kFormats) {
    const int bytes = KQuantSuperBytes(f.format);
    std::vector<uint8_t> super(static_cast<size_t>(bytes));
    for (int trial = 0; trial < 20'000; ++trial) {
      if (trial < 2) {
        std::fill(super.begin(), super.end(), trial == 0 ? 0x00 : 0xFF);
      } else {
        for (uint8_t& b : super) b = static_cast<uint8_t>(rng.Next());
      }
      for (int slice = 0; slice < kKSlicesPerSuper; ++slice) {
        KQuantSlice want;
        DecodeKQuantSlice(f.kind, super.data(), slice, &want);
        KSliceWeights got;
        DecodeKSlice(f.format, super.data(), slice, &got);
        for (int j = 0; j < 32; ++j) {
          ASSERT_EQ(QuantAt(got, j), want.q[j]) << Name(f) << " slice " << slice << " value " << j;
        }
        ASSERT_EQ(got.scale[0], want.scale[0]) << Name(f) << " slice " << slice;
        ASSERT_EQ(got.scale[1], want.scale[1]) << Name(f) << " slice " << slice;
        ASSERT_EQ(got.min, want.min) << Name(f) << " slice " << slice;
        ASSERT_EQ(got.d_bits, want.d_bits) << Name(f);
        ASSERT_EQ(got.dmin_bits, want.dmin_bits) << Name(f);
      }
    }
  }
}

// Each block's exact term equals the reference's, on random inputs of every profile:
// reference::Q8_0DotFixedPoint summed over b + 1 blocks minus over b blocks is exactly
// the reference's term of block b (integer sums, no rounding).
TEST(CudaKQuant, SliceTermMatchesReference) {
  for (const Format& f : kFormats) {
    int64_t checked = 0, with_min = 0, negative_scale = 0;
    for (uint64_t seed = 0; seed < 600; ++seed) {
      const auto profile = static_cast<InputProfile>(seed % 3);
      const int64_t k = 256 * (1 + static_cast<int64_t>(seed % 4));
      auto in = MakeRandomInputs(f.kind, 1, 2, k, seed, profile);
      ASSERT_TRUE(in.ok()) << in.status();
      const int64_t blocks = k / 32;
      const uint8_t* w_row = &in->w[in->w.size() / 2];  // the second of the two W rows
      int128 before = 0;
      for (int64_t b = 0; b < blocks; ++b) {
        const int128 through = reference::Q8_0DotFixedPoint(f.kind, in->a.data(), w_row, b + 1);
        KSliceWeights w;
        DecodeKSlice(f.format, w_row + (b / 8) * KQuantSuperBytes(f.format),
                     static_cast<int>(b % 8), &w);
        const i128 term = KSliceTermFixed(w, in->a.data() + b * 34);
        ASSERT_TRUE(term == through - before) << Name(f) << " seed " << seed << " block " << b
                                              << " profile " << static_cast<int>(profile);
        before = through;
        ++checked;
        with_min += w.min != 0;
        negative_scale += w.scale[0] < 0 || w.scale[1] < 0;
      }
    }
    EXPECT_EQ(checked, 600 / 4 * (8 + 16 + 24 + 32)) << Name(f);  // every block of every row
    if (f.format == KQuantFormat::kQ4_K) {
      EXPECT_GT(with_min, checked / 2) << "min term reached";
    } else {
      EXPECT_GT(negative_scale, checked / 4) << "scale < 0";
    }
  }
}

// Whole rows, up to the longest K the spec accepts for K-quants (511 super-blocks), and
// the one rounding.
TEST(CudaKQuant, RowDotMatchesReference) {
  const int64_t kLongest = kMaxK / 256 * 256;
  for (const Format& f : kFormats) {
    for (uint64_t seed = 0; seed < 60; ++seed) {
      const auto profile = static_cast<InputProfile>(seed % 3);
      const int64_t k = seed < 3 ? kLongest : 256 * (1 + static_cast<int64_t>(seed % 20));
      auto in = MakeRandomInputs(f.kind, 2, 3, k, seed, profile);
      ASSERT_TRUE(in.ok()) << in.status();
      const int64_t blocks = k / 32;
      const int64_t w_row_bytes = blocks / 8 * KQuantSuperBytes(f.format);
      for (int64_t i = 0; i < 2; ++i) {
        for (int64_t j = 0; j < 3; ++j) {
          const uint8_t* a_row = &in->a[i * blocks * 34];
          const uint8_t* w_row = &in->w[j * w_row_bytes];
          const i128 got = KQuantDotFixedStrided(f.format, a_row, w_row, blocks, 0, 1);
          const int128 want = reference::Q8_0DotFixedPoint(f.kind, a_row, w_row, blocks);
          ASSERT_TRUE(got == want) << Name(f) << " seed " << seed << " k " << k;
          ASSERT_EQ(RoundF32(got, kQ8FixedExponent),
                    RoundToF32Bits(want, reference::kQ8FixedPointExponent))
              << Name(f) << " seed " << seed;
        }
      }
    }
  }
}

// The kernel's work split replayed on the host: every tile of kKTileM x kKTileN, every
// warp (column) and row of it, each lane's strided blocks, the xor-shuffle butterfly
// and lane 0's rounding. The bytes must equal reference::MatMulQ8_0's and every output
// must be written exactly once.
TEST(CudaKQuant, KernelSplitMatchesReference) {
  SplitMix64 rng(0x4B5);
  for (const Format& f : kFormats) {
    for (int c = 0; c < 60; ++c) {
      const int64_t m = c % 5 == 0 ? 1 : rng.Uniform(1, 11);
      const int64_t n = rng.Uniform(1, 21);
      const int64_t k = 256 * rng.Uniform(1, 6);
      const auto profile = static_cast<InputProfile>(c % 3);
      auto in = MakeRandomInputs(f.kind, m, n, k, rng.Next(), profile);
      ASSERT_TRUE(in.ok()) << in.status();
      OpInputs want = *in;
      reference::MatMulQ8_0(want.Args(), want.w);

      const int64_t blocks = k / 32;
      const int64_t w_row_bytes = blocks / 8 * KQuantSuperBytes(f.format);
      std::vector<uint32_t> out(static_cast<size_t>(m * n), 0);
      std::vector<int> writes(out.size(), 0);
      const int64_t tiles_n = KTilesN(n);
      for (int64_t t = 0; t < KTilesM(m) * tiles_n; ++t) {
        for (int warp = 0; warp < kKTileN; ++warp) {
          int64_t row0, col;
          KTileOutputs(t, tiles_n, warp, &row0, &col);
          if (col >= n) continue;
          const int64_t rows = std::min<int64_t>(kKTileM, m - row0);
          for (int64_t r = 0; r < rows; ++r) {
            const uint8_t* a_row = &in->a[(row0 + r) * blocks * 34];
            const uint8_t* w_row = &in->w[col * w_row_bytes];
            i128 lanes[32];
            for (int l = 0; l < 32; ++l) {
              lanes[l] = KQuantDotFixedStrided(f.format, a_row, w_row, blocks, l, 32);
            }
            for (int offset = 16; offset > 0; offset >>= 1) {
              i128 next[32];
              for (int l = 0; l < 32; ++l) next[l] = lanes[l] + lanes[l ^ offset];
              std::copy(next, next + 32, lanes);
            }
            out[(row0 + r) * n + col] = RoundF32(lanes[0], kQ8FixedExponent);
            ++writes[(row0 + r) * n + col];
          }
        }
      }
      for (int64_t e = 0; e < m * n; ++e) {
        ASSERT_EQ(writes[e], 1) << Name(f) << " output " << e;
        ASSERT_EQ(out[e], LoadU32(&want.out[e * 4])) << Name(f) << " m " << m << " n " << n << " k "
                                                     << k << " output " << e / n << "," << e % n;
      }
    }
  }
}

}  // namespace
}  // namespace datanode::ops::cuda
