// Copyright 2026 The datanode Authors.
#include "datanode/util/sha256.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "datanode/util/hex.h"

namespace datanode::util {
namespace {

// OpenSSL fails here only when it cannot allocate.
void Check(int ok) {
  if (ok != 1) std::abort();
}

}  // namespace

Sha256Hasher::Sha256Hasher() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) std::abort();
  Check(EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr));
}

Sha256Hasher::~Sha256Hasher() { EVP_MD_CTX_free(ctx_); }

Sha256Hasher::Sha256Hasher(Sha256Hasher&& other) noexcept
    : ctx_(std::exchange(other.ctx_, nullptr)) {}

Sha256Hasher& Sha256Hasher::operator=(Sha256Hasher&& other) noexcept {
  if (this != &other) {
    EVP_MD_CTX_free(ctx_);
    ctx_ = std::exchange(other.ctx_, nullptr);
  }
  return *this;
}

void Sha256Hasher::Update(std::span<const uint8_t> bytes) {
  if (!bytes.empty()) Check(EVP_DigestUpdate(ctx_, bytes.data(), bytes.size()));
}

void Sha256Hasher::Update(std::string_view bytes) {
  if (!bytes.empty()) Check(EVP_DigestUpdate(ctx_, bytes.data(), bytes.size()));
}

Sha256 Sha256Hasher::Finish() {
  Sha256 digest{};
  unsigned int len = 0;
  Check(EVP_DigestFinal_ex(ctx_, digest.data(), &len));
  Check(EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr));
  return digest;
}

Sha256 Sha256Of(std::initializer_list<std::span<const uint8_t>> parts) {
  Sha256Hasher hasher;
  for (std::span<const uint8_t> part : parts) hasher.Update(part);
  return hasher.Finish();
}

Sha256 Sha256OfString(std::string_view text) {
  Sha256Hasher hasher;
  hasher.Update(text);
  return hasher.Finish();
}

absl::StatusOr<Sha256> Sha256FromHex(std::string_view hex) {
  Sha256 out{};
  if (hex.size() != 2 * out.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("digest must be 64 hex characters, got ", hex.size()));
  }
  if (!HexDecodeTo(hex, out).ok()) {
    return absl::InvalidArgumentError("digest has a non-hex character");
  }
  return out;
}

}  // namespace datanode::util
