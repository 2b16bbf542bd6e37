// Copyright 2026 The datanode Authors.
//
// Spec §8.10 attention on the CPU: the driver (validation, q rounding, max, weights,
// final quotients, threads over heads) and the portable inner loops. The inner loops
// compute the reference's exact int128 sums in doubles (see llm_kernels.h):
// - Dots: q_j * 2^8 * k_pj is exact (an f16 x f16 product scaled by a power of two,
//   |t| < 2^40, a multiple of 2^-40); t = floor(t) + frac(t), both exact. Per position
//   the integer parts sum to < 512 * 2^40 and the fractions to < 512 with 2^-40 steps:
//   both below 2^53, exact in any order. D_p = (sum floor + sum frac) * 2^40 (units 2^-48).
// - WeightedV: x = w_p * v_pj * 2^-16 is exact (41-bit w times an 11-bit mantissa),
//   |x| < 2^40, a multiple of 2^-40; split the same way and summed over blocks of
//   kVBlock positions (sums < 2^52), each block flushed into int128.
// Every per-head result is a complete output on its own, so threads split over heads.
#include <atomic>
#include <cmath>
#include <vector>

#include "datanode/ops/exact_float.h"
#include "datanode/ops/llm.h"
#include "ops/cpu/llm_kernels.h"
#include "ops/cpu/q8_common.h"
#include "ops/reference/fixed_point.h"

namespace datanode::ops::cpu::llm_kernels {
namespace {

namespace fixed = ops::llm::fixed;

constexpr int64_t kMaxPositions = int64_t{1} << 20;
constexpr int64_t kExpCap = int64_t{1} << 42;

int64_t ScoreToLog2Q40(int head_dim) {
  const uint128 l = static_cast<uint128>(fixed::kLog2eQ38);
  return static_cast<int64_t>(fixed::ISqrt128((16 * l * l) / static_cast<uint64_t>(head_dim)));
}

// round_f32(num * 2^-24 / den), 0 < den < 2^61, |num| < 2^102, the exact quotient rounded
// once: one 128 / 64 division to a 62-63 bit quotient plus a sticky bit (far below the
// 25 bits the rounding inspects), then the integer rounding of q8_common.
uint32_t RoundQuotientF32(int128 num, uint64_t den) {
  if (num == 0) return 0;
  const bool negative = num < 0;
  uint128 mag = negative ? uint128(0) - uint128(num) : uint128(num);
  // Shift mag to bitlen(den) + 62 bits: mag in [den * 2^61, den * 2^63), q < 2^63.
  const int shift = fixed::BitLength64(den) + 62 - fixed::BitLength128(mag);
  if (shift < 0) {  // not reached for Attend's bounds; the spec routine decides
    return fixed::RoundQuotient128ToF32Bits(num, -24, den);
  }
  mag <<= shift;
  const uint128 q = mag / den;
  uint64_t q64 = static_cast<uint64_t>(q);
  if (q * den != mag) q64 |= 1;
  const int64_t m = negative ? -static_cast<int64_t>(q64) : static_cast<int64_t>(q64);
  return q8::RoundI64ToF32Bits(m, -24 - shift);
}

struct Kernels {
  DotsFn dots;
  WeightsFn weights;
  WeightedVFn weighted_v;
};

Kernels ForIsa(Isa isa) {
  switch (isa) {
    case Isa::kAvx512Vnni:
      return {DotsAvx512, WeightsAvx512, WeightedVAvx512};
    case Isa::kAvx2:
      return {DotsAvx2, WeightsAvx2, WeightedVAvx2};
    case Isa::kPortable:
      break;
  }
  return {DotsPortable, WeightsPortable, WeightedVPortable};
}

// Steps 2-3 of spec §8.10 for one query head: the weights of its n dots, and their total.
int64_t WeightsOfDots(WeightsFn weights_fn, const int128* dots, int64_t n, int64_t c_q40,
                      int64_t* weights) {
  int128 dmax = dots[0];
  for (int64_t p = 1; p < n; ++p) {
    if (dots[p] > dmax) dmax = dots[p];
  }
  std::vector<int64_t> ys(static_cast<size_t>(n));
  for (int64_t p = 0; p < n; ++p) {
    const int128 diff = dmax - dots[p];
    int64_t y = kExpCap;
    if (diff < (int128{1} << 59)) {
      const uint128 scaled =
          (uint128{static_cast<uint64_t>(diff)} * static_cast<uint64_t>(c_q40)) >> 58;
      if (scaled < static_cast<uint128>(kExpCap)) y = static_cast<int64_t>(scaled);
    }
    ys[p] = y;
  }
  weights_fn(ys.data(), n, weights);
  int64_t total = 0;
  for (int64_t p = 0; p < n; ++p) total += weights[p];
  return total;
}

// Step 4: out_j = round_f32(acc_j * 2^-24 / total).
void FinishHead(const int128* acc, int64_t total, int hd, float* out) {
  // The quotient in doubles is within 2^-50 (relative) of the exact one; where every value
  // within 2^-45 of it rounds to the same f32, that f32 is the exact quotient rounded
  // (rounding is monotone). Otherwise, near the subnormal range, or in a non-default
  // float environment (another rounding mode, FTZ), the exact routine.
  const double scale = 0x1p-24 / static_cast<double>(total);
  const bool float_env = DefaultFloatEnv();
  for (int j = 0; j < hd; ++j) {
    const uint128 mag = acc[j] < 0 ? uint128(0) - uint128(acc[j]) : uint128(acc[j]);
    const double qd = (static_cast<double>(static_cast<uint64_t>(mag >> 64)) * 0x1p64 +
                       static_cast<double>(static_cast<uint64_t>(mag))) *
                      scale;
    const float lo = static_cast<float>(qd * (1 - 0x1p-45));
    const float hi = static_cast<float>(qd * (1 + 0x1p-45));
    if (float_env && qd > 0x1p-120 && F32ToBits(lo) == F32ToBits(hi)) {
      out[j] = acc[j] < 0 ? -lo : lo;
    } else {
      out[j] = BitsToF32(RoundQuotientF32(acc[j], static_cast<uint64_t>(total)));
    }
  }
}

// One query head: returns false if the cache holds a non-finite value.
bool AttendHead(const Kernels& kernels, const float* q, const uint8_t* k, const uint8_t* v,
                int64_t stride, int hd, int64_t n, int64_t c_q40, float* out) {
  float q8[512];
  for (int j = 0; j < hd; ++j) {
    q8[j] = F16BitsToF32(F32ToF16SatBits(F32ToBits(q[j]))) * 256.0f;  // exact
  }
  std::vector<int128> dots(static_cast<size_t>(n));
  if (!kernels.dots(q8, k, stride, hd, n, dots.data())) return false;
  std::vector<int64_t> weights(static_cast<size_t>(n));
  const int64_t total = WeightsOfDots(kernels.weights, dots.data(), n, c_q40, weights.data());
  int128 acc[512];
  std::fill(acc, acc + hd, int128{0});
  if (!kernels.weighted_v(weights.data(), v, stride, hd, n, acc)) return false;
  FinishHead(acc, total, hd, out);
  return true;
}

// ceil(log2(hd)) for hd in [32, 512].
int CeilLog2(int hd) {
  int b = 0;
  while ((1 << b) < hd) ++b;
  return b;
}

// AttendRows' work for KV head g and rows [r0, r1) of the pass (every query head of the
// group, each row at position first_pos + r): K and V in blocks of kPosBlock positions,
// converted once and read by all these queries. Returns false on a non-finite K / V value.
//
// Dots without splitting (the fast path): a nonzero f16 with biased exponent field e is a
// multiple of 2^(max(e,1) - 25) and below 2^(e - 14) in magnitude, so the hd products of
// one dot are multiples of G = 2^(lo_q + lo_k - 50) and their absolute sum is below hd *
// 2^(hi_q + hi_k - 28) (lo / hi: the least max(e,1) / the largest e over nonzero values;
// q8 = q * 2^8 shifts both sides alike). When log2(hd) + (hi_q - lo_q) + (hi_k - lo_k) <=
// 31, every partial sum in any order is a multiple of G below 2^53 G: exact in a double,
// so FMAs compute the dot exactly. The K side is taken over 8 positions at a time; other
// groups use the split sums of llm_attention_avx512.cc's Dots (floor and fraction).
bool AttendChunkAvx512(const llm::AttentionShape& shape, const float* q, const uint8_t* k_cache,
                       const uint8_t* v_cache, int64_t first_pos, int64_t r0, int64_t r1, int g,
                       int64_t c_q40, float* out) {
  const int hd = shape.head_dim;
  const int group = shape.n_heads / shape.n_kv_heads;
  const int64_t q_size = int64_t{shape.n_heads} * hd;
  const int64_t stride = llm::KvRowBytes(shape);
  const int64_t kv_byte = int64_t{g} * hd * 2;
  const int64_t n_max = first_pos + r1;
  const int64_t nq = (r1 - r0) * group;
  const int limit = 31 - CeilLog2(hd);
  // Query qi = (row r0 + qi / group, head g * group + qi % group).
  auto q_row = [&](int64_t qi) { return r0 + qi / group; };
  auto q_head = [&](int64_t qi) { return g * group + static_cast<int>(qi % group); };
  std::vector<double> q8(static_cast<size_t>(nq * hd));
  std::vector<int> q_spread(static_cast<size_t>(nq));
  for (int64_t qi = 0; qi < nq; ++qi) {
    const float* src = q + q_row(qi) * q_size + int64_t{q_head(qi)} * hd;
    int lo = 64, hi = -64;
    for (int j = 0; j < hd; ++j) {
      const uint16_t h = F32ToF16SatBits(F32ToBits(src[j]));
      q8[qi * hd + j] = static_cast<double>(F16BitsToF32(h)) * 256.0;  // exact
      if ((h & 0x7FFFu) != 0) {
        const int e = (h >> 10) & 31;
        lo = std::min(lo, std::max(e, 1));
        hi = std::max(hi, e);
      }
    }
    q_spread[qi] = hi - lo;  // negative: q is zero, every product is
  }
  auto n_of = [&](int64_t qi) { return first_pos + q_row(qi) + 1; };

  // Dots, block by block.
  std::vector<int128> dots(static_cast<size_t>(nq * n_max));
  q8::AlignedArray<double> block(static_cast<int64_t>(kPosBlock) * hd);
  int32_t e_lo[kPosBlock], e_hi[kPosBlock];
  int128 block_dots[kMaxBlockQueries * kPosBlock];
  for (int64_t pb = 0; pb < n_max; pb += kPosBlock) {
    const int np = static_cast<int>(std::min<int64_t>(kPosBlock, n_max - pb));
    if (!KBlockAvx512(k_cache + pb * stride + kv_byte, stride, hd, np, block.data(), e_lo, e_hi)) {
      return false;
    }
    int k_spread[kPosBlock / 8];
    for (int gi = 0; gi < kPosBlock / 8; ++gi) {
      int lo = 64, hi = 0;
      for (int p = 8 * gi; p < 8 * gi + 8; ++p) {
        lo = std::min(lo, e_lo[p]);
        hi = std::max(hi, e_hi[p]);
      }
      k_spread[gi] = hi - lo;
    }
    // Queries in batches of up to kMaxBlockQueries (each K load feeds all of a batch).
    for (int64_t q0 = 0; q0 < nq; q0 += kMaxBlockQueries) {
      const int64_t q1 = std::min<int64_t>(nq, q0 + kMaxBlockQueries);
      const double* batch[kMaxBlockQueries];
      bool fast[kMaxBlockQueries * kPosBlock / 8];
      int batch_n = 0, groups = 0;
      int64_t members[kMaxBlockQueries];
      for (int64_t qi = q0; qi < q1; ++qi) {
        const int64_t n = n_of(qi);
        if (n <= pb) continue;
        const int count = static_cast<int>(std::min<int64_t>(kPosBlock, n - pb));
        groups = std::max(groups, (count + 7) / 8);
        for (int gi = 0; gi < kPosBlock / 8; ++gi) {
          fast[batch_n * (kPosBlock / 8) + gi] =
              q_spread[qi] < 0 || k_spread[gi] < 0 || q_spread[qi] + k_spread[gi] <= limit;
        }
        batch[batch_n] = q8.data() + qi * hd;
        members[batch_n++] = qi;
      }
      if (batch_n == 0) continue;
      DotsBlockAvx512(batch, batch_n, hd, block.data(), groups, fast, block_dots);
      for (int i = 0; i < batch_n; ++i) {
        const int64_t qi = members[i];
        const int count = static_cast<int>(std::min<int64_t>(kPosBlock, n_of(qi) - pb));
        std::copy(block_dots + i * kPosBlock, block_dots + i * kPosBlock + count,
                  dots.begin() + qi * n_max + pb);
      }
    }
  }

  // Weights per query.
  std::vector<int64_t> weights(static_cast<size_t>(nq * n_max));
  std::vector<int64_t> totals(static_cast<size_t>(nq));
  for (int64_t qi = 0; qi < nq; ++qi) {
    totals[qi] = WeightsOfDots(WeightsAvx512, dots.data() + qi * n_max, n_of(qi), c_q40,
                               weights.data() + qi * n_max);
  }

  // Weighted V sums, block by block; the double sums are flushed into int128 every kVBlock
  // positions (their bound, llm_kernels.h) and at each query's end.
  std::vector<double> ints(static_cast<size_t>(nq * hd)), fracs(ints.size());
  std::vector<int128> acc(ints.size());
  for (int64_t pb = 0; pb < n_max; pb += kPosBlock) {
    const int np = static_cast<int>(std::min<int64_t>(kPosBlock, n_max - pb));
    if (!VBlockAvx512(v_cache + pb * stride + kv_byte, stride, hd, np, block.data())) {
      return false;
    }
    for (int64_t qi = 0; qi < nq; ++qi) {
      const int64_t n = n_of(qi);
      if (n <= pb) continue;
      const int count = static_cast<int>(std::min<int64_t>(kPosBlock, n - pb));
      double* qi_ints = ints.data() + qi * hd;
      double* qi_fracs = fracs.data() + qi * hd;
      WeightedVBlockAvx512(weights.data() + qi * n_max + pb, block.data(), hd, count, qi_ints,
                           qi_fracs);
      if ((pb + kPosBlock) % kVBlock == 0 || pb + count == n) {
        int128* a = acc.data() + qi * hd;
        for (int j = 0; j < hd; ++j) {
          a[j] += (int128{static_cast<int64_t>(qi_ints[j])} << 40) +
                  static_cast<int64_t>(qi_fracs[j] * 0x1p40);
          qi_ints[j] = qi_fracs[j] = 0;
        }
      }
    }
  }
  for (int64_t qi = 0; qi < nq; ++qi) {
    FinishHead(acc.data() + qi * hd, totals[qi], hd,
               out + q_row(qi) * q_size + int64_t{q_head(qi)} * hd);
  }
  return true;
}

}  // namespace

void WeightsPortable(const int64_t* y, int64_t n, int64_t* w) {
  for (int64_t p = 0; p < n; ++p) {
    w[p] = y[p] > kZeroWeightY ? 0 : fixed::WeightQ40(fixed::Exp2NegQ30(y[p]));
  }
}

bool DotsPortable(const float* q8, const uint8_t* k, int64_t stride, int hd, int64_t n,
                  int128* dots) {
  for (int64_t p = 0; p < n; ++p) {
    const uint8_t* row = k + p * stride;
    double ints = 0, fracs = 0;
    for (int j = 0; j < hd; ++j) {
      const double t = static_cast<double>(q8[j] * F16BitsToF32(LoadU16(row + 2 * j)));
      const double f = std::floor(t);
      ints += f;
      fracs += t - f;
    }
    if (!std::isfinite(ints) || !std::isfinite(fracs)) return false;
    dots[p] = (int128{static_cast<int64_t>(ints)} << 40) + static_cast<int64_t>(fracs * 0x1p40);
  }
  return true;
}

bool WeightedVPortable(const int64_t* w, const uint8_t* v, int64_t stride, int hd, int64_t n,
                       int128* acc) {
  double ints[512], fracs[512];
  for (int64_t p0 = 0; p0 < n; p0 += kVBlock) {
    const int64_t p1 = std::min(n, p0 + kVBlock);
    for (int j = 0; j < hd; ++j) ints[j] = fracs[j] = 0;
    for (int64_t p = p0; p < p1; ++p) {
      const double ws = static_cast<double>(w[p]) * 0x1p-16;
      const uint8_t* row = v + p * stride;
      for (int j = 0; j < hd; ++j) {
        const double x = ws * static_cast<double>(F16BitsToF32(LoadU16(row + 2 * j)));
        const double f = std::floor(x);
        ints[j] += f;
        fracs[j] += x - f;
      }
    }
    for (int j = 0; j < hd; ++j) {
      if (!std::isfinite(ints[j]) || !std::isfinite(fracs[j])) return false;
      acc[j] +=
          (int128{static_cast<int64_t>(ints[j])} << 40) + static_cast<int64_t>(fracs[j] * 0x1p40);
    }
  }
  return true;
}

absl::Status Attend(Isa isa, ThreadPool* pool, const llm::AttentionShape& shape,
                    std::span<const float> q, ByteSpan k_cache, ByteSpan v_cache,
                    int64_t n_positions, std::span<float> out) {
  auto reference = [&] { return llm::Attend(shape, q, k_cache, v_cache, n_positions, out); };
  if (!llm::ValidateAttentionShape(shape).ok()) return reference();
  const int hd = shape.head_dim;
  const int64_t q_size = int64_t{shape.n_heads} * hd;
  const int64_t row_bytes = llm::KvRowBytes(shape);
  if (static_cast<int64_t>(q.size()) != q_size || static_cast<int64_t>(out.size()) != q_size ||
      n_positions < 1 || n_positions > kMaxPositions ||
      static_cast<int64_t>(k_cache.size()) < n_positions * row_bytes ||
      static_cast<int64_t>(v_cache.size()) < n_positions * row_bytes) {
    return reference();
  }
  for (float x : q) {
    if ((F32ToBits(x) & 0x7F800000u) == 0x7F800000u) return reference();
  }
  const Kernels kernels = ForIsa(isa);
  const int64_t c_q40 = ScoreToLog2Q40(hd);
  const int group = shape.n_heads / shape.n_kv_heads;
  std::atomic<bool> finite{true};
  auto head = [&](int64_t h) {
    const int64_t kv_byte = int64_t{static_cast<int>(h) / group} * hd * 2;
    if (!AttendHead(kernels, q.data() + h * hd, k_cache.data() + kv_byte, v_cache.data() + kv_byte,
                    row_bytes, hd, n_positions, c_q40, out.data() + h * hd)) {
      finite.store(false, std::memory_order_relaxed);
    }
  };
  // A decode step at a short context costs a few microseconds: not worth a hand-off.
  if (pool != nullptr && pool->num_threads() > 1 && shape.n_heads > 1 &&
      n_positions * q_size >= 65536) {
    pool->ParallelFor(shape.n_heads, head);
  } else {
    for (int64_t h = 0; h < shape.n_heads; ++h) head(h);
  }
  // A non-finite cache value: the reference names it.
  if (!finite.load()) return reference();
  return absl::OkStatus();
}

absl::Status AttendRows(Isa isa, ThreadPool* pool, const llm::Kernels& self,
                        const llm::AttentionShape& shape, std::span<const float> q,
                        ByteSpan k_cache, ByteSpan v_cache, int64_t first_pos, int64_t rows,
                        std::span<float> out) {
  auto per_row = [&] {
    return self.llm::Kernels::AttendRows(shape, q, k_cache, v_cache, first_pos, rows, out);
  };
  if (isa != Isa::kAvx512Vnni || rows < 2 || !llm::ValidateAttentionShape(shape).ok()) {
    return per_row();
  }
  const int hd = shape.head_dim;
  const int64_t q_size = int64_t{shape.n_heads} * hd;
  const int64_t row_bytes = llm::KvRowBytes(shape);
  const int64_t n_max = first_pos + rows;
  if (static_cast<int64_t>(q.size()) != rows * q_size || out.size() != q.size() || first_pos < 0 ||
      n_max > kMaxPositions || static_cast<int64_t>(k_cache.size()) < n_max * row_bytes ||
      static_cast<int64_t>(v_cache.size()) < n_max * row_bytes) {
    return per_row();
  }
  for (float x : q) {
    if ((F32ToBits(x) & 0x7F800000u) == 0x7F800000u) return per_row();
  }
  const int64_t c_q40 = ScoreToLog2Q40(hd);
  // Rows per task: each task converts its positions' K / V once for rows x group queries.
  constexpr int64_t kRowChunk = 8;
  const int64_t chunks = (rows + kRowChunk - 1) / kRowChunk;
  std::atomic<bool> finite{true};
  auto task = [&](int64_t t) {
    const int g = static_cast<int>(t % shape.n_kv_heads);
    // Last rows (the longest contexts) first, so the pool ends on short tasks.
    const int64_t r0 = (chunks - 1 - t / shape.n_kv_heads) * kRowChunk;
    if (!AttendChunkAvx512(shape, q.data(), k_cache.data(), v_cache.data(), first_pos, r0,
                           std::min(rows, r0 + kRowChunk), g, c_q40, out.data())) {
      finite.store(false, std::memory_order_relaxed);
    }
  };
  const int64_t tasks = chunks * shape.n_kv_heads;
  if (pool != nullptr) {
    pool->ParallelFor(tasks, task);
  } else {
    for (int64_t t = 0; t < tasks; ++t) task(t);
  }
  // A non-finite cache value: every row as Attend would report it.
  if (!finite.load()) return per_row();
  return absl::OkStatus();
}

}  // namespace datanode::ops::cpu::llm_kernels
