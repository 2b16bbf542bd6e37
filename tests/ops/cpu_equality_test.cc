// Copyright 2026 The datanode Authors.
//
// The CPU backend against the reference, byte for byte, for every op and every
// kernel family (ISA) this machine has: >= 1,000 seeded random cases per op on the
// best ISA (fewer on the others), over shapes with 1s, odd sizes and K at block and
// tile boundaries, all three input profiles, raw and prepared weights. The sweep
// also asserts that it really produced the hard cases (subnormal and infinite
// outputs, signed zeros, subnormal quantize scales), so a change to the input
// generator cannot quietly make it toothless.
//
// Reproduce one failure: every message prints op, shape, seed, profile, threads and
// ISA; MakeRandomInputs(op, M, N, K, seed, profile) rebuilds the inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "datanode/ops/backend.h"
#include "datanode/ops/exact_float.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/types.h"
#include "tests/ops/test_util.h"

namespace datanode::ops {
namespace {

using testing::BestIsa;
using testing::CaseInfo;
using testing::CompareOutputs;
using testing::CpuCompiledIn;
using testing::CreateCpuWithIsa;
using testing::Describe;
using testing::MachineHasIsa;

constexpr int kThreads = 2;
constexpr int kCasesBestIsa = 1000;
constexpr int kCasesOtherIsa = 1000;
// Multiply-accumulates allowed per case: keeps the scalar reference fast (the whole
// binary stays well under a minute) while K still reaches 4096 + 32 with small M, N.
constexpr int64_t kMaxMacsPerCase = 2'000'000;

// K must be a multiple of this for `kind` (32 for the block formats, 256 for the K-quants'
// super-blocks, 1 otherwise).
int64_t KMultiple(OpKind kind) { return FindOpInfo(kind)->k_multiple; }
bool IsBlocked(OpKind kind) { return KMultiple(kind) > 1; }

template <size_t N>
int64_t Pick(SplitMix64& rng, const int64_t (&values)[N]) {
  return values[rng.Next() % N];
}

// The shape of case `seed`: boundary values most of the time, random otherwise.
void ShapeFor(OpKind kind, uint64_t seed, int64_t* m, int64_t* n, int64_t* k) {
  static constexpr int64_t kM[] = {1,  1,  1,  2,  3,  4,  5,  7,  8,  9,
                                   15, 16, 17, 31, 32, 33, 47, 48, 63, 65};
  static constexpr int64_t kN[] = {1,  1,  2,  3,  4,  5,  7,  8,   9,   15,  16,  17,  31, 32,
                                   33, 47, 48, 49, 63, 64, 65, 127, 128, 129, 255, 256, 257};
  static constexpr int64_t kKAny[] = {1,   2,   3,   4,    5,    7,    8,    15,   16,  17,  31,
                                      32,  33,  63,  64,   65,   127,  128,  129,  255, 256, 257,
                                      511, 512, 513, 1023, 1024, 1025, 4064, 4096, 4128};
  static constexpr int64_t kKBlocks[] = {1,  2,  3,  4,  5,  7,  8,  9,   15,  16,
                                         17, 31, 32, 33, 63, 64, 65, 127, 128, 129};
  SplitMix64 rng(seed * 0x9E3779B97F4A7C15ull + 17);
  const bool random = rng.Next() % 4 == 0;
  *m = random ? rng.Uniform(1, 40) : Pick(rng, kM);
  *n = IsMatMul(kind) ? (random ? rng.Uniform(1, 150) : Pick(rng, kN)) : 0;
  if (KMultiple(kind) == kQKSuperBlockSize) {
    // Super-block counts 1..8, plus K = 4096 and 4096 + 256 (16, 17 super-blocks).
    static constexpr int64_t kKSupers[] = {1, 1, 2, 3, 4, 5, 7, 8, 16, 17};
    *k = (random ? rng.Uniform(1, 8) : Pick(rng, kKSupers)) * kQKSuperBlockSize;
  } else if (IsBlocked(kind)) {
    // Block counts around powers of two, plus K = 4096 +- 32 (127, 128, 129 blocks).
    *k = (random ? rng.Uniform(1, 60) : Pick(rng, kKBlocks)) * kQBlockSize;
  } else {
    *k = random ? rng.Uniform(1, 700) : Pick(rng, kKAny);
  }
  // Shrink N, then M, until the case fits the budget (K is never shrunk: the long
  // reductions are the point of K = 4096 + 32).
  while (*m * std::max<int64_t>(*n, 1) * *k > kMaxMacsPerCase) {
    if (*n > 1) {
      *n = (*n + 1) / 2;
    } else if (*m > 1) {
      *m = (*m + 1) / 2;
    } else {
      break;
    }
  }
}

// What the sweep produced, so the test can assert the hard paths were exercised.
struct Coverage {
  int64_t f32_subnormal = 0;
  int64_t f32_inf = 0;
  int64_t f32_neg_zero = 0;
  int64_t f32_outputs = 0;
  int64_t s8_scale_subnormal = 0;
  int64_t s8_scale_zero = 0;
  int64_t q8_d_subnormal = 0;
  int64_t max_k = 0;
  int64_t prepared = 0;
  int64_t per_profile[3] = {0, 0, 0};

  void Add(const OpInputs& out, InputProfile profile, bool was_prepared) {
    ++per_profile[static_cast<int>(profile)];
    if (was_prepared) ++prepared;
    if (out.k > max_k) max_k = out.k;
    if (IsMatMul(out.kind) && out.kind != OpKind::kMatMulS8S32) {
      for (size_t i = 0; i < out.out.size(); i += 4) {
        const uint32_t bits = LoadU32(&out.out[i]);
        const uint32_t exp = (bits >> 23) & 0xFF;
        ++f32_outputs;
        if (exp == 0 && (bits & 0x7FFFFF) != 0) ++f32_subnormal;
        if (exp == 0xFF) ++f32_inf;
        if (bits == 0x80000000u) ++f32_neg_zero;
      }
    }
    if (out.kind == OpKind::kQuantizeS8Row) {
      for (size_t i = 0; i < out.out_scale.size(); i += 4) {
        const uint32_t bits = LoadU32(&out.out_scale[i]);
        if (bits == 0) ++s8_scale_zero;
        if (bits != 0 && bits < 0x00800000u) ++s8_scale_subnormal;
      }
    }
    if (out.kind == OpKind::kQuantizeQ8_0) {
      for (size_t i = 0; i < out.out.size(); i += kQ8_0BlockBytes) {
        const uint16_t d = LoadU16(&out.out[i]);
        if (d != 0 && d < 0x0400) ++q8_d_subnormal;
      }
    }
  }
};

// Runs `info` on the reference and on `cpu` (raw or prepared weights) and compares.
// Returns false (with a gtest failure) on any difference or error.
bool RunCase(Backend& reference, Backend& cpu, const CaseInfo& info, Coverage* coverage) {
  absl::StatusOr<OpInputs> in =
      MakeRandomInputs(info.kind, info.m, info.n, info.k, info.seed, info.profile);
  if (!in.ok()) {
    ADD_FAILURE() << Describe(info) << ": MakeRandomInputs: " << in.status();
    return false;
  }
  OpInputs expected = *in;
  OpInputs actual = *std::move(in);
  if (absl::Status st = RunOp(reference, expected.Args()); !st.ok()) {
    ADD_FAILURE() << Describe(info) << ": reference: " << st;
    return false;
  }
  OpArgs args = actual.Args();
  std::unique_ptr<PreparedWeights> prepared;
  if (info.prepared) {
    absl::StatusOr<std::unique_ptr<PreparedWeights>> p =
        cpu.PrepareWeights(info.kind, info.n, info.k, actual.w, actual.w_scale);
    if (!p.ok()) {
      ADD_FAILURE() << Describe(info) << ": PrepareWeights: " << p.status();
      return false;
    }
    prepared = *std::move(p);
    args.w_prepared = prepared.get();
    args.w = {};  // the prepared form alone must suffice
    args.w_scale = {};
  }
  if (absl::Status st = RunOp(cpu, args); !st.ok()) {
    ADD_FAILURE() << Describe(info) << ": cpu: " << st;
    return false;
  }
  if (const std::string diff = CompareOutputs(expected, actual); !diff.empty()) {
    ADD_FAILURE() << Describe(info) << ": " << diff;
    return false;
  }
  coverage->Add(expected, info.profile, info.prepared);
  return true;
}

struct Param {
  OpKind kind;
  const char* isa;
};

class CpuEqualityTest : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    if (!CpuCompiledIn()) GTEST_SKIP() << "the cpu backend is not compiled in";
    std::string why;
    if (!MachineHasIsa(GetParam().isa, &why)) {
      GTEST_SKIP() << "skipping ISA " << GetParam().isa << ": " << why;
    }
    reference_ = *CreateBackend("reference");
    absl::StatusOr<std::unique_ptr<Backend>> cpu = CreateCpuWithIsa(GetParam().isa, kThreads);
    ASSERT_TRUE(cpu.ok()) << "CreateBackend(cpu, isa=" << GetParam().isa << "): " << cpu.status();
    cpu_ = *std::move(cpu);
    // The backend must really run the requested kernels, or this test checks nothing new.
    ASSERT_NE(cpu_->Description().find(GetParam().isa), std::string::npos)
        << "DATANODE_CPU_ISA=" << GetParam().isa << " but the backend says " << cpu_->Description();
    if (!cpu_->Supports(GetParam().kind)) {
      GTEST_SKIP() << "the cpu backend has no kernel for " << OpKindName(GetParam().kind);
    }
  }

  std::unique_ptr<Backend> reference_;
  std::unique_ptr<Backend> cpu_;
};

TEST_P(CpuEqualityTest, RandomCasesMatchReference) {
  const OpKind kind = GetParam().kind;
  const bool best = BestIsa() == GetParam().isa;
  const int cases = best ? kCasesBestIsa : kCasesOtherIsa;
  Coverage coverage;
  int failures = 0;
  for (int i = 0; i < cases && failures < 5; ++i) {
    CaseInfo info;
    info.kind = kind;
    info.seed = 0xC0FFEE0000ull + static_cast<uint64_t>(kind) * 1'000'000 + i;
    ShapeFor(kind, info.seed, &info.m, &info.n, &info.k);
    info.profile = testing::kAllProfiles[i % 3];
    info.threads = kThreads;
    info.isa = GetParam().isa;
    info.prepared = IsMatMul(kind) && (i / 3) % 2 == 1;  // both forms under every profile
    if (!RunCase(*reference_, *cpu_, info, &coverage)) ++failures;
  }
  ASSERT_EQ(failures, 0);
  std::printf(
      "%s on %s: %d cases (wide %lld, extreme %lld, realistic %lld; prepared %lld), "
      "max K %lld\n",
      OpKindName(kind), GetParam().isa, cases, static_cast<long long>(coverage.per_profile[0]),
      static_cast<long long>(coverage.per_profile[1]),
      static_cast<long long>(coverage.per_profile[2]), static_cast<long long>(coverage.prepared),
      static_cast<long long>(coverage.max_k));
  EXPECT_GE(coverage.max_k, 4096) << "the sweep never reached K = 4096";
  if (IsMatMul(kind)) {
    EXPECT_GT(coverage.prepared, cases / 4);
  }
  switch (kind) {
    case OpKind::kMatMulS8F32:
      // kExtreme scales (subnormal, near FLT_MAX) must have driven results through
      // both ends of the f32 range, including underflow of negative values to -0.
      std::printf("  f32 outputs %lld: subnormal %lld, inf %lld, -0 %lld\n",
                  static_cast<long long>(coverage.f32_outputs),
                  static_cast<long long>(coverage.f32_subnormal),
                  static_cast<long long>(coverage.f32_inf),
                  static_cast<long long>(coverage.f32_neg_zero));
      EXPECT_GT(coverage.f32_subnormal, 0) << "no subnormal output in the sweep";
      EXPECT_GT(coverage.f32_inf, 0) << "no infinite output in the sweep";
      EXPECT_GT(coverage.f32_neg_zero, 0) << "no negative underflow to -0 in the sweep";
      break;
    case OpKind::kQuantizeS8Row:
      std::printf("  subnormal row scales %lld, zero row scales %lld\n",
                  static_cast<long long>(coverage.s8_scale_subnormal),
                  static_cast<long long>(coverage.s8_scale_zero));
      EXPECT_GT(coverage.s8_scale_subnormal, 0) << "no subnormal f32 row scale in the sweep";
      break;
    case OpKind::kQuantizeQ8_0:
      std::printf("  subnormal f16 block scales %lld\n",
                  static_cast<long long>(coverage.q8_d_subnormal));
      EXPECT_GT(coverage.q8_d_subnormal, 0) << "no subnormal f16 block scale in the sweep";
      break;
    default:
      break;
  }
}

// The longest reduction the spec allows, with every operand at +-127 so the s32 sum
// is as large as it can get (127 * 127 * 131071 = 2114061199 < 2^31), and a random
// case of the same length; block ops use the largest multiple of their block (131040 for
// 32-value blocks, 130816 for the K-quants' 256-value super-blocks).
TEST_P(CpuEqualityTest, LongestK) {
  const OpKind kind = GetParam().kind;
  const int64_t k = kMaxK / KMultiple(kind) * KMultiple(kind);
  const int64_t m = 2;
  const int64_t n = IsMatMul(kind) ? 3 : 0;
  for (InputProfile profile : {InputProfile::kExtreme, InputProfile::kWide}) {
    CaseInfo info{
        kind,           m,    n, k, 0x10AD + static_cast<uint64_t>(profile), profile, kThreads,
        GetParam().isa, false};
    Coverage coverage;
    EXPECT_TRUE(RunCase(*reference_, *cpu_, info, &coverage));
    info.prepared = IsMatMul(kind);
    EXPECT_TRUE(RunCase(*reference_, *cpu_, info, &coverage));
  }
  if (kind == OpKind::kMatMulS8S32 || kind == OpKind::kMatMulS8F32) {
    // Saturation bait: A = +127 everywhere against W rows of +127, -127 and an
    // alternating pattern; any saturating instruction (vpmaddubsw without the sign
    // trick, vpdpbusds) or 16-bit intermediate shows up here.
    absl::StatusOr<OpInputs> in = MakeRandomInputs(kind, m, n, k, 1, InputProfile::kRealistic);
    ASSERT_TRUE(in.ok()) << in.status();
    for (int64_t p = 0; p < m * k; ++p) in->a[p] = p < k ? 127 : static_cast<uint8_t>(-127);
    for (int64_t p = 0; p < k; ++p) {
      in->w[p] = 127;
      in->w[k + p] = static_cast<uint8_t>(-127);
      in->w[2 * k + p] = (p % 2) ? 127 : static_cast<uint8_t>(-127);
    }
    OpInputs expected = *in;
    OpInputs actual = *in;
    ASSERT_TRUE(RunOp(*reference_, expected.Args()).ok());
    ASSERT_TRUE(RunOp(*cpu_, actual.Args()).ok());
    if (kind == OpKind::kMatMulS8S32) {
      EXPECT_EQ(static_cast<int32_t>(LoadU32(&expected.out[0])), 127 * 127 * 131071)
          << "the reference itself overflowed";
    }
    EXPECT_EQ(CompareOutputs(expected, actual), "")
        << OpKindName(kind) << " saturation bait, K=" << k << " isa=" << GetParam().isa;
  }
}

std::vector<Param> AllParams() {
  std::vector<Param> params;
  for (OpKind kind : kAllOpKinds) {
    for (const char* isa : testing::kCpuIsas) params.push_back({kind, isa});
  }
  return params;
}

INSTANTIATE_TEST_SUITE_P(AllOpsAllIsas, CpuEqualityTest, ::testing::ValuesIn(AllParams()),
                         [](const ::testing::TestParamInfo<Param>& info) {
                           return std::string(OpKindName(info.param.kind)) + "_" + info.param.isa;
                         });

}  // namespace
}  // namespace datanode::ops
