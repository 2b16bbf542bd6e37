// Copyright 2026 The datanode Authors.
#include "ops/cpu/s8_pack.h"

#include <cstring>
#include <new>

#include "datanode/ops/exact_float.h"

namespace datanode::ops::cpu {
namespace {

constexpr int64_t kAlign = 64;

int64_t RoundUp(int64_t v, int64_t to) { return (v + to - 1) / to * to; }

// Packs panel p of W and its column compensation terms.
void PackPanel(const uint8_t* w, int64_t n, int64_t k, int64_t p, uint8_t* dst, int32_t* comp) {
  const int64_t kgroups = S8KGroups(k);
  const int64_t full_groups = k / 4;
  for (int c = 0; c < kS8PanelCols; ++c) {
    const int64_t col = p * kS8PanelCols + c;
    uint8_t* out = dst + c * 4;
    if (col >= n) {
      for (int64_t g = 0; g < kgroups; ++g) std::memset(out + g * kS8PanelGroupBytes, 0, 4);
      comp[c] = 0;
      continue;
    }
    const uint8_t* row = w + col * k;
    int32_t sum = 0;
    for (int64_t g = 0; g < full_groups; ++g) {
      std::memcpy(out + g * kS8PanelGroupBytes, row + g * 4, 4);
      sum += static_cast<int8_t>(row[g * 4]) + static_cast<int8_t>(row[g * 4 + 1]) +
             static_cast<int8_t>(row[g * 4 + 2]) + static_cast<int8_t>(row[g * 4 + 3]);
    }
    if (full_groups < kgroups) {
      uint8_t tail[4] = {0, 0, 0, 0};
      for (int64_t i = full_groups * 4; i < k; ++i) {
        tail[i - full_groups * 4] = row[i];
        sum += static_cast<int8_t>(row[i]);
      }
      std::memcpy(out + full_groups * kS8PanelGroupBytes, tail, 4);
    }
    // |sum| <= 127 * 131071 < 2^24, so 128 * sum < 2^31 is exact.
    comp[c] = sum * 128;
  }
}

}  // namespace

// Allocated like std::vector's storage (out of memory behaves the same way).
AlignedBytes::AlignedBytes(int64_t size) : size_(size) {
  data_.reset(static_cast<uint8_t*>(::operator new (
      static_cast<size_t>(RoundUp(size > 0 ? size : 1, kAlign)), std::align_val_t{kAlign})));
}

void AlignedBytes::Free::operator()(uint8_t* p) const {
  ::operator delete (p, std::align_val_t{kAlign});
}

PackedS8Weights::PackedS8Weights(const Backend* owner, OpKind kind, int64_t n, int64_t k)
    : PreparedWeights(owner, kind, n, k),
      kgroups_(S8KGroups(k)),
      num_panels_(S8NumPanels(n)),
      panels_(num_panels_ * kgroups_ * kS8PanelGroupBytes) {
  const int64_t comp_bytes = RoundUp(num_panels_ * kS8PanelCols * 4, kAlign);
  const int64_t scale_bytes =
      kind == OpKind::kMatMulS8F32 ? n * static_cast<int64_t>(sizeof(S8Scale)) : 0;
  extra_ = AlignedBytes(comp_bytes + scale_bytes);
  comp_ = reinterpret_cast<int32_t*>(extra_.data());
  if (scale_bytes > 0) scales_ = reinterpret_cast<S8Scale*>(extra_.data() + comp_bytes);
}

int64_t PackedS8Weights::SizeBytes() const { return panels_.size() + extra_.size(); }

std::unique_ptr<PackedS8Weights> PackS8Weights(const Backend* owner, OpKind kind, int64_t n,
                                               int64_t k, ByteSpan w, ByteSpan w_scale,
                                               ThreadPool* pool) {
  auto packed = std::make_unique<PackedS8Weights>(owner, kind, n, k);
  PackedS8Weights* pw = packed.get();
  auto pack_panel = [&](int64_t p) {
    PackPanel(w.data(), n, k, p, pw->mutable_panel(p), pw->mutable_comp() + p * kS8PanelCols);
  };
  if (pool != nullptr) {
    pool->ParallelFor(pw->num_panels(), pack_panel);
  } else {
    for (int64_t p = 0; p < pw->num_panels(); ++p) pack_panel(p);
  }
  if (kind == OpKind::kMatMulS8F32) {
    for (int64_t j = 0; j < n; ++j) {
      const ExactValue v = DecodeF32Bits(LoadU32(&w_scale[j * 4]));
      pw->mutable_scales()[j] = {static_cast<int32_t>(v.mantissa), v.exponent};
    }
  }
  return packed;
}

void PackS8APanel(const uint8_t* a, int64_t k, int rows, bool to_u8, uint8_t* dst) {
  const int64_t full_groups = k / 4;
  const int64_t kgroups = S8KGroups(k);
  const uint32_t flip = to_u8 ? 0x80808080u : 0u;
  for (int r = 0; r < rows; ++r) {
    const uint8_t* row = a + r * k;
    uint8_t* out = dst + r * 4;
    const int64_t stride = int64_t{rows} * 4;
    for (int64_t g = 0; g < full_groups; ++g) {
      uint32_t v;
      std::memcpy(&v, row + g * 4, 4);
      v ^= flip;
      std::memcpy(out + g * stride, &v, 4);
    }
    if (full_groups < kgroups) {
      // Padding is 0 in the stored domain (u8 0 for VNNI): it multiplies a zero W byte.
      uint8_t tail[4] = {0, 0, 0, 0};
      for (int64_t i = full_groups * 4; i < k; ++i) {
        tail[i - full_groups * 4] = static_cast<uint8_t>(row[i] ^ (to_u8 ? 0x80 : 0));
      }
      std::memcpy(out + full_groups * stride, tail, 4);
    }
  }
}

}  // namespace datanode::ops::cpu
