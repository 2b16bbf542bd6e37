// Copyright 2026 The datanode Authors.
#include "node/inference/model_config.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace datanode::node::inference {
namespace {

absl::Status CheckRange(const char* field, int64_t value, int64_t lo, int64_t hi) {
  if (value < lo || value > hi) {
    return absl::InvalidArgumentError(
        absl::StrCat("model config: ", field, " = ", value, " is outside [", lo, ", ", hi, "]"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateModelConfig(const ModelConfig& c) {
  if (c.architecture != "llama") {
    return absl::UnimplementedError(
        absl::StrCat("model architecture '", c.architecture.substr(0, 64),
                     "' is not supported; the engine runs only 'llama'"));
  }
  if (auto s = CheckRange("n_layers", c.n_layers, 1, kMaxLayers); !s.ok()) return s;
  if (auto s = CheckRange("d_model", c.d_model, 32, kMaxModelDim); !s.ok()) return s;
  if (auto s = CheckRange("n_heads", c.n_heads, 1, 4096); !s.ok()) return s;
  if (auto s = CheckRange("n_kv_heads", c.n_kv_heads, 1, c.n_heads); !s.ok()) return s;
  if (auto s = CheckRange("head_dim", c.head_dim, 32, 4096); !s.ok()) return s;
  if (auto s = CheckRange("ffn_dim", c.ffn_dim, 32, kMaxModelDim * 4); !s.ok()) return s;
  if (auto s = CheckRange("vocab_size", c.vocab_size, 1, kMaxVocab); !s.ok()) return s;
  if (auto s = CheckRange("rope_dim", c.rope_dim, 2, c.head_dim); !s.ok()) return s;
  if (auto s = CheckRange("context_length", c.context_length, 1, kMaxContext); !s.ok()) return s;
  // Every matmul reduces over d_model, n_heads * head_dim or ffn_dim; Q8_0 blocks need
  // multiples of 32, and the KV format is defined per 32-value block of a head.
  if (c.d_model % 32 != 0 || c.ffn_dim % 32 != 0 || c.head_dim % 32 != 0) {
    return absl::InvalidArgumentError(absl::StrCat("model config: d_model (", c.d_model,
                                                   "), ffn_dim (", c.ffn_dim, ") and head_dim (",
                                                   c.head_dim, ") must be multiples of 32"));
  }
  if (c.n_heads % c.n_kv_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat("model config: n_heads (", c.n_heads,
                                                   ") is not a multiple of n_kv_heads (",
                                                   c.n_kv_heads, ")"));
  }
  if (int64_t{c.n_heads} * c.head_dim > kMaxModelDim) {
    return absl::InvalidArgumentError(
        absl::StrCat("model config: n_heads * head_dim = ", int64_t{c.n_heads} * c.head_dim,
                     " exceeds ", kMaxModelDim));
  }
  if (c.rope_dim % 2 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("model config: rope_dim (", c.rope_dim, ") must be even"));
  }
  if (!std::isfinite(c.rope_freq_base) || c.rope_freq_base <= 1.0f) {
    return absl::InvalidArgumentError(
        absl::StrCat("model config: rope_freq_base (", c.rope_freq_base, ") must be > 1"));
  }
  if (!std::isfinite(c.rms_eps) || c.rms_eps <= 0.0f) {
    return absl::InvalidArgumentError(
        absl::StrCat("model config: rms_eps (", c.rms_eps, ") must be > 0"));
  }
  for (int32_t id : c.eog_tokens) {
    if (id < 0 || id >= c.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat("model config: end-of-generation token ", id,
                                                     " is outside the vocabulary of ",
                                                     c.vocab_size));
    }
  }
  return absl::OkStatus();
}

std::vector<TensorSpec> LlamaTensorSpecs(const ModelConfig& c) {
  const int64_t d = c.d_model;
  const int64_t q_dim = int64_t{c.n_heads} * c.head_dim;
  const int64_t kv_dim = int64_t{c.n_kv_heads} * c.head_dim;
  std::vector<TensorSpec> specs;
  specs.push_back({"token_embd.weight", TensorRole::kEmbedding, {c.vocab_size, d}});
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = absl::StrCat("blk.", l, ".");
    specs.push_back({p + "attn_norm.weight", TensorRole::kNorm, {d}});
    specs.push_back({p + "attn_q.weight", TensorRole::kLinear, {q_dim, d}});
    specs.push_back({p + "attn_k.weight", TensorRole::kLinear, {kv_dim, d}});
    specs.push_back({p + "attn_v.weight", TensorRole::kLinear, {kv_dim, d}});
    specs.push_back({p + "attn_output.weight", TensorRole::kLinear, {d, q_dim}});
    specs.push_back({p + "ffn_norm.weight", TensorRole::kNorm, {d}});
    specs.push_back({p + "ffn_gate.weight", TensorRole::kLinear, {c.ffn_dim, d}});
    specs.push_back({p + "ffn_up.weight", TensorRole::kLinear, {c.ffn_dim, d}});
    specs.push_back({p + "ffn_down.weight", TensorRole::kLinear, {d, c.ffn_dim}});
  }
  specs.push_back({"output_norm.weight", TensorRole::kNorm, {d}});
  specs.push_back({"output.weight", TensorRole::kLinear, {c.vocab_size, d}, /*optional=*/true});
  return specs;
}

}  // namespace datanode::node::inference
