// Copyright 2026 The datanode Authors.
//
// Runs without a GPU: compiles ops/cuda/llm_math.cuh (the arithmetic of the CUDA
// RmsNorm, Add and SiluMul kernels) for the host and checks it byte for byte against
// the reference ops (ops/reference/llm_*.cc) on random rows with extreme values
// (llm_test_inputs.h). The kernels run the same source on the device; the device run
// itself is llm_cuda_test.cc.
#include "ops/cuda/llm_math.cuh"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "datanode/ops/llm.h"
#include "datanode/ops/random_inputs.h"
#include "tests/cuda/llm_test_inputs.h"

namespace datanode::ops::cuda {
namespace {

using llm_test::AddPartner;
using llm_test::FromBits;
using llm_test::RandomEps;
using llm_test::RandomRmsLength;
using llm_test::RandomRow;
using llm_test::ToBits;

constexpr int kRows = 2000;

std::vector<uint32_t> Bits(const std::vector<float>& v) {
  std::vector<uint32_t> bits(v.size());
  std::memcpy(bits.data(), v.data(), v.size() * 4);
  return bits;
}

// Compares element by element so that a failure names the inputs.
void ExpectSameBits(const char* op, const std::vector<float>& a, const std::vector<float>& b,
                    const std::vector<float>& want, const std::vector<uint32_t>& got, int row,
                    int64_t* elements) {
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(ToBits(want[i]), got[i])
        << op << " row " << row << " element " << i << ": a bits 0x" << std::hex << ToBits(a[i])
        << ", b bits 0x" << ToBits(b[i]);
  }
  *elements += static_cast<int64_t>(want.size());
}

TEST(LlmMath, AddMatchesReference) {
  SplitMix64 rng(0xADD0001);
  int64_t elements = 0;
  for (int row = 0; row < kRows; ++row) {
    const int64_t n = rng.Uniform(1, 300);
    const std::vector<float> x = RandomRow(rng, n);
    const std::vector<float> y = AddPartner(rng, x);
    std::vector<float> want(x.size());
    ASSERT_TRUE(llm::Add(x, y, want).ok());
    const std::vector<uint32_t> xb = Bits(x), yb = Bits(y);
    std::vector<uint32_t> got(x.size());
    for (size_t i = 0; i < x.size(); ++i) got[i] = llm_math::AddElement(xb[i], yb[i]);
    ExpectSameBits("Add", x, y, want, got, row, &elements);
  }
  RecordProperty("elements", static_cast<int>(elements));
  EXPECT_GT(elements, 100000);
}

TEST(LlmMath, SiluMulMatchesReference) {
  SplitMix64 rng(0x5110001);
  int64_t elements = 0;
  for (int row = 0; row < kRows; ++row) {
    const int64_t n = rng.Uniform(1, 300);
    const std::vector<float> gate = RandomRow(rng, n);
    const std::vector<float> up = RandomRow(rng, n);
    std::vector<float> want(gate.size());
    ASSERT_TRUE(llm::SiluMul(gate, up, want).ok());
    const std::vector<uint32_t> gb = Bits(gate), ub = Bits(up);
    std::vector<uint32_t> got(gate.size());
    for (size_t i = 0; i < gate.size(); ++i) got[i] = llm_math::SiluMulElement(gb[i], ub[i]);
    ExpectSameBits("SiluMul", gate, up, want, got, row, &elements);
  }
  EXPECT_GT(elements, 100000);
}

// Every gate exponent from subnormal to FLT_MAX, both signs, against a few ups: the
// exp/sigma branches (k >= -30 or not, the cap at 2^42) all appear.
TEST(LlmMath, SiluMulSweepsGateExponents) {
  SplitMix64 rng(0x5110002);
  std::vector<float> gate, up;
  for (int biased = 0; biased <= 254; ++biased) {
    for (int rep = 0; rep < 8; ++rep) {
      gate.push_back(FromBits(llm_test::WithExponent(rng, biased)));
      up.push_back(FromBits(llm_test::ValueOfClass(rng, static_cast<int>(rng.Uniform(0, 9)))));
    }
  }
  std::vector<float> want(gate.size());
  ASSERT_TRUE(llm::SiluMul(gate, up, want).ok());
  const std::vector<uint32_t> gb = Bits(gate), ub = Bits(up);
  std::vector<uint32_t> got(gate.size());
  for (size_t i = 0; i < gate.size(); ++i) got[i] = llm_math::SiluMulElement(gb[i], ub[i]);
  int64_t elements = 0;
  ExpectSameBits("SiluMul sweep", gate, up, want, got, 0, &elements);
}

TEST(LlmMath, RmsNormMatchesReference) {
  SplitMix64 rng(0x4350001);
  int64_t elements = 0;
  for (int row = 0; row < kRows; ++row) {
    const int64_t n = RandomRmsLength(rng);
    const std::vector<float> x = RandomRow(rng, n);
    const std::vector<float> gain = RandomRow(rng, n);
    const float eps = RandomEps(rng);
    std::vector<float> want(x.size());
    ASSERT_TRUE(llm::RmsNorm(x, gain, eps, want).ok());
    const std::vector<uint32_t> xb = Bits(x), gb = Bits(gain);
    std::vector<uint32_t> got(x.size());
    llm_math::RmsNormRow(xb.data(), gb.data(), n, ToBits(eps), got.data());
    ExpectSameBits("RmsNorm", x, gain, want, got, row, &elements);
  }
  EXPECT_GT(elements, 100000);
}

// The kernel's split of the row: per-thread partial maxima and sums over a strided
// share (256 threads), combined in thread order, give RmsNormRow's scale (this is the
// kernel's reduction, run on the host).
TEST(LlmMath, RmsNormStridedReductionMatchesRow) {
  SplitMix64 rng(0x4350002);
  constexpr int kThreads = 256;
  for (int row = 0; row < 300; ++row) {
    const int64_t n = RandomRmsLength(rng);
    const std::vector<uint32_t> x = Bits(RandomRow(rng, n));
    const std::vector<uint32_t> gain = Bits(RandomRow(rng, n));
    const uint32_t eps_bits = ToBits(RandomEps(rng));
    std::vector<int> part_exp(kThreads, llm_math::kRmsNoExponent);
    for (int t = 0; t < kThreads; ++t) {
      for (int64_t i = t; i < n; i += kThreads) {
        const int e = llm_math::RmsExponent(x[i]);
        part_exp[t] = e > part_exp[t] ? e : part_exp[t];
      }
    }
    int max_exp = llm_math::kRmsNoExponent;
    for (int t = 0; t < kThreads; ++t) max_exp = part_exp[t] > max_exp ? part_exp[t] : max_exp;
    uint64_t total = 0;
    for (int t = 0; t < kThreads; ++t) {
      uint64_t sum = 0;
      for (int64_t i = t; i < n; i += kThreads) sum += llm_math::RmsSquare(x[i], max_exp);
      total += sum;
    }
    const llm_math::RmsScale scale = llm_math::RmsScaleOf(total, max_exp, n, eps_bits);
    std::vector<uint32_t> want(static_cast<size_t>(n));
    llm_math::RmsNormRow(x.data(), gain.data(), n, eps_bits, want.data());
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(llm_math::RmsNormElement(x[i], gain[i], scale), want[i]) << row << " " << i;
    }
  }
}

}  // namespace
}  // namespace datanode::ops::cuda
