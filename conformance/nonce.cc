// Copyright 2026 The datanode Authors.
#include "conformance/nonce.h"

#include "absl/strings/str_cat.h"
#include "datanode/util/hex.h"

namespace datanode::conformance {

absl::StatusOr<std::vector<uint8_t>> ParseNonceHex(std::string_view hex) {
  if (hex.size() < 16 || hex.size() > 128 || hex.size() % 2 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("nonce must be 16 to 128 hex digits (even count), got ", hex.size()));
  }
  absl::StatusOr<std::vector<uint8_t>> out = util::HexDecodeBytes(hex);
  if (!out.ok()) return absl::InvalidArgumentError("nonce is not hexadecimal");
  return out;
}

ops::Sha256 DeriveDigest(const std::vector<uint8_t>& nonce, std::string_view label) {
  return ops::Sha256Of(
      {ops::ByteSpan(nonce),
       ops::ByteSpan(reinterpret_cast<const uint8_t*>(label.data()), label.size())});
}

uint64_t DeriveSeed(const std::vector<uint8_t>& nonce, std::string_view label) {
  ops::Sha256 d = DeriveDigest(nonce, label);
  uint64_t seed = 0;
  for (int i = 7; i >= 0; --i) seed = (seed << 8) | d[i];
  return seed;
}

}  // namespace datanode::conformance
