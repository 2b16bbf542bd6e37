// Copyright 2026 The datanode Authors.
//
// The K-quant matmul kernel (contract in matmul_kquant.cuh, math and work split in
// kquant_dot.h). Block t of the grid (and t + gridDim.x, ... when the tiles outnumber the
// grid) computes output tile t: warp w takes column j of the tile, lane l the blocks l,
// l + 32, ... of the row (8 lanes share a super-block: one warp step reads four
// consecutive super-blocks of W, coalesced). Each lane decodes its W slice once and
// applies it to the tile's kKTileM A rows, keeping one exact int128 per row; the warp
// then adds its 32 partial sums (WarpSumI128) and lane 0 rounds each once.
//
// Exactness: integers only (dp4a dot products, int128 sums of terms that are exact
// multiples of 2^-48), one rounding per output, so the block, warp and lane split
// cannot change a byte. No float appears in this kernel.
#include "ops/cuda/matmul_kquant.cuh"
#include "ops/cuda/warp_sum.cuh"

namespace datanode::ops::cuda {
namespace {

template <KQuantFormat kFormat>
__global__ void __launch_bounds__(kKThreads)
    MatMulKQuantKernel(const uint8_t* __restrict__ a, const uint8_t* __restrict__ w, int64_t m,
                       int64_t n, int64_t blocks, uint32_t* __restrict__ out) {
  const int64_t tiles_n = KTilesN(n);
  const int64_t tiles = KTilesM(m) * tiles_n;
  const int64_t a_row_bytes = blocks * kQ8ABlockBytes;
  const int64_t w_row_bytes = blocks / kKSlicesPerSuper * KQuantSuperBytes(kFormat);
  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
    int64_t row0, col;
    KTileOutputs(t, tiles_n, warp, &row0, &col);
    if (col >= n) continue;  // the same for the whole warp: no shuffle is left waiting
    const int64_t rows = m - row0 < kKTileM ? m - row0 : kKTileM;
    const uint8_t* a_tile = a + row0 * a_row_bytes;
    const uint8_t* w_row = w + col * w_row_bytes;
    i128 acc[kKTileM];
#pragma unroll
    for (int r = 0; r < kKTileM; ++r) acc[r] = 0;
    KSliceWeights slice;
    for (int64_t b = lane; b < blocks; b += 32) {
      DecodeKSlice(kFormat, w_row + (b / kKSlicesPerSuper) * KQuantSuperBytes(kFormat),
                   static_cast<int>(b % kKSlicesPerSuper), &slice);
#pragma unroll
      for (int r = 0; r < kKTileM; ++r) {
        if (r < rows)
          acc[r] += KSliceTermFixed(slice, a_tile + r * a_row_bytes + b * kQ8ABlockBytes);
      }
    }
#pragma unroll
    for (int r = 0; r < kKTileM; ++r) {
      if (r >= rows) break;  // rows is the same for the whole warp
      const i128 sum = WarpSumI128(acc[r]);
      if (lane == 0) out[(row0 + r) * n + col] = RoundF32(sum, kQ8FixedExponent);
    }
  }
}

unsigned GridFor(int64_t tiles) { return static_cast<unsigned>(tiles < 65536 ? tiles : 65536); }

}  // namespace

cudaError_t LaunchMatMulKQuant(KQuantFormat format, const uint8_t* a, const uint8_t* w, int64_t m,
                               int64_t n, int64_t blocks, uint32_t* out, cudaStream_t stream) {
  const unsigned grid = GridFor(KTilesM(m) * KTilesN(n));
  if (format == KQuantFormat::kQ4_K) {
    MatMulKQuantKernel<KQuantFormat::kQ4_K>
        <<<grid, kKThreads, 0, stream>>>(a, w, m, n, blocks, out);
  } else {
    MatMulKQuantKernel<KQuantFormat::kQ6_K>
        <<<grid, kKThreads, 0, stream>>>(a, w, m, n, blocks, out);
  }
  return cudaGetLastError();
}

}  // namespace datanode::ops::cuda
