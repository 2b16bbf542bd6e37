// Copyright 2026 The datanode Authors.
//
// Packed operand layouts of the CPU s8 GEMM (kMatMulS8S32 / kMatMulS8F32).
//
// Both operands are cut along K into groups of 4 consecutive k ("k-groups"), the
// unit of one vpdpbusd lane (4 u8 x s8 products) and of one vpmaddubsw + vpmaddwd
// pair. K is padded to a multiple of 4 with zero bytes.
//
// W panel (kS8PanelCols = 64 output columns; the last panel is zero-padded):
//   bytes [kg][64 columns][4 k]  for kg in [0, kgroups)
// so one k-group of a panel is 256 contiguous bytes = four zmm registers, and any
// range of k-groups of a panel is contiguous (K-blocking needs no repacking).
//
// A panel (`rows` <= MR rows of A; the last panel holds the leftover rows):
//   bytes [kg][rows][4 k]
// stored as s8 (AVX2 / portable kernels) or, for the VNNI kernel, as u8 A + 128
// (= A xor 0x80). Zero padding along K contributes 0 either way because the padded
// W bytes are 0.
//
// The packed form is the same for every Isa, so prepared weights never depend on
// which kernel runs them.
#ifndef DATANODE_OPS_CPU_S8_PACK_H_
#define DATANODE_OPS_CPU_S8_PACK_H_

#include <cstdint>
#include <memory>

#include "datanode/ops/backend.h"
#include "datanode/ops/types.h"
#include "ops/cpu/thread_pool.h"

namespace datanode::ops::cpu {

inline constexpr int kS8PanelCols = 64;
inline constexpr int64_t kS8PanelGroupBytes = kS8PanelCols * 4;

inline int64_t S8KGroups(int64_t k) { return (k + 3) / 4; }
inline int64_t S8NumPanels(int64_t n) { return (n + kS8PanelCols - 1) / kS8PanelCols; }

// A 64-byte aligned, uninitialized byte buffer.
class AlignedBytes {
 public:
  AlignedBytes() = default;
  explicit AlignedBytes(int64_t size);
  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  int64_t size() const { return size_; }

 private:
  struct Free {
    void operator()(uint8_t* p) const;
  };
  std::unique_ptr<uint8_t, Free> data_;
  int64_t size_ = 0;
};

// An f32 scale decoded exactly: value = mantissa * 2^exponent (|mantissa| < 2^24).
struct S8Scale {
  int32_t mantissa = 0;
  int32_t exponent = 0;
};

// W[N,K] (and, for kMatMulS8F32, w_scale[N]) validated and packed as above, with
// comp[n] = 128 * sum_k W[n,k] for the VNNI kernel (|comp| <= 128 * 127 * 131071
// < 2^31, so it is an exact int32; padded columns have comp 0).
class PackedS8Weights final : public PreparedWeights {
 public:
  PackedS8Weights(const Backend* owner, OpKind kind, int64_t n, int64_t k);

  int64_t SizeBytes() const override;

  int64_t kgroups() const { return kgroups_; }
  int64_t num_panels() const { return num_panels_; }
  // Start of panel p (covers columns [64 p, 64 p + 64)).
  const uint8_t* panel(int64_t p) const { return panels_.data() + p * PanelBytes(); }
  uint8_t* mutable_panel(int64_t p) { return panels_.data() + p * PanelBytes(); }
  int64_t PanelBytes() const { return kgroups_ * kS8PanelGroupBytes; }
  // num_panels * 64 entries.
  const int32_t* comp() const { return comp_; }
  int32_t* mutable_comp() { return comp_; }
  // N entries (kMatMulS8F32 only, else empty).
  const S8Scale* scales() const { return scales_; }
  S8Scale* mutable_scales() { return scales_; }

 private:
  int64_t kgroups_;
  int64_t num_panels_;
  AlignedBytes panels_;
  AlignedBytes extra_;  // comp, then scales
  int32_t* comp_ = nullptr;
  S8Scale* scales_ = nullptr;
};

// Packs validated W (and w_scale for kMatMulS8F32). Panels are packed in parallel
// on `pool` when it is not null; the result does not depend on the thread count.
std::unique_ptr<PackedS8Weights> PackS8Weights(const Backend* owner, OpKind kind, int64_t n,
                                               int64_t k, ByteSpan w, ByteSpan w_scale,
                                               ThreadPool* pool);

// Packs rows [0, rows) of A (row stride k bytes, rows <= 255) into one A panel at
// `dst` (rows * kgroups * 4 bytes). `to_u8` stores A + 128 for the VNNI kernel.
void PackS8APanel(const uint8_t* a, int64_t k, int rows, bool to_u8, uint8_t* dst);

}  // namespace datanode::ops::cpu

#endif  // DATANODE_OPS_CPU_S8_PACK_H_
