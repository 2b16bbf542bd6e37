// Copyright 2026 The datanode Authors.
//
// The hyperparameters of a llama-architecture model, as the engine needs them, and
// the names, formats and shapes of the tensors such a model must hold.
//
// ModelConfigFromGguf reads them from a GGUF file's metadata (the `llama.*` keys that
// llama.cpp writes); everything else in the engine works on a ModelConfig, so tests
// can build small synthetic models without a file. Pure functions, thread-safe.
#ifndef DATANODE_NODE_INFERENCE_MODEL_CONFIG_H_
#define DATANODE_NODE_INFERENCE_MODEL_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace datanode::node {
class GgufMetadata;
}

namespace datanode::node::inference {

// Bounds the engine accepts (checked by ValidateModelConfig). They keep every buffer
// size far inside int64 and every dimension inside what the ops accept.
inline constexpr int kMaxLayers = 1024;
inline constexpr int64_t kMaxModelDim = 65536;  // d_model, ffn_dim, heads * head_dim
inline constexpr int64_t kMaxVocab = int64_t{1} << 22;
inline constexpr int64_t kMaxContext = int64_t{1} << 20;  // RopeTable's position limit

struct ModelConfig {
  std::string architecture;         // general.architecture; only "llama" runs
  int n_layers = 0;                 // llama.block_count
  int64_t d_model = 0;              // llama.embedding_length
  int n_heads = 0;                  // llama.attention.head_count
  int n_kv_heads = 0;               // llama.attention.head_count_kv (default: n_heads)
  int head_dim = 0;                 // llama.attention.key_length (default: d_model / n_heads)
  int64_t ffn_dim = 0;              // llama.feed_forward_length
  int64_t vocab_size = 0;           // llama.vocab_size, else len(tokenizer.ggml.tokens)
  int rope_dim = 0;                 // llama.rope.dimension_count (default: head_dim)
  float rope_freq_base = 10000.0f;  // llama.rope.freq_base (default 10000, llama.cpp's)
  float rms_eps = 1e-5f;            // llama.attention.layer_norm_rms_epsilon
  int64_t context_length = 0;       // llama.context_length: the most positions a session may use
  // End-of-generation token ids named by the file (tokenizer.ggml.eos_token_id,
  // tokenizer.ggml.eot_token_id), sorted, no duplicates; may be empty.
  std::vector<int32_t> eog_tokens;
};

// INVALID_ARGUMENT naming the field for anything out of range or inconsistent
// (head counts that do not divide, head_dim not a multiple of 32, odd rope_dim, ...).
// UNIMPLEMENTED, naming it, for an architecture other than "llama".
absl::Status ValidateModelConfig(const ModelConfig& config);

// Reads and validates the config from a GGUF file's metadata. INVALID_ARGUMENT naming
// the key for a missing or ill-typed required key; UNIMPLEMENTED for an architecture
// other than "llama".
absl::StatusOr<ModelConfig> ModelConfigFromGguf(const GgufMetadata& metadata);

// --- The tensors a llama model holds ------------------------------------------------

// How the engine uses a tensor, which decides the formats it accepts.
enum class TensorRole : uint8_t {
  kEmbedding,  // token_embd.weight: rows looked up (F32, F16, Q8_0, Q4_0, Q4_1)
  kLinear,     // a matmul weight W[N, K] (Q8_0, Q4_0, Q4_1)
  kNorm,       // an RMSNorm gain (F32)
};

struct TensorSpec {
  std::string name;
  TensorRole role;
  std::vector<int64_t> shape;  // row-major, outermost first (W[N, K])
  bool optional = false;       // output.weight: absent means tied to token_embd
};

// Every tensor of a model with this (valid) config, in load order.
std::vector<TensorSpec> LlamaTensorSpecs(const ModelConfig& config);

}  // namespace datanode::node::inference

#endif  // DATANODE_NODE_INFERENCE_MODEL_CONFIG_H_
