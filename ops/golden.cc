// Copyright 2026 The datanode Authors.
#include "datanode/ops/golden.h"

#include <map>
#include <memory>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "datanode/ops/digest.h"
#include "datanode/ops/reference.h"
#include "datanode/ops/status_macros.h"

namespace datanode::ops {

std::string GoldenCase::Key() const {
  return absl::StrCat(OpKindName(kind), " ", m, " ", n, " ", k, " ", seed, " ",
                      InputProfileName(profile));
}

std::vector<GoldenCase> GoldenCaseList() {
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
    const Shape shapes[] = {
        {1, 1 * n, blocked ? b : 1},
        {3, 17 * n, blocked ? 2 * b : 33},
        {7, 33 * n, blocked ? 3 * b : 100},
        {16, 64 * n, 256},
        {5, 129 * n, blocked ? 4096 + b : 4127},
        {2, 3 * n, kMaxK / b * b},
    };
    for (const Shape& s : shapes) {
      for (InputProfile profile : kAllInputProfiles) {
        GoldenCase c;
        c.kind = kind;
        c.m = s.m;
        c.n = s.n;
        c.k = s.k;
        c.seed = ++seed;
        c.profile = profile;
        cases.push_back(std::move(c));
      }
    }
  }
  return cases;
}

absl::Status ComputeGoldenDigests(Backend& backend, GoldenCase& c) {
  ASSIGN_OR_RETURN(OpInputs in, MakeRandomInputs(c.kind, c.m, c.n, c.k, c.seed, c.profile));
  c.input_sha256 = ToHex(Sha256Of({in.a, in.a_scale, in.w, in.w_scale}));
  OpArgs args = in.Args();
  RETURN_IF_ERROR(RunOp(backend, args));
  c.output_sha256 = OutputDigestHex(args);
  return absl::OkStatus();
}

absl::StatusOr<GoldenFile> ParseGoldenFile(std::string_view text) {
  GoldenFile golden;
  std::istringstream lines{std::string(text)};
  std::string line;
  int line_no = 0;
  while (std::getline(lines, line)) {
    ++line_no;
    std::istringstream fields(line);
    std::string op, profile, extra;
    if (!(fields >> op) || op[0] == '#') continue;
    const auto malformed = [&] {
      return absl::InvalidArgumentError(
          absl::StrCat("golden line ", line_no, " malformed: ", line));
    };
    if (op == "spec_version") {
      if (!(fields >> golden.spec_version) || (fields >> extra)) return malformed();
      continue;
    }
    GoldenCase c;
    if (!(fields >> c.m >> c.n >> c.k >> c.seed >> profile >> c.input_sha256 >> c.output_sha256) ||
        (fields >> extra) || c.input_sha256.size() != 64 || c.output_sha256.size() != 64) {
      return malformed();
    }
    absl::StatusOr<OpKind> kind = OpKindFromName(op);
    absl::StatusOr<InputProfile> input_profile = InputProfileFromName(profile);
    if (!kind.ok() || !input_profile.ok()) return malformed();
    c.kind = *kind;
    c.profile = *input_profile;
    golden.cases.push_back(std::move(c));
  }
  if (golden.spec_version < 0) return absl::InvalidArgumentError("golden text has no spec_version");
  if (golden.cases.empty()) return absl::InvalidArgumentError("golden text holds no case");
  return golden;
}

std::string FormatGoldenFile(const std::vector<GoldenCase>& cases) {
  std::string out = absl::StrCat(
      "# Golden vectors of the ops, spec version ", kSpecVersion,
      ": the reference backend's digests (datanode/ops/golden.h).\n"
      "# Rewritten only by `ops_golden_regen ops/golden/golden_vectors.txt` or\n"
      "# `dn-conformance golden --write ops/golden/golden_vectors.txt`; never by hand. A\n"
      "# changed digest means a changed spec or input generator: bump kSpecVersion and\n"
      "# docs/determinism.md with it.\n"
      "# op M N K seed profile sha256(A|a_scale|W|w_scale) sha256(out|out_scale)\n"
      "spec_version ",
      kSpecVersion, "\n");
  for (const GoldenCase& c : cases) {
    absl::StrAppend(&out, c.Key(), " ", c.input_sha256, " ", c.output_sha256, "\n");
  }
  return out;
}

absl::StatusOr<std::string> GenerateGoldenText() {
  std::unique_ptr<Backend> reference = reference::CreateReferenceBackend();
  std::vector<GoldenCase> cases = GoldenCaseList();
  for (GoldenCase& c : cases) {
    if (absl::Status st = ComputeGoldenDigests(*reference, c); !st.ok()) {
      return absl::Status(st.code(), absl::StrCat(c.Key(), ": ", st.message()));
    }
  }
  return FormatGoldenFile(cases);
}

absl::StatusOr<std::string> RegenerateGoldenText(std::string_view old_text,
                                                 bool force_same_version) {
  ASSIGN_OR_RETURN(std::string text, GenerateGoldenText());
  absl::StatusOr<GoldenFile> old = ParseGoldenFile(old_text);
  if (!old.ok() || old->spec_version != kSpecVersion || force_same_version) return text;
  ASSIGN_OR_RETURN(GoldenFile fresh, ParseGoldenFile(text));
  std::map<std::string, const GoldenCase*> by_key;
  for (const GoldenCase& c : fresh.cases) by_key[c.Key()] = &c;
  for (const GoldenCase& c : old->cases) {
    auto it = by_key.find(c.Key());
    if (it != by_key.end() && (it->second->input_sha256 != c.input_sha256 ||
                               it->second->output_sha256 != c.output_sha256)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "golden case '", c.Key(), "' changed its digest but kSpecVersion is still ", kSpecVersion,
          ": bump the spec version (types.h, docs/determinism.md) first, or "
          "force a rewrite at the same version"));
    }
  }
  return text;
}

}  // namespace datanode::ops
