// Copyright 2026 The datanode Authors.
//
// The CUDA backend against the reference, byte for byte. Without a usable GPU the
// device tests skip with "no CUDA device: <reason>", and the tests at the top check
// what can be checked anyway: the backend reports UNAVAILABLE (not a crash, not a
// link error), and CUDA errors map to the right status codes.
#include "ops/cuda/cuda_backend.h"

#include <cuda_runtime.h>  // typed cudaMalloc overloads
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "datanode/ops/backend.h"
#include "datanode/ops/random_inputs.h"
#include "ops/cuda/cuda_status.h"
#include "ops/cuda/device_memory.h"
#include "ops/cuda/matmul_s8_mma.cuh"
#include "ops/cuda/matmul_s8_plan.h"
#include "ops/cuda/s8_gemm.h"

namespace datanode::ops {
namespace {

bool DevicePresent(std::string* why) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    *why = std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
    return false;
  }
  if (count == 0) {
    *why = "cudaGetDeviceCount found 0 devices";
    return false;
  }
  return true;
}

TEST(CudaNoDevice, CreateReportsUnavailableWithTheReason) {
  std::string why;
  const bool present = DevicePresent(&why);
  auto backend = cuda::CreateCudaBackend({});
  if (present) {
    // Then only a pre-Ampere GPU may refuse, and it must say so.
    if (!backend.ok()) {
      EXPECT_EQ(backend.status().code(), absl::StatusCode::kUnavailable);
      EXPECT_NE(backend.status().message().find("compute capability"), std::string::npos)
          << backend.status();
    }
    return;
  }
  ASSERT_FALSE(backend.ok());
  EXPECT_EQ(backend.status().code(), absl::StatusCode::kUnavailable) << backend.status();
  const std::string message(backend.status().message());
  EXPECT_EQ(message.rfind("cuda: no CUDA device: ", 0), 0u) << message;
  EXPECT_GT(message.size(), std::strlen("cuda: no CUDA device: ")) << "reason missing";
}

TEST(CudaNoDevice, RegistryListsCudaAndPassesTheReasonOn) {
  std::string why;
  const std::vector<std::string> names = CompiledBackends();
  EXPECT_NE(std::find(names.begin(), names.end(), "cuda"), names.end());
  if (DevicePresent(&why)) GTEST_SKIP() << "a CUDA device is present";
  auto backend = CreateBackend("cuda");
  ASSERT_FALSE(backend.ok());
  EXPECT_EQ(backend.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(backend.status().message().find("no CUDA device"), std::string::npos);
}

TEST(CudaNoDevice, ErrorCodesFollowRetrySemantics) {
  EXPECT_TRUE(cuda::CudaStatus(cudaSuccess, "x").ok());
  EXPECT_EQ(cuda::CudaStatus(cudaErrorMemoryAllocation, "cudaMalloc").code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(cuda::CudaStatus(cudaErrorNoDevice, "x").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(cuda::CudaStatus(cudaErrorInsufficientDriver, "x").code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(cuda::CudaStatus(cudaErrorIllegalAddress, "x").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(cuda::CudaStatus(cudaErrorInvalidValue, "x").code(), absl::StatusCode::kInternal);
  const absl::Status s = cuda::CudaStatus(cudaErrorMemoryAllocation, "cudaMalloc(w)");
  EXPECT_EQ(std::string(s.message()).rfind("cuda: cudaMalloc(w): ", 0), 0u) << s;
  EXPECT_NE(s.message().find("cudaErrorMemoryAllocation"), std::string::npos) << s;
}

// --- Device tests -------------------------------------------------------------------

class CudaDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!DevicePresent(&why)) GTEST_SKIP() << "no CUDA device: " << why;
    auto backend = CreateBackend("cuda");  // includes the golden self-test
    ASSERT_TRUE(backend.ok()) << backend.status();
    cuda_ = std::move(*backend);
    reference_ = std::move(*CreateBackend("reference"));
  }

  // Runs `in` on both backends (optionally with prepared weights on the CUDA side) and
  // asserts byte equality, printing the case on failure.
  void ExpectSame(OpInputs in, const std::string& what, bool prepared = false) {
    OpInputs want = in;
    ASSERT_TRUE(RunOp(*reference_, want.Args()).ok());
    OpArgs args = in.Args();
    std::unique_ptr<PreparedWeights> w;
    if (prepared) {
      auto p = cuda_->PrepareWeights(in.kind, in.n, in.k, in.w, in.w_scale);
      ASSERT_TRUE(p.ok()) << p.status();
      w = std::move(*p);
      EXPECT_GE(w->SizeBytes(), static_cast<int64_t>(in.w.size()));
      args.w = {};
      args.w_scale = {};
      args.w_prepared = w.get();
    }
    const absl::Status st = RunOp(*cuda_, args);
    ASSERT_TRUE(st.ok()) << what << ": " << st;
    ASSERT_EQ(in.out, want.out) << what;
    ASSERT_EQ(in.out_scale, want.out_scale) << what;
  }

  std::unique_ptr<Backend> cuda_;
  std::unique_ptr<Backend> reference_;
};

std::string Describe(OpKind kind, int64_t m, int64_t n, int64_t k, uint64_t seed,
                     InputProfile profile) {
  return std::string(OpKindName(kind)) + " m=" + std::to_string(m) + " n=" + std::to_string(n) +
         " k=" + std::to_string(k) + " seed=" + std::to_string(seed) +
         " profile=" + std::to_string(static_cast<int>(profile));
}

// >= 1,000 random cases per op (every op of the table, the K-quant matmuls included):
// M, N, K from 1 and odd sizes up to a few hundred (K a multiple of the op's block:
// 32, or 256 for the K-quants), all input profiles (wide, extreme, realistic); every
// 10th case uses prepared weights.
// The admission test's memory phase on the GPU: every pattern reads back intact from
// global memory (2.5 MiB + 8: a partial block), timed by CUDA events.
TEST_F(CudaDeviceTest, DeviceMemoryPatternTestRunsOnTheGpu) {
  auto r = cuda_->TestDeviceMemory((5 << 19) + 8, 42);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->errors, 0) << r->method;
  EXPECT_GT(r->bytes_tested, 0);
  EXPECT_TRUE(r->device_timed);
  EXPECT_GT(r->seconds, 0);
  EXPECT_NE(r->method.find("CUDA device memory"), std::string::npos) << r->method;
  std::printf("cuda memory test: %s, %.2f GB/s\n", r->method.c_str(),
              r->bytes_moved / r->seconds / 1e9);
}

TEST_F(CudaDeviceTest, RandomCasesMatchReferenceByteForByte) {
  constexpr int kCasesPerOp = 1000;
  for (OpKind kind : kAllOpKinds) {
    ASSERT_TRUE(cuda_->Supports(kind)) << OpKindName(kind);
    SplitMix64 rng(0xC0DA + static_cast<uint64_t>(kind));
    const int64_t k_block = FindOpInfo(kind)->k_multiple;
    for (int c = 0; c < kCasesPerOp; ++c) {
      const int64_t m = rng.Next() % 4 == 0 ? 1 : rng.Uniform(1, 48);
      const int64_t n = IsMatMul(kind) ? (rng.Next() % 8 == 0 ? 1 : rng.Uniform(1, 160)) : 0;
      const int64_t k =
          k_block > 1 ? k_block * rng.Uniform(1, k_block == 32 ? 16 : 4) : rng.Uniform(1, 520);
      const auto profile = static_cast<InputProfile>(c % 3);
      const uint64_t seed = rng.Next();
      auto in = MakeRandomInputs(kind, m, n, k, seed, profile);
      ASSERT_TRUE(in.ok()) << in.status();
      ExpectSame(std::move(*in), Describe(kind, m, n, k, seed, profile),
                 IsMatMul(kind) && c % 10 == 0);
    }
  }
}

// Shapes that reach every tile configuration, split-K, multi-stage pipelines and the
// decode path (M = 1) of the tensor-core kernel.
TEST_F(CudaDeviceTest, LargeS8ShapesMatchReference) {
  const int64_t kShapes[][3] = {{1, 4096, 4096},  {7, 1024, 8192}, {64, 512, 2048},
                                {65, 300, 1000},  {128, 128, 64},  {129, 257, 4097},
                                {512, 512, 1024}, {300, 1000, 131}};
  for (OpKind kind : {OpKind::kMatMulS8S32, OpKind::kMatMulS8F32}) {
    for (const auto& s : kShapes) {
      auto in = MakeRandomInputs(kind, s[0], s[1], s[2], 99, InputProfile::kExtreme);
      ASSERT_TRUE(in.ok());
      ExpectSame(std::move(*in), Describe(kind, s[0], s[1], s[2], 99, InputProfile::kExtreme));
    }
  }
}

// The K-quant kernel on decode and prefill shapes: M = 1 (one output tile row), M = 5
// (a partial tile of rows), wide N and the long K of real layers; prepared weights too.
TEST_F(CudaDeviceTest, KQuantShapesMatchReference) {
  const int64_t kShapes[][3] = {{1, 1000, 4096}, {5, 333, 4096}, {33, 300, 2048}, {4, 8, 130816}};
  for (OpKind kind : {OpKind::kMatMulQ8_0Q4_K, OpKind::kMatMulQ8_0Q6_K}) {
    for (const auto& s : kShapes) {
      for (InputProfile profile : {InputProfile::kRealistic, InputProfile::kExtreme}) {
        auto in = MakeRandomInputs(kind, s[0], s[1], s[2], 41, profile);
        ASSERT_TRUE(in.ok()) << in.status();
        ExpectSame(std::move(*in), Describe(kind, s[0], s[1], s[2], 41, profile),
                   profile == InputProfile::kExtreme);
      }
    }
  }
}

// A row computed alone equals the same row computed in a batch (no batch-dependent
// tiling or split can change a byte).
TEST_F(CudaDeviceTest, BatchInvariance) {
  for (OpKind kind : {OpKind::kMatMulS8S32, OpKind::kMatMulS8F32, OpKind::kMatMulQ8_0Q4_1,
                      OpKind::kMatMulQ8_0Q4_K, OpKind::kMatMulQ8_0Q6_K}) {
    auto batch = MakeRandomInputs(kind, 200, 384, 1024, 5, InputProfile::kRealistic);
    ASSERT_TRUE(batch.ok());
    ASSERT_TRUE(RunOp(*cuda_, batch->Args()).ok());
    const int64_t a_row = static_cast<int64_t>(batch->a.size()) / batch->m;
    for (int64_t row : {0, 1, 77, 199}) {
      OpInputs one = *batch;
      one.m = 1;
      one.a.assign(batch->a.begin() + row * a_row, batch->a.begin() + (row + 1) * a_row);
      if (!batch->a_scale.empty()) {
        one.a_scale.assign(batch->a_scale.begin() + row * 4, batch->a_scale.begin() + row * 4 + 4);
      }
      one.out.assign(batch->n * 4, 0);
      ASSERT_TRUE(RunOp(*cuda_, one.Args()).ok());
      ASSERT_TRUE(
          std::equal(one.out.begin(), one.out.end(), batch->out.begin() + row * batch->n * 4))
          << OpKindName(kind) << " row " << row;
    }
  }
}

TEST_F(CudaDeviceTest, ConcurrentCallsGiveTheSameBytes) {
  auto in = MakeRandomInputs(OpKind::kMatMulS8F32, 33, 500, 700, 11, InputProfile::kWide);
  ASSERT_TRUE(in.ok());
  OpInputs want = *in;
  ASSERT_TRUE(RunOp(*reference_, want.Args()).ok());
  std::vector<OpInputs> copies(4, *in);
  std::vector<absl::Status> results(copies.size());
  std::vector<std::thread> threads;
  for (size_t t = 0; t < copies.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < 10 && results[t].ok(); ++r) results[t] = RunOp(*cuda_, copies[t].Args());
    });
  }
  for (auto& th : threads) th.join();
  for (size_t t = 0; t < copies.size(); ++t) {
    ASSERT_TRUE(results[t].ok()) << results[t];
    ASSERT_EQ(copies[t].out, want.out) << "thread " << t;
  }
}

// The start-up check of the mma.sync kernel, run again here so that its result is in
// the log even when the backend passed it silently.
TEST_F(CudaDeviceTest, MmaKernelPassesItsStartUpCheck) {
  cudaDeviceProp props{};
  ASSERT_EQ(cudaGetDeviceProperties(&props, 0), cudaSuccess);
  bool context_lost = false;
  const absl::Status check =
      cuda::CheckS8Kernel(cuda::S8Kernel::kMma, props.multiProcessorCount, &context_lost);
  EXPECT_TRUE(check.ok()) << check;
  EXPECT_FALSE(context_lost);
}

// --- Hopper wgmma kernel ---------------------------------------------------------

// Skips unless the device is compute capability 9.0 and the build has the sm_90a
// kernel; sets *sm_count.
bool HopperWithWgmma(int* sm_count, std::string* why) {
  cudaDeviceProp props{};
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaGetDeviceProperties(&props, device) != cudaSuccess) {
    *why = "cudaGetDeviceProperties failed";
    return false;
  }
  *sm_count = props.multiProcessorCount;
  if (props.major != 9 || props.minor != 0) {
    *why = "the wgmma kernel needs compute capability 9.0, this is " + std::to_string(props.major) +
           "." + std::to_string(props.minor);
    return false;
  }
#if !defined(DATANODE_CUDA_SM90A)
  *why = "this build has no sm_90a kernel (CUDA architectures without 90)";
  return false;
#else
  return true;
#endif
}

// On an H100/H200 the backend must have enabled the wgmma kernel, which must pass its
// start-up check: a failure would silently cost speed (mma.sync serves instead), and
// this is where it shows.
TEST_F(CudaDeviceTest, HopperServesLargeGemmsWithWgmma) {
  int sms = 0;
  std::string why;
  if (!HopperWithWgmma(&sms, &why)) GTEST_SKIP() << why;
  auto allowed = cuda::WgmmaAllowed(std::getenv("DATANODE_CUDA_WGMMA"));
  ASSERT_TRUE(allowed.ok()) << allowed.status();
  if (!*allowed) GTEST_SKIP() << "DATANODE_CUDA_WGMMA=0";
  const std::string description = cuda_->Description();
  std::printf("backend: %s\n", description.c_str());  // for the log
  EXPECT_NE(description.find("s8 GEMM: wgmma"), std::string::npos)
      << "the wgmma kernel did not pass its start-up check: " << description;
  bool context_lost = false;
  const absl::Status check = cuda::CheckS8Kernel(cuda::S8Kernel::kWgmma, sms, &context_lost);
  EXPECT_TRUE(check.ok()) << check;
  ASSERT_FALSE(context_lost);
}

// Through the backend, shapes the choice rule sends to the wgmma kernel: partial N and
// K tiles, rows past M, long K loops, both s8 ops, prepared weights.
TEST_F(CudaDeviceTest, WgmmaShapesMatchReference) {
  int sms = 0;
  std::string why;
  if (!HopperWithWgmma(&sms, &why)) GTEST_SKIP() << why;
  const int64_t kShapes[][3] = {{1536, 2900, 1090}, {1600, 2688, 333}, {1800, 2304, 2100}};
  for (const auto& s : kShapes) {
    ASSERT_EQ(cuda::ChooseS8Kernel(cuda::PlanS8Gemm(s[0], s[1], s[2], sms), sms, true),
              cuda::S8Kernel::kWgmma)
        << s[0] << "x" << s[1] << "x" << s[2] << " would not take the wgmma path on " << sms
        << " SMs";
    for (OpKind kind : {OpKind::kMatMulS8S32, OpKind::kMatMulS8F32}) {
      auto in = MakeRandomInputs(kind, s[0], s[1], s[2], 7, InputProfile::kExtreme);
      ASSERT_TRUE(in.ok());
      ExpectSame(std::move(*in), Describe(kind, s[0], s[1], s[2], 7, InputProfile::kExtreme),
                 kind == OpKind::kMatMulS8F32);
    }
  }
}

// The two kernels directly, on 300 random shapes down to 1 x 1 x 1 (128-row tiles, so
// the wgmma kernel can run them): every C32 byte of [m, n] of the wgmma kernel must
// equal the mma.sync kernel's.
TEST_F(CudaDeviceTest, WgmmaKernelEqualsMmaKernel) {
  int sms = 0;
  std::string why;
  if (!HopperWithWgmma(&sms, &why)) GTEST_SKIP() << why;
  bool context_lost = false;
  const absl::Status check = cuda::CheckS8Kernel(cuda::S8Kernel::kWgmma, sms, &context_lost);
  ASSERT_FALSE(context_lost) << check;
  ASSERT_TRUE(check.ok()) << "the wgmma kernel fails its start-up check: " << check;
  cuda::DevicePool pool(/*max_cached_bytes=*/0);
  SplitMix64 rng(0x90A);
  for (int c = 0; c < 300; ++c) {
    const int64_t m = rng.Uniform(1, 700), n = rng.Uniform(1, 1100), k = rng.Uniform(1, 2100);
    const cuda::S8GemmPlan plan = cuda::PlanS8GemmWith128RowTiles(m, n, k, sms);
    auto in = MakeRandomInputs(OpKind::kMatMulS8S32, m, n, k, rng.Next(), InputProfile::kWide);
    ASSERT_TRUE(in.ok());
    std::vector<uint8_t> a(plan.mp * plan.kp), w(plan.np * plan.kp);
    cuda::PackPaddedRows(in->a.data(), m, k, plan.mp, plan.kp, a.data());
    cuda::PackPaddedRows(in->w.data(), n, k, plan.np, plan.kp, w.data());
    const size_t c_bytes = plan.mp * plan.np * 4;
    auto a_dev = pool.Allocate(a.size());
    auto w_dev = pool.Allocate(w.size());
    auto c_mma = pool.Allocate(c_bytes);
    auto c_wg = pool.Allocate(c_bytes);
    ASSERT_TRUE(a_dev.ok() && w_dev.ok() && c_mma.ok() && c_wg.ok());
    ASSERT_EQ(cudaMemcpy(a_dev->data(), a.data(), a.size(), cudaMemcpyHostToDevice), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(w_dev->data(), w.data(), w.size(), cudaMemcpyHostToDevice), cudaSuccess);
    ASSERT_EQ(cudaMemset(c_wg->data(), 0x5A, c_bytes), cudaSuccess);
    for (auto [kernel, c32] : {std::pair{cuda::S8Kernel::kMma, c_mma->as<int32_t>()},
                               std::pair{cuda::S8Kernel::kWgmma, c_wg->as<int32_t>()}}) {
      const cudaError_t launched =
          cuda::LaunchS8Gemm(kernel, plan, a_dev->as<int8_t>(), w_dev->as<int8_t>(), c32, nullptr);
      const cudaError_t done = launched == cudaSuccess ? cudaDeviceSynchronize() : launched;
      // A fault poisons the context: nothing after it can run in this process.
      ASSERT_EQ(done, cudaSuccess) << cuda::S8KernelName(kernel) << ", case " << c << ": " << m
                                   << "x" << n << "x" << k << ": " << cudaGetErrorString(done);
    }
    std::vector<int32_t> want(plan.mp * plan.np), got(plan.mp * plan.np);
    ASSERT_EQ(cudaMemcpy(want.data(), c_mma->data(), c_bytes, cudaMemcpyDeviceToHost), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(got.data(), c_wg->data(), c_bytes, cudaMemcpyDeviceToHost), cudaSuccess);
    for (int64_t row = 0; row < m; ++row) {
      ASSERT_EQ(std::memcmp(&got[row * plan.np], &want[row * plan.np], n * 4), 0)
          << "case " << c << ": " << m << "x" << n << "x" << k << ": row " << row
          << " differs from mma.sync";
    }
  }
}

TEST_F(CudaDeviceTest, ForeignPreparedWeightsAreRejected) {
  auto in = MakeRandomInputs(OpKind::kMatMulS8S32, 2, 3, 4, 1);
  ASSERT_TRUE(in.ok());
  auto foreign = reference_->PrepareWeights(in->kind, 3, 4, in->w, in->w_scale);
  ASSERT_TRUE(foreign.ok());
  OpArgs args = in->Args();
  args.w_prepared = foreign->get();
  EXPECT_EQ(RunOp(*cuda_, args).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace datanode::ops
