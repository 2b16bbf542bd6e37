// Copyright 2026 The datanode Authors.
#include "datanode/ops/digest.h"

namespace datanode::ops {

std::string ToHex(const Sha256& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(64);
  for (uint8_t byte : digest) {
    hex.push_back(kHex[byte >> 4]);
    hex.push_back(kHex[byte & 15]);
  }
  return hex;
}

std::string OutputDigestHex(const OpArgs& args) {
  return ToHex(Sha256Of({ByteSpan(args.out), ByteSpan(args.out_scale)}));
}

}  // namespace datanode::ops
