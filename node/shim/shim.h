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
#include "node/shim/interface.h"
#include "node/shim/reject.h"

namespace datanode::shim {

// What the daemon returned for a matmul (before the shim checks it).
struct DaemonMatMulResult {
  std::vector<uint8_t> out;
  std::string output_digest_hex;
  int spec_version = 0;
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

  const ShimConfig& config() const { return config_; }

 private:
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
