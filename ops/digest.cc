// Copyright 2026 The datanode Authors.
#include "datanode/ops/digest.h"

#include <openssl/evp.h>

namespace datanode::ops {

Sha256 Sha256Of(std::initializer_list<ByteSpan> parts) {
  Sha256 digest{};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  for (ByteSpan part : parts) EVP_DigestUpdate(ctx, part.data(), part.size());
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, digest.data(), &len);
  EVP_MD_CTX_free(ctx);
  return digest;
}

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
