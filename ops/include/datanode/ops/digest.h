// Copyright 2026 The datanode Authors.
//
// The output digest of the spec: SHA-256 over an op's canonical little-endian output
// bytes (for kQuantizeS8Row: out followed by out_scale). SHA-256 itself is the util
// layer's (datanode/util/sha256.h); the op library names its type and one-shot function
// here. Thread-safe.
#ifndef DATANODE_OPS_DIGEST_H_
#define DATANODE_OPS_DIGEST_H_

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "datanode/ops/types.h"
#include "datanode/util/hex.h"
#include "datanode/util/sha256.h"

namespace datanode::ops {

using util::Sha256;
using util::Sha256Of;  // SHA-256 of the concatenation of `parts`
// Lower-case hex, 64 characters (util::HexEncode).
inline std::string ToHex(const Sha256& digest) { return util::HexEncode(digest); }

// The output digest of a completed op (hex).
std::string OutputDigestHex(const OpArgs& args);

}  // namespace datanode::ops

#endif  // DATANODE_OPS_DIGEST_H_
