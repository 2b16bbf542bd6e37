// Copyright 2026 The datanode Authors.
//
// The Vulkan backend against the reference, byte for byte: >= 300 random cases per op
// over every input profile, prepared and raw weights, batch invariance, concurrent
// calls, invalid input, device selection and the embedded shader digests. Runs on the
// first suitable Vulkan device (Mesa lavapipe in CI, so shapes stay small).
#include "ops/vulkan/vulkan_backend.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/digest.h"
#include "datanode/ops/exact_float.h"
#include "datanode/ops/kquant.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/reference.h"
#include "datanode/ops/self_test.h"
#include "ops/vulkan/spirv_blobs.h"

namespace datanode::ops {
namespace {

constexpr int kCasesPerOp = 400;

// Why the suite must skip, or "" when a Vulkan device exists.
std::string NoDeviceReason() {
  auto devices = vulkan::ListVulkanDevices();
  if (!devices.ok()) return std::string(devices.status().message());
  if (devices->empty()) return "the Vulkan loader reports no physical device";
  return "";
}

class VulkanBackendTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    skip_reason_ = new std::string(NoDeviceReason());
    if (!skip_reason_->empty()) return;
    // Created directly (no start-up self-test), so a wrong kernel shows up in the
    // per-op tests below with its shape and seed; GoldenSelfTest covers the gate.
    auto backend = vulkan::CreateVulkanBackend({});
    create_status_ = new absl::Status(backend.status());
    if (backend.ok()) backend_ = backend->release();
  }
  static void TearDownTestSuite() {
    delete backend_;
    backend_ = nullptr;
    delete create_status_;
    create_status_ = nullptr;
    delete skip_reason_;
    skip_reason_ = nullptr;
  }
  void SetUp() override {
    if (!skip_reason_->empty()) {
      GTEST_SKIP() << "no Vulkan device at all, Vulkan tests skipped: " << *skip_reason_;
    }
    ASSERT_NE(backend_, nullptr) << "a Vulkan device exists but the backend failed: "
                                 << create_status_->ToString();
  }

  static Backend& vk() { return *backend_; }

  // Runs `in` on `reference` into *expected and on the Vulkan backend (its weights
  // prepared first if `prepared`) into *actual; a failed run is a fatal failure naming
  // `name`.
  static void RunOnBoth(Backend& reference, const OpInputs& in, bool prepared,
                        const std::string& name, OpInputs* expected, OpInputs* actual) {
    *expected = in;
    *actual = in;
    ASSERT_TRUE(RunOp(reference, expected->Args()).ok()) << name;
    OpArgs args = actual->Args();
    std::unique_ptr<PreparedWeights> w;
    if (prepared) {
      auto p = vk().PrepareWeights(in.kind, in.n, in.k, actual->w, actual->w_scale);
      ASSERT_TRUE(p.ok()) << name << ": " << p.status();
      w = std::move(*p);
      args.w = {};
      args.w_scale = {};
      args.w_prepared = w.get();
    }
    const absl::Status st = RunOp(vk(), args);
    ASSERT_TRUE(st.ok()) << name << ": " << st;
  }

  // Mean wall time of 5 runs of `args` on the Vulkan backend after one warm-up run, in
  // milliseconds (informational: lavapipe figures, not a claim about GPUs).
  static double MeanRunMs(OpArgs& args) {
    EXPECT_TRUE(RunOp(vk(), args).ok());
    constexpr int kReps = 5;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kReps; ++i) EXPECT_TRUE(RunOp(vk(), args).ok());
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
               .count() /
           kReps;
  }

  static std::string* skip_reason_;
  static absl::Status* create_status_;
  static Backend* backend_;
};

std::string* VulkanBackendTest::skip_reason_ = nullptr;
absl::Status* VulkanBackendTest::create_status_ = nullptr;
Backend* VulkanBackendTest::backend_ = nullptr;

struct Shape {
  int64_t m, n, k;
};

// Small shapes (lavapipe is slow) that still cross tile edges: M and N up to a few
// 64/32-row tiles, K with and without partial 32-byte steps, and 1s.
Shape RandomShape(OpKind kind, SplitMix64& rng) {
  const bool big = rng.Next() % 8 == 0;
  const int64_t max_mn = big ? 150 : 48;
  int64_t m = rng.Next() % 6 == 0 ? 1 : rng.Uniform(1, max_mn);
  int64_t n = rng.Next() % 6 == 0 ? 1 : rng.Uniform(1, max_mn);
  switch (kind) {
    case OpKind::kMatMulS8S32:
    case OpKind::kMatMulS8F32:
      return {m, n, rng.Next() % 8 == 0 ? rng.Uniform(1, 4) : rng.Uniform(1, 200)};
    case OpKind::kMatMulQ8_0Q8_0:
    case OpKind::kMatMulQ8_0Q4_0:
    case OpKind::kMatMulQ8_0Q4_1:
      return {m, n, kQBlockSize * rng.Uniform(1, 7)};
    case OpKind::kMatMulQ8_0Q4_K:
    case OpKind::kMatMulQ8_0Q6_K:
      return {m, n,
              kQKSuperBlockSize * (rng.Next() % 8 == 0 ? rng.Uniform(3, 8) : rng.Uniform(1, 2))};
    case OpKind::kQuantizeS8Row:
      return {rng.Uniform(1, 12), 0, rng.Uniform(1, 700)};
    case OpKind::kQuantizeQ8_0:
      return {rng.Uniform(1, 12), 0, kQBlockSize * rng.Uniform(1, 12)};
  }
  return {1, 1, 32};
}

std::string CaseName(OpKind kind, const Shape& s, uint64_t seed, InputProfile profile,
                     bool prepared) {
  return absl::StrCat(OpKindName(kind), " [m=", s.m, " n=", s.n, " k=", s.k, "] seed ", seed,
                      " profile ", static_cast<int>(profile), prepared ? " prepared W" : "");
}

class RandomCases : public VulkanBackendTest, public ::testing::WithParamInterface<OpKind> {};

TEST_P(RandomCases, ByteEqualToReference) {
  const OpKind kind = GetParam();
  auto reference = reference::CreateReferenceBackend();
  SplitMix64 rng(0x7a11c0de00 + static_cast<uint64_t>(kind));
  int mismatches = 0;
  for (int i = 0; i < kCasesPerOp && mismatches < 3; ++i) {
    const Shape s = RandomShape(kind, rng);
    const uint64_t seed = rng.Next();
    const InputProfile profile = static_cast<InputProfile>(i % 3);
    const bool prepared = IsMatMul(kind) && i % 4 == 3;
    const std::string name = CaseName(kind, s, seed, profile, prepared);
    auto inputs = MakeRandomInputs(kind, s.m, s.n, s.k, seed, profile);
    ASSERT_TRUE(inputs.ok()) << name << ": " << inputs.status();
    OpInputs expected, actual;
    ASSERT_NO_FATAL_FAILURE(RunOnBoth(*reference, *inputs, prepared, name, &expected, &actual));
    if (actual.out != expected.out || actual.out_scale != expected.out_scale) {
      ++mismatches;
      size_t first = 0;
      while (first < actual.out.size() && actual.out[first] == expected.out[first]) ++first;
      ADD_FAILURE() << name << " differs from the reference (first differing out byte " << first
                    << " of " << actual.out.size() << ")";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllOps, RandomCases, ::testing::ValuesIn(kAllOpKinds),
                         [](const ::testing::TestParamInfo<OpKind>& info) {
                           return std::string(OpKindName(info.param));
                         });

// The largest K the spec allows (int32 sums near 2^31, 128-bit fixed point with 4095
// blocks of extreme scales; 130816 = 511 super-blocks for the K-quants) and grids of several tiles
// in both directions.
TEST_F(VulkanBackendTest, LargestKAndMultiTileGrids) {
  auto reference = reference::CreateReferenceBackend();
  struct Case {
    OpKind kind;
    Shape shape;
    InputProfile profile;
  };
  const Case cases[] = {
      {OpKind::kMatMulS8S32, {2, 3, kMaxK}, InputProfile::kExtreme},
      {OpKind::kMatMulS8F32, {2, 3, kMaxK}, InputProfile::kExtreme},
      {OpKind::kMatMulQ8_0Q8_0, {2, 3, 131040}, InputProfile::kExtreme},
      {OpKind::kMatMulQ8_0Q4_0, {2, 3, 131040}, InputProfile::kWide},
      {OpKind::kMatMulQ8_0Q4_1, {2, 3, 131040}, InputProfile::kExtreme},
      {OpKind::kMatMulQ8_0Q4_K, {2, 3, 130816}, InputProfile::kExtreme},
      {OpKind::kMatMulQ8_0Q6_K, {2, 3, 130816}, InputProfile::kExtreme},
      {OpKind::kQuantizeS8Row, {2, 0, kMaxK}, InputProfile::kWide},
      {OpKind::kQuantizeQ8_0, {2, 0, 131040}, InputProfile::kExtreme},
      {OpKind::kMatMulS8S32, {200, 260, 64}, InputProfile::kWide},
      {OpKind::kMatMulS8F32, {130, 190, 40}, InputProfile::kRealistic},
      {OpKind::kMatMulQ8_0Q8_0, {150, 170, 64}, InputProfile::kWide},
      {OpKind::kMatMulQ8_0Q4_1, {129, 97, 32}, InputProfile::kRealistic},
      {OpKind::kMatMulQ8_0Q4_K, {130, 70, 512}, InputProfile::kWide},
      {OpKind::kMatMulQ8_0Q6_K, {70, 100, 256}, InputProfile::kExtreme},
      {OpKind::kQuantizeS8Row, {300, 0, 33}, InputProfile::kExtreme},
  };
  uint64_t seed = 77;
  for (const Case& c : cases) {
    const std::string name = CaseName(c.kind, c.shape, ++seed, c.profile, false);
    auto in = MakeRandomInputs(c.kind, c.shape.m, c.shape.n, c.shape.k, seed, c.profile);
    ASSERT_TRUE(in.ok()) << name << ": " << in.status();
    OpInputs expected = *in;
    OpInputs actual = *in;
    ASSERT_TRUE(RunOp(*reference, expected.Args()).ok()) << name;
    const absl::Status st = RunOp(vk(), actual.Args());
    ASSERT_TRUE(st.ok()) << name << ": " << st;
    EXPECT_TRUE(actual.out == expected.out && actual.out_scale == expected.out_scale)
        << name << " differs from the reference";
  }
}

// The small-M (decode) GEMV kernels (M <= 16, groups of 8 rows) against the reference:
// every Q8_0-family kind, M = 1..16, odd and tile-crossing N, K multiples of 32 (a few
// 8-slice rounds and remainders; K-quants: 1..6 super-blocks), every input profile
// (kExtreme: scales at the f16 edges, results that overflow and round to subnormals),
// raw and prepared weights; plus the largest K.
TEST_F(VulkanBackendTest, SmallMGemvByteEqualToReference) {
  auto reference = reference::CreateReferenceBackend();
  const OpKind kinds[] = {OpKind::kMatMulQ8_0Q8_0, OpKind::kMatMulQ8_0Q4_0, OpKind::kMatMulQ8_0Q4_1,
                          OpKind::kMatMulQ8_0Q4_K, OpKind::kMatMulQ8_0Q6_K};
  SplitMix64 rng(0x6e3f00d);
  int cases = 0;
  int mismatches = 0;
  for (OpKind kind : kinds) {
    for (int64_t m = 1; m <= 16; ++m) {
      for (int rep = 0; rep < 24 && mismatches < 3; ++rep) {
        Shape s{m, 0, 0};
        s.n = rep % 4 == 0 ? rng.Uniform(1, 5) : 2 * rng.Uniform(0, 50) + 1;  // odd N
        if (rep % 6 == 5) s.n = 32 * rng.Uniform(1, 3) + rng.Uniform(0, 1);
        s.k = IsKQuantMatMul(kind)
                  ? kQKSuperBlockSize * (rep % 5 == 0 ? 1 : rng.Uniform(1, 6))
                  : kQBlockSize * (rep % 5 == 0 ? rng.Uniform(1, 3) : rng.Uniform(1, 26));
        const uint64_t seed = rng.Next();
        const InputProfile profile = static_cast<InputProfile>(rep % 3);
        const bool prepared = rep % 4 == 1;
        const std::string name = CaseName(kind, s, seed, profile, prepared);
        auto inputs = MakeRandomInputs(kind, s.m, s.n, s.k, seed, profile);
        ASSERT_TRUE(inputs.ok()) << name << ": " << inputs.status();
        OpInputs expected, actual;
        ASSERT_NO_FATAL_FAILURE(RunOnBoth(*reference, *inputs, prepared, name, &expected, &actual));
        ++cases;
        if (actual.out != expected.out) {
          ++mismatches;
          ADD_FAILURE() << name << " differs from the reference";
        }
      }
    }
    for (int64_t m : {1, 8, 13}) {
      const Shape s{m, 3, IsKQuantMatMul(kind) ? 130816 : 131040};
      const std::string name = CaseName(kind, s, 99 + m, InputProfile::kExtreme, false);
      auto in = MakeRandomInputs(kind, s.m, s.n, s.k, 99 + m, InputProfile::kExtreme);
      ASSERT_TRUE(in.ok()) << name;
      OpInputs expected = *in;
      OpInputs actual = *in;
      ASSERT_TRUE(RunOp(*reference, expected.Args()).ok()) << name;
      ASSERT_TRUE(RunOp(vk(), actual.Args()).ok()) << name;
      ++cases;
      EXPECT_TRUE(actual.out == expected.out) << name << " differs from the reference";
    }
  }
  std::printf("[ info     ] small-M GEMV: %d cases byte-equal checked\n", cases);
}

// The K-quant terms at the edges of their bounds (matmul_q8_0_tile.glsl): f16 scales of
// magnitude 65504 and 2^-24, 6-bit scales and mins of 63, Q6_K quants of -32 and 31 with
// int8 scales of -128 and 127, A quants of +-127, both signs of the min term, over the
// largest K (511 super-blocks, every term the same sign in row 0 x column 0), on the
// GEMV (M = 3) and on the tile (M = 17: the three rows repeated).
TEST_F(VulkanBackendTest, KQuantExtremeTermsByteEqualToReference) {
  auto reference = reference::CreateReferenceBackend();
  constexpr int64_t kK = 130816;
  constexpr int64_t kSupers = kK / kQKSuperBlockSize;
  const uint16_t d_a[3] = {0x7BFF, 0x0001, 0xFBFF};  // 65504, 2^-24, -65504
  SplitMix64 rng(0xe0e0);
  for (const int64_t m : {3, 17}) {
    for (OpKind kind : {OpKind::kMatMulQ8_0Q4_K, OpKind::kMatMulQ8_0Q6_K}) {
      const std::string name = CaseName(kind, {m, 3, kK}, 0, InputProfile::kExtreme, false);
      auto in = MakeRandomInputs(kind, m, 3, kK, 1, InputProfile::kExtreme);
      ASSERT_TRUE(in.ok()) << in.status();
      for (int64_t r = 0; r < m; ++r) {
        for (int64_t b = 0; b < kK / kQBlockSize; ++b) {
          uint8_t* block = &in->a[(r * (kK / kQBlockSize) + b) * kQ8_0BlockBytes];
          StoreU16(block, d_a[r % 3]);
          for (int j = 0; j < kQBlockSize; ++j) {
            const bool negative = r % 3 == 1 || (r % 3 == 2 && rng.Next() % 2 == 0);
            block[2 + j] = negative ? 0x81 : 0x7F;  // -127 : 127
          }
        }
      }
      const int64_t block_bytes = FindOpInfo(kind)->w_block_bytes;
      for (int64_t col = 0; col < 3; ++col) {
        for (int64_t sb = 0; sb < kSupers; ++sb) {
          uint8_t* block = &in->w[(col * kSupers + sb) * block_bytes];
          if (kind == OpKind::kMatMulQ8_0Q4_K) {
            // d, dmin; scales and mins all 63; nibbles 15 (col 0), 0 (col 1), mixed.
            const uint16_t d[3][2] = {{0x7BFF, 0xFBFF}, {0x0001, 0x0001}, {0x7BFF, 0x7BFF}};
            StoreU16(block, d[col][0]);
            StoreU16(block + 2, d[col][1]);
            for (int j = 4; j < 16; ++j) block[j] = 0xFF;
            for (int j = 16; j < kQ4_KBlockBytes; ++j) {
              block[j] = col == 0 ? 0xFF : col == 1 ? 0x00 : static_cast<uint8_t>(rng.Next());
            }
          } else {
            // Quant bits all 0 (q = -32), all 1 (q = 31), mixed; scales -128, 127, mixed.
            const uint8_t bits[3] = {0x00, 0xFF, 0x00};
            const uint8_t scale[3] = {0x80, 0x7F, 0x00};
            for (int j = 0; j < 192; ++j) {
              block[j] = col == 2 ? static_cast<uint8_t>(rng.Next()) : bits[col];
            }
            for (int j = 192; j < 208; ++j) {
              block[j] = col == 2 ? (rng.Next() % 2 == 0 ? 0x80 : 0x7F) : scale[col];
            }
            StoreU16(block + 208, col == 1 ? 0x0001 : col == 0 ? 0x7BFF : 0xFBFF);
          }
        }
      }
      OpInputs expected = *in;
      OpInputs actual = *in;
      ASSERT_TRUE(RunOp(*reference, expected.Args()).ok()) << name;
      const absl::Status st = RunOp(vk(), actual.Args());
      ASSERT_TRUE(st.ok()) << name << ": " << st;
      EXPECT_TRUE(actual.out == expected.out) << name << " differs from the reference";
      // The bound case was reached: C[0, 0] sums 4088 same-sign terms near 2^55 each.
      const uint32_t c00 = LoadU32(expected.out.data());
      EXPECT_GE((c00 >> 23) & 0xFF, 127u + 60) << name << ": C[0, 0] bits " << c00;
    }
  }
}

// Prepared K-quant weights stay near the GGUF's bits: 148 bytes per 256 Q4_K weights
// (GGUF 144) and 212 per 256 Q6_K weights (GGUF 210), columns padded to the 32-wide tile.
TEST_F(VulkanBackendTest, PreparedKQuantSizeStaysNearTheGgufBytes) {
  for (OpKind kind : {OpKind::kMatMulQ8_0Q4_K, OpKind::kMatMulQ8_0Q6_K}) {
    const int64_t n = 96, k = 2048;  // n a multiple of the tile: no padding
    auto in = MakeRandomInputs(kind, 1, n, k, 3, InputProfile::kRealistic);
    ASSERT_TRUE(in.ok());
    auto w = vk().PrepareWeights(kind, n, k, in->w, {});
    ASSERT_TRUE(w.ok()) << w.status();
    const int64_t gguf = static_cast<int64_t>(in->w.size());
    const int64_t per_super = kind == OpKind::kMatMulQ8_0Q4_K ? 148 : 212;
    EXPECT_EQ((*w)->SizeBytes(), n * (k / kQKSuperBlockSize) * per_super) << OpKindName(kind);
    EXPECT_LE((*w)->SizeBytes() * 100, gguf * 103) << OpKindName(kind) << " GGUF " << gguf;
  }
}

// Informational: one SmolLM2-135M decode-shaped matmul (M = 1, N = 1536, K = 576,
// prepared Q8_0 weights) on the GEMV kernel (M <= 16) vs M = 17 on the 64-row tile; and
// one M = 1 step per weight format with its prepared size.
TEST_F(VulkanBackendTest, SmallMGemvTiming) {
  const OpKind kind = OpKind::kMatMulQ8_0Q8_0;
  auto w_in = MakeRandomInputs(kind, 17, 1536, 576, 5, InputProfile::kRealistic);
  ASSERT_TRUE(w_in.ok());
  auto prepared = vk().PrepareWeights(kind, 1536, 576, w_in->w, {});
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  for (int64_t m : {1, 8, 16, 17}) {
    OpInputs in = *w_in;
    in.m = m;
    in.a.resize(static_cast<size_t>(m) * (576 / 32) * kQ8_0BlockBytes);
    in.out.assign(static_cast<size_t>(m) * 1536 * 4, 0);
    OpArgs args = in.Args();
    args.w = {};
    args.w_prepared = prepared->get();
    const double ms = MeanRunMs(args);
    std::printf("[ info     ] q8_0 matmul m=%lld n=1536 k=576 (%s): %.2f ms\n",
                static_cast<long long>(m), m <= 16 ? "gemv" : "64-row tile", ms);
  }
  // One decode step (M = 1, N = 1536, K = 1536, prepared W) per weight format.
  for (OpKind q : {OpKind::kMatMulQ8_0Q8_0, OpKind::kMatMulQ8_0Q4_0, OpKind::kMatMulQ8_0Q4_1,
                   OpKind::kMatMulQ8_0Q4_K, OpKind::kMatMulQ8_0Q6_K}) {
    auto in = MakeRandomInputs(q, 1, 1536, 1536, 6, InputProfile::kRealistic);
    ASSERT_TRUE(in.ok());
    auto w = vk().PrepareWeights(q, 1536, 1536, in->w, {});
    ASSERT_TRUE(w.ok()) << w.status();
    OpArgs args = in->Args();
    args.w = {};
    args.w_prepared = w->get();
    const double ms = MeanRunMs(args);
    std::printf("[ info     ] %s m=1 n=1536 k=1536 (gemv, prepared %lld bytes): %.2f ms\n",
                OpKindName(q), static_cast<long long>((*w)->SizeBytes()), ms);
  }
}

// Row r computed in a batch of M rows equals row r computed alone.
TEST_F(VulkanBackendTest, BatchInvariance) {
  for (OpKind kind : kAllOpKinds) {
    const int64_t m = 37;
    const int64_t n = IsMatMul(kind) ? 45 : 0;
    const int64_t kq = FindOpInfo(kind)->k_multiple;
    const int64_t k = (96 + kq - 1) / kq * kq;  // 96; 256 for the K-quants
    auto batch = MakeRandomInputs(kind, m, n, k, 4242, InputProfile::kWide);
    ASSERT_TRUE(batch.ok());
    ASSERT_TRUE(RunOp(vk(), batch->Args()).ok()) << OpKindName(kind);
    auto sizes = ComputeOperandSizes(kind, 1, n, k);
    ASSERT_TRUE(sizes.ok());
    for (int64_t r = 0; r < m; r += 7) {
      OpInputs one = *batch;
      one.m = 1;
      one.a.assign(batch->a.begin() + r * sizes->a, batch->a.begin() + (r + 1) * sizes->a);
      one.a_scale.assign(batch->a_scale.begin() + r * sizes->a_scale,
                         batch->a_scale.begin() + (r + 1) * sizes->a_scale);
      one.out.assign(sizes->out, 0);
      one.out_scale.assign(sizes->out_scale, 0);
      ASSERT_TRUE(RunOp(vk(), one.Args()).ok()) << OpKindName(kind) << " row " << r;
      const std::vector<uint8_t> row_out(batch->out.begin() + r * sizes->out,
                                         batch->out.begin() + (r + 1) * sizes->out);
      const std::vector<uint8_t> row_scale(batch->out_scale.begin() + r * sizes->out_scale,
                                           batch->out_scale.begin() + (r + 1) * sizes->out_scale);
      EXPECT_EQ(one.out, row_out) << OpKindName(kind) << " row " << r;
      EXPECT_EQ(one.out_scale, row_scale) << OpKindName(kind) << " row " << r;
    }
  }
}

// Concurrent Run() calls from several threads all return the reference's bytes.
TEST_F(VulkanBackendTest, ConcurrentCallsAreCorrect) {
  auto reference = reference::CreateReferenceBackend();
  std::vector<OpInputs> expected;
  for (int t = 0; t < 4; ++t) {
    const OpKind kind = kAllOpKinds[t % std::size(kAllOpKinds)];
    auto in = MakeRandomInputs(kind, 9 + t, IsMatMul(kind) ? 21 : 0, 64, 900 + t);
    ASSERT_TRUE(in.ok());
    ASSERT_TRUE(RunOp(*reference, in->Args()).ok());
    expected.push_back(*std::move(in));
  }
  std::vector<std::vector<uint8_t>> outs(expected.size());
  std::vector<absl::Status> statuses(expected.size());
  std::vector<std::thread> threads;
  for (size_t t = 0; t < expected.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 5 && statuses[t].ok(); ++rep) {
        OpInputs mine = expected[t];
        std::fill(mine.out.begin(), mine.out.end(), 0);
        statuses[t] = RunOp(vk(), mine.Args());
        if (mine.out != expected[t].out) statuses[t] = absl::InternalError("bytes differ");
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (size_t t = 0; t < expected.size(); ++t) {
    EXPECT_TRUE(statuses[t].ok()) << OpKindName(expected[t].kind) << ": " << statuses[t];
  }
}

TEST_F(VulkanBackendTest, InvalidInputIsRejected) {
  auto s8 = MakeRandomInputs(OpKind::kMatMulS8S32, 3, 4, 40, 1);
  ASSERT_TRUE(s8.ok());
  OpInputs bad = *s8;
  bad.a[17] = 0x80;  // -128
  absl::Status st = RunOp(vk(), bad.Args());
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_NE(st.message().find("-128"), std::string::npos) << st;

  bad = *s8;
  bad.out.resize(bad.out.size() - 4);
  st = RunOp(vk(), bad.Args());
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;

  auto f32 = MakeRandomInputs(OpKind::kMatMulS8F32, 2, 2, 8, 2);
  ASSERT_TRUE(f32.ok());
  bad = *f32;
  bad.a_scale[3] = 0x7F;  // a_scale[0] = NaN
  bad.a_scale[2] = 0xC0;
  st = RunOp(vk(), bad.Args());
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;

  auto q4 = MakeRandomInputs(OpKind::kMatMulQ8_0Q4_1, 2, 3, 64, 3);
  ASSERT_TRUE(q4.ok());
  std::vector<uint8_t> w = q4->w;
  w[3] = 0x7C;  // block 0's min m = +inf (f16 0x7C00)
  w[2] = 0x00;
  auto prepared = vk().PrepareWeights(OpKind::kMatMulQ8_0Q4_1, 3, 64, w, {});
  EXPECT_EQ(prepared.status().code(), absl::StatusCode::kInvalidArgument) << prepared.status();

  auto quant = MakeRandomInputs(OpKind::kQuantizeQ8_0, 1, 0, 32, 4);
  ASSERT_TRUE(quant.ok());
  bad = *quant;
  bad.a[0] = 0x00;  // X[0] = 2^23 > the Q8_0 limit 8321040
  bad.a[1] = 0x00;
  bad.a[2] = 0x00;
  bad.a[3] = 0x4B;
  st = RunOp(vk(), bad.Args());
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;

  // Prepared weights of another backend are refused.
  auto cpu = CreateBackend("reference");
  ASSERT_TRUE(cpu.ok());
  auto foreign = (*cpu)->PrepareWeights(OpKind::kMatMulS8S32, 4, 40, s8->w, {});
  ASSERT_TRUE(foreign.ok());
  OpInputs call = *s8;
  OpArgs args = call.Args();
  args.w = {};
  args.w_prepared = foreign->get();
  st = RunOp(vk(), args);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
}

TEST_F(VulkanBackendTest, DeviceSelection) {
  auto devices = vulkan::ListVulkanDevices();
  ASSERT_TRUE(devices.ok());
  ASSERT_FALSE(devices->empty());

  auto missing = vulkan::CreateVulkanBackend({.device = "no-such-device-xyz"});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();
  EXPECT_NE(missing.status().message().find((*devices)[0].name), std::string::npos)
      << "the error should list the devices present: " << missing.status();

  auto out_of_range = vulkan::CreateVulkanBackend({.device = "999"});
  EXPECT_EQ(out_of_range.status().code(), absl::StatusCode::kNotFound) << out_of_range.status();

  auto by_index = vulkan::CreateVulkanBackend({.device = "0"});
  ASSERT_TRUE(by_index.ok()) << by_index.status();
  EXPECT_NE((*by_index)->Description().find((*devices)[0].name), std::string::npos);

  // A case-insensitive piece of the name selects the same device.
  std::string piece = (*devices)[0].name.substr(0, 4);
  for (char& c : piece) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto by_name = CreateBackend("vulkan", {.device = piece});
  ASSERT_TRUE(by_name.ok()) << by_name.status();
  EXPECT_NE((*by_name)->Description().find((*devices)[0].name), std::string::npos);
}

TEST_F(VulkanBackendTest, GoldenSelfTestPasses) {
  EXPECT_TRUE(RunGoldenSelfTest(vk()).ok());
  auto gated = CreateBackend("vulkan");  // the registry's path: self-test included
  ASSERT_TRUE(gated.ok()) << gated.status();
  EXPECT_STREQ((*gated)->Name(), "vulkan");
}

// Every kernel is integer-only and runs on any Vulkan 1.1 device: its SPIR-V declares no
// capability but Shader (no Float64, Int64, Int16, Int8, Float16) and no float type at all,
// so no float instruction (which needs one) can touch a value. Checked on the embedded
// bytes, instruction by instruction.
TEST(VulkanShaders, IntegerOnlyAndNoOptionalCapability) {
  constexpr uint32_t kOpCapability = 17;
  constexpr uint32_t kOpTypeFloat = 22;
  constexpr uint32_t kCapabilityShader = 1;
  for (const vulkan::SpirvBlob& b : vulkan::SpirvBlobs()) {
    const size_t n = b.size_bytes / 4;
    ASSERT_GT(n, 5u) << b.name;
    int capabilities = 0;
    for (size_t i = 5; i < n;) {  // words 0..4: the header
      const uint32_t op = b.words[i] & 0xFFFF;
      const uint32_t count = b.words[i] >> 16;
      ASSERT_GT(count, 0u) << b.name << " word " << i;
      ASSERT_LE(i + count, n) << b.name << " word " << i;
      if (op == kOpCapability) {
        ++capabilities;
        EXPECT_EQ(b.words[i + 1], kCapabilityShader)
            << b.name << " needs capability " << b.words[i + 1];
      }
      EXPECT_NE(op, kOpTypeFloat) << b.name << " declares a float type";
      i += count;
    }
    EXPECT_EQ(capabilities, 1) << b.name;
  }
}

TEST_F(VulkanBackendTest, ShaderDigestsMatchTheEmbeddedBytes) {
  const auto blobs = vulkan::SpirvBlobs();
  ASSERT_EQ(blobs.size(), 31u);  // 20 plain kernels + 11 exact-output variants
  for (const vulkan::SpirvBlob& b : blobs) {
    const ByteSpan bytes(reinterpret_cast<const uint8_t*>(b.words), b.size_bytes);
    EXPECT_EQ(ToHex(Sha256Of({bytes})), b.sha256_hex) << b.name;
    EXPECT_EQ(b.words[0], 0x07230203u) << b.name << " is not SPIR-V";
  }
  const auto digests = vulkan::ShaderDigests();
  ASSERT_EQ(digests.size(), blobs.size());
  const std::string set = vulkan::ShaderSetDigest();
  EXPECT_EQ(set.size(), 64u);
  EXPECT_NE(vk().Description().find(set), std::string::npos) << vk().Description();
}

}  // namespace
}  // namespace datanode::ops
