// Copyright 2026 The datanode Authors.
//
// bench_cuda: the exact s8 tensor-core GEMM against cuBLASLt on the same device,
// device-resident operands, kernel time only. "exact" is the kernel the CUDA backend
// would run for the shape (ChooseS8Kernel, ops/cuda/s8_gemm.h): on compute capability
// 9.0 the wgmma kernel for large shapes once it passed the backend's start-up check,
// else the mma.sync kernel. The mma.sync kernel is also timed in a column of its own.
// Baselines:
//   - cuBLASLt s8 x s8 -> s32 (CUDA_R_8I -> CUDA_R_32I, CUBLAS_COMPUTE_32I), the
//     integer baseline, whose output must equal ours byte for byte (checked);
//   - cuBLASLt bf16 x bf16 -> bf16 (CUBLAS_COMPUTE_32F), what a float stack would use.
// Shapes: 4096^3, 8192^3 and decode shapes (M = 1..64, K = N = 4096 and 8192).
// Prints one row per shape with TOP/s (2*M*N*K / time) and the ratios. Then a second
// table: the Q8_0-activation decode matmuls (Q8_0, Q4_0, Q4_1, Q4_K, Q6_K weights)
// against a device-to-device copy of their weights.
//
// Usage: bench_cuda [--min-seconds=0.3]. Exits 77 (skip) without a CUDA device.
#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "datanode/ops/random_inputs.h"
#include "ops/cuda/matmul_kquant.cuh"
#include "ops/cuda/matmul_q8.cuh"
#include "ops/cuda/matmul_s8_plan.h"
#include "ops/cuda/s8_gemm.h"

namespace datanode::ops::cuda {
namespace {

#define BENCH_CHECK(call)                                                                         \
  do {                                                                                            \
    const cudaError_t e_ = (call);                                                                \
    if (e_ != cudaSuccess) {                                                                      \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      std::exit(1);                                                                               \
    }                                                                                             \
  } while (0)

#define LT_CHECK(call)                                                                 \
  do {                                                                                 \
    const cublasStatus_t s_ = (call);                                                  \
    if (s_ != CUBLAS_STATUS_SUCCESS) {                                                 \
      std::fprintf(stderr, "%s:%d: %s: cublas status %d\n", __FILE__, __LINE__, #call, \
                   static_cast<int>(s_));                                              \
      std::exit(1);                                                                    \
    }                                                                                  \
  } while (0)

double g_min_seconds = 0.3;

// Mean seconds per call of `launch` (after warm-up), timed with CUDA events.
double TimeIt(const std::function<void()>& launch, cudaStream_t stream) {
  for (int i = 0; i < 3; ++i) launch();
  BENCH_CHECK(cudaStreamSynchronize(stream));
  cudaEvent_t start, stop;
  BENCH_CHECK(cudaEventCreate(&start));
  BENCH_CHECK(cudaEventCreate(&stop));
  int iters = 1;
  double seconds = 0;
  for (;;) {
    BENCH_CHECK(cudaEventRecord(start, stream));
    for (int i = 0; i < iters; ++i) launch();
    BENCH_CHECK(cudaEventRecord(stop, stream));
    BENCH_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    BENCH_CHECK(cudaEventElapsedTime(&ms, start, stop));
    seconds = ms / 1e3;
    if (seconds >= g_min_seconds || iters >= (1 << 20)) break;
    iters =
        seconds <= 0 ? iters * 16 : static_cast<int>(iters * (g_min_seconds * 1.2 / seconds)) + 1;
  }
  BENCH_CHECK(cudaEventDestroy(start));
  BENCH_CHECK(cudaEventDestroy(stop));
  return seconds / iters;
}

void FillRandomS8(int8_t* dev, int64_t rows, int64_t cols, int64_t pitch, uint64_t seed) {
  std::vector<int8_t> host(static_cast<size_t>(rows * pitch), 0);
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      host[r * pitch + c] = static_cast<int8_t>(static_cast<int>(x % 255) - 127);
    }
  }
  BENCH_CHECK(cudaMemcpy(dev, host.data(), host.size(), cudaMemcpyHostToDevice));
}

// One cuBLASLt matmul D[N x M col-major] = W^T[N x K] * A[K x M] (= row-major C = A W^T).
struct LtGemm {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t wl = nullptr, al = nullptr, cl = nullptr;
  cublasLtMatmulAlgo_t algo{};
  bool ok = false;
};

LtGemm MakeLtGemm(cublasLtHandle_t lt, cudaDataType_t in_type, cudaDataType_t out_type,
                  cublasComputeType_t compute, cudaDataType_t scale_type, int64_t m, int64_t n,
                  int64_t k, size_t workspace) {
  LtGemm g;
  LT_CHECK(cublasLtMatmulDescCreate(&g.desc, compute, scale_type));
  const cublasOperation_t trans_w = CUBLAS_OP_T, trans_a = CUBLAS_OP_N;
  LT_CHECK(cublasLtMatmulDescSetAttribute(g.desc, CUBLASLT_MATMUL_DESC_TRANSA, &trans_w,
                                          sizeof(trans_w)));
  LT_CHECK(cublasLtMatmulDescSetAttribute(g.desc, CUBLASLT_MATMUL_DESC_TRANSB, &trans_a,
                                          sizeof(trans_a)));
  LT_CHECK(cublasLtMatrixLayoutCreate(&g.wl, in_type, k, n, k));
  LT_CHECK(cublasLtMatrixLayoutCreate(&g.al, in_type, k, m, k));
  LT_CHECK(cublasLtMatrixLayoutCreate(&g.cl, out_type, n, m, n));
  cublasLtMatmulPreference_t pref;
  LT_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  LT_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                &workspace, sizeof(workspace)));
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  const cublasStatus_t st =
      cublasLtMatmulAlgoGetHeuristic(lt, g.desc, g.wl, g.al, g.cl, g.cl, pref, 1, &result, &found);
  LT_CHECK(cublasLtMatmulPreferenceDestroy(pref));
  if (st == CUBLAS_STATUS_SUCCESS && found > 0) {
    g.algo = result.algo;
    g.ok = true;
  }
  return g;
}

void DestroyLtGemm(LtGemm& g) {
  cublasLtMatrixLayoutDestroy(g.wl);
  cublasLtMatrixLayoutDestroy(g.al);
  cublasLtMatrixLayoutDestroy(g.cl);
  cublasLtMatmulDescDestroy(g.desc);
}

struct Row {
  int64_t m, n, k;
  const char* path;                  // kernel behind `ours`
  double ours, mma, lt_s8, lt_bf16;  // TOP/s (0 = not available)
  bool match;                        // every kernel timed equals cuBLASLt
};

// Whether the wgmma kernel passed the backend's start-up check here (set in Main).
bool g_wgmma_enabled = false;

Row RunShape(cublasLtHandle_t lt, cudaStream_t stream, int sm_count, int64_t m, int64_t n,
             int64_t k, void* workspace, size_t workspace_bytes) {
  const S8GemmPlan plan = PlanS8Gemm(m, n, k, sm_count);
  int8_t *a, *w;
  int32_t *c32, *c_lt;
  BENCH_CHECK(cudaMalloc(&a, plan.mp * plan.kp));
  BENCH_CHECK(cudaMalloc(&w, plan.np * plan.kp));
  BENCH_CHECK(cudaMalloc(&c32, plan.mp * plan.np * 4));
  BENCH_CHECK(cudaMalloc(&c_lt, m * n * 4));
  FillRandomS8(a, plan.mp, k, plan.kp, 1 + m);  // padding stays zero
  FillRandomS8(w, plan.np, k, plan.kp, 2 + n);
  BENCH_CHECK(cudaMemset(a + m * plan.kp, 0, (plan.mp - m) * plan.kp));
  BENCH_CHECK(cudaMemset(w + n * plan.kp, 0, (plan.np - n) * plan.kp));
  const double ops = 2.0 * m * n * k;
  const S8Kernel chosen = ChooseS8Kernel(plan, sm_count, g_wgmma_enabled);
  Row row{m, n, k, S8KernelName(chosen), 0, 0, 0, 0, false};
  auto time_kernel = [&](S8Kernel kernel, int32_t* c) {
    return ops / TimeIt([&] { BENCH_CHECK(LaunchS8Gemm(kernel, plan, a, w, c, stream)); }, stream) /
           1e12;
  };
  row.mma = time_kernel(S8Kernel::kMma, c32);
  row.ours = row.mma;
  // The wgmma kernel writes its own C32, compared with cuBLASLt below like mma.sync's.
  int32_t* c_wgmma = nullptr;
  if (chosen == S8Kernel::kWgmma) {
    BENCH_CHECK(cudaMalloc(&c_wgmma, plan.mp * plan.np * 4));
    row.ours = time_kernel(S8Kernel::kWgmma, c_wgmma);
  }

  // cuBLASLt s8: A and W are row-major [*, kp]; with lda = kp the padding is skipped.
  LtGemm s8 = MakeLtGemm(lt, CUDA_R_8I, CUDA_R_32I, CUBLAS_COMPUTE_32I, CUDA_R_32I, m, n, k,
                         workspace_bytes);
  if (s8.ok) {
    LT_CHECK(cublasLtMatrixLayoutDestroy(s8.wl));
    LT_CHECK(cublasLtMatrixLayoutDestroy(s8.al));
    LT_CHECK(cublasLtMatrixLayoutCreate(&s8.wl, CUDA_R_8I, k, n, plan.kp));
    LT_CHECK(cublasLtMatrixLayoutCreate(&s8.al, CUDA_R_8I, k, m, plan.kp));
    const int32_t alpha = 1, beta = 0;
    auto launch = [&] {
      LT_CHECK(cublasLtMatmul(lt, s8.desc, &alpha, w, s8.wl, a, s8.al, &beta, c_lt, s8.cl, c_lt,
                              s8.cl, &s8.algo, workspace, workspace_bytes, stream));
    };
    row.lt_s8 = ops / TimeIt(launch, stream) / 1e12;
    // Exact integer GEMMs: every result must be identical.
    std::vector<int32_t> ours(plan.mp * plan.np), theirs(m * n);
    BENCH_CHECK(cudaMemcpy(theirs.data(), c_lt, theirs.size() * 4, cudaMemcpyDeviceToHost));
    row.match = true;
    std::vector<int32_t*> results = {c32};
    if (c_wgmma != nullptr) results.push_back(c_wgmma);
    for (int32_t* result : results) {
      BENCH_CHECK(cudaMemcpy(ours.data(), result, ours.size() * 4, cudaMemcpyDeviceToHost));
      for (int64_t i = 0; i < m && row.match; ++i) {
        row.match = std::memcmp(&ours[i * plan.np], &theirs[i * n], n * 4) == 0;
      }
    }
  }
  DestroyLtGemm(s8);

  // cuBLASLt bf16 (values are irrelevant for timing; zeros avoid denormal effects).
  __nv_bfloat16 *ab, *wb, *cb;
  BENCH_CHECK(cudaMalloc(&ab, m * k * 2));
  BENCH_CHECK(cudaMalloc(&wb, n * k * 2));
  BENCH_CHECK(cudaMalloc(&cb, m * n * 2));
  BENCH_CHECK(cudaMemset(ab, 0, m * k * 2));
  BENCH_CHECK(cudaMemset(wb, 0, n * k * 2));
  LtGemm bf = MakeLtGemm(lt, CUDA_R_16BF, CUDA_R_16BF, CUBLAS_COMPUTE_32F, CUDA_R_32F, m, n, k,
                         workspace_bytes);
  if (bf.ok) {
    const float alpha = 1, beta = 0;
    auto launch = [&] {
      LT_CHECK(cublasLtMatmul(lt, bf.desc, &alpha, wb, bf.wl, ab, bf.al, &beta, cb, bf.cl, cb,
                              bf.cl, &bf.algo, workspace, workspace_bytes, stream));
    };
    row.lt_bf16 = ops / TimeIt(launch, stream) / 1e12;
  }
  DestroyLtGemm(bf);
  BENCH_CHECK(cudaFree(ab));
  BENCH_CHECK(cudaFree(wb));
  BENCH_CHECK(cudaFree(cb));
  BENCH_CHECK(cudaFree(a));
  BENCH_CHECK(cudaFree(w));
  BENCH_CHECK(cudaFree(c32));
  BENCH_CHECK(cudaFree(c_lt));
  if (c_wgmma != nullptr) BENCH_CHECK(cudaFree(c_wgmma));
  return row;
}

// LLM decode with GGUF weights: the exact Q8_0 x {Q8_0, Q4_0, Q4_1, Q4_K, Q6_K} matmul
// at M = 1 and 8, K = N = 4096, against the anchor of a device-to-device copy of the
// same weight bytes (what a memory-bound kernel could reach). GB/s counts weight bytes
// read; the copy counts read + write.
void RunQ8Decode(cudaStream_t stream) {
  std::printf("\n%6s %6s %6s %-6s | %10s %10s | %12s %8s\n", "M", "N", "K", "W", "us/call",
              "W GB/s", "copy GB/s", "ratio");
  const struct {
    OpKind kind;
    const char* name;
  } kFormats[] = {{OpKind::kMatMulQ8_0Q8_0, "q8_0"},
                  {OpKind::kMatMulQ8_0Q4_0, "q4_0"},
                  {OpKind::kMatMulQ8_0Q4_1, "q4_1"},
                  {OpKind::kMatMulQ8_0Q4_K, "q4_k"},
                  {OpKind::kMatMulQ8_0Q6_K, "q6_k"}};
  auto launch = [](OpKind kind, const uint8_t* a, const uint8_t* w, int64_t m, int64_t n, int64_t k,
                   uint32_t* out, cudaStream_t stream) {
    switch (kind) {
      case OpKind::kMatMulQ8_0Q4_K:
        return LaunchMatMulKQuant(KQuantFormat::kQ4_K, a, w, m, n, k / 32, out, stream);
      case OpKind::kMatMulQ8_0Q6_K:
        return LaunchMatMulKQuant(KQuantFormat::kQ6_K, a, w, m, n, k / 32, out, stream);
      case OpKind::kMatMulQ8_0Q4_0:
        return LaunchMatMulQ8(Q8WeightFormat::kQ4_0, a, w, m, n, k / 32, out, stream);
      case OpKind::kMatMulQ8_0Q4_1:
        return LaunchMatMulQ8(Q8WeightFormat::kQ4_1, a, w, m, n, k / 32, out, stream);
      default:
        return LaunchMatMulQ8(Q8WeightFormat::kQ8_0, a, w, m, n, k / 32, out, stream);
    }
  };
  constexpr int64_t kN = 4096, kK = 4096;
  for (const auto& f : kFormats) {
    for (int64_t m : {1, 8}) {
      auto in = MakeRandomInputs(f.kind, m, kN, kK, 3, InputProfile::kRealistic);
      if (!in.ok()) {
        std::fprintf(stderr, "MakeRandomInputs: %s\n", std::string(in.status().message()).c_str());
        std::exit(1);
      }
      uint8_t *a, *w, *w_copy;
      uint32_t* out;
      BENCH_CHECK(cudaMalloc(&a, in->a.size()));
      BENCH_CHECK(cudaMalloc(&w, in->w.size()));
      BENCH_CHECK(cudaMalloc(&w_copy, in->w.size()));
      BENCH_CHECK(cudaMalloc(&out, m * kN * 4));
      BENCH_CHECK(cudaMemcpy(a, in->a.data(), in->a.size(), cudaMemcpyHostToDevice));
      BENCH_CHECK(cudaMemcpy(w, in->w.data(), in->w.size(), cudaMemcpyHostToDevice));
      const double t =
          TimeIt([&] { BENCH_CHECK(launch(f.kind, a, w, m, kN, kK, out, stream)); }, stream);
      const double t_copy = TimeIt(
          [&] {
            BENCH_CHECK(cudaMemcpyAsync(w_copy, w, in->w.size(), cudaMemcpyDeviceToDevice, stream));
          },
          stream);
      const double gbs = in->w.size() / t / 1e9, copy_gbs = 2.0 * in->w.size() / t_copy / 1e9;
      std::printf("%6lld %6lld %6lld %-6s | %10.1f %10.1f | %12.1f %8.3f\n",
                  static_cast<long long>(m), static_cast<long long>(kN), static_cast<long long>(kK),
                  f.name, t * 1e6, gbs, copy_gbs, gbs / copy_gbs);
      std::fflush(stdout);
      BENCH_CHECK(cudaFree(a));
      BENCH_CHECK(cudaFree(w));
      BENCH_CHECK(cudaFree(w_copy));
      BENCH_CHECK(cudaFree(out));
    }
  }
}

int Main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--min-seconds=", 14) == 0) g_min_seconds = std::atof(argv[i] + 14);
  }
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || count == 0) {
    std::printf("bench_cuda: no CUDA device: %s\n",
                err != cudaSuccess ? cudaGetErrorString(err) : "0 devices");
    return 77;
  }
  cudaDeviceProp props{};
  BENCH_CHECK(cudaGetDeviceProperties(&props, 0));
  std::printf("device: %s, sm_%d%d, %d SMs\n", props.name, props.major, props.minor,
              props.multiProcessorCount);
  // The backend's start-up check of both s8 kernels (CheckS8Kernel). The wgmma kernel
  // is benchmarked only after it passed, as the backend serves with it only then.
  bool context_lost = false;
  const absl::Status mma_check =
      CheckS8Kernel(S8Kernel::kMma, props.multiProcessorCount, &context_lost);
  std::printf("mma.sync start-up check: %s\n",
              mma_check.ok() ? "passed" : std::string(mma_check.message()).c_str());
  if (!mma_check.ok()) return 1;
  if (props.major == 9 && props.minor == 0) {
    const absl::Status wgmma_check =
        CheckS8Kernel(S8Kernel::kWgmma, props.multiProcessorCount, &context_lost);
    std::printf("wgmma start-up check: %s\n",
                wgmma_check.ok() ? "passed" : std::string(wgmma_check.message()).c_str());
    if (context_lost) return 1;
    g_wgmma_enabled = wgmma_check.ok();
  } else {
    std::printf("wgmma: off (needs compute capability 9.0)\n");
  }
  cudaStream_t stream;
  BENCH_CHECK(cudaStreamCreate(&stream));
  cublasLtHandle_t lt;
  LT_CHECK(cublasLtCreate(&lt));
  const size_t workspace_bytes = size_t{64} << 20;
  void* workspace;
  BENCH_CHECK(cudaMalloc(&workspace, workspace_bytes));

  std::vector<std::array<int64_t, 3>> shapes = {{4096, 4096, 4096}, {8192, 8192, 8192}};
  for (int64_t nk : {4096, 8192}) {
    for (int64_t m : {1, 2, 4, 8, 16, 32, 64}) shapes.push_back({m, nk, nk});
  }
  std::printf("%6s %6s %6s | %-8s %12s | %12s %8s | %12s %8s | %14s | s32 bytes\n", "M", "N", "K",
              "path", "exact TOP/s", "LtS8 TOP/s", "ratio", "LtBF16 TOP/s", "ratio",
              "mma.sync TOP/s");
  bool all_match = true;
  Row acceptance{};
  for (const auto& s : shapes) {
    const Row r = RunShape(lt, stream, props.multiProcessorCount, s[0], s[1], s[2], workspace,
                           workspace_bytes);
    auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
    std::printf("%6lld %6lld %6lld | %-8s %12.1f | %12.1f %8.3f | %12.1f %8.3f | %14.1f | %s\n",
                static_cast<long long>(r.m), static_cast<long long>(r.n),
                static_cast<long long>(r.k), r.path, r.ours, r.lt_s8, ratio(r.ours, r.lt_s8),
                r.lt_bf16, ratio(r.ours, r.lt_bf16), r.mma,
                r.lt_s8 > 0 ? (r.match ? "equal to cuBLASLt" : "MISMATCH") : "n/a");
    std::fflush(stdout);
    if (r.lt_s8 > 0 && !r.match) all_match = false;
    if (r.m == 8192 && r.n == 8192 && r.k == 8192) acceptance = r;
  }
  // The speed target (>= 0.8x cuBLASLt s8 at 8192^3), in one line a reader (or a script) can find.
  if (acceptance.lt_s8 > 0) {
    const double ratio = acceptance.ours / acceptance.lt_s8;
    std::printf(
        "acceptance: exact s8 (%s) at 8192^3 = %.3fx cuBLASLt s8 (%.1f vs %.1f TOP/s), "
        "target >= 0.80x: %s\n",
        acceptance.path, ratio, acceptance.ours, acceptance.lt_s8,
        ratio >= 0.8 ? "MET" : "NOT MET");
  } else {
    std::printf("acceptance: no cuBLASLt s8 figure at 8192^3, nothing to compare\n");
  }
  RunQ8Decode(stream);
  BENCH_CHECK(cudaFree(workspace));
  cublasLtDestroy(lt);
  BENCH_CHECK(cudaStreamDestroy(stream));
  return all_match ? 0 : 1;
}

}  // namespace
}  // namespace datanode::ops::cuda

int main(int argc, char** argv) { return datanode::ops::cuda::Main(argc, argv); }
