// Copyright 2026 The datanode Authors.
//
// Rewrites the golden vectors (ops/golden/golden_vectors.txt) from the reference backend,
// in builds without the daemon too (`dn-conformance golden --write` does the same):
//
//   ninja -C build ops_golden_regen
//   build/tests/ops/ops_golden_regen ops/golden/golden_vectors.txt [--force-same-version]
//
// Regenerating is a spec change, not a test fix: RegenerateGoldenText refuses to change
// an existing case's digest while the file's spec_version equals kSpecVersion unless
// --force-same-version is given (datanode/ops/golden.h).
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "datanode/ops/golden.h"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3 || (argc == 3 && std::strcmp(argv[2], "--force-same-version") != 0)) {
    std::fprintf(stderr, "usage: %s <golden_vectors.txt> [--force-same-version]\n", argv[0]);
    return 2;
  }
  const std::string path = argv[1];
  std::stringstream old_text;
  if (std::ifstream old(path); old) old_text << old.rdbuf();
  absl::StatusOr<std::string> text =
      datanode::ops::RegenerateGoldenText(old_text.str(), /*force_same_version=*/argc == 3);
  if (!text.ok()) {
    std::fprintf(stderr, "%s\n", text.status().ToString().c_str());
    return 1;
  }
  std::ofstream out(path, std::ios::trunc);
  out << *text;
  out.close();
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    return 1;
  }
  std::printf("wrote %s (%s)\n", path.c_str(), *text == old_text.str() ? "unchanged" : "changed");
  return 0;
}
