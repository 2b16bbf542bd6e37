// Copyright 2026 The datanode Authors.
#include "ops/cuda/matmul_q8.cuh"

namespace datanode::ops::cuda {
namespace {

constexpr int kThreads = 256;

template <Q8WeightFormat kFormat>
__global__ void __launch_bounds__(kThreads)
    MatMulQ8Kernel(const uint8_t* __restrict__ a, const uint8_t* __restrict__ w, int64_t m,
                   int64_t n, int64_t blocks, uint32_t* __restrict__ out) {
  const int64_t total = m * n;
  const int64_t w_row_bytes = blocks * Q8WeightBlockBytes(kFormat);
  const int64_t a_row_bytes = blocks * kQ8ABlockBytes;
  // Consecutive threads take consecutive n of one row: the A row is shared.
  for (int64_t e = blockIdx.x * int64_t{kThreads} + threadIdx.x; e < total;
       e += int64_t{gridDim.x} * kThreads) {
    const int64_t i = e / n;
    const int64_t j = e - i * n;
    const i128 exact = Q8DotFixed(kFormat, a + i * a_row_bytes, w + j * w_row_bytes, blocks);
    out[e] = RoundF32(exact, kQ8FixedExponent);
  }
}

unsigned GridFor(int64_t total) {
  const int64_t grid = (total + kThreads - 1) / kThreads;
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
