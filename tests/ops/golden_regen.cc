// Copyright 2026 The datanode Authors.
//
// Writes tests/ops/golden_digests.txt from the reference backend:
//
//   ninja -C build ops_golden_regen
//   build/tests/ops/ops_golden_regen tests/ops/golden_digests.txt
//
// Regenerating is a spec change, not a test fix: if any existing case's output (or
// input) digest changes, the op's bytes or the input generator changed, which must
// come with a bump of kSpecVersion (ops/include/datanode/ops/types.h) and of
// docs/determinism.md. The tool therefore refuses to rewrite a changed digest while
// the file's spec_version equals kSpecVersion, unless --force-same-version is given
// (e.g. to fix a generator bug before any release). Adding new cases to
// GoldenCaseList() needs no bump.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>

#include "datanode/ops/backend.h"
#include "datanode/ops/types.h"
#include "tests/ops/golden_cases.h"

int main(int argc, char** argv) {
  using namespace datanode::ops;
  using namespace datanode::ops::testing;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <golden_digests.txt> [--force-same-version]\n", argv[0]);
    return 2;
  }
  const std::string path = argv[1];
  const bool force = argc > 2 && std::strcmp(argv[2], "--force-same-version") == 0;

  std::map<std::string, GoldenCase> old_cases;
  int old_version = -1;
  if (absl::StatusOr<GoldenFile> old = ReadGoldenFile(path); old.ok()) {
    old_version = old->spec_version;
    for (const GoldenCase& c : old->cases) old_cases[c.Key()] = c;
  }

  std::unique_ptr<Backend> reference = *CreateBackend("reference");
  std::vector<GoldenCase> cases = GoldenCaseList();
  int changed = 0;
  for (GoldenCase& c : cases) {
    if (absl::Status st = ComputeDigests(*reference, c); !st.ok()) {
      std::fprintf(stderr, "%s: %s\n", c.Key().c_str(), st.ToString().c_str());
      return 1;
    }
    auto it = old_cases.find(c.Key());
    if (it != old_cases.end() && (it->second.output_sha256 != c.output_sha256 ||
                                  it->second.input_sha256 != c.input_sha256)) {
      std::fprintf(stderr, "changed: %s\n", c.Key().c_str());
      ++changed;
    }
  }
  if (changed > 0 && old_version == kSpecVersion && !force) {
    std::fprintf(stderr,
                 "%d golden digests changed but kSpecVersion is still %d: bump the spec "
                 "version (types.h, docs/determinism.md) first, or pass --force-same-version\n",
                 changed, kSpecVersion);
    return 1;
  }

  std::ofstream out(path, std::ios::trunc);
  out << "# Golden digests of the ops, spec version " << kSpecVersion << ".\n"
      << "# Produced by the reference backend (tests/ops/golden_regen.cc):\n"
      << "#   build/tests/ops/ops_golden_regen tests/ops/golden_digests.txt\n"
      << "# Do not edit by hand. A changed digest means a changed spec or input generator:\n"
      << "# bump kSpecVersion and docs/determinism.md with it.\n"
      << "# op M N K seed profile sha256(A|a_scale|W|w_scale) sha256(out|out_scale)\n"
      << "spec_version " << kSpecVersion << "\n";
  for (const GoldenCase& c : cases) {
    out << c.Key() << " " << c.input_sha256 << " " << c.output_sha256 << "\n";
  }
  out.close();
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    return 1;
  }
  std::printf("wrote %zu cases to %s (%d changed)\n", cases.size(), path.c_str(), changed);
  return 0;
}
