// Copyright 2026 The datanode Authors.
#include "datanode/ops/exact_float.h"

namespace datanode::ops {
namespace {

int BitLength(uint128 u) {
  const uint64_t hi = static_cast<uint64_t>(u >> 64);
  if (hi != 0) return 128 - __builtin_clzll(hi);
  const uint64_t lo = static_cast<uint64_t>(u);
  return lo == 0 ? 0 : 64 - __builtin_clzll(lo);
}

// Shifts u right by `shift` >= 1 bits, rounding to nearest, ties to even.
uint128 ShiftRightRoundHalfEven(uint128 u, int shift) {
  if (shift >= 129) return 0;  // value < 2^-1 ... below half: always 0
  if (shift == 128) {
    const uint128 half = uint128{1} << 127;
    return u > half ? 1 : 0;  // exactly half ties to even (0)
  }
  const uint128 q = u >> shift;
  const uint128 rem = u - (q << shift);
  const uint128 half = uint128{1} << (shift - 1);
  if (rem > half || (rem == half && (q & 1) != 0)) return q + 1;
  return q;
}

// IEEE binary format with `kFracBits` stored fraction bits and exponent bias `kBias`.
// Returns sign | biased exponent | fraction bits for mantissa * 2^exponent.
template <int kFracBits, int kExpBits>
uint32_t RoundToIeeeBits(int128 mantissa, int exponent) {
  constexpr int kBias = (1 << (kExpBits - 1)) - 1;
  constexpr int kMinLsbExponent = 1 - kBias - kFracBits;  // LSB of subnormals
  constexpr uint32_t kInfBits = ((1u << kExpBits) - 1) << kFracBits;
  if (mantissa == 0) return 0;
  const uint32_t sign = mantissa < 0 ? (1u << (kFracBits + kExpBits)) : 0;
  const uint128 magnitude = mantissa < 0 ? uint128(0) - uint128(mantissa) : uint128(mantissa);
  const int length = BitLength(magnitude);
  // The value lies in [2^top, 2^(top+1)).
  const int64_t top = int64_t{length} - 1 + exponent;
  // Exponent of the result's least significant bit: kFracBits below the leading bit,
  // but never below the subnormal LSB (gradual underflow).
  int64_t lsb = top - kFracBits;
  if (lsb < kMinLsbExponent) lsb = kMinLsbExponent;
  uint128 significand;
  if (lsb <= exponent) {
    // Exact: at most kFracBits + 1 bits remain after the shift.
    significand = magnitude << (exponent - lsb);
  } else {
    const int64_t shift = lsb - exponent;
    significand = ShiftRightRoundHalfEven(magnitude, shift > 200 ? 200 : static_cast<int>(shift));
  }
  if (significand >> (kFracBits + 1)) {  // rounding carried into a new bit
    significand >>= 1;
    ++lsb;
  }
  if (significand == 0) return sign;  // underflow to zero keeps the sign of the value
  if ((significand >> kFracBits) == 0) {
    // Subnormal (lsb == kMinLsbExponent): biased exponent 0.
    return sign | static_cast<uint32_t>(significand);
  }
  const int64_t biased = lsb + kFracBits + kBias;
  if (biased >= (1 << kExpBits) - 1) return sign | kInfBits;
  return sign | (static_cast<uint32_t>(biased) << kFracBits) |
         (static_cast<uint32_t>(significand) & ((1u << kFracBits) - 1));
}

// Exact quotient with a sticky bit: for divisor < 2^24, (|mantissa| << 56) / divisor has
// at least 32 significant bits, more than the 24 + 1 (guard) bits binary32 rounding
// looks at; a nonzero remainder sets one more bit below all of them, so a value that
// is not exactly a tie can never be taken for one, and a true tie stays a tie.
struct StickyQuotient {
  int128 mantissa;
  int exponent;
};
StickyQuotient QuotientWithSticky(int64_t mantissa, int exponent, int64_t divisor) {
  constexpr int kExtraBits = 56;
  const bool negative = mantissa < 0;
  const uint128 num = uint128(negative ? -int128(mantissa) : int128(mantissa)) << kExtraBits;
  const uint128 q = num / uint64_t(divisor);
  const uint128 rem = num - q * uint64_t(divisor);
  const int128 m = int128((q << 1) | (rem != 0 ? 1 : 0));
  return {negative ? -m : m, exponent - kExtraBits - 1};
}

}  // namespace

ExactValue DecodeF32Bits(uint32_t bits) {
  const int biased = static_cast<int>((bits >> 23) & 0xFF);
  int64_t mantissa = bits & 0x7FFFFF;
  int exponent = -149;
  if (biased != 0) {
    mantissa |= 0x800000;
    exponent = biased - 150;
  }
  if (bits >> 31) mantissa = -mantissa;
  return {mantissa, exponent};
}

ExactValue DecodeF16Bits(uint16_t bits) {
  const int biased = (bits >> 10) & 0x1F;
  int64_t mantissa = bits & 0x3FF;
  int exponent = -24;
  if (biased != 0) {
    mantissa |= 0x400;
    exponent = biased - 25;
  }
  if (bits >> 15) mantissa = -mantissa;
  return {mantissa, exponent};
}

uint32_t RoundToF32Bits(int128 mantissa, int exponent) {
  return RoundToIeeeBits<23, 8>(mantissa, exponent);
}

uint16_t RoundToF16Bits(int128 mantissa, int exponent) {
  return static_cast<uint16_t>(RoundToIeeeBits<10, 5>(mantissa, exponent));
}

int128 DivRoundHalfEven(int128 num, int128 den) {
  const bool negative = num < 0;
  const uint128 n = negative ? uint128(0) - uint128(num) : uint128(num);
  const uint128 d = uint128(den);
  uint128 q = n / d;
  const uint128 rem = n - q * d;
  // Compare 2 * rem with d without overflow: rem < d <= 2^127.
  if (rem > d - rem || (rem == d - rem && (q & 1) != 0)) ++q;
  return negative ? -int128(q) : int128(q);
}

uint32_t RoundQuotientToF32Bits(int64_t mantissa, int exponent, int64_t divisor) {
  const StickyQuotient sq = QuotientWithSticky(mantissa, exponent, divisor);
  return RoundToF32Bits(sq.mantissa, sq.exponent);
}

uint16_t RoundQuotientToF16Bits(int64_t mantissa, int exponent, int64_t divisor) {
  const StickyQuotient sq = QuotientWithSticky(mantissa, exponent, divisor);
  return RoundToF16Bits(sq.mantissa, sq.exponent);
}

}  // namespace datanode::ops
