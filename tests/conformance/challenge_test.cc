// Copyright 2026 The datanode Authors.
//
// The challenge list: every input profile appears, and the outputs the nonce derives
// include the values that break kernels (subnormal and overflowing results, rounding
// ties), not only the public golden vectors.
#include <cmath>
#include <map>
#include <set>

#include "conformance/challenge_inputs.h"
#include "conformance/conformance.h"
#include "conformance/llm_challenges.h"
#include "conformance/nonce.h"
#include "datanode/ops/exact_float.h"
#include "datanode/ops/reference.h"
#include "test_support.h"

namespace datanode::conformance {
namespace {

const char* const kNonces[] = {
    "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "00000000000000000000000000000000",
    "5f2c9a0e4b7d1836a1c0ffee00c0ffee", "ffffffffffffffff0123456789abcdef"};

device_classes::LoadedClass TestClass() {
  auto cls = device_classes::ParseClassText(testing::kTestClass, "test_pc");
  EXPECT_TRUE(cls.ok()) << cls.status();
  return *cls;
}

TEST(ChallengeCasesTest, EveryOpMeetsEveryProfile) {
  const auto cls = TestClass();
  for (const char* hex : kNonces) {
    auto nonce = ParseNonceHex(hex);
    ASSERT_TRUE(nonce.ok());
    std::map<ops::OpKind, std::set<ChallengeProfile>> seen;
    for (const ChallengeCase& c :
         ChallengeCases(cls.device_class.compute(), RequiredOps(cls.device_class), 3, *nonce)) {
      seen[c.kind].insert(c.profile);
    }
    ASSERT_EQ(seen.size(), RequiredOps(cls.device_class).size());
    for (const auto& [kind, profiles] : seen) {
      EXPECT_EQ(profiles.size(), std::size(kAllChallengeProfiles))
          << ops::OpKindName(kind) << " under nonce " << hex;
    }
    // One challenge per op still covers every profile over the list.
    std::set<ChallengeProfile> one;
    for (const ChallengeCase& c :
         ChallengeCases(cls.device_class.compute(), RequiredOps(cls.device_class), 1, *nonce)) {
      one.insert(c.profile);
    }
    EXPECT_EQ(one.size(), std::size(kAllChallengeProfiles)) << hex;
  }
}

// The LLM ops: every op of the kernel set meets every profile, and in every profile
// each op computes (an input the spec refused would come out as its status code), on
// the reference and, byte for byte, on the CPU backend's kernels; a second run gives
// the same bytes (the poison is overwritten).
TEST(ChallengeCasesTest, LlmChallengesMeetEveryProfileAndComputeOnTheCpuAsOnTheReference) {
  auto cpu = testing::Cpu();
  const ops::llm::Kernels& reference = ops::llm::ReferenceKernels();
  std::map<std::string, std::set<ChallengeProfile>> seen, computed;
  int refused = 0, total = 0;
  for (const char* hex : kNonces) {
    auto nonce = ParseNonceHex(hex);
    ASSERT_TRUE(nonce.ok());
    for (const LlmChallenge& c : LlmChallengeCases(3, *nonce)) {
      seen[c.op].insert(c.profile);
      auto want = RunLlmChallenge(reference, c);
      ASSERT_TRUE(want.ok()) << c.label << ": " << want.status();
      auto got = RunLlmChallenge(cpu->LlmKernels(), c);
      ASSERT_TRUE(got.ok()) << c.label << ": " << got.status();
      EXPECT_EQ(*got == *want, true) << c.label << " under nonce " << hex;
      EXPECT_EQ(*RunLlmChallenge(reference, c), *want) << c.label;
      ++total;
      if (want->starts_with("ok:")) {
        computed[c.op].insert(c.profile);
      } else {
        ++refused;
      }
    }
  }
  EXPECT_EQ(seen.size(), LlmChallengeOps().size());
  for (const std::string& op : LlmChallengeOps()) {
    EXPECT_EQ(seen[op].size(), std::size(kAllChallengeProfiles)) << op;
    EXPECT_EQ(computed[op].size(), std::size(kAllChallengeProfiles)) << op;
  }
  std::printf("LLM challenges: %d of %d refused by the spec (edge inputs)\n", refused, total);
}

// Whether the exact value mantissa * 2^exponent lies exactly halfway between two
// neighbouring binary32 values: then values just above and just below it round apart.
bool IsTie(ops::int128 mantissa, int exponent) {
  if (mantissa == 0) return false;
  return ops::RoundToF32Bits(4 * mantissa + 1, exponent - 2) !=
         ops::RoundToF32Bits(4 * mantissa - 1, exponent - 2);
}

struct Counts {
  int64_t subnormal = 0, overflow = 0, ties = 0, total = 0;
};

// Runs the nonce's challenges of matmul_s8_f32 on the reference, classifies every
// output, and recomputes the exact value behind each to find ties.
Counts CountS8F32Outputs(const std::vector<uint8_t>& nonce) {
  const auto cls = TestClass();
  auto reference = ops::reference::CreateReferenceBackend();
  Counts n;
  for (const ChallengeCase& c :
       ChallengeCases(cls.device_class.compute(), {ops::OpKind::kMatMulS8F32}, 3, nonce)) {
    auto in = MakeChallengeInputs(c.kind, c.m, c.n, c.k, c.seed, c.profile);
    EXPECT_TRUE(in.ok());
    ops::OpArgs args = in->Args();
    EXPECT_TRUE(ops::RunOp(*reference, args).ok());
    // The exact integer dot products, from the s8 -> s32 op on the same operands.
    std::vector<uint8_t> isum(c.m * c.n * 4);
    ops::OpArgs s32 = args;
    s32.kind = ops::OpKind::kMatMulS8S32;
    s32.a_scale = {};
    s32.w_scale = {};
    s32.out = isum;
    EXPECT_TRUE(ops::RunOp(*reference, s32).ok());
    for (int64_t i = 0; i < c.m; ++i) {
      const ops::ExactValue sa = ops::DecodeF32Bits(ops::LoadU32(&in->a_scale[i * 4]));
      for (int64_t j = 0; j < c.n; ++j) {
        const ops::ExactValue sw = ops::DecodeF32Bits(ops::LoadU32(&in->w_scale[j * 4]));
        const float got = ops::BitsToF32(ops::LoadU32(&in->out[(i * c.n + j) * 4]));
        const int32_t dot = static_cast<int32_t>(ops::LoadU32(&isum[(i * c.n + j) * 4]));
        ++n.total;
        n.subnormal += std::fpclassify(got) == FP_SUBNORMAL;
        n.overflow += std::isinf(got);
        n.ties += IsTie(ops::int128{sa.mantissa} * sw.mantissa * dot, sa.exponent + sw.exponent);
      }
    }
  }
  return n;
}

TEST(ChallengeCasesTest, NonceDerivedOutputsIncludeSubnormalsOverflowAndTies) {
  for (const char* hex : kNonces) {
    auto nonce = ParseNonceHex(hex);
    ASSERT_TRUE(nonce.ok());
    Counts n = CountS8F32Outputs(*nonce);
    EXPECT_GT(n.subnormal, 0) << hex;
    EXPECT_GT(n.overflow, 0) << hex;
    EXPECT_GT(n.ties, 0) << hex;
    std::printf(
        "nonce %s: %lld outputs of matmul_s8_f32 challenges: %lld subnormal, %lld "
        "overflow, %lld ties\n",
        hex, static_cast<long long>(n.total), static_cast<long long>(n.subnormal),
        static_cast<long long>(n.overflow), static_cast<long long>(n.ties));
  }
}

TEST(ChallengeInputsTest, EdgeProfileShortensEveryScale) {
  auto in = MakeChallengeInputs(ops::OpKind::kMatMulQ8_0Q4_1, 4, 4, 64, 7, ChallengeProfile::kEdge);
  ASSERT_TRUE(in.ok());
  for (size_t off = 0; off < in->w.size(); off += ops::kQ4_1BlockBytes) {
    for (int o : {0, 2}) {
      const uint16_t h = ops::LoadU16(&in->w[off + o]);
      const uint16_t frac = h & 0x3FF;
      if ((h & 0x7C00) != 0) EXPECT_EQ(frac & 0x7F, 0) << std::hex << h;  // 3 fraction bits
      if ((h & 0x7C00) == 0 && frac != 0) EXPECT_LE(std::popcount(frac), 3) << std::hex << h;
    }
  }
  // The other profiles are ops::MakeRandomInputs unchanged.
  auto wide = MakeChallengeInputs(ops::OpKind::kMatMulS8F32, 3, 5, 7, 11, ChallengeProfile::kWide);
  auto raw =
      ops::MakeRandomInputs(ops::OpKind::kMatMulS8F32, 3, 5, 7, 11, ops::InputProfile::kWide);
  ASSERT_TRUE(wide.ok() && raw.ok());
  EXPECT_EQ(wide->a_scale, raw->a_scale);
  EXPECT_EQ(wide->w, raw->w);
}

TEST(ChallengeInputsTest, PoisonDependsOnTheSeed) {
  std::vector<uint8_t> a(37), b(37), c(37);
  Poison(a, 1);
  Poison(b, 1);
  Poison(c, 2);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a, std::vector<uint8_t>(37, 0));
}

}  // namespace
}  // namespace datanode::conformance
