// Copyright 2026 The datanode Authors.
#include "ops/cuda/matmul_q8.cuh"
#include "ops/cuda/warp_sum.cuh"

namespace datanode::ops::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kWarpsPerBlock = kThreads / 32;

// One warp per output: lane l takes blocks l, l + 32, ... of the row, so the warp reads
// 32 consecutive ggml blocks of W at a time (coalesced; one thread per output would
// make every thread walk its own row). The exact int128 partial sums are then added
// across the warp with shuffles - integer addition, so the order cannot matter - and
// lane 0 rounds once.
template <Q8WeightFormat kFormat>
__global__ void __launch_bounds__(kThreads)
    MatMulQ8Kernel(const uint8_t* __restrict__ a, const uint8_t* __restrict__ w, int64_t m,
                   int64_t n, int64_t blocks, uint32_t* __restrict__ out) {
  const int64_t total = m * n;
  const int64_t w_row_bytes = blocks * Q8WeightBlockBytes(kFormat);
  const int64_t a_row_bytes = blocks * kQ8ABlockBytes;
  const int lane = threadIdx.x & 31;
  // Consecutive warps take consecutive n of one row: the A row is shared (L1/L2).
  for (int64_t e = blockIdx.x * int64_t{kWarpsPerBlock} + threadIdx.x / 32; e < total;
       e += int64_t{gridDim.x} * kWarpsPerBlock) {
    const int64_t i = e / n;
    const int64_t j = e - i * n;
    i128 sum =
        Q8DotFixedStrided(kFormat, a + i * a_row_bytes, w + j * w_row_bytes, blocks, lane, 32);
    // e is the same for the whole warp, so every lane is here: full-mask shuffles.
    sum = WarpSumI128(sum);
    if (lane == 0) out[e] = RoundF32(sum, kQ8FixedExponent);
  }
}

unsigned GridFor(int64_t total) {
  const int64_t grid = (total + kWarpsPerBlock - 1) / kWarpsPerBlock;
  return static_cast<unsigned>(grid < 65536 ? grid : 65536);
}

}  // namespace

cudaError_t LaunchMatMulQ8(Q8WeightFormat format, const uint8_t* a, const uint8_t* w, int64_t m,
                           int64_t n, int64_t blocks, uint32_t* out, cudaStream_t stream) {
  const unsigned grid = GridFor(m * n);
  switch (format) {
    case Q8WeightFormat::kQ8_0:
      MatMulQ8Kernel<Q8WeightFormat::kQ8_0><<<grid, kThreads, 0, stream>>>(a, w, m, n, blocks, out);
      break;
    case Q8WeightFormat::kQ4_0:
      MatMulQ8Kernel<Q8WeightFormat::kQ4_0><<<grid, kThreads, 0, stream>>>(a, w, m, n, blocks, out);
      break;
    case Q8WeightFormat::kQ4_1:
      MatMulQ8Kernel<Q8WeightFormat::kQ4_1><<<grid, kThreads, 0, stream>>>(a, w, m, n, blocks, out);
      break;
  }
  return cudaGetLastError();
}

}  // namespace datanode::ops::cuda
