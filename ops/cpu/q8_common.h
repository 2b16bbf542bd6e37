// Copyright 2026 The datanode Authors.
//
// Shared pieces of the CPU Q8_0-family matmul (kMatMulQ8_0Q8_0 / Q4_0 / Q4_1): the packed
// weight format, the per-call activation metadata, the exactness bound that selects the
// fast int64 path, and the kernels' entry points (one file per instruction set). The
// K-quant matmuls (kq_common.h) reuse the family-independent part: the driver (weight
// resolution and checks, the parallel split over rows x panels), AlignedArray, ARows,
// ExponentRange, the fast-path span test and the output rounding; the SIMD kernels of both
// share q8_tile_avx2.h / q8_tile_avx512.h.
//
// Exactness argument (the whole design rests on it). The spec value of C[m, n] is
//   V = sum_b ma_b * mw_b * isum_b * 2^(ea_b + ew_b)      (+ ma_b * mm_b * asum_b *
//   2^(ea_b + em_b) for Q4_1), with f16 mantissas |ma|, |mw|, |mm| <= 2047 and exponents
// in [-24, 5]. Let ea0 = min ea over A row m's blocks with ma != 0, and e0 = min over
// W column n's blocks of ew (and em) with a nonzero mantissa; sa = span of ea above ea0,
// sw = span of ew / em above e0. Then ma' = ma << (ea - ea0) < 2^(11 + sa) and
// mw' = mw << (ew - e0) < 2^(11 + sw) are integers and
//   V = 2^(ea0 + e0) * sum_b ma'_b * (mw'_b * isum_b [+ mm'_b * asum_b]).
// |isum| (for Q4_1: |isum| + |asum|, since mm' has the same bound as mw') is at most
// B_kind (IsumBound in q8_common.cc), so each term is below B * 2^(22 + sa + sw) and the sum of nb
// terms below nb * B * 2^(22+sa+sw). When that is <= 2^63 every partial sum fits an int64
// (wrap-free, so any order gives the same integer) and the result is V exactly, scaled by 2^(ea0 +
// e0); it is then rounded once. Otherwise (wide exponent ranges, e.g. InputProfile::kWide) a slow
// path accumulates each block's term in an int128 with LSB 2^-48 exactly like the reference.
#ifndef DATANODE_OPS_CPU_Q8_COMMON_H_
#define DATANODE_OPS_CPU_Q8_COMMON_H_

#include <algorithm>
#include <bit>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/exact_float.h"
#include "datanode/ops/status_macros.h"
#include "datanode/ops/types.h"
#include "ops/cpu/cpu_features.h"
#include "ops/cpu/thread_pool.h"

namespace datanode::ops::cpu::q8 {

// A panel is 16 consecutive output columns (one zmm of int32 lanes, two ymm).
inline constexpr int kPanelCols = 16;
// Q8_0 quants of one block of one panel: 8 k-quads x 16 columns x 4 bytes, so one 64-byte
// row holds 4 consecutive k values of each of the 16 columns (the vpdpbusd / vpmaddubsw
// operand layout).
inline constexpr int kQuadsPerBlock = 8;
inline constexpr int64_t kPanelBlockBytes = kPanelCols * kQBlockSize;  // 512
// Q4_0 / Q4_1 quants stay packed, two per byte: one block of one panel is 4 rows of 64
// bytes, [quad pair qq][column][4 bytes], and byte j of (qq, column) is byte 4 qq + j of the
// column's GGUF block: its low nibble is k = 4 qq + j (quad qq) and its high nibble
// k = 16 + 4 qq + j (quad qq + 4). One 64-byte load gives two quads after a mask / a shift.
inline constexpr int64_t kPanelBlockBytesQ4 = kPanelBlockBytes / 2;  // 256
// mw' = mw << span must fit a signed int32 lane (vpmuldq operand): 11 + span <= 31.
inline constexpr int kMaxColSpan = 20;
// Marks a column whose exponent span exceeds kMaxColSpan (never on the fast path).
inline constexpr int kWideSpan = 1000;

// The kernel families; kAvx512Vnni needs AVX-512 DQ as well (vpmullq, vcvtqq2ps), which
// every VNNI CPU has; if it is missing we fall back to kAvx2.
Isa KernelIsa(Isa isa);

// Largest sa + sw for which nb blocks of `kind` are exact in int64 (see above); -1 if none.
int MaxFastSpan(OpKind kind, int64_t num_blocks);

// Largest s in [-1, 62] with bound << s <= limit (-1: none), bound being a family's bound on
// the sum of all terms of a call at span 0: the MaxFastSpan of both families.
int LargestFastSpan(uint128 bound, uint128 limit);

// Running minimum / maximum of the exponents of the nonzero f16 values added (a zero
// mantissa is skipped): an A row's ea0 and sa, a weight column's e0 and sw. With no nonzero
// value, base and span are 0 (every term is then 0).
class ExponentRange {
 public:
  void Add(const ExactValue& v) {
    if (v.mantissa == 0) return;
    min_ = std::min(min_, v.exponent);
    max_ = std::max(max_, v.exponent);
  }
  int base() const { return min_ == INT_MAX ? 0 : min_; }
  int span() const { return min_ == INT_MAX ? 0 : max_ - min_; }

 private:
  int min_ = INT_MAX;
  int max_ = INT_MIN;
};

inline int32_t LoadI32(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Zeroed, 64-byte-aligned memory for packed weights. Blocks of kHugePageBytes or more are
// mapped on their own, 2 MiB-aligned, with transparent huge pages requested (MADV_HUGEPAGE;
// the kernel may still use 4 KiB pages): a decode step streams every weight once, and with
// 4 KiB pages each panel's stream leaves its page (a TLB miss, and the end of the hardware
// prefetcher's run, which stops at page boundaries) every few super-blocks. The mapping is
// not rounded up to 2 MiB, so its partial last huge page stays on 4 KiB pages and adds no
// resident bytes. Returns nullptr if memory is exhausted.
inline constexpr size_t kHugePageBytes = size_t{2} << 20;
void* AllocateWeightMemory(size_t bytes);
void FreeWeightMemory(void* p, size_t bytes);

// 64-byte aligned array (full cache lines per zmm load) on AllocateWeightMemory. Zeroed.
template <typename T>
class AlignedArray {
 public:
  AlignedArray() = default;
  explicit AlignedArray(int64_t n)
      : data_(static_cast<T*>(AllocateWeightMemory(AllocBytes(n))), Free{AllocBytes(n)}),
        size_(n) {}
  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  T& operator[](int64_t i) { return data_.get()[i]; }
  const T& operator[](int64_t i) const { return data_.get()[i]; }
  int64_t size() const { return size_; }
  int64_t bytes() const { return size_ * static_cast<int64_t>(sizeof(T)); }

 private:
  static size_t AllocBytes(int64_t n) {
    const size_t bytes = ((static_cast<size_t>(n) * sizeof(T) + 63) / 64) * 64;
    return bytes == 0 ? 64 : bytes;
  }
  struct Free {
    size_t bytes = 0;
    void operator()(T* p) const { FreeWeightMemory(p, bytes); }
  };
  std::unique_ptr<T, Free> data_;
  int64_t size_ = 0;
};

// Packed weights. Columns are padded to a multiple of 16 with zero quants and zero scales.
// All arrays are [panel][block][16 columns]; quants: Q8_0 [panel][block][quad][col][4
// bytes], Q4_0 / Q4_1 [panel][block][quad pair][col][4 bytes] of packed nibbles. The scales
// are kept as the GGUF's f16 bits (2 bytes per block, like the file), so a prepared tensor
// takes the GGUF's bytes plus 8 bytes per column: 34 B per Q8_0 block, 18 B per Q4_0 block,
// 20 B per Q4_1 block. The kernels decode mw' = d's mantissa << (d's exponent - e0) in
// registers (DecodeScale), which is exact and costs a few integer ops per 16 columns.
class PackedQ8Weights final : public PreparedWeights {
 public:
  // Packs validated weights (no checks here). `isa` is a KernelIsa() result.
  static std::unique_ptr<PackedQ8Weights> Pack(const Backend* owner, OpKind kind, int64_t n,
                                               int64_t k, ByteSpan w, Isa isa);

  int64_t SizeBytes() const override;
  // Rebuilds row `row`'s GGUF blocks from the packed panels, byte for byte.
  absl::Status ReadRow(int64_t row, std::span<uint8_t> out) const override;

  Isa isa() const { return isa_; }
  bool has_min() const { return kind() == OpKind::kMatMulQ8_0Q4_1; }
  // Whether quants are packed nibbles (Q4_0, Q4_1), read as u8 0..15.
  bool is_q4() const { return kind() != OpKind::kMatMulQ8_0Q8_0; }
  int64_t num_blocks() const { return num_blocks_; }
  int64_t num_panels() const { return num_panels_; }
  // Bytes of one panel's block of quants: kPanelBlockBytes or kPanelBlockBytesQ4.
  int64_t panel_block_bytes() const { return panel_block_bytes_; }
  // Q8_0 only: added to each weight quant before it is stored: 128 for the VNNI form (u8
  // operand of vpdpbusd), 0 for the signed form (AVX2 sign trick, portable). Q4 nibbles
  // are stored as they are (0 here); the Q4_0 offset of -8 is applied through ARows::init.
  uint8_t quant_bias() const { return quant_bias_; }

  const uint8_t* quants(int64_t panel) const {
    return quants_.data() + panel * num_blocks_ * panel_block_bytes_;
  }
  // The f16 bits of d (and m for Q4_1) per block and column (0 in padded columns).
  const uint16_t* raw_d(int64_t panel) const {
    return raw_d_.data() + panel * num_blocks_ * kPanelCols;
  }
  const uint16_t* raw_m(int64_t panel) const {
    return has_min() ? raw_m_.data() + panel * num_blocks_ * kPanelCols : nullptr;
  }
  // Per (padded) column: e0 and the span (kWideSpan when too wide).
  const int32_t* col_exp(int64_t panel) const { return col_exp_.data() + panel * kPanelCols; }
  const int32_t* col_span(int64_t panel) const { return col_span_.data() + panel * kPanelCols; }
  // The largest col_span over all columns (recorded by Pack; CallIsFast).
  int32_t max_col_span() const { return max_col_span_; }

 private:
  PackedQ8Weights(const Backend* owner, OpKind kind, int64_t n, int64_t k, Isa isa);

  Isa isa_;
  int64_t num_blocks_;
  int64_t num_panels_;
  int64_t panel_block_bytes_;
  uint8_t quant_bias_;
  AlignedArray<uint8_t> quants_;
  AlignedArray<uint16_t> raw_d_;
  AlignedArray<uint16_t> raw_m_;
  AlignedArray<int32_t> col_exp_;
  AlignedArray<int32_t> col_span_;
  int32_t max_col_span_ = 0;
};

// mw' of one f16 scale (d or m) in a column with base exponent e0, as the kernels decode it:
// DecodeF16Bits' mantissa << (exponent - e0), or 0 for a zero mantissa. Requires the column
// on the fast path (exponent - e0 <= kMaxColSpan whenever the mantissa is nonzero). The
// SIMD kernels do the same with shift = max(E, 1) - (e0 + 25), E the biased exponent field
// (a negative shift only meets a zero mantissa, and vpsllvd gives 0 for it).
inline int32_t DecodeScale(uint16_t bits, int32_t e0) {
  const ExactValue v = DecodeF16Bits(bits);
  if (v.mantissa == 0) return 0;
  return static_cast<int32_t>(v.mantissa * (int64_t{1} << (v.exponent - e0)));
}

// Per-call metadata of the A rows (Q8_0 activations), [row][block] arrays.
struct ARows {
  int64_t m = 0;
  int64_t num_blocks = 0;
  std::vector<int32_t> ma;          // raw f16 mantissa (signed)
  std::vector<int32_t> ea;          // raw f16 exponent
  std::vector<int32_t> shift;       // ea - row_exp (0 where ma == 0)
  std::vector<int64_t> ma_shifted;  // ma << shift
  std::vector<int32_t> asum;        // sum of the block's 32 quants
  // The start of a block's integer accumulator in the SIMD kernels, so that it ends at
  // isum: Q8_0: -128 * asum (removes the VNNI +128 weight bias; the AVX2 Q8_0 kernel
  // starts at 0), Q4_0: -8 * asum (nibbles are multiplied as 0..15, the spec's quant is
  // nib - 8), Q4_1: 0.
  std::vector<int32_t> init;
  std::vector<int32_t> row_exp;   // ea0 per row (0 for all-zero rows)
  std::vector<int32_t> row_span;  // sa per row
};
ARows PrepareARows(const OpArgs& args);

// Everything a kernel needs for one call.
struct Job {
  OpKind kind;
  int64_t m, n, num_blocks;
  const uint8_t* a;     // A as given: rows of Q8_0 blocks
  int64_t a_row_bytes;  // num_blocks * 34
  const ARows* rows;
  const PackedQ8Weights* w;
  int max_fast_span;  // MaxFastSpan(kind, num_blocks)
  bool all_fast;      // CallIsFast: every tile of the call may use the fast path
  uint8_t* out;       // f32 [m, n]
  uint8_t* exact;     // int128 [m, n] (OpArgs::exact), or nullptr: E is not asked for
};

// Whether rows [r0, r1) x panels [p0, p1) may use the int64 fast path.
bool TileIsFast(const Job& job, int64_t r0, int64_t r1, int64_t p0, int64_t p1);

// TileIsFast of both families: whether every column span of panels [p0, p1) of `w` (any
// packed type with col_span(panel)) is at most max_col_span and the largest row span of rows
// [r0, r1) plus the largest column span at most max_fast_span.
template <typename Packed>
bool SpansAreFast(const ARows& rows, const Packed& w, int max_col_span, int max_fast_span,
                  int64_t r0, int64_t r1, int64_t p0, int64_t p1) {
  int row_span = 0;
  for (int64_t i = r0; i < r1; ++i) row_span = std::max(row_span, rows.row_span[i]);
  int col_span = 0;
  for (int64_t p = p0; p < p1; ++p) {
    const int32_t* spans = w.col_span(p);
    for (int c = 0; c < kPanelCols; ++c) col_span = std::max(col_span, spans[c]);
  }
  return col_span <= max_col_span && row_span + col_span <= max_fast_span;
}

// SpansAreFast for the whole call (every row, every panel), from the largest column span
// Pack recorded: one check per call. Per-tile checks read each panel's spans, a cache miss
// per tile in a GEMV that streams the weights (about 1% of an 8B decode step).
inline bool CallIsFast(const ARows& rows, int32_t w_max_col_span, int max_col_span,
                       int max_fast_span) {
  int row_span = 0;
  for (int32_t s : rows.row_span) row_span = std::max(row_span, s);
  return w_max_col_span <= max_col_span && row_span + w_max_col_span <= max_fast_span;
}

// Rounds v * 2^e to f32 bits exactly like RoundToF32Bits (fast when the result is normal).
uint32_t RoundI64ToF32Bits(int64_t v, int e);

// Stores columns [0, valid) of one output row of a panel (f32 bits at out): the fast path's
// int64 sums rounded at 2^(row_exp + col_exp[c]), or the slow path's int128 sums (LSB 2^-48).
inline void StoreFastRow(const int64_t* acc, int32_t row_exp, const int32_t* col_exp, int64_t valid,
                         uint8_t* out) {
  for (int64_t c = 0; c < valid; ++c) {
    StoreU32(out + c * 4, RoundI64ToF32Bits(acc[c], row_exp + col_exp[c]));
  }
}
inline void StoreExactRow(const int128* acc, int64_t valid, uint8_t* out) {
  for (int64_t c = 0; c < valid; ++c) StoreU32(out + c * 4, RoundToF32Bits(acc[c], -48));
}

// The exact values E (Backend::WritesExactSums: int128 little-endian, LSB 2^-48) of columns
// [0, valid) of one output row, at `exact` (16 bytes per column). Both families, every ISA:
// - the fast path's int64 sum is E / 2^(48 + row_exp + col_exp[c]) exactly (the argument
//   above), and row_exp + col_exp[c] >= -48 (f16 exponents are >= -24), so E is the sum
//   shifted left by 48 + row_exp + col_exp[c] <= 58 (|sum| < 2^63: E fits 121 bits);
// - the slow path's int128 sums are E as they are.
// Called once per stored row of a tile, only when the caller asked for E (Job::exact).
inline void StoreExactSum(uint8_t* exact, int128 e) {
  static_assert(std::endian::native == std::endian::little);
  std::memcpy(exact, &e, sizeof(e));
}
inline void StoreFastExactSums(const int64_t* acc, int32_t row_exp, const int32_t* col_exp,
                               int64_t valid, uint8_t* exact) {
  for (int64_t c = 0; c < valid; ++c) {
    StoreExactSum(exact + c * 16, int128{acc[c]} << (48 + row_exp + col_exp[c]));
  }
}
inline void StoreSlowExactSums(const int128* acc, int64_t valid, uint8_t* exact) {
  for (int64_t c = 0; c < valid; ++c) StoreExactSum(exact + c * 16, acc[c]);
}

// --- The driver of both families (matmul_q8.cc, matmul_kq.cc) ---

// Whether packed weights `w` (packed for packed_isa kernels) serve this call:
// INVALID_ARGUMENT if they belong to another backend, op or shape, FAILED_PRECONDITION if they
// were packed for other kernels than kernel_isa.
absl::Status CheckPackedWeights(const Backend& owner, const OpArgs& args, const PreparedWeights& w,
                                Isa packed_isa, Isa kernel_isa);

// The packed weights of one call: args.w_prepared when it is a Packed (PackedQ8Weights,
// kq::PackedKqWeights), else the raw weights (args.w, or a RawPreparedWeights copy) packed for
// this call into *local (which then owns them); checked by CheckPackedWeights either way.
template <typename Packed>
absl::StatusOr<const Packed*> ResolvePackedWeights(const Backend& owner, const OpArgs& args,
                                                   Isa kernel_isa, std::unique_ptr<Packed>* local) {
  const Packed* packed =
      args.w_prepared == nullptr ? nullptr : dynamic_cast<const Packed*>(args.w_prepared);
  if (packed == nullptr) {
    ByteSpan w;
    ByteSpan w_scale;
    RETURN_IF_ERROR(ResolveRawWeights(owner, args, &w, &w_scale));
    *local = Packed::Pack(&owner, args.kind, args.n, args.k, w, kernel_isa);
    packed = local->get();
  }
  RETURN_IF_ERROR(CheckPackedWeights(owner, args, *packed, packed->isa(), kernel_isa));
  return packed;
}

// Runs tile(r0, r1, p0, p1) over output rows [0, m) x panels [0, num_panels). Tasks own whole
// output elements (a range of rows x a range of panels, q8_common.cc has the sizes), on
// `pool`, or all on the calling thread when prepared_bytes * m is small (the pool's hand-off
// would cost more than it saves). Every element is computed by the same integer operations
// whichever task or thread runs it, so the split never changes a byte.
void RunPanelTasks(int64_t m, int64_t num_panels, int64_t prepared_bytes, ThreadPool& pool,
                   absl::FunctionRef<void(int64_t, int64_t, int64_t, int64_t)> tile);

// ReadRow's argument check: INVALID_ARGUMENT unless 0 <= row < n and out_size == row_bytes.
absl::Status CheckReadRow(int64_t row, int64_t n, size_t out_size, int64_t row_bytes);

// The exact slow path's per-block contribution with LSB 2^-48 (the reference's term).
inline int128 ExactBlockTerm(int32_t ma, int32_t ea, int32_t asum, uint16_t d_bits,
                             const uint16_t* m_bits, int32_t isum) {
  const ExactValue dw = DecodeF16Bits(d_bits);
  int128 t = (int128{int64_t{ma} * dw.mantissa} * isum) << (ea + dw.exponent + 48);
  if (m_bits != nullptr) {
    const ExactValue mw = DecodeF16Bits(*m_bits);
    t += (int128{int64_t{ma} * mw.mantissa} * asum) << (ea + mw.exponent + 48);
  }
  return t;
}

// Kernels: compute output rows [r0, r1) x panels [p0, p1) (whole panels; columns past n
// are not stored). Each picks the fast or the exact slow path per tile.
void RunTilesPortable(const Job& job, int64_t r0, int64_t r1, int64_t p0, int64_t p1);
void RunTilesAvx2(const Job& job, int64_t r0, int64_t r1, int64_t p0, int64_t p1);
void RunTilesAvx512(const Job& job, int64_t r0, int64_t r1, int64_t p0, int64_t p1);

}  // namespace datanode::ops::cpu::q8

#endif  // DATANODE_OPS_CPU_Q8_COMMON_H_
