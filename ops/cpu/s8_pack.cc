// Copyright 2026 The datanode Authors.
#include "ops/cpu/s8_pack.h"

#include <cstring>
#include <new>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "datanode/ops/exact_float.h"

namespace datanode::ops::cpu {
namespace {

constexpr int64_t kAlign = 64;

int64_t RoundUp(int64_t v, int64_t to) { return (v + to - 1) / to * to; }

// Sum of k signed bytes. psadbw (SSE2, so every x86-64 has it) adds 8 unsigned bytes
// at a time; bytes are biased by 128 (xor 0x80) to make them unsigned and the bias
// is removed at the end. GCC -O2 does not vectorize the plain loop.
int32_t RowSum(const uint8_t* row, int64_t k) {
  int64_t biased = 0;
  int64_t i = 0;
#if defined(__SSE2__)
  const __m128i flip = _mm_set1_epi8(static_cast<char>(0x80));
  __m128i acc = _mm_setzero_si128();
  for (; i + 16 <= k; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + i));
    acc = _mm_add_epi64(acc, _mm_sad_epu8(_mm_xor_si128(v, flip), _mm_setzero_si128()));
  }
  biased = _mm_cvtsi128_si64(acc) + _mm_cvtsi128_si64(_mm_unpackhi_epi64(acc, acc));
#endif
  for (; i < k; ++i) biased += row[i] ^ 0x80;
  return static_cast<int32_t>(biased - 128 * k);
}

// Packs panel p of W and its column compensation terms. Works in blocks of 16
// k-groups: each source row contributes one 64-byte piece (one cache line, read
// whole) that is scattered into a 4 KiB slab of the panel (stays in L1). Walking all
// 64 rows one k-group at a time instead would touch 64 lines k bytes apart, which
// for power-of-two K all fall into the same L1 set and thrash.
void PackPanel(const uint8_t* w, int64_t n, int64_t k, int64_t p, uint8_t* dst, int32_t* comp) {
  constexpr int64_t kBlockGroups = 16;
  const int64_t kgroups = S8KGroups(k);
  const int64_t full_groups = k / 4;
  const int64_t col0 = p * kS8PanelCols;
  const int cols = static_cast<int>(n - col0 < kS8PanelCols ? n - col0 : kS8PanelCols);
  if (cols < kS8PanelCols) std::memset(dst, 0, static_cast<size_t>(kgroups * kS8PanelGroupBytes));
  const uint8_t* rows = w + col0 * k;
  for (int64_t g0 = 0; g0 < full_groups; g0 += kBlockGroups) {
    const int64_t groups = full_groups - g0 < kBlockGroups ? full_groups - g0 : kBlockGroups;
    uint8_t* slab = dst + g0 * kS8PanelGroupBytes;
    for (int c = 0; c < cols; ++c) {
      const uint8_t* src = rows + c * k + g0 * 4;
      uint8_t* out = slab + c * 4;
      for (int64_t g = 0; g < groups; ++g)
        std::memcpy(out + g * kS8PanelGroupBytes, src + g * 4, 4);
    }
  }
  if (full_groups < kgroups) {
    uint8_t* out = dst + full_groups * kS8PanelGroupBytes;
    for (int c = 0; c < cols; ++c) {
      uint8_t tail[4] = {0, 0, 0, 0};
      for (int64_t i = full_groups * 4; i < k; ++i) tail[i - full_groups * 4] = rows[c * k + i];
      std::memcpy(out + c * 4, tail, 4);
    }
  }
  for (int c = 0; c < kS8PanelCols; ++c) {
    // |sum| <= 127 * 131071 < 2^24, so 128 * sum < 2^31 is exact.
    comp[c] = c < cols ? RowSum(rows + c * k, k) * 128 : 0;
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
