// Copyright 2026 The datanode Authors.
//
// Runs without a GPU: compiles ops/cuda/llm_math.cuh (the arithmetic of the CUDA
// RmsNorm, Add, SiluMul and Attend kernels) for the host and checks it byte for byte against
// the reference ops (ops/reference/llm_*.cc) on random rows with extreme values
// (llm_test_inputs.h). The kernels run the same source on the device; the device run
// itself is llm_cuda_test.cc.
#include "ops/cuda/llm_math.cuh"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "datanode/ops/elementwise.h"
#include "datanode/ops/llm.h"
#include "datanode/ops/random_inputs.h"
#include "ops/reference/fixed_point.h"
#include "tests/cuda/llm_test_inputs.h"

namespace datanode::ops::cuda {
namespace {

using llm_test::AddPartner;
using llm_test::AttendCase;
using llm_test::FromBits;
using llm_test::RandomAttendCase;
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
    ASSERT_EQ(ToBits(want[i]), got[i]) << op << " row " << row << " element " << i << ": a bits 0x"
                                       << std::hex << ToBits(a[i]) << ", b bits 0x" << ToBits(b[i]);
  }
  *elements += static_cast<int64_t>(want.size());
}

// Rows of 1 to 300 random values x and y = partner(rng, x): the device element routine
// `element` (on the host) against the reference op `ref` (llm.h), bit for bit.
template <typename Partner, typename Ref, typename Element>
void ExpectElementwiseMatches(const char* op, uint64_t seed, Partner partner, Ref ref,
                              Element element) {
  SplitMix64 rng(seed);
  int64_t elements = 0;
  for (int row = 0; row < kRows; ++row) {
    const int64_t n = rng.Uniform(1, 300);
    const std::vector<float> x = RandomRow(rng, n);
    const std::vector<float> y = partner(rng, x);
    std::vector<float> want(x.size());
    ASSERT_TRUE(ref(x, y, want).ok());
    const std::vector<uint32_t> xb = Bits(x), yb = Bits(y);
    std::vector<uint32_t> got(x.size());
    for (size_t i = 0; i < x.size(); ++i) got[i] = element(xb[i], yb[i]);
    ExpectSameBits(op, x, y, want, got, row, &elements);
  }
  ::testing::Test::RecordProperty("elements", static_cast<int>(elements));
  EXPECT_GT(elements, 100000);
}

// The device element function of table row `index` (llm_math.cuh's <Name>Element), on the
// host: the same dispatch llm_kernels.cu instantiates.
uint32_t DeviceElement(int index, const uint32_t* in) {
  int row = 0;
#define DATANODE_ELEMENTWISE_OP(Name, snake, arity, inputs) \
  if (index == row++) return llm_math::Name##Element(in);
#include "datanode/ops/elementwise_ops.inc"
#undef DATANODE_ELEMENTWISE_OP
  ADD_FAILURE() << "no elementwise op " << index;
  return 0;
}

// Every row of elementwise_ops.inc: the CUDA element function against the reference's, on
// random rows with extreme values (and equal / opposite partners), bit for bit.
TEST(LlmMath, EveryElementwiseOpMatchesTheReference) {
  for (int index = 0; index < llm::kNumElementwiseOps; ++index) {
    const llm::ElementwiseOp op = llm::ElementwiseOpAt(index);
    const int arity = llm::InfoOf(op).arity;
    const llm::ElementFn reference = llm::ReferenceElement(op);
    SplitMix64 rng(0xE1E0 + static_cast<uint64_t>(index));
    int64_t elements = 0;
    for (int row = 0; row < kRows; ++row) {
      const int64_t n = rng.Uniform(1, 100);
      std::vector<std::vector<float>> in;
      in.push_back(RandomRow(rng, n));
      for (int j = 1; j < arity; ++j) in.push_back(AddPartner(rng, in[0]));
      for (int64_t i = 0; i < n; ++i) {
        uint32_t bits[llm::kMaxElementwiseArity];
        for (int j = 0; j < arity; ++j) bits[j] = ToBits(in[static_cast<size_t>(j)][i]);
        const uint32_t want = reference(bits), got = DeviceElement(index, bits);
        ASSERT_EQ(got, want) << llm::InfoOf(op).name << " row " << row << " element " << i
                             << std::hex << ": in0 0x" << bits[0] << " want 0x" << want << " got 0x"
                             << got;
      }
      elements += n;
    }
    EXPECT_GT(elements, 50000) << llm::InfoOf(op).name;
  }
}

TEST(LlmMath, AddMatchesReference) {
  ExpectElementwiseMatches(
      "Add", 0xADD0001,
      [](SplitMix64& rng, const std::vector<float>& x) { return AddPartner(rng, x); },
      [](std::span<const float> x, std::span<const float> y, std::span<float> out) {
        return llm::Add(x, y, out);
      },
      [](uint32_t a, uint32_t b) {
        const uint32_t in[] = {a, b};
        return llm_math::AddElement(in);
      });
}

TEST(LlmMath, SiluMulMatchesReference) {
  ExpectElementwiseMatches(
      "SiluMul", 0x5110001,
      [](SplitMix64& rng, const std::vector<float>& gate) {
        return RandomRow(rng, static_cast<int64_t>(gate.size()));
      },
      [](std::span<const float> gate, std::span<const float> up, std::span<float> out) {
        return llm::SiluMul(gate, up, out);
      },
      [](uint32_t g, uint32_t u) {
        const uint32_t in[] = {g, u};
        return llm_math::SiluMulElement(in);
      });
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
  for (size_t i = 0; i < gate.size(); ++i) {
    const uint32_t in[] = {gb[i], ub[i]};
    got[i] = llm_math::SiluMulElement(in);
  }
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

// --- Attend ---------------------------------------------------------------------------

// The kernel's computation (LlmAttendKernel) run on the host: the same llm_math
// functions, the same split over 256 threads and the same combination order. Adds to
// *spread the heads with two or more nonzero weights.
std::vector<uint32_t> AttendLikeTheKernel(const AttendCase& c, int64_t* spread) {
  constexpr int kThreads = 256;
  const int hd = c.shape.head_dim;
  const int group = c.shape.n_heads / c.shape.n_kv_heads;
  const int64_t row_values = int64_t{c.shape.n_kv_heads} * hd;
  const int64_t c_q40 = llm_math::AttendScoreScaleQ40(hd);
  std::vector<uint16_t> k(c.k.size() / 2), v(c.v.size() / 2);
  std::memcpy(k.data(), c.k.data(), c.k.size());
  std::memcpy(v.data(), c.v.data(), c.v.size());
  const std::vector<uint32_t> q = Bits(c.q);
  std::vector<uint32_t> out(c.q.size());
  std::vector<i128> dots(static_cast<size_t>(c.n_positions));
  std::vector<int64_t> weights(static_cast<size_t>(c.n_positions));
  for (int h = 0; h < c.shape.n_heads; ++h) {
    const int64_t kv_offset = int64_t{h / group} * hd;
    std::vector<int64_t> qh(static_cast<size_t>(hd));
    for (int j = 0; j < hd; ++j) qh[j] = llm_math::QueryUnits(q[int64_t{h} * hd + j]);
    std::vector<i128> part_max(kThreads, 0);
    for (int t = 0; t < kThreads; ++t) {
      bool any = false;
      for (int64_t p = t; p < c.n_positions; p += kThreads) {
        i128 dot = 0;
        for (int j = 0; j < hd; ++j) {
          dot += i128(qh[j]) * llm_math::F16Units(k[p * row_values + kv_offset + j]);
        }
        dots[p] = dot;
        if (!any || dot > part_max[t]) part_max[t] = dot;
        any = true;
      }
    }
    i128 dmax = part_max[0];
    const int used = c.n_positions < kThreads ? static_cast<int>(c.n_positions) : kThreads;
    for (int t = 1; t < used; ++t) dmax = part_max[t] > dmax ? part_max[t] : dmax;
    int64_t total = 0;
    for (int t = 0; t < kThreads; ++t) {
      int64_t sum = 0;
      for (int64_t p = t; p < c.n_positions; p += kThreads) {
        weights[p] = llm_math::AttendWeight(dmax - dots[p], c_q40);
        sum += weights[p];
      }
      total += sum;
    }
    if (std::count_if(weights.begin(), weights.end(), [](int64_t w) { return w != 0; }) >= 2) {
      ++*spread;
    }
    for (int j = 0; j < hd; ++j) {
      i128 acc = 0;
      for (int64_t p = 0; p < c.n_positions; ++p) {
        if (weights[p] == 0) continue;
        acc += i128(weights[p]) * llm_math::F16Units(v[p * row_values + kv_offset + j]);
      }
      out[int64_t{h} * hd + j] = llm_math::AttendOutput(acc, total);
    }
  }
  return out;
}

TEST(LlmMath, AttendMatchesReference) {
  SplitMix64 rng(0xA77E0001);
  int64_t elements = 0, spread = 0;
  for (int i = 0; i < 1200; ++i) {
    const AttendCase c = RandomAttendCase(rng);
    std::vector<float> want(c.q.size());
    ASSERT_TRUE(llm::Attend(c.shape, c.q, c.k, c.v, c.n_positions, want).ok());
    const std::vector<uint32_t> got = AttendLikeTheKernel(c, &spread);
    for (size_t j = 0; j < want.size(); ++j) {
      ASSERT_EQ(ToBits(want[j]), got[j])
          << "case " << i << " (n_heads " << c.shape.n_heads << ", n_kv_heads "
          << c.shape.n_kv_heads << ", head_dim " << c.shape.head_dim << ", positions "
          << c.n_positions << ") output " << j;
    }
    elements += static_cast<int64_t>(want.size());
  }
  EXPECT_GT(elements, 100000);
  EXPECT_GT(spread, 1000);  // heads whose softmax mixed two or more positions
}

// The long division of RoundQuotient128F32 against the compiler's 128-bit division.
TEST(LlmMath, DivU128ByU64MatchesDivision) {
  SplitMix64 rng(0xD1710001);
  for (int i = 0; i < 200000; ++i) {
    const u128 n = (u128(rng.Next()) << 64 | rng.Next()) >> rng.Uniform(0, 127);
    uint64_t d = rng.Next() >> rng.Uniform(1, 63);
    if (d == 0) d = 1;
    bool inexact = false;
    const u128 q = llm_math::DivU128ByU64(n, d, &inexact);
    ASSERT_TRUE(q == n / d) << i;
    ASSERT_EQ(inexact, n % d != 0) << i;
  }
}

// RoundQuotient128F32 against fixed::RoundQuotient128ToF32Bits, on quotients built to
// sit exactly on a rounding tie with and without a remainder (where the sticky bit
// decides; random Attend sums almost never land there) and on random ones.
TEST(LlmMath, RoundQuotient128MatchesReference) {
  SplitMix64 rng(0x40071E01);
  for (int i = 0; i < 200000; ++i) {
    const uint64_t den = (rng.Next() >> rng.Uniform(1, 63)) | 1;
    u128 num;
    if (i % 2 == 0) {
      // q = (24-bit odd-or-even mantissa, then a 1 bit) << s: a tie at 24 bits.
      const u128 m25 = (u128((rng.Next() & 0xFFFFFF) | 0x800000) << 1) | 1;
      const u128 q = m25 << rng.Uniform(0, 37);
      const uint64_t r = rng.Next() % 3 == 0 ? 0 : rng.Next() % den;
      num = q * den + r;
    } else {
      num = (u128(rng.Next()) << 64 | rng.Next()) >> rng.Uniform(2, 127);
    }
    const i128 signed_num = rng.Next() & 1 ? -i128(num) : i128(num);
    const int exponent = static_cast<int>(rng.Uniform(-260, 60));
    ASSERT_EQ(llm_math::RoundQuotient128F32(signed_num, exponent, den),
              llm::fixed::RoundQuotient128ToF32Bits(signed_num, exponent, den))
        << i;
  }
}

}  // namespace
}  // namespace datanode::ops::cuda
