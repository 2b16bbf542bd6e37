// Copyright 2026 The datanode Authors.
//
// The fixed golden cases whose reference output digests are checked in
// (tests/ops/golden_digests.txt), and the file's format, shared by golden_test.cc
// (which checks every backend against the file) and golden_regen.cc (which writes
// the file from the reference; see there for when that is allowed).
//
// File format: '#' comments, one "spec_version N" line, then one line per case:
//   <op name> <M> <N> <K> <seed> <profile> <input sha256> <output sha256>
// The input digest is SHA-256 over A, a_scale, W, w_scale as MakeRandomInputs builds
// them, so a failure says whether the generator or the op changed.
#ifndef DATANODE_TESTS_OPS_GOLDEN_CASES_H_
#define DATANODE_TESTS_OPS_GOLDEN_CASES_H_

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "datanode/ops/digest.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/types.h"
#include "tests/ops/test_util.h"

namespace datanode::ops::testing {

struct GoldenCase {
  OpKind kind;
  int64_t m, n, k;
  uint64_t seed;
  InputProfile profile;
  std::string input_sha256;   // empty until computed / read
  std::string output_sha256;  // empty until computed / read

  std::string Key() const {
    return absl::StrCat(OpKindName(kind), " ", m, " ", n, " ", k, " ", seed, " ",
                        ProfileName(profile));
  }
};

// Every op x a few shapes (1s, odd sizes, block boundaries, K = 4096 + one block and
// the longest K) x every profile. Appending cases is free; changing or removing one
// changes the checked-in file.
inline std::vector<GoldenCase> GoldenCaseList() {
  struct Shape {
    int64_t m, n, k;
  };
  std::vector<GoldenCase> cases;
  uint64_t seed = 0x601DE11;
  for (OpKind kind : kAllOpKinds) {
    // K: one, two and three blocks, 256, 4096 + one block, and the longest K (for the
    // K-quants, whose block is 256 values, 256 again with other M and N).
    const int64_t b = FindOpInfo(kind)->k_multiple;
    const bool blocked = b > 1;
    const int64_t n = IsMatMul(kind) ? 1 : 0;
    std::vector<Shape> shapes = {
        {1, 1 * n, blocked ? b : 1},
        {3, 17 * n, blocked ? 2 * b : 33},
        {7, 33 * n, blocked ? 3 * b : 100},
        {16, 64 * n, 256},
        {5, 129 * n, blocked ? 4096 + b : 4127},
        {2, 3 * n, kMaxK / b * b},
    };
    for (const Shape& s : shapes) {
      for (InputProfile profile : kAllProfiles) {
        cases.push_back({kind, s.m, s.n, s.k, ++seed, profile, "", ""});
      }
    }
  }
  return cases;
}

// Computes both digests of `c` on `backend` (the output one after running it).
inline absl::Status ComputeDigests(Backend& backend, GoldenCase& c) {
  absl::StatusOr<OpInputs> in = MakeRandomInputs(c.kind, c.m, c.n, c.k, c.seed, c.profile);
  if (!in.ok()) return in.status();
  c.input_sha256 = ToHex(Sha256Of({in->a, in->a_scale, in->w, in->w_scale}));
  if (absl::Status st = RunOp(backend, in->Args()); !st.ok()) return st;
  c.output_sha256 = OutputDigestHex(in->Args());
  return absl::OkStatus();
}

struct GoldenFile {
  int spec_version = -1;
  std::vector<GoldenCase> cases;
};

inline absl::StatusOr<GoldenFile> ReadGoldenFile(const std::string& path) {
  std::ifstream file(path);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  GoldenFile golden;
  std::string line;
  int line_no = 0;
  while (std::getline(file, line)) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string op;
    fields >> op;
    if (op == "spec_version") {
      fields >> golden.spec_version;
      continue;
    }
    GoldenCase c;
    std::string profile;
    fields >> c.m >> c.n >> c.k >> c.seed >> profile >> c.input_sha256 >> c.output_sha256;
    absl::StatusOr<OpKind> kind = OpKindFromName(op);
    bool profile_ok = false;
    for (InputProfile p : kAllProfiles) {
      if (profile == ProfileName(p)) {
        c.profile = p;
        profile_ok = true;
      }
    }
    if (!kind.ok() || !profile_ok || fields.fail() || c.output_sha256.size() != 64 ||
        c.input_sha256.size() != 64) {
      return absl::DataLossError(absl::StrCat(path, ":", line_no, ": malformed line: ", line));
    }
    c.kind = *kind;
    golden.cases.push_back(c);
  }
  return golden;
}

}  // namespace datanode::ops::testing

#endif  // DATANODE_TESTS_OPS_GOLDEN_CASES_H_
