// Copyright 2026 The datanode Authors.
//
// The verifier at the ops level (docs/verification.md): honest answers (from the reference
// and the CPU backend) are never rejected, and every fault kind of docs/verification.md is caught
// on every trial: one flipped output bit, one flipped exact-sum bit, wrong weights, and an answer
// replayed from another input, >= 1000 trials each per matmul kind. Shapes are small so that the
// trial counts stay cheap; the AVX-512 kernels are compared with the portable ones on large random
// rows.
#include "datanode/ops/verify.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "datanode/ops/backend.h"
#include "datanode/ops/exact_float.h"
#include "datanode/ops/kquant.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/reference.h"
#include "datanode/ops/types.h"
#include "gtest/gtest.h"
#include "ops/verify/field.h"
#include "ops/verify/kernels.h"

namespace datanode::ops::verify {
namespace {

constexpr OpKind kKinds[] = {OpKind::kMatMulS8S32,    OpKind::kMatMulS8F32,
                             OpKind::kMatMulQ8_0Q8_0, OpKind::kMatMulQ8_0Q4_0,
                             OpKind::kMatMulQ8_0Q4_1, OpKind::kMatMulQ8_0Q4_K,
                             OpKind::kMatMulQ8_0Q6_K};
constexpr InputProfile kProfiles[] = {InputProfile::kWide, InputProfile::kExtreme,
                                      InputProfile::kRealistic};

bool IsQ8Family(OpKind kind) {
  return kind != OpKind::kMatMulS8S32 && kind != OpKind::kMatMulS8F32;
}

struct Answer {
  std::vector<uint8_t> out;
  std::vector<uint8_t> exact;
  bool operator==(const Answer&) const = default;
};

Backend& Reference() {
  static std::unique_ptr<Backend> backend = reference::CreateReferenceBackend();
  return *backend;
}
Backend& Cpu() {
  static std::unique_ptr<Backend> backend = [] {
    auto b = CreateBackend("cpu");
    return b.ok() ? std::move(b).value() : reference::CreateReferenceBackend();
  }();
  return *backend;
}

// What an honest computing node returns for `in` (rows of A, all of W).
Answer Honest(Backend& backend, OpInputs& in) {
  Answer ans;
  OpArgs args = in.Args();
  ans.out.assign(args.out.size(), 0);
  args.out = ans.out;
  EXPECT_TRUE(RunOp(backend, args).ok());
  ans.exact.assign(ExactSumsBytes(in.kind, in.m, in.n), 0);
  EXPECT_TRUE(ComputeExactSums(in.kind, in.m, in.n, in.k, in.a, in.w, ans.exact).ok());
  return ans;
}

// The Q8_0 family's compact encoding of an answer's exact sums, when every value fits.
void Compact(OpKind kind, Answer* ans) { ans->exact.resize(CompactExactSums(kind, ans->exact)); }

OpInputs Inputs(OpKind kind, int64_t m, int64_t n, int64_t k, uint64_t seed, InputProfile profile) {
  auto in = MakeRandomInputs(kind, m, n, k, seed, profile);
  EXPECT_TRUE(in.ok()) << in.status();
  return std::move(in).value();
}

Verifier Prepare(const EpochSecret& secret, const OpInputs& in) {
  auto v = Verifier::Prepare(secret, "tensor", in.kind, in.n, in.k, in.w, in.w_scale);
  EXPECT_TRUE(v.ok()) << v.status();
  return std::move(v).value();
}

Verdict RunCheck(const Verifier& ver, const OpInputs& in, const Answer& ans) {
  auto v = ver.Verify(in.m, in.a, in.a_scale, ans.exact, ans.out);
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? *v : Verdict{};
}

EpochSecret Secret() {
  auto s = NewEpochSecret();
  EXPECT_TRUE(s.ok());
  return *s;
}

// A random shape: K a multiple of 32 for the Q8_0 family, any K for s8.
struct Shape {
  int64_t m, n, k;
};
Shape RandomShape(OpKind kind, SplitMix64& rng) {
  Shape s{rng.Uniform(1, 3), rng.Uniform(1, 9), 0};
  s.k = IsKQuantMatMul(kind) ? 256 * rng.Uniform(1, 2)
        : IsQ8Family(kind)   ? 32 * rng.Uniform(1, 3)
                             : rng.Uniform(1, 80);
  return s;
}

std::string Describe(OpKind kind, const OpInputs& in, uint64_t seed) {
  return std::string(OpKindName(kind)) + " [" + std::to_string(in.m) + "," + std::to_string(in.n) +
         "," + std::to_string(in.k) + "] seed " + std::to_string(seed);
}

TEST(VerifyTest, ExactSumsAreTheValuesTheOutputRounds) {
  for (OpKind kind : kKinds) {
    for (InputProfile profile : kProfiles) {
      OpInputs in = Inputs(kind, 3, 17, IsKQuantMatMul(kind) ? 256 : 96, 11, profile);
      const Answer ans = Honest(Reference(), in);
      for (int64_t i = 0; i < in.m * in.n; ++i) {
        if (kind == OpKind::kMatMulS8S32) {
          ASSERT_TRUE(ans.exact.empty());
        } else if (kind == OpKind::kMatMulS8F32) {
          // isum = the s8 -> s32 product of the same A and W.
          OpArgs args = in.Args();
          args.kind = OpKind::kMatMulS8S32;
          args.a_scale = {};
          args.w_scale = {};
          std::vector<uint8_t> s32(4 * in.m * in.n);
          args.out = s32;
          ASSERT_TRUE(RunOp(Reference(), args).ok());
          ASSERT_EQ(ans.exact, s32);
        } else {
          uint64_t lo;
          uint64_t hi;
          std::memcpy(&lo, &ans.exact[16 * i], 8);
          std::memcpy(&hi, &ans.exact[16 * i + 8], 8);
          const int128 e = static_cast<int128>((static_cast<uint128>(hi) << 64) | lo);
          ASSERT_EQ(RoundToF32Bits(e, -48), LoadU32(&ans.out[4 * i])) << OpKindName(kind);
        }
      }
    }
  }
}

// ComputeExactSums forms the Q8_0 family's sums from blocks decoded once per row; every
// value must be reference::Q8_0DotFixedPoint's, on every input profile (the extreme one
// has subnormal and huge scales) and shape.
TEST(VerifyTest, Q8ExactSumsEqualTheReferenceElementByElement) {
  SplitMix64 rng(77);
  for (OpKind kind : kKinds) {
    if (!IsQ8Family(kind)) continue;
    for (InputProfile profile : kProfiles) {
      for (int trial = 0; trial < 40; ++trial) {
        const int64_t m = rng.Uniform(1, 4), n = rng.Uniform(1, 9);
        const int64_t k = IsKQuantMatMul(kind) ? 256 * rng.Uniform(1, 3) : 32 * rng.Uniform(1, 6);
        OpInputs in = Inputs(kind, m, n, k, rng.Next(), profile);
        std::vector<uint8_t> exact(ExactSumsBytes(kind, m, n));
        ASSERT_TRUE(ComputeExactSums(kind, m, n, k, in.a, in.w, exact).ok());
        const int64_t blocks = k / 32;
        const int64_t w_row = static_cast<int64_t>(in.w.size()) / n;
        for (int64_t i = 0; i < m; ++i) {
          for (int64_t j = 0; j < n; ++j) {
            const int128 want = reference::Q8_0DotFixedPoint(
                kind, &in.a[i * blocks * kQ8_0BlockBytes], &in.w[j * w_row], blocks);
            uint128 got = 0;
            for (int b = 15; b >= 0; --b) got = (got << 8) | exact[(i * n + j) * 16 + b];
            ASSERT_EQ(static_cast<int128>(got), want)
                << OpKindName(kind) << " [" << i << ", " << j << "] k " << k;
          }
        }
      }
    }
  }
}

TEST(VerifyTest, HonestAnswersAreNeverRejected) {
  const EpochSecret secret = Secret();
  SplitMix64 rng(16);
  for (OpKind kind : kKinds) {
    int checks = 0;
    for (int w_round = 0; checks < 10000; ++w_round) {
      const Shape s = RandomShape(kind, rng);
      const InputProfile profile = kProfiles[w_round % 3];
      const uint64_t w_seed = rng.Next();
      OpInputs base = Inputs(kind, s.m, s.n, s.k, w_seed, profile);
      const Verifier ver = Prepare(secret, base);
      for (int t = 0; t < 50; ++t, ++checks) {
        const uint64_t a_seed = rng.Next();
        OpInputs in = Inputs(kind, s.m, s.n, s.k, a_seed, kProfiles[t % 3]);
        in.w = base.w;
        in.w_scale = base.w_scale;
        Answer ans = Honest(t % 5 == 0 ? Cpu() : Reference(), in);
        if (t % 2 == 1) Compact(kind, &ans);
        const Verdict v = RunCheck(ver, in, ans);
        ASSERT_TRUE(v.accepted) << Describe(kind, in, a_seed) << ": " << v.reason;
      }
    }
    std::printf("%s: %d honest checks, 0 rejected\n", OpKindName(kind), checks);
  }
}

TEST(VerifyTest, HonestDecodeSizedAnswersAreAccepted) {
  const EpochSecret secret = Secret();
  for (OpKind kind : kKinds) {
    OpInputs in = Inputs(kind, 4, 300, 1024, 5, InputProfile::kRealistic);
    const Verifier ver = Prepare(secret, in);
    const Answer ans = Honest(Cpu(), in);
    const Verdict v = RunCheck(ver, in, ans);
    EXPECT_TRUE(v.accepted) << OpKindName(kind) << ": " << v.reason;
  }
}

enum class Fault { kFlipOutputBit, kFlipExactBit, kWrongWeights, kReplay };
const char* FaultName(Fault f) {
  switch (f) {
    case Fault::kFlipOutputBit:
      return "flipped output bit";
    case Fault::kFlipExactBit:
      return "flipped exact-sum bit";
    case Fault::kWrongWeights:
      return "wrong weights";
    case Fault::kReplay:
      return "replayed answer";
  }
  return "?";
}

// W with one stored value changed to another valid one: an s8 weight, a Q8_0 quant, a Q4
// byte of two nibbles, or (1 time in 4, Q8_0 family) a block scale's low mantissa bit.
std::vector<uint8_t> PerturbWeights(OpKind kind, const OpInputs& in, SplitMix64& rng) {
  std::vector<uint8_t> w = in.w;
  if (IsKQuantMatMul(kind)) {
    // One byte of a super-block: a quant / scale / min byte (every value is valid), or
    // (1 time in 4) the low mantissa bit of d (stays finite).
    const int64_t super_bytes = kind == OpKind::kMatMulQ8_0Q4_K ? 144 : 210;
    const int64_t d_at = kind == OpKind::kMatMulQ8_0Q4_K ? 0 : 208;
    uint8_t* p = &w[rng.Uniform(0, static_cast<int64_t>(w.size()) / super_bytes - 1) * super_bytes];
    if (rng.Uniform(0, 3) == 0) {
      p[d_at] ^= 1;
      return w;
    }
    const int64_t i = kind == OpKind::kMatMulQ8_0Q4_K ? rng.Uniform(4, 143) : rng.Uniform(0, 207);
    p[i] = static_cast<uint8_t>(p[i] + rng.Uniform(1, 255));
    return w;
  }
  if (!IsQ8Family(kind)) {
    const int64_t i = rng.Uniform(0, static_cast<int64_t>(w.size()) - 1);
    int8_t nv;
    do nv = static_cast<int8_t>(rng.Uniform(-127, 127));
    while (nv == static_cast<int8_t>(w[i]));
    w[i] = static_cast<uint8_t>(nv);
    return w;
  }
  const int64_t block_bytes = kind == OpKind::kMatMulQ8_0Q8_0   ? kQ8_0BlockBytes
                              : kind == OpKind::kMatMulQ8_0Q4_0 ? kQ4_0BlockBytes
                                                                : kQ4_1BlockBytes;
  const int64_t header = kind == OpKind::kMatMulQ8_0Q4_1 ? 4 : 2;
  const int64_t block = rng.Uniform(0, static_cast<int64_t>(w.size()) / block_bytes - 1);
  uint8_t* p = &w[block * block_bytes];
  if (rng.Uniform(0, 3) == 0) {
    p[0] ^= 1;  // d's lowest mantissa bit: still finite
    return w;
  }
  const int64_t i = rng.Uniform(header, block_bytes - 1);
  uint8_t nv;
  do
    nv = kind == OpKind::kMatMulQ8_0Q8_0 ? static_cast<uint8_t>(rng.Uniform(-127, 127))
                                         : static_cast<uint8_t>(rng.Uniform(0, 255));
  while (nv == p[i]);
  p[i] = nv;
  return w;
}

class FaultTest : public ::testing::TestWithParam<OpKind> {};

TEST_P(FaultTest, EveryFaultIsCaughtOnEveryTrial) {
  const OpKind kind = GetParam();
  const EpochSecret secret = Secret();
  SplitMix64 rng(1600 + static_cast<int>(kind));
  for (Fault fault :
       {Fault::kFlipOutputBit, Fault::kFlipExactBit, Fault::kWrongWeights, Fault::kReplay}) {
    int faulty = 0;
    int same_as_honest = 0;
    int compact_answers = 0;  // (declared before `more`, which reads it)
    std::map<Check, int> caught_by;
    // Q8_0 family: also >= 500 of them in the compact (int64) encoding, which needs every
    // exact sum below 2^63: realistic activations on those trials.
    const int want_compact = IsQ8Family(kind) ? 500 : 0;
    auto more = [&] { return faulty < 1000 || compact_answers < want_compact; };
    for (int w_round = 0; more(); ++w_round) {
      ASSERT_LT(w_round, 800) << "too few trials produced a wrong answer";
      const Shape s = RandomShape(kind, rng);
      OpInputs base = Inputs(kind, s.m, s.n, s.k, rng.Next(), kProfiles[w_round % 3]);
      const Verifier ver = Prepare(secret, base);
      for (int t = 0; t < 25 && more(); ++t) {
        const bool compact = t % 2 == 1;  // the Q8_0 family's compact encoding, where it fits
        const uint64_t a_seed = rng.Next();
        OpInputs in = Inputs(kind, s.m, s.n, s.k, a_seed,
                             compact ? InputProfile::kRealistic : kProfiles[(w_round + t) % 3]);
        in.w = base.w;
        in.w_scale = base.w_scale;
        Answer honest = Honest(Reference(), in);
        if (compact) Compact(kind, &honest);
        Answer bad = honest;
        switch (fault) {
          case Fault::kFlipOutputBit: {
            const int64_t bit = rng.Uniform(0, 8 * static_cast<int64_t>(bad.out.size()) - 1);
            bad.out[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
            break;
          }
          case Fault::kFlipExactBit: {
            // s8_s32 has no separate exact values: its output is the exact sum.
            std::vector<uint8_t>& e = bad.exact.empty() ? bad.out : bad.exact;
            const int64_t bit = rng.Uniform(0, 8 * static_cast<int64_t>(e.size()) - 1);
            e[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
            break;
          }
          case Fault::kWrongWeights: {
            OpInputs wrong = in;
            wrong.w = PerturbWeights(kind, in, rng);
            bad = Honest(Reference(), wrong);
            if (compact) Compact(kind, &bad);
            break;
          }
          case Fault::kReplay: {
            OpInputs other = Inputs(kind, s.m, s.n, s.k, rng.Next(), kProfiles[t % 3]);
            other.w = base.w;
            other.w_scale = base.w_scale;
            bad = Honest(Reference(), other);
            if (compact) Compact(kind, &bad);
            break;
          }
        }
        if (bad == honest) {  // e.g. a changed weight that meets only zero activations
          ++same_as_honest;
          continue;
        }
        ++faulty;
        compact_answers += IsQ8Family(kind) && bad.exact.size() == 8 * bad.out.size() / 4;
        const Verdict v = RunCheck(ver, in, bad);
        ASSERT_FALSE(v.accepted) << FaultName(fault) << " accepted: " << Describe(kind, in, a_seed);
        ++caught_by[v.failed];
      }
    }
    std::printf("%-18s %-22s %d wrong answers, %d rejected (", OpKindName(kind), FaultName(fault),
                faulty, faulty);
    for (const auto& [check, count] : caught_by) std::printf(" %s: %d", CheckName(check), count);
    std::printf(" ); %d in the compact encoding; %d perturbations left the answer correct\n",
                compact_answers, same_as_honest);
  }
}

INSTANTIATE_TEST_SUITE_P(AllKinds, FaultTest, ::testing::ValuesIn(kKinds),
                         [](const ::testing::TestParamInfo<OpKind>& info) {
                           return std::string(OpKindName(info.param));
                         });

// A forgery that p = 2^61 - 1 could not see: adding p to one exact sum of the Q8_0 family
// (and rounding the output to match) keeps C r = A (W^T r) mod p. The q = 2^127 - 1 check
// catches it; adding q itself leaves the spec's range.
TEST(VerifyTest, Q8ForgeriesInvisibleModuloTwoToThe61AreCaught) {
  const EpochSecret secret = Secret();
  for (OpKind kind : {OpKind::kMatMulQ8_0Q8_0, OpKind::kMatMulQ8_0Q4_0, OpKind::kMatMulQ8_0Q4_1}) {
    for (int t = 0; t < 200; ++t) {
      OpInputs in = Inputs(kind, 2, 5, 64, 300 + t, kProfiles[t % 3]);
      const Verifier ver = Prepare(secret, in);
      const Answer honest = Honest(Reference(), in);
      for (const auto& [delta, expected] :
           {std::pair<uint128, Check>{M61::kP, Check::kFreivalds},
            std::pair<uint128, Check>{M127::kQ, Check::kExactRange}}) {
        Answer bad = honest;
        uint64_t lo;
        uint64_t hi;
        std::memcpy(&lo, &bad.exact[16 * 3], 8);
        std::memcpy(&hi, &bad.exact[16 * 3 + 8], 8);
        const uint128 e = ((static_cast<uint128>(hi) << 64) | lo) + delta;
        lo = static_cast<uint64_t>(e);
        hi = static_cast<uint64_t>(e >> 64);
        std::memcpy(&bad.exact[16 * 3], &lo, 8);
        std::memcpy(&bad.exact[16 * 3 + 8], &hi, 8);
        StoreU32(&bad.out[4 * 3], RoundToF32Bits(static_cast<int128>(e), -48));
        const Verdict v = RunCheck(ver, in, bad);
        ASSERT_FALSE(v.accepted);
        ASSERT_EQ(v.failed, expected) << v.reason;
      }
    }
  }
}

TEST(VerifyTest, CompactEncodingOnlyWhenEveryValueFitsInt64) {
  std::vector<uint8_t> e(16 * 3, 0);
  const int128 values[3] = {-5, INT64_MAX, INT64_MIN};
  for (int i = 0; i < 3; ++i) std::memcpy(&e[16 * i], &values[i], 16);
  std::vector<uint8_t> wide = e;
  ASSERT_EQ(CompactExactSums(OpKind::kMatMulQ8_0Q8_0, e), 24);
  for (int i = 0; i < 3; ++i) {
    int64_t x;
    std::memcpy(&x, &e[8 * i], 8);
    EXPECT_EQ(x, static_cast<int64_t>(values[i]));
  }
  const int128 big = int128{1} << 63;
  std::memcpy(&wide[16], &big, 16);
  std::vector<uint8_t> before = wide;
  EXPECT_EQ(CompactExactSums(OpKind::kMatMulQ8_0Q4_1, wide), 48);
  EXPECT_EQ(wide, before);
  std::vector<uint8_t> s32(12);
  EXPECT_EQ(CompactExactSums(OpKind::kMatMulS8F32, s32), 12);
}

TEST(VerifyTest, BadRequestsAreErrorsAndBadAnswerSizesAreRejections) {
  const EpochSecret secret = Secret();
  OpInputs in = Inputs(OpKind::kMatMulQ8_0Q8_0, 2, 4, 64, 1, InputProfile::kWide);
  const Verifier ver = Prepare(secret, in);
  Answer ans = Honest(Reference(), in);
  EXPECT_EQ(ver.Verify(3, in.a, {}, ans.exact, ans.out).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<uint8_t> bad_a = in.a;
  bad_a[2] = 0x80;  // a quant of -128
  EXPECT_EQ(ver.Verify(2, bad_a, {}, ans.exact, ans.out).status().code(),
            absl::StatusCode::kInvalidArgument);
  ans.out.pop_back();
  auto v = ver.Verify(2, in.a, {}, ans.exact, ans.out);
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->accepted);
  EXPECT_EQ(v->failed, Check::kAnswerSize);
  EXPECT_TRUE(IsVerifiable(OpKind::kMatMulQ8_0Q4_K));
  EXPECT_TRUE(IsVerifiable(OpKind::kMatMulQ8_0Q6_K));
  EXPECT_EQ(Verifier::Prepare(secret, "x", OpKind::kQuantizeQ8_0, 4, 64, in.w, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// K-quant exact sums can exceed the check's range (2^112) only with extreme scales on both
// sides and a long K: then Verify refuses the call (FAILED_PRECONDITION, no node blamed)
// instead of rejecting an honest answer, and the same weights with ordinary activations
// are checked as usual.
TEST(VerifyTest, KQuantCallsBeyondTheCheckedRangeAreRefusedNotRejected) {
  const EpochSecret secret = Secret();
  const int64_t k = 8448;  // 33 super-blocks: 2^47 * K > 2^60, and max |w24| ~ 2^52
  OpInputs in = Inputs(OpKind::kMatMulQ8_0Q6_K, 1, 2, k, 9, InputProfile::kRealistic);
  for (int64_t s = 0; s < static_cast<int64_t>(in.w.size()) / 210; ++s) {
    uint8_t* sb = &in.w[s * 210];
    for (int i = 192; i < 208; ++i) sb[i] = 0x80;  // scales -128
    sb[208] = 0xFF;                                // d = 65504 (0x7BFF)
    sb[209] = 0x7B;
  }
  const Verifier ver = Prepare(secret, in);
  Answer ordinary = Honest(Reference(), in);
  EXPECT_TRUE(RunCheck(ver, in, ordinary).accepted);
  for (int64_t b = 0; b < k / 32; ++b) {  // A: d = 65504, every quant 127
    uint8_t* ab = &in.a[b * kQ8_0BlockBytes];
    ab[0] = 0xFF;
    ab[1] = 0x7B;
    for (int j = 0; j < 32; ++j) ab[2 + j] = 127;
  }
  Answer extreme = Honest(Reference(), in);
  auto v = ver.Verify(in.m, in.a, in.a_scale, extreme.exact, extreme.out);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kFailedPrecondition) << v.status();
}

TEST(VerifyTest, VerifierStateIsSmall) {
  const EpochSecret secret = Secret();
  for (OpKind kind : kKinds) {
    OpInputs in = Inputs(kind, 1, 256, 512, 3, InputProfile::kRealistic);
    const Verifier ver = Prepare(secret, in);
    const int64_t per_k = 16;  // Q8_0: 16 byte planes; s8: residue + 8 planes
    const int64_t per_n = kind == OpKind::kMatMulS8F32 ? 14 : 8;
    EXPECT_GE(ver.MemoryBytes(), per_k * in.k + per_n * in.n);
    EXPECT_LE(ver.MemoryBytes(), per_k * in.k + per_n * in.n + 1024);
  }
}

// The AVX-512 kernels return exactly what the portable ones do, on random and extreme
// operands (including exact sums too wide for the vector rounding path, and bad elements).
TEST(VerifyKernelsTest, Avx512MatchesPortable) {
  const internal::Kernels* fast = internal::Avx512Kernels();
  if (fast == nullptr) GTEST_SKIP() << "no AVX-512 IFMA/VNNI kernels on this machine or build";
  const internal::Kernels& port = internal::PortableKernels();
  SplitMix64 rng(512);
  for (int t = 0; t < 400; ++t) {
    const int64_t len = t < 100 ? rng.Uniform(1, 200) : 32 * rng.Uniform(1, 300);
    std::vector<uint64_t> r(len), v61(len);
    std::vector<uint8_t> planes(8 * len), v16(16 * ((len + 3) / 4 * 4));
    for (int64_t i = 0; i < len; ++i) {
      r[i] = t % 7 == 0 ? (uint64_t{1} << 52) - 1 : rng.Next() >> 12;
      v61[i] = t % 7 == 1 ? M61::kP - 1 : rng.Next() % M61::kP;
      for (int p = 0; p < 8; ++p) planes[p * len + i] = static_cast<uint8_t>(v61[i] >> (8 * p));
      uint128 v = M127::Reduce((static_cast<uint128>(rng.Next()) << 64) | rng.Next());
      if (t % 7 == 2) v = M127::kQ - 1;
      internal::StoreQ8V(v16.data(), i, v);
    }
    const internal::S8Tables s8{v61.data(), planes.data()};
    const internal::Q8Tables q8{v16.data()};
    const int rows = 1 + t % internal::kMaxRows;
    std::vector<uint8_t> c(4 * len * rows), a(len * rows), e(16 * len), out(4 * len);
    for (int64_t i = 0; i < len * rows; ++i) {
      const int32_t ci =
          t % 5 == 0 ? (i % 2 ? INT32_MIN + 1 : INT32_MAX) : static_cast<int32_t>(rng.Next());
      StoreU32(&c[4 * i], static_cast<uint32_t>(ci));
      a[i] = static_cast<uint8_t>(t % 5 == 0 ? (i % 2 ? -127 : 127) : rng.Uniform(-127, 127));
    }
    for (int64_t i = 0; i < len; ++i) {
      // Mostly int64-sized sums (the vector path), some up to 2^112 (the fallback).
      const int bits = static_cast<int>(t % 4 == 3 ? rng.Uniform(0, 111) : rng.Uniform(0, 62));
      int128 x = static_cast<int128>(((static_cast<uint128>(rng.Next()) << 64) | rng.Next()) >>
                                     (127 - bits));
      if (t % 5 == 0) x = (int128{1} << 112) - 1;
      if (rng.Uniform(0, 1)) x = -x;
      const uint128 u = static_cast<uint128>(x);
      for (int byte = 0; byte < 16; ++byte)
        e[16 * i + byte] = static_cast<uint8_t>(u >> (8 * byte));
      StoreU32(&out[4 * i], RoundToF32Bits(x, -48));
    }
    int128 got[internal::kMaxRows];
    int128 want[internal::kMaxRows];
    fast->dot_s32_r(c.data(), 4 * len, r.data(), len, rows, got);
    port.dot_s32_r(c.data(), 4 * len, r.data(), len, rows, want);
    ASSERT_TRUE(std::equal(got, got + rows, want)) << "dot_s32_r len " << len << " rows " << rows;
    fast->dot_s8_v(a.data(), len, s8, len, rows, got);
    port.dot_s8_v(a.data(), len, s8, len, rows, want);
    ASSERT_TRUE(std::equal(got, got + rows, want)) << "dot_s8_v len " << len << " rows " << rows;
    int64_t bad_fast = 0;
    int64_t bad_port = 0;
    bool range_fast = false;
    bool range_port = false;
    ASSERT_EQ(fast->check_q8_row(e.data(), out.data(), r.data(), len, &bad_fast, &range_fast),
              port.check_q8_row(e.data(), out.data(), r.data(), len, &bad_port, &range_port));
    ASSERT_EQ(bad_fast, -1);
    ASSERT_EQ(bad_port, -1);
    // The compact encoding's kernel on the int64-sized rows.
    if (t % 4 != 3 && t % 5 != 0) {
      const uint128 rb = internal::RBias(r.data(), len);
      std::vector<uint8_t> e64(8 * len);
      for (int64_t i = 0; i < len; ++i) std::memcpy(&e64[8 * i], &e[16 * i], 8);
      ASSERT_EQ(fast->check_q8_row64(e64.data(), out.data(), r.data(), len, rb, &bad_fast),
                port.check_q8_row(e.data(), out.data(), r.data(), len, &bad_port, &range_port));
      ASSERT_EQ(bad_fast, -1);
      ASSERT_EQ(port.check_q8_row64(e64.data(), out.data(), r.data(), len, rb, &bad_port),
                fast->check_q8_row64(e64.data(), out.data(), r.data(), len, rb, &bad_fast));
      const int64_t at = rng.Uniform(0, len - 1);
      std::vector<uint8_t> out2 = out;
      out2[4 * at + 1] ^= 0x10;
      fast->check_q8_row64(e64.data(), out2.data(), r.data(), len, rb, &bad_fast);
      port.check_q8_row64(e64.data(), out2.data(), r.data(), len, rb, &bad_port);
      ASSERT_EQ(bad_fast, at);
      ASSERT_EQ(bad_port, at);
      // An exact 0 rounds to +0 only (the vector kernel re-checks its zero lanes).
      std::vector<uint8_t> e_zero = e64;
      std::vector<uint8_t> out_zero = out;
      std::memset(&e_zero[8 * at], 0, 8);
      StoreU32(&out_zero[4 * at], 0);
      ASSERT_EQ(fast->check_q8_row64(e_zero.data(), out_zero.data(), r.data(), len, rb, &bad_fast),
                port.check_q8_row64(e_zero.data(), out_zero.data(), r.data(), len, rb, &bad_port));
      ASSERT_EQ(bad_fast, -1);
      ASSERT_EQ(bad_port, -1);
      StoreU32(&out_zero[4 * at], 0x80000000u);  // -0
      fast->check_q8_row64(e_zero.data(), out_zero.data(), r.data(), len, rb, &bad_fast);
      port.check_q8_row64(e_zero.data(), out_zero.data(), r.data(), len, rb, &bad_port);
      ASSERT_EQ(bad_fast, at);
      ASSERT_EQ(bad_port, at);
    }
    const int64_t flip = rng.Uniform(0, len - 1);
    if (t % 2 == 0) {
      out[4 * flip] ^= 1;
    } else {
      e[16 * flip + 14] ^= 0x01;  // bit 112: |E| >= 2^112
    }
    fast->check_q8_row(e.data(), out.data(), r.data(), len, &bad_fast, &range_fast);
    port.check_q8_row(e.data(), out.data(), r.data(), len, &bad_port, &range_port);
    ASSERT_EQ(bad_fast, bad_port);
    ASSERT_EQ(bad_fast, flip);
    ASSERT_EQ(range_fast, range_port);
    if (len % 32 == 0) {
      // Valid Q8_0 blocks with any finite scale (subnormal and the largest included).
      const int64_t blocks = len / 32;
      const int64_t row_bytes = 34 * blocks;
      std::vector<uint8_t> rows_a(row_bytes * rows);
      for (int64_t b = 0; b < blocks * rows; ++b) {
        uint16_t d;
        do d = static_cast<uint16_t>(rng.Next());
        while (!IsFiniteF16Bits(d));
        if (t % 9 == 0) d = b % 2 ? 0xFBFF : 0x0001;
        StoreU16(&rows_a[34 * b], d);
        for (int j = 0; j < 32; ++j) {
          rows_a[34 * b + 2 + j] =
              static_cast<uint8_t>(t % 9 == 0 ? (j % 2 ? 127 : -127) : rng.Uniform(-127, 127));
        }
      }
      uint128 got_q[internal::kMaxRows];
      uint128 want_q[internal::kMaxRows];
      bool valid_fast = false;
      bool valid_port = false;
      fast->dot_q8_v(rows_a.data(), row_bytes, q8, blocks, rows, got_q, &valid_fast);
      port.dot_q8_v(rows_a.data(), row_bytes, q8, blocks, rows, want_q, &valid_port);
      ASSERT_TRUE(valid_fast);
      ASSERT_TRUE(valid_port);
      ASSERT_TRUE(std::equal(got_q, got_q + rows, want_q)) << "dot_q8_v rows " << rows;
      uint8_t* last = &rows_a[row_bytes * rows - 34];
      last[2 + t % 32] = 0x80;  // a quant of -128 in the last row
      fast->dot_q8_v(rows_a.data(), row_bytes, q8, blocks, rows, got_q, &valid_fast);
      ASSERT_FALSE(valid_fast);
      last[2 + t % 32] = 0;
      StoreU16(last, 0x7C00);  // +inf scale
      fast->dot_q8_v(rows_a.data(), row_bytes, q8, blocks, rows, got_q, &valid_fast);
      ASSERT_FALSE(valid_fast);
    }
  }
}

// The s8_f32 rounding kernel against the portable one: random and extreme scales (results
// that overflow to infinity or round to subnormals take the scalar path inside), isum
// extremes including INT32_MIN (not an honest value, but an answer may hold it).
TEST(VerifyKernelsTest, Avx512S8F32RoundingMatchesPortable) {
  const internal::Kernels* fast = internal::Avx512Kernels();
  if (fast == nullptr) GTEST_SKIP() << "no AVX-512 IFMA/VNNI kernels on this machine or build";
  const internal::Kernels& port = internal::PortableKernels();
  SplitMix64 rng(3232);
  int vector_cases = 0;
  for (int t = 0; t < 3000; ++t) {
    const int64_t n = rng.Uniform(1, 70);
    auto random_scale = [&](int lo_exp, int hi_exp) {
      const int64_t mant = rng.Uniform(1, (int64_t{1} << 24) - 1) * (rng.Uniform(0, 1) ? 1 : -1);
      return std::pair<int64_t, int>(mant, static_cast<int>(rng.Uniform(lo_exp, hi_exp)));
    };
    // Mostly normal results; t % 4 == 3 spans the whole f32 exponent range.
    const bool wide = t % 4 == 3;
    auto [a_mant, a_exp] = wide ? random_scale(-149, 104) : random_scale(-40, -20);
    if (t % 13 == 5) a_mant = 1;
    std::vector<int32_t> w_mant(n);
    std::vector<int16_t> w_exp(n);
    std::vector<uint8_t> isum(4 * n), out(4 * n);
    for (int64_t j = 0; j < n; ++j) {
      const auto [m, e] = wide ? random_scale(-149, 104) : random_scale(-40, -20);
      w_mant[j] = static_cast<int32_t>(m);
      w_exp[j] = static_cast<int16_t>(e);
      int32_t s = static_cast<int32_t>(rng.Next() >> rng.Uniform(33, 63));
      if (rng.Uniform(0, 1)) s = -s;
      if (t % 11 == 0) s = j % 3 == 0 ? INT32_MIN : (j % 3 == 1 ? INT32_MAX : 0);
      if (t % 13 == 5) {
        // Products 1 off an f32 midpoint that a rounding to double lands on: P = w * s in
        // [2^54, 2^55) with P mod 2^31 = 2^30 +- 1 (f32 keeps 24 bits, so the midpoint is
        // at 2^30 in units of 2^31; double keeps 53, dropping P's 2 low bits). The AVX-512
        // kernel's double rounding must not decide these (it takes the scalar definition).
        // s = (2^30 +- 1) / w mod 2^31 for an odd w (Newton's iteration for the inverse).
        for (;;) {
          const uint64_t w = rng.Uniform(int64_t{1} << 23, (int64_t{1} << 24) - 1) | 1;
          uint64_t inv = w;  // w * w = 1 mod 8: 3 bits; each step doubles them
          for (int it = 0; it < 5; ++it) inv *= 2 - w * inv;
          const uint64_t target = (uint64_t{1} << 30) + (j % 2 ? 1 : -1);
          const uint64_t sv = (target * inv) & ((uint64_t{1} << 31) - 1);
          const uint64_t p = w * sv;
          if (p >= (uint64_t{1} << 54) && p < (uint64_t{1} << 55)) {
            w_mant[j] = static_cast<int32_t>(w);
            s = static_cast<int32_t>(sv) * (j % 4 < 2 ? 1 : -1);
            break;
          }
        }
      }
      StoreU32(&isum[4 * j], static_cast<uint32_t>(s));
      StoreU32(&out[4 * j], RoundToF32Bits(static_cast<int128>(a_mant * w_mant[j]) * s, a_exp + e));
    }
    vector_cases += n >= 8;
    ASSERT_EQ(fast->first_bad_s8f32_row(isum.data(), out.data(), a_mant, a_exp, w_mant.data(),
                                        w_exp.data(), n),
              -1)
        << "t " << t;
    const int64_t flip = rng.Uniform(0, n - 1);
    out[4 * flip + rng.Uniform(0, 3)] ^= static_cast<uint8_t>(1u << rng.Uniform(0, 7));
    const int64_t want = port.first_bad_s8f32_row(isum.data(), out.data(), a_mant, a_exp,
                                                  w_mant.data(), w_exp.data(), n);
    ASSERT_EQ(want, flip);
    ASSERT_EQ(fast->first_bad_s8f32_row(isum.data(), out.data(), a_mant, a_exp, w_mant.data(),
                                        w_exp.data(), n),
              want)
        << "t " << t;
  }
  EXPECT_GT(vector_cases, 2000);
}

}  // namespace
}  // namespace datanode::ops::verify
