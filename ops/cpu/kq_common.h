// Copyright 2026 The datanode Authors.
//
// Shared pieces of the CPU K-quant matmuls (kMatMulQ8_0Q4_K, kMatMulQ8_0Q6_K): the packed
// weight format, the per-call activation metadata, the exactness bound that selects the
// int64 fast path, and the kernels' entry points (one file per instruction set). The design
// is q8_common.h's; this file states what changes for the 256-value super-blocks.
//
// Spec (ops/reference/matmul_q8_0.cc): A block b (32 values) meets slice b % 8 of W's
// super-block b / 8, and
//   V = sum_b da_b * (d_s * (sc0_b * isum0_b + sc1_b * isum1_b) - dmin_s * min_b * asum_b)
// with isum0 / isum1 over the slice's values 0..15 / 16..31 (Q4_K: sc0 = sc1 = the 6-bit
// scale 0..63, min 0..63, quants the nibbles 0..15; Q6_K: the two int8 sub-block scales
// -128..127, no min, quants q6 - 32 in -32..31).
//
// Exactness argument. Write each f16 as mantissa * 2^e (|mantissa| <= 2047, e in [-24, 5]).
// Per row: ea0 = min ea over blocks with ma != 0, sa = span of ea above ea0, ma' = ma <<
// (ea - ea0). Per column: e0 = min over super-blocks of the exponents of d (and dmin) with a
// nonzero mantissa, sw = span above e0. The kernels fold the integer scales into one int32
// weight factor per slice and column:
//   f_b = (md_s << (ed_s - e0)) * sc_b      (Q6_K: f0_b, f1_b for the two halves)
//   g_b = (mm_s << (em_s - e0)) * min_b     (Q4_K only)
// |md * sc| <= 2047 * 63 < 2^17 (Q4_K) and <= 2047 * 128 < 2^18 (Q6_K), so the factor fits a
// signed int32 lane (the vpmuldq operand) only while sw <= kMaxColSpan(kind) = 14 / 13: that
// is the column limit here (q8_common.h's is 20, an 11-bit mantissa alone). Then
//   V = 2^(ea0 + e0) * sum_b ma'_b * T_b,  T_b = f_b * isum_b - g_b * asum_b
//                                          (Q6_K: f0_b * isum0_b + f1_b * isum1_b)
// and each term is computed as ((isum * ma) [int32, |.| < 2^27] * f [int32] -> int64) <<
// (ea - ea0) (the AVX-512 kernels group a super-block's terms before one multiply by
// d's integer; matmul_kq_avx512.cc states why that stays exact). |isum| + |asum| <= 32 * 127 * 16 =
// 65024 (Q4_K; isum alone 60960), |isum0| + |isum1| <= 2 * 16 * 127 * 32 = 130048 (Q6_K), so |term|
// <= 2047 * 2047 * 63 * 65024 * 2^s (Q4_K) / 2047 * 2047 * 128 * 130048 * 2^s (Q6_K), s = sa + sw.
// MaxFastSpan is the largest s for which nb such terms stay <= 2^63 - 1: every partial sum then
// fits an int64 (no wrap, so any order gives the same integer), and the one rounding of V * 2^(ea0
// + e0) equals the reference's. K = 4096: s <= 12 (Q4_K), 10 (Q6_K); K = 130816: 7 / 5. Columns or
// rows beyond that take the slow path: each slice's term in an int128 with LSB 2^-48, exactly the
// reference's.
#ifndef DATANODE_OPS_CPU_KQ_COMMON_H_
#define DATANODE_OPS_CPU_KQ_COMMON_H_

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/exact_float.h"
#include "datanode/ops/kquant.h"
#include "datanode/ops/types.h"
#include "ops/cpu/cpu_features.h"
#include "ops/cpu/q8_common.h"

namespace datanode::ops::cpu::kq {

using q8::AlignedArray;
using q8::kPanelCols;
using q8::kWideSpan;

// Bytes of one panel's super-block of quants. Q4_K: the GGUF nibbles as they are, [slice
// pair c (4)][quad q (8)][column (16)][4 bytes], byte j of (c, q, column) being the
// column's GGUF qs byte 32 c + 4 q + j: its low nibble is value 4 q + j of slice 2 c, its
// high nibble the same value of slice 2 c + 1, so one 64-byte load gives quad q of two
// slices after a mask / a shift. Q6_K, q6 = quant + 32 in 0..63 (the u8 operand of
// vpdpbusd / vpmaddubsw), is packed for the AVX-512 kernel at 6 bits per weight ("planes")
// and for AVX2 / portable at one byte per weight ("wide", kQ6KWideSuperBytes below): the
// AVX-512 kernel rebuilds the planes in registers at streaming speed, while AVX2's rebuild
// halved its decode speed (bench_matmul_q8 --kquant_only, 2026-12-07). The planes are
// stored in the order the kernel reads them: per quad q (8), kQ6KQuadBytes = [high plane g
// (2)][column][4 bytes] then [low plane c (4)][column][4 bytes]. Byte j of (low plane c, column)
// holds the low 4 bits of q6 of value 4 q + j of slice 2 c in its low nibble and of slice 2 c + 1
// in its high nibble; byte j of (high plane g, column) holds in bits 2 k, 2 k + 1 the top 2 bits of
// q6 of value 4 q + j of slice 4 g + k. Reading a super-block front to back keeps the
// hardware prefetcher streaming (a plane-major order ran 3x slower streamed in a stand-alone
// test).
inline constexpr int64_t kPanelVecBytes = 4 * kPanelCols;  // one quad of a panel: 64 B
inline constexpr int64_t kQ4KPanelSuperBytes = kPanelCols * kQKSuperBlockSize / 2;
inline constexpr int64_t kQ6KLowPlane = 2 * kPanelVecBytes;   // after the 2 high planes
inline constexpr int64_t kQ6KQuadBytes = 6 * kPanelVecBytes;  // 2 high + 4 low planes
inline constexpr int64_t kQ6KPanelSuperBytes = 8 * kQ6KQuadBytes;
static_assert(kQ6KPanelSuperBytes * 8 == kPanelCols * kQKSuperBlockSize * 6);
// Offsets, within a panel's super-block, of the high / low plane bytes of value t (0..31)
// of slice b (0..7) in column c; Q6KAt rebuilds q6 (0..63) from them. These three are the
// layout's one statement for Pack, ReadRow and the portable kernel; the SIMD kernels read
// the same planes a vector at a time.
inline int64_t Q6KHighByte(int b, int t, int c) {
  return (t / 4) * kQ6KQuadBytes + (b / 4) * kPanelVecBytes + c * 4 + t % 4;
}
inline int64_t Q6KLowByte(int b, int t, int c) {
  return (t / 4) * kQ6KQuadBytes + kQ6KLowPlane + (b / 2) * kPanelVecBytes + c * 4 + t % 4;
}
inline int Q6KAt(const uint8_t* super, int b, int t, int c) {
  const int low = (super[Q6KLowByte(b, t, c)] >> (4 * (b % 2))) & 15;
  const int high = (super[Q6KHighByte(b, t, c)] >> (2 * (b % 4))) & 3;
  return low | high << 4;
}
// Q6_K one byte (q6) per weight: per super-block [slice (8)][quad (8)][column (16)][4
// bytes]. The AVX2 / portable packing, and the AVX-512 multi-row tiles' per-call copy of a
// panel (WidenScratch).
inline constexpr int64_t kQ6KWideSuperBytes = kKQuantSlices * 8 * kPanelVecBytes;
static_assert(kQ6KWideSuperBytes == kPanelCols * kQKSuperBlockSize);
inline int64_t Q6KWideByte(int b, int t, int c) {
  return (b * 8 + t / 4) * kPanelVecBytes + c * 4 + t % 4;
}
// Integer scale bytes of one panel's super-block as the kernels read them: [row (16)][column
// (16)]. Q4_K: rows 0..7 the slices' 6-bit scales, rows 8..15 their mins (u8); Q6_K: row
// 2 b + h the int8 scale of half h of slice b. Q6_K is stored so; Q4_K is stored as the
// GGUF's 12 packed bytes, [byte j (12)][column (16)] (kQ4KPanelPackedScaleBytes), and each
// kernel unpacks a super-block's rows before use (DecodeQ4KScales and its SIMD twins): 16
// bytes of every 148 per column were the unpacked form's, 2.7% of the streamed Q4_K bytes.
inline constexpr int64_t kPanelSuperScaleBytes = 16 * kPanelCols;
inline constexpr int64_t kQ4KPanelPackedScaleBytes = 12 * kPanelCols;

// A Q4_K panel super-block's packed scale bytes -> the 16 rows above (kquant.cc's
// DecodeQ4_KSlice, per column): scale b < 4 = byte b & 63, min b < 4 = byte b + 4 & 63;
// scale b >= 4 = (byte b + 4 & 15) | (byte b - 4 >> 6) << 4, min b >= 4 = (byte b + 4 >> 4) |
// (byte b >> 6) << 4.
inline void DecodeQ4KScales(const uint8_t* packed, uint8_t* rows) {
  for (int c = 0; c < kPanelCols; ++c) {
    const auto byte = [&](int j) { return packed[j * kPanelCols + c]; };
    for (int b = 0; b < 4; ++b) {
      rows[b * kPanelCols + c] = byte(b) & 63;
      rows[(8 + b) * kPanelCols + c] = byte(b + 4) & 63;
      rows[(4 + b) * kPanelCols + c] =
          static_cast<uint8_t>((byte(b + 8) & 15) | ((byte(b) >> 6) << 4));
      rows[(12 + b) * kPanelCols + c] =
          static_cast<uint8_t>((byte(b + 8) >> 4) | ((byte(b + 4) >> 6) << 4));
    }
  }
}
static_assert(kQ4KPanelSuperBytes == 2048);

// The largest column span whose weight factor fits an int32 lane (see above).
constexpr int MaxColSpan(OpKind kind) { return kind == OpKind::kMatMulQ8_0Q6_K ? 13 : 14; }

// Largest sa + sw for which nb slices of `kind` are exact in int64 (see above); -1 if none.
int MaxFastSpan(OpKind kind, int64_t num_blocks);

// Packed K-quant weights. Columns are padded to a multiple of 16 with zero quants, scales
// and d (their terms are 0). Arrays are [panel][super-block][...]. A prepared tensor takes,
// per column and super-block, Q4_K: 128 B nibbles + 12 B packed scales / mins + 4 B d / dmin =
// 144 B, the GGUF's (4.5 bits per weight); Q6_K planes (AVX-512): 192 B quants + 16 B
// scales + 2 B d = 210 B for 210 (6.56 bits per weight), Q6_K wide (AVX2, portable): 256 B
// quants, 274 B (8.56); plus 8 B per column for e0 and the span.
// Whether `kind` packed for the kernels of `isa` (a q8::KernelIsa() result) keeps Q6_K in
// the 6-bit planes (the AVX-512 packing) rather than one byte per weight.
constexpr bool UsesQ6Planes(OpKind kind, Isa isa) {
  return kind == OpKind::kMatMulQ8_0Q6_K && isa == Isa::kAvx512Vnni;
}

class PackedKqWeights final : public PreparedWeights {
 public:
  // Packs validated weights (no checks here). `isa` is a q8::KernelIsa() result.
  static std::unique_ptr<PackedKqWeights> Pack(const Backend* owner, OpKind kind, int64_t n,
                                               int64_t k, ByteSpan w, Isa isa);

  int64_t SizeBytes() const override;
  // Rebuilds row `row`'s GGUF super-blocks from the packed panels, byte for byte.
  absl::Status ReadRow(int64_t row, std::span<uint8_t> out) const override;

  Isa isa() const { return isa_; }
  bool is_q6() const { return kind() == OpKind::kMatMulQ8_0Q6_K; }
  // Q6_K in 6-bit planes (the AVX-512 packing) rather than one byte per weight.
  bool q6_planes() const { return UsesQ6Planes(kind(), isa_); }
  // q6 (0..63) of value t of slice b in column c of the panel super-block at `super`.
  int Q6At(const uint8_t* super, int b, int t, int c) const {
    return q6_planes() ? Q6KAt(super, b, t, c) : super[Q6KWideByte(b, t, c)];
  }
  int64_t num_supers() const { return num_supers_; }
  int64_t num_panels() const { return num_panels_; }
  int64_t panel_super_bytes() const { return panel_super_bytes_; }

  const uint8_t* quants(int64_t panel) const {
    return quants_.data() + panel * num_supers_ * panel_super_bytes_;
  }
  // The scale bytes of the panel's super-block s: Q6_K the 16 rows above, Q4_K packed.
  const uint8_t* scales(int64_t panel, int64_t s) const {
    return scales_.data() + (panel * num_supers_ + s) * scale_super_bytes_;
  }
  // The f16 bits of d (and dmin for Q4_K) per super-block and column.
  const uint16_t* raw_d(int64_t panel) const {
    return raw_d_.data() + panel * num_supers_ * kPanelCols;
  }
  const uint16_t* raw_m(int64_t panel) const {
    return is_q6() ? nullptr : raw_m_.data() + panel * num_supers_ * kPanelCols;
  }
  // Per (padded) column: e0 and the span (kWideSpan when above MaxColSpan).
  const int32_t* col_exp(int64_t panel) const { return col_exp_.data() + panel * kPanelCols; }
  const int32_t* col_span(int64_t panel) const { return col_span_.data() + panel * kPanelCols; }
  // The largest col_span over all columns (recorded by Pack; q8::CallIsFast).
  int32_t max_col_span() const { return max_col_span_; }

 private:
  PackedKqWeights(const Backend* owner, OpKind kind, int64_t n, int64_t k, Isa isa);

  Isa isa_;
  int64_t num_supers_;
  int64_t num_panels_;
  int64_t panel_super_bytes_;
  int64_t scale_super_bytes_;
  AlignedArray<uint8_t> quants_;
  AlignedArray<uint8_t> scales_;
  AlignedArray<uint16_t> raw_d_;
  AlignedArray<uint16_t> raw_m_;
  AlignedArray<int32_t> col_exp_;
  AlignedArray<int32_t> col_span_;
  int32_t max_col_span_ = 0;
};

// Per-call A metadata: q8::ARows (ma, ea, shift, asum, row exponent and span) plus, for
// Q6_K, the starts of the two half sums: -32 * (sum of the block's quants 0..15 / 16..31),
// so that a dot product of u8 q6 values ends at isum0 / isum1 of the spec's q6 - 32.
struct KqARows {
  q8::ARows base;
  std::vector<int32_t> init_lo;  // Q6_K only, [row][block]
  std::vector<int32_t> init_hi;
};
KqARows PrepareKqARows(const OpArgs& args);

struct Job {
  OpKind kind;
  int64_t m, n, num_supers;
  const uint8_t* a;     // A as given: rows of Q8_0 blocks
  int64_t a_row_bytes;  // num_supers * 8 * 34
  const KqARows* rows;
  const PackedKqWeights* w;
  int max_fast_span;  // MaxFastSpan(kind, num_supers * 8)
  bool all_fast;      // q8::CallIsFast: every tile of the call may use the fast path
  uint8_t* out;       // f32 [m, n]
  uint8_t* exact;     // int128 [m, n] (OpArgs::exact), or nullptr: E is not asked for
};

// Whether rows [r0, r1) x panels [p0, p1) may use the int64 fast path.
bool TileIsFast(const Job& job, int64_t r0, int64_t r1, int64_t p0, int64_t p1);

// The weight factor of one column as the kernels decode it: mantissa(d) << (e(d) - e0)
// (0 for a zero mantissa); requires a fast-path column.
inline int32_t DecodeScale(uint16_t bits, int32_t e0) { return q8::DecodeScale(bits, e0); }

// The slow path's term of one slice and column with LSB 2^-48 (the reference's):
// sc_isum = sc0 * isum0 + sc1 * isum1 (|.| < 2^24), min_asum = min * asum (Q4_K; 0 for Q6_K).
inline int128 ExactSliceTerm(int32_t ma, int32_t ea, uint16_t d_bits, uint16_t dmin_bits,
                             int32_t sc_isum, int32_t min_asum) {
  const ExactValue d = DecodeF16Bits(d_bits);
  int128 t = (int128{int64_t{ma} * d.mantissa} * sc_isum) << (ea + d.exponent + 48);
  if (min_asum != 0) {
    const ExactValue m = DecodeF16Bits(dmin_bits);
    t -= (int128{int64_t{ma} * m.mantissa} * min_asum) << (ea + m.exponent + 48);
  }
  return t;
}

// This thread's 64-byte-aligned buffer for one widened panel of `num_supers` super-blocks
// (kQ6KWideSuperBytes each), reused by later calls on the thread.
uint8_t* WidenScratch(int64_t num_supers);

// Kernels: output rows [r0, r1) x panels [p0, p1) (columns past n are not stored), the
// fast or the slow path per tile.
void RunTilesPortable(const Job& job, int64_t r0, int64_t r1, int64_t p0, int64_t p1);
void RunTilesAvx2(const Job& job, int64_t r0, int64_t r1, int64_t p0, int64_t p1);
void RunTilesAvx512(const Job& job, int64_t r0, int64_t r1, int64_t p0, int64_t p1);
// RunTilesAvx512's Q6_K half (matmul_kq_q6_avx512.cc).
void RunTilesQ6Avx512(const Job& job, int64_t r0, int64_t r1, int64_t p0, int64_t p1);

}  // namespace datanode::ops::cpu::kq

#endif  // DATANODE_OPS_CPU_KQ_COMMON_H_
