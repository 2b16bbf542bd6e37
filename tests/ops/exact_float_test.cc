// Copyright 2026 The datanode Authors.
//
// Checks the integer rounding routines of exact_float.h against an independent
// oracle: the hardware's own correctly rounded conversions.
//
// The oracle: a value mantissa * 2^exponent with |mantissa| < 2^64 is exact in an x87
// long double (64-bit significand, 15-bit exponent), built with ldexpl; converting it
// with (float) (x87 store, default round-to-nearest-even, gradual underflow) or with
// (_Float16) (libgcc's soft-float __truncxfhf2) rounds it once, correctly. Wider
// values (int128 mantissas, exact quotients) are first brought to 64 bits with
// round-to-odd (truncate, then set the last bit if anything was lost), which is
// exact for a later rounding to 24 or 11 bits because 64 >= 24 + 2 (Boldo and
// Melquiond, "Emulation of FMA and correctly rounded sums: proved algorithms using
// rounding to odd", 2008). Quotients use the FPU's division in round-toward-zero
// mode plus its inexact flag for the same purpose.
#include "datanode/ops/exact_float.h"

#include <gtest/gtest.h>

#include <cfenv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "datanode/ops/random_inputs.h"

namespace datanode::ops {
namespace {

static_assert(std::numeric_limits<long double>::digits == 64, "needs x87 long double");

int BitLen(uint128 u) {
  int n = 0;
  while (u != 0) {
    ++n;
    u >>= 1;
  }
  return n;
}

uint128 Magnitude(int128 m) { return m < 0 ? uint128(0) - uint128(m) : uint128(m); }

// mantissa * 2^exponent, exactly when |mantissa| < 2^64, else rounded to odd at 64 bits.
long double OracleValue(int128 mantissa, int exponent) {
  uint128 mag = Magnitude(mantissa);
  const int len = BitLen(mag);
  if (len > 64) {
    const int shift = len - 64;
    const bool lost = (mag & ((uint128{1} << shift) - 1)) != 0;
    mag >>= shift;
    if (lost) mag |= 1;
    exponent += shift;
  }
  const long double v = ldexpl(static_cast<long double>(static_cast<uint64_t>(mag)), exponent);
  return mantissa < 0 ? -v : v;
}

uint32_t OracleF32(long double v) {
  volatile long double in = v;
  volatile float f = static_cast<float>(in);
  return F32ToBits(f);
}

uint16_t OracleF16(long double v) {
  volatile long double in = v;
  volatile _Float16 h = static_cast<_Float16>(in);
  uint16_t bits;
  _Float16 copy = h;
  std::memcpy(&bits, &copy, 2);
  return bits;
}

long double F16BitsToLd(uint16_t bits) {
  _Float16 h;
  std::memcpy(&h, &bits, 2);
  return static_cast<long double>(h);
}

// x / d rounded to odd at 64 bits: divide rounding toward zero, then set the last
// significand bit if the FPU reports the division inexact.
long double DivideToOdd(long double x, long double d) {
  std::fesetround(FE_TOWARDZERO);
  std::feclearexcept(FE_INEXACT);
  volatile long double vx = x;
  volatile long double vd = d;
  volatile long double q = vx / vd;
  const bool inexact = std::fetestexcept(FE_INEXACT) != 0;
  std::fesetround(FE_TONEAREST);
  const long double qq = q;
  if (!inexact || qq == 0) return qq;
  int exp = 0;
  const long double frac = frexpl(fabsl(qq), &exp);  // in [0.5, 1)
  const uint64_t mant = static_cast<uint64_t>(ldexpl(frac, 64)) | 1;
  const long double r = ldexpl(static_cast<long double>(mant), exp - 64);
  return qq < 0 ? -r : r;
}

// A random signed mantissa of exactly `bits` significant bits (bits in [1, 127]).
int128 RandomMantissa(SplitMix64& rng, int bits) {
  uint128 u = (uint128{rng.Next()} << 64) | rng.Next();
  if (bits < 128) u &= (uint128{1} << bits) - 1;
  u |= uint128{1} << (bits - 1);
  // Sometimes force exact ties / near ties: clear or set all low bits.
  switch (rng.Next() % 4) {
    case 0:
      if (bits > 26) u &= ~((uint128{1} << (bits - 26)) - 1);  // low bits zero
      break;
    case 1:
      if (bits > 26) u |= (uint128{1} << (bits - 26)) - 1;  // low bits all ones
      break;
    default:
      break;
  }
  const int128 m = static_cast<int128>(u);
  return (rng.Next() & 1) ? -m : m;
}

#define EXPECT_BITS_EQ(expected, actual, what)                                                 \
  EXPECT_EQ(expected, actual) << what << std::hex << " expected 0x" << (expected) << " got 0x" \
                              << (actual)

// ---------------------------------------------------------------------------------
// Decoding.

TEST(DecodeF16Bits, ExhaustiveAll65536Patterns) {
  int finite = 0;
  for (uint32_t b = 0; b < 65536; ++b) {
    const uint16_t bits = static_cast<uint16_t>(b);
    const long double hw = F16BitsToLd(bits);
    ASSERT_EQ(IsFiniteF16Bits(bits), std::isfinite(hw)) << "bits 0x" << std::hex << b;
    if (!IsFiniteF16Bits(bits)) continue;
    ++finite;
    const ExactValue v = DecodeF16Bits(bits);
    ASSERT_LT(std::llabs(v.mantissa), 1 << 11) << std::hex << b;
    ASSERT_GE(v.exponent, -24);
    ASSERT_LE(v.exponent, 5);
    ASSERT_EQ(ldexpl(static_cast<long double>(v.mantissa), v.exponent), hw)
        << "bits 0x" << std::hex << b;
  }
  EXPECT_EQ(finite, 65536 - 2 * 1024);  // all but the 2 * 1024 inf / NaN patterns
}

// All 2^32 patterns: mantissa * 2^exponent must equal the float (products of an
// integer below 2^24 and a power of two are exact in double).
TEST(DecodeF32Bits, ExhaustiveAllPatterns) {
  double pow2[254];
  for (int e = -149; e <= 104; ++e) pow2[e + 149] = std::ldexp(1.0, e);
  uint64_t finite = 0;
  for (uint64_t b = 0; b <= 0xFFFFFFFFull; ++b) {
    const uint32_t bits = static_cast<uint32_t>(b);
    const float f = BitsToF32(bits);
    if (IsFiniteF32Bits(bits) != std::isfinite(f)) FAIL() << "IsFiniteF32Bits 0x" << std::hex << b;
    if (!IsFiniteF32Bits(bits)) continue;
    ++finite;
    const ExactValue v = DecodeF32Bits(bits);
    if (v.exponent < -149 || v.exponent > 104 || v.mantissa >= (1 << 24) ||
        v.mantissa <= -(1 << 24) ||
        static_cast<double>(v.mantissa) * pow2[v.exponent + 149] != static_cast<double>(f)) {
      FAIL() << "DecodeF32Bits(0x" << std::hex << b << ") = " << std::dec << v.mantissa << " * 2^"
             << v.exponent << ", float is " << f;
    }
  }
  EXPECT_EQ(finite, (uint64_t{1} << 32) - 2 * (uint64_t{1} << 23));
}

// ---------------------------------------------------------------------------------
// Rounding an exact value to f32 / f16.

void CheckF32(int128 m, int e) {
  const uint32_t got = RoundToF32Bits(m, e);
  const uint32_t want = m == 0 ? 0u : OracleF32(OracleValue(m, e));
  if (got != want) {
    FAIL() << "RoundToF32Bits(" << (m < 0 ? "-" : "") << "0x" << std::hex
           << static_cast<uint64_t>(Magnitude(m) >> 64) << ":"
           << static_cast<uint64_t>(Magnitude(m)) << std::dec << ", " << e << "): expected 0x"
           << std::hex << want << ", got 0x" << got;
  }
}

void CheckF16(int128 m, int e) {
  const uint16_t got = RoundToF16Bits(m, e);
  const uint16_t want = m == 0 ? 0 : OracleF16(OracleValue(m, e));
  if (got != want) {
    FAIL() << "RoundToF16Bits(" << (m < 0 ? "-" : "") << "0x" << std::hex
           << static_cast<uint64_t>(Magnitude(m) >> 64) << ":"
           << static_cast<uint64_t>(Magnitude(m)) << std::dec << ", " << e << "): expected 0x"
           << std::hex << want << ", got 0x" << got;
  }
}

// Every mantissa |m| <= 2^15 at every exponent from far below the smallest f16
// subnormal (2^-24) to far above the largest finite (65504): covers every tie,
// every subnormal, the overflow edge and underflow to signed zero.
TEST(RoundToF16Bits, ExhaustiveSmallMantissas) {
  for (int e = -45; e <= 20; ++e) {
    for (int64_t m = -(1 << 15); m <= (1 << 15); ++m) {
      CheckF16(m, e);
      if (HasFatalFailure()) return;
    }
  }
}

// Every |m| <= 2^16 at exponents around the subnormal range, the normal boundary
// 2^-126 and the overflow edge 2^128.
TEST(RoundToF32Bits, ExhaustiveSmallMantissasAtBoundaries) {
  for (int e = -175; e <= 112; ++e) {
    if (e > -110 && e < 95) e = 95;  // the middle exponents are covered randomly below
    for (int64_t m = -(1 << 16); m <= (1 << 16); ++m) {
      CheckF32(m, e);
      if (HasFatalFailure()) return;
    }
  }
}

// Random mantissas of 1..127 bits placed so the result spans [2^-160, 2^130]; a
// quarter of them are exact ties or within 1 ulp of one (see RandomMantissa).
TEST(RoundToF32Bits, RandomAgainstHardware) {
  SplitMix64 rng(0xF32F32);
  for (int i = 0; i < 4'000'000; ++i) {
    const int bits = static_cast<int>(i % 4 == 3 ? rng.Uniform(65, 127) : rng.Uniform(1, 64));
    const int top = static_cast<int>(rng.Uniform(-160, 130));
    CheckF32(RandomMantissa(rng, bits), top - bits + 1);
    if (HasFatalFailure()) return;
  }
}

TEST(RoundToF16Bits, RandomAgainstHardware) {
  SplitMix64 rng(0xF16F16);
  for (int i = 0; i < 2'000'000; ++i) {
    const int bits = static_cast<int>(i % 4 == 3 ? rng.Uniform(65, 127) : rng.Uniform(1, 64));
    const int top = static_cast<int>(rng.Uniform(-30, 18));
    CheckF16(RandomMantissa(rng, bits), top - bits + 1);
    if (HasFatalFailure()) return;
  }
}

// Exact midpoints between two adjacent floats must go to the even one.
TEST(RoundToF32Bits, TiesGoToEven) {
  SplitMix64 rng(0x71E5);
  for (int i = 0; i < 200'000; ++i) {
    // sig in [2^23, 2^24): the two neighbours are sig and sig + 1; the tie is 2 sig + 1.
    const int64_t sig = rng.Uniform(int64_t{1} << 23, (int64_t{1} << 24) - 1);
    const int extra = static_cast<int>(rng.Uniform(0, 60));
    const int e = static_cast<int>(rng.Uniform(-149, 103)) - 1 - extra;
    const int128 tie = int128{2 * sig + 1} << extra;
    const uint32_t got = RoundToF32Bits(tie, e);
    CheckF32(tie, e);
    CheckF32(-tie, e);
    if (HasFatalFailure()) return;
    if (((got >> 23) & 0xFF) != 0xFF) {  // finite: the last significand bit is even
      ASSERT_EQ(got & 1, 0u) << "tie (" << 2 * sig + 1 << " << " << extra << ") * 2^" << e;
    }
  }
}

TEST(RoundToF32Bits, NamedEdges) {
  const uint32_t kDenormMin = F32ToBits(std::numeric_limits<float>::denorm_min());
  const uint32_t kNormMin = F32ToBits(std::numeric_limits<float>::min());
  const uint32_t kMaxSubnormal = F32ToBits(std::nextafter(std::numeric_limits<float>::min(), 0.f));
  const uint32_t kFltMax = F32ToBits(std::numeric_limits<float>::max());
  const uint32_t kInf = F32ToBits(std::numeric_limits<float>::infinity());
  const uint32_t kNegZero = F32ToBits(-0.0f);
  const uint32_t kSign = 0x80000000u;
  struct Edge {
    int128 m;
    int e;
    uint32_t want;
    const char* what;
  };
  const int128 kI128Max = static_cast<int128>(~uint128{0} >> 1);
  const Edge edges[] = {
      {0, 0, 0, "exact zero is +0"},
      {0, -200, 0, "exact zero at any exponent is +0"},
      {1, -149, kDenormMin, "2^-149 is the smallest subnormal"},
      {-1, -149, kSign | kDenormMin, "-2^-149"},
      {1, -150, 0, "2^-150 is a tie between 0 and 2^-149: even = +0"},
      {-1, -150, kNegZero, "-2^-150 underflows to -0 (keeps its sign)"},
      {3, -151, kDenormMin, "0.75 * 2^-149 rounds up to 2^-149"},
      {1, -151, 0, "0.5 * 2^-150 rounds to +0"},
      {-1, -400, kNegZero, "a tiny negative value gives -0"},
      {3, -150, 2, "1.5 * 2^-149 is a tie: even = 2 * 2^-149"},
      {(int128{1} << 23) - 1, -149, kMaxSubnormal, "largest subnormal"},
      {(int128{1} << 24) - 1, -150, kNormMin, "tie between largest subnormal and 2^-126: even"},
      {1, -126, kNormMin, "2^-126"},
      {(int128{1} << 24) - 1, 104, kFltMax, "FLT_MAX"},
      {(int128{1} << 25) - 1, 103, kInf, "FLT_MAX-to-2^128 midpoint ties to even: +inf"},
      {-((int128{1} << 25) - 1), 103, kSign | kInf, "negative midpoint: -inf"},
      {((int128{1} << 25) - 1) * (int128{1} << 40) - 1, 63, kFltMax, "just below the midpoint"},
      {1, 128, kInf, "2^128 overflows"},
      {1, 100000, kInf, "huge exponent"},
      {-1, 100000, kSign | kInf, "huge negative"},
      {1, -100000, 0, "tiny exponent: +0"},
      {kI128Max, 0, F32ToBits(0x1p127f), "int128 max rounds to 2^127"},
      {kI128Max, 1, kInf, "int128 max * 2 overflows"},
      {-kI128Max - 1, 0, F32ToBits(-0x1p127f), "int128 min is -2^127"},
  };
  for (const Edge& edge : edges) {
    EXPECT_BITS_EQ(edge.want, RoundToF32Bits(edge.m, edge.e), edge.what);
    if (edge.m != 0) CheckF32(edge.m, edge.e);
  }
}

TEST(RoundToF16Bits, NamedEdges) {
  struct Edge {
    int128 m;
    int e;
    long double value;  // expected value (0 with sign for zeros); computed by the hardware
    const char* what;
  };
  const Edge edges[] = {
      {0, 0, 0.0L, "exact zero is +0"},
      {1, -24, 0x1p-24L, "smallest f16 subnormal"},
      {1, -25, 0.0L, "tie between 0 and 2^-24: +0"},
      {-1, -25, -0.0L, "negative tie underflows to -0"},
      {(1 << 11) - 1, 5, 65504.0L, "largest finite f16"},
      {(1 << 12) - 1, 4, INFINITY, "65520 (midpoint to 2^16) ties to even: inf"},
      {(1 << 13) - 3, 3, 65504.0L, "65516 rounds down"},
      {-((1 << 12) - 1), 4, -INFINITY, "-65520: -inf"},
  };
  for (const Edge& edge : edges) {
    const uint16_t got = RoundToF16Bits(edge.m, edge.e);
    const long double got_value = F16BitsToLd(got);
    EXPECT_TRUE(got_value == edge.value && std::signbit(got_value) == std::signbit(edge.value))
        << edge.what << ": got 0x" << std::hex << got;
    if (edge.m != 0) CheckF16(edge.m, edge.e);
  }
}

// ---------------------------------------------------------------------------------
// DivRoundHalfEven: checked against its definition (the nearest integer; on an exact
// tie the even one) and, for small operands, against the FPU's rint.

void CheckDiv(int128 num, int128 den) {
  const int128 q = DivRoundHalfEven(num, den);
  const int128 diff = num - q * den;
  const uint128 twice = Magnitude(diff) * 2;
  if (twice > uint128(den) || (twice == uint128(den) && (q & 1) != 0)) {
    FAIL() << "DivRoundHalfEven(" << static_cast<long double>(num) << ", "
           << static_cast<long double>(den) << ") = " << static_cast<long double>(q)
           << " is not the nearest (ties-to-even) integer";
  }
}

TEST(DivRoundHalfEven, ExhaustiveSmallAgainstRint) {
  for (int64_t den = 1; den <= 130; ++den) {
    for (int64_t num = -2000; num <= 2000; ++num) {
      const int128 q = DivRoundHalfEven(num, den);
      const long double want = std::rintl(static_cast<long double>(num) / den);
      ASSERT_EQ(static_cast<long double>(q), want) << num << " / " << den;
      CheckDiv(num, den);
    }
  }
}

TEST(DivRoundHalfEven, RandomWideOperands) {
  SplitMix64 rng(0xD1D1);
  for (int i = 0; i < 1'000'000; ++i) {
    const int num_bits = static_cast<int>(rng.Uniform(1, 120));
    const int den_bits = static_cast<int>(rng.Uniform(1, 120));
    int128 num = RandomMantissa(rng, num_bits);
    const int128 den = Magnitude(RandomMantissa(rng, den_bits));
    if (i % 5 == 0 && den_bits < 100) {
      // An exact tie: num = den * q + den / 2 for even den.
      const int128 even_den = den * 2;
      num = even_den * static_cast<int64_t>(rng.Uniform(-1000000, 1000000)) + den;
      CheckDiv(num, even_den);
      ASSERT_EQ(DivRoundHalfEven(num, even_den) & 1, 0);
      continue;
    }
    CheckDiv(num, den);
    ASSERT_EQ(DivRoundHalfEven(-num, den), -DivRoundHalfEven(num, den)) << "sign symmetry";
    if (HasFatalFailure()) return;
  }
}

// ---------------------------------------------------------------------------------
// RoundQuotientTo*: (mantissa * 2^exponent) / divisor, one rounding.

void CheckQuotient(int64_t m, int e, int64_t d) {
  const uint32_t got32 = RoundQuotientToF32Bits(m, e, d);
  const uint16_t got16 = RoundQuotientToF16Bits(m, e, d);
  uint32_t want32 = 0;
  uint16_t want16 = 0;
  if (m != 0) {
    const long double q = DivideToOdd(OracleValue(m, e), static_cast<long double>(d));
    want32 = OracleF32(q);
    want16 = OracleF16(q);
  }
  if (got32 != want32 || got16 != want16) {
    FAIL() << "RoundQuotientTo*(" << m << ", " << e << ", " << d << "): f32 expected 0x" << std::hex
           << want32 << " got 0x" << got32 << ", f16 expected 0x" << want16 << " got 0x" << got16;
  }
}

TEST(RoundQuotient, RandomAgainstHardware) {
  SplitMix64 rng(0x0007);
  for (int i = 0; i < 1'000'000; ++i) {
    const int bits = static_cast<int>(rng.Uniform(1, 63));
    const int64_t m = static_cast<int64_t>(RandomMantissa(rng, bits));
    int64_t d;
    switch (i % 4) {
      case 0:
        d = 127;  // the quantize ops' divisor
        break;
      case 1:
        d = rng.Uniform(1, 300);
        break;
      default:
        d = rng.Uniform(1, (1 << 24) - 1);
        break;
    }
    // Results from far below the f32 subnormals to beyond the f32 overflow edge; the
    // f16 result covers its whole range in the slice where top is within [-30, 18].
    const int top = static_cast<int>(i % 2 ? rng.Uniform(-175, 135) : rng.Uniform(-30, 25));
    CheckQuotient(m, top - bits + 1, d);
    if (HasFatalFailure()) return;
  }
}

// What the quantize ops compute: amax / 127 for every f32 amax with a 16-bit
// significand prefix at every exponent (the full f32 range, including subnormals).
TEST(RoundQuotient, QuantizeScalesOverTheF32Range) {
  SplitMix64 rng(0x127);
  for (int e = -149; e <= 104; ++e) {
    for (int i = 0; i < 4000; ++i) {
      const int64_t m = rng.Uniform(1, (int64_t{1} << 24) - 1);
      CheckQuotient(m, e, 127);
      if (HasFatalFailure()) return;
    }
  }
  CheckQuotient(0, 0, 127);
  EXPECT_EQ(RoundQuotientToF32Bits(0, 0, 127), 0u) << "0 / 127 is +0";
}

}  // namespace
}  // namespace datanode::ops
