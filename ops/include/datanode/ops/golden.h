// Copyright 2026 The datanode Authors.
//
// The golden vectors: fixed (op, shape, seed, input profile) cases with the SHA-256 of
// their inputs and of the reference's output. They pin the spec's bytes: a change to an
// op's output or to the input generator changes a digest. The one checked-in copy is
// ops/golden/golden_vectors.txt; tests/ops/golden_test.cc checks every backend against
// it, dn-conformance compiles it in (its golden phase and the report's golden_digest),
// and ops_golden_regen or `dn-conformance golden --write` rewrite it.
//
// File format: '#' comment lines, one "spec_version N" line, then one line per case:
//   <op name> <M> <N> <K> <seed> <profile> <input sha256> <output sha256>
// The input digest is over A, a_scale, W, w_scale as MakeRandomInputs builds them, so a
// failure says whether the generator or the op changed.
//
// Thread safety: every function here is pure or creates its own reference backend.
#ifndef DATANODE_OPS_GOLDEN_H_
#define DATANODE_OPS_GOLDEN_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/types.h"

namespace datanode::ops {

struct GoldenCase {
  OpKind kind = OpKind::kMatMulS8S32;
  int64_t m = 0, n = 0, k = 0;
  uint64_t seed = 0;
  InputProfile profile = InputProfile::kWide;
  std::string input_sha256;   // lower-case hex; empty until computed or read
  std::string output_sha256;  // lower-case hex; empty until computed or read

  // "<op> <M> <N> <K> <seed> <profile>": the case without its digests.
  std::string Key() const;
};

struct GoldenFile {
  int spec_version = -1;
  std::vector<GoldenCase> cases;
};

// Every op x six shapes (ones, odd sizes, one to three blocks, 256, 4096 + one block and
// the longest K) x every input profile, digests empty. Appending cases is free; changing
// or removing one changes the checked-in file.
std::vector<GoldenCase> GoldenCaseList();

// Fills both digests of `c` by running it on `backend`; the backend's error if it fails.
absl::Status ComputeGoldenDigests(Backend& backend, GoldenCase& c);

// Parses golden text; INVALID_ARGUMENT naming the first malformed line, or if the text
// holds no case or no spec_version line.
absl::StatusOr<GoldenFile> ParseGoldenFile(std::string_view text);

// The file's text for `cases` (header comments, spec_version kSpecVersion, one line each).
std::string FormatGoldenFile(const std::vector<GoldenCase>& cases);

// GoldenCaseList() computed on the reference backend and formatted.
absl::StatusOr<std::string> GenerateGoldenText();

// GenerateGoldenText(), guarded for rewriting `old_text` (the current file; empty or
// unparsable: no guard). Changing a digest is a spec change: FAILED_PRECONDITION, naming
// the first changed case, if a case present in both changed a digest while the old file's
// spec_version equals kSpecVersion, unless `force_same_version` (e.g. a generator bug
// fixed before any release). New cases need no version bump.
absl::StatusOr<std::string> RegenerateGoldenText(std::string_view old_text,
                                                 bool force_same_version);

}  // namespace datanode::ops

#endif  // DATANODE_OPS_GOLDEN_H_
