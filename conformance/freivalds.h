// Copyright 2026 The datanode Authors.
//
// Freivalds' check of an exact s8 x s8 -> s32 matmul C[m, n] = sum_k A[m, k] * W[n, k]
// (W is [N, K]) in O(M*K + N*K + M*N) instead of O(M*N*K).
//
// For a random vector r in Z^N: (C r)[m] = sum_n C[m, n] r[n]
//   = sum_k A[m, k] * (sum_n W[n, k] r[n]) = (A v)[m] with v = W^T r.
// All sums are exact in int128 (|W| <= 127, N < 2^24, |r| < 2^31 gives |v| < 2^62;
// |A v| < 2^7 * 2^17 * 2^62). A wrong C passes one round with probability at most
// 1/2^32 (r uniform over 2^32 values per coordinate, Schwartz-Zippel), so two rounds
// make a false accept negligible.
#ifndef DATANODE_CONFORMANCE_FREIVALDS_H_
#define DATANODE_CONFORMANCE_FREIVALDS_H_

#include <cstdint>

#include "datanode/ops/types.h"

namespace datanode::conformance {

// True if C passes `rounds` rounds with vectors drawn from SplitMix64(seed). On
// failure, *bad_row (if non-null) receives a row index where A v != C r.
bool FreivaldsCheckS8S32(int64_t m, int64_t n, int64_t k, ops::ByteSpan a, ops::ByteSpan w,
                         ops::ByteSpan c, uint64_t seed, int rounds, int64_t* bad_row = nullptr);

}  // namespace datanode::conformance

#endif  // DATANODE_CONFORMANCE_FREIVALDS_H_
