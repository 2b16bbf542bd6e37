// Copyright 2026 The datanode Authors.
//
// The CUDA backend's llm::Kernels (RmsNorm, Add, SiluMul, Attend on the GPU; the other
// ops the reference's) against the reference, byte for byte, on the rows llm_math_test.cc
// checks on the host. Without a usable GPU every test here skips with the backend's
// reason ("cuda: no CUDA device: <reason>").
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "datanode/ops/backend.h"
#include "datanode/ops/llm.h"
#include "datanode/ops/llm_kernels.h"
#include "datanode/ops/random_inputs.h"
#include "ops/cuda/cuda_backend.h"
#include "tests/cuda/llm_test_inputs.h"

namespace datanode::ops {
namespace {

using cuda::llm_test::AddPartner;
using cuda::llm_test::RandomEps;
using cuda::llm_test::RandomRmsLength;
using cuda::llm_test::RandomRow;
using cuda::llm_test::ToBits;

constexpr int kRows = 1000;

class CudaLlmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto backend = cuda::CreateCudaBackend({});
    // The message names the reason, e.g. "cuda: no CUDA device: CUDA driver version is
    // insufficient ..." or "cuda: device 0 (...) has compute capability 7.5; ...".
    if (!backend.ok()) GTEST_SKIP() << backend.status().message();
    backend_ = std::move(*backend);
  }
  const llm::Kernels& kernels() const { return backend_->LlmKernels(); }

  std::unique_ptr<Backend> backend_;
};

void ExpectSameBits(const char* op, const std::vector<float>& want, const std::vector<float>& got,
                    int row) {
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(ToBits(want[i]), ToBits(got[i])) << op << " row " << row << " element " << i;
  }
}

TEST_F(CudaLlmTest, NameIsCuda) { EXPECT_STREQ(kernels().Name(), "cuda"); }

TEST_F(CudaLlmTest, AddMatchesReference) {
  SplitMix64 rng(0xADD0101);
  for (int row = 0; row < kRows; ++row) {
    const int64_t n = row % 50 == 0 ? rng.Uniform(1, 1 << 17) : rng.Uniform(1, 2048);
    const std::vector<float> x = RandomRow(rng, n);
    const std::vector<float> y = AddPartner(rng, x);
    std::vector<float> want(x.size()), got(x.size());
    ASSERT_TRUE(llm::Add(x, y, want).ok());
    ASSERT_TRUE(kernels().Add(x, y, got).ok());
    ExpectSameBits("Add", want, got, row);
  }
}

TEST_F(CudaLlmTest, SiluMulMatchesReference) {
  SplitMix64 rng(0x5110101);
  for (int row = 0; row < kRows; ++row) {
    const int64_t n = row % 50 == 0 ? rng.Uniform(1, 1 << 17) : rng.Uniform(1, 2048);
    const std::vector<float> gate = RandomRow(rng, n);
    const std::vector<float> up = RandomRow(rng, n);
    std::vector<float> want(gate.size()), got(gate.size());
    ASSERT_TRUE(llm::SiluMul(gate, up, want).ok());
    ASSERT_TRUE(kernels().SiluMul(gate, up, got).ok());
    ExpectSameBits("SiluMul", want, got, row);
  }
}

TEST_F(CudaLlmTest, RmsNormMatchesReference) {
  SplitMix64 rng(0x4350101);
  for (int row = 0; row < kRows; ++row) {
    const int64_t n = RandomRmsLength(rng);
    const std::vector<float> x = RandomRow(rng, n);
    const std::vector<float> gain = RandomRow(rng, n);
    const float eps = RandomEps(rng);
    std::vector<float> want(x.size()), got(x.size());
    ASSERT_TRUE(llm::RmsNorm(x, gain, eps, want).ok());
    ASSERT_TRUE(kernels().RmsNorm(x, gain, eps, got).ok());
    ExpectSameBits("RmsNorm", want, got, row);
  }
}

TEST_F(CudaLlmTest, AttendMatchesReference) {
  SplitMix64 rng(0xA77E0101);
  for (int i = 0; i < kRows; ++i) {
    const cuda::llm_test::AttendCase c = cuda::llm_test::RandomAttendCase(rng);
    std::vector<float> want(c.q.size()), got(c.q.size());
    ASSERT_TRUE(llm::Attend(c.shape, c.q, c.k, c.v, c.n_positions, want).ok());
    ASSERT_TRUE(kernels().Attend(c.shape, c.q, c.k, c.v, c.n_positions, got).ok());
    ExpectSameBits("Attend", want, got, i);
  }
}

// Invalid inputs give exactly the reference's status (they are the reference's call).
TEST_F(CudaLlmTest, InvalidInputsGiveTheReferenceStatus) {
  const float inf = cuda::llm_test::FromBits(0x7F800000u);
  std::vector<float> a = {1.0f, 2.0f, 3.0f}, b = {1.0f, inf, 3.0f}, short_row = {1.0f};
  std::vector<float> out(3), ref_out(3);
  EXPECT_EQ(kernels().Add(a, b, out), llm::Add(a, b, ref_out));
  EXPECT_EQ(kernels().Add(a, short_row, out), llm::Add(a, short_row, ref_out));
  EXPECT_EQ(kernels().SiluMul(b, a, out), llm::SiluMul(b, a, ref_out));
  EXPECT_EQ(kernels().RmsNorm(a, a, 0.0f, out), llm::RmsNorm(a, a, 0.0f, ref_out));
  EXPECT_EQ(kernels().RmsNorm(a, a, -1e-5f, out), llm::RmsNorm(a, a, -1e-5f, ref_out));
  EXPECT_EQ(kernels().RmsNorm(a, b, 1e-5f, out), llm::RmsNorm(a, b, 1e-5f, ref_out));
  EXPECT_FALSE(kernels().Add(a, b, out).ok());
  const llm::AttentionShape shape{1, 1, 32};
  std::vector<float> q(32, 1.0f), att_out(32), att_ref(32);
  std::vector<uint8_t> cache(64, 0);
  cache[10] = 0x00;
  cache[11] = 0x7C;  // +inf in K
  EXPECT_EQ(kernels().Attend(shape, q, cache, cache, 1, att_out),
            llm::Attend(shape, q, cache, cache, 1, att_ref));
  EXPECT_EQ(kernels().Attend(shape, q, cache, cache, 2, att_out),
            llm::Attend(shape, q, cache, cache, 2, att_ref));
}

}  // namespace
}  // namespace datanode::ops
