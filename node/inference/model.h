// Copyright 2026 The datanode Authors.
//
// A loaded llama-architecture model: its config, its weights prepared once on one
// ops::Backend, its norm gains, embedding rows and RoPE table, and the forward pass
// of spec version 2 (docs/determinism.md, docs/inference.md).
//
// Lifetime and threads: a Model is immutable after Create/LoadModel and may be shared
// (shared_ptr<const Model>) by any number of sessions running Forward concurrently on
// different KV caches. The backend must outlive the model (its prepared weights live
// in the backend's memory). A KvCache is used by one thread at a time.
#ifndef DATANODE_NODE_INFERENCE_MODEL_H_
#define DATANODE_NODE_INFERENCE_MODEL_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/llm.h"
#include "node/import/model.h"
#include "node/inference/forward_hooks.h"
#include "node/inference/model_config.h"

namespace datanode::node {
class ModelRegistry;
class WeightStore;
}  // namespace datanode::node

namespace datanode::node::inference {

// Supplies a model's tensors by name (the store, or a test's memory).
class TensorProvider {
 public:
  virtual ~TensorProvider() = default;
  // The tensor's dtype and shape, or nullptr if the model has no such tensor.
  virtual const TensorInfo* Find(std::string_view name) const = 0;
  // The tensor's bytes (info.size of them), verified by the provider.
  virtual absl::StatusOr<std::vector<uint8_t>> Read(const TensorInfo& info) const = 0;
};

struct ModelOptions {
  // Most positions any session of this model may use; 0 = the model's context_length.
  // Larger than context_length is INVALID_ARGUMENT. Sizes the RoPE table.
  int64_t max_context = 0;
};

// Bytes a loaded model holds, for budgets and the operator's view.
struct ModelMemory {
  int64_t prepared_weights = 0;  // every matmul weight, in the backend's memory
  // token_embd.weight as stored (host), for row lookup; 0 when the embedding is tied and
  // the lookup reads its rows from the prepared output weights (PreparedWeights::ReadRow).
  int64_t embedding_rows = 0;
  int64_t norms = 0;             // the f32 norm gains
  int64_t rope_table = 0;
  int64_t total() const { return prepared_weights + embedding_rows + norms + rope_table; }
};

// One session's KV cache: per layer, `context` encoded K rows then `context` encoded V
// rows (llm::KvRowBytes each). Memory is reserved at Create but pages are only touched
// as positions are written, so resident memory grows with use.
class KvCache {
 public:
  // INVALID_ARGUMENT if context is outside [1, model.max_context()].
  static absl::StatusOr<KvCache> Create(const class Model& model, int64_t context);

  int64_t context() const { return context_; }
  int64_t SizeBytes() const { return size_; }
  // Bytes of one position over all layers (K and V).
  int64_t BytesPerPosition() const { return 2 * n_layers_ * row_bytes_; }
  std::span<uint8_t> K(int layer) { return {Layer(layer), Span()}; }
  std::span<uint8_t> V(int layer) { return {Layer(layer) + Span(), Span()}; }
  ops::ByteSpan K(int layer) const { return {Layer(layer), Span()}; }
  ops::ByteSpan V(int layer) const { return {Layer(layer) + Span(), Span()}; }
  int64_t row_bytes() const { return row_bytes_; }

 private:
  KvCache() = default;
  size_t Span() const { return static_cast<size_t>(context_ * row_bytes_); }
  uint8_t* Layer(int layer) const { return bytes_.get() + 2 * static_cast<size_t>(layer) * Span(); }

  std::unique_ptr<uint8_t[]> bytes_;
  int64_t size_ = 0;
  int64_t context_ = 0;
  int64_t row_bytes_ = 0;
  int n_layers_ = 0;
};

// One row of a forward pass: token `token` at position `pos` of the sequence whose
// K/V rows live in `cache`. Positions [0, pos) of that cache must hold the earlier
// tokens' rows (written by earlier passes or by earlier rows of this pass).
struct ForwardRow {
  int32_t token = 0;
  int64_t pos = 0;
  KvCache* cache = nullptr;
  bool want_logits = false;  // compute this row's output logits
};

// A matmul weight prepared on the model's backend.
struct Linear {
  std::string name;
  ops::OpKind kind = ops::OpKind::kMatMulQ8_0Q8_0;
  int64_t n = 0;  // output features
  int64_t k = 0;  // input features
  std::unique_ptr<ops::PreparedWeights> weights;
};

class Model {
 public:
  // Validates the config and every tensor (presence, dtype, shape: the error names the
  // tensor and what was expected), prepares the matmul weights on `backend` and builds
  // the RoPE table. UNIMPLEMENTED for a non-llama architecture or a weight format the
  // ops cannot multiply; INVALID_ARGUMENT for a missing or misshapen tensor; errors of
  // the provider and of PrepareWeights pass through.
  static absl::StatusOr<std::unique_ptr<Model>> Create(const ModelConfig& config,
                                                       const TensorProvider& tensors,
                                                       ops::Backend& backend,
                                                       const ModelOptions& options = {});

  const ModelConfig& config() const { return config_; }
  ops::Backend& backend() const { return *backend_; }
  int64_t max_context() const { return rope_->max_positions(); }
  const ModelMemory& memory() const { return memory_; }
  ops::llm::AttentionShape attention_shape() const;
  // KV bytes one session needs per position of context (all layers, K and V).
  int64_t KvBytesPerPosition() const;
  // Whether the output projection is token_embd.weight (no output.weight in the file).
  bool tied_embeddings() const { return tied_embeddings_; }

  // The forward pass of spec version 2 over rows.size() rows at once: every matmul
  // runs with M = rows.size(), every other op per row, so each row's bytes are those
  // it would have alone (rows may belong to different caches, i.e. sessions). Writes
  // each row's K/V into its cache at its position, and for the rows with want_logits,
  // in order, vocab_size f32 logits into `logits` (whose size must match exactly).
  // A row must not attend to a position of its cache that no row or earlier pass
  // wrote: rows of one cache must have consecutive positions in order.
  // Errors: INVALID_ARGUMENT for bad rows (token outside the vocabulary, position
  // outside its cache, wrong logits size); OUT_OF_RANGE when an activation leaves the
  // range the spec's Q8_0 quantization accepts (|x| >= 8321040) or becomes non-finite,
  // naming the layer and the step; backend errors pass through. On error the caches
  // may hold partial rows at the rows' positions, which later passes overwrite.
  // `hooks` (verified delegation, forward_hooks.h): when set, every matmul's output comes
  // from hooks->MatMul instead of the backend, and hooks->Residual sees the residual stream
  // after the embedding and after each layer; hook errors end the pass.
  absl::Status Forward(std::span<const ForwardRow> rows, std::span<float> logits,
                       ForwardHooks* hooks = nullptr) const;

  // Every matmul weight in pass order: per layer q, k, v, o, gate, up, down, then the
  // output head (token_embd.weight when tied). For verified delegation.
  std::vector<const Linear*> linears() const;

 private:
  struct Layer {
    std::vector<float> attn_norm;
    std::vector<float> ffn_norm;
    Linear q, k, v, o, gate, up, down;
  };

  Model() = default;

  ModelConfig config_;
  ops::Backend* backend_ = nullptr;
  ops::llm::RowFormat embedding_format_ = ops::llm::RowFormat::kF32;
  int64_t embedding_row_bytes_ = 0;
  // token_embd.weight as stored; empty when tied and read from output_ (ReadRow).
  std::vector<uint8_t> embedding_;
  std::vector<Layer> layers_;
  std::vector<float> output_norm_;
  Linear output_;
  bool tied_embeddings_ = false;
  std::unique_ptr<ops::llm::RopeTable> rope_;
  ModelMemory memory_;
};

// Loads the model registered under `digest` in `registry`: reads the GGUF metadata from
// its source object in `store` (ModelConfigFromGguf), then its tensors (every read
// verified), and Creates it on `backend`. NOT_FOUND for an unknown digest,
// UNIMPLEMENTED for a safetensors model or a non-llama architecture, DATA_LOSS for
// corrupt store objects, and Create's errors. Memory while loading: the prepared
// weights plus one tensor's bytes.
absl::StatusOr<std::shared_ptr<const Model>> LoadModel(const ModelRegistry& registry,
                                                       const WeightStore& store,
                                                       const ops::Sha256& digest,
                                                       ops::Backend& backend,
                                                       const ModelOptions& options = {});

}  // namespace datanode::node::inference

#endif  // DATANODE_NODE_INFERENCE_MODEL_H_
