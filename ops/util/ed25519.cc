// Copyright 2026 The datanode Authors.
#include "datanode/util/ed25519.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "datanode/util/file.h"

namespace datanode::util {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct FileClose {
  void operator()(FILE* f) const { std::fclose(f); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using File = std::unique_ptr<FILE, FileClose>;

bool IsEd25519(const Pkey& key) { return key && EVP_PKEY_get_id(key.get()) == EVP_PKEY_ED25519; }

absl::StatusOr<Ed25519PublicKey> RawPublic(EVP_PKEY* key) {
  Ed25519PublicKey pk{};
  size_t len = pk.size();
  if (EVP_PKEY_get_raw_public_key(key, pk.data(), &len) != 1 || len != pk.size()) {
    return absl::InternalError("cannot extract the Ed25519 public key");
  }
  return pk;
}

// The PEM text `write` puts into a memory BIO.
template <typename Write>
absl::StatusOr<std::string> PemText(Write write) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) return absl::InternalError("PEM encoding failed");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace

struct Ed25519Key::Impl {
  Pkey pkey;
};

absl::StatusOr<Ed25519Key> Ed25519Key::FromSeed(std::span<const uint8_t> seed) {
  if (seed.size() != 32) {
    return absl::InvalidArgumentError(absl::StrCat("Ed25519 seed of ", seed.size(), " bytes"));
  }
  auto impl = std::make_shared<Impl>();
  impl->pkey.reset(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), 32));
  if (!impl->pkey) return absl::InternalError("EVP_PKEY_new_raw_private_key failed");
  absl::StatusOr<Ed25519PublicKey> pk = RawPublic(impl->pkey.get());
  if (!pk.ok()) return pk.status();
  return Ed25519Key(std::move(impl), *pk);
}

absl::StatusOr<Ed25519Key> Ed25519Key::Generate() {
  auto impl = std::make_shared<Impl>();
  impl->pkey.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!impl->pkey) return absl::InternalError("Ed25519 key generation failed");
  absl::StatusOr<Ed25519PublicKey> pk = RawPublic(impl->pkey.get());
  if (!pk.ok()) return pk.status();
  return Ed25519Key(std::move(impl), *pk);
}

absl::StatusOr<Ed25519Key> Ed25519Key::FromPemFile(const std::filesystem::path& path) {
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) return absl::NotFoundError(absl::StrCat("cannot read key ", path.string()));
  auto impl = std::make_shared<Impl>();
  impl->pkey.reset(PEM_read_PrivateKey(f.get(), nullptr, nullptr, nullptr));
  if (!IsEd25519(impl->pkey)) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), " holds no Ed25519 private key"));
  }
  absl::StatusOr<Ed25519PublicKey> pk = RawPublic(impl->pkey.get());
  if (!pk.ok()) return pk.status();
  return Ed25519Key(std::move(impl), *pk);
}

absl::StatusOr<Ed25519Signature> Ed25519Key::Sign(std::span<const uint8_t> message) const {
  // Each call gets its own context, so concurrent calls share only the key.
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  Ed25519Signature sig{};
  size_t len = sig.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, impl_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig.data(), &len, message.data(), message.size()) != 1 ||
      len != sig.size()) {
    return absl::InternalError("Ed25519 signing failed");
  }
  return sig;
}

absl::Status Ed25519Key::WritePrivatePem(const std::filesystem::path& path) const {
  absl::StatusOr<std::string> pem = PemText([&](BIO* bio) {
    return PEM_write_bio_PrivateKey(bio, impl_->pkey.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  if (!pem.ok()) return pem.status();
  absl::Status s = WriteFileAtomically(path, *pem, {.mode = 0600, .replace = false});
  OPENSSL_cleanse(pem->data(), pem->size());
  return s;
}

absl::Status Ed25519Key::WritePublicPem(const std::filesystem::path& path) const {
  absl::StatusOr<std::string> pem =
      PemText([&](BIO* bio) { return PEM_write_bio_PUBKEY(bio, impl_->pkey.get()); });
  if (!pem.ok()) return pem.status();
  return WriteFileAtomically(path, *pem);
}

bool Ed25519Verify(const Ed25519PublicKey& key, std::span<const uint8_t> message,
                   std::span<const uint8_t> signature) {
  if (signature.size() != 64) return false;
  Pkey pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.data(), key.size()));
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  return pkey && ctx &&
         EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(),
                          message.size()) == 1;
}

absl::StatusOr<Ed25519PublicKey> ReadEd25519PublicKey(const std::filesystem::path& pem_path) {
  File f(std::fopen(pem_path.c_str(), "rb"));
  if (!f) return absl::NotFoundError(absl::StrCat("cannot read key ", pem_path.string()));
  Pkey key(PEM_read_PUBKEY(f.get(), nullptr, nullptr, nullptr));
  if (!key) {
    std::rewind(f.get());
    key.reset(PEM_read_PrivateKey(f.get(), nullptr, nullptr, nullptr));
  }
  if (!IsEd25519(key)) {
    return absl::InvalidArgumentError(absl::StrCat(pem_path.string(), " holds no Ed25519 key"));
  }
  return RawPublic(key.get());
}

absl::Status GenerateEd25519KeyFiles(const std::filesystem::path& private_path,
                                     const std::filesystem::path& public_path) {
  absl::StatusOr<Ed25519Key> key = Ed25519Key::Generate();
  if (!key.ok()) return key.status();
  if (absl::Status s = key->WritePrivatePem(private_path); !s.ok()) return s;
  return key->WritePublicPem(public_path);
}

}  // namespace datanode::util
