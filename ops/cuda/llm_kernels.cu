// Copyright 2026 The datanode Authors.
//
// One simple kernel per LLM op over llm_math.cuh. The elementwise ops share one
// grid-stride kernel, instantiated per row of elementwise_ops.inc. RmsNorm runs one block per row: a max over the element exponents,
// an exact uint64 sum of squares (per-thread partial sums added by thread 0 in thread
// order; integer sums give the same value in any order anyway), the row's scale on
// thread 0, then every thread writes its strided share of the outputs. Attend runs one
// block per query head (see LlmAttendKernel).
#include "ops/cuda/llm_kernels.cuh"
#include "ops/cuda/llm_math.cuh"

namespace datanode::ops::cuda {
namespace {

constexpr int kThreads = 256;

unsigned GridFor(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < 65536 ? (blocks > 0 ? blocks : 1) : 65536);
}

// The rows of elementwise_ops.inc, numbered in table order (ElementwiseOp's values).
enum ElementwiseIndex : int {
#define DATANODE_ELEMENTWISE_OP(Name, snake, arity, inputs) kElementwise##Name,
#include "datanode/ops/elementwise_ops.inc"
#undef DATANODE_ELEMENTWISE_OP
  kElementwiseCount,
};

struct ElementwiseInputs {
  const uint32_t* in[kMaxElementwiseInputs];
};

template <int kOp>
__device__ uint32_t Element(const uint32_t* v) {
#define DATANODE_ELEMENTWISE_OP(Name, snake, arity, inputs) \
  if constexpr (kOp == kElementwise##Name) return llm_math::Name##Element(v);
#include "datanode/ops/elementwise_ops.inc"
#undef DATANODE_ELEMENTWISE_OP
  return 0;
}

template <int kOp, int kArity>
__global__ void __launch_bounds__(kThreads)
    LlmElementwiseKernel(ElementwiseInputs in, int64_t n, uint32_t* __restrict__ out) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kThreads;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n; i += stride) {
    uint32_t v[kArity];
#pragma unroll
    for (int j = 0; j < kArity; ++j) v[j] = in.in[j][i];
    out[i] = Element<kOp>(v);
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

// One block per query head h (KV head h / (n_heads / n_kv_heads)):
//  1. q rounded to f16, in units of 2^-24, into shared memory; each thread takes
//     positions p = tid, tid + 256, ...: exact int128 dot products (to scratch) and
//     their maximum; thread 0 combines the per-thread maxima;
//  2. each thread turns its positions' differences to the maximum into weights (to
//     scratch) and sums them; thread 0 adds the per-thread sums (exact integers);
//  3. each thread takes output columns j = tid, tid + 256, ...: the exact weighted sum
//     of V over all positions in position order, then one rounded quotient.
__global__ void __launch_bounds__(kThreads)
    LlmAttendKernel(const uint32_t* __restrict__ q, const uint16_t* __restrict__ k_cache,
                    const uint16_t* __restrict__ v_cache, int n_heads, int n_kv_heads, int head_dim,
                    int64_t n_positions, int64_t c_q40, i128* __restrict__ dots,
                    int64_t* __restrict__ weights, uint32_t* __restrict__ out) {
  constexpr int kMaxHeadDim = 512;
  __shared__ int64_t qh[kMaxHeadDim];
  __shared__ i128 part_max[kThreads];
  __shared__ int64_t part_sum[kThreads];
  __shared__ i128 head_max;
  __shared__ int64_t head_total;
  const int h = blockIdx.x;
  const int group = n_heads / n_kv_heads;
  const int64_t row_values = int64_t{n_kv_heads} * head_dim;
  const int64_t kv_offset = int64_t{h / group} * head_dim;
  i128* head_dots = dots + int64_t{h} * n_positions;
  int64_t* head_weights = weights + int64_t{h} * n_positions;

  for (int j = threadIdx.x; j < head_dim; j += kThreads) {
    qh[j] = llm_math::QueryUnits(q[int64_t{h} * head_dim + j]);
  }
  __syncthreads();
  bool any = false;
  i128 local_max = 0;
  for (int64_t p = threadIdx.x; p < n_positions; p += kThreads) {
    const uint16_t* k = k_cache + p * row_values + kv_offset;
    i128 dot = 0;
    for (int j = 0; j < head_dim; ++j) dot += i128(qh[j]) * llm_math::F16Units(k[j]);
    head_dots[p] = dot;
    if (!any || dot > local_max) local_max = dot;
    any = true;
  }
  // Threads t < min(n_positions, 256) hold at least one position; thread 0 combines them.
  part_max[threadIdx.x] = local_max;
  __syncthreads();
  if (threadIdx.x == 0) {
    i128 m = part_max[0];
    const int used = n_positions < kThreads ? static_cast<int>(n_positions) : kThreads;
    for (int t = 1; t < used; ++t) m = part_max[t] > m ? part_max[t] : m;
    head_max = m;
  }
  __syncthreads();
  const i128 dmax = head_max;
  int64_t local_sum = 0;
  for (int64_t p = threadIdx.x; p < n_positions; p += kThreads) {
    const int64_t w = llm_math::AttendWeight(dmax - head_dots[p], c_q40);
    head_weights[p] = w;
    local_sum += w;
  }
  part_sum[threadIdx.x] = local_sum;
  __syncthreads();
  if (threadIdx.x == 0) {
    int64_t total = 0;
    for (int t = 0; t < kThreads; ++t) total += part_sum[t];
    head_total = total;
  }
  __syncthreads();
  const int64_t total = head_total;
  for (int j = threadIdx.x; j < head_dim; j += kThreads) {
    i128 acc = 0;
    for (int64_t p = 0; p < n_positions; ++p) {
      const int64_t w = head_weights[p];
      if (w == 0) continue;
      acc += i128(w) * llm_math::F16Units(v_cache[p * row_values + kv_offset + j]);
    }
    out[int64_t{h} * head_dim + j] = llm_math::AttendOutput(acc, total);
  }
}

}  // namespace

cudaError_t LaunchLlmAttend(const uint32_t* q, const uint16_t* k_cache, const uint16_t* v_cache,
                            int n_heads, int n_kv_heads, int head_dim, int64_t n_positions,
                            int64_t c_q40, void* scratch, uint32_t* out, cudaStream_t stream) {
  auto* dots = static_cast<i128*>(scratch);
  auto* weights = reinterpret_cast<int64_t*>(dots + int64_t{n_heads} * n_positions);
  LlmAttendKernel<<<static_cast<unsigned>(n_heads), kThreads, 0, stream>>>(
      q, k_cache, v_cache, n_heads, n_kv_heads, head_dim, n_positions, c_q40, dots, weights, out);
  return cudaGetLastError();
}

cudaError_t LaunchLlmElementwise(int op, const uint32_t* const* in, int64_t n, uint32_t* out,
                                 cudaStream_t stream) {
  ElementwiseInputs inputs{};
  switch (op) {
#define DATANODE_ELEMENTWISE_OP(Name, snake, arity, names)                                     \
  case kElementwise##Name:                                                                     \
    static_assert(arity <= kMaxElementwiseInputs);                                            \
    for (int j = 0; j < arity; ++j) inputs.in[j] = in[j];                                      \
    LlmElementwiseKernel<kElementwise##Name, arity><<<GridFor(n), kThreads, 0, stream>>>(      \
        inputs, n, out);                                                                       \
    return cudaGetLastError();
#include "datanode/ops/elementwise_ops.inc"
#undef DATANODE_ELEMENTWISE_OP
    default:
      return cudaErrorInvalidValue;
  }
}

cudaError_t LaunchLlmRmsNorm(const uint32_t* x, const uint32_t* gain, int64_t rows, int64_t n,
                             uint32_t eps_bits, uint32_t* out, cudaStream_t stream) {
  const unsigned grid = static_cast<unsigned>(rows < 65536 ? rows : 65536);
  LlmRmsNormKernel<<<grid, kThreads, 0, stream>>>(x, gain, rows, n, eps_bits, out);
  return cudaGetLastError();
}

}  // namespace datanode::ops::cuda
