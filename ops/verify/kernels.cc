// Copyright 2026 The datanode Authors.
//
// Portable kernels of the verifier (kernels.h): plain 64- and 128-bit integer loops.
#include "ops/verify/kernels.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "datanode/ops/exact_float.h"

namespace datanode::ops::verify::internal {
namespace {

int128 LoadI128(const uint8_t* p) {
  uint64_t lo;
  uint64_t hi;
  std::memcpy(&lo, p, 8);
  std::memcpy(&hi, p + 8, 8);
  return static_cast<int128>((static_cast<uint128>(hi) << 64) | lo);
}

int128 DotS32RRow(const uint8_t* c, const uint64_t* r, int64_t n) {
  int128 acc = 0;  // |c r| < 2^83 each
  for (int64_t i = 0; i < n; ++i) {
    acc +=
        static_cast<int128>(static_cast<int32_t>(LoadU32(c + 4 * i))) * static_cast<int64_t>(r[i]);
  }
  return acc;
}

int128 DotS8VRow(const uint8_t* a, const S8Tables& t, int64_t k) {
  // v = hi * 2^32 + lo; |a * lo| < 2^39 and |a * hi| < 2^36, so int64 partial sums over
  // 2^20 elements cannot overflow.
  int128 acc = 0;
  for (int64_t start = 0; start < k; start += int64_t{1} << 20) {
    const int64_t end = std::min(k, start + (int64_t{1} << 20));
    int64_t lo = 0;
    int64_t hi = 0;
    for (int64_t i = start; i < end; ++i) {
      const int64_t ai = static_cast<int8_t>(a[i]);
      lo += ai * static_cast<int64_t>(t.v[i] & 0xFFFFFFFFu);
      hi += ai * static_cast<int64_t>(t.v[i] >> 32);
    }
    acc += (static_cast<int128>(hi) << 32) + lo;
  }
  return acc;
}

int64_t FirstBadS8F32Row(const uint8_t* isum, const uint8_t* out, int64_t a_mant, int a_exp,
                         const int32_t* w_mant, const int16_t* w_exp, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    const int64_t s = static_cast<int32_t>(LoadU32(isum + 4 * j));
    const int128 mant = static_cast<int128>(a_mant * w_mant[j]) * s;
    if (RoundToF32Bits(mant, a_exp + w_exp[j]) != LoadU32(out + 4 * j)) return j;
  }
  return -1;
}

uint128 CheckQ8Row(const uint8_t* e, const uint8_t* out, const uint64_t* r, int64_t n,
                   int64_t* first_bad, bool* out_of_range) {
  // E' = E + 2^112 in [0, 2^113) = e1 * 2^64 + e0. sum E' r = (s1 + s0hi) * 2^64 + s0lo
  // with s0lo = sum lo64(e0 r), s0hi = sum hi64(e0 r), s1 = sum e1 r: each below 2^128 for
  // n <= 2^24. Then subtract 2^112 * sum r.
  const int128 limit = int128{1} << 112;
  uint128 s0lo = 0;
  uint128 s0hi = 0;
  uint128 s1 = 0;
  uint128 sum_r = 0;
  *first_bad = -1;
  for (int64_t i = 0; i < n; ++i) {
    const int128 x = LoadI128(e + 16 * i);
    if (x >= limit || x <= -limit) {
      *first_bad = i;
      *out_of_range = true;
      return 0;
    }
    if (RoundToF32Bits(x, -48) != LoadU32(out + 4 * i)) {
      *first_bad = i;
      *out_of_range = false;
      return 0;
    }
    const uint128 shifted = static_cast<uint128>(x) + (uint128{1} << 112);
    const uint128 p0 = static_cast<uint128>(static_cast<uint64_t>(shifted)) * r[i];
    s0lo += static_cast<uint64_t>(p0);
    s0hi += static_cast<uint64_t>(p0 >> 64);
    s1 += static_cast<uint128>(static_cast<uint64_t>(shifted >> 64)) * r[i];
    sum_r += r[i];
  }
  const uint128 high = M127::Add(M127::Reduce(s1), M127::Reduce(s0hi));
  const uint128 total = M127::Add(M127::MulPow2(high, 64), M127::Reduce(s0lo));
  return M127::Add(total, M127::Neg(M127::MulPow2(M127::Reduce(sum_r), 112)));
}

uint128 CheckQ8Row64(const uint8_t* e, const uint8_t* out, const uint64_t* r, int64_t n,
                     uint128 /*r_bias*/, int64_t* first_bad) {
  // sum E r with |E r| < 2^115: int128 partial sums over 2^11 elements, reduced mod q.
  *first_bad = -1;
  uint128 acc = 0;
  for (int64_t start = 0; start < n; start += 2048) {
    const int64_t end = std::min(n, start + 2048);
    int128 part = 0;
    for (int64_t i = start; i < end; ++i) {
      int64_t x;
      std::memcpy(&x, e + 8 * i, 8);
      if (RoundToF32Bits(x, -48) != LoadU32(out + 4 * i)) {
        *first_bad = i;
        return 0;
      }
      part += static_cast<int128>(x) * static_cast<int64_t>(r[i]);
    }
    acc = M127::Add(acc, M127::FromInt128(part));
  }
  return acc;
}

uint128 DotQ8VRow(const uint8_t* a_row, const Q8Tables& t, int64_t blocks, bool* valid) {
  uint128 acc = 0;
  *valid = true;
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t* block = a_row + b * 34;
    if (!IsFiniteF16Bits(LoadU16(block))) *valid = false;
    for (int j = 0; j < 32; ++j) {
      if (block[2 + j] == 0x80) *valid = false;
    }
    if (!*valid) return 0;
    const ExactValue d = DecodeF16Bits(LoadU16(block));
    if (d.mantissa == 0) continue;
    const int8_t* q = reinterpret_cast<const int8_t*>(block + 2);
    // T = sum_j q_j v_j = sum_p 2^(8p) S_p with S_p = sum_j q_j * (byte p of v_j), read
    // group by group from v's planes (4 columns of one plane are 4 consecutive bytes):
    // |S_p| <= 32 * 127 * 255 < 2^20, so the planes' halves below stay under 2^77.
    int32_t plane_sums[16] = {};
    for (int g = 0; g < 8; ++g) {
      for (int p = 0; p < 16; ++p) {
        const uint8_t* bytes = t.v16 + Q8VByteOffset(b * 32 + 4 * g, p);
        for (int j = 0; j < 4; ++j) plane_sums[p] += q[4 * g + j] * bytes[j];
      }
    }
    int128 t_lo = 0;  // planes 0..7: bits 0..63 of v
    int128 t_hi = 0;  // planes 8..15: bits 64..127
    for (int p = 0; p < 8; ++p) {
      t_lo += static_cast<int128>(plane_sums[p]) * (int128{1} << (8 * p));
      t_hi += static_cast<int128>(plane_sums[8 + p]) * (int128{1} << (8 * p));
    }
    const uint128 sum =
        M127::Add(M127::MulPow2(M127::FromInt128(t_hi), 64), M127::FromInt128(t_lo));
    // d * 2^24 = mantissa * 2^(exponent + 24), exponent >= -24.
    const uint64_t scale = static_cast<uint64_t>(d.mantissa < 0 ? -d.mantissa : d.mantissa);
    uint128 term = M127::MulPow2(M127::MulU64(sum, scale), d.exponent + 24);
    if (d.mantissa < 0) term = M127::Neg(term);
    acc = M127::Add(acc, term);
  }
  return acc;
}

void DotS32R(const uint8_t* c, int64_t stride, const uint64_t* r, int64_t n, int rows,
             int128* out) {
  for (int j = 0; j < rows; ++j) out[j] = DotS32RRow(c + j * stride, r, n);
}

void DotS8V(const uint8_t* a, int64_t stride, const S8Tables& t, int64_t k, int rows, int128* out) {
  for (int j = 0; j < rows; ++j) out[j] = DotS8VRow(a + j * stride, t, k);
}

void DotQ8V(const uint8_t* a, int64_t stride, const Q8Tables& t, int64_t blocks, int rows,
            uint128* out, bool* valid) {
  *valid = true;
  for (int j = 0; j < rows && *valid; ++j) out[j] = DotQ8VRow(a + j * stride, t, blocks, valid);
}

}  // namespace

const Kernels& PortableKernels() {
  static constexpr Kernels kPortable = {"portable", DotS32R,      DotS8V, FirstBadS8F32Row,
                                        CheckQ8Row, CheckQ8Row64, DotQ8V};
  return kPortable;
}

const Kernels& ActiveKernels() {
  static const Kernels* active = [] {
    const char* isa = std::getenv("DATANODE_VERIFY_ISA");
    if (isa != nullptr && std::strcmp(isa, "portable") == 0) return &PortableKernels();
    const Kernels* fast = Avx512Kernels();
    return fast != nullptr ? fast : &PortableKernels();
  }();
  return *active;
}

}  // namespace datanode::ops::verify::internal
