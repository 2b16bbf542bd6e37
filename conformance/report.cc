// Copyright 2026 The datanode Authors.
#include "conformance/report.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <cstdio>
#include <memory>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/json_util.h"

namespace datanode::conformance {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct CtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct FileClose {
  void operator()(FILE* f) const { std::fclose(f); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using File = std::unique_ptr<FILE, FileClose>;

absl::StatusOr<Pkey> ReadPrivateKey(const std::string& path) {
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) return absl::NotFoundError(absl::StrCat("cannot open key ", path));
  Pkey key(PEM_read_PrivateKey(f.get(), nullptr, nullptr, nullptr));
  if (!key || EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError(absl::StrCat(path, " holds no Ed25519 private key"));
  }
  return key;
}

absl::StatusOr<std::string> RawPublic(EVP_PKEY* key) {
  std::string raw(32, '\0');
  size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(raw.data()), &len) != 1 ||
      len != 32) {
    return absl::InternalError("cannot extract the Ed25519 public key");
  }
  return raw;
}

}  // namespace

absl::Status GenerateKeyPair(const std::string& private_path, const std::string& public_path) {
  EVP_PKEY* raw = nullptr;
  std::unique_ptr<EVP_PKEY_CTX, void (*)(EVP_PKEY_CTX*)> ctx(
      EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr), EVP_PKEY_CTX_free);
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &raw) != 1) {
    return absl::InternalError("Ed25519 key generation failed");
  }
  Pkey key(raw);
  File priv(std::fopen(private_path.c_str(), "wx"));  // never overwrite a node key
  if (!priv)
    return absl::AlreadyExistsError(
        absl::StrCat("cannot create ", private_path, " (exists or unwritable)"));
  ::chmod(private_path.c_str(), 0600);
  if (PEM_write_PrivateKey(priv.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return absl::InternalError("writing the private key failed");
  }
  File pub(std::fopen(public_path.c_str(), "w"));
  if (!pub || PEM_write_PUBKEY(pub.get(), key.get()) != 1) {
    return absl::InternalError(absl::StrCat("writing ", public_path, " failed"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> LoadRawPublicKey(const std::string& pem_path) {
  File f(std::fopen(pem_path.c_str(), "rb"));
  if (!f) return absl::NotFoundError(absl::StrCat("cannot open key ", pem_path));
  Pkey key(PEM_read_PUBKEY(f.get(), nullptr, nullptr, nullptr));
  if (!key) {
    std::rewind(f.get());
    key.reset(PEM_read_PrivateKey(f.get(), nullptr, nullptr, nullptr));
  }
  if (!key || EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError(absl::StrCat(pem_path, " holds no Ed25519 key"));
  }
  return RawPublic(key.get());
}

std::string CanonicalBytes(const v1::AdmissionReport& report) {
  v1::AdmissionReport copy = report;
  copy.clear_signature();
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);  // map fields in key order
    copy.SerializeToCodedStream(&coded);
  }
  return out;
}

absl::Status SignReport(const std::string& private_pem_path, v1::AdmissionReport* report) {
  auto key = ReadPrivateKey(private_pem_path);
  if (!key.ok()) return key.status();
  auto pub = RawPublic(key->get());
  if (!pub.ok()) return pub.status();
  report->set_public_key(*pub);
  std::string msg = CanonicalBytes(*report);
  std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(EVP_MD_CTX_new());
  std::string sig(64, '\0');
  size_t sig_len = sig.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key->get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &sig_len,
                     reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) != 1) {
    return absl::InternalError("Ed25519 signing failed");
  }
  sig.resize(sig_len);
  report->set_signature(sig);
  return absl::OkStatus();
}

absl::Status VerifyReportSignature(const v1::AdmissionReport& report,
                                   const std::string& raw_public_key) {
  if (report.public_key() != raw_public_key) {
    return absl::UnauthenticatedError("report was signed by another key than the one given");
  }
  Pkey key(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw_public_key.data()),
      raw_public_key.size()));
  if (!key) return absl::InvalidArgumentError("invalid Ed25519 public key");
  std::string msg = CanonicalBytes(report);
  std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(report.signature().data()),
                       report.signature().size(),
                       reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) != 1) {
    return absl::UnauthenticatedError("signature does not match the report's contents");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReportToJson(const v1::AdmissionReport& report) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string out;
  auto st = google::protobuf::util::MessageToJsonString(report, &out, options);
  if (!st.ok()) return absl::InternalError(std::string(st.message()));
  return out;
}

absl::StatusOr<v1::AdmissionReport> ReportFromJson(const std::string& json) {
  v1::AdmissionReport report;
  google::protobuf::util::JsonParseOptions options;
  auto st = google::protobuf::util::JsonStringToMessage(json, &report, options);
  if (!st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("report is not valid JSON of AdmissionReport: ", std::string(st.message())));
  }
  return report;
}

}  // namespace datanode::conformance
