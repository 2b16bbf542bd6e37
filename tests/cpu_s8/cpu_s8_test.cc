// Copyright 2026 The datanode Authors.
//
// Edge cases of the CPU backend's s8 GEMM kernels (ops/cpu/matmul_s8.cc and
// s8_kernel_*.cc), compared BYTE FOR BYTE with the reference backend, for every
// kernel family this machine has (DATANODE_CPU_ISA caps the family at backend
// creation), on 1, 2, 3 and 5 threads, with raw and with prepared weights.
//
// The shapes are chosen to hit each edge of the tiling: M around the A panel heights
// (4 and 6 rows), the decode/GEMM switch (3 panels) and the task height (96 rows);
// N around the 64-column W panel and the 256-column task width; K = 1, K not a
// multiple of 4 (zero padding of a k-group), and around the 512-deep k-block. One
// case runs K = kMaxK = 131071 with all operands at +-127, the largest sums the spec
// allows (127^2 * 131071 = 2114044159, just under 2^31; the VNNI kernel's biased sum
// 255 * 127 * 131071 wraps int32 and must still come out exact).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "datanode/ops/backend.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/types.h"
#include "tests/ops/test_util.h"

namespace datanode::ops {
namespace {

// The CPU backend with kernels capped at `isa` (read once, at creation).
std::unique_ptr<Backend> CreateCpu(const char* isa, int threads) {
  auto backend = testing::CreateCpuWithIsa(isa, threads);
  EXPECT_TRUE(backend.ok()) << backend.status();
  return backend.ok() ? std::move(*backend) : nullptr;
}

struct Shape {
  int64_t m, n, k;
};

std::string Describe(OpKind kind, const Shape& s, uint64_t seed, const char* profile,
                     const char* isa, int threads, bool prepared) {
  std::ostringstream os;
  os << OpKindName(kind) << " M=" << s.m << " N=" << s.n << " K=" << s.k << " seed=" << seed
     << " profile=" << profile << " isa=" << isa << " threads=" << threads
     << (prepared ? " weights=prepared" : " weights=raw");
  return os.str();
}

// "" if equal, else the first differing output element.
std::string FirstDifference(const std::vector<uint8_t>& want, const std::vector<uint8_t>& got,
                            int64_t n) {
  if (want.size() != got.size()) return "output sizes differ";
  for (size_t i = 0; i < want.size(); i += 4) {
    if (std::memcmp(&want[i], &got[i], 4) != 0) {
      uint32_t w, g;
      std::memcpy(&w, &want[i], 4);
      std::memcpy(&g, &got[i], 4);
      std::ostringstream os;
      os << "first difference at C[" << (i / 4) / n << ", " << (i / 4) % n << "]: want 0x"
         << std::hex << w << ", got 0x" << g;
      return os.str();
    }
  }
  return "";
}

class CpuS8Test : public ::testing::Test {
 protected:
  void SetUp() override {
    bool has_cpu = false;
    for (const std::string& name : CompiledBackends()) has_cpu |= name == "cpu";
    if (!has_cpu) GTEST_SKIP() << "the cpu backend is not compiled in";
    auto ref = CreateBackend("reference");
    ASSERT_TRUE(ref.ok()) << ref.status();
    reference_ = std::move(*ref);
  }

  // Runs `in` on the reference, then on every available Isa x thread count, raw and
  // prepared, and expects the same bytes.
  void ExpectAllEqual(OpInputs& in, uint64_t seed, const char* profile,
                      std::vector<int> thread_counts = {1, 2, 3, 5}) {
    const Shape shape{in.m, in.n, in.k};
    OpArgs args = in.Args();
    std::vector<uint8_t> want(args.out.size());
    args.out = want;
    ASSERT_TRUE(RunOp(*reference_, args).ok());
    for (const char* isa_name : testing::kCpuIsas) {
      std::string why;
      if (!testing::MachineHasIsa(isa_name, &why)) continue;
      for (int threads : thread_counts) {
        std::unique_ptr<Backend> cpu = CreateCpu(isa_name, threads);
        ASSERT_NE(cpu, nullptr);
        for (bool prepared : {false, true}) {
          std::unique_ptr<PreparedWeights> pw;
          OpArgs run = in.Args();
          std::vector<uint8_t> got(want.size(), 0xA5);  // garbage: every byte must be written
          run.out = got;
          if (prepared) {
            auto p = cpu->PrepareWeights(in.kind, in.n, in.k, in.w, in.w_scale);
            ASSERT_TRUE(p.ok()) << p.status();
            pw = std::move(*p);
            run.w = {};
            run.w_scale = {};
            run.w_prepared = pw.get();
          }
          const absl::Status status = RunOp(*cpu, run);
          const std::string what =
              Describe(in.kind, shape, seed, profile, isa_name, threads, prepared);
          ASSERT_TRUE(status.ok()) << what << ": " << status;
          const std::string diff = FirstDifference(want, got, in.n);
          ASSERT_TRUE(diff.empty()) << what << ": " << diff;
        }
      }
    }
  }

  std::unique_ptr<Backend> reference_;
};

OpInputs Random(OpKind kind, const Shape& s, uint64_t seed, InputProfile profile) {
  auto in = MakeRandomInputs(kind, s.m, s.n, s.k, seed, profile);
  EXPECT_TRUE(in.ok()) << in.status();
  return std::move(*in);
}

// Every tiling edge, s32 and f32, random full-range values.
TEST_F(CpuS8Test, TilingEdgesMatchReference) {
  const Shape shapes[] = {
      {1, 1, 1},    {1, 64, 4},     {1, 65, 5},    {3, 63, 3},     {4, 64, 8},
      {5, 1, 7},    {6, 65, 513},   {7, 127, 511}, {12, 129, 2},   {13, 2, 512},
      {17, 191, 9}, {18, 64, 1025}, {19, 66, 515}, {24, 255, 33},  {25, 257, 517},
      {95, 70, 13}, {96, 256, 64},  {97, 321, 6},  {101, 3, 1029}, {2, 300, 2051},
  };
  uint64_t seed = 100;
  for (const Shape& s : shapes) {
    for (OpKind kind : {OpKind::kMatMulS8S32, OpKind::kMatMulS8F32}) {
      OpInputs in = Random(kind, s, ++seed, InputProfile::kWide);
      ExpectAllEqual(in, seed, "wide", {1, 3});
      if (HasFatalFailure()) return;
    }
  }
}

// Extreme values (+-127, scales at the f32 range edges: overflow to inf, subnormal
// results, underflow to signed zero) through the f32 epilogue and the s32 store.
TEST_F(CpuS8Test, ExtremeValuesMatchReference) {
  const Shape shapes[] = {{7, 67, 515}, {20, 130, 77}, {1, 64, 1024}, {13, 1, 3}};
  uint64_t seed = 300;
  for (const Shape& s : shapes) {
    for (OpKind kind : {OpKind::kMatMulS8S32, OpKind::kMatMulS8F32}) {
      OpInputs in = Random(kind, s, ++seed, InputProfile::kExtreme);
      ExpectAllEqual(in, seed, "extreme");
      if (HasFatalFailure()) return;
    }
  }
}

// K = kMaxK with every operand at +-127: the largest |C| the spec allows, and for
// VNNI a biased accumulator that wraps int32.
TEST_F(CpuS8Test, MaxKAllExtremesMatchReference) {
  const Shape s{3, 65, kMaxK};
  OpInputs in = Random(OpKind::kMatMulS8S32, s, 7, InputProfile::kWide);
  for (int64_t i = 0; i < s.m * s.k; ++i) {
    // Row 0: all +127 (maximum positive C with W row +127); row 1: all -127;
    // row 2: alternating signs.
    const int row = static_cast<int>(i / s.k);
    const int v = row == 0 ? 127 : row == 1 ? -127 : ((i % 2) != 0 ? 127 : -127);
    in.a[i] = static_cast<uint8_t>(static_cast<int8_t>(v));
  }
  for (int64_t i = 0; i < s.n * s.k; ++i) {
    const int col = static_cast<int>(i / s.k);
    const int v = col % 3 == 0 ? 127 : col % 3 == 1 ? -127 : ((i % 2) != 0 ? 127 : -127);
    in.w[i] = static_cast<uint8_t>(static_cast<int8_t>(v));
  }
  ExpectAllEqual(in, 7, "all+-127", {1, 2});
  if (HasFatalFailure()) return;
  // The test really reaches the extreme: C[0, 0] = 127 * 127 * 131071.
  OpArgs args = in.Args();
  ASSERT_TRUE(RunOp(*reference_, args).ok());
  int32_t c00;
  std::memcpy(&c00, in.out.data(), 4);
  EXPECT_EQ(c00, 127 * 127 * 131071);
}

// A row computed alone equals the same row computed in a batch (M = 1 takes the
// decode plan, M = 40 the blocked one).
TEST_F(CpuS8Test, RowAloneEqualsRowInBatch) {
  const Shape s{40, 200, 700};
  OpInputs batch = Random(OpKind::kMatMulS8F32, s, 11, InputProfile::kRealistic);
  std::unique_ptr<Backend> cpu = CreateCpu("avx512vnni", 2);
  ASSERT_NE(cpu, nullptr);
  ASSERT_TRUE(RunOp(*cpu, batch.Args()).ok());
  for (int64_t row : {0, 5, 6, 39}) {
    OpInputs one = Random(OpKind::kMatMulS8F32, {1, s.n, s.k}, 12, InputProfile::kRealistic);
    std::memcpy(one.a.data(), batch.a.data() + row * s.k, s.k);
    std::memcpy(one.a_scale.data(), batch.a_scale.data() + row * 4, 4);
    one.w = batch.w;
    one.w_scale = batch.w_scale;
    ASSERT_TRUE(RunOp(*cpu, one.Args()).ok());
    EXPECT_EQ(0, std::memcmp(one.out.data(), batch.out.data() + row * s.n * 4, s.n * 4))
        << "row " << row;
  }
}

TEST_F(CpuS8Test, PrepareRejectsInvalidWeights) {
  std::unique_ptr<Backend> cpu = CreateCpu("avx512vnni", 1);
  ASSERT_NE(cpu, nullptr);
  std::vector<uint8_t> w(4 * 8, 1);
  w[13] = 0x80;  // -128 is outside the symmetric int8 range
  auto p = cpu->PrepareWeights(OpKind::kMatMulS8S32, 4, 8, w, {});
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(p.status().message()).find("-128"), std::string::npos) << p.status();
  w[13] = 1;
  auto wrong_size = cpu->PrepareWeights(OpKind::kMatMulS8S32, 4, 9, w, {});
  EXPECT_EQ(wrong_size.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(CpuS8Test, RejectsWeightsPreparedByAnotherBackend) {
  std::unique_ptr<Backend> one = CreateCpu("avx512vnni", 1);
  std::unique_ptr<Backend> two = CreateCpu("avx512vnni", 1);
  ASSERT_NE(one, nullptr);
  ASSERT_NE(two, nullptr);
  OpInputs in = Random(OpKind::kMatMulS8S32, {2, 3, 5}, 1, InputProfile::kWide);
  auto p = one->PrepareWeights(in.kind, in.n, in.k, in.w, {});
  ASSERT_TRUE(p.ok()) << p.status();
  OpArgs args = in.Args();
  args.w = {};
  args.w_prepared = p->get();
  EXPECT_TRUE(RunOp(*one, args).ok());
  EXPECT_EQ(RunOp(*two, args).code(), absl::StatusCode::kInvalidArgument);
  // Run() itself (not only RunOp) refuses foreign prepared weights.
  EXPECT_EQ(two->Run(args).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace datanode::ops
