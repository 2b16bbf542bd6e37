// Copyright 2026 The datanode Authors.
//
// Golden vectors: fixed (op, shape, seed, input profile) cases with the output digest
// the reference backend produced. The checked-in file conformance/golden/golden_v1.txt
// is compiled into the binary; regenerate it with `dn-conformance golden --write
// <file>` (reference backend) only when the spec version changes. One case per line:
//   <op> <m> <n> <k> <seed> <profile: wide|extreme|realistic> <sha256 hex>
// '#' starts a comment.
#ifndef DATANODE_CONFORMANCE_GOLDEN_H_
#define DATANODE_CONFORMANCE_GOLDEN_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/types.h"

namespace datanode::conformance {

struct GoldenVector {
  ops::OpKind kind = ops::OpKind::kMatMulS8S32;
  int64_t m = 0, n = 0, k = 0;
  uint64_t seed = 0;
  ops::InputProfile profile = ops::InputProfile::kWide;
  std::string digest_hex;
};

// The compiled-in golden file's text and its SHA-256 (hex).
std::string_view CompiledGoldenText();
std::string CompiledGoldenDigest();

// Parses golden text; INVALID_ARGUMENT naming the bad line.
absl::StatusOr<std::vector<GoldenVector>> ParseGolden(std::string_view text);

// Produces golden text for the fixed case list by running the reference backend.
absl::StatusOr<std::string> GenerateGoldenText();

}  // namespace datanode::conformance

#endif  // DATANODE_CONFORMANCE_GOLDEN_H_
