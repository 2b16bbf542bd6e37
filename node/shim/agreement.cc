// Copyright 2026 The datanode Authors.
#include "node/shim/agreement.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace datanode::shim {
namespace {

constexpr char kRequestDomain[] = "datanode-request-v1";
constexpr char kResultDomain[] = "datanode-result-v1";
constexpr char kShareDomain[] = "datanode-share-v1";
constexpr char kVerifiedDomain[] = "datanode-verified-v1";

void AppendU64(uint64_t v, std::vector<uint8_t>* out) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// Domain separator including its terminating NUL, so no domain is a prefix of another.
ops::ByteSpan Domain(const char* d) {
  return {reinterpret_cast<const uint8_t*>(d), std::strlen(d) + 1};
}

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

}  // namespace

struct NodeKey::Impl {
  std::unique_ptr<EVP_PKEY, PkeyDeleter> pkey;
};

absl::StatusOr<NodeKey> NodeKey::FromSeed(std::span<const uint8_t> seed) {
  if (seed.size() != 32) {
    return absl::InvalidArgumentError(absl::StrCat("Ed25519 seed of ", seed.size(), " bytes"));
  }
  auto impl = std::make_shared<Impl>();
  impl->pkey.reset(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), 32));
  if (!impl->pkey) return absl::InternalError("EVP_PKEY_new_raw_private_key failed");
  PublicKey pk{};
  size_t len = pk.size();
  if (EVP_PKEY_get_raw_public_key(impl->pkey.get(), pk.data(), &len) != 1 || len != 32) {
    return absl::InternalError("EVP_PKEY_get_raw_public_key failed");
  }
  return NodeKey(std::move(impl), pk);
}

absl::StatusOr<NodeKey> NodeKey::Generate() {
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (raw == nullptr) return absl::InternalError("Ed25519 key generation failed");
  std::unique_ptr<EVP_PKEY, PkeyDeleter> pkey(raw);
  uint8_t seed[32];
  size_t len = sizeof seed;
  if (EVP_PKEY_get_raw_private_key(pkey.get(), seed, &len) != 1 || len != 32) {
    return absl::InternalError("EVP_PKEY_get_raw_private_key failed");
  }
  return FromSeed(seed);
}

absl::StatusOr<Signature> NodeKey::Sign(std::span<const uint8_t> message) const {
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  Signature sig{};
  size_t len = sig.size();
  // Each call gets its own context, so concurrent Sign() calls share only the key.
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, impl_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig.data(), &len, message.data(), message.size()) != 1 ||
      len != sig.size()) {
    return absl::InternalError("Ed25519 signing failed");
  }
  return sig;
}

absl::StatusOr<NodeKey> NodeKey::FromPemFile(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "r"), &std::fclose);
  if (!f) return absl::NotFoundError(absl::StrCat("cannot read node key ", path));
  std::unique_ptr<EVP_PKEY, PkeyDeleter> pkey(
      PEM_read_PrivateKey(f.get(), nullptr, nullptr, nullptr));
  uint8_t seed[32];
  size_t len = sizeof seed;
  if (!pkey || EVP_PKEY_get_raw_private_key(pkey.get(), seed, &len) != 1 || len != 32) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not an Ed25519 private key"));
  }
  absl::StatusOr<NodeKey> key = FromSeed(seed);
  OPENSSL_cleanse(seed, sizeof seed);
  return key;
}

bool VerifySignature(const PublicKey& key, std::span<const uint8_t> message,
                     const Signature& signature) {
  std::unique_ptr<EVP_PKEY, PkeyDeleter> pkey(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.data(), key.size()));
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  return pkey && ctx &&
         EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(),
                          message.size()) == 1;
}

Sha256 RequestDigest(std::string_view method, std::span<const uint8_t> arg, uint64_t call_id) {
  std::vector<uint8_t> header;
  AppendU64(method.size(), &header);
  header.insert(header.end(), method.begin(), method.end());
  AppendU64(arg.size(), &header);
  std::vector<uint8_t> id;
  AppendU64(call_id, &id);
  return ops::Sha256Of({Domain(kRequestDomain), header, arg, id});
}

Sha256 ResultDigest(RejectCode code, std::span<const uint8_t> payload) {
  std::vector<uint8_t> header;
  AppendU64(static_cast<uint32_t>(code), &header);
  AppendU64(payload.size(), &header);
  return ops::Sha256Of({Domain(kResultDomain), header, payload});
}

std::vector<uint8_t> ShareMessage(const Sha256& request_digest, const Sha256& result_digest) {
  ops::ByteSpan d = Domain(kShareDomain);
  std::vector<uint8_t> m(d.begin(), d.end());
  m.insert(m.end(), request_digest.begin(), request_digest.end());
  m.insert(m.end(), result_digest.begin(), result_digest.end());
  return m;
}

absl::StatusOr<Share> MakeShare(const NodeKey& key, uint32_t node, const Sha256& request_digest,
                                const Sha256& result_digest) {
  Share s{node, request_digest, result_digest, {}};
  absl::StatusOr<Signature> sig = key.Sign(ShareMessage(request_digest, result_digest));
  if (!sig.ok()) return sig.status();
  s.signature = *sig;
  return s;
}

Agreement Combine(std::span<const PublicKey> keys, const Sha256& request_digest,
                  std::span<const Share> shares) {
  const uint32_t n = static_cast<uint32_t>(keys.size());
  Agreement a;
  a.threshold = n - FaultTolerance(n);
  // The one valid share per node; nodes with an invalid or conflicting share are out.
  std::map<uint32_t, Sha256> valid;
  std::vector<bool> excluded(n, false);
  std::vector<bool> seen(n, false);
  for (const Share& s : shares) {
    if (s.node >= n) continue;  // not a member: cannot be named by index
    seen[s.node] = true;
    if (excluded[s.node]) continue;
    const bool ok =
        s.request_digest == request_digest &&
        VerifySignature(keys[s.node], ShareMessage(s.request_digest, s.result_digest), s.signature);
    auto it = valid.find(s.node);
    if (!ok || (it != valid.end() && it->second != s.result_digest)) {
      excluded[s.node] = true;
      valid.erase(s.node);
      continue;
    }
    valid[s.node] = s.result_digest;
  }
  // The largest group of identical digests (ties: the smaller digest, deterministic).
  std::map<Sha256, std::vector<uint32_t>> groups;
  for (const auto& [node, digest] : valid) groups[digest].push_back(node);
  const std::pair<const Sha256, std::vector<uint32_t>>* best = nullptr;
  for (const auto& g : groups) {
    if (best == nullptr || g.second.size() > best->second.size()) best = &g;
  }
  for (uint32_t i = 0; i < n; ++i) {
    if (excluded[i]) a.invalid.push_back(i);
    if (!seen[i]) a.missing.push_back(i);
  }
  a.agreed = best != nullptr && best->second.size() >= a.threshold;
  if (a.agreed) {
    a.result_digest = best->first;
    a.agreeing = best->second;
  }
  for (const auto& [node, digest] : valid) {
    if (!a.agreed || digest != a.result_digest) a.disagreeing.push_back(node);
  }
  const size_t largest = best ? best->second.size() : 0;
  const std::string names = absl::StrCat(
      "disagreeing [", absl::StrJoin(a.agreed ? a.disagreeing : std::vector<uint32_t>{}, ","),
      "] invalid [", absl::StrJoin(a.invalid, ","), "] missing [", absl::StrJoin(a.missing, ","),
      "]");
  if (a.agreed) {
    a.message = absl::StrCat(a.agreeing.size(), " of ", n, " nodes agree (need ", a.threshold,
                             "); ", names);
    return a;
  }
  // Without agreement no single digest is "right": every node outside the largest
  // group is a suspect, and the count of nodes that answered differently decides
  // whether waiting can help.
  const size_t answered_otherwise = valid.size() - largest + a.invalid.size();
  a.reject =
      answered_otherwise > FaultTolerance(n) ? RejectCode::kSysFatal : RejectCode::kSysTransient;
  a.message = absl::StrCat("no agreement: at most ", largest, " of ", n,
                           " nodes signed the same result, ", a.threshold, " needed; ",
                           answered_otherwise, " signed a different result or an invalid share, ",
                           a.missing.size(), " sent none; invalid [", absl::StrJoin(a.invalid, ","),
                           "] missing [", absl::StrJoin(a.missing, ","), "]");
  return a;
}

std::vector<uint8_t> VerifiedShareMessage(const Sha256& request_digest, const Sha256& output_digest,
                                          bool accepted) {
  ops::ByteSpan d = Domain(kVerifiedDomain);
  std::vector<uint8_t> m(d.begin(), d.end());
  m.insert(m.end(), request_digest.begin(), request_digest.end());
  m.insert(m.end(), output_digest.begin(), output_digest.end());
  m.push_back(accepted ? 1 : 0);
  return m;
}

VerifiedAgreement CombineVerified(std::span<const PublicKey> keys, const Sha256& request_digest,
                                  uint32_t computing_node, const Sha256& output_digest,
                                  std::span<const VerifiedShare> shares) {
  const uint32_t n = static_cast<uint32_t>(keys.size());
  const uint32_t f = FaultTolerance(n);
  VerifiedAgreement a;
  a.output_digest = output_digest;
  a.computing_node = computing_node;
  a.threshold = n - f;
  // The one valid verdict per verifier; a verifier with an invalid or conflicting
  // share is out.
  std::map<uint32_t, bool> valid;
  std::map<uint32_t, std::string> reasons;
  std::vector<bool> excluded(n, false), seen(n, false);
  for (const VerifiedShare& s : shares) {
    if (s.node >= n) continue;
    seen[s.node] = true;
    if (excluded[s.node]) continue;
    const bool ok =
        s.node != computing_node && s.request_digest == request_digest &&
        s.output_digest == output_digest &&
        VerifySignature(keys[s.node],
                        VerifiedShareMessage(s.request_digest, s.output_digest, s.accepted),
                        s.signature);
    auto it = valid.find(s.node);
    if (!ok || (it != valid.end() && it->second != s.accepted)) {
      excluded[s.node] = true;
      valid.erase(s.node);
      continue;
    }
    valid[s.node] = s.accepted;
    if (!s.accepted) reasons[s.node] = s.reason;
  }
  for (uint32_t i = 0; i < n; ++i) {
    if (excluded[i]) a.invalid.push_back(i);
    if (!seen[i] && i != computing_node) a.missing.push_back(i);
  }
  for (const auto& [node, accepted] : valid) (accepted ? a.accepting : a.rejecting).push_back(node);
  a.agreed = a.accepting.size() >= a.threshold;
  a.computing_node_faulty = a.rejecting.size() > f;
  const std::string names =
      absl::StrCat("accepting [", absl::StrJoin(a.accepting, ","), "] rejecting [",
                   absl::StrJoin(a.rejecting, ","), "] invalid [", absl::StrJoin(a.invalid, ","),
                   "] missing [", absl::StrJoin(a.missing, ","), "]");
  const std::string first_reason =
      reasons.empty()
          ? ""
          : absl::StrCat("; verifier ", reasons.begin()->first, ": ", reasons.begin()->second);
  if (a.agreed) {
    a.message = absl::StrCat("verified: ", a.accepting.size(), " of ", n - 1,
                             " verifiers signed computing node ", computing_node,
                             "'s output (need ", a.threshold, "); ", names, first_reason);
    return a;
  }
  a.reject = RejectCode::kSysTransient;
  a.message = absl::StrCat(
      a.computing_node_faulty ? "computing node " : "not verified: computing node ", computing_node,
      a.computing_node_faulty ? " answered wrongly: " : "'s answer has ", a.rejecting.size(),
      " rejections (more than f = ", f, " name it faulty), ", a.accepting.size(), " of ",
      a.threshold, " acceptances needed; ", names, first_reason);
  return a;
}

}  // namespace datanode::shim
