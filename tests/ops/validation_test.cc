// Copyright 2026 The datanode Authors.
//
// Every input the spec rejects is rejected by RunOp on every backend with
// INVALID_ARGUMENT, a message that names the problem (operand, index, value), and
// no output written. Plus the names of op kinds and the backend registry's errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/exact_float.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/types.h"
#include "datanode/ops/validate.h"
#include "tests/ops/test_util.h"

namespace datanode::ops {
namespace {

constexpr OpKind kQ8Kinds[] = {OpKind::kMatMulQ8_0Q8_0, OpKind::kMatMulQ8_0Q4_0,
                               OpKind::kMatMulQ8_0Q4_1};
constexpr OpKind kKQuantKinds[] = {OpKind::kMatMulQ8_0Q4_K, OpKind::kMatMulQ8_0Q6_K};
const uint32_t kNonFiniteF32[] = {0x7FC00000u, 0x7F800000u, 0xFF800000u, 0x7F800001u};
const uint16_t kNonFiniteF16[] = {0x7E00, 0x7C00, 0xFC00, 0x7C01};

class ValidationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const std::string& name : CompiledBackends()) {
      BackendOptions options;
      options.num_threads = 2;
      absl::StatusOr<std::unique_ptr<Backend>> b = CreateBackend(name, options);
      if (b.ok()) backends_.push_back(*std::move(b));  // GPU backends may be absent
    }
    ASSERT_FALSE(backends_.empty());
  }

  OpInputs Valid(OpKind kind, int64_t m = 3, int64_t n = 5, int64_t k = 64) {
    absl::StatusOr<OpInputs> in = MakeRandomInputs(kind, m, IsMatMul(kind) ? n : 0, k, 99);
    EXPECT_TRUE(in.ok()) << in.status();
    return *std::move(in);
  }

  // `args` must be rejected by ValidateOp and by RunOp on every backend, with
  // INVALID_ARGUMENT and a message containing every one of `needles`; the output
  // buffers must stay untouched.
  void ExpectInvalid(const OpArgs& args, const std::vector<std::string>& needles,
                     const std::string& what) {
    SCOPED_TRACE(what);
    const absl::Status direct = ValidateOp(args);
    EXPECT_EQ(direct.code(), absl::StatusCode::kInvalidArgument) << direct;
    for (const std::unique_ptr<Backend>& backend : backends_) {
      const std::vector<uint8_t> out_before(args.out.begin(), args.out.end());
      const absl::Status st = RunOp(*backend, args);
      EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << backend->Name() << ": " << st;
      for (const std::string& needle : needles) {
        EXPECT_NE(st.message().find(needle), std::string::npos)
            << backend->Name() << ": message \"" << st.message() << "\" lacks \"" << needle << "\"";
      }
      EXPECT_TRUE(std::equal(out_before.begin(), out_before.end(), args.out.begin()))
          << backend->Name() << " wrote output for an invalid call";
    }
  }

  void ExpectValid(OpInputs& in, const std::string& what) {
    for (const std::unique_ptr<Backend>& backend : backends_) {
      if (!backend->Supports(in.kind)) continue;  // UNIMPLEMENTED there, not invalid
      const absl::Status st = RunOp(*backend, in.Args());
      EXPECT_TRUE(st.ok()) << what << " on " << backend->Name() << ": " << st;
    }
  }

  std::vector<std::unique_ptr<Backend>> backends_;
};

TEST_F(ValidationTest, MinusOneTwentyEightInS8Operands) {
  for (OpKind kind : {OpKind::kMatMulS8S32, OpKind::kMatMulS8F32}) {
    OpInputs in = Valid(kind);
    in.a[1 * 64 + 7] = 0x80;  // A[1, 7]
    ExpectInvalid(in.Args(), {OpKindName(kind), "A[1, 7]", "-128"}, "-128 in A");
    in = Valid(kind);
    in.w[4 * 64 + 63] = 0x80;  // W[4, 63]
    ExpectInvalid(in.Args(), {OpKindName(kind), "W[4, 63]", "-128"}, "-128 in W");
    // PrepareWeights validates too.
    for (const std::unique_ptr<Backend>& backend : backends_) {
      auto p = backend->PrepareWeights(kind, in.n, in.k, in.w, in.w_scale);
      EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << backend->Name();
      EXPECT_NE(p.status().message().find("-128"), std::string::npos) << p.status();
    }
  }
}

TEST_F(ValidationTest, MinusOneTwentyEightInQ8_0Quants) {
  for (OpKind kind : kQ8Kinds) {
    OpInputs in = Valid(kind);
    in.a[(1 * 2 + 1) * kQ8_0BlockBytes + 2 + 30] = 0x80;  // row 1, block 1, value 30
    ExpectInvalid(in.Args(), {"A row 1 block 1 value 30", "-128"},
                  std::string(OpKindName(kind)) + " -128 in A");
  }
  OpInputs in = Valid(OpKind::kMatMulQ8_0Q8_0);
  in.w[(4 * 2 + 0) * kQ8_0BlockBytes + 2] = 0x80;  // row 4, block 0, value 0
  ExpectInvalid(in.Args(), {"W row 4 block 0 value 0", "-128"}, "-128 in Q8_0 W");
  // Q4 nibbles have no invalid value: 0x80 in a Q4_0 / Q4_1 quant byte is fine.
  for (OpKind kind : {OpKind::kMatMulQ8_0Q4_0, OpKind::kMatMulQ8_0Q4_1}) {
    OpInputs q4 = Valid(kind);
    q4.w[(kind == OpKind::kMatMulQ8_0Q4_1 ? 4 : 2)] = 0x80;
    ExpectValid(q4, "nibbles 0x80");
  }
}

TEST_F(ValidationTest, BadShapes) {
  struct BadShape {
    OpKind kind;
    int64_t m, n, k;
    std::vector<std::string> needles;
  };
  std::vector<BadShape> cases;
  for (OpKind kind : kAllOpKinds) {
    const int64_t n = IsMatMul(kind) ? 4 : 0;
    cases.push_back({kind, 2, n, 0, {"K = 0"}});
    cases.push_back({kind, 2, n, -32, {"K = -32"}});
    cases.push_back({kind, 2, n, 131072, {"K = 131072", "131071"}});
    cases.push_back({kind, 0, n, 64, {"M = 0"}});
    cases.push_back({kind, -1, n, 64, {"M = -1"}});
    cases.push_back({kind, (int64_t{1} << 24) + 1, n, 64, {"M = 16777217"}});
    if (IsMatMul(kind)) {
      cases.push_back({kind, 2, 0, 64, {"N = 0"}});
      cases.push_back({kind, 2, -5, 64, {"N = -5"}});
    } else {
      cases.push_back({kind, 2, 3, 64, {"N must be 0"}});
    }
  }
  for (OpKind kind : kQ8Kinds) cases.push_back({kind, 2, 4, 33, {"K = 33", "multiple", "32"}});
  for (OpKind kind : kKQuantKinds) {
    cases.push_back({kind, 2, 4, 288, {"K = 288", "multiple", "256"}});
  }
  cases.push_back({OpKind::kQuantizeQ8_0, 2, 0, 100, {"K = 100", "multiple", "32"}});
  for (const BadShape& c : cases) {
    OpArgs args;
    args.kind = c.kind;
    args.m = c.m;
    args.n = c.n;
    args.k = c.k;
    std::vector<std::string> needles = c.needles;
    needles.push_back(OpKindName(c.kind));
    ExpectInvalid(args, needles,
                  std::string(OpKindName(c.kind)) + " M=" + std::to_string(c.m) +
                      " N=" + std::to_string(c.n) + " K=" + std::to_string(c.k));
    EXPECT_EQ(ComputeOperandSizes(c.kind, c.m, c.n, c.k).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  // K = 131071 itself is valid for the s8 ops (the largest sum still fits int32).
  EXPECT_TRUE(ComputeOperandSizes(OpKind::kMatMulS8S32, 1, 1, kMaxK).ok());
}

TEST_F(ValidationTest, WrongBufferSizeForEveryOperand) {
  int checked = 0;
  for (OpKind kind : kAllOpKinds) {
    // K = 256: a multiple of every op's block (the K-quants' super-block included).
    const OperandSizes sizes = *ComputeOperandSizes(kind, 3, IsMatMul(kind) ? 5 : 0, 256);
    struct Operand {
      const char* name;
      int64_t size;
      std::vector<uint8_t> OpInputs::*buffer;
    };
    const Operand operands[] = {
        {"A", sizes.a, &OpInputs::a},       {"a_scale", sizes.a_scale, &OpInputs::a_scale},
        {"W", sizes.w, &OpInputs::w},       {"w_scale", sizes.w_scale, &OpInputs::w_scale},
        {"out", sizes.out, &OpInputs::out}, {"out_scale", sizes.out_scale, &OpInputs::out_scale},
    };
    for (const Operand& op : operands) {
      for (int64_t delta : {-1, +1, +4}) {
        if (op.size + delta < 0) continue;
        OpInputs in = Valid(kind, 3, 5, 256);
        (in.*op.buffer).resize(op.size + delta);
        const std::string needle = std::string("operand ") + op.name + " has " +
                                   std::to_string(op.size + delta) + " bytes, expected " +
                                   std::to_string(op.size);
        ExpectInvalid(
            in.Args(), {OpKindName(kind), needle},
            std::string(OpKindName(kind)) + " " + op.name + " size delta " + std::to_string(delta));
        ++checked;
      }
    }
  }
  EXPECT_GE(checked, static_cast<int>(kNumOps) * 2 * 3);  // at least A and out of every op
}

TEST_F(ValidationTest, NonFiniteF32Scales) {
  for (uint32_t bad : kNonFiniteF32) {
    OpInputs in = Valid(OpKind::kMatMulS8F32);
    StoreU32(&in.a_scale[2 * 4], bad);
    ExpectInvalid(in.Args(), {"a_scale[2]", "not finite"}, "a_scale");
    in = Valid(OpKind::kMatMulS8F32);
    StoreU32(&in.w_scale[4 * 4], bad);
    ExpectInvalid(in.Args(), {"w_scale[4]", "not finite"}, "w_scale");
    for (const std::unique_ptr<Backend>& backend : backends_) {
      auto p = backend->PrepareWeights(OpKind::kMatMulS8F32, in.n, in.k, in.w, in.w_scale);
      EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << backend->Name();
    }
  }
}

TEST_F(ValidationTest, NonFiniteF16BlockScalesAndMins) {
  for (uint16_t bad : kNonFiniteF16) {
    for (OpKind kind : kQ8Kinds) {
      OpInputs in = Valid(kind);
      StoreU16(&in.a[(2 * 2 + 1) * kQ8_0BlockBytes], bad);  // A row 2 block 1
      ExpectInvalid(in.Args(), {"A row 2 block 1", "scale d is not finite"}, "A d");
      in = Valid(kind);
      const int64_t wb = kind == OpKind::kMatMulQ8_0Q8_0   ? kQ8_0BlockBytes
                         : kind == OpKind::kMatMulQ8_0Q4_0 ? kQ4_0BlockBytes
                                                           : kQ4_1BlockBytes;
      StoreU16(&in.w[(3 * 2 + 0) * wb], bad);  // W row 3 block 0
      ExpectInvalid(in.Args(), {"W row 3 block 0", "scale d is not finite"}, "W d");
      if (kind == OpKind::kMatMulQ8_0Q4_1) {
        in = Valid(kind);
        StoreU16(&in.w[(1 * 2 + 1) * wb + 2], bad);  // W row 1 block 1, m
        ExpectInvalid(in.Args(), {"W row 1 block 1", "min m is not finite"}, "Q4_1 m");
        for (const std::unique_ptr<Backend>& backend : backends_) {
          auto p = backend->PrepareWeights(kind, in.n, in.k, in.w, in.w_scale);
          EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << backend->Name();
        }
      }
    }
  }
}

// The K-quants' f16 scales (Q4_K: d at byte 0, dmin at 2; Q6_K: d at byte 208 of each
// 256-value super-block) must be finite; their integer scales, mins and quants have no
// invalid bit pattern (a Q6_K scale of -128 is valid). The Q8_0 activations follow §2.
TEST_F(ValidationTest, KQuantScalesAndActivations) {
  for (uint16_t bad : kNonFiniteF16) {
    for (OpKind kind : kKQuantKinds) {
      const bool q4 = kind == OpKind::kMatMulQ8_0Q4_K;
      const int64_t sb = q4 ? kQ4_KBlockBytes : kQ6_KBlockBytes;
      // K = 512: 2 super-blocks per W row, 16 Q8_0 blocks per A row.
      OpInputs in = Valid(kind, 3, 5, 512);
      StoreU16(&in.w[(3 * 2 + 1) * sb + (q4 ? 0 : 208)], bad);  // W row 3 super-block 1
      ExpectInvalid(in.Args(), {OpKindName(kind), "W row 3 block 1", "scale d is not finite"},
                    "K-quant d");
      for (const std::unique_ptr<Backend>& backend : backends_) {
        if (!backend->Supports(kind)) continue;
        auto p = backend->PrepareWeights(kind, in.n, in.k, in.w, in.w_scale);
        EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << backend->Name();
      }
      if (q4) {
        in = Valid(kind, 3, 5, 512);
        StoreU16(&in.w[(1 * 2 + 0) * sb + 2], bad);  // W row 1 super-block 0, dmin
        ExpectInvalid(in.Args(), {"W row 1 block 0", "min", "not finite"}, "Q4_K dmin");
      }
      in = Valid(kind, 3, 5, 512);
      StoreU16(&in.a[(2 * 16 + 9) * kQ8_0BlockBytes], bad);  // A row 2 block 9
      ExpectInvalid(in.Args(), {"A row 2 block 9", "scale d is not finite"}, "A d");
    }
  }
  for (OpKind kind : kKQuantKinds) {
    OpInputs in = Valid(kind, 3, 5, 512);
    in.a[(1 * 16 + 15) * kQ8_0BlockBytes + 2 + 31] = 0x80;  // A row 1, block 15, value 31
    ExpectInvalid(in.Args(), {"A row 1 block 15 value 31", "-128"},
                  std::string(OpKindName(kind)) + " -128 in A");
    // Every bit pattern of the integer fields is valid: all 0xFF / 0x80 bytes besides d.
    in = Valid(kind, 3, 5, 512);
    const bool q4 = kind == OpKind::kMatMulQ8_0Q4_K;
    const int64_t sb = q4 ? kQ4_KBlockBytes : kQ6_KBlockBytes;
    for (int64_t b = 0; b * sb < static_cast<int64_t>(in.w.size()); ++b) {
      for (int64_t j = q4 ? 4 : 0; j < (q4 ? sb : 208); ++j) in.w[b * sb + j] = b % 2 ? 0xFF : 0x80;
    }
    ExpectValid(in, std::string(OpKindName(kind)) + " extreme integer fields");
  }
}

TEST_F(ValidationTest, NonFiniteQuantizeInputs) {
  for (OpKind kind : {OpKind::kQuantizeS8Row, OpKind::kQuantizeQ8_0}) {
    for (uint32_t bad : kNonFiniteF32) {
      OpInputs in = Valid(kind);
      StoreU32(&in.a[(2 * 64 + 33) * 4], bad);  // X[2, 33]
      ExpectInvalid(in.Args(), {OpKindName(kind), "X[2, 33]", "not finite"}, "X");
    }
  }
}

// Q8_0's f16 scale d = round_f16(amax / 127) must be finite: amax / 127 < 65520 (the
// midpoint between 65504 and 2^16, which ties to 2^16 = inf) <=> amax < 8321040.
TEST_F(ValidationTest, Q8_0QuantizeInputRange) {
  const float kLimit = 8321040.0f;
  const float kBelow = std::nextafter(kLimit, 0.0f);  // 8321039.5
  ASSERT_EQ(kBelow, 8321039.5f);
  for (float bad : {kLimit, -kLimit, std::nextafter(kLimit, INFINITY), 1e30f,
                    std::numeric_limits<float>::max()}) {
    OpInputs in = Valid(OpKind::kQuantizeQ8_0);
    StoreU32(&in.a[(1 * 64 + 5) * 4], F32ToBits(bad));
    ExpectInvalid(in.Args(), {"X[1, 5]", "too large for Q8_0", "8321040"},
                  "x = " + std::to_string(bad));
  }
  for (float ok : {kBelow, -kBelow}) {
    OpInputs in = Valid(OpKind::kQuantizeQ8_0, 1, 0, 32);
    StoreU32(&in.a[0], F32ToBits(ok));
    ExpectValid(in, "x just below the limit");
    // The reference's d is the largest finite f16 (65504): finite, as promised.
    EXPECT_EQ(LoadU16(&in.out[0]), 0x7BFF);
    EXPECT_EQ(static_cast<int8_t>(in.out[2]), ok > 0 ? 127 : -127);
  }
  // The s8 row quantizer has no such limit: FLT_MAX / 127 is a finite f32.
  OpInputs in = Valid(OpKind::kQuantizeS8Row, 1, 0, 8);
  StoreU32(&in.a[0], F32ToBits(-std::numeric_limits<float>::max()));
  ExpectValid(in, "FLT_MAX into quantize_f32_s8_row");
}

TEST_F(ValidationTest, PreparedWeightsOfAnotherKindShapeOrBackend) {
  OpInputs in = Valid(OpKind::kMatMulS8S32);
  OpInputs f32 = Valid(OpKind::kMatMulS8F32);
  for (const std::unique_ptr<Backend>& backend : backends_) {
    SCOPED_TRACE(backend->Name());
    auto p = backend->PrepareWeights(OpKind::kMatMulS8S32, in.n, in.k, in.w, in.w_scale);
    ASSERT_TRUE(p.ok()) << p.status();
    // Another kind.
    OpArgs args = f32.Args();
    args.w_prepared = p->get();
    args.w = {};
    args.w_scale = {};
    EXPECT_EQ(RunOp(*backend, args).code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(RunOp(*backend, args).message().find("prepared weights are matmul_s8_s32"),
              std::string::npos)
        << RunOp(*backend, args);
    // Another shape (N + 1, then K + 1).
    for (int which = 0; which < 2; ++which) {
      OpInputs other = Valid(OpKind::kMatMulS8S32, 3, which == 0 ? 6 : 5, which == 0 ? 64 : 65);
      args = other.Args();
      args.w_prepared = p->get();
      args.w = {};
      const absl::Status st = RunOp(*backend, args);
      EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
      EXPECT_NE(st.message().find("the call needs"), std::string::npos) << st;
    }
    // Another backend instance (of the same and of every other kind).
    for (const std::string& name : CompiledBackends()) {
      absl::StatusOr<std::unique_ptr<Backend>> other = CreateBackend(name);
      if (!other.ok()) continue;
      args = in.Args();
      args.w_prepared = p->get();
      args.w = {};
      const absl::Status st = RunOp(**other, args);
      EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << name << ": " << st;
      EXPECT_NE(st.message().find("another backend"), std::string::npos) << st;
    }
  }
}

TEST_F(ValidationTest, QuantizeTakesNoWeights) {
  for (const std::unique_ptr<Backend>& backend : backends_) {
    for (OpKind kind : {OpKind::kQuantizeS8Row, OpKind::kQuantizeQ8_0}) {
      auto p = backend->PrepareWeights(kind, 0, 64, {}, {});
      EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument)
          << backend->Name() << " " << OpKindName(kind) << ": " << p.status();
      EXPECT_NE(p.status().message().find("takes no weights"), std::string::npos) << p.status();
    }
  }
}

TEST_F(ValidationTest, UnknownOpKind) {
  for (int raw : {0, static_cast<int>(kNumOps) + 1, 99, 255}) {
    OpInputs in = Valid(OpKind::kMatMulS8S32);
    OpArgs args = in.Args();
    args.kind = static_cast<OpKind>(raw);
    ExpectInvalid(args, {"unknown op kind", std::to_string(raw)}, "kind " + std::to_string(raw));
  }
}

TEST(OpKindNames, RoundTripAndUnknown) {
  std::vector<std::string> seen;
  for (OpKind kind : kAllOpKinds) {
    const std::string name = OpKindName(kind);
    EXPECT_EQ(std::find(seen.begin(), seen.end(), name), seen.end()) << "duplicate " << name;
    seen.push_back(name);
    absl::StatusOr<OpKind> back = OpKindFromName(name);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, kind) << name;
    EXPECT_NE(IsMatMul(kind), IsQuantize(kind)) << name;
  }
  EXPECT_EQ(std::string(OpKindName(static_cast<OpKind>(99))), "unknown_op");
  for (const char* bad : {"", "MATMUL_S8_S32", "matmul", "unknown_op", "matmul_s8_s32 "}) {
    absl::StatusOr<OpKind> k = OpKindFromName(bad);
    EXPECT_EQ(k.status().code(), absl::StatusCode::kNotFound) << "\"" << bad << "\"";
  }
  EXPECT_NE(OpKindFromName("bogus_op").status().message().find("bogus_op"), std::string::npos);
}

TEST(Registry, UnknownBackendListsTheCompiledOnes) {
  absl::StatusOr<std::unique_ptr<Backend>> b = CreateBackend("nope");
  ASSERT_EQ(b.status().code(), absl::StatusCode::kNotFound) << b.status();
  EXPECT_NE(b.status().message().find("nope"), std::string::npos) << b.status();
  const std::vector<std::string> compiled = CompiledBackends();
  ASSERT_FALSE(compiled.empty());
  EXPECT_EQ(compiled.front(), "reference");
  for (const std::string& name : compiled) {
    EXPECT_NE(b.status().message().find(name), std::string::npos)
        << b.status() << " does not list " << name;
  }
}

TEST(Registry, CpuRejectsNegativeThreadCount) {
  if (!testing::CpuCompiledIn()) GTEST_SKIP() << "the cpu backend is not compiled in";
  BackendOptions options;
  options.num_threads = -1;
  absl::StatusOr<std::unique_ptr<Backend>> b = CreateBackend("cpu", options);
  EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument) << b.status();
  EXPECT_NE(b.status().message().find("num_threads"), std::string::npos) << b.status();
}

}  // namespace
}  // namespace datanode::ops
