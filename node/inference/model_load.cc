// Copyright 2026 The datanode Authors.
//
// The GGUF side of the engine: hyperparameters from the file's metadata, and a model
// loaded from the store by digest. All GGUF parsing is node/import's (ParseGguf for the
// tensors at import, ReadGgufMetadata for the keys here).
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/status_macros.h"
#include "node/import/gguf_metadata.h"
#include "node/import/model_registry.h"
#include "node/inference/model.h"
#include "node/inference/model_config.h"

namespace datanode::node::inference {
namespace {

// Wraps a getter's error so it names the key's role in the model.
template <typename T>
absl::StatusOr<T> Required(absl::StatusOr<T> value, const std::string& key) {
  if (value.ok()) return value;
  return absl::InvalidArgumentError(absl::StrCat(
      "GGUF metadata '", key, "' (required for a llama model): ", value.status().message()));
}

absl::StatusOr<int64_t> RequiredUint(const GgufMetadata& md, const std::string& key, int64_t max) {
  ASSIGN_OR_RETURN(uint64_t v, Required(md.GetUint(key), key));
  if (v > static_cast<uint64_t>(max)) {
    return absl::InvalidArgumentError(
        absl::StrCat("GGUF metadata '", key, "' = ", v, " exceeds ", max));
  }
  return static_cast<int64_t>(v);
}

absl::StatusOr<int64_t> OptionalUint(const GgufMetadata& md, const std::string& key, int64_t max,
                                     int64_t fallback) {
  if (!md.Has(key)) return fallback;
  return RequiredUint(md, key, max);
}

// Registry-backed tensors: the manifest says what exists, the store returns verified
// bytes.
class RegistryTensors : public TensorProvider {
 public:
  RegistryTensors(const ModelRegistry& registry, const ops::Sha256& digest,
                  const ModelManifest& manifest)
      : registry_(registry), digest_(digest), manifest_(manifest) {}
  const TensorInfo* Find(std::string_view name) const override { return manifest_.Find(name); }
  absl::StatusOr<std::vector<uint8_t>> Read(const TensorInfo& info) const override {
    TensorInfo read_info;
    return registry_.ReadTensor(digest_, info.name, &read_info);
  }

 private:
  const ModelRegistry& registry_;
  const ops::Sha256 digest_;
  const ModelManifest& manifest_;
};

}  // namespace

absl::StatusOr<ModelConfig> ModelConfigFromGguf(const GgufMetadata& md) {
  ModelConfig c;
  ASSIGN_OR_RETURN(c.architecture,
                   Required(md.GetString("general.architecture"), "general.architecture"));
  if (c.architecture != "llama") {
    return absl::UnimplementedError(
        absl::StrCat("model architecture '", c.architecture.substr(0, 64),
                     "' is not supported; the engine runs only 'llama'"));
  }
  const std::string a = "llama.";
  ASSIGN_OR_RETURN(int64_t layers, RequiredUint(md, a + "block_count", kMaxLayers));
  c.n_layers = static_cast<int>(layers);
  ASSIGN_OR_RETURN(c.d_model, RequiredUint(md, a + "embedding_length", kMaxModelDim));
  ASSIGN_OR_RETURN(c.ffn_dim, RequiredUint(md, a + "feed_forward_length", kMaxModelDim * 4));
  ASSIGN_OR_RETURN(int64_t heads, RequiredUint(md, a + "attention.head_count", 4096));
  c.n_heads = static_cast<int>(heads);
  ASSIGN_OR_RETURN(int64_t kv_heads, OptionalUint(md, a + "attention.head_count_kv", 4096, heads));
  c.n_kv_heads = static_cast<int>(kv_heads);
  const int64_t default_head_dim = heads > 0 ? c.d_model / heads : 0;
  ASSIGN_OR_RETURN(int64_t head_dim,
                   OptionalUint(md, a + "attention.key_length", 4096, default_head_dim));
  c.head_dim = static_cast<int>(head_dim);
  if (md.Has(a + "attention.value_length")) {
    ASSIGN_OR_RETURN(int64_t v_len, RequiredUint(md, a + "attention.value_length", 4096));
    if (v_len != head_dim) {
      return absl::UnimplementedError(absl::StrCat("llama.attention.value_length (", v_len,
                                                   ") differs from key_length (", head_dim,
                                                   "); the engine needs them equal"));
    }
  }
  ASSIGN_OR_RETURN(int64_t rope_dim, OptionalUint(md, a + "rope.dimension_count", 4096, head_dim));
  c.rope_dim = static_cast<int>(rope_dim);
  if (md.Has(a + "rope.freq_base")) {
    ASSIGN_OR_RETURN(c.rope_freq_base,
                     Required(md.GetF32(a + "rope.freq_base"), a + "rope.freq_base"));
  }
  if (md.Has(a + "rope.scaling.type")) {
    ASSIGN_OR_RETURN(std::string scaling, md.GetString(a + "rope.scaling.type"));
    if (scaling != "none") {
      return absl::UnimplementedError(
          absl::StrCat("RoPE scaling '", scaling.substr(0, 32), "' is not supported"));
    }
  }
  ASSIGN_OR_RETURN(c.rms_eps, Required(md.GetF32(a + "attention.layer_norm_rms_epsilon"),
                                       a + "attention.layer_norm_rms_epsilon"));
  ASSIGN_OR_RETURN(c.context_length, RequiredUint(md, a + "context_length", kMaxContext));
  if (md.Has(a + "vocab_size")) {
    ASSIGN_OR_RETURN(c.vocab_size, RequiredUint(md, a + "vocab_size", kMaxVocab));
  } else {
    ASSIGN_OR_RETURN(uint64_t n,
                     Required(md.ArrayLength("tokenizer.ggml.tokens"), "tokenizer.ggml.tokens"));
    c.vocab_size = static_cast<int64_t>(std::min<uint64_t>(n, kMaxVocab + 1));
  }
  for (const char* key : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"}) {
    if (!md.Has(key)) continue;
    ASSIGN_OR_RETURN(int64_t id, RequiredUint(md, key, kMaxVocab));
    c.eog_tokens.push_back(static_cast<int32_t>(id));
  }
  std::sort(c.eog_tokens.begin(), c.eog_tokens.end());
  c.eog_tokens.erase(std::unique(c.eog_tokens.begin(), c.eog_tokens.end()), c.eog_tokens.end());
  RETURN_IF_ERROR(ValidateModelConfig(c));
  return c;
}

absl::StatusOr<std::shared_ptr<const Model>> LoadModel(const ModelRegistry& registry,
                                                       const WeightStore& store,
                                                       const ops::Sha256& digest,
                                                       ops::Backend& backend,
                                                       const ModelOptions& options) {
  ASSIGN_OR_RETURN(ModelManifest manifest, registry.Get(digest));
  if (manifest.format != ModelFormat::kGguf) {
    return absl::UnimplementedError(
        absl::StrCat("model ", ops::ToHex(digest), " is ", ModelFormatName(manifest.format),
                     "; the engine loads GGUF files (their metadata carries the hyperparameters)"));
  }
  ASSIGN_OR_RETURN(ObjectInfo source_info, store.Stat(manifest.source));
  const StoreSource source(&store, std::move(source_info));
  ASSIGN_OR_RETURN(GgufMetadata metadata, ReadGgufMetadata(source));
  ASSIGN_OR_RETURN(ModelConfig config, ModelConfigFromGguf(metadata));
  const RegistryTensors tensors(registry, digest, manifest);
  ASSIGN_OR_RETURN(std::unique_ptr<Model> model, Model::Create(config, tensors, backend, options));
  return std::shared_ptr<const Model>(std::move(model));
}

}  // namespace datanode::node::inference
