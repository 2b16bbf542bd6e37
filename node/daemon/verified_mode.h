// Copyright 2026 The datanode Authors.
//
// Verified delegation in the daemon (docs/verification.md §8, docs/daemon.md "Verified
// mode"): the verifying node's state and the computing node's test-only faults. Domain
// code, no RPC types; NodeService calls it.
//
// Verifier state: one secret per epoch (ops::verify::NewEpochSecret, 32 bytes from
// OpenSSL, never sent, never logged) and, per (tensor, epoch), an ops::verify::Verifier
// (r and v = W^T r) kept beside the prepared weights, its bytes held from the daemon's
// memory budget. The secret is redrawn, and every Verifier dropped, when the caller's
// epoch number rises and after any rejection (§5: an adaptive prover then faces an r it
// knows nothing about). Verdicts are signed with the node key (shim::NodeKey, the same
// Ed25519 signing as the shim's result shares).
//
// Thread-safe.
#ifndef DATANODE_NODE_DAEMON_VERIFIED_MODE_H_
#define DATANODE_NODE_DAEMON_VERIFIED_MODE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/digest.h"
#include "datanode/ops/verify.h"
#include "datanode/ops/verify_pass.h"
#include "node/daemon/caller_limits.h"
#include "node/inference/verified_forward.h"
#include "node/shim/agreement.h"

namespace datanode::node {

// Faults a computing node can be told to commit in verified mode, for the subnet
// simulation only (config `test_fault`). Each makes the answer wrong in one way:
//   flip_output_bit  one bit of C flipped
//   flip_exact_bit   one bit of the exact sums flipped (s8_s32, which has none: of C)
//   wrong_weights    C and the exact sums computed, consistently, from W with one weight
//                    changed
//   replay           the answer to this node's previous verified-mode call of the same
//                    shape (another input), or to A with one value changed if none
//   skip_layer       work left out: a forward pass skips one layer (its matmuls answered
//                    from its input, or as zeros); a MatMul answers zeros
// A forward pass's faults (which matmul, bit, weight or layer) are VerifiedInference's
// (verified_inference.h).
enum class TestFault { kNone, kFlipOutputBit, kFlipExactBit, kWrongWeights, kReplay, kSkipLayer };
// The environment variable that must be "1" for a daemon to accept a test fault.
inline constexpr const char kAllowTestFaultsEnv[] = "DATANODE_ALLOW_TEST_FAULTS";
// "" -> kNone. INVALID_ARGUMENT for an unknown name, and FAILED_PRECONDITION for any fault
// unless the environment variable above is "1" (a production daemon refuses the config).
absl::StatusOr<TestFault> ParseTestFault(std::string_view name);
const char* TestFaultName(TestFault fault);

// The computing node's verified-mode answer: C and the exact sums
// (ops::verify::RunOpWithExactSums), with `fault` applied. `w_raw` / `w_scale_raw` are
// the weights in their stored format (args may point to prepared weights).
struct ExactAnswer {
  std::vector<uint8_t> out, exact;
};
class ComputingNode {
 public:
  absl::StatusOr<ExactAnswer> Answer(ops::Backend& backend, const ops::OpArgs& args,
                                     ops::ByteSpan w_raw, ops::ByteSpan w_scale_raw,
                                     TestFault fault);

 private:
  std::mutex mu_;
  uint64_t calls_ = 0;  // guarded by mu_: varies which bit a flip fault flips
  struct Previous {
    ops::Sha256 a_digest{};
    ExactAnswer answer;
  };
  std::map<std::string, Previous> previous_;  // guarded by mu_; key: kind and shape
};

// What a verifying node says about one answer.
struct Verification {
  bool accepted = false;
  ops::verify::Check check = ops::verify::Check::kNone;
  int64_t row = -1, col = -1;
  std::string reason;
  ops::Sha256 output_digest{};  // D = SHA-256 of the answer's C
  shim::Signature signature{};  // over shim::VerifiedShareMessage(request, D, accepted)
  shim::PublicKey public_key{};
  uint64_t epoch = 0;
  int64_t verifier_bytes = 0;  // this tensor's verifier state
};

// D of a forward-pass answer: SHA-256 of its output-head C (the logits the step claims;
// f32 little-endian rows of the rows that want logits), of nothing when it has none. The
// computing node reports it and a verifier signs it.
ops::Sha256 PassOutputDigest(const ops::verify::PassAnswer& answer);

// What a verifying node says about one forward-pass answer (docs/verification.md §9).
struct PassVerification {
  bool accepted = false;
  ops::verify::PassCheck check = ops::verify::PassCheck::kNone;
  ops::verify::Check matmul_check = ops::verify::Check::kNone;
  int32_t layer = -2, site = -1;
  std::string reason;
  // D = SHA-256 of the answer's output-head C (the logits the step claims; f32 little-endian
  // rows of the rows that want logits), or of nothing when the pass has no output head.
  ops::Sha256 output_digest{};
  shim::Signature signature{};  // over shim::VerifiedShareMessage(request, D, accepted)
  shim::PublicKey public_key{};
  uint64_t epoch = 0;
  int64_t verifier_bytes = 0;  // this model's verifier state
};

class VerifyingNode {
 public:
  // `budget` must outlive this object.
  VerifyingNode(shim::NodeKey key, MemoryBudget* budget) : key_(std::move(key)), budget_(budget) {}

  // Loads the weights of a tensor in their stored format (only called on a miss).
  struct Weights {
    std::vector<uint8_t> w, w_scale;
  };
  using LoadFn = std::function<absl::StatusOr<Weights>()>;

  // Checks `out` / `exact` for the request in `args` (kind, m, n, k, a, a_scale; weights
  // unused) against tensor `tensor_id` (a content digest: equal ids mean equal weights),
  // preparing its Verifier with `load` on a miss, and signs the verdict for
  // `request_digest`. `epoch` above the current one rotates the secret first; below it is
  // FAILED_PRECONDITION. A rejection is logged naming `computing_node` and rotates the
  // secret. INVALID_ARGUMENT for a request that is itself invalid (not the computing
  // node's fault); RESOURCE_EXHAUSTED when the verifier state does not fit the budget.
  absl::StatusOr<Verification> Verify(const ops::OpArgs& args, const std::string& tensor_id,
                                      const LoadFn& load, ops::ByteSpan out, ops::ByteSpan exact,
                                      uint64_t epoch, const ops::Sha256& request_digest,
                                      uint32_t computing_node);

  // Loads the stored bytes of every matmul weight of a model (only called on a miss).
  using PassLoadFn = std::function<absl::StatusOr<inference::LinearWeights>()>;

  // Checks a computing node's answer for one forward pass of `model` (this node's own
  // loaded copy; `model_id` its digest) over `rows` (this node's KV caches) with
  // inference::PassVerifier, preparing it with `load` on a miss (once per model and epoch,
  // its state held from the memory budget beside the matmul verifiers), and signs the
  // verdict over D for `request_digest`. On acceptance `logits` holds the spec's logits and
  // the caches the spec's K/V. Epochs, rotation after a rejection, the log line naming
  // `computing_node` and RESOURCE_EXHAUSTED are as for Verify; Forward's errors for bad rows.
  absl::StatusOr<PassVerification> VerifyPass(const inference::Model& model,
                                              const std::string& model_id, const PassLoadFn& load,
                                              std::span<const inference::ForwardRow> rows,
                                              const ops::verify::PassAnswer& answer,
                                              std::span<float> logits, uint64_t epoch,
                                              const ops::Sha256& request_digest,
                                              uint32_t computing_node);

  uint64_t epoch() const;
  int64_t memory_bytes() const;  // verifier state held now
  int64_t rotations() const;     // secrets drawn after the first
  const shim::PublicKey& public_key() const { return key_.public_key(); }

 private:
  struct Entry {
    std::shared_ptr<const ops::verify::Verifier> verifier;
    MemoryBudget::Reservation held;
  };
  struct PassEntry {
    std::shared_ptr<const inference::PassVerifier> verifier;
    MemoryBudget::Reservation held;
  };
  // Draws a new secret and drops the verifiers. Caller holds mu_.
  absl::Status RotateLocked(uint64_t epoch);
  // Makes `epoch` current: draws the first secret, rotates when `epoch` is newer,
  // FAILED_PRECONDITION when it is older. Caller holds mu_.
  absl::Status EpochLocked(uint64_t epoch);

  const shim::NodeKey key_;
  MemoryBudget* budget_;
  mutable std::mutex mu_;
  std::optional<ops::verify::EpochSecret> secret_;   // guarded by mu_
  uint64_t epoch_ = 0;                               // guarded by mu_
  uint64_t generation_ = 0;                          // guarded by mu_: bumps per rotation
  int64_t rotations_ = 0;                            // guarded by mu_
  std::map<std::string, Entry> verifiers_;           // guarded by mu_
  std::map<std::string, PassEntry> pass_verifiers_;  // guarded by mu_; key: model id
  int64_t memory_ = 0;                               // guarded by mu_
};

}  // namespace datanode::node

#endif  // DATANODE_NODE_DAEMON_VERIFIED_MODE_H_
