// Copyright 2026 The datanode Authors.
//
// The Vulkan backend's exact-output hook (Backend::WritesExactSums, OpArgs::exact: the
// *_exact kernels, ops/vulkan/shaders) against the scalar producer, byte for byte: for every
// verifiable kind with exact values (s8_f32, the Q8_0 family, the K-quants), every input
// profile, shapes that reach both Q8 kernels (M <= 16: the GEMV kernel, one or two groups of
// 8 rows; M = 17 and 70: the 64 x 32 tile, one and two row tiles), N off the 32 / 64-column
// tiles, K = one block / super-block, three, and 4096, raw and prepared weights: E equals
// verify::ComputeExactSums and C the reference's output, both written over poison. Then
// verify::RunOpWithExactSums through the hook equals the fallback (RunOp, ComputeExactSums,
// CompactExactSums), and a plain call after an exact one is unchanged.
//
// Mutation check (tried, then reverted): storing E transposed (e[col * m + row]) in the tile
// and the GEMV kernel fails every case with M, N > 1; storing one K slice's accumulator
// (partial[t]) instead of the slice sum in the GEMV kernel fails every case with K >= 2
// blocks. A wrong scale (E in another LSB than 2^-48) multiplies every nonzero element by a
// power of two, and the poison (0xEF) catches an element left unwritten. The sweep asserts
// that the hard cases were reached: negative sums and sums that need more than 64 bits.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/types.h"
#include "datanode/ops/verify.h"
#include "ops/vulkan/vulkan_backend.h"
#include "tests/verify/exact_output_check.h"

namespace datanode::ops {
namespace {

using testing::ExactShape;
using testing::FirstDiff;
using testing::kExactKinds;
using testing::ScalarExact;
using testing::ShapeK;

constexpr ExactShape kShapes[] = {
    {1, 1, 1},  {1, 65, 0}, {1, 17, 3},  {2, 33, 3},  {3, 15, 1},  {5, 47, 3},   {7, 16, 1},
    {8, 80, 1}, {9, 17, 0}, {12, 31, 3}, {16, 33, 3}, {17, 47, 0}, {17, 100, 3}, {70, 40, 1},
};

class VulkanExactOutputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    skip_reason_ = new std::string;
    auto devices = vulkan::ListVulkanDevices();
    if (!devices.ok()) {
      *skip_reason_ = std::string(devices.status().message());
    } else if (devices->empty()) {
      *skip_reason_ = "the Vulkan loader reports no physical device";
    }
    if (!skip_reason_->empty()) return;
    auto backend = vulkan::CreateVulkanBackend({});
    create_status_ = new absl::Status(backend.status());
    if (backend.ok()) backend_ = backend->release();
    auto ref = CreateBackend("reference");
    if (ref.ok()) reference_ = ref->release();
  }
  static void TearDownTestSuite() {
    delete backend_;
    backend_ = nullptr;
    delete reference_;
    reference_ = nullptr;
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
    ASSERT_NE(reference_, nullptr);
  }

  static Backend& vk() { return *backend_; }

  // The reference's output bytes for `in`, written over poison.
  static std::vector<uint8_t> ReferenceOutput(OpInputs& in) {
    OpArgs args = in.Args();
    std::vector<uint8_t> out(args.out.size(), 0xAB);
    args.out = out;
    EXPECT_TRUE(RunOp(*reference_, args).ok());
    return out;
  }

  static std::string* skip_reason_;
  static absl::Status* create_status_;
  static Backend* backend_;
  static Backend* reference_;
};

std::string* VulkanExactOutputTest::skip_reason_ = nullptr;
absl::Status* VulkanExactOutputTest::create_status_ = nullptr;
Backend* VulkanExactOutputTest::backend_ = nullptr;
Backend* VulkanExactOutputTest::reference_ = nullptr;

TEST_F(VulkanExactOutputTest, HookWritesExactSumsOnlyForKindsWithExactValues) {
  for (OpKind kind : kAllOpKinds) {
    const bool want = kind == OpKind::kMatMulS8F32 || IsQ8_0MatMul(kind);
    EXPECT_EQ(vk().WritesExactSums(kind), want) << OpKindName(kind);
  }
  // s8_s32 has no exact values: RunOp refuses a span, whatever its size.
  auto in = MakeRandomInputs(OpKind::kMatMulS8S32, 2, 3, 8, 5, InputProfile::kRealistic);
  ASSERT_TRUE(in.ok());
  OpArgs args = in->Args();
  std::vector<uint8_t> exact(4 * 2 * 3);
  args.exact = exact;
  EXPECT_EQ(RunOp(vk(), args).code(), absl::StatusCode::kFailedPrecondition);
  // A wrong size (the compact encoding's 8 bytes per element) is refused.
  auto q8 = MakeRandomInputs(OpKind::kMatMulQ8_0Q8_0, 2, 17, 64, 5, InputProfile::kRealistic);
  ASSERT_TRUE(q8.ok());
  OpArgs q8_args = q8->Args();
  std::vector<uint8_t> small(8 * 2 * 17);
  q8_args.exact = small;
  EXPECT_EQ(RunOp(vk(), q8_args).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(VulkanExactOutputTest, ExactSumsEqualScalarProducerEveryKindProfileShapeAndWeightForm) {
  uint64_t seed = 9100;
  int cases = 0;
  int gemv_cases = 0;
  int tile_cases = 0;
  int64_t negative = 0;  // E elements < 0
  int64_t wide = 0;      // int128 E elements outside the int64 range
  for (OpKind kind : kExactKinds) {
    const int64_t elem = verify::ExactSumsBytes(kind, 1, 1);
    for (InputProfile profile : kAllInputProfiles) {
      for (const ExactShape& s : kShapes) {
        ++seed;
        const int64_t k = ShapeK(kind, s);
        auto in = MakeRandomInputs(kind, s.m, s.n, k, seed, profile);
        ASSERT_TRUE(in.ok()) << in.status();
        const std::vector<uint8_t> want_out = ReferenceOutput(*in);
        const std::vector<uint8_t> want_exact = ScalarExact(*in);
        for (size_t e = 0; e < want_exact.size(); e += static_cast<size_t>(elem)) {
          negative += (want_exact[e + static_cast<size_t>(elem) - 1] & 0x80) != 0;
          if (elem == 16) {
            uint64_t lo, hi;
            std::memcpy(&lo, &want_exact[e], 8);
            std::memcpy(&hi, &want_exact[e + 8], 8);
            wide += hi != (static_cast<int64_t>(lo) < 0 ? ~uint64_t{0} : 0);
          }
        }
        for (bool prepared : {false, true}) {
          const std::string what =
              absl::StrCat(OpKindName(kind), " profile=", InputProfileName(profile), " m=", s.m,
                           " n=", s.n, " k=", k, " seed=", seed, prepared ? " prepared" : " raw",
                           kind != OpKind::kMatMulS8F32 && s.m <= 16 ? " (gemv)" : " (tile)");
          OpArgs args = in->Args();
          std::vector<uint8_t> out(want_out.size(), 0xCD);
          std::vector<uint8_t> exact(want_exact.size(), 0xEF);  // every byte is written
          args.out = out;
          args.exact = exact;
          std::unique_ptr<PreparedWeights> pw;
          if (prepared) {
            auto p = vk().PrepareWeights(kind, in->n, in->k, in->w, in->w_scale);
            ASSERT_TRUE(p.ok()) << p.status() << " " << what;
            pw = std::move(p).value();
            args.w_prepared = pw.get();
            args.w = {};
            args.w_scale = {};
          }
          const absl::Status st = RunOp(vk(), args);
          ASSERT_TRUE(st.ok()) << st << " " << what;
          ASSERT_EQ(FirstDiff(want_out, out, 4, s.n), "") << what << ": output";
          ASSERT_EQ(FirstDiff(want_exact, exact, elem, s.n), "") << what << ": exact sums";
          ++cases;
          if (kind != OpKind::kMatMulS8F32) ++(s.m <= 16 ? gemv_cases : tile_cases);
        }
      }
    }
  }
  std::printf(
      "[ info     ] %d runs compared (output and exact sums): %d gemv, %d Q8 tile; "
      "%lld negative E elements, %lld beyond int64\n",
      cases, gemv_cases, tile_cases, static_cast<long long>(negative),
      static_cast<long long>(wide));
  EXPECT_EQ(cases, 6 * 3 * static_cast<int>(std::size(kShapes)) * 2);
  EXPECT_GT(gemv_cases, 0);
  EXPECT_GT(tile_cases, 0);
  EXPECT_GT(negative, 0);
  EXPECT_GT(wide, 0);  // the kWide profile's f16 scales reach the upper limbs
}

TEST_F(VulkanExactOutputTest, RunOpWithExactSumsEqualsTheFallbackEveryKindAndProfile) {
  uint64_t seed = 9900;
  for (OpKind kind : kMatMulOpKinds) {  // every verifiable kind, s8_s32 (no E) included
    ASSERT_TRUE(verify::IsVerifiable(kind)) << OpKindName(kind);
    for (InputProfile profile : kAllInputProfiles) {
      for (int64_t m : {3, 20}) {  // the GEMV and the tile kernel
        const int64_t k = kind == OpKind::kMatMulS8S32 || kind == OpKind::kMatMulS8F32 ? 300 : 512;
        auto in = MakeRandomInputs(kind, m, 33, k, ++seed, profile);
        ASSERT_TRUE(in.ok()) << in.status();
        const std::string what =
            absl::StrCat(OpKindName(kind), " m=", m, " profile=", InputProfileName(profile));
        // The fallback: the op without the hook, then the scalar producer.
        std::vector<uint8_t> want = ScalarExact(*in);
        want.resize(static_cast<size_t>(verify::CompactExactSums(kind, MutableByteSpan(want))));
        const std::vector<uint8_t> want_out = ReferenceOutput(*in);
        OpArgs args = in->Args();
        std::vector<uint8_t> out(want_out.size(), 0xCD);
        args.out = out;
        auto got = verify::RunOpWithExactSums(vk(), args, in->w);
        ASSERT_TRUE(got.ok()) << got.status() << " " << what;
        EXPECT_EQ(FirstDiff(want, *got, 1, 1), "") << what;
        EXPECT_EQ(FirstDiff(want_out, out, 4, 33), "") << what << ": output";
      }
    }
  }
}

// The plain kernels after exact ones (and the other way round) on the same shapes: the E
// binding is the exact kernels' own, so C is the reference's either way.
TEST_F(VulkanExactOutputTest, PlainCallsBetweenExactCallsAreUnchanged) {
  for (OpKind kind : {OpKind::kMatMulS8F32, OpKind::kMatMulQ8_0Q4_K}) {
    for (int64_t m : {1, 17}) {
      auto in = MakeRandomInputs(kind, m, 40, 512, 77 + m, InputProfile::kWide);
      ASSERT_TRUE(in.ok());
      const std::vector<uint8_t> want_out = ReferenceOutput(*in);
      const std::vector<uint8_t> want_exact = ScalarExact(*in);
      for (bool with_exact : {true, false, true, false}) {
        const std::string what =
            absl::StrCat(OpKindName(kind), " m=", m, with_exact ? " exact" : " plain");
        OpArgs args = in->Args();
        std::vector<uint8_t> out(want_out.size(), 0xCD);
        std::vector<uint8_t> exact(want_exact.size(), 0xEF);
        args.out = out;
        if (with_exact) args.exact = exact;
        ASSERT_TRUE(RunOp(vk(), args).ok()) << what;
        EXPECT_EQ(FirstDiff(want_out, out, 4, 40), "") << what;
        if (with_exact) {
          EXPECT_EQ(FirstDiff(want_exact, exact, 1, 1), "") << what;
        }
      }
    }
  }
}

// Informational (lavapipe figures, not a claim about GPUs): one call with and without E,
// and the fallback's ComputeExactSums, per shape. Prepared weights, kRealistic inputs.
TEST_F(VulkanExactOutputTest, ExactOutputTiming) {
  struct Case {
    OpKind kind;
    int64_t m, n, k;
  };
  const Case cases[] = {{OpKind::kMatMulQ8_0Q8_0, 1, 1536, 1536},
                        {OpKind::kMatMulQ8_0Q4_K, 1, 1536, 1536},
                        {OpKind::kMatMulQ8_0Q8_0, 64, 512, 1536},
                        {OpKind::kMatMulS8F32, 64, 512, 1536}};
  for (const Case& c : cases) {
    auto in = MakeRandomInputs(c.kind, c.m, c.n, c.k, 3, InputProfile::kRealistic);
    ASSERT_TRUE(in.ok());
    auto w = vk().PrepareWeights(c.kind, c.n, c.k, in->w, in->w_scale);
    ASSERT_TRUE(w.ok()) << w.status();
    OpArgs args = in->Args();
    args.w = {};
    args.w_scale = {};
    args.w_prepared = w->get();
    std::vector<uint8_t> exact(static_cast<size_t>(verify::ExactSumsBytes(c.kind, c.m, c.n)));
    auto mean_ms = [&](auto&& fn) {
      fn();  // warm-up
      constexpr int kReps = 5;
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < kReps; ++i) fn();
      return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                 .count() /
             kReps;
    };
    const double plain = mean_ms([&] { EXPECT_TRUE(RunOp(vk(), args).ok()); });
    OpArgs with_exact = args;
    with_exact.exact = exact;
    const double hooked = mean_ms([&] { EXPECT_TRUE(RunOp(vk(), with_exact).ok()); });
    const double scalar = mean_ms([&] {
      EXPECT_TRUE(
          verify::ComputeExactSums(c.kind, c.m, c.n, c.k, in->a, in->w, MutableByteSpan(exact))
              .ok());
    });
    std::printf(
        "[ info     ] %s m=%lld n=%lld k=%lld: plain %.2f ms, with E %.2f ms (%.2fx), "
        "plain + ComputeExactSums %.2f ms\n",
        OpKindName(c.kind), static_cast<long long>(c.m), static_cast<long long>(c.n),
        static_cast<long long>(c.k), plain, hooked, hooked / plain, plain + scalar);
  }
}

}  // namespace
}  // namespace datanode::ops
