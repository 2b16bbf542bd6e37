// Copyright 2026 The datanode Authors.
//
// Portable (plain C++) micro-kernel of the s8 GEMM, and the kernel-set dispatch.
// A panels hold raw s8 here, so every partial sum is a partial dot product with
// |value| <= 127^2 * 131071 < 2^31: int32 never overflows. Accumulation still uses
// uint32 so that the code has no undefined behaviour even on invalid input.
#include <cstring>

#include "ops/cpu/s8_kernels.h"

namespace datanode::ops::cpu {
namespace {

constexpr int kMr = 4;

template <int R>
void TilePortable(const S8TileArgs& t) {
  uint32_t acc[R][64] = {};
  const uint8_t* a = t.a;
  const uint8_t* w = t.w;
  for (int64_t g = 0; g < t.kgroups; ++g) {
    for (int r = 0; r < R; ++r) {
      const int32_t a0 = static_cast<int8_t>(a[4 * r]);
      const int32_t a1 = static_cast<int8_t>(a[4 * r + 1]);
      const int32_t a2 = static_cast<int8_t>(a[4 * r + 2]);
      const int32_t a3 = static_cast<int8_t>(a[4 * r + 3]);
      for (int c = 0; c < 64; ++c) {
        const uint8_t* wc = w + 4 * c;
        const int32_t dot = a0 * static_cast<int8_t>(wc[0]) + a1 * static_cast<int8_t>(wc[1]) +
                            a2 * static_cast<int8_t>(wc[2]) + a3 * static_cast<int8_t>(wc[3]);
        acc[r][c] += static_cast<uint32_t>(dot);
      }
    }
    a += 4 * R;
    w += 256;
  }
  for (int r = 0; r < R; ++r) {
    uint8_t* c = t.c + r * t.ldc * 4;
    for (int j = 0; j < t.cols; ++j) {
      uint32_t v = acc[r][j];
      if (t.comp != nullptr) v -= static_cast<uint32_t>(t.comp[j]);
      if (t.accumulate) {
        uint32_t old;
        std::memcpy(&old, c + 4 * j, 4);
        v += old;
      }
      std::memcpy(c + 4 * j, &v, 4);
    }
  }
}

}  // namespace

const S8KernelSet& S8KernelsPortable() {
  static const S8KernelSet kSet = {
      Isa::kPortable,
      kMr,
      /*a_to_u8=*/false,
      {nullptr, TilePortable<1>, TilePortable<2>, TilePortable<3>, TilePortable<4>},
      {nullptr, TilePortable<1>, TilePortable<2>, TilePortable<3>, TilePortable<4>},
  };
  return kSet;
}

const S8KernelSet& S8KernelsFor(Isa isa) {
  switch (isa) {
    case Isa::kAvx512Vnni:
      return S8KernelsAvx512Vnni();
    case Isa::kAvx2:
      return S8KernelsAvx2();
    case Isa::kPortable:
      break;
  }
  return S8KernelsPortable();
}

}  // namespace datanode::ops::cpu
