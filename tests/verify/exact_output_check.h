// Copyright 2026 The datanode Authors.
//
// What the backends' exact-output tests (tests/cpu_q8/exact_output_test.cc,
// tests/vulkan/vulkan_exact_output_test.cc) share: the kinds whose E a backend writes, K in
// units of the kind's K multiple, the scalar producer's E to compare with, and a readable
// first difference. Header-only test support; not part of any library.
#ifndef DATANODE_TESTS_VERIFY_EXACT_OUTPUT_CHECK_H_
#define DATANODE_TESTS_VERIFY_EXACT_OUTPUT_CHECK_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/types.h"
#include "datanode/ops/verify.h"

namespace datanode::ops::testing {

// The kinds with exact values beside C (s8_s32's output is itself exact).
inline constexpr OpKind kExactKinds[] = {OpKind::kMatMulS8F32,    OpKind::kMatMulQ8_0Q8_0,
                                         OpKind::kMatMulQ8_0Q4_0, OpKind::kMatMulQ8_0Q4_1,
                                         OpKind::kMatMulQ8_0Q4_K, OpKind::kMatMulQ8_0Q6_K};

// A shape with K as a count of the kind's K multiple (a Q8_0 block, a K-quant super-block,
// one s8 value); blocks = 0 means K = 4096.
struct ExactShape {
  int64_t m, n, blocks;
};

inline int64_t ShapeK(OpKind kind, const ExactShape& s) {
  return s.blocks == 0 ? 4096 : s.blocks * FindOpInfo(kind)->k_multiple;
}

// "" when equal, else where the first byte differs (element, row and column for rows of n
// elements of elem_bytes each).
inline std::string FirstDiff(const std::vector<uint8_t>& want, const std::vector<uint8_t>& got,
                             int64_t elem_bytes, int64_t n) {
  size_t d = 0;
  while (d < want.size() && d < got.size() && want[d] == got[d]) ++d;
  if (d == want.size() && want.size() == got.size()) return "";
  const int64_t e = static_cast<int64_t>(d) / elem_bytes;
  return absl::StrCat("first differing byte ", d, " (element ", e, ", row ", e / n, ", col ", e % n,
                      ") of ", want.size(), " vs ", got.size());
}

// The scalar producer's E (int128 / s32 layout, not compacted).
inline std::vector<uint8_t> ScalarExact(const OpInputs& in) {
  std::vector<uint8_t> exact(static_cast<size_t>(verify::ExactSumsBytes(in.kind, in.m, in.n)));
  const absl::Status st =
      verify::ComputeExactSums(in.kind, in.m, in.n, in.k, in.a, in.w, MutableByteSpan(exact));
  EXPECT_TRUE(st.ok()) << st;
  return exact;
}

}  // namespace datanode::ops::testing

#endif  // DATANODE_TESTS_VERIFY_EXACT_OUTPUT_CHECK_H_
