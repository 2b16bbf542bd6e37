// Copyright 2026 The datanode Authors.
//
// One simple kernel per LLM op over llm_math.cuh. Add and SiluMul are elementwise (a
// grid-stride loop). RmsNorm runs one block per row: a max over the element exponents,
// an exact uint64 sum of squares (per-thread partial sums added by thread 0 in thread
// order; integer sums give the same value in any order anyway), the row's scale on
// thread 0, then every thread writes its strided share of the outputs.
#include "ops/cuda/llm_kernels.cuh"
#include "ops/cuda/llm_math.cuh"

namespace datanode::ops::cuda {
namespace {

constexpr int kThreads = 256;

unsigned GridFor(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < 65536 ? (blocks > 0 ? blocks : 1) : 65536);
}

__global__ void __launch_bounds__(kThreads)
    LlmAddKernel(const uint32_t* __restrict__ x, const uint32_t* __restrict__ y, int64_t n,
                 uint32_t* __restrict__ out) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kThreads;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n; i += stride) {
    out[i] = llm_math::AddElement(x[i], y[i]);
  }
}

__global__ void __launch_bounds__(kThreads)
    LlmSiluMulKernel(const uint32_t* __restrict__ gate, const uint32_t* __restrict__ up,
                     int64_t n, uint32_t* __restrict__ out) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kThreads;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n; i += stride) {
    out[i] = llm_math::SiluMulElement(gate[i], up[i]);
  }
}

__global__ void __launch_bounds__(kThreads)
    LlmRmsNormKernel(const uint32_t* __restrict__ x, const uint32_t* __restrict__ gain,
                     int64_t rows, int64_t n, uint32_t eps_bits, uint32_t* __restrict__ out) {
  __shared__ int part_exp[kThreads];
  __shared__ uint64_t part_sum[kThreads];
  __shared__ int row_max_exp;
  __shared__ llm_math::RmsScale row_scale;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const uint32_t* xr = x + r * n;
    int max_exp = llm_math::kRmsNoExponent;
    for (int64_t i = threadIdx.x; i < n; i += kThreads) {
      const int e = llm_math::RmsExponent(xr[i]);
      max_exp = e > max_exp ? e : max_exp;
    }
    part_exp[threadIdx.x] = max_exp;
    __syncthreads();
    if (threadIdx.x == 0) {
      int m = llm_math::kRmsNoExponent;
      for (int t = 0; t < kThreads; ++t) m = part_exp[t] > m ? part_exp[t] : m;
      row_max_exp = m;
    }
    __syncthreads();
    const int row_exp = row_max_exp;
    uint64_t sum = 0;
    for (int64_t i = threadIdx.x; i < n; i += kThreads) sum += llm_math::RmsSquare(xr[i], row_exp);
    part_sum[threadIdx.x] = sum;
    __syncthreads();
    if (threadIdx.x == 0) {
      uint64_t total = 0;
      for (int t = 0; t < kThreads; ++t) total += part_sum[t];
      row_scale = llm_math::RmsScaleOf(total, row_exp, n, eps_bits);
    }
    __syncthreads();
    const llm_math::RmsScale scale = row_scale;
    for (int64_t i = threadIdx.x; i < n; i += kThreads) {
      out[r * n + i] = llm_math::RmsNormElement(xr[i], gain[i], scale);
    }
    __syncthreads();  // the shared values are reused by the next row
  }
}

}  // namespace

cudaError_t LaunchLlmAdd(const uint32_t* x, const uint32_t* y, int64_t n, uint32_t* out,
                         cudaStream_t stream) {
  LlmAddKernel<<<GridFor(n), kThreads, 0, stream>>>(x, y, n, out);
  return cudaGetLastError();
}

cudaError_t LaunchLlmSiluMul(const uint32_t* gate, const uint32_t* up, int64_t n, uint32_t* out,
                             cudaStream_t stream) {
  LlmSiluMulKernel<<<GridFor(n), kThreads, 0, stream>>>(gate, up, n, out);
  return cudaGetLastError();
}

cudaError_t LaunchLlmRmsNorm(const uint32_t* x, const uint32_t* gain, int64_t rows, int64_t n,
                             uint32_t eps_bits, uint32_t* out, cudaStream_t stream) {
  const unsigned grid = static_cast<unsigned>(rows < 65536 ? rows : 65536);
  LlmRmsNormKernel<<<grid, kThreads, 0, stream>>>(x, gain, rows, n, eps_bits, out);
  return cudaGetLastError();
}

}  // namespace datanode::ops::cuda
