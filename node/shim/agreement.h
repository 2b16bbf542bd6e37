// Copyright 2026 The datanode Authors.
//
// Result shares and agreement among the replicas of a subnet, as the IC does for
// HTTPS outcalls: every replica runs the same call against its own data node, hashes
// its outcome (reply bytes, or reject code + message), signs the hash with its node's
// Ed25519 key, and an outcome is accepted once n - f replicas signed the same hash
// (f = floor((n - 1) / 3); 9 of 13). Nodes that signed something else, signed badly,
// equivocated or sent nothing are named, so the subnet can act on them.
//
// What is signed binds the share to one call: the domain separator, the request
// digest (method + Candid argument bytes + the caller's call id) and the result
// digest. A share for another call, or replayed from another call, does not verify.
#ifndef DATANODE_NODE_SHIM_AGREEMENT_H_
#define DATANODE_NODE_SHIM_AGREEMENT_H_

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "datanode/ops/digest.h"
#include "datanode/util/ed25519.h"
#include "node/shim/reject.h"

namespace datanode::shim {

using ops::Sha256;
// A node's Ed25519 key (datanode/util/ed25519.h: FromSeed, Generate, FromPemFile for the
// daemon's node key, Sign; util::Ed25519Verify checks a signature).
using NodeKey = util::Ed25519Key;
using PublicKey = util::Ed25519PublicKey;
using Signature = util::Ed25519Signature;

// SHA-256 of the call: method name, Candid argument bytes and a caller-chosen call id
// (the replica's callback id), length-prefixed so no two calls collide.
Sha256 RequestDigest(std::string_view method, std::span<const uint8_t> arg, uint64_t call_id);
// SHA-256 of an outcome: the reject code (0 for a reply) and the reply's Candid bytes
// or the reject message.
Sha256 ResultDigest(RejectCode code, std::span<const uint8_t> payload);

struct Share {
  uint32_t node = 0;  // index of the node in the subnet's key list
  Sha256 request_digest{};
  Sha256 result_digest{};
  Signature signature{};
};

// The bytes a share signs.
std::vector<uint8_t> ShareMessage(const Sha256& request_digest, const Sha256& result_digest);
absl::StatusOr<Share> MakeShare(const NodeKey& key, uint32_t node, const Sha256& request_digest,
                                const Sha256& result_digest);

// f for a subnet of n nodes: the most faulty nodes it tolerates.
inline uint32_t FaultTolerance(uint32_t n) { return n == 0 ? 0 : (n - 1) / 3; }

struct Agreement {
  bool agreed = false;
  Sha256 result_digest{};          // the accepted outcome (when agreed)
  uint32_t threshold = 0;          // n - f
  std::vector<uint32_t> agreeing;  // nodes whose valid share carries the accepted digest
  // Nodes that signed a different outcome (when agreed: anything but the accepted one).
  std::vector<uint32_t> disagreeing;
  // Shares that do not count: bad signature, other request, unknown node index, or a
  // node that sent two different shares (equivocation).
  std::vector<uint32_t> invalid;
  std::vector<uint32_t> missing;  // nodes with no share
  // When !agreed: SYS_FATAL if more than f nodes signed something else or badly (a
  // retry meets the same subnet), else SYS_TRANSIENT (too few shares arrived).
  RejectCode reject = RejectCode::kNone;
  std::string message;  // a one-line summary naming the nodes, either way
};

// Combines the shares of one call. `keys[i]` is node i's public key; n = keys.size().
Agreement Combine(std::span<const PublicKey> keys, const Sha256& request_digest,
                  std::span<const Share> shares);

// --- Verified delegation (docs/verification.md §8) ---------------------------------
//
// One node (the computing node) answers; each other node checks the answer with its
// secret Freivalds vector and signs a verdict on D = SHA-256 of the computing node's
// output bytes: "verified digest D" (accepted) or "rejected digest D". A verdict binds to
// one call through the request digest, like a Share.

// The bytes a verifier's verdict signs: domain, request digest, D, accepted (one byte).
std::vector<uint8_t> VerifiedShareMessage(const Sha256& request_digest, const Sha256& output_digest,
                                          bool accepted);

struct VerifiedShare {
  uint32_t node = 0;  // the verifying node's index in the key list
  Sha256 request_digest{};
  Sha256 output_digest{};  // D as the verifier received it
  bool accepted = false;
  Signature signature{};
  std::string reason;  // the verifier's reason when rejected (not signed; for logs)
};

struct VerifiedAgreement {
  bool agreed = false;     // >= n - f valid "verified digest D" shares
  Sha256 output_digest{};  // D (the computing node's output digest)
  uint32_t computing_node = 0;
  uint32_t threshold = 0;           // n - f
  std::vector<uint32_t> accepting;  // verifiers that signed "verified digest D"
  std::vector<uint32_t> rejecting;  // verifiers that signed "rejected digest D"
  // Shares that do not count: bad signature, another request or digest, an unknown
  // index, the computing node itself, or a node with two different shares.
  std::vector<uint32_t> invalid;
  std::vector<uint32_t> missing;  // verifiers with no share
  // Verifiers out of their class (CombineVerified's `evicted`) whose shares were set aside.
  std::vector<uint32_t> out_of_class;
  // More than f valid rejections: at least one honest verifier caught the computing node,
  // which is then named as faulty (FaultEvidenceFrom makes the record that evicts it;
  // the call can be retried with another computing node).
  bool computing_node_faulty = false;
  // When !agreed: SYS_TRANSIENT (another computing node, or more shares, can still
  // answer the call).
  RejectCode reject = RejectCode::kNone;
  std::string message;  // one line naming the computing node and the verifiers
};

// Combines the verdicts on the computing node's answer (output digest `output_digest`)
// to one call. n = keys.size(); the computing node's own share never counts. Accepted
// only with n - f valid "verified digest D" shares from other nodes (9 of the 12
// verifiers of a 13-node subnet).
//
// `evicted` (optional): nodes the subnet has taken out of their class (a fault record,
// below). Their shares never count, valid or not, toward n - f or toward the > f
// rejections, and they are listed in `out_of_class`; n (the key list) and so n - f stay
// the subnet's, so an eviction never lowers the acceptances a result needs.
class EvictedNodes;
VerifiedAgreement CombineVerified(std::span<const PublicKey> keys, const Sha256& request_digest,
                                  uint32_t computing_node, const Sha256& output_digest,
                                  std::span<const VerifiedShare> shares,
                                  const EvictedNodes* evicted = nullptr);

// Why one verdict does not count for the call (request digest, computing node, D), or ""
// when it does: an index outside the key list, the computing node's own share, another
// request or digest, or a signature that is not the node's over
// VerifiedShareMessage(request digest, D, accepted). The rules of CombineVerified and
// CheckFaultEvidence, in one place.
std::string VerifiedShareProblem(std::span<const PublicKey> keys, const Sha256& request_digest,
                                 uint32_t computing_node, const Sha256& output_digest,
                                 const VerifiedShare& share);

// --- Fault records: a failed verified check takes the computing node out ------------
//
// The evidence that a computing node answered wrongly, which anyone holding the
// subnet's public keys can check: the call's request digest, the computing node's output
// digest D, its index, and more than f valid signed "rejected digest D" verdicts from
// distinct other nodes (f = FaultTolerance(n), n = the key list's size). Since at most f
// nodes are faulty, at least one rejection is an honest verifier's. The named node's
// daemon takes itself out of its admitted class on it (Admission.ReportFault,
// docs/admission.md), exactly as after a failed re-check.
struct FaultEvidence {
  Sha256 request_digest{};
  Sha256 output_digest{};
  uint32_t computing_node = 0;
  std::vector<VerifiedShare> rejections;  // every one must be valid, a rejection, distinct
};

// The evidence of a combine that named its computing node faulty
// (agreement.computing_node_faulty): the valid rejections among `shares`, one per
// rejecting verifier. FAILED_PRECONDITION when the agreement did not name it faulty.
absl::StatusOr<FaultEvidence> FaultEvidenceFrom(const VerifiedAgreement& agreement,
                                                const Sha256& request_digest,
                                                std::span<const VerifiedShare> shares);

// OK when `evidence` proves its computing node faulty under `keys`: the node is in the
// key list, and more than f of the rejections are there, every one passing
// VerifiedShareProblem for (request digest, computing node, D), signed as a rejection,
// from a node that appears once. INVALID_ARGUMENT naming the first problem otherwise
// (an acceptance, a bad or foreign share, a repeated verifier, too few rejections): a
// record must hold only what proves the fault, so nothing in it is taken on trust.
absl::Status CheckFaultEvidence(std::span<const PublicKey> keys, const FaultEvidence& evidence);

// "verified-mode fault on call <first 16 hex digits of the request digest>: rejected by
// verifiers [i,j,...]" (the fault record's one-line summary, the history's detail).
std::string FaultSummary(const FaultEvidence& evidence);

// The subnet's record of nodes taken out of the computing-node draw: a node named faulty
// by a combine is evicted until it is admitted again. The pick stays a deterministic
// function of the beacon: the (beacon mod m)-th of the m nodes not evicted, in index
// order, so every replica that holds the same record picks the same node. Not
// thread-safe (one per subnet view, updated between calls).
class EvictedNodes {
 public:
  explicit EvictedNodes(uint32_t n) : evicted_(n, false) {}
  uint32_t size() const { return static_cast<uint32_t>(evicted_.size()); }
  void Evict(uint32_t node) {
    if (node < evicted_.size()) evicted_[node] = true;
  }
  void Readmit(uint32_t node) {
    if (node < evicted_.size()) evicted_[node] = false;
  }
  bool IsEvicted(uint32_t node) const { return node < evicted_.size() && evicted_[node]; }
  std::vector<uint32_t> Evicted() const;
  // The computing node for a beacon value; FAILED_PRECONDITION when every node is out.
  absl::StatusOr<uint32_t> Pick(uint64_t beacon) const;

 private:
  std::vector<bool> evicted_;
};

}  // namespace datanode::shim

#endif  // DATANODE_NODE_SHIM_AGREEMENT_H_
