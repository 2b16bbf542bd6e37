// Copyright 2026 The datanode Authors.
#include "conformance/golden.h"

#include "datanode/ops/digest.h"

namespace datanode::conformance {
namespace internal {
extern const std::string_view kGoldenText;
}  // namespace internal

std::string_view CompiledGoldenText() { return internal::kGoldenText; }

std::string CompiledGoldenDigest() {
  std::string_view t = internal::kGoldenText;
  return ops::ToHex(
      ops::Sha256Of({ops::ByteSpan(reinterpret_cast<const uint8_t*>(t.data()), t.size())}));
}

}  // namespace datanode::conformance
