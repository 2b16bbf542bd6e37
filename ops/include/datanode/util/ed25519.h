// Copyright 2026 The datanode Authors.
//
// Ed25519 (RFC 8032) keys and signatures through OpenSSL 3: the node's identity, which
// signs admission reports and the result shares replicas agree on. Key files are PEM:
// the private key PKCS#8 (mode 0600, never overwritten), the public key
// SubjectPublicKeyInfo.
//
// Errors: INVALID_ARGUMENT for a seed or key of the wrong size or a file holding no
// Ed25519 key; NOT_FOUND for a key file that cannot be read; ALREADY_EXISTS when a
// private key file would be overwritten; INTERNAL when OpenSSL fails.
// Thread safety: an Ed25519Key is immutable after creation; Sign() may be called from
// any number of threads at once (each call has its own context). Copies share the key.
#ifndef DATANODE_UTIL_ED25519_H_
#define DATANODE_UTIL_ED25519_H_

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace datanode::util {

using Ed25519PublicKey = std::array<uint8_t, 32>;
using Ed25519Signature = std::array<uint8_t, 64>;

class Ed25519Key {
 public:
  // From the 32-byte private seed.
  static absl::StatusOr<Ed25519Key> FromSeed(std::span<const uint8_t> seed);
  // A fresh key from OpenSSL's random generator.
  static absl::StatusOr<Ed25519Key> Generate();
  // From a PEM private-key file.
  static absl::StatusOr<Ed25519Key> FromPemFile(const std::filesystem::path& path);

  const Ed25519PublicKey& public_key() const { return public_key_; }
  absl::StatusOr<Ed25519Signature> Sign(std::span<const uint8_t> message) const;

  // Writes the private key (PKCS#8 PEM, mode 0600) durably; ALREADY_EXISTS if `path`
  // exists, so a node's identity is never replaced.
  absl::Status WritePrivatePem(const std::filesystem::path& path) const;
  // Writes the public key (SubjectPublicKeyInfo PEM) durably, replacing `path`.
  absl::Status WritePublicPem(const std::filesystem::path& path) const;

 private:
  struct Impl;
  Ed25519Key(std::shared_ptr<const Impl> impl, const Ed25519PublicKey& pk)
      : impl_(std::move(impl)), public_key_(pk) {}
  std::shared_ptr<const Impl> impl_;
  Ed25519PublicKey public_key_{};
};

// True if `signature` is `key`'s valid signature of `message` (false for a signature
// that is not 64 bytes).
bool Ed25519Verify(const Ed25519PublicKey& key, std::span<const uint8_t> message,
                   std::span<const uint8_t> signature);

// The public key in a PEM file holding either a public or a private Ed25519 key.
absl::StatusOr<Ed25519PublicKey> ReadEd25519PublicKey(const std::filesystem::path& pem_path);

// A new key written as a pair of files (WritePrivatePem, then WritePublicPem).
absl::Status GenerateEd25519KeyFiles(const std::filesystem::path& private_path,
                                     const std::filesystem::path& public_path);

}  // namespace datanode::util

#endif  // DATANODE_UTIL_ED25519_H_
