// Copyright 2026 The datanode Authors.
#include <gtest/gtest.h>

#include "datanode/ops/backend.h"
#include "datanode/ops/random_inputs.h"

namespace datanode::ops {
namespace {

TEST(Smoke, CpuMatchesReference) {
  for (OpKind kind : kAllOpKinds) {
    auto in = MakeRandomInputs(kind, 5, IsMatMul(kind) ? 7 : 0, 64, 42);
    ASSERT_TRUE(in.ok()) << in.status();
    OpInputs expected = *in, actual = *in;
    auto ref = CreateBackend("reference");
    auto cpu = CreateBackend("cpu");
    ASSERT_TRUE(ref.ok() && cpu.ok());
    auto st = RunOp(**ref, expected.Args());
    ASSERT_TRUE(st.ok()) << OpKindName(kind) << ": " << st.ToString();
    ASSERT_TRUE(RunOp(**cpu, actual.Args()).ok());
    EXPECT_EQ(expected.out, actual.out) << OpKindName(kind);
    EXPECT_EQ(expected.out_scale, actual.out_scale) << OpKindName(kind);
  }
}

}  // namespace
}  // namespace datanode::ops
