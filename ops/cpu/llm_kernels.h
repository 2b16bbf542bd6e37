// Copyright 2026 The datanode Authors.
//
// The CPU backend's LLM ops (spec v2, llm.h): byte-equal to the reference for every
// kernel family and thread count. The exact-arithmetic tricks they use:
// - f16 x f16 products are exact in f32 (22-bit mantissas, exponents >= -48), and an
//   exact double t splits exactly into floor(t) and t - floor(t); summing each part in
//   doubles is exact while the sums stay below 2^53 (the bounds are stated at each use),
//   so attention's int128 dot products and weighted V sums are computed in SIMD doubles.
// - Elementwise ops round an exact product once with a short integer fast path.
// Invalid inputs (non-finite values, bad sizes) are handed to the reference, so the
// error status is the reference's own.
#ifndef DATANODE_OPS_CPU_LLM_KERNELS_H_
#define DATANODE_OPS_CPU_LLM_KERNELS_H_

#include <xmmintrin.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

#include "absl/status/status.h"
#include "datanode/ops/exact_float.h"
#include "datanode/ops/llm_kernels.h"
#include "ops/cpu/cpu_features.h"
#include "ops/cpu/thread_pool.h"

namespace datanode::ops::cpu {

// The kernel set for `isa`, running parallel parts on `pool` (which must outlive it).
std::unique_ptr<llm::Kernels> CreateCpuLlmKernels(Isa isa, ThreadPool* pool);

namespace llm_kernels {

// Attention inner loops, one per kernel family. `q8` holds one head's query, rounded to
// f16 and scaled by 2^8 (exact f32 values); k / v point at position 0's f16 values of the
// KV head (little-endian), `stride` bytes apart per position.
//
// Dots: dots[p] = sum_j q_j * k_pj for p in [0, n), exactly, in units of 2^-48. Returns
// false if a K value is not finite.
using DotsFn = bool (*)(const float* q8, const uint8_t* k, int64_t stride, int hd, int64_t n,
                        int128* dots);
// WeightedV: acc[j] += sum_p w[p] * v_pj for p in [0, n), exactly, in units of 2^-24
// (w[p] <= 2^40). Returns false if a V value is not finite (zero weights included).
using WeightedVFn = bool (*)(const int64_t* w, const uint8_t* v, int64_t stride, int hd, int64_t n,
                             int128* acc);

// Weights: w[p] = WeightQ40(Exp2NegQ30(y[p])) (spec §8.2) for y[p] in [0, 2^42], with the
// zero weights of y > 40 * 2^30 (k <= -41) not evaluated.
using WeightsFn = void (*)(const int64_t* y, int64_t n, int64_t* w);
void WeightsPortable(const int64_t* y, int64_t n, int64_t* w);
void WeightsAvx2(const int64_t* y, int64_t n, int64_t* w);
void WeightsAvx512(const int64_t* y, int64_t n, int64_t* w);
// y above this gives k <= -41 and a zero weight (WeightQ40's shift <= -31).
inline constexpr int64_t kZeroWeightY = int64_t{40} << 30;

bool DotsPortable(const float* q8, const uint8_t* k, int64_t stride, int hd, int64_t n,
                  int128* dots);
bool WeightedVPortable(const int64_t* w, const uint8_t* v, int64_t stride, int hd, int64_t n,
                       int128* acc);
bool DotsAvx2(const float* q8, const uint8_t* k, int64_t stride, int hd, int64_t n, int128* dots);
bool WeightedVAvx2(const int64_t* w, const uint8_t* v, int64_t stride, int hd, int64_t n,
                   int128* acc);
bool DotsAvx512(const float* q8, const uint8_t* k, int64_t stride, int hd, int64_t n, int128* dots);
bool WeightedVAvx512(const int64_t* w, const uint8_t* v, int64_t stride, int hd, int64_t n,
                     int128* acc);

// Blocked attention (AttendRows, llm_attention_avx512.cc): a block is kPosBlock positions
// of one KV head. KBlock: kt[j * kPosBlock + p] = k_pj as doubles (zero for p >= np), and
// per position the least max(e, 1) / the largest e over the biased f16 exponent fields of
// its nonzero values (64 / 0 for an all-zero row); false if a value is not finite.
// DotsBlock: for nq (1..kMaxBlockQueries) queries q8[i] (f16-rounded q * 2^8 as doubles),
// dots[i * kPosBlock + p] for p < 8 * groups (units 2^-48) against the block, where
// fast[i * kPosBlock / 8 + g] says the caller proved positions 8g..8g+7 exact as plain
// double sums. VBlock: vb[p * hd + j] = v_pj;
// false if a value is not finite. WeightedVBlock: ints / fracs[j] += the floor / fraction
// sums of w[p] * v_pj * 2^-16 over p < np (llm_attention.cc bounds them).
inline constexpr int kPosBlock = 64;
inline constexpr int kMaxBlockQueries = 3;
bool KBlockAvx512(const uint8_t* k, int64_t stride, int hd, int np, double* kt, int32_t* e_lo,
                  int32_t* e_hi);
void DotsBlockAvx512(const double* const* q8, int nq, int hd, const double* kt, int groups,
                     const bool* fast, int128* dots);
bool VBlockAvx512(const uint8_t* v, int64_t stride, int hd, int np, double* vb);
void WeightedVBlockAvx512(const int64_t* w, const double* vb, int hd, int np, double* ints,
                          double* fracs);

// The ops (drivers in llm_attention.cc, llm_elementwise.cc). Each returns the reference's
// own status for an invalid input.
absl::Status Attend(Isa isa, ThreadPool* pool, const llm::AttentionShape& shape,
                    std::span<const float> q, ByteSpan k_cache, ByteSpan v_cache,
                    int64_t n_positions, std::span<float> out);

// Kernels::AttendRows: the kAvx512Vnni family runs tasks of (KV head, 8 rows) over the
// blocks above; other families, and any input Attend would reject (checked up front, or a
// non-finite cache value met on the way), take `self`'s per-row loop.
absl::Status AttendRows(Isa isa, ThreadPool* pool, const llm::Kernels& self,
                        const llm::AttentionShape& shape, std::span<const float> q,
                        ByteSpan k_cache, ByteSpan v_cache, int64_t first_pos, int64_t rows,
                        std::span<float> out);

absl::Status RmsNorm(Isa isa, std::span<const float> x, std::span<const float> gain, float eps,
                     std::span<float> out);

// The CPU kernel of each row of elementwise_ops.inc, in ops/cpu/elementwise_<snake>.cc:
// out[i] for i < n from in[0..arity-1] (n >= 1 values each, all finite: checked by
// llm::Kernels::Elementwise), byte-equal to the reference for every `isa`.
#define DATANODE_ELEMENTWISE_OP(Name, snake, arity, inputs) \
  void Name##Cpu(Isa isa, const float* const* in, float* out, size_t n);
#include "datanode/ops/elementwise_ops.inc"
#undef DATANODE_ELEMENTWISE_OP
using ElementwiseCpuFn = void (*)(Isa isa, const float* const* in, float* out, size_t n);
ElementwiseCpuFn ElementwiseCpuKernel(llm::ElementwiseOp op);

// Vector parts of the elementwise ops (llm_elementwise_avx512.cc / _avx2.cc): each needs
// DefaultFloatEnv(). RmsNormScale: out = round_f32(x * g * r * 2^exp); SiluRound: out =
// round_f32(g * u * sigma * 2^sigma_exp) (sigma < 2^33, sigma_exp in [-1000, 1000]);
// Add: out = round_f32(x + y). The AVX-512 ones do all n; the AVX2 ones return how
// many leading elements they did (the rest is the caller's).
void RmsNormScaleAvx512(const float* x, const float* g, uint64_t r, int exp, float* out, size_t n);
void SiluRoundAvx512(const float* g, const float* u, const uint64_t* sigma, const int* sigma_exp,
                     float* out, size_t n);
void AddAvx512(const float* x, const float* y, float* out, size_t n);
// The whole SiluMul (sigma included) on 8 lanes.
void SiluMulAvx512(const float* gate, const float* up, float* out, size_t n);
size_t RmsNormScaleAvx2(const float* x, const float* g, uint64_t r, int exp, float* out, size_t n);
size_t SiluRoundAvx2(const float* g, const float* u, const uint64_t* sigma, const int* sigma_exp,
                     float* out, size_t n);
size_t AddAvx2(const float* x, const float* y, float* out, size_t n);

// Whether MXCSR is the default: round to nearest even, no flush-to-zero, no
// denormals-are-zero. The float shortcuts above (and Attend's quotient estimate) need it;
// otherwise the integer paths run.
inline bool DefaultFloatEnv() { return (_mm_getcsr() & 0xE040u) == 0; }

// 2^e as a double, e in [-1022, 1023].
inline double Pow2(int e) {
  const uint64_t bits = static_cast<uint64_t>(e + 1023) << 52;
  double d;
  std::memcpy(&d, &bits, sizeof(d));
  return d;
}
absl::Status EncodeKvRow(const llm::AttentionShape& shape, std::span<const float> row,
                         std::span<uint8_t> out);
absl::Status RopeApply(Isa isa, const llm::RopeTable& table, int64_t pos, int n_heads, int head_dim,
                       std::span<float> x);

// DecodeF32Bits inline (finite bits; zero of either sign has mantissa 0).
inline ExactValue DecodeF32(float f) {
  const uint32_t bits = F32ToBits(f);
  const int biased = static_cast<int>((bits >> 23) & 0xFF);
  int64_t mantissa = bits & 0x7FFFFF;
  int exponent = -149;
  if (biased != 0) {
    mantissa |= 0x800000;
    exponent = biased - 150;
  }
  return {(bits >> 31) ? -mantissa : mantissa, exponent};
}

// RoundToF32Bits(v, e) for |v| < 2^127: at most 63 bits plus a sticky bit (far below the
// 25 bits rounding inspects) go to the integer rounding of q8_common.
uint32_t RoundI128ToF32Bits(int128 v, int e);

// Whether every value in v is finite.
inline bool AllFinite(std::span<const float> v) {
  uint32_t bad = 0;
  for (float f : v) bad |= ((F32ToBits(f) & 0x7F800000u) == 0x7F800000u);
  return bad == 0;
}

// Positions per exact double block of WeightedV: each part sum stays below 2^53
// (integer parts < 2^40 each, fraction parts multiples of 2^-40 in [0, 1)).
inline constexpr int64_t kVBlock = 4096;

// round_f16_sat of an f32 (spec §8.4), as bits; equals fixed::RoundToF16BitsSaturating.
inline uint16_t F32ToF16SatBits(uint32_t x) {
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t a = x & 0x7FFFFFFFu;
  if (a == 0) return 0;                                                // exact zero: +0
  if (a >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7BFFu);  // >= 65520: saturate
  if (a >= 0x38800000u) {                                              // f16 normal (>= 2^-14)
    const uint32_t m = a - 0x38000000u;                                // rebias 127 -> 15
    return static_cast<uint16_t>(sign | ((m + 0xFFFu + ((m >> 13) & 1u)) >> 13));
  }
  if (a <= 0x33000000u) return static_cast<uint16_t>(sign);  // <= 2^-25: to 0 (tie even)
  const uint32_t e = a >> 23;                                // 102..112
  const uint32_t mant = (a & 0x7FFFFFu) | 0x800000u;
  const uint32_t shift = 126 - e;  // 14..24
  uint32_t q = mant >> shift;
  const uint32_t rem = mant & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  if (rem > half || (rem == half && (q & 1u) != 0)) ++q;
  return static_cast<uint16_t>(sign | q);
}

// The exact f32 value of a finite f16 (inf / NaN map to inf / NaN).
inline float F16BitsToF32(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  const uint32_t e = (h >> 10) & 0x1Fu;
  const uint32_t m = h & 0x3FFu;
  if (e == 0) {
    const float v = static_cast<float>(m) * 0x1p-24f;  // exact
    return sign ? -v : v;
  }
  if (e == 31) return BitsToF32(sign | 0x7F800000u | (m << 13));
  return BitsToF32(sign | ((e + 112) << 23) | (m << 13));
}

}  // namespace llm_kernels
}  // namespace datanode::ops::cpu

#endif  // DATANODE_OPS_CPU_LLM_KERNELS_H_
