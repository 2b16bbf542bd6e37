// Copyright 2026 The datanode Authors.
#include "ops/cpu/q8_common.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>

#include <sys/mman.h>

#include "absl/strings/str_cat.h"
#include "datanode/ops/validate.h"

namespace datanode::ops::cpu::q8 {
namespace {

// RunPanelTasks' split. Panels (of 16 columns) and rows per task: 64 columns x all decode
// rows keeps a task's weight panel (4 x 73 KB of Q8_0 at K = 4096) in L2 while it is reused
// across rows, and still gives 64 tasks at N = 4096 for dynamic balancing.
constexpr int64_t kPanelsPerTask = 4;
constexpr int64_t kRowsPerTask = 64;
// Below this much work (prepared weight bytes x rows) the call runs on the calling thread:
// the hand-off to the pool's spinning workers costs about a microsecond, which a 64 KiB
// GEMV (about 3 us from memory) still repays. At 1 MiB, a SmolLM2 decode step (576-wide
// layers, 69-350 KB per matmul) ran every matmul but the output on one thread, so a second
// thread barely helped (bench_inference tg64: 2 threads 12-23 tok/s vs 65-70 with 64 KiB,
// same loaded machine, alternating binaries). Which thread runs a tile never changes a byte.
constexpr int64_t kMinParallelWork = int64_t{1} << 16;

int64_t WeightBlockBytes(OpKind kind) {
  if (kind == OpKind::kMatMulQ8_0Q4_0) return kQ4_0BlockBytes;
  if (kind == OpKind::kMatMulQ8_0Q4_1) return kQ4_1BlockBytes;
  return kQ8_0BlockBytes;
}

// Weight quant t (0..31) of one raw block, as the signed value the spec multiplies.
int WeightQuant(OpKind kind, const uint8_t* block, int t) {
  switch (kind) {
    case OpKind::kMatMulQ8_0Q4_0: {
      const uint8_t byte = block[2 + (t & 15)];
      return (t < 16 ? (byte & 0x0F) : (byte >> 4)) - 8;
    }
    case OpKind::kMatMulQ8_0Q4_1: {
      const uint8_t byte = block[4 + (t & 15)];
      return t < 16 ? (byte & 0x0F) : (byte >> 4);
    }
    default:
      return static_cast<int8_t>(block[2 + t]);
  }
}

// Bound on |isum| per block (plus |asum| * mm / mw for Q4_1, both scaled by the same
// 2^(11 + sw)): Q8_0: 32 * 127 * 127; Q4_0: 32 * 127 * 8; Q4_1: 32 * 127 * 15 + 32 * 127.
int64_t IsumBound(OpKind kind) {
  if (kind == OpKind::kMatMulQ8_0Q4_0) return 32 * 127 * 8;
  if (kind == OpKind::kMatMulQ8_0Q4_1) return 32 * 127 * 15 + 32 * 127;
  return 32 * 127 * 127;
}

}  // namespace

void* AllocateWeightMemory(size_t num_bytes) {
  if (num_bytes < kHugePageBytes) {
    void* p = std::aligned_alloc(64, num_bytes);
    if (p != nullptr) std::memset(p, 0, num_bytes);
    return p;
  }
  // Map num_bytes + 2 MiB, keep the 2 MiB-aligned part, and give the slack back.
  const size_t length = (num_bytes + 4095) & ~size_t{4095};
  void* raw = mmap(nullptr, length + kHugePageBytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const uintptr_t base = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t start = (base + kHugePageBytes - 1) & ~(uintptr_t{kHugePageBytes} - 1);
  if (start > base) munmap(raw, start - base);
  const uintptr_t end = base + length + kHugePageBytes;
  if (end > start + length) munmap(reinterpret_cast<void*>(start + length), end - start - length);
  // Advice only: without THP the memory is still valid (and zero, as mmap gives it).
  madvise(reinterpret_cast<void*>(start), length, MADV_HUGEPAGE);
  return reinterpret_cast<void*>(start);
}

void FreeWeightMemory(void* p, size_t num_bytes) {
  if (p == nullptr) return;
  if (num_bytes < kHugePageBytes) {
    std::free(p);
  } else {
    munmap(p, (num_bytes + 4095) & ~size_t{4095});
  }
}

Isa KernelIsa(Isa isa) {
#if defined(__x86_64__)
  if (isa == Isa::kAvx512Vnni) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512dq")) return Isa::kAvx2;
  }
#endif
  return isa;
}

int MaxFastSpan(OpKind kind, int64_t num_blocks) {
  // Largest s with num_blocks * B * 2^(22 + s) <= 2^63 (|ma|, |mw| <= 2047 < 2^11).
  return LargestFastSpan(
      uint128(static_cast<uint64_t>(num_blocks)) * static_cast<uint64_t>(IsumBound(kind)) << 22,
      uint128{1} << 63);
}

int LargestFastSpan(uint128 bound, uint128 limit) {
  int s = -1;
  while (s < 62 && (bound << (s + 1)) <= limit) ++s;
  return s;
}

PackedQ8Weights::PackedQ8Weights(const Backend* owner, OpKind kind, int64_t n, int64_t k, Isa isa)
    : PreparedWeights(owner, kind, n, k),
      isa_(isa),
      num_blocks_(k / kQBlockSize),
      num_panels_((n + kPanelCols - 1) / kPanelCols),
      panel_block_bytes_(kind == OpKind::kMatMulQ8_0Q8_0 ? kPanelBlockBytes : kPanelBlockBytesQ4),
      quant_bias_(kind == OpKind::kMatMulQ8_0Q8_0 && isa == Isa::kAvx512Vnni ? 128 : 0),
      quants_(num_panels_ * num_blocks_ * panel_block_bytes_),
      raw_d_(num_panels_ * num_blocks_ * kPanelCols),
      raw_m_(kind == OpKind::kMatMulQ8_0Q4_1 ? num_panels_ * num_blocks_ * kPanelCols : 0),
      col_exp_(num_panels_ * kPanelCols),
      col_span_(num_panels_ * kPanelCols) {}

int64_t PackedQ8Weights::SizeBytes() const {
  return quants_.bytes() + raw_d_.bytes() + raw_m_.bytes() + col_exp_.bytes() + col_span_.bytes();
}

std::unique_ptr<PackedQ8Weights> PackedQ8Weights::Pack(const Backend* owner, OpKind kind, int64_t n,
                                                       int64_t k, ByteSpan w, Isa isa) {
  std::unique_ptr<PackedQ8Weights> p(new PackedQ8Weights(owner, kind, n, k, isa));
  const int64_t nb = p->num_blocks_;
  const int64_t block_bytes = WeightBlockBytes(kind);
  const bool has_min = p->has_min();
  const bool q4 = p->is_q4();
  const int64_t pbb = p->panel_block_bytes_;
  // Padded columns keep zero scales, so their quants contribute nothing.
  std::memset(p->quants_.data(), p->quant_bias_, static_cast<size_t>(p->quants_.bytes()));
  for (int64_t j = 0; j < n; ++j) {
    const int64_t panel = j / kPanelCols;
    const int c = static_cast<int>(j % kPanelCols);
    const uint8_t* row = w.data() + j * nb * block_bytes;
    // The column's exponent range over nonzero mantissas of d (and m).
    ExponentRange range;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* blk = row + b * block_bytes;
      for (int s = 0; s < (has_min ? 2 : 1); ++s) range.Add(DecodeF16Bits(LoadU16(blk + 2 * s)));
    }
    const int span = range.span();
    p->col_exp_[panel * kPanelCols + c] = range.base();
    p->col_span_[panel * kPanelCols + c] = span <= kMaxColSpan ? span : kWideSpan;
    p->max_col_span_ = std::max(p->max_col_span_, p->col_span_[panel * kPanelCols + c]);
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* blk = row + b * block_bytes;
      const int64_t meta = (panel * nb + b) * kPanelCols + c;
      p->raw_d_[meta] = LoadU16(blk);
      if (has_min) p->raw_m_[meta] = LoadU16(blk + 2);
      uint8_t* dst = p->quants_.data() + (panel * nb + b) * pbb + c * 4;
      if (q4) {
        // GGUF byte 4 qq + j holds k = 4 qq + j (low nibble) and 16 + 4 qq + j (high).
        const uint8_t* nibs = blk + (has_min ? 4 : 2);
        for (int qq = 0; qq < 4; ++qq) std::memcpy(dst + qq * (kPanelCols * 4), nibs + 4 * qq, 4);
      } else {
        for (int t = 0; t < kQBlockSize; ++t) {
          dst[(t / 4) * (kPanelCols * 4) + (t % 4)] =
              static_cast<uint8_t>(WeightQuant(kind, blk, t) + p->quant_bias_);
        }
      }
    }
  }
  return p;
}

absl::Status PackedQ8Weights::ReadRow(int64_t row, std::span<uint8_t> out) const {
  const int64_t block_bytes = WeightBlockBytes(kind());
  const int64_t nb = num_blocks_;
  RETURN_IF_ERROR(CheckReadRow(row, n(), out.size(), nb * block_bytes));
  // The inverse of Pack's per-column loop.
  const int64_t panel = row / kPanelCols;
  const int c = static_cast<int>(row % kPanelCols);
  const bool q4 = is_q4();
  const bool min = has_min();
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* blk = out.data() + b * block_bytes;
    const int64_t meta = (panel * nb + b) * kPanelCols + c;
    StoreU16(blk, raw_d_[meta]);
    if (min) StoreU16(blk + 2, raw_m_[meta]);
    const uint8_t* src = quants_.data() + (panel * nb + b) * panel_block_bytes_ + c * 4;
    if (q4) {
      uint8_t* nibs = blk + (min ? 4 : 2);
      for (int qq = 0; qq < 4; ++qq) std::memcpy(nibs + 4 * qq, src + qq * (kPanelCols * 4), 4);
    } else {
      for (int t = 0; t < kQBlockSize; ++t) {
        blk[2 + t] = static_cast<uint8_t>(src[(t / 4) * (kPanelCols * 4) + (t % 4)] - quant_bias_);
      }
    }
  }
  return absl::OkStatus();
}

ARows PrepareARows(const OpArgs& args) {
  ARows r;
  r.m = args.m;
  r.num_blocks = args.k / kQBlockSize;
  const int64_t total = r.m * r.num_blocks;
  r.ma.resize(total);
  r.ea.resize(total);
  r.shift.resize(total);
  r.ma_shifted.resize(total);
  r.asum.resize(total);
  r.init.resize(total);
  const int32_t init_mul = args.kind == OpKind::kMatMulQ8_0Q8_0   ? -128
                           : args.kind == OpKind::kMatMulQ8_0Q4_0 ? -8
                                                                  : 0;
  r.row_exp.resize(r.m);
  r.row_span.resize(r.m);
  for (int64_t i = 0; i < r.m; ++i) {
    const uint8_t* row = args.a.data() + i * r.num_blocks * kQ8_0BlockBytes;
    ExponentRange range;
    for (int64_t b = 0; b < r.num_blocks; ++b) {
      const uint8_t* blk = row + b * kQ8_0BlockBytes;
      const ExactValue d = DecodeF16Bits(LoadU16(blk));
      const int64_t at = i * r.num_blocks + b;
      r.ma[at] = static_cast<int32_t>(d.mantissa);
      r.ea[at] = d.exponent;
      int32_t sum = 0;
      for (int t = 0; t < kQBlockSize; ++t) sum += static_cast<int8_t>(blk[2 + t]);
      r.asum[at] = sum;
      r.init[at] = init_mul * sum;
      range.Add(d);
    }
    r.row_exp[i] = range.base();
    r.row_span[i] = range.span();  // <= 29: ma << span < 2^40 always fits int64
    for (int64_t b = 0; b < r.num_blocks; ++b) {
      const int64_t at = i * r.num_blocks + b;
      const int sh = r.ma[at] == 0 ? 0 : r.ea[at] - r.row_exp[i];
      r.shift[at] = sh;
      r.ma_shifted[at] = int64_t{r.ma[at]} << sh;
    }
  }
  return r;
}

bool TileIsFast(const Job& job, int64_t r0, int64_t r1, int64_t p0, int64_t p1) {
  return job.all_fast ||
         SpansAreFast(*job.rows, *job.w, kMaxColSpan, job.max_fast_span, r0, r1, p0, p1);
}

uint32_t RoundI64ToF32Bits(int64_t v, int e) {
  if (v == 0) return 0;  // an exact zero is +0.0
  const uint32_t sign = v < 0 ? 0x80000000u : 0u;
  const uint64_t mag = v < 0 ? uint64_t{0} - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  const int length = 64 - __builtin_clzll(mag);
  const int top = length - 1 + e;  // value in [2^top, 2^(top + 1))
  // Outside the normal range (never for Q8 outputs, whose exponents lie in [-48, 10]) the
  // spec's general routine decides.
  if (top < -126 || top > 126) return RoundToF32Bits(int128{v}, e);
  uint64_t sig;
  int biased = top + 127;
  if (length <= 24) {
    sig = mag << (24 - length);
  } else {
    const int shift = length - 24;
    sig = mag >> shift;
    const uint64_t rem = mag & ((uint64_t{1} << shift) - 1);
    const uint64_t half = uint64_t{1} << (shift - 1);
    if (rem > half || (rem == half && (sig & 1) != 0)) ++sig;
    if (sig >> 24) {  // carried into a 25th bit; top <= 126 keeps the result finite
      sig >>= 1;
      ++biased;
    }
  }
  return sign | (static_cast<uint32_t>(biased) << 23) | (static_cast<uint32_t>(sig) & 0x7FFFFFu);
}

absl::Status CheckPackedWeights(const Backend& owner, const OpArgs& args, const PreparedWeights& w,
                                Isa packed_isa, Isa kernel_isa) {
  if (w.owner() != &owner || w.kind() != args.kind || w.n() != args.n || w.k() != args.k) {
    return absl::InvalidArgumentError(
        absl::StrCat("cpu ", OpKindName(args.kind),
                     ": prepared weights belong to another backend, op or shape"));
  }
  if (packed_isa != kernel_isa) {
    return absl::FailedPreconditionError(
        absl::StrCat("cpu ", OpKindName(args.kind), ": weights were packed for ",
                     IsaName(packed_isa), " kernels, this call runs ", IsaName(kernel_isa)));
  }
  return absl::OkStatus();
}

void RunPanelTasks(int64_t m, int64_t num_panels, int64_t prepared_bytes, ThreadPool& pool,
                   absl::FunctionRef<void(int64_t, int64_t, int64_t, int64_t)> tile) {
  if (prepared_bytes * m < kMinParallelWork) {
    tile(0, m, 0, num_panels);
    return;
  }
  const int64_t panel_tasks = (num_panels + kPanelsPerTask - 1) / kPanelsPerTask;
  const int64_t row_tasks = (m + kRowsPerTask - 1) / kRowsPerTask;
  pool.ParallelFor(panel_tasks * row_tasks, [&](int64_t task) {
    const int64_t pt = task % panel_tasks;
    const int64_t rt = task / panel_tasks;
    const int64_t p0 = pt * kPanelsPerTask;
    const int64_t r0 = rt * kRowsPerTask;
    tile(r0, std::min(m, r0 + kRowsPerTask), p0, std::min(num_panels, p0 + kPanelsPerTask));
  });
}

absl::Status CheckReadRow(int64_t row, int64_t n, size_t out_size, int64_t row_bytes) {
  if (row < 0 || row >= n || static_cast<int64_t>(out_size) != row_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("ReadRow(", row, ") of ", n, " rows into ",
                                                   out_size, " bytes; a row has ", row_bytes));
  }
  return absl::OkStatus();
}

}  // namespace datanode::ops::cpu::q8
