// Copyright 2026 The datanode Authors.
//
// The output digest of the spec: SHA-256 over an op's canonical little-endian output
// bytes (for kQuantizeS8Row: out followed by out_scale). Uses OpenSSL. Thread-safe.
#ifndef DATANODE_OPS_DIGEST_H_
#define DATANODE_OPS_DIGEST_H_

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "datanode/ops/types.h"

namespace datanode::ops {

using Sha256 = std::array<uint8_t, 32>;

// SHA-256 of the concatenation of `parts`.
Sha256 Sha256Of(std::initializer_list<ByteSpan> parts);
// Lower-case hex, 64 characters.
std::string ToHex(const Sha256& digest);

// The output digest of a completed op (hex).
std::string OutputDigestHex(const OpArgs& args);

}  // namespace datanode::ops

#endif  // DATANODE_OPS_DIGEST_H_
