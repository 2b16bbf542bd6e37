// Copyright 2026 The datanode Authors.
//
// The hand-written Mersenne field arithmetic of ops/verify/field.h against GMP's mpz, on
// edge values and random 128-bit inputs.
#include "ops/verify/field.h"

#include <gmp.h>

#include <cstdint>
#include <vector>

#include "datanode/ops/random_inputs.h"
#include "gtest/gtest.h"

namespace datanode::ops::verify {
namespace {

// RAII mpz.
struct Z {
  mpz_t v;
  Z() { mpz_init(v); }
  ~Z() { mpz_clear(v); }
  Z(const Z&) = delete;
  Z& operator=(const Z&) = delete;
};

void SetU128(mpz_t out, uint128 x) {
  mpz_set_ui(out, static_cast<unsigned long>(x >> 64));
  mpz_mul_2exp(out, out, 64);
  mpz_add_ui(out, out, static_cast<unsigned long>(static_cast<uint64_t>(x)));
}
void SetI128(mpz_t out, int128 x) {
  if (x >= 0) {
    SetU128(out, static_cast<uint128>(x));
  } else {
    SetU128(out, -static_cast<uint128>(x));
    mpz_neg(out, out);
  }
}
uint128 GetU128(const mpz_t x) {
  Z hi;
  Z lo;
  mpz_fdiv_q_2exp(hi.v, x, 64);
  mpz_fdiv_r_2exp(lo.v, x, 64);
  return (static_cast<uint128>(mpz_get_ui(hi.v)) << 64) | mpz_get_ui(lo.v);
}

// x mod m (canonical, m = 2^bits - 1) by GMP.
uint128 ModMersenne(const mpz_t x, int bits) {
  Z m;
  mpz_set_ui(m.v, 1);
  mpz_mul_2exp(m.v, m.v, bits);
  mpz_sub_ui(m.v, m.v, 1);
  Z r;
  mpz_fdiv_r(r.v, x, m.v);  // sign of the divisor: non-negative
  return GetU128(r.v);
}

std::vector<uint128> Samples() {
  const uint128 q = M127::kQ;
  std::vector<uint128> s = {0,
                            1,
                            2,
                            M61::kP - 1,
                            M61::kP,
                            M61::kP + 1,
                            uint128{M61::kP} * M61::kP,
                            q - 1,
                            q,
                            q + 1,
                            ~uint128{0},
                            uint128{1} << 127,
                            (uint128{1} << 112) - 1,
                            uint128{1} << 64};
  SplitMix64 rng(61127);
  for (int i = 0; i < 20000; ++i) {
    const uint128 x = (static_cast<uint128>(rng.Next()) << 64) | rng.Next();
    s.push_back(x >> rng.Uniform(0, 127));
  }
  return s;
}

TEST(FieldTest, M61FromIntegersMatchesGmp) {
  for (uint128 u : Samples()) {
    Z z;
    SetU128(z.v, u);
    ASSERT_EQ(M61::FromUint128(u), static_cast<uint64_t>(ModMersenne(z.v, 61)));
    const int128 s = static_cast<int128>(u);
    SetI128(z.v, s);
    ASSERT_EQ(M61::FromInt128(s), static_cast<uint64_t>(ModMersenne(z.v, 61)));
  }
}

TEST(FieldTest, M127OpsMatchGmp) {
  const std::vector<uint128> samples = Samples();
  SplitMix64 rng(7);
  for (size_t i = 0; i < samples.size(); ++i) {
    const uint128 u = samples[i];
    Z z;
    SetU128(z.v, u);
    ASSERT_EQ(M127::Reduce(u), ModMersenne(z.v, 127));
    const int128 s = static_cast<int128>(u);
    SetI128(z.v, s);
    ASSERT_EQ(M127::FromInt128(s), ModMersenne(z.v, 127));

    const uint128 a = M127::Reduce(u);
    const uint128 b = M127::Reduce(samples[(i * 7919) % samples.size()]);
    const uint64_t scalar = i < 4 ? (i == 3 ? ~uint64_t{0} : i) : rng.Next();
    const int shift = static_cast<int>(rng.Uniform(0, 126));
    Z za;
    Z zb;
    Z t;
    SetU128(za.v, a);
    SetU128(zb.v, b);
    mpz_add(t.v, za.v, zb.v);
    ASSERT_EQ(M127::Add(a, b), ModMersenne(t.v, 127));
    mpz_neg(t.v, za.v);
    ASSERT_EQ(M127::Neg(a), ModMersenne(t.v, 127));
    mpz_mul_ui(t.v, za.v, static_cast<unsigned long>(scalar));
    ASSERT_EQ(M127::MulU64(a, scalar), ModMersenne(t.v, 127)) << i;
    mpz_mul_2exp(t.v, za.v, shift);
    ASSERT_EQ(M127::MulPow2(a, shift), ModMersenne(t.v, 127)) << shift;
  }
}

}  // namespace
}  // namespace datanode::ops::verify
