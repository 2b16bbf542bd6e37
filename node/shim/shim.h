// Copyright 2026 The datanode Authors.
//
// The shim's logic behind the C ABI (ic0_accel.h): decode the Candid argument,
// validate it, price it, charge it, call the daemon, check and encode the reply, or
// turn any failure into an IC reject (reject.h). One Shim per replica process.
#ifndef DATANODE_NODE_SHIM_SHIM_H_
#define DATANODE_NODE_SHIM_SHIM_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/status/statusor.h"
#include "node/shim/agreement.h"
#include "node/shim/interface.h"
#include "node/shim/pricing.h"
#include "node/shim/reject.h"

namespace datanode::shim {

// What the daemon returned for a matmul (before the shim checks it).
struct DaemonMatMulResult {
  std::vector<uint8_t> out;
  std::string output_digest_hex;
  int spec_version = 0;
};

// What a computing daemon returned for a verified-mode matmul (MatMul with exact_output).
struct DaemonExactResult {
  std::vector<uint8_t> out;
  std::vector<uint8_t> exact_sums;
  std::string output_digest_hex;
  int spec_version = 0;
};

// What a verifying daemon is asked to check (MatMul with verify): the computing node's
// answer and the call it belongs to.
struct DaemonVerifyCall {
  std::span<const uint8_t> out;
  std::span<const uint8_t> exact_sums;
  uint64_t epoch = 0;
  Sha256 request_digest{};
  uint32_t computing_node = 0;
};

// A verifying daemon's signed verdict (VerifyResult), before the shim checks it.
struct DaemonVerdict {
  bool accepted = false;
  std::string check;                   // the failed check, or "none"
  std::string reason;                  // names the computing node when rejected
  std::vector<uint8_t> output_digest;  // D as the daemon computed it (32 bytes)
  std::vector<uint8_t> signature;      // 64 bytes, over VerifiedShareMessage
};

// What the daemon's Tokenize returned.
struct DaemonTokens {
  std::vector<int32_t> ids;
  int32_t max_piece_bytes = 0;  // the model's longest token piece
};

// A generation for the daemon: GenerateArgs with the prompt as token ids and the
// sampling converted to the daemon's (binary32) parameters.
struct DaemonGenerateCall {
  std::vector<uint8_t> model;
  std::vector<int32_t> prompt;
  uint32_t max_tokens = 0;
  float temperature = 0, top_p = 1;
  uint32_t top_k = 0;
  std::vector<uint8_t> seed;
  std::vector<int32_t> stop_token_ids;
};

// What the daemon's Generate returned (before the shim checks it).
struct DaemonGenerateResult {
  std::vector<int32_t> ids;
  std::vector<uint8_t> text;  // the pieces, concatenated
  StopReason stop_reason = StopReason::kMaxTokens;
  uint32_t prompt_tokens = 0;
  std::string tokens_digest_hex, final_logits_digest_hex;
  int spec_version = 0;
  uint64_t cycles = 0;  // the daemon's ComputeCycles (one node)
};

// The daemon, as the shim sees it. Implementations must be thread-safe. Errors use the
// daemon's gRPC codes (mapped to rejects by RejectCodeForStatus).
class DaemonClient {
 public:
  virtual ~DaemonClient() = default;
  virtual absl::StatusOr<DaemonMatMulResult> MatMul(const MatMulArgs& args) = 0;
  // Every model (tensors included), or only `model` when set. Sorted by digest.
  virtual absl::StatusOr<std::vector<ModelInfo>> ListModels(
      const std::optional<std::vector<uint8_t>>& model) = 0;
  // Inference (UNIMPLEMENTED unless overridden). `chat` wraps the text in the ChatML turn.
  virtual absl::StatusOr<DaemonTokens> Tokenize(const std::vector<uint8_t>& model,
                                                const std::string& text, bool chat);
  virtual absl::StatusOr<DaemonGenerateResult> Generate(const DaemonGenerateCall& call);
  // The device class the node holds now (GetNodeInfo's admitted_class; empty when none:
  // never admitted, or taken out of its class by a failed admission re-check).
  // UNIMPLEMENTED unless overridden.
  virtual absl::StatusOr<std::string> AdmittedClass();
  // Verified mode (UNIMPLEMENTED unless overridden): the computing node's MatMul with
  // exact_output, and a verifying node's MatMul with verify.
  virtual absl::StatusOr<DaemonExactResult> MatMulExact(const MatMulArgs& args);
  virtual absl::StatusOr<DaemonVerdict> MatMulVerify(const MatMulArgs& args,
                                                     const DaemonVerifyCall& call);
};

struct ShimConfig {
  // Replicas that run each call (n in the price formula).
  uint32_t subnet_size = 13;
  // Largest Candid argument accepted (the IC's inter-canister payload limit).
  size_t max_arg_bytes = size_t{2} << 20;
  // Largest Candid reply produced; larger results are a CANISTER_REJECT.
  size_t max_reply_bytes = size_t{2} << 20;
  // The device class this subnet's data nodes must hold (the registry's, e.g. "gpu").
  // When set, accel_matmul and accel_generate first ask the node which class it holds
  // (one GetNodeInfo per call) and, unless it is this one, are rejected with
  // SYS_TRANSIENT naming the class: a node that failed an admission re-check serves
  // again once it passes. Empty: no requirement (development nodes, tests).
  std::string required_class;
};

struct Outcome {
  RejectCode code = RejectCode::kNone;
  std::vector<uint8_t> reply;        // Candid, when code == kNone
  std::string message;               // when code != kNone
  absl::uint128 cycles_charged = 0;  // the price, or the reject fee (Shim::Call)
};

// --- Verified mode through the shim (docs/canister-api.md "Verified mode") -----------
//
// Consensus delivers the call to every replica. The beacon picks the computing node
// (EvictedNodes::Pick); its replica runs VerifiedCompute and gossips the answer, every
// other replica runs VerifiedCheck on it and gossips its signed verdict, and each replica
// turns the answer and the verdicts into the canister's outcome with VerifiedCombine.
// The three first make the same checks as Call (Candid, values, price, reply size,
// cycles), so a call its caller got wrong is the same reject, with the reject fee, on
// every replica and in every role, whatever the daemons do.

// The computing node's answer as gossiped to the others: "DNVANS1\0", C (exactly the
// bytes the call's shape implies), then the exact sums (the rest). Opaque to replicas.
std::vector<uint8_t> EncodeVerifiedAnswer(std::span<const uint8_t> out,
                                          std::span<const uint8_t> exact_sums);
struct VerifiedAnswerView {
  std::span<const uint8_t> out;
  std::span<const uint8_t> exact_sums;
};
// INVALID_ARGUMENT naming what is wrong (magic, or shorter than out_bytes of output).
absl::StatusOr<VerifiedAnswerView> ParseVerifiedAnswer(std::span<const uint8_t> answer,
                                                       uint64_t out_bytes);

// A verifying replica's part of one verified call.
struct VerifierRole {
  Sha256 request_digest{};  // RequestDigest(method, arg, call id), as every replica has it
  uint32_t node = 0;        // this replica's index in the subnet's key list
  uint32_t computing_node = 0;
  uint64_t epoch = 0;  // the subnet's epoch number (the verifier's secret rotates)
};

class Shim {
 public:
  // `daemon` may be null: the subnet has no data node, so calls that need one are
  // rejected with DESTINATION_INVALID (accel_price still answers).
  Shim(ShimConfig config, std::unique_ptr<DaemonClient> daemon);

  // Thread-safe. A rejected accel_matmul or accel_generate whose caller is at fault
  // (CANISTER_REJECT, CANISTER_ERROR) charges RejectFee (pricing.h), at most cycles_available;
  // every other reject charges nothing. A reply over max_reply_bytes is refused before the daemon
  // is called.
  Outcome Call(std::string_view method, std::span<const uint8_t> arg,
               absl::uint128 cycles_available) const;

  // kVerified only for an accel_matmul whose argument decodes (within max_arg_bytes) with
  // mode = verified; every other call, undecodable ones included, is kReplicated and goes
  // to Call (which rejects them as documented). Pure: no daemon.
  CallMode ModeOf(std::string_view method, std::span<const uint8_t> arg) const;

  // The computing replica: MatMul with exact_output on its daemon. On success `reply`
  // holds the answer (EncodeVerifiedAnswer) and nothing is charged (VerifiedCombine
  // charges). Rejects as Call does, with the reject fee for the caller's faults; a call in
  // replicated mode is SYS_FATAL (the replica should have used Call).
  Outcome VerifiedCompute(std::span<const uint8_t> arg, absl::uint128 cycles_available) const;

  // A verifying replica: checks `answer` on its daemon (MatMul with verify) and returns
  // its signed verdict in *share (node = role.node) with the verifier's reason in
  // `message` ("" when accepted); code kNone. Rejects as VerifiedCompute does before the
  // daemon; a malformed answer is SYS_TRANSIENT naming the computing node (no verdict);
  // a verdict whose D is not SHA-256 of the answer's output, or unsigned, SYS_FATAL.
  Outcome VerifiedCheck(std::span<const uint8_t> arg, absl::uint128 cycles_available,
                        const VerifierRole& role, std::span<const uint8_t> answer,
                        VerifiedShare* share) const;

  // Every replica: the canister's outcome from the computing node's answer (empty: none
  // arrived) and the verdicts. `keys` must hold config().subnet_size keys (else
  // SYS_FATAL). Accepted (CombineVerified, `evicted` set aside): a MatMulReply with the
  // answer's output, charged VerifiedPrice. Otherwise SYS_TRANSIENT with CombineVerified's
  // message (the computing node named when caught), or naming the computing node when
  // its answer is missing or malformed; nothing charged. The caller's faults: as Call.
  Outcome VerifiedCombine(std::span<const uint8_t> arg, absl::uint128 cycles_available,
                          std::span<const PublicKey> keys, const EvictedNodes* evicted,
                          const Sha256& request_digest, uint32_t computing_node,
                          std::span<const uint8_t> answer,
                          std::span<const VerifiedShare> shares) const;

  const ShimConfig& config() const { return config_; }

 private:
  struct PreparedMatMul {
    MatMulArgs args;
    PriceTerms terms;
    absl::uint128 price = 0;  // Price or VerifiedPrice, by the call's mode
  };
  // Decode, validate, price, reply size, cycles: everything before the daemon. A reject
  // is returned without the reject fee (ChargeRejectFee adds it).
  std::optional<Outcome> PrepareMatMul(std::span<const uint8_t> arg, absl::uint128 cycles_available,
                                       const char* what, PreparedMatMul* out) const;
  // The reject fee on a CANISTER_REJECT / CANISTER_ERROR of an update call.
  Outcome ChargeRejectFee(Outcome o, size_t arg_bytes, absl::uint128 cycles_available) const;
  Outcome Dispatch(std::string_view method, std::span<const uint8_t> arg,
                   absl::uint128 cycles_available) const;
  Outcome MatMul(std::span<const uint8_t> arg, absl::uint128 cycles_available) const;
  Outcome ListModels(std::span<const uint8_t> arg) const;
  Outcome Price(std::span<const uint8_t> arg) const;
  Outcome Generate(std::span<const uint8_t> arg, absl::uint128 cycles_available) const;
  // Empty when the node may serve `method` (config_.required_class unset, or the node
  // holds it); else the reject.
  std::optional<Outcome> RefuseUnlessAdmitted(std::string_view method) const;

  ShimConfig config_;
  std::unique_ptr<DaemonClient> daemon_;
};

// Checks a decoded MatMulArgs against the spec before anything is charged or sent.
// INVALID_ARGUMENT with the reason.
absl::Status ValidateMatMulArgs(const MatMulArgs& args);
// Likewise for GenerateArgs (digest size, max_tokens >= 1, sampling ranges, seed size,
// ids below 2^31).
absl::Status ValidateGenerateArgs(const GenerateArgs& args);

}  // namespace datanode::shim

#endif  // DATANODE_NODE_SHIM_SHIM_H_
