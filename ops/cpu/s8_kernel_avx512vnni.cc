// Copyright 2026 The datanode Authors.
//
// AVX-512 VNNI micro-kernel of the s8 GEMM: up to 6 rows x 64 columns, 24 zmm
// accumulators. Per k-group it loads the W panel's 256 bytes (4 zmm = 16 columns x
// 4 k each), broadcasts 4 bytes of each packed A row (A + 128 as u8) and issues
// vpdpbusd, the NON-saturating form: each lane adds the exact sum of its four
// u8 x s8 products to the int32 accumulator with wrap-around. (vpdpbusds saturates
// and would be wrong; it is never used.)
//
// Why wrap-around is exact here: the lane accumulates sum_k (A+128) * W, whose
// magnitude can reach 255 * 127 * 131071 ~ 2^32 and so may wrap, but all arithmetic
// is mod 2^32. Subtracting comp = 128 * sum_k W (exact, < 2^31) leaves
// sum_k A * W mod 2^32, and |sum_k A * W| <= 127^2 * 131071 < 2^31, so the int32
// representative of that residue is the true value.
#include "ops/cpu/s8_kernels.h"

#if defined(__x86_64__)

#include <immintrin.h>

#include <cstring>

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni")

namespace datanode::ops::cpu {
namespace {

constexpr int kMr = 6;

inline __m512i BroadcastA(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// Stores one finished row of the tile: C = acc - comp (+ old C), masked to `cols`.
inline void StoreRow(const S8TileArgs& t, int r, const __mmask16* mask, const __m512i* comp,
                     __m512i v0, __m512i v1, __m512i v2, __m512i v3) {
  int32_t* c = reinterpret_cast<int32_t*>(t.c) + r * t.ldc;
  const __m512i v[4] = {v0, v1, v2, v3};
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {
    __m512i x = _mm512_sub_epi32(v[j], comp[j]);
    if (t.accumulate) x = _mm512_add_epi32(x, _mm512_maskz_loadu_epi32(mask[j], c + 16 * j));
    _mm512_mask_storeu_epi32(c + 16 * j, mask[j], x);
  }
}

// The accumulators are named variables, not an array: GCC 12 keeps an indexed
// __m512i array in memory and spills every iteration.
#define DN_VNNI_ROW_DECL(r)                                                   \
  __m512i c##r##0 = _mm512_setzero_si512(), c##r##1 = _mm512_setzero_si512(), \
          c##r##2 = _mm512_setzero_si512(), c##r##3 = _mm512_setzero_si512()
#define DN_VNNI_ROW_STEP(r)                   \
  if constexpr (R > r) {                      \
    const __m512i ar = BroadcastA(a + 4 * r); \
    Dpbusd(c##r##0, ar, w0);                  \
    Dpbusd(c##r##1, ar, w1);                  \
    Dpbusd(c##r##2, ar, w2);                  \
    Dpbusd(c##r##3, ar, w3);                  \
  }
#define DN_VNNI_ROW_STORE(r) \
  if constexpr (R > r) StoreRow(t, r, mask, comp, c##r##0, c##r##1, c##r##2, c##r##3)

// acc += vpdpbusd(a_u8, w_s8), accumulating in place. Written as inline asm because
// GCC 12 compiles the _mm512_dpbusd_epi32 intrinsic in this loop with a register copy
// and a stack store per instruction; the asm is exactly the intrinsic's instruction.
inline void Dpbusd(__m512i& acc, __m512i a_u8, __m512i w_s8) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a_u8), "v"(w_s8));
}

// Software prefetch distance in the W panel for the decode (streaming) variant: 16
// k-groups ahead. Without it a single core streams W at about half the speed (M = 1,
// K = N = 4096, W not in cache: ~60 -> ~100 GOP/s measured); prefetches never fault,
// so running past the panel's (or W's) end is harmless.
constexpr int64_t kPf = 4096;

// kStream: prefetch W ahead (decode plan, W comes from memory once).
template <int R, bool kStream>
void TileVnni(const S8TileArgs& t) {
  static_assert(R >= 1 && R <= kMr);
  DN_VNNI_ROW_DECL(0);
  DN_VNNI_ROW_DECL(1);
  DN_VNNI_ROW_DECL(2);
  DN_VNNI_ROW_DECL(3);
  DN_VNNI_ROW_DECL(4);
  DN_VNNI_ROW_DECL(5);
  const uint8_t* a = t.a;
  const uint8_t* w = t.w;
  for (int64_t g = 0; g < t.kgroups; ++g) {
    if constexpr (kStream) {
      _mm_prefetch(reinterpret_cast<const char*>(w + kPf), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(w + kPf + 64), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(w + kPf + 128), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(w + kPf + 192), _MM_HINT_T0);
    }
    const __m512i w0 = _mm512_load_si512(w);
    const __m512i w1 = _mm512_load_si512(w + 64);
    const __m512i w2 = _mm512_load_si512(w + 128);
    const __m512i w3 = _mm512_load_si512(w + 192);
    DN_VNNI_ROW_STEP(0)
    DN_VNNI_ROW_STEP(1)
    DN_VNNI_ROW_STEP(2)
    DN_VNNI_ROW_STEP(3)
    DN_VNNI_ROW_STEP(4)
    DN_VNNI_ROW_STEP(5)
    a += 4 * R;
    w += 256;
  }
  __mmask16 mask[4];
  __m512i comp[4];
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {
    const int valid = t.cols - 16 * j;
    mask[j] = valid >= 16 ? __mmask16(0xFFFF)
                          : (valid <= 0 ? __mmask16(0) : __mmask16((1u << valid) - 1));
    comp[j] = t.comp != nullptr ? _mm512_loadu_si512(t.comp + 16 * j) : _mm512_setzero_si512();
  }
  DN_VNNI_ROW_STORE(0);
  DN_VNNI_ROW_STORE(1);
  DN_VNNI_ROW_STORE(2);
  DN_VNNI_ROW_STORE(3);
  DN_VNNI_ROW_STORE(4);
  DN_VNNI_ROW_STORE(5);
}

#undef DN_VNNI_ROW_DECL
#undef DN_VNNI_ROW_STEP
#undef DN_VNNI_ROW_STORE

}  // namespace

const S8KernelSet& S8KernelsAvx512Vnni() {
  static const S8KernelSet kSet = {
      Isa::kAvx512Vnni,
      kMr,
      /*a_to_u8=*/true,
      {nullptr, TileVnni<1, false>, TileVnni<2, false>, TileVnni<3, false>, TileVnni<4, false>,
       TileVnni<5, false>, TileVnni<6, false>},
      {nullptr, TileVnni<1, true>, TileVnni<2, true>, TileVnni<3, true>, TileVnni<4, true>,
       TileVnni<5, true>, TileVnni<6, true>},
  };
  return kSet;
}

}  // namespace datanode::ops::cpu

#pragma GCC pop_options

#else  // !__x86_64__

namespace datanode::ops::cpu {
const S8KernelSet& S8KernelsAvx512Vnni() { return S8KernelsPortable(); }
}  // namespace datanode::ops::cpu

#endif
