// Copyright 2026 The datanode Authors.
//
// Hand-computed examples of every op of §3-4 (docs/determinism.md). The
// expected bytes are derived by hand in the comments, independently of the input
// generator and of the reference's code, so these check the reference itself
// against the written spec (and every other backend with it).
//
// Notation: f32 bits = sign | (biased exponent << 23) | fraction, bias 127;
// f16 bits = sign | (biased exponent << 10) | fraction, bias 15.
#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
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

std::vector<uint8_t> S8(std::initializer_list<int> values) {
  std::vector<uint8_t> out;
  for (int v : values) out.push_back(static_cast<uint8_t>(static_cast<int8_t>(v)));
  return out;
}

std::vector<uint8_t> U32s(std::initializer_list<uint32_t> values) {
  std::vector<uint8_t> out(values.size() * 4);
  size_t i = 0;
  for (uint32_t v : values) StoreU32(&out[4 * i++], v);
  return out;
}

std::vector<uint8_t> S32s(std::initializer_list<int32_t> values) {
  std::vector<uint8_t> out(values.size() * 4);
  size_t i = 0;
  for (int32_t v : values) StoreU32(&out[4 * i++], static_cast<uint32_t>(v));
  return out;
}

std::vector<uint8_t> F32s(std::initializer_list<float> values) {
  std::vector<uint8_t> out(values.size() * 4);
  size_t i = 0;
  for (float v : values) StoreU32(&out[4 * i++], F32ToBits(v));
  return out;
}

// A Q8_0 block: f16 d, then 32 int8 quants (`q` padded with `fill`).
std::vector<uint8_t> Q8Block(uint16_t d, std::vector<int> q, int fill = 0) {
  q.resize(kQBlockSize, fill);
  std::vector<uint8_t> out(2);
  StoreU16(out.data(), d);
  for (int v : q) out.push_back(static_cast<uint8_t>(static_cast<int8_t>(v)));
  return out;
}

// A Q4_0 block (f16 d, 16 nibble bytes) or a Q4_1 block (f16 d, f16 m, 16 bytes).
std::vector<uint8_t> Q4Block(uint16_t d, const uint16_t* m, uint8_t qs_byte) {
  std::vector<uint8_t> out(m ? 4 : 2);
  StoreU16(out.data(), d);
  if (m) StoreU16(out.data() + 2, *m);
  out.insert(out.end(), 16, qs_byte);
  return out;
}

std::vector<uint8_t> Concat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

class SpecExamples : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const std::string& name : CompiledBackends()) {
      absl::StatusOr<std::unique_ptr<Backend>> b = CreateBackend(name);
      if (b.ok()) backends_.push_back(*std::move(b));
    }
  }

  // Runs the op on every backend and expects exactly `want_out` / `want_scale`.
  void Check(const std::string& what, OpKind kind, int64_t m, int64_t n, int64_t k,
             std::vector<uint8_t> a, std::vector<uint8_t> a_scale, std::vector<uint8_t> w,
             std::vector<uint8_t> w_scale, const std::vector<uint8_t>& want_out,
             const std::vector<uint8_t>& want_scale = {}) {
    ASSERT_FALSE(backends_.empty());
    for (const std::unique_ptr<Backend>& backend : backends_) {
      // An op a backend does not have yet (Supports() false) is the reference's alone.
      if (!backend->Supports(kind)) {
        ASSERT_NE(backend->Name(), "reference") << OpKindName(kind);
        continue;
      }
      OpInputs in;
      in.kind = kind;
      in.m = m;
      in.n = n;
      in.k = k;
      in.a = a;
      in.a_scale = a_scale;
      in.w = w;
      in.w_scale = w_scale;
      in.out.assign(want_out.size(), 0xAA);  // poison: every byte must be written
      in.out_scale.assign(want_scale.size(), 0xAA);
      const absl::Status st = RunOp(*backend, in.Args());
      ASSERT_TRUE(st.ok()) << what << " on " << backend->Name() << ": " << st;
      OpInputs want = in;
      want.out = want_out;
      want.out_scale = want_scale;
      EXPECT_EQ(testing::CompareOutputs(want, in), "") << what << " on " << backend->Name();
    }
  }

  std::vector<std::unique_ptr<Backend>> backends_;
};

// ---- matmul_s8_s32 ----------------------------------------------------------------

TEST_F(SpecExamples, MatMulS8S32) {
  // 1x1x1: -127 * 127 = -16129.
  Check("1x1x1", OpKind::kMatMulS8S32, 1, 1, 1, S8({-127}), {}, S8({127}), {}, S32s({-16129}));
  // A = [[1, 2, 3], [-4, 5, -6]], W = [[7, 8, 9], [1, 0, -1]] (W is [N, K]):
  //   C[0,0] = 7 + 16 + 27 = 50     C[0,1] = 1 + 0 - 3 = -2
  //   C[1,0] = -28 + 40 - 54 = -42  C[1,1] = -4 + 0 + 6 = 2
  Check("2x2x3", OpKind::kMatMulS8S32, 2, 2, 3, S8({1, 2, 3, -4, 5, -6}), {},
        S8({7, 8, 9, 1, 0, -1}), {}, S32s({50, -2, -42, 2}));
}

// ---- matmul_s8_f32 ----------------------------------------------------------------

TEST_F(SpecExamples, MatMulS8F32) {
  // 0.5 * 0.25 * (3 * 5) = 1.875 = 1.111b * 2^0: exponent 127, fraction 0.875 * 2^23
  // = 0x700000 -> 0x3FF00000.
  Check("plain", OpKind::kMatMulS8F32, 1, 1, 1, S8({3}), U32s({0x3F000000}), S8({5}),
        U32s({0x3E800000}), U32s({0x3FF00000}));
  // FLT_MAX * 2 * 1 overflows to +inf; with isum = -1 to -inf.
  Check("overflow", OpKind::kMatMulS8F32, 1, 2, 1, S8({1}), U32s({0x7F7FFFFF}), S8({1, -1}),
        U32s({0x40000000, 0x40000000}), U32s({0x7F800000, 0xFF800000}));
  // 2^-126 (0x00800000) * 2^-23 (0x34000000) * 1 = 2^-149: exactly the smallest
  // subnormal, 0x00000001.
  Check("smallest subnormal", OpKind::kMatMulS8F32, 1, 1, 1, S8({1}), U32s({0x00800000}), S8({1}),
        U32s({0x34000000}), U32s({0x00000001}));
  // 2^-149 * 0.5 * isum with isum = 1, 3, -1 (W = [1], [3], [-1]):
  //   2^-150: a tie between 0 and 2^-149 -> even: +0 (0x00000000);
  //   1.5 * 2^-149: a tie between 1 and 2 units -> even: 2 * 2^-149 (0x00000002);
  //   -2^-150: a tie -> -0, the sign of the value is kept (0x80000000).
  Check("subnormal ties", OpKind::kMatMulS8F32, 1, 3, 1, S8({1}), U32s({0x00000001}),
        S8({1, 3, -1}), U32s({0x3F000000, 0x3F000000, 0x3F000000}),
        U32s({0x00000000, 0x00000002, 0x80000000}));
  // One rounding, not two: a_scale = w_scale = 1 + 2^-12 (0x3F800800), isum = 3.
  //   exact = 3 * (1 + 2^-11 + 2^-24) = 3 + 3 * 2^-11 + 3 * 2^-24.
  //   In [2, 4) the f32 ulp is 2^-22; 3 * 2^-24 = 0.75 ulp rounds up to one ulp:
  //   3 + 3 * 2^-11 + 2^-22 = 2 * (1 + 2^-1 + 3 * 2^-12 + 2^-23) -> exponent 128,
  //   fraction 2^22 + 3 * 2^11 + 1 = 0x401801 -> 0x40401801.
  //   (Rounding a_scale * w_scale to f32 first would tie-round 2^-24 away and give
  //   0x40401800.)
  Check("single rounding", OpKind::kMatMulS8F32, 1, 1, 1, S8({3}), U32s({0x3F800800}), S8({1}),
        U32s({0x3F800800}), U32s({0x40401801}));
  // An exact zero is +0 even when a scale is -0 or negative: a_scale = -0.0, and
  // isum = 1 * 1 + 1 * -1 = 0 with a_scale = -2.
  Check("exact zero", OpKind::kMatMulS8F32, 2, 1, 2, S8({5, 0, 1, 1}),
        U32s({0x80000000, 0xC0000000}), S8({1, -1}), U32s({0x3F800000}),
        U32s({0x00000000, 0x00000000}));
}

// ---- matmul_q8_0_* ------------------------------------------------------------------

TEST_F(SpecExamples, MatMulQ8_0Q8_0) {
  // d_a = 1.0 (f16 0x3C00), qa_j = j + 1 (1..32); d_w = 0.5 (0x3800), qw_j = 1.
  // isum = 1 + ... + 32 = 528; 1.0 * 0.5 * 528 = 264 = 1.03125 * 2^8 -> exponent 135
  // (0x87), fraction 2^-5 * 2^23 = 0x40000 -> 0x43840000.
  std::vector<int> ramp;
  for (int j = 1; j <= 32; ++j) ramp.push_back(j);
  Check("one block", OpKind::kMatMulQ8_0Q8_0, 1, 1, 32, Q8Block(0x3C00, ramp), {},
        Q8Block(0x3800, {}, 1), {}, U32s({0x43840000}));
  // Two blocks: block 0: d_a = d_w = 1.0, qa = 127, qw = -127 -> -32 * 16129 = -516128;
  // block 1: d_a = 2.0 (0x4000), d_w = 0.25 (0x3400), qa = qw = 1 -> 0.5 * 32 = 16.
  // Sum -516112 = -(2^18 + 253968) -> exponent 145 (0x91), fraction 253968 << 5 =
  // 0x7C0200 -> 0xC8FC0200. A second W row with d_w = 0 gives +0.
  Check("two blocks", OpKind::kMatMulQ8_0Q8_0, 1, 2, 64,
        Concat({Q8Block(0x3C00, {}, 127), Q8Block(0x4000, {}, 1)}), {},
        Concat({Q8Block(0x3C00, {}, -127), Q8Block(0x3400, {}, 1), Q8Block(0x0000, {}, 5),
                Q8Block(0x0000, {}, 5)}),
        {}, U32s({0xC8FC0200, 0x00000000}));
  // Smallest scales: d_a = d_w = 2^-24 (f16 0x0001), isum = 1 (one pair of 1s):
  // 2^-48, a normal f32 (exponent 127 - 48 = 79 = 0x4F) -> 0x27800000.
  Check("f16 subnormal scales", OpKind::kMatMulQ8_0Q8_0, 1, 1, 32, Q8Block(0x0001, {1}), {},
        Q8Block(0x0001, {1}), {}, U32s({0x27800000}));
}

TEST_F(SpecExamples, MatMulQ8_0Q4_0) {
  // Nibble order: value j is qs[j] & 0x0F, value j + 16 is qs[j] >> 4; Q4_0 value is
  // nibble - 8. qs[j] = 0x0F: values 0..15 are 15 - 8 = 7, values 16..31 are 0 - 8 = -8.
  // d_a = d_w = 1.0; qa = 1 for j < 16, 2 for j >= 16:
  // isum = 16 * 7 * 1 + 16 * (-8) * 2 = 112 - 256 = -144 = -1.125 * 2^7 -> exponent
  // 134 (0x86), fraction 0.125 * 2^23 = 0x100000 -> 0xC3100000.
  // (Swapping the nibble halves would give 16 * -8 + 16 * 7 * 2 = 96.)
  std::vector<int> qa(16, 1);
  qa.resize(32, 2);
  Check("nibble order", OpKind::kMatMulQ8_0Q4_0, 1, 1, 32, Q8Block(0x3C00, qa), {},
        Q4Block(0x3C00, nullptr, 0x0F), {}, U32s({0xC3100000}));
}

TEST_F(SpecExamples, MatMulQ8_0Q4_1) {
  // Q4_1 value = d_w * nibble + m_w. d_a = 0.5 (0x3800), qa = 2 everywhere;
  // d_w = 1.0, m_w = -8.0 (f16: 8 = 2^3 -> exponent 18 -> 0x4800, negative 0xC800);
  // qs = 0x31: values 0..15 are 1, values 16..31 are 3.
  // exact = d_a * (d_w * isum + m_w * asum), isum = 16 * 2 * 1 + 16 * 2 * 3 = 128,
  // asum = 64: 0.5 * (128 - 512) = -192 = -1.5 * 2^7 -> 0xC3400000.
  const uint16_t m = 0xC800;
  Check("with a min", OpKind::kMatMulQ8_0Q4_1, 1, 1, 32, Q8Block(0x3800, {}, 2), {},
        Q4Block(0x3C00, &m, 0x31), {}, U32s({0xC3400000}));
}

// ---- matmul_q8_0_q4_k, matmul_q8_0_q6_k (§3.4) ---------------------------------------

// A row of `blocks` Q8_0 blocks, all zero (d = 0, q = 0) but those set later.
std::vector<uint8_t> ZeroQ8Row(int blocks) {
  return std::vector<uint8_t>(static_cast<size_t>(blocks) * kQ8_0BlockBytes, 0);
}
void SetQ8(std::vector<uint8_t>& row, int block, uint16_t d, int j, int q) {
  StoreU16(&row[block * kQ8_0BlockBytes], d);
  row[block * kQ8_0BlockBytes + 2 + j] = static_cast<uint8_t>(static_cast<int8_t>(q));
}

TEST_F(SpecExamples, MatMulQ8_0Q4_K) {
  // One super-block (K = 256): d = 1 (0x3C00), dmin = 0.5 (0x3800). Scale bytes
  // (offset 4): slice 0 has scale 3 (byte 0), min 2 (byte 4). Slice 5 has scale
  // 33 = 0b10'0001 (low 4 bits 1 in the low nibble of byte 9, top bits 0b10 in bits
  // 6-7 of byte 1: 0x80) and min 20 = 0b01'0100 (low 4 bits 4 in the high nibble of
  // byte 9, top bits 0b01 in bits 6-7 of byte 5: 0x40): bytes 1 = 0x80, 5 = 0x40,
  // 9 = 0x41; slice 1's scale and min (the low 6 bits of bytes 1 and 5) stay 0.
  // Quants (offset 16): slice 0 = low nibbles of qs[0..31]: qs[0] = 0x07; slice 5 =
  // high nibbles of qs[64..95]: qs[67] = 0xF0 (slice 5 value 3 = 15).
  // Weights: slice 0: 1 * 3 * nib - 0.5 * 2 = 3 nib - 1 (value 0: 20, others -1);
  // slice 5: 33 nib - 10 (value 3: 485, value 10: -10).
  // A: block 0 d = 1, q[0] = 2 -> 2 * 20 = 40; block 5 d = 0.25 (0x3400), q[3] = -1,
  // q[10] = 4 -> 0.25 * (-485 - 40) = -131.25. Sum -91.25 = -1.42578125 * 2^6:
  // exponent 133 (0x85), fraction 0.42578125 * 2^23 = 0x368000 -> 0xC2B68000.
  std::vector<uint8_t> w(kQ4_KBlockBytes, 0);
  StoreU16(&w[0], 0x3C00);
  StoreU16(&w[2], 0x3800);
  w[4 + 0] = 3;
  w[4 + 4] = 2;
  w[4 + 1] = 0x80;
  w[4 + 5] = 0x40;
  w[4 + 9] = 0x41;
  w[16 + 0] = 0x07;
  w[16 + 67] = 0xF0;
  std::vector<uint8_t> a = ZeroQ8Row(8);
  SetQ8(a, 0, 0x3C00, 0, 2);
  SetQ8(a, 5, 0x3400, 3, -1);
  SetQ8(a, 5, 0x3400, 10, 4);
  Check("one super-block", OpKind::kMatMulQ8_0Q4_K, 1, 1, 256, a, {}, w, {}, U32s({0xC2B68000}));
  // Swapping a slice's scale and min (or the top-2-bit bytes) gives another value:
  // e.g. slice 5 with scale 20 and min 33 would give 0.25 * (-(300 - 16.5) + 4 * -16.5).
}

TEST_F(SpecExamples, MatMulQ8_0Q6_K) {
  // Two super-blocks (K = 512), one rounding at the end.
  // Super-block 0: d = 1 (0x3C00, offset 208), int8 scales (offset 192): scales[10] =
  // -128, scales[11] = 3, others 0. Slice 5 = half 1, part 1: low 4 bits from the low
  // nibbles of ql[96..127], top 2 bits from bits 2-3 of qh[32..63] (offset 128 + 32).
  // ql[96] = 0x0F, qh[32] = 0x0C: value 0 has q6 = 15 + 3 * 16 = 63, q = 31, scale
  // scales[10] -> w = 1 * -128 * 31 = -3968; value 17 has q6 = 0, q = -32, scale
  // scales[11] -> w = 3 * -32 = -96.
  // Super-block 1: d = 2^-24 (0x0001), scales[0] = scales[2] = 1, all quant bytes 0:
  // every q = -32, so slice 0 values 0..15 and slice 1 values 0..15 are -2^-19.
  // A: block 5: d = 1, q[0] = q[17] = 1 -> -4064. Block 8 (super-block 1 slice 0):
  // d = 64 (0x5400), q[0] = 1 -> -2^-13. Block 9 (slice 1): d = 2^-24, q[0] = 1 ->
  // -2^-43. Exact sum -(4064 + 2^-13 + 2^-43); the f32 ulp at 4064 is 2^-12, so it lies
  // just beyond the midpoint 4064 + 2^-13 and rounds away: 4064 = 0x457E0000, one ulp
  // more = 0x457E0001, negative 0xC57E0001. (Rounding after each block would stop at
  // the tie and give the even 0xC57E0000.)
  std::vector<uint8_t> w(2 * kQ6_KBlockBytes, 0);
  StoreU16(&w[208], 0x3C00);
  w[192 + 10] = 0x80;
  w[192 + 11] = 3;
  w[96] = 0x0F;
  w[128 + 32] = 0x0C;
  StoreU16(&w[kQ6_KBlockBytes + 208], 0x0001);
  w[kQ6_KBlockBytes + 192 + 0] = 1;
  w[kQ6_KBlockBytes + 192 + 2] = 1;
  std::vector<uint8_t> a = ZeroQ8Row(16);
  SetQ8(a, 5, 0x3C00, 0, 1);
  SetQ8(a, 5, 0x3C00, 17, 1);
  SetQ8(a, 8, 0x5400, 0, 1);
  SetQ8(a, 9, 0x0001, 0, 1);
  Check("two super-blocks", OpKind::kMatMulQ8_0Q6_K, 1, 1, 512, a, {}, w, {}, U32s({0xC57E0001}));
  // Without block 9 the sum is the tie itself: even, -4064.
  SetQ8(a, 9, 0x0000, 0, 0);
  Check("tie", OpKind::kMatMulQ8_0Q6_K, 1, 1, 512, a, {}, w, {}, U32s({0xC57E0000}));
}

// ---- quantize_f32_s8_row ----------------------------------------------------------

TEST_F(SpecExamples, QuantizeS8Row) {
  // Row 0: amax = 127 -> s = 127 / 127 = 1.0 (0x3F800000); q = round_half_even(x):
  //   127 -> 127, -63.5 -> -64 (tie, even), 0.5 -> 0 (tie, even), 2.5 -> 2 (tie, even).
  // Row 1: all zeros (one of them -0): amax = 0 -> s = +0, every q = 0.
  // Row 2: amax = 1.0 -> s = round_f32(1/127). 128/127 = 1.0000001 0000001 0000001...b
  //   (1/127 = sum 2^-7i), so 1/127 = 2^-7 * 1.f with fraction bits 7, 14, 21 set and
  //   bit 24 clear (round down): fraction 2^16 + 2^9 + 2^2 = 0x10204, exponent 120
  //   (0x78) -> 0x3C010204, slightly below 1/127. Hence x / s is slightly above
  //   127 * |x|: 1.0 -> 127.00001 -> 127, 0.5 -> 63.50001 -> 64 (not a tie),
  //   -0.25 -> -31.75001 -> -32.
  // Row 3: amax = 127 * 2^-149 (f32 bits 0x7F, subnormal) -> s = 2^-149 (0x00000001),
  //   q = x / 2^-149: 127, 1, -5, 0.
  Check("rows", OpKind::kQuantizeS8Row, 4, 0, 4,
        U32s({F32ToBits(127.0f), F32ToBits(-63.5f), F32ToBits(0.5f), F32ToBits(2.5f),  //
              0x00000000, 0x80000000, 0x00000000, 0x00000000,                          //
              F32ToBits(1.0f), F32ToBits(0.5f), F32ToBits(-0.25f), 0x00000000,         //
              0x0000007F, 0x00000001, 0x80000005, 0x00000000}),
        {}, {}, {},
        S8({127, -64, 0, 2,   //
            0, 0, 0, 0,       //
            127, 64, -32, 0,  //
            127, 1, -5, 0}),
        U32s({0x3F800000, 0x00000000, 0x3C010204, 0x00000001}));
}

// ---- quantize_f32_q8_0 ------------------------------------------------------------

TEST_F(SpecExamples, QuantizeQ8_0) {
  // Block 0: amax = 31.75 = 127 * 0.25 -> d = 0.25 exactly (f16 0x3400); q = round(4x):
  //   31.75 -> 127, 0.125 -> 0.5 -> 0 (tie, even), 0.375 -> 1.5 -> 2 (tie, even),
  //   -0.625 -> -2.5 -> -2 (tie, even), -31.75 -> -127, 1.0 -> 4, the rest 0.
  // Block 1: amax = 127 -> d = 1.0 (0x3C00): 126.5 -> 126 (tie, even), 3.5 -> 4,
  //   -4.5 -> -4, 127 -> 127.
  // Block 2: amax = 127 * 2^-24 -> d = 2^-24, the smallest f16 subnormal (0x0001):
  //   127 * 2^-24 -> 127, 2^-25 -> 0.5 -> 0, 3 * 2^-25 -> 1.5 -> 2.
  // Block 3: all zero -> d = 0, q = 0.
  std::vector<float> x(4 * 32, 0.0f);
  const float b0[] = {31.75f, 0.125f, 0.375f, -0.625f, -31.75f, 1.0f};
  const float b1[] = {126.5f, 3.5f, -4.5f, 127.0f};
  const float b2[] = {127 * 0x1p-24f, 0x1p-25f, 3 * 0x1p-25f};
  for (int j = 0; j < 6; ++j) x[j] = b0[j];
  for (int j = 0; j < 4; ++j) x[32 + j] = b1[j];
  for (int j = 0; j < 3; ++j) x[64 + j] = b2[j];
  std::vector<uint8_t> xs(x.size() * 4);
  for (size_t i = 0; i < x.size(); ++i) StoreU32(&xs[4 * i], F32ToBits(x[i]));
  const std::vector<uint8_t> want =
      Concat({Q8Block(0x3400, {127, 0, 2, -2, -127, 4}), Q8Block(0x3C00, {126, 4, -4, 127}),
              Q8Block(0x0001, {127, 0, 2}), Q8Block(0x0000, {})});
  Check("blocks", OpKind::kQuantizeQ8_0, 1, 0, 128, xs, {}, {}, {}, want);
  // Two rows of one block each: the scale is per block, not per row.
  // Row 0: amax 127 -> d = 1.0, q = 127, -1.
  // Row 1: amax 0.5 -> d = round_f16(0.5 / 127) = round_f16(2^-8 * 128/127): of the
  //   fraction bits of 128/127 (7, 14, 21, ...) only bit 7 lies within f16's 10, and
  //   bit 11 is clear: round down to 2^-8 * (1 + 8/1024), exponent 15 - 8 = 7 ->
  //   0x1C08. q = round(0.5 / d) = round(2^7 * 1024/1032) = round(127.0077) = 127.
  Check("per block", OpKind::kQuantizeQ8_0, 2, 0, 32,
        Concat({F32s({127.0f, -1.0f}), std::vector<uint8_t>(30 * 4, 0), F32s({0.5f}),
                std::vector<uint8_t>(31 * 4, 0)}),
        {}, {}, {}, Concat({Q8Block(0x3C00, {127, -1}), Q8Block(0x1C08, {127})}));
}

}  // namespace
}  // namespace datanode::ops
