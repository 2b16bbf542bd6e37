// Copyright 2026 The datanode Authors.
//
// The Vulkan backend's LLM kernels (Backend::LlmKernels: Add, SiluMul, RmsNorm, RoPE,
// EncodeKvRow, Attend as shaders) against the reference functions of llm.h, byte for byte: >= 1000
// random rows per op whose values mix every f32 class (subnormals, +-0, values near FLT_MAX, exact
// ties, realistic activations), rows up to the 2^15 RmsNorm limit, in-place calls, and the
// reference's exact status for invalid input. Skipped only when the loader reports no Vulkan
// device.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/llm.h"
#include "datanode/ops/llm_kernels.h"
#include "datanode/ops/random_inputs.h"
#include "ops/vulkan/vulkan_backend.h"

namespace datanode::ops {
namespace {

constexpr int kCasesPerOp = 1000;

float FromBits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

uint32_t Bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

// One finite f32 drawn from a mix of classes, `style` picking the row's mix.
float RandomValue(SplitMix64& rng, int style) {
  const uint32_t sign = (rng.Next() & 1) << 31;
  const int pick = static_cast<int>(rng.Next() % 16);
  if (style == 0 || pick < 6) {  // realistic activations: |x| ~ 2^-12 .. 2^6
    const uint32_t exp = 115 + static_cast<uint32_t>(rng.Uniform(0, 18));
    return FromBits(sign | (exp << 23) | static_cast<uint32_t>(rng.Next() & 0x7FFFFF));
  }
  switch (pick) {
    case 6:
      return FromBits(sign);  // +-0
    case 7:
      return FromBits(sign | static_cast<uint32_t>(rng.Uniform(1, 0x7FFFFF)));  // subnormal
    case 8:
      return FromBits(sign | (254u << 23) | static_cast<uint32_t>(rng.Next() & 0x7FFFFF));
    case 9:
      return FromBits(sign | (static_cast<uint32_t>(rng.Uniform(1, 8)) << 23) |
                      static_cast<uint32_t>(rng.Next() & 0x7FFFFF));  // tiny normals
    case 10:
      return static_cast<float>(rng.Uniform(-40, 40));  // small integers, exact ties
    case 11:
      return FromBits(sign | (static_cast<uint32_t>(rng.Uniform(120, 135)) << 23));  // powers of 2
    default:  // any finite bits
      return FromBits(sign | (static_cast<uint32_t>(rng.Uniform(0, 254)) << 23) |
                      static_cast<uint32_t>(rng.Next() & 0x7FFFFF));
  }
}

std::vector<float> RandomRow(SplitMix64& rng, size_t n, int style) {
  std::vector<float> v(n);
  for (float& f : v) f = RandomValue(rng, style);
  return v;
}

// Bitwise (NaN-proof, -0-aware) equality.
bool SameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

std::string FirstDiff(const std::vector<float>& a, const std::vector<float>& b,
                      const std::vector<float>& in0, const std::vector<float>& in1) {
  for (size_t i = 0; i < a.size(); ++i) {
    if (Bits(a[i]) != Bits(b[i])) {
      return absl::StrCat("element ", i, ": vulkan 0x", absl::Hex(Bits(a[i])), " reference 0x",
                          absl::Hex(Bits(b[i])), " inputs 0x", absl::Hex(Bits(in0[i])), " 0x",
                          absl::Hex(Bits(in1[i])));
    }
  }
  return "sizes differ";
}

class VulkanLlmTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto devices = vulkan::ListVulkanDevices();
    if (!devices.ok() || devices->empty()) return;
    auto backend = vulkan::CreateVulkanBackend({});
    if (backend.ok()) backend_ = backend->release();
  }
  static void TearDownTestSuite() {
    delete backend_;
    backend_ = nullptr;
  }
  void SetUp() override {
    auto devices = vulkan::ListVulkanDevices();
    if (!devices.ok() || devices->empty()) GTEST_SKIP() << "no Vulkan device at all";
    ASSERT_NE(backend_, nullptr) << "a Vulkan device exists but the backend failed";
  }
  static const llm::Kernels& k() { return backend_->LlmKernels(); }
  static Backend* backend_;
};

Backend* VulkanLlmTest::backend_ = nullptr;

size_t RandomLength(SplitMix64& rng, int i) {
  if (i % 50 == 0) return static_cast<size_t>(rng.Uniform(1, 4));
  if (i % 97 == 1) return static_cast<size_t>(rng.Uniform(2000, 9000));
  return static_cast<size_t>(rng.Uniform(1, 700));
}

TEST_F(VulkanLlmTest, KernelNameIsVulkan) { EXPECT_STREQ(k().Name(), "vulkan"); }

TEST_F(VulkanLlmTest, AddByteEqualToReference) {
  SplitMix64 rng(0xadd0001);
  int mismatches = 0;
  for (int i = 0; i < kCasesPerOp && mismatches < 3; ++i) {
    const size_t n = RandomLength(rng, i);
    const std::vector<float> x = RandomRow(rng, n, i % 3);
    std::vector<float> y = RandomRow(rng, n, (i / 3) % 3);
    if (i % 7 == 0) {  // cancellation and exact ties: y near -x
      for (size_t j = 0; j < n; ++j) {
        if (rng.Next() % 2) y[j] = FromBits(Bits(-x[j]) ^ static_cast<uint32_t>(rng.Next() % 4));
      }
    }
    std::vector<float> want(n), got(n);
    ASSERT_TRUE(llm::Add(x, y, want).ok());
    const absl::Status st = k().Add(x, y, got);
    ASSERT_TRUE(st.ok()) << "case " << i << ": " << st;
    if (!SameBits(got, want)) {
      ++mismatches;
      ADD_FAILURE() << "Add case " << i << " n=" << n << ": " << FirstDiff(got, want, x, y);
    }
  }
}

TEST_F(VulkanLlmTest, SiluMulByteEqualToReference) {
  SplitMix64 rng(0x5170001);
  int mismatches = 0;
  for (int i = 0; i < kCasesPerOp && mismatches < 3; ++i) {
    const size_t n = RandomLength(rng, i);
    const std::vector<float> gate = RandomRow(rng, n, i % 3);
    const std::vector<float> up = RandomRow(rng, n, (i / 3) % 3);
    std::vector<float> want(n), got(n);
    ASSERT_TRUE(llm::SiluMul(gate, up, want).ok());
    const absl::Status st = k().SiluMul(gate, up, got);
    ASSERT_TRUE(st.ok()) << "case " << i << ": " << st;
    if (!SameBits(got, want)) {
      ++mismatches;
      ADD_FAILURE() << "SiluMul case " << i << " n=" << n << ": " << FirstDiff(got, want, gate, up);
    }
  }
}

TEST_F(VulkanLlmTest, RmsNormByteEqualToReference) {
  SplitMix64 rng(0x4a5001);
  int mismatches = 0;
  const float eps_choices[] = {1e-5f, 1e-6f, 1.0f, FromBits(1), 3.0e38f, 1e-30f};
  for (int i = 0; i < kCasesPerOp + 4 && mismatches < 3; ++i) {
    size_t n = RandomLength(rng, i);
    if (i >= kCasesPerOp) n = i % 2 ? 32768 : 32767;  // the length limit
    const std::vector<float> x = RandomRow(rng, n, i % 3);
    const std::vector<float> gain = RandomRow(rng, n, (i / 3) % 3);
    const float eps = i % 4 == 0 ? eps_choices[rng.Next() % 6] : 1e-5f;
    std::vector<float> want(n), got(n);
    ASSERT_TRUE(llm::RmsNorm(x, gain, eps, want).ok());
    const absl::Status st = k().RmsNorm(x, gain, eps, got);
    ASSERT_TRUE(st.ok()) << "case " << i << ": " << st;
    if (!SameBits(got, want)) {
      ++mismatches;
      ADD_FAILURE() << "RmsNorm case " << i << " n=" << n << " eps=" << eps << ": "
                    << FirstDiff(got, want, x, gain);
    }
  }
  // All-zero rows (the mean is eps alone) and one huge value among tiny ones.
  for (int c = 0; c < 2; ++c) {
    std::vector<float> x(300, 0.0f), gain(300, 1.0f);
    if (c == 1) {
      for (size_t j = 0; j < x.size(); ++j) x[j] = FromBits(static_cast<uint32_t>(j + 1));
      x[17] = 3.0e38f;
    }
    std::vector<float> want(x.size()), got(x.size());
    ASSERT_TRUE(llm::RmsNorm(x, gain, 1e-6f, want).ok());
    ASSERT_TRUE(k().RmsNorm(x, gain, 1e-6f, got).ok());
    EXPECT_TRUE(SameBits(got, want))
        << "special row " << c << ": " << FirstDiff(got, want, x, gain);
  }
}

// Attend: random shapes (grouped-query 1..3, head_dim 32..128 and 512), 1..80 positions
// (some up to 700), q with every f32 class (f16 saturation, subnormals), caches either
// encoded from random rows or raw finite f16 bits (+-65504, subnormals, +-0).
TEST_F(VulkanLlmTest, AttendByteEqualToReference) {
  SplitMix64 rng(0xa77e0d);
  int mismatches = 0;
  constexpr int kAttendCases = 1000;
  for (int i = 0; i < kAttendCases && mismatches < 3; ++i) {
    llm::AttentionShape shape;
    shape.n_kv_heads = static_cast<int>(rng.Uniform(1, 3));
    shape.n_heads = shape.n_kv_heads * static_cast<int>(rng.Uniform(1, 3));
    shape.head_dim = i % 100 == 7 ? 512 : 32 * static_cast<int>(rng.Uniform(1, 4));
    const int64_t np = i % 50 == 3 ? rng.Uniform(300, 700) : rng.Uniform(1, 80);
    const int64_t row_values = int64_t{shape.n_kv_heads} * shape.head_dim;
    const int style = i % 3;
    std::vector<float> q =
        RandomRow(rng, static_cast<size_t>(shape.n_heads) * shape.head_dim, style);
    std::vector<uint8_t> kc(np * row_values * 2), vc(np * row_values * 2);
    for (int64_t p = 0; p < np; ++p) {
      for (std::vector<uint8_t>* cache : {&kc, &vc}) {
        std::span<uint8_t> row(cache->data() + p * row_values * 2, row_values * 2);
        if (i % 4 == 1) {  // raw finite f16 bits
          for (int64_t j = 0; j < row_values; ++j) {
            uint16_t bits = static_cast<uint16_t>(rng.Next());
            if (((bits >> 10) & 0x1F) == 0x1F) bits ^= 0x4000;
            row[2 * j] = static_cast<uint8_t>(bits);
            row[2 * j + 1] = static_cast<uint8_t>(bits >> 8);
          }
        } else {
          const std::vector<float> r = RandomRow(rng, row_values, style == 2 ? 0 : style);
          ASSERT_TRUE(llm::EncodeKvRow(shape, r, row).ok());
        }
      }
    }
    const size_t n_out = q.size();
    std::vector<float> want(n_out), got(n_out);
    ASSERT_TRUE(llm::Attend(shape, q, kc, vc, np, want).ok());
    const absl::Status st = k().Attend(shape, q, kc, vc, np, got);
    ASSERT_TRUE(st.ok()) << "case " << i << ": " << st;
    if (!SameBits(got, want)) {
      ++mismatches;
      ADD_FAILURE() << "Attend case " << i << " heads " << shape.n_heads << "/" << shape.n_kv_heads
                    << " head_dim " << shape.head_dim << " positions " << np << ": "
                    << FirstDiff(got, want, q, q);
    }
  }
}

// Informational: per-call time of each device op at SmolLM2-135M decode shapes (a row of
// 576 / 1536, 9 query heads over 3 KV heads of 64, 48 positions) vs the host reference.
TEST_F(VulkanLlmTest, DecodeShapeTiming) {
  SplitMix64 rng(5);
  const std::vector<float> x = RandomRow(rng, 1536, 0), y = RandomRow(rng, 1536, 0);
  const std::vector<float> x576(x.begin(), x.begin() + 576), y576(y.begin(), y.begin() + 576);
  std::vector<float> out(1536), out576(576), att_out(9 * 64);
  const llm::AttentionShape shape{9, 3, 64};
  const int64_t np = 48;
  const std::vector<float> q = RandomRow(rng, 9 * 64, 0);
  std::vector<uint8_t> kc(np * 3 * 64 * 2), vc(kc.size());
  for (int64_t p = 0; p < np; ++p) {
    const std::vector<float> r = RandomRow(rng, 2 * 3 * 64, 0);
    ASSERT_TRUE(
        llm::EncodeKvRow(shape, std::span(r).first(192), std::span(kc).subspan(p * 384, 384)).ok());
    ASSERT_TRUE(
        llm::EncodeKvRow(shape, std::span(r).last(192), std::span(vc).subspan(p * 384, 384)).ok());
  }
  auto time_ms = [](auto&& fn) {
    EXPECT_TRUE(fn().ok());
    const auto t0 = std::chrono::steady_clock::now();
    constexpr int kReps = 20;
    for (int i = 0; i < kReps; ++i) EXPECT_TRUE(fn().ok());
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
               .count() /
           kReps;
  };
  auto rope = llm::RopeTable::Create(100000.0f, 64, 64);
  ASSERT_TRUE(rope.ok());
  std::vector<float> rope_row(q.begin(), q.end());
  const llm::Kernels& ref = llm::ReferenceKernels();
  for (const llm::Kernels* kern : {&k(), &ref}) {
    const double add = time_ms([&] { return kern->Add(x576, y576, out576); });
    const double silu = time_ms([&] { return kern->SiluMul(x, y, out); });
    const double rms = time_ms([&] { return kern->RmsNorm(x576, y576, 1e-5f, out576); });
    const double att = time_ms([&] { return kern->Attend(shape, q, kc, vc, np, att_out); });
    const double rot = time_ms([&] { return kern->RopeApply(*rope, 47, 9, 64, rope_row); });
    std::vector<uint8_t> kv(3 * 64 * 2);
    const double enc =
        time_ms([&] { return kern->EncodeKvRow(shape, std::span(rope_row).first(3 * 64), kv); });
    std::printf(
        "[ info     ] %s: Add(576) %.3f ms, SiluMul(1536) %.3f ms, RmsNorm(576) %.3f ms, "
        "Attend(9/3 x 64, 48 positions) %.3f ms, RoPE(9 x 64) %.3f ms, EncodeKvRow(3 x 64) "
        "%.3f ms\n",
        kern->Name(), add, silu, rms, att, rot, enc);
  }
}

// out may alias an input (the engine updates the residual in place).
TEST_F(VulkanLlmTest, InPlaceCalls) {
  SplitMix64 rng(77);
  std::vector<float> x = RandomRow(rng, 576, 0);
  const std::vector<float> y = RandomRow(rng, 576, 0);
  std::vector<float> want(576);
  ASSERT_TRUE(llm::Add(x, y, want).ok());
  ASSERT_TRUE(k().Add(x, y, x).ok());
  EXPECT_TRUE(SameBits(x, want));
  std::vector<float> g = RandomRow(rng, 576, 0);
  ASSERT_TRUE(llm::SiluMul(g, y, want).ok());
  ASSERT_TRUE(k().SiluMul(g, y, g).ok());
  EXPECT_TRUE(SameBits(g, want));
  std::vector<float> r = RandomRow(rng, 576, 0);
  ASSERT_TRUE(llm::RmsNorm(r, y, 1e-5f, want).ok());
  ASSERT_TRUE(k().RmsNorm(r, y, 1e-5f, r).ok());
  EXPECT_TRUE(SameBits(r, want));
}

// RoPE (RopeApply) against RopeTable::Apply: tables of several bases and rope_dims
// (partial rotation when rope_dim < head_dim), every position class (0, the last, random),
// rows mixing every f32 class; plus the spec's §8.9 example.
TEST_F(VulkanLlmTest, RopeByteEqualToReference) {
  struct TableSpec {
    float base;
    int rope_dim;
    int64_t max_positions;
  };
  const TableSpec specs[] = {{10000.0f, 64, 2048}, {100000.0f, 64, 512}, {500000.0f, 128, 300},
                             {2.0f, 2, 40},        {1.0e6f, 32, 100},    {10000.0f, 4, 101}};
  SplitMix64 rng(0x20be0001);
  int cases = 0;
  int mismatches = 0;
  for (const TableSpec& t : specs) {
    auto table = llm::RopeTable::Create(t.base, t.rope_dim, t.max_positions);
    ASSERT_TRUE(table.ok()) << table.status();
    for (int i = 0; i < 100 && mismatches < 3; ++i) {
      const int64_t pos = i == 0   ? 0
                          : i == 1 ? t.max_positions - 1
                                   : rng.Uniform(0, t.max_positions - 1);
      const int head_dim =
          t.rope_dim + 2 * static_cast<int>(rng.Next() % 3 == 0 ? rng.Uniform(1, 40) : 0);
      const int n_heads = static_cast<int>(rng.Uniform(1, 12));
      const std::vector<float> x = RandomRow(rng, static_cast<size_t>(n_heads) * head_dim, i % 3);
      std::vector<float> want = x, got = x;
      ASSERT_TRUE(table->Apply(pos, n_heads, head_dim, want).ok());
      const absl::Status st = k().RopeApply(*table, pos, n_heads, head_dim, got);
      ASSERT_TRUE(st.ok()) << st;
      ++cases;
      if (!SameBits(got, want)) {
        ++mismatches;
        ADD_FAILURE() << "RoPE base " << t.base << " rope_dim " << t.rope_dim << " pos " << pos
                      << " heads " << n_heads << " head_dim " << head_dim << ": "
                      << FirstDiff(got, want, x, x);
      }
    }
  }
  std::printf("[ info     ] RoPE: %d rows byte-equal checked\n", cases);
  // §8.9's example: base 10000, rope_dim 4, p = 100; pair 0 = (1, 0), pair 1 = (1, 2).
  auto table = llm::RopeTable::Create(10000.0f, 4, 101);
  ASSERT_TRUE(table.ok());
  std::vector<float> x = {1.0f, 0.0f, 1.0f, 2.0f};
  ASSERT_TRUE(k().RopeApply(*table, 100, 1, 4, x).ok());
  EXPECT_EQ(Bits(x[0]), 0x3F5CC0EEu);
  EXPECT_EQ(Bits(x[1]), 0xBF01A12Eu);
  EXPECT_EQ(Bits(x[2]), 0xBF924204u);
  EXPECT_EQ(Bits(x[3]), 0x3FF60693u);
}

// EncodeKvRow against llm::EncodeKvRow: rows mixing every f32 class (values beyond the
// f16 range saturate to +-65504, f16 subnormals, values that round to zero, exact ties).
TEST_F(VulkanLlmTest, EncodeKvRowByteEqualToReference) {
  SplitMix64 rng(0xe4c0de01);
  int mismatches = 0;
  for (int i = 0; i < 500 && mismatches < 3; ++i) {
    const int n_kv = static_cast<int>(rng.Uniform(1, 8));
    const llm::AttentionShape shape{n_kv * static_cast<int>(rng.Uniform(1, 3)), n_kv,
                                    32 * static_cast<int>(rng.Uniform(1, 8))};
    const size_t n = static_cast<size_t>(shape.n_kv_heads) * shape.head_dim;
    std::vector<float> row = RandomRow(rng, n, i % 3);
    if (i % 5 == 0) {  // around the f16 limits: 65504, 65520 (ties to inf), 2^-24, 2^-25
      const float edges[] = {65504.0f,      65519.99f,     65520.0f,      1e9f,
                             5.9604645e-8f, 2.9802322e-8f, 2.9802326e-8f, 6.1035156e-5f};
      for (float& v : row) {
        if (rng.Next() % 2) v = edges[rng.Next() % 8] * (rng.Next() % 2 ? 1.0f : -1.0f);
      }
    }
    std::vector<uint8_t> want(2 * n), got(2 * n, 0xAA);
    ASSERT_TRUE(llm::EncodeKvRow(shape, row, want).ok());
    const absl::Status st = k().EncodeKvRow(shape, row, got);
    ASSERT_TRUE(st.ok()) << "case " << i << ": " << st;
    if (got != want) {
      ++mismatches;
      size_t j = 0;
      while (got[j] == want[j]) ++j;
      ADD_FAILURE() << "EncodeKvRow case " << i << " n=" << n << ": value " << j / 2 << " input 0x"
                    << absl::StrCat(absl::Hex(Bits(row[j / 2])));
    }
  }
}

// Invalid input: exactly the reference's status (code and message).
TEST_F(VulkanLlmTest, InvalidInputGivesTheReferenceStatus) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> a = {1.0f, 2.0f, inf}, b = {1.0f, nan, 3.0f}, ok3 = {1, 2, 3};
  std::vector<float> out3(3), out2(2), empty;
  auto same = [](const absl::Status& got, const absl::Status& want) {
    EXPECT_FALSE(want.ok());
    EXPECT_EQ(got.code(), want.code());
    EXPECT_EQ(got.message(), want.message());
  };
  same(k().Add(a, ok3, out3), llm::Add(a, ok3, out3));
  same(k().Add(ok3, b, out3), llm::Add(ok3, b, out3));
  same(k().Add(ok3, ok3, out2), llm::Add(ok3, ok3, out2));
  same(k().SiluMul(a, ok3, out3), llm::SiluMul(a, ok3, out3));
  same(k().SiluMul(ok3, ok3, out2), llm::SiluMul(ok3, ok3, out2));
  same(k().RmsNorm(ok3, b, 1e-5f, out3), llm::RmsNorm(ok3, b, 1e-5f, out3));
  same(k().RmsNorm(ok3, ok3, 0.0f, out3), llm::RmsNorm(ok3, ok3, 0.0f, out3));
  same(k().RmsNorm(ok3, ok3, -1.0f, out3), llm::RmsNorm(ok3, ok3, -1.0f, out3));
  same(k().RmsNorm(ok3, ok3, nan, out3), llm::RmsNorm(ok3, ok3, nan, out3));
  same(k().RmsNorm(empty, empty, 1e-5f, empty), llm::RmsNorm(empty, empty, 1e-5f, empty));
  EXPECT_TRUE(k().Add(empty, empty, empty).ok());
  llm::AttentionShape shape{2, 1, 32};
  std::vector<float> q(64, 0.5f), o(64);
  std::vector<uint8_t> kv(2 * 64, 0);
  kv[5] = 0x7C;  // value 2 of position 0 = +inf
  same(k().Attend(shape, q, kv, kv, 2, o), llm::Attend(shape, q, kv, kv, 2, o));
  same(k().Attend(shape, q, kv, kv, 3, o), llm::Attend(shape, q, kv, kv, 3, o));
  same(k().Attend({3, 2, 32}, q, kv, kv, 1, o), llm::Attend({3, 2, 32}, q, kv, kv, 1, o));
  q[3] = nan;
  kv[5] = 0;
  same(k().Attend(shape, q, kv, kv, 1, o), llm::Attend(shape, q, kv, kv, 1, o));
  auto table = llm::RopeTable::Create(10000.0f, 4, 8);
  ASSERT_TRUE(table.ok());
  std::vector<float> r8(8, 1.0f), r8_copy = r8;
  same(k().RopeApply(*table, 8, 2, 4, r8), table->Apply(8, 2, 4, r8_copy));    // position
  same(k().RopeApply(*table, -1, 2, 4, r8), table->Apply(-1, 2, 4, r8_copy));  // position
  same(k().RopeApply(*table, 0, 4, 4, r8), table->Apply(0, 4, 4, r8_copy));    // size
  same(k().RopeApply(*table, 0, 4, 2, r8), table->Apply(0, 4, 2, r8_copy));    // head_dim
  r8[5] = inf;
  r8_copy[5] = inf;
  same(k().RopeApply(*table, 1, 2, 4, r8), table->Apply(1, 2, 4, r8_copy));  // not finite
  std::vector<float> kv_row(64, 1.0f);
  std::vector<uint8_t> enc(128), enc_short(126);
  same(k().EncodeKvRow({2, 1, 32}, kv_row, enc_short),
       llm::EncodeKvRow({2, 1, 32}, kv_row, enc_short));  // size
  same(k().EncodeKvRow({2, 1, 33}, kv_row, enc), llm::EncodeKvRow({2, 1, 33}, kv_row, enc));
  kv_row[7] = nan;
  same(k().EncodeKvRow({2, 2, 32}, kv_row, enc), llm::EncodeKvRow({2, 2, 32}, kv_row, enc));
}

}  // namespace
}  // namespace datanode::ops
