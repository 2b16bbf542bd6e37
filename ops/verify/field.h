// Copyright 2026 The datanode Authors.
//
// Arithmetic in the two Mersenne prime fields of the verified mode (docs/verification.md):
// F_p with p = 2^61 - 1 (the s8 kinds, whose exact values are s32) and F_q with
// q = 2^127 - 1 (the Q8_0 family, whose exact sums reach 2^112, more than p).
//
// Written by hand: the operations needed are "reduce a 128- or 192-bit integer" and
// "multiply by a 64-bit scalar", a few shifts and adds each because 2^61 = 1 (mod p) and
// 2^127 = 1 (mod q). The libraries on this system are general multi-precision ones (GMP's
// mpz / mpn, OpenSSL's BIGNUM): a call each, division-based reduction, 50-100 ns per
// operation, where the verifier's budget is about one nanosecond per element. FLINT's
// single-word nmod is not installed and holds moduli below 2^64 only. GMP is used in the
// tests as the independent oracle for these functions.
//
// All values are canonical residues: [0, p) or [0, q). Pure functions, thread-safe.
#ifndef DATANODE_OPS_VERIFY_FIELD_H_
#define DATANODE_OPS_VERIFY_FIELD_H_

#include <cstdint>

namespace datanode::ops::verify {

using int128 = __int128;
using uint128 = unsigned __int128;

// F_p, p = 2^61 - 1.
struct M61 {
  static constexpr uint64_t kP = (uint64_t{1} << 61) - 1;

  // x mod p for any unsigned 128-bit x: x = lo + mid * 2^61 + hi * 2^122 and 2^61 = 1.
  static uint64_t FromUint128(uint128 x) {
    const uint64_t lo = static_cast<uint64_t>(x) & kP;
    const uint64_t mid = static_cast<uint64_t>(x >> 61) & kP;
    const uint64_t hi = static_cast<uint64_t>(x >> 122);  // < 2^6
    uint64_t s = lo + mid + hi;                           // < 2^63
    s = (s & kP) + (s >> 61);
    return s >= kP ? s - kP : s;
  }
  // x mod p for any signed 128-bit x (the canonical residue, also for negative x).
  static uint64_t FromInt128(int128 x) {
    if (x >= 0) return FromUint128(static_cast<uint128>(x));
    const uint64_t r = FromUint128(-static_cast<uint128>(x));
    return r == 0 ? 0 : kP - r;
  }
};

// F_q, q = 2^127 - 1.
struct M127 {
  static constexpr uint128 kQ = (uint128{1} << 127) - 1;

  // x mod q for any unsigned 128-bit x (x = (x & q) + (x >> 127) * 2^127, 2^127 = 1).
  static uint128 Reduce(uint128 x) {
    const uint128 s = (x & kQ) + (x >> 127);  // <= q + 1
    return s >= kQ ? s - kQ : s;
  }
  static uint128 FromInt128(int128 x) {
    if (x >= 0) return Reduce(static_cast<uint128>(x));
    const uint128 r = Reduce(-static_cast<uint128>(x));
    return r == 0 ? 0 : kQ - r;
  }
  // a + b for residues a, b (a + b < 2^128 cannot wrap).
  static uint128 Add(uint128 a, uint128 b) { return Reduce(a + b); }
  static uint128 Neg(uint128 a) { return a == 0 ? 0 : kQ - a; }
  // a * 2^s mod q for a residue a and 0 <= s < 127: a rotation of a's 127 bits.
  static uint128 MulPow2(uint128 a, int s) {
    if (s == 0) return a;
    return Reduce(((a << s) & kQ) | (a >> (127 - s)));
  }
  // a * s mod q for a residue a and any 64-bit s. The product (< 2^191) is
  // t2 * 2^128 + t1 * 2^64 + t0, and 2^128 = 2 (mod q).
  static uint128 MulU64(uint128 a, uint64_t s) {
    const uint128 p0 = static_cast<uint128>(static_cast<uint64_t>(a)) * s;
    const uint128 p1 = static_cast<uint128>(static_cast<uint64_t>(a >> 64)) * s;  // < 2^127
    const uint128 low = p0 + (p1 << 64);                                          // mod 2^128
    const uint64_t carry = low < p0 ? 1 : 0;
    const uint64_t t2 = static_cast<uint64_t>(p1 >> 64) + carry;  // < 2^63 + 1
    // low = (low & q) + (low >> 127) * 2^127; 2^127 = 1 and 2^128 = 2.
    const uint128 folded = (low & kQ) + (low >> 127) + 2 * static_cast<uint128>(t2);  // < 2^128
    return Reduce(folded);
  }
};

}  // namespace datanode::ops::verify

#endif  // DATANODE_OPS_VERIFY_FIELD_H_
