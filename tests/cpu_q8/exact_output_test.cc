// Copyright 2026 The datanode Authors.
//
// The CPU backend's exact-output hook (Backend::WritesExactSums, OpArgs::exact) against the
// scalar producer, byte for byte: for every verifiable kind with exact values (s8_f32, the
// Q8_0 family, the K-quants), every input profile (kRealistic takes the kernels' int64 fast
// path, kWide / kExtreme the int128 slow path), shapes at the tiling edges (M = 1..17, N
// around the 16-column panel and the 64-column decode tile, K = one block, three blocks and
// 4096), raw and prepared weights, 1 and 2 threads, on every kernel family this CPU has
// (DATANODE_CPU_ISA): E equals verify::ComputeExactSums and C the reference's output.
// Then verify::RunOpWithExactSums through the hook equals the old producer (RunOp, then
// ComputeExactSums and CompactExactSums), and RunOp's checks of OpArgs::exact.
//
// Mutation check (reasoned, not committed): a shift off by one in q8::StoreFastExactSums
// doubles or halves every nonzero fast-path E (kRealistic cases), a wrong column / lane order
// in the AVX2 / AVX-512 unpacking swaps two columns' E, a wrong row or panel offset moves a
// row's E (M > 1, N > 16 cases); each changes bytes that this test compares, and the poison
// (0xEF) catches an element left unwritten.
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/types.h"
#include "datanode/ops/verify.h"
#include "gtest/gtest.h"
#include "tests/cpu_q8/matmul_check.h"
#include "tests/ops/test_util.h"
#include "tests/verify/exact_output_check.h"

namespace datanode::ops {
namespace {

using testing::ExactShape;
using testing::FirstDiff;
using testing::kExactKinds;
using testing::ScalarExact;
using testing::ShapeK;

using testing::kCpuIsas;

constexpr ExactShape kShapes[] = {
    {1, 1, 1},  {1, 65, 0}, {1, 17, 3}, {2, 17, 3}, {3, 15, 1},  {4, 33, 0},
    {5, 47, 3}, {7, 16, 1}, {8, 80, 1}, {9, 17, 0}, {16, 33, 3}, {17, 47, 0},
};

TEST(CpuExactOutputTest, HookWritesExactSumsOnlyForKindsWithExactValues) {
  std::unique_ptr<Backend> cpu = testing::MakeCpu(testing::BestIsa(), 1);
  ASSERT_NE(cpu, nullptr);
  for (OpKind kind : kAllOpKinds) {
    const bool want = kind == OpKind::kMatMulS8F32 || IsQ8_0MatMul(kind);
    EXPECT_EQ(cpu->WritesExactSums(kind), want) << OpKindName(kind);
    EXPECT_EQ(ExactOutputBytes(kind, 3, 5), verify::ExactSumsBytes(kind, 3, 5)) << OpKindName(kind);
  }
  auto ref = CreateBackend("reference");
  ASSERT_TRUE(ref.ok());
  for (OpKind kind : kAllOpKinds) EXPECT_FALSE((*ref)->WritesExactSums(kind)) << OpKindName(kind);
}

TEST(CpuExactOutputTest, ExactSumsEqualScalarProducerEveryKindProfileShapeIsaAndThreadCount) {
  uint64_t seed = 7100;
  int cases = 0;
  for (OpKind kind : kExactKinds) {
    for (InputProfile profile : kAllInputProfiles) {
      for (const ExactShape& s : kShapes) {
        ++seed;
        const int64_t k = ShapeK(kind, s);
        auto in = MakeRandomInputs(kind, s.m, s.n, k, seed, profile);
        ASSERT_TRUE(in.ok()) << in.status();
        const std::vector<uint8_t> want_out = testing::ReferenceOutput(*in);
        const std::vector<uint8_t> want_exact = ScalarExact(*in);
        const int64_t elem = verify::ExactSumsBytes(kind, 1, 1);
        for (const char* isa : kCpuIsas) {
          if (!testing::MachineHas(isa)) continue;
          for (int threads : {1, 2}) {
            std::unique_ptr<Backend> cpu = testing::MakeCpu(isa, threads);
            ASSERT_NE(cpu, nullptr);
            for (bool prepared : {false, true}) {
              const std::string what =
                  absl::StrCat(OpKindName(kind), " isa=", isa, " threads=", threads,
                               " profile=", testing::ProfileName(profile), " m=", s.m, " n=", s.n,
                               " k=", k, " seed=", seed, prepared ? " prepared" : " raw");
              OpArgs args = in->Args();
              std::vector<uint8_t> out(want_out.size(), 0xCD);
              std::vector<uint8_t> exact(want_exact.size(), 0xEF);  // every byte is written
              args.out = out;
              args.exact = exact;
              std::unique_ptr<PreparedWeights> pw;
              if (prepared) {
                auto p = cpu->PrepareWeights(kind, in->n, in->k, in->w, in->w_scale);
                ASSERT_TRUE(p.ok()) << p.status() << " " << what;
                pw = std::move(p).value();
                args.w_prepared = pw.get();
                args.w = {};
              }
              const absl::Status st = RunOp(*cpu, args);
              ASSERT_TRUE(st.ok()) << st << " " << what;
              ASSERT_EQ(FirstDiff(want_out, out, 4, s.n), "") << what << ": output";
              ASSERT_EQ(FirstDiff(want_exact, exact, elem, s.n), "") << what << ": exact sums";
              ++cases;
            }
          }
        }
      }
    }
  }
  std::cout << cases << " runs compared (output and exact sums)\n";
  EXPECT_GE(cases, 6 * 3 * 12 * 2 * 2);  // portable at least
}

TEST(CpuExactOutputTest, RunOpWithExactSumsEqualsTheScalarPathEveryKindAndProfile) {
  uint64_t seed = 7900;
  for (const char* isa : kCpuIsas) {
    if (!testing::MachineHas(isa)) continue;
    std::unique_ptr<Backend> cpu = testing::MakeCpu(isa, 2);
    ASSERT_NE(cpu, nullptr);
    for (OpKind kind : kMatMulOpKinds) {  // every verifiable kind, s8_s32 (no E) included
      ASSERT_TRUE(verify::IsVerifiable(kind)) << OpKindName(kind);
      for (InputProfile profile : kAllInputProfiles) {
        const int64_t k = kind == OpKind::kMatMulS8S32 || kind == OpKind::kMatMulS8F32 ? 300 : 512;
        auto in = MakeRandomInputs(kind, 5, 33, k, ++seed, profile);
        ASSERT_TRUE(in.ok()) << in.status();
        const std::string what = absl::StrCat(OpKindName(kind), " isa=", isa,
                                              " profile=", testing::ProfileName(profile));
        std::vector<uint8_t> want = ScalarExact(*in);
        want.resize(static_cast<size_t>(verify::CompactExactSums(kind, MutableByteSpan(want))));
        const std::vector<uint8_t> want_out = testing::ReferenceOutput(*in);
        OpArgs args = in->Args();
        std::vector<uint8_t> out(want_out.size(), 0xCD);
        args.out = out;
        auto got = verify::RunOpWithExactSums(*cpu, args, in->w);
        ASSERT_TRUE(got.ok()) << got.status() << " " << what;
        EXPECT_EQ(FirstDiff(want, *got, 1, 1), "") << what;
        EXPECT_EQ(FirstDiff(want_out, out, 4, 33), "") << what << ": output";
      }
    }
  }
}

TEST(CpuExactOutputTest, RunOpChecksTheExactSpan) {
  auto in = MakeRandomInputs(OpKind::kMatMulQ8_0Q8_0, 2, 17, 64, 5, InputProfile::kRealistic);
  ASSERT_TRUE(in.ok());
  std::vector<uint8_t> exact(16 * 2 * 17);
  OpArgs args = in->Args();
  args.exact = exact;
  // A backend without the hook refuses a non-empty span.
  auto ref = CreateBackend("reference");
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(RunOp(**ref, args).code(), absl::StatusCode::kFailedPrecondition);
  // A wrong size (e.g. the compact encoding's 8 bytes) is refused.
  std::unique_ptr<Backend> cpu = testing::MakeCpu(testing::BestIsa(), 1);
  ASSERT_NE(cpu, nullptr);
  std::vector<uint8_t> small(8 * 2 * 17);
  args.exact = small;
  EXPECT_EQ(RunOp(*cpu, args).code(), absl::StatusCode::kInvalidArgument);
  // s8_s32 has no exact values: refused, whatever the size.
  auto s32 = MakeRandomInputs(OpKind::kMatMulS8S32, 2, 3, 8, 5, InputProfile::kRealistic);
  ASSERT_TRUE(s32.ok());
  OpArgs s32_args = s32->Args();
  std::vector<uint8_t> s32_exact(4 * 2 * 3);
  s32_args.exact = s32_exact;
  EXPECT_EQ(RunOp(*cpu, s32_args).code(), absl::StatusCode::kFailedPrecondition);
  args.exact = exact;
  EXPECT_TRUE(RunOp(*cpu, args).ok());
}

}  // namespace
}  // namespace datanode::ops
