// Copyright 2026 The datanode Authors.
//
// Verified delegation of a forward pass (docs/verification.md §9): one node runs the
// pass and returns every matmul's output with its exact sums (ops::verify::PassAnswer);
// a verifying node checks every matmul with Freivalds against its secret per-epoch
// vectors and recomputes every elementwise op (RMSNorm, quantization, RoPE, K/V encoding,
// attention over its own KV cache, SiLU * up, residual adds) with its backend's kernels,
// which are byte-equal to the spec. Both sides run Model::Forward itself through
// ForwardHooks (forward_hooks.h), so there is one description of the pass.
//
// What a verifier holds per session is an ordinary KvCache: the K/V rows it writes come
// from checked outputs, so after an accepted pass its cache holds the spec's bytes, the
// same as the computing node's.
//
// Thread safety: LinearWeights and PassVerifier are immutable after creation and may be
// shared by concurrent calls; each call uses its own rows' caches.
#ifndef DATANODE_NODE_INFERENCE_VERIFIED_FORWARD_H_
#define DATANODE_NODE_INFERENCE_VERIFIED_FORWARD_H_

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "datanode/ops/verify.h"
#include "datanode/ops/verify_pass.h"
#include "node/inference/forward_hooks.h"
#include "node/inference/model.h"

namespace datanode::node::inference {

// The stored-format bytes of every matmul weight of a model, by tensor name: what the
// computing node's exact sums and the verifier's Prepare read. Read back from the
// model's prepared weights (PreparedWeights::ReadRow), so they are the bytes the backend
// multiplies by; UNIMPLEMENTED where the backend cannot read rows back.
class LinearWeights {
 public:
  static absl::StatusOr<LinearWeights> FromModel(const Model& model);
  // The same bytes read from the weight store (verified), for backends that cannot read
  // rows back (Vulkan): each matmul weight's tensor of model `digest` as stored, which is
  // what LoadModel prepared. NOT_FOUND for an unknown model or tensor, DATA_LOSS for
  // corrupt bytes, INTERNAL if a tensor's size is not its matmul's weight size.
  static absl::StatusOr<LinearWeights> FromStore(const Model& model, const ModelRegistry& registry,
                                                 const ops::Sha256& digest);
  // Empty when the model has no matmul weight of that name.
  ops::ByteSpan Get(std::string_view name) const;
  int64_t SizeBytes() const;

 private:
  std::map<std::string, std::vector<uint8_t>, std::less<>> bytes_;
};

// Wrong answers a computing node can be made to give, for the tests, the benchmark and
// the simulation only. kNoLayer leaves a fault off.
inline constexpr int kNoLayer = -2;
struct ComputeFault {
  // The matmul (wrong_weights_layer, wrong_weights_site) multiplies by its weight with
  // byte wrong_weights_byte of the stored bytes changed (a quant or nibble byte: give an
  // offset past the block's scale), its output and exact sums consistent with that weight.
  int wrong_weights_layer = kNoLayer;
  MatMulSite wrong_weights_site = MatMulSite::kQ;
  int64_t wrong_weights_byte = 0;
  // Layer skip_layer is skipped: its output (the next layer's input) is its input. Its
  // matmuls are answered honestly from that input, or, with skip_as_zeros, as zero
  // outputs with zero exact sums (a node that did no work for the layer).
  int skip_layer = kNoLayer;
  bool skip_as_zeros = false;
};

// The computing node: runs model.Forward(rows, logits) on its backend and returns the
// pass's answer. Exact sums come from the backend's matmuls themselves where it writes them
// (Backend::WritesExactSums: the CPU and Vulkan backends), else from ComputeExactSums over
// `weights` (scalar sums, O(M * N * K) on top of the pass). Errors of Forward pass through.
absl::StatusOr<ops::verify::PassAnswer> ComputeVerifiedPass(const Model& model,
                                                            const LinearWeights& weights,
                                                            std::span<const ForwardRow> rows,
                                                            std::span<float> logits,
                                                            const ComputeFault& fault = {});

// A verifying node's state for one model and one epoch: an ops::verify::Verifier (r and
// v = W^T r) per matmul weight.
class PassVerifier {
 public:
  // Prepares every matmul weight of `model` (O(weights), once per model and epoch).
  // `model_id` (e.g. the model's digest in hex) keeps the vectors of different models'
  // tensors independent. INVALID_ARGUMENT for a weight kind that has no verifier (the
  // K-quants) or a weight missing from `weights`.
  static absl::StatusOr<PassVerifier> Prepare(const Model& model, const LinearWeights& weights,
                                              const ops::verify::EpochSecret& secret,
                                              std::string_view model_id);

  // Checks `answer` for `rows` (the verifier's own KV caches, positions as the computing
  // node had them) by running model.Forward with the answer's checked matmul outputs.
  // On acceptance the rows' caches hold the spec's K/V and `logits` the spec's logits
  // (its size as Forward demands). A rejection names the first failing check, layer and
  // matmul; on a rejection the caches may hold partial rows at the rows' positions. An
  // honest answer is always accepted; a wrong one is rejected except with probability
  // <= 2^-52 per wrong matmul (docs/verification.md §4). Errors: Forward's errors for bad
  // rows, FAILED_PRECONDITION for a model this verifier was not prepared for.
  absl::StatusOr<ops::verify::PassVerdict> Verify(const Model& model,
                                                  std::span<const ForwardRow> rows,
                                                  const ops::verify::PassAnswer& answer,
                                                  std::span<float> logits) const;

  int64_t MemoryBytes() const { return verifiers_.MemoryBytes(); }

 private:
  ops::verify::VerifierSet verifiers_;
};

}  // namespace datanode::node::inference

#endif  // DATANODE_NODE_INFERENCE_VERIFIED_FORWARD_H_
