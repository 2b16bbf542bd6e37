// Copyright 2026 The datanode Authors.
//
// The verifier's nonce and everything derived from it. A label names each derived
// value ("challenge/matmul_s8_s32/0", "storage/3", ...): derived = SHA-256(nonce ||
// label), so a verifier recomputes any challenge from the nonce and the label alone,
// and a device cannot precompute answers before it learns the nonce.
#ifndef DATANODE_CONFORMANCE_NONCE_H_
#define DATANODE_CONFORMANCE_NONCE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "datanode/ops/digest.h"

namespace datanode::conformance {

// Hex (even length, 16..128 digits = 8..64 bytes) -> bytes; INVALID_ARGUMENT otherwise.
absl::StatusOr<std::vector<uint8_t>> ParseNonceHex(std::string_view hex);

// SHA-256(nonce || label).
ops::Sha256 DeriveDigest(const std::vector<uint8_t>& nonce, std::string_view label);
// The first 8 bytes of DeriveDigest, little-endian: a seed for MakeRandomInputs.
uint64_t DeriveSeed(const std::vector<uint8_t>& nonce, std::string_view label);

}  // namespace datanode::conformance

#endif  // DATANODE_CONFORMANCE_NONCE_H_
