// Copyright 2026 The datanode Authors.
#include "ops/cpu/quantize.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "datanode/ops/exact_float.h"
#include "datanode/ops/reference.h"
#include "ops/cpu/llm_kernels.h"
#include "ops/cpu/row_split.h"
#include "ops/reference/quantize_common.h"

namespace datanode::ops::cpu {
namespace {

// reference::QuantizeExact(DecodeF32Bits(x_bits), d) with 64-bit integers where the
// operands provably fit, the reference's int128 routine elsewhere. The quotient x / d is
// the same rational either way: x = mag * 2^xe (mag < 2^24), d = dm * 2^de (0 < dm < 2^11),
// so for shift = xe - de >= 0 it is (mag << shift) / dm, exact in uint64 while shift <= 38
// (< 2^62), and for shift < 0 it is mag / (dm << -shift), exact while -shift <= 51
// (< 2^62). Rounding (half to even on the magnitude, then the sign) and the clamp to
// [-127, 127] are the reference's (DivRoundHalfEven is sign-symmetric).
inline int8_t QuantizeElement(uint32_t x_bits, ExactValue d) {
  const uint32_t e = (x_bits >> 23) & 0xFF;
  const uint64_t frac = x_bits & 0x7FFFFFu;
  if (e == 0 && frac == 0) return 0;  // +-0
  const int shift = (e == 0 ? 1 : static_cast<int>(e)) - 150 - d.exponent;
  if (e == 0xFF || shift > 38 || shift < -51 || d.mantissa <= 0 || d.mantissa >= 2048) {
    return reference::QuantizeExact(DecodeF32Bits(x_bits), d);
  }
  const uint64_t mag = e == 0 ? frac : (frac | 0x800000u);
  const uint64_t n = shift >= 0 ? mag << shift : mag;
  const uint64_t den =
      shift >= 0 ? static_cast<uint64_t>(d.mantissa) : static_cast<uint64_t>(d.mantissa) << -shift;
  uint64_t q = n / den;
  const uint64_t rem = n - q * den;
  if (rem > den - rem || (rem == den - rem && (q & 1) != 0)) ++q;
  const int v = static_cast<int>(std::min<uint64_t>(q, 127));
  return static_cast<int8_t>((x_bits >> 31) != 0 ? -v : v);
}

// d = round_f16(amax / 127) as bits, exactly RoundQuotientToF16Bits(m, e, 127) for the
// block's amax = m * 2^e (0 < m < 2^24): the quotient to 25+ bits (m << 32 fits 56 bits,
// and / 127 by a constant is a multiply) with a sticky bit for the remainder is rounded
// by the same integer rounding; binary16 keeps 11 bits, so 25 bits plus sticky decide it.
inline uint16_t BlockScaleBits(uint32_t amax_bits) {
  const ExactValue amax = DecodeF32Bits(amax_bits);
  if (amax.mantissa == 0) return 0;
  const uint64_t num = static_cast<uint64_t>(amax.mantissa) << 32;
  const uint64_t q = num / 127;
  const uint64_t sticky = num - q * 127 != 0 ? 1 : 0;
  return RoundToF16Bits(int128{static_cast<int64_t>((q << 1) | sticky)}, amax.exponent - 33);
}

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,f16c")
// GCC 12's _mm512_undefined_*() inside the intrinsics self-initializes on purpose.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// The 32 quants of one block with scale d > 0 (d_bits nonzero), inputs validated (finite,
// |x| < 8321040). Needs the default float environment (the caller checks).
// Why doubles give the exact round_half_even(x / d): Q = x / d has |Q| <= 127 (1 + 2^-10);
// x / inv-product in doubles (1/d rounded, then the product rounded) is within 2^-45 of Q.
// A Q that is not a half-integer k + 1/2 is at least 2^-25 away from every one: Q - (k +
// 1/2) = (2x - (2k+1) d) / 2d, whose numerator is a nonzero multiple of 2^min(ex+1, ed)
// (x = mx 2^ex, d = md 2^ed, md < 2^11) and 2d < 2^(12+ed); either 2^ed / 2d >= 2^-12,
// or 2^(ex+1) / 2d, where |Q| >= 1/2 needs 2^(ex+24) > d/2, so > 2^-25 (and |Q| < 1/2
// rounds to 0 from either side). So the double within 2^-30 of a half-integer is an exact
// tie (snapped to it, then rounded half to even), and any other rounds like Q.
void QuantizeBlockAvx512(const uint8_t* x, uint16_t d_bits, uint8_t* q_out) {
  const double d = static_cast<double>(_cvtsh_ss(d_bits));
  const __m512d inv = _mm512_set1_pd(1.0 / d);
  const __m512d half = _mm512_set1_pd(0.5);
  const __m512d window = _mm512_set1_pd(0x1p-30);
  const __m512d lo = _mm512_set1_pd(-127.0), hi = _mm512_set1_pd(127.0);
  for (int part = 0; part < kQBlockSize / 8; ++part) {
    const __m512d xd =
        _mm512_cvtps_pd(_mm256_loadu_ps(reinterpret_cast<const float*>(x) + 8 * part));
    __m512d qd = _mm512_mul_pd(xd, inv);
    const __m512d tie =
        _mm512_add_pd(_mm512_roundscale_pd(qd, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC), half);
    const __mmask8 near =
        _mm512_cmp_pd_mask(_mm512_abs_pd(_mm512_sub_pd(qd, tie)), window, _CMP_LT_OQ);
    qd = _mm512_mask_blend_pd(near, qd, tie);
    const __m512d r = _mm512_min_pd(
        _mm512_max_pd(_mm512_roundscale_pd(qd, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), lo),
        hi);
    const __m128i q8 = _mm256_cvtepi32_epi8(_mm512_cvtpd_epi32(r));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(q_out + 8 * part), q8);
  }
}

// max |x| bits over one block (finite values order like their bits).
uint32_t MaxAbsBitsAvx512(const uint8_t* x) {
  const __m512i mask = _mm512_set1_epi32(0x7FFFFFFF);
  const __m512i a = _mm512_and_si512(_mm512_loadu_si512(x), mask);
  const __m512i b = _mm512_and_si512(_mm512_loadu_si512(x + 64), mask);
  return static_cast<uint32_t>(_mm512_reduce_max_epu32(_mm512_max_epu32(a, b)));
}

#pragma GCC pop_options

}  // namespace

void QuantizeQ8_0Rows(const OpArgs& args, Isa isa) {
  const int64_t blocks_per_row = args.k / kQBlockSize;
  const bool simd = isa == Isa::kAvx512Vnni && llm_kernels::DefaultFloatEnv();
  for (int64_t r = 0; r < args.m; ++r) {
    for (int64_t b = 0; b < blocks_per_row; ++b) {
      const uint8_t* x = &args.a[(r * args.k + b * kQBlockSize) * 4];
      uint8_t* block = &args.out[(r * blocks_per_row + b) * kQ8_0BlockBytes];
      // The block scale exactly as reference::QuantizeQ8_0 computes it.
      const uint16_t d_bits =
          BlockScaleBits(simd ? MaxAbsBitsAvx512(x) : reference::MaxAbsBits(x, kQBlockSize));
      StoreU16(block, d_bits);
      if (d_bits == 0) {
        std::memset(block + 2, 0, kQBlockSize);
        continue;
      }
      if (simd) {
        QuantizeBlockAvx512(x, d_bits, block + 2);
        continue;
      }
      const ExactValue d = DecodeF16Bits(d_bits);
      for (int j = 0; j < kQBlockSize; ++j) {
        block[2 + j] = static_cast<uint8_t>(QuantizeElement(LoadU32(x + 4 * j), d));
      }
    }
  }
}

absl::Status Quantize(const OpArgs& args, Isa isa, ThreadPool& pool) {
  // Quantizing is O(M*K), small beside the matmul it feeds: the reference's exact integer
  // routine (Q8_0 with its division in 64 bits where that is exact), split over rows.
  constexpr int64_t kRowsPerTask = 4;
  const int64_t tasks = (args.m + kRowsPerTask - 1) / kRowsPerTask;
  pool.ParallelFor(tasks, [&](int64_t t) {
    const int64_t begin = t * kRowsPerTask;
    const int64_t end = std::min(args.m, begin + kRowsPerTask);
    const OpArgs slice = RowSlice(args, begin, end);
    if (args.kind == OpKind::kQuantizeS8Row) {
      reference::QuantizeS8Row(slice);
    } else {
      QuantizeQ8_0Rows(slice, isa);
    }
  });
  return absl::OkStatus();
}

}  // namespace datanode::ops::cpu
