// Copyright 2026 The datanode Authors.
#include "ops/cuda/exact_math.cuh"
#include "ops/cuda/s8_scale_epilogue.cuh"

namespace datanode::ops::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads)
    S8ScaleEpilogueKernel(const int32_t* __restrict__ c32, int64_t pitch,
                          const uint32_t* __restrict__ a_scale,
                          const uint32_t* __restrict__ w_scale, int64_t m, int64_t n,
                          uint32_t* __restrict__ out) {
  const int64_t total = m * n;
  for (int64_t e = blockIdx.x * int64_t{kThreads} + threadIdx.x; e < total;
       e += int64_t{gridDim.x} * kThreads) {
    const int64_t i = e / n;
    const int64_t j = e - i * n;
    out[e] = ScaleS8Element(c32[i * pitch + j], a_scale[i], w_scale[j]);
  }
}

}  // namespace

cudaError_t LaunchS8ScaleEpilogue(const int32_t* c32, int64_t c32_pitch, const uint32_t* a_scale,
                                  const uint32_t* w_scale, int64_t m, int64_t n, uint32_t* out,
                                  cudaStream_t stream) {
  const int64_t blocks = (m * n + kThreads - 1) / kThreads;
  const unsigned grid = static_cast<unsigned>(blocks < 65536 ? blocks : 65536);
  S8ScaleEpilogueKernel<<<grid, kThreads, 0, stream>>>(c32, c32_pitch, a_scale, w_scale, m, n, out);
  return cudaGetLastError();
}

}  // namespace datanode::ops::cuda
