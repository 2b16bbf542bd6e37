// Copyright 2026 The datanode Authors.
#include "conformance/freivalds.h"

#include <vector>

#include "datanode/ops/exact_float.h"
#include "datanode/ops/random_inputs.h"

namespace datanode::conformance {

bool FreivaldsCheckS8S32(int64_t m, int64_t n, int64_t k, ops::ByteSpan a, ops::ByteSpan w,
                         ops::ByteSpan c, uint64_t seed, int rounds, int64_t* bad_row) {
  ops::SplitMix64 rng(seed);
  std::vector<int64_t> r(n);
  std::vector<ops::int128> v(k);
  for (int round = 0; round < rounds; ++round) {
    // Signed 32-bit coordinates: zero is as likely as any other value.
    for (auto& x : r) x = static_cast<int32_t>(static_cast<uint32_t>(rng.Next() >> 32));
    std::fill(v.begin(), v.end(), 0);
    for (int64_t j = 0; j < n; ++j) {  // v = W^T r, walking W row by row
      const int8_t* wr = reinterpret_cast<const int8_t*>(w.data()) + j * k;
      const int64_t rj = r[j];
      for (int64_t p = 0; p < k; ++p) v[p] += static_cast<ops::int128>(wr[p] * rj);
    }
    for (int64_t i = 0; i < m; ++i) {
      const int8_t* ar = reinterpret_cast<const int8_t*>(a.data()) + i * k;
      ops::int128 av = 0;
      for (int64_t p = 0; p < k; ++p) av += v[p] * ar[p];
      ops::int128 cr = 0;
      const uint8_t* cp = c.data() + i * n * 4;
      for (int64_t j = 0; j < n; ++j) {
        cr += static_cast<ops::int128>(static_cast<int32_t>(ops::LoadU32(cp + j * 4))) * r[j];
      }
      if (av != cr) {
        if (bad_row != nullptr) *bad_row = i;
        return false;
      }
    }
  }
  return true;
}

}  // namespace datanode::conformance
