// Copyright 2026 The datanode Authors.
//
// Two exact pieces of the CPU backend's Q8 family: PreparedWeights::ReadRow gives every
// row back as the GGUF bytes that were prepared (every weight format, every kernel
// family, and the reference's RawPreparedWeights), and kQuantizeQ8_0's 64-bit fast path
// writes the reference's bytes on random and adversarial rows (ties at .5, values at the
// clamp, f32 and f16 subnormals, wide exponent gaps), on every kernel family.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/exact_float.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/types.h"
#include "gtest/gtest.h"
#include "tests/ops/test_util.h"

namespace datanode::ops {
namespace {

// Every weight format with GGUF rows (K-quants: whole 256-value super-blocks).
constexpr OpKind kQ8Kinds[] = {OpKind::kMatMulQ8_0Q8_0, OpKind::kMatMulQ8_0Q4_0,
                               OpKind::kMatMulQ8_0Q4_1, OpKind::kMatMulQ8_0Q4_K,
                               OpKind::kMatMulQ8_0Q6_K};

// Bytes of one W row of k values.
int64_t RowBytes(OpKind kind, int64_t k) {
  const OpInfo& info = *FindOpInfo(kind);
  return k / info.w_block_values * info.w_block_bytes;
}

// The backends under test: the reference, and the cpu backend per kernel family here.
std::vector<std::pair<std::string, std::unique_ptr<Backend>>> Backends() {
  std::vector<std::pair<std::string, std::unique_ptr<Backend>>> out;
  auto ref = CreateBackend("reference");
  EXPECT_TRUE(ref.ok()) << ref.status();
  if (ref.ok()) out.emplace_back("reference", std::move(ref).value());
  for (const char* isa : testing::kCpuIsas) {
    std::string why;
    if (!testing::MachineHasIsa(isa, &why)) continue;
    auto cpu = testing::CreateCpuWithIsa(isa, 2);
    EXPECT_TRUE(cpu.ok()) << cpu.status();
    if (cpu.ok()) out.emplace_back(absl::StrCat("cpu ", isa), std::move(cpu).value());
  }
  return out;
}

TEST(ReadRowTest, EveryRowIsTheGgufBytes) {
  for (auto& [name, backend] : Backends()) {
    for (OpKind kind : kQ8Kinds) {
      for (InputProfile profile : {InputProfile::kRealistic, InputProfile::kWide}) {
        // n around the 16-column panel, k of 1 and several blocks (super-blocks for the
        // K-quants: 256 values each).
        const int64_t unit = FindOpInfo(kind)->k_multiple;
        for (auto [n, blocks] :
             {std::pair<int64_t, int64_t>{1, 1}, {15, 2}, {17, 3}, {33, 10}}) {
          const int64_t k = blocks * unit;
          const std::string what = absl::StrCat(name, " ", OpKindName(kind), " n=", n, " k=", k,
                                                " profile=", static_cast<int>(profile));
          auto in = MakeRandomInputs(kind, 1, n, k, 1000 + n * k, profile);
          ASSERT_TRUE(in.ok()) << in.status();
          auto w = backend->PrepareWeights(kind, n, k, in->w, in->w_scale);
          ASSERT_TRUE(w.ok()) << w.status() << " " << what;
          const int64_t row_bytes = RowBytes(kind, k);
          ASSERT_EQ(static_cast<int64_t>(in->w.size()), n * row_bytes) << what;
          std::vector<uint8_t> row(static_cast<size_t>(row_bytes));
          for (int64_t r = 0; r < n; ++r) {
            std::fill(row.begin(), row.end(), 0xCD);
            ASSERT_TRUE((*w)->ReadRow(r, row).ok()) << what << " row " << r;
            for (int64_t i = 0; i < row_bytes; ++i) {
              ASSERT_EQ(row[i], in->w[r * row_bytes + i]) << what << " row " << r << " byte " << i;
            }
          }
          EXPECT_EQ((*w)->ReadRow(n, row).code(), absl::StatusCode::kInvalidArgument) << what;
          EXPECT_EQ((*w)->ReadRow(-1, row).code(), absl::StatusCode::kInvalidArgument) << what;
          std::vector<uint8_t> short_row(static_cast<size_t>(row_bytes - 1));
          EXPECT_EQ((*w)->ReadRow(0, short_row).code(), absl::StatusCode::kInvalidArgument) << what;
        }
      }
    }
  }
}

TEST(ReadRowTest, OtherKindsAreUnimplemented) {
  for (auto& [name, backend] : Backends()) {
    auto in = MakeRandomInputs(OpKind::kMatMulS8S32, 1, 8, 64, 7, InputProfile::kRealistic);
    ASSERT_TRUE(in.ok()) << in.status();
    if (!backend->Supports(OpKind::kMatMulS8S32)) continue;
    auto w = backend->PrepareWeights(OpKind::kMatMulS8S32, 8, 64, in->w, in->w_scale);
    ASSERT_TRUE(w.ok()) << w.status();
    std::vector<uint8_t> row(64);
    EXPECT_EQ((*w)->ReadRow(0, row).code(), absl::StatusCode::kUnimplemented) << name;
  }
}

uint32_t F32Bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

// f16 value bits -> float (finite only).
float F16Value(uint16_t bits) {
  const ExactValue v = DecodeF16Bits(bits);
  return std::ldexp(static_cast<float>(v.mantissa), v.exponent);
}

// Rows of 32-value blocks, each block drawn from one of several adversarial families.
std::vector<float> AdversarialRows(int64_t blocks, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto uni = [&](double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng);
  };
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  std::vector<float> x(static_cast<size_t>(blocks * kQBlockSize));
  for (int64_t b = 0; b < blocks; ++b) {
    float* v = x.data() + b * kQBlockSize;
    const int family = pick(8);
    // A random finite positive f16 scale d0 (normal or subnormal); 127 * d0 is an exact
    // f32, and then the block's d is d0, so (j + 0.5) * d0 are exact ties.
    uint16_t d0_bits = static_cast<uint16_t>(1 + rng() % 0x7BFF);
    if (F16Value(d0_bits) * 127.0f >= 8.3e6f) d0_bits = 0x3C00;
    const float d0 = F16Value(d0_bits);
    for (int j = 0; j < kQBlockSize; ++j) {
      const float sign = (rng() & 1) ? -1.0f : 1.0f;
      switch (family) {
        case 0:  // ordinary values at a random scale
          v[j] = static_cast<float>(std::ldexp(uni(-1, 1), pick(60) - 40));
          break;
        case 1:  // exact ties
          v[j] = sign * (static_cast<float>(pick(127)) + 0.5f) * d0;
          break;
        case 2:  // one ulp either side of ties
          v[j] = std::nextafter(sign * (static_cast<float>(pick(127)) + 0.5f) * d0,
                                (rng() & 1) ? 1e30f : -1e30f);
          break;
        case 3:  // near the clamp: around +-127 d0 and the block maximum
          v[j] = std::nextafter(sign * 127.0f * d0, (rng() & 1) ? 1e30f : 0.0f);
          break;
        case 4:  // f32 subnormals and tiny values
          v[j] = sign * std::ldexp(static_cast<float>(rng() % (1u << 23)), -149 + pick(4) * 20);
          break;
        case 5:  // one large value, the rest tiny (exponent gaps past 51)
          v[j] = j == 0 ? sign * static_cast<float>(uni(1, 8.3e6))
                        : static_cast<float>(std::ldexp(uni(-1, 1), -pick(140)));
          break;
        case 6:  // f16-subnormal block scales: amax around 2^-24 .. 2^-14 times 127
          v[j] = static_cast<float>(std::ldexp(uni(-1, 1), -pick(20) - 10));
          break;
        default:  // integers and zeros
          v[j] = (rng() & 3) == 0 ? 0.0f : sign * static_cast<float>(pick(300));
          break;
      }
    }
    if (family == 1 || family == 2) v[pick(kQBlockSize)] = 127.0f * d0;  // d is d0
  }
  return x;
}

TEST(QuantizeQ8_0Test, FastPathMatchesReference) {
  auto backends = Backends();
  ASSERT_FALSE(backends.empty());
  Backend& ref = *backends.front().second;
  int64_t compared = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    const int64_t m = 1 + static_cast<int64_t>(seed % 7);
    const int64_t k = 32 * (1 + static_cast<int64_t>(seed % 24));
    std::vector<float> x = AdversarialRows(m * k / kQBlockSize, seed);
    OpArgs args;
    args.kind = OpKind::kQuantizeQ8_0;
    args.m = m;
    args.k = k;
    args.a = {reinterpret_cast<const uint8_t*>(x.data()), x.size() * 4};
    std::vector<uint8_t> want(static_cast<size_t>(m * k / kQBlockSize * kQ8_0BlockBytes), 0xAB);
    args.out = want;
    const absl::Status ref_status = RunOp(ref, args);
    ASSERT_TRUE(ref_status.ok()) << ref_status << " seed " << seed;
    for (size_t i = 1; i < backends.size(); ++i) {
      std::vector<uint8_t> got(want.size(), 0xCD);
      args.out = got;
      ASSERT_TRUE(RunOp(*backends[i].second, args).ok());
      for (size_t j = 0; j < want.size(); ++j) {
        ASSERT_EQ(got[j], want[j]) << backends[i].first << " seed " << seed << " byte " << j
                                   << " (block " << j / kQ8_0BlockBytes << ", input "
                                   << x[j / kQ8_0BlockBytes * kQBlockSize +
                                        std::max<int64_t>(0, int64_t(j % kQ8_0BlockBytes) - 2)]
                                   << ")";
      }
      ++compared;
    }
  }
  EXPECT_GT(compared, 0);
}

// Every quotient class near a tie, exhaustively over all f16 scales with a given amax:
// for each finite f16 d0 with 127 d0 in range, all 255 ties and their f32 neighbours.
TEST(QuantizeQ8_0Test, EveryScaleEveryTie) {
  auto backends = Backends();
  Backend& ref = *backends.front().second;
  std::vector<float> x;
  for (uint32_t bits = 1; bits < 0x7C00; bits += 7) {
    const float d0 = F16Value(static_cast<uint16_t>(bits));
    if (140.0f * d0 >= 8.3e6f) break;  // every value below the spec's |x| limit
    for (int t = -127; t < 127; t += 8) {
      float v[kQBlockSize];
      v[0] = 127.0f * d0;
      for (int j = 1; j < kQBlockSize; ++j) {
        const float tie = (static_cast<float>(t + j / 3) + 0.5f) * d0;
        v[j] = j % 3 == 0 ? tie : std::nextafter(tie, j % 3 == 1 ? 1e30f : -1e30f);
      }
      x.insert(x.end(), v, v + kQBlockSize);
    }
  }
  const int64_t m = static_cast<int64_t>(x.size()) / 256;
  x.resize(static_cast<size_t>(m * 256));
  OpArgs args;
  args.kind = OpKind::kQuantizeQ8_0;
  args.m = m;
  args.k = 256;
  args.a = {reinterpret_cast<const uint8_t*>(x.data()), x.size() * 4};
  std::vector<uint8_t> want(static_cast<size_t>(m * 8 * kQ8_0BlockBytes));
  args.out = want;
  const absl::Status ref_status = RunOp(ref, args);
  ASSERT_TRUE(ref_status.ok()) << ref_status;
  ASSERT_GT(m, 100);
  for (size_t i = 1; i < backends.size(); ++i) {
    std::vector<uint8_t> got(want.size(), 0xCD);
    args.out = got;
    ASSERT_TRUE(RunOp(*backends[i].second, args).ok());
    EXPECT_TRUE(got == want) << backends[i].first;
  }
}

}  // namespace
}  // namespace datanode::ops

namespace datanode::ops {
namespace {

// A measurement, not a timed test (--gtest_also_run_disabled_tests): kQuantizeQ8_0 of
// one SmolLM2-sized row (576 values, activations-like) on the reference and on the cpu
// backend (1 thread).
TEST(QuantizeQ8_0Test, DISABLED_Speed) {
  std::mt19937_64 rng(3);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> x(576);
  for (float& v : x) v = normal(rng);
  std::vector<uint8_t> out(576 / 32 * kQ8_0BlockBytes);
  OpArgs args;
  args.kind = OpKind::kQuantizeQ8_0;
  args.m = 1;
  args.k = 576;
  args.a = {reinterpret_cast<const uint8_t*>(x.data()), x.size() * 4};
  args.out = out;
  for (const char* name : {"reference", "cpu"}) {
    BackendOptions options;
    options.num_threads = 1;
    auto backend = CreateBackend(name, options);
    ASSERT_TRUE(backend.ok()) << backend.status();
    constexpr int kIters = 20000;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kIters; ++i) ASSERT_TRUE((*backend)->Run(args).ok());
    const double us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
            .count() /
        kIters;
    std::printf("[ info     ] %s: quantize 1 x 576 to Q8_0 in %.2f us\n", name, us);
  }
}

}  // namespace
}  // namespace datanode::ops
