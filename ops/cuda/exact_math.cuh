// Copyright 2026 The datanode Authors.
//
// The exact integer arithmetic of the spec (docs/determinism.md) as __host__ __device__
// functions, shared by every CUDA kernel and compiled for the host by the tests in
// tests/cuda/, which compare them with ops/exact_float.h and ops/reference/ over
// millions of random inputs. That host comparison is what proves the kernels' rounding
// without a GPU: the device build runs the very same source.
//
// Only integer operations appear here (no float, so no FMA contraction, no denormal
// flushing, no rounding mode). Both g++ and nvcc support __int128 (nvcc in device code
// since CUDA 11.5); divisions stay in 64 bits.
//
// Contract: each function below returns exactly what the named ops/ function returns
// for every argument in the stated domain.
#ifndef DATANODE_OPS_CUDA_EXACT_MATH_CUH_
#define DATANODE_OPS_CUDA_EXACT_MATH_CUH_

#include <cstdint>

#include "ops/cuda/host_device.h"

namespace datanode::ops::cuda {

using i128 = __int128;
using u128 = unsigned __int128;

// Count of leading zeros of a nonzero 64-bit value.
DN_HD int Clz64(uint64_t x) {
#if defined(__CUDA_ARCH__)
  return __clzll(static_cast<long long>(x));
#else
  return __builtin_clzll(x);
#endif
}

DN_HD int BitLength128(u128 u) {
  const uint64_t hi = static_cast<uint64_t>(u >> 64);
  if (hi != 0) return 128 - Clz64(hi);
  const uint64_t lo = static_cast<uint64_t>(u);
  return lo == 0 ? 0 : 64 - Clz64(lo);
}

// A finite IEEE value decoded exactly: value = mantissa * 2^exponent.
struct ExactParts {
  int64_t mantissa;
  int exponent;
};

// Mirrors DecodeF32Bits (finite input).
DN_HD ExactParts DecodeF32(uint32_t bits) {
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

// Mirrors DecodeF16Bits (finite input).
DN_HD ExactParts DecodeF16(uint16_t bits) {
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

// Mirrors RoundToIeeeBits<kFracBits, kExpBits> of exact_float.cc: mantissa * 2^exponent
// to the nearest binary format value, ties to even, gradual underflow, overflow to inf.
template <int kFracBits, int kExpBits>
DN_HD uint32_t RoundToIeee(i128 mantissa, int exponent) {
  constexpr int kBias = (1 << (kExpBits - 1)) - 1;
  constexpr int kMinLsbExponent = 1 - kBias - kFracBits;
  constexpr uint32_t kInfBits = ((1u << kExpBits) - 1) << kFracBits;
  if (mantissa == 0) return 0;
  const uint32_t sign = mantissa < 0 ? (1u << (kFracBits + kExpBits)) : 0;
  const u128 magnitude = mantissa < 0 ? u128(0) - u128(mantissa) : u128(mantissa);
  const int length = BitLength128(magnitude);
  const int top = length - 1 + exponent;
  int lsb = top - kFracBits;
  if (lsb < kMinLsbExponent) lsb = kMinLsbExponent;
  u128 significand;
  if (lsb <= exponent) {
    significand = magnitude << (exponent - lsb);
  } else {
    const int shift = lsb - exponent;
    if (shift >= 129) {
      significand = 0;
    } else if (shift == 128) {
      significand = magnitude > (u128(1) << 127) ? 1 : 0;
    } else {
      const u128 q = magnitude >> shift;
      const u128 rem = magnitude - (q << shift);
      const u128 half = u128(1) << (shift - 1);
      significand = (rem > half || (rem == half && (q & 1) != 0)) ? q + 1 : q;
    }
  }
  if (significand >> (kFracBits + 1)) {  // rounding carried into a new leading bit
    significand >>= 1;
    ++lsb;
  }
  if (significand == 0) return sign;
  if ((significand >> kFracBits) == 0) return sign | static_cast<uint32_t>(significand);
  const int biased = lsb + kFracBits + kBias;
  if (biased >= (1 << kExpBits) - 1) return sign | kInfBits;
  return sign | (static_cast<uint32_t>(biased) << kFracBits) |
         (static_cast<uint32_t>(significand) & ((1u << kFracBits) - 1));
}

// Mirrors RoundToF32Bits / RoundToF16Bits.
DN_HD uint32_t RoundF32(i128 mantissa, int exponent) {
  return RoundToIeee<23, 8>(mantissa, exponent);
}
DN_HD uint16_t RoundF16(i128 mantissa, int exponent) {
  return static_cast<uint16_t>(RoundToIeee<10, 5>(mantissa, exponent));
}

// Mirrors RoundQuotientToF32Bits / RoundQuotientToF16Bits for |mantissa| < 2^24 and
// 0 < divisor < 2^7 (the quantize ops divide by 127). (|m| << 39) / divisor has at
// least 32 significant bits, more than binary32's 24 + a guard bit; a nonzero
// remainder becomes a sticky bit below them, so ties and non-ties stay what they are
// and the single rounding is the same as on the exact quotient. All in 64 bits.
template <bool kF16>
DN_HD uint32_t RoundQuotient(int64_t mantissa, int exponent, int64_t divisor) {
  constexpr int kExtraBits = 39;
  const bool negative = mantissa < 0;
  const uint64_t num = static_cast<uint64_t>(negative ? -mantissa : mantissa) << kExtraBits;
  const uint64_t q = num / static_cast<uint64_t>(divisor);
  const uint64_t rem = num - q * static_cast<uint64_t>(divisor);
  const int64_t m = static_cast<int64_t>((q << 1) | (rem != 0 ? 1 : 0));
  const i128 signed_m = negative ? -i128(m) : i128(m);
  if (kF16) return RoundF16(signed_m, exponent - kExtraBits - 1);
  return RoundF32(signed_m, exponent - kExtraBits - 1);
}

// Mirrors reference::QuantizeExact: clamp(round_half_even(x / s), -127, 127) on the
// exact rational, for finite x and s > 0 (both decoded). |mantissas| < 2^24.
DN_HD int8_t QuantizeExactParts(ExactParts x, ExactParts s) {
  if (x.mantissa == 0) return 0;
  const int shift = x.exponent - s.exponent;
  const bool negative = x.mantissa < 0;
  const uint64_t mx = static_cast<uint64_t>(negative ? -x.mantissa : x.mantissa);
  const uint64_t ms = static_cast<uint64_t>(s.mantissa);
  uint64_t num, den;
  if (shift >= 0) {
    // mx >= 1, ms < 2^24: for shift >= 32, mx * 2^shift >= 2^32 > 128 * ms, so the
    // rounded quotient is >= 128 and clamps. Below that, num < 2^56.
    if (shift >= 32) return negative ? -127 : 127;
    num = mx << shift;
    den = ms;
  } else {
    // mx < 2^24 and ms >= 1: for -shift >= 26 the quotient is below 1/4 and rounds
    // to 0. Below that, den < 2^50.
    if (-shift >= 26) return 0;
    num = mx;
    den = ms << (-shift);
  }
  uint64_t q = num / den;
  const uint64_t rem = num - q * den;
  if (rem > den - rem || (rem == den - rem && (q & 1) != 0)) ++q;
  if (q > 127) q = 127;
  const int v = static_cast<int>(q);
  return static_cast<int8_t>(negative ? -v : v);
}

// |x| as f32 bits: for finite non-negative floats the bit patterns order like the
// values, so max |x| is an unsigned integer max (as reference MaxAbsBits).
DN_HD uint32_t AbsBits(uint32_t bits) { return bits & 0x7FFFFFFFu; }

// The kQuantizeS8Row scale round_f32(amax / 127) and the kQuantizeQ8_0 block scale
// round_f16(amax / 127) from the bits of amax (0 for an all-zero row / block).
DN_HD uint32_t S8RowScaleBits(uint32_t amax_bits) {
  const ExactParts amax = DecodeF32(amax_bits);
  return amax.mantissa == 0 ? 0 : RoundQuotient<false>(amax.mantissa, amax.exponent, 127);
}
DN_HD uint16_t Q8_0ScaleBits(uint32_t amax_bits) {
  const ExactParts amax = DecodeF32(amax_bits);
  return amax.mantissa == 0
             ? 0
             : static_cast<uint16_t>(RoundQuotient<true>(amax.mantissa, amax.exponent, 127));
}

// s8 x s8 dot product of 4 packed bytes, exact: the device uses dp4a (an exact
// integer instruction, no saturation), the host the obvious loop.
DN_HD int Dot4S8(uint32_t a, uint32_t b, int acc) {
#if defined(__CUDA_ARCH__)
  return __dp4a(static_cast<int>(a), static_cast<int>(b), acc);
#else
  for (int i = 0; i < 4; ++i) {
    acc += static_cast<int8_t>(a >> (8 * i)) * static_cast<int8_t>(b >> (8 * i));
  }
  return acc;
#endif
}

// kMatMulS8F32 epilogue for one element: round_f32(a_scale * w_scale * isum) with the
// exact int128 product (|product| < 2^24 * 2^24 * 2^31 = 2^79). Mirrors
// reference::MatMulS8F32.
DN_HD uint32_t ScaleS8Element(int32_t isum, uint32_t a_scale_bits, uint32_t w_scale_bits) {
  const ExactParts sa = DecodeF32(a_scale_bits);
  const ExactParts sw = DecodeF32(w_scale_bits);
  const i128 mantissa = i128(sa.mantissa * sw.mantissa) * isum;
  return RoundF32(mantissa, sa.exponent + sw.exponent);
}

}  // namespace datanode::ops::cuda

#endif  // DATANODE_OPS_CUDA_EXACT_MATH_CUH_
