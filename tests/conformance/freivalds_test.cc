// Copyright 2026 The datanode Authors.
#include "conformance/freivalds.h"

#include "datanode/ops/backend.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/reference.h"
#include "gtest/gtest.h"

namespace datanode::conformance {
namespace {

// Non-square shapes so that a transposed W layout would fail.
TEST(Freivalds, AcceptsCorrectAndCatchesEverySingleBitFlip) {
  auto ref = ops::reference::CreateReferenceBackend();
  struct Shape {
    int64_t m, n, k;
  };
  for (Shape s : {Shape{1, 1, 1}, Shape{7, 13, 31}, Shape{33, 5, 64}}) {
    auto in = ops::MakeRandomInputs(ops::OpKind::kMatMulS8S32, s.m, s.n, s.k, 77,
                                    ops::InputProfile::kExtreme);
    ASSERT_TRUE(in.ok());
    ops::OpArgs args = in->Args();
    ASSERT_TRUE(ops::RunOp(*ref, args).ok());
    EXPECT_TRUE(FreivaldsCheckS8S32(s.m, s.n, s.k, in->a, in->w, in->out, 5, 2));
    ops::SplitMix64 rng(9);
    for (int trial = 0; trial < 50; ++trial) {
      std::vector<uint8_t> bad = in->out;
      int64_t byte = rng.Uniform(0, static_cast<int64_t>(bad.size()) - 1);
      bad[byte] ^= static_cast<uint8_t>(1u << rng.Uniform(0, 7));
      int64_t row = -1;
      EXPECT_FALSE(FreivaldsCheckS8S32(s.m, s.n, s.k, in->a, in->w, bad, trial, 1, &row))
          << s.m << "x" << s.n << "x" << s.k << " byte " << byte;
      EXPECT_EQ(row, byte / 4 / s.n);
    }
  }
}

TEST(Freivalds, RejectsTransposedResult) {
  auto ref = ops::reference::CreateReferenceBackend();
  auto in = ops::MakeRandomInputs(ops::OpKind::kMatMulS8S32, 6, 6, 40, 3);
  ASSERT_TRUE(in.ok());
  ops::OpArgs args = in->Args();
  ASSERT_TRUE(ops::RunOp(*ref, args).ok());
  std::vector<uint8_t> t(in->out.size());
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 6; ++j)
      for (int b = 0; b < 4; ++b) t[(j * 6 + i) * 4 + b] = in->out[(i * 6 + j) * 4 + b];
  EXPECT_FALSE(FreivaldsCheckS8S32(6, 6, 40, in->a, in->w, t, 1, 2));
}

}  // namespace
}  // namespace datanode::conformance
