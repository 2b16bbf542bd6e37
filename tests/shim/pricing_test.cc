// Copyright 2026 The datanode Authors.
//
// The published price formula (node/shim/pricing.h, docs/canister-api.md): each term
// is checked by its marginal effect, so a wrong constant or a missing factor of n
// fails, plus bounds at the largest shapes.
#include "node/shim/pricing.h"

#include "gtest/gtest.h"

namespace datanode::shim {
namespace {

absl::uint128 P(uint64_t subnet, ops::OpKind op, uint32_t m, uint32_t n, uint32_t k,
                uint64_t arg_bytes) {
  auto t = MatMulPriceTerms(subnet, op, m, n, k, arg_bytes);
  EXPECT_TRUE(t.ok()) << t.status();
  return Price(*t);
}

TEST(Pricing, TermsFollowTheShape) {
  auto t = MatMulPriceTerms(13, ops::OpKind::kMatMulQ8_0Q8_0, 4, 8, 64, 500);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->macs, absl::uint128(4 * 8 * 64));
  EXPECT_EQ(t->out_bytes, 4u * 8 * 4);         // f32 output
  EXPECT_EQ(t->w_bytes, 8u * (64 / 32) * 34);  // Q8_0: 34 bytes per 32 values
  auto s = MatMulPriceTerms(13, ops::OpKind::kMatMulS8F32, 4, 8, 64, 500);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->w_bytes, 8u * 64 + 8 * 4);  // W s8 plus w_scale f32[n]
}

TEST(Pricing, MarginalCosts) {
  for (uint64_t subnet : {1u, 4u, 13u, 34u}) {
    const auto op = ops::OpKind::kMatMulS8S32;
    const absl::uint128 base = P(subnet, op, 1, 1, 64, 100);
    // One more argument byte: 400 cycles on each of the n replicas.
    EXPECT_EQ(P(subnet, op, 1, 1, 64, 101) - base, absl::uint128(400) * subnet);
    // A second output column: +4 output bytes (800 each), +64 MACs (1 cycle),
    // +64 weight bytes (1 cycle), per replica.
    EXPECT_EQ(P(subnet, op, 1, 2, 64, 100) - base, absl::uint128(4 * 800 + 1 + 1) * subnet);
    // The per-call term: zero-byte call of n = 0 does not exist, so compare n and n+1
    // at the same shape: the difference is exactly the formula's derivative.
    const absl::uint128 next = P(subnet + 1, op, 1, 1, 64, 100);
    const absl::uint128 per_node =
        (base - (absl::uint128(3'000'000) + 60'000 * subnet) * subnet) / subnet;
    EXPECT_EQ(next, (absl::uint128(3'000'000) + 60'000 * (subnet + 1)) * (subnet + 1) +
                        per_node * (subnet + 1));
  }
}

TEST(Pricing, CeilingsAndBounds) {
  // MACs and weight bytes are charged per started block of 64.
  const auto op = ops::OpKind::kMatMulS8S32;
  const absl::uint128 k64 = P(1, op, 1, 1, 64, 0);
  const absl::uint128 k65 = P(1, op, 1, 1, 65, 0);
  EXPECT_EQ(k65 - k64, absl::uint128(2));  // one more MAC block and one more weight block
  // Largest K with a large shape: exact and far from overflow.
  auto t = MatMulPriceTerms(13, op, 1 << 16, 1 << 16, 131071, ~uint64_t{0} >> 12);
  ASSERT_TRUE(t.ok());
  EXPECT_GT(Price(*t), absl::uint128(~uint64_t{0}));  // does not fit 64 bits
  // Shapes the spec rejects and non-matmul ops have no price.
  EXPECT_FALSE(MatMulPriceTerms(13, op, 1, 1, 131072, 0).ok());
  EXPECT_FALSE(MatMulPriceTerms(13, ops::OpKind::kMatMulQ8_0Q8_0, 1, 1, 33, 0).ok());
  EXPECT_FALSE(MatMulPriceTerms(13, ops::OpKind::kQuantizeQ8_0, 1, 0, 32, 0).ok());
  EXPECT_FALSE(MatMulPriceTerms(0, op, 1, 1, 1, 0).ok());
}

}  // namespace
}  // namespace datanode::shim

namespace datanode::shim {
namespace {

// The worked example of docs/canister-api.md ("Price"), derived there by hand.
TEST(Pricing, DocumentedExample) {
  EXPECT_EQ(P(13, ops::OpKind::kMatMulQ8_0Q8_0, 1, 576, 576, 700), absl::uint128(76'880'596));
}

// Verified mode (docs/canister-api.md "Verified mode"): compute once plus 12 checks.
TEST(Pricing, VerifiedModeIsComputeOncePlusChecks) {
  // check = ceil(m (n + k) / 64) + ceil(8 (n + k) / 64)
  EXPECT_EQ(CheckCycles(1, 4096, 4096), absl::uint128(128 + 1024));
  EXPECT_EQ(CheckCycles(16, 4096, 4096), absl::uint128(2048 + 1024));
  EXPECT_EQ(CheckCycles(1, 1, 1), absl::uint128(1 + 1));
  // Q8_0, M = 1, K = N = 4096 on 13 nodes, 5,000 argument bytes: the documented example.
  auto t = MatMulPriceTerms(13, ops::OpKind::kMatMulQ8_0Q8_0, 1, 4096, 4096, 5000);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(ComputeCycles(*t), absl::uint128(262'144 + 278'528));
  EXPECT_EQ(Price(*t), absl::uint128(252'562'336));
  EXPECT_EQ(VerifiedPrice(*t, 1, 4096, 4096), absl::uint128(246'088'096));
  // The difference is exactly 12 compute shares less 12 checks.
  EXPECT_EQ(Price(*t) - VerifiedPrice(*t, 1, 4096, 4096),
            12 * ComputeCycles(*t) - 12 * CheckCycles(1, 4096, 4096));
  // n = 1: the node both computes and is the only replica; no checks.
  auto one = MatMulPriceTerms(1, ops::OpKind::kMatMulS8S32, 3, 5, 7, 10);
  EXPECT_EQ(VerifiedPrice(*one, 3, 5, 7), Price(*one));
}

}  // namespace
}  // namespace datanode::shim
