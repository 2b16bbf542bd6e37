// Copyright 2026 The datanode Authors.
//
// SHA-256 (FIPS 180-4) through OpenSSL's EVP interface: the one place the project
// hashes. Digests name store chunks, objects and models, bind signatures to calls and
// seed the sampler's random stream, so every layer uses this header.
//
// Errors: hashing cannot fail on valid input. An OpenSSL allocation failure aborts the
// process, as operator new does without exceptions.
// Thread safety: the free functions are thread-safe; a Sha256Hasher is used by one
// thread at a time.
#ifndef DATANODE_UTIL_SHA256_H_
#define DATANODE_UTIL_SHA256_H_

#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>

#include "absl/status/statusor.h"

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX

namespace datanode::util {

using Sha256 = std::array<uint8_t, 32>;

// A streaming SHA-256: Update any number of times, then Finish. A moved-from hasher may
// only be destroyed or assigned to.
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(Sha256Hasher&& other) noexcept;
  Sha256Hasher& operator=(Sha256Hasher&& other) noexcept;
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  void Update(std::span<const uint8_t> bytes);
  void Update(std::string_view bytes);
  // The digest of every byte given since construction or the last Finish; the hasher
  // then starts over, empty.
  Sha256 Finish();

 private:
  evp_md_ctx_st* ctx_;
};

// SHA-256 of the concatenation of `parts`.
Sha256 Sha256Of(std::initializer_list<std::span<const uint8_t>> parts);
// SHA-256 of the bytes of `text`.
Sha256 Sha256OfString(std::string_view text);

// Parses 64 hex characters of either case. INVALID_ARGUMENT for another length
// ("digest must be 64 hex characters, got N") or a non-hex character.
absl::StatusOr<Sha256> Sha256FromHex(std::string_view hex);

}  // namespace datanode::util

#endif  // DATANODE_UTIL_SHA256_H_
