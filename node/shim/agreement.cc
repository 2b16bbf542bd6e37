// Copyright 2026 The datanode Authors.
#include "node/shim/agreement.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

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

}  // namespace

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
    const bool ok = s.request_digest == request_digest &&
                    util::Ed25519Verify(
                        keys[s.node], ShareMessage(s.request_digest, s.result_digest), s.signature);
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

std::string VerifiedShareProblem(std::span<const PublicKey> keys, const Sha256& request_digest,
                                 uint32_t computing_node, const Sha256& output_digest,
                                 const VerifiedShare& share) {
  if (share.node >= keys.size()) {
    return absl::StrCat("node ", share.node, " is not in the subnet's ", keys.size(), " keys");
  }
  if (share.node == computing_node) {
    return absl::StrCat("node ", share.node,
                        " is the computing node: its own verdict never counts");
  }
  if (share.request_digest != request_digest) {
    return absl::StrCat("node ", share.node, "'s verdict is for another call");
  }
  if (share.output_digest != output_digest) {
    return absl::StrCat("node ", share.node, "'s verdict is on another output digest");
  }
  if (!util::Ed25519Verify(
          keys[share.node],
          VerifiedShareMessage(share.request_digest, share.output_digest, share.accepted),
          share.signature)) {
    return absl::StrCat("node ", share.node, "'s signature does not verify under its key (as a",
                        share.accepted ? "n acceptance" : " rejection", ")");
  }
  return "";
}

VerifiedAgreement CombineVerified(std::span<const PublicKey> keys, const Sha256& request_digest,
                                  uint32_t computing_node, const Sha256& output_digest,
                                  std::span<const VerifiedShare> shares,
                                  const EvictedNodes* evicted) {
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
  std::set<uint32_t> out_of_class;
  for (const VerifiedShare& s : shares) {
    if (s.node >= n) continue;
    seen[s.node] = true;
    if (excluded[s.node]) continue;
    if (evicted != nullptr && evicted->IsEvicted(s.node)) {
      if (s.node != computing_node) out_of_class.insert(s.node);
      continue;
    }
    const bool ok =
        VerifiedShareProblem(keys, request_digest, computing_node, output_digest, s).empty();
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
  a.out_of_class.assign(out_of_class.begin(), out_of_class.end());
  for (const auto& [node, accepted] : valid) (accepted ? a.accepting : a.rejecting).push_back(node);
  a.agreed = a.accepting.size() >= a.threshold;
  a.computing_node_faulty = a.rejecting.size() > f;
  const std::string names =
      absl::StrCat("accepting [", absl::StrJoin(a.accepting, ","), "] rejecting [",
                   absl::StrJoin(a.rejecting, ","), "] invalid [", absl::StrJoin(a.invalid, ","),
                   "] missing [", absl::StrJoin(a.missing, ","), "]",
                   a.out_of_class.empty()
                       ? ""
                       : absl::StrCat(" out of class [", absl::StrJoin(a.out_of_class, ","), "]"));
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

absl::StatusOr<FaultEvidence> FaultEvidenceFrom(const VerifiedAgreement& agreement,
                                                const Sha256& request_digest,
                                                std::span<const VerifiedShare> shares) {
  if (!agreement.computing_node_faulty) {
    return absl::FailedPreconditionError(absl::StrCat("the combine did not name computing node ",
                                                      agreement.computing_node, " faulty"));
  }
  FaultEvidence e;
  e.request_digest = request_digest;
  e.output_digest = agreement.output_digest;
  e.computing_node = agreement.computing_node;
  // agreement.rejecting holds exactly the verifiers with one valid rejection (and no
  // conflicting share); take that share of each.
  for (uint32_t node : agreement.rejecting) {
    for (const VerifiedShare& s : shares) {
      if (s.node == node && !s.accepted && s.request_digest == request_digest &&
          s.output_digest == agreement.output_digest) {
        e.rejections.push_back(s);
        break;
      }
    }
  }
  return e;
}

absl::Status CheckFaultEvidence(std::span<const PublicKey> keys, const FaultEvidence& evidence) {
  const uint32_t n = static_cast<uint32_t>(keys.size());
  const uint32_t f = FaultTolerance(n);
  if (evidence.computing_node >= n) {
    return absl::InvalidArgumentError(absl::StrCat("fault evidence names node ",
                                                   evidence.computing_node,
                                                   ", not in the subnet's ", n, " keys"));
  }
  std::set<uint32_t> verifiers;
  for (size_t i = 0; i < evidence.rejections.size(); ++i) {
    const VerifiedShare& s = evidence.rejections[i];
    if (s.accepted) {
      return absl::InvalidArgumentError(
          absl::StrCat("fault evidence share ", i, " (node ", s.node, ") is an acceptance"));
    }
    if (!verifiers.insert(s.node).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("fault evidence share ", i, ": node ", s.node, " appears more than once"));
    }
    const std::string problem = VerifiedShareProblem(
        keys, evidence.request_digest, evidence.computing_node, evidence.output_digest, s);
    if (!problem.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("fault evidence share ", i, ": ", problem));
    }
  }
  if (verifiers.size() <= f) {
    return absl::InvalidArgumentError(absl::StrCat(
        "fault evidence holds ", verifiers.size(), " valid rejections of computing node ",
        evidence.computing_node, "; more than f = ", f, " (of n = ", n, ") are needed"));
  }
  return absl::OkStatus();
}

std::string FaultSummary(const FaultEvidence& evidence) {
  std::vector<uint32_t> nodes;
  for (const VerifiedShare& s : evidence.rejections) nodes.push_back(s.node);
  std::sort(nodes.begin(), nodes.end());
  return absl::StrCat("verified-mode fault on call ",
                      ops::ToHex(evidence.request_digest).substr(0, 16),
                      ": rejected by verifiers [", absl::StrJoin(nodes, ","), "]");
}

std::vector<uint32_t> EvictedNodes::Evicted() const {
  std::vector<uint32_t> out;
  for (uint32_t i = 0; i < evicted_.size(); ++i) {
    if (evicted_[i]) out.push_back(i);
  }
  return out;
}

absl::StatusOr<uint32_t> EvictedNodes::Pick(uint64_t beacon) const {
  const uint64_t remaining =
      static_cast<uint64_t>(std::count(evicted_.begin(), evicted_.end(), false));
  if (remaining == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("all ", evicted_.size(), " nodes are evicted: none can compute"));
  }
  uint64_t k = beacon % remaining;
  for (uint32_t i = 0; i < evicted_.size(); ++i) {
    if (evicted_[i]) continue;
    if (k == 0) return i;
    --k;
  }
  return absl::InternalError("unreachable");
}

}  // namespace datanode::shim
