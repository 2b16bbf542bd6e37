// Copyright 2026 The datanode Authors.
#include "ops/cpu/kq_common.h"

#include <cstring>
#include <vector>

#include "datanode/ops/status_macros.h"

namespace datanode::ops::cpu::kq {
namespace {

// Q4_K byte offsets (kquant.cc has the layout): f16 d, f16 dmin, 12 scale / min bytes,
// then 128 bytes of nibbles. Q6_K: ql[128], qh[64], int8 scales[16], f16 d.
constexpr int kQ4KScales = 4;
constexpr int kQ4KQuants = 16;
constexpr int kQ6KHigh = 128;
constexpr int kQ6KScales = 192;
constexpr int kQ6KD = 208;

// The bound on one term at span 0 (kq_common.h): 2047 * (2047 * |sc|max) * B.
uint128 TermBound(OpKind kind) {
  if (kind == OpKind::kMatMulQ8_0Q6_K) return uint128{2047} * 2047 * 128 * 130048;
  return uint128{2047} * 2047 * 63 * 65024;
}

int64_t SuperBytes(OpKind kind) {
  return kind == OpKind::kMatMulQ8_0Q6_K ? kQ6_KBlockBytes : kQ4_KBlockBytes;
}

}  // namespace

int MaxFastSpan(OpKind kind, int64_t num_blocks) {
  return q8::LargestFastSpan(uint128(static_cast<uint64_t>(num_blocks)) * TermBound(kind),
                             (uint128{1} << 63) - 1);
}

PackedKqWeights::PackedKqWeights(const Backend* owner, OpKind kind, int64_t n, int64_t k, Isa isa)
    : PreparedWeights(owner, kind, n, k),
      isa_(isa),
      num_supers_(k / kQKSuperBlockSize),
      num_panels_((n + kPanelCols - 1) / kPanelCols),
      panel_super_bytes_(kind != OpKind::kMatMulQ8_0Q6_K ? kQ4KPanelSuperBytes
                         : UsesQ6Planes(kind, isa)       ? kQ6KPanelSuperBytes
                                                         : kQ6KWideSuperBytes),
      scale_super_bytes_(kind == OpKind::kMatMulQ8_0Q6_K ? kPanelSuperScaleBytes
                                                         : kQ4KPanelPackedScaleBytes),
      quants_(num_panels_ * num_supers_ * panel_super_bytes_),
      scales_(num_panels_ * num_supers_ * scale_super_bytes_),
      raw_d_(num_panels_ * num_supers_ * kPanelCols),
      raw_m_(kind == OpKind::kMatMulQ8_0Q6_K ? 0 : num_panels_ * num_supers_ * kPanelCols),
      col_exp_(num_panels_ * kPanelCols),
      col_span_(num_panels_ * kPanelCols) {}

int64_t PackedKqWeights::SizeBytes() const {
  return quants_.bytes() + scales_.bytes() + raw_d_.bytes() + raw_m_.bytes() + col_exp_.bytes() +
         col_span_.bytes();
}

std::unique_ptr<PackedKqWeights> PackedKqWeights::Pack(const Backend* owner, OpKind kind, int64_t n,
                                                       int64_t k, ByteSpan w, Isa isa) {
  std::unique_ptr<PackedKqWeights> p(new PackedKqWeights(owner, kind, n, k, isa));
  const int64_t ns = p->num_supers_;
  const int64_t sb = SuperBytes(kind);
  const bool q6 = p->is_q6();
  const int64_t psb = p->panel_super_bytes_;
  KQuantSlice slice;
  for (int64_t j = 0; j < n; ++j) {
    const int64_t panel = j / kPanelCols;
    const int c = static_cast<int>(j % kPanelCols);
    const uint8_t* row = w.data() + j * ns * sb;
    // The column's exponent range over nonzero mantissas of d (and dmin).
    q8::ExponentRange range;
    for (int64_t s = 0; s < ns; ++s) {
      const uint8_t* blk = row + s * sb;
      range.Add(DecodeF16Bits(LoadU16(blk + (q6 ? kQ6KD : 0))));
      if (!q6) range.Add(DecodeF16Bits(LoadU16(blk + 2)));
    }
    const int span = range.span();
    p->col_exp_[panel * kPanelCols + c] = range.base();
    p->col_span_[panel * kPanelCols + c] = span <= MaxColSpan(kind) ? span : kWideSpan;
    p->max_col_span_ = std::max(p->max_col_span_, p->col_span_[panel * kPanelCols + c]);
    for (int64_t s = 0; s < ns; ++s) {
      const uint8_t* blk = row + s * sb;
      const int64_t meta = (panel * ns + s) * kPanelCols + c;
      uint8_t* sc = p->scales_.data() + (panel * ns + s) * p->scale_super_bytes_ + c;
      uint8_t* super = p->quants_.data() + (panel * ns + s) * psb;
      if (q6) {
        p->raw_d_[meta] = LoadU16(blk + kQ6KD);
        for (int r = 0; r < 16; ++r) sc[r * kPanelCols] = blk[kQ6KScales + r];
        // The planes start zeroed (AllocateWeightMemory); each field is OR-ed in once.
        for (int b = 0; b < kKQuantSlices; ++b) {
          DecodeQ6_KSlice(blk, b, &slice);
          for (int t = 0; t < kQBlockSize; ++t) {
            const int q6 = slice.q[t] + 32;
            if (p->q6_planes()) {
              super[Q6KLowByte(b, t, c)] |= static_cast<uint8_t>((q6 & 15) << (4 * (b % 2)));
              super[Q6KHighByte(b, t, c)] |= static_cast<uint8_t>((q6 >> 4) << (2 * (b % 4)));
            } else {
              super[Q6KWideByte(b, t, c)] = static_cast<uint8_t>(q6);
            }
          }
        }
      } else {
        uint8_t* dst = super + c * 4;
        p->raw_d_[meta] = LoadU16(blk);
        p->raw_m_[meta] = LoadU16(blk + 2);
        for (int j = 0; j < 12; ++j) sc[j * kPanelCols] = blk[kQ4KScales + j];
        // GGUF byte 32 c + 4 q + j -> [pair c][quad q][column][j].
        for (int cq = 0; cq < 32; ++cq) {
          std::memcpy(dst + cq * kPanelVecBytes, blk + kQ4KQuants + 4 * cq, 4);
        }
      }
    }
  }
  return p;
}

absl::Status PackedKqWeights::ReadRow(int64_t row, std::span<uint8_t> out) const {
  const int64_t sb = SuperBytes(kind());
  const int64_t ns = num_supers_;
  RETURN_IF_ERROR(q8::CheckReadRow(row, n(), out.size(), ns * sb));
  // The inverse of Pack's per-column loop.
  const int64_t panel = row / kPanelCols;
  const int c = static_cast<int>(row % kPanelCols);
  for (int64_t s = 0; s < ns; ++s) {
    uint8_t* blk = out.data() + s * sb;
    const int64_t meta = (panel * ns + s) * kPanelCols + c;
    const uint8_t* sc = scales_.data() + (panel * ns + s) * scale_super_bytes_ + c;
    const uint8_t* super = quants_.data() + (panel * ns + s) * panel_super_bytes_;
    if (is_q6()) {
      // Value v = 128 h + 32 p + l: low nibble in ql[64 h + l + 32 (p % 2)] (bits 4 (p / 2)),
      // top 2 bits in qh[32 h + l] (bits 2 p); kquant.cc's DecodeQ6_KSlice read backwards.
      std::memset(blk, 0, kQ6KScales);
      for (int v = 0; v < kQKSuperBlockSize; ++v) {
        const int b = v / 32;
        const int t = v % 32;
        const int q6 = Q6At(super, b, t, c);
        const int h = v / 128;
        const int part = (v / 32) % 4;
        blk[64 * h + t + 32 * (part % 2)] |= static_cast<uint8_t>((q6 & 15) << (4 * (part / 2)));
        blk[kQ6KHigh + 32 * h + t] |= static_cast<uint8_t>((q6 >> 4) << (2 * part));
      }
      for (int r = 0; r < 16; ++r) blk[kQ6KScales + r] = sc[r * kPanelCols];
      StoreU16(blk + kQ6KD, raw_d_[meta]);
    } else {
      StoreU16(blk, raw_d_[meta]);
      StoreU16(blk + 2, raw_m_[meta]);
      for (int j = 0; j < 12; ++j) blk[kQ4KScales + j] = sc[j * kPanelCols];
      for (int cq = 0; cq < 32; ++cq) {
        std::memcpy(blk + kQ4KQuants + 4 * cq, super + c * 4 + cq * kPanelVecBytes, 4);
      }
    }
  }
  return absl::OkStatus();
}

KqARows PrepareKqARows(const OpArgs& args) {
  KqARows r;
  r.base = q8::PrepareARows(args);
  if (args.kind != OpKind::kMatMulQ8_0Q6_K) return r;
  const int64_t total = r.base.m * r.base.num_blocks;
  r.init_lo.resize(total);
  r.init_hi.resize(total);
  for (int64_t at = 0; at < total; ++at) {
    const int8_t* q = reinterpret_cast<const int8_t*>(args.a.data() + at * kQ8_0BlockBytes + 2);
    int32_t lo = 0;
    for (int t = 0; t < 16; ++t) lo += q[t];
    r.init_lo[at] = -32 * lo;
    r.init_hi[at] = -32 * (r.base.asum[at] - lo);
  }
  return r;
}

uint8_t* WidenScratch(int64_t num_supers) {
  // A struct, not __m512i: a vector<__m512i> drops the type's alignment attribute.
  struct alignas(64) Line {
    uint8_t bytes[64];
  };
  thread_local std::vector<Line> lines;  // aligned new: 64-byte aligned
  const int64_t need = num_supers * kQ6KWideSuperBytes / 64;
  if (static_cast<int64_t>(lines.size()) < need) lines.resize(static_cast<size_t>(need));
  return lines.data()->bytes;
}

bool TileIsFast(const Job& job, int64_t r0, int64_t r1, int64_t p0, int64_t p1) {
  return job.all_fast || q8::SpansAreFast(job.rows->base, *job.w, MaxColSpan(job.kind),
                                          job.max_fast_span, r0, r1, p0, p1);
}

}  // namespace datanode::ops::cpu::kq
