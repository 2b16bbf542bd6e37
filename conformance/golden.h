// Copyright 2026 The datanode Authors.
//
// The golden vectors as this build holds them: ops/golden/golden_vectors.txt (the one
// checked-in copy; format and generator in datanode/ops/golden.h) is compiled into the
// binary, so the golden phase runs, and the report names by digest, exactly the vectors
// the build was made with.
#ifndef DATANODE_CONFORMANCE_GOLDEN_H_
#define DATANODE_CONFORMANCE_GOLDEN_H_

#include <string>
#include <string_view>

namespace datanode::conformance {

// The compiled-in golden file's text and its SHA-256 (lower-case hex).
std::string_view CompiledGoldenText();
std::string CompiledGoldenDigest();

}  // namespace datanode::conformance

#endif  // DATANODE_CONFORMANCE_GOLDEN_H_
