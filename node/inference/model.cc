// Copyright 2026 The datanode Authors.
#include "node/inference/model.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "datanode/ops/status_macros.h"

namespace datanode::node::inference {
namespace {

namespace llm = ops::llm;

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// The accepted formats follow from the ops library, never from a list kept here: a
// matmul weight is any weight dtype of a Q8_0-activation matmul in the op table
// (ops::kOpTable), an embedding any row format DequantizeRow has (llm::kAllRowFormats).

// The matmul kind that multiplies Q8_0 activations by weights of `dtype`, if any.
bool LinearKind(TensorDtype dtype, ops::OpKind* kind) {
  for (const ops::OpInfo& info : ops::kOpTable) {
    if (ops::IsQ8_0MatMul(info.kind) &&
        std::string_view(info.w_dtype) == TensorDtypeName(dtype)) {
      *kind = info.kind;
      return true;
    }
  }
  return false;
}

bool EmbeddingFormat(TensorDtype dtype, llm::RowFormat* format) {
  for (llm::RowFormat f : llm::kAllRowFormats) {
    if (std::string_view(llm::RowFormatName(f)) == TensorDtypeName(dtype)) {
      *format = f;
      return true;
    }
  }
  return false;
}

// "A, B or C".
std::string OrList(const std::vector<std::string>& names) {
  if (names.size() < 2) return absl::StrJoin(names, "");
  return absl::StrCat(
      absl::StrJoin(std::vector<std::string>(names.begin(), names.end() - 1), ", "), " or ",
      names.back());
}

// The formats a tensor of `role` may have, e.g. "Q8_0, Q4_0, Q4_1, Q4_K or Q6_K".
std::string RoleFormats(TensorRole role) {
  std::vector<std::string> names;
  switch (role) {
    case TensorRole::kEmbedding:
      for (llm::RowFormat f : llm::kAllRowFormats) names.push_back(llm::RowFormatName(f));
      break;
    case TensorRole::kLinear:
      for (const ops::OpInfo& info : ops::kOpTable) {
        if (ops::IsQ8_0MatMul(info.kind)) names.push_back(info.w_dtype);
      }
      break;
    case TensorRole::kNorm:
      names.push_back(TensorDtypeName(TensorDtype::kF32));
      break;
  }
  return OrList(names);
}

bool DtypeFits(TensorRole role, TensorDtype dtype) {
  ops::OpKind kind;
  llm::RowFormat format;
  switch (role) {
    case TensorRole::kEmbedding:
      return EmbeddingFormat(dtype, &format);
    case TensorRole::kLinear:
      return LinearKind(dtype, &kind);
    case TensorRole::kNorm:
      return dtype == TensorDtype::kF32;
  }
  return false;
}

// Checks presence, shape and dtype of every tensor before any bytes are read, so a bad
// file fails fast and the error names the first offending tensor.
absl::Status CheckTensors(const std::vector<TensorSpec>& specs, const TensorProvider& tensors) {
  for (const TensorSpec& spec : specs) {
    const TensorInfo* info = tensors.Find(spec.name);
    if (info == nullptr) {
      if (spec.optional) continue;
      return absl::InvalidArgumentError(absl::StrCat("model has no tensor '", spec.name,
                                                     "' (expected ", RoleFormats(spec.role),
                                                     " of shape ", ShapeString(spec.shape), ")"));
    }
    if (info->shape != spec.shape) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", spec.name, "' has shape ", ShapeString(info->shape),
                       "; the model's hyperparameters need ", ShapeString(spec.shape)));
    }
    if (!DtypeFits(spec.role, info->dtype)) {
      return absl::UnimplementedError(absl::StrCat("tensor '", spec.name, "' is ",
                                                   TensorDtypeName(info->dtype),
                                                   "; the engine needs ", RoleFormats(spec.role)));
    }
  }
  return absl::OkStatus();
}

// Prepares `bytes` (the tensor `info`'s) as a matmul weight on `backend`.
absl::StatusOr<Linear> PrepareLinear(const TensorInfo& info, ops::ByteSpan bytes,
                                     ops::Backend& backend) {
  Linear linear;
  linear.name = info.name;
  if (!LinearKind(info.dtype, &linear.kind) || info.shape.size() != 2) {
    return absl::UnimplementedError(
        absl::StrCat("tensor '", info.name, "' cannot be used as a matmul weight"));
  }
  linear.n = info.shape[0];
  linear.k = info.shape[1];
  absl::StatusOr<std::unique_ptr<ops::PreparedWeights>> prepared =
      backend.PrepareWeights(linear.kind, linear.n, linear.k, bytes, {});
  if (!prepared.ok()) {
    return absl::Status(prepared.status().code(),
                        absl::StrCat("preparing tensor '", info.name, "' on the ", backend.Name(),
                                     " backend: ", prepared.status().message()));
  }
  linear.weights = std::move(*prepared);
  return linear;
}

absl::StatusOr<Linear> LoadLinear(const TensorProvider& tensors, const TensorInfo& info,
                                  ops::Backend& backend) {
  ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, tensors.Read(info));
  return PrepareLinear(info, bytes, backend);
}

// Whether every row of `w` reads back (PreparedWeights::ReadRow) as the rows of `bytes`:
// false if the backend cannot read rows back, INTERNAL if it reads a different byte.
absl::StatusOr<bool> RowsReadBack(const ops::PreparedWeights& w, ops::ByteSpan bytes,
                                  int64_t row_bytes) {
  std::vector<uint8_t> row(static_cast<size_t>(row_bytes));
  for (int64_t n = 0; n < w.n(); ++n) {
    const absl::Status s = w.ReadRow(n, row);
    if (s.code() == absl::StatusCode::kUnimplemented) return false;
    RETURN_IF_ERROR(s);
    if (!std::equal(row.begin(), row.end(),
                    bytes.begin() + n * row_bytes)) {
      return absl::InternalError(absl::StrCat(
          "the ", w.owner()->Name(), " backend read row ", n,
          " of the prepared 'token_embd.weight' back with different bytes"));
    }
  }
  return true;
}

absl::StatusOr<std::vector<float>> LoadNorm(const TensorProvider& tensors, const TensorInfo& info) {
  ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, tensors.Read(info));
  if (bytes.size() != static_cast<size_t>(info.shape[0]) * sizeof(float)) {
    return absl::DataLossError(absl::StrCat("tensor '", info.name, "' read ", bytes.size(),
                                            " bytes, expected ", info.shape[0] * 4));
  }
  std::vector<float> gains(static_cast<size_t>(info.shape[0]));
  std::memcpy(gains.data(), bytes.data(), bytes.size());  // little-endian host
  return gains;
}

}  // namespace

absl::StatusOr<KvCache> KvCache::Create(const Model& model, int64_t context) {
  if (context < 1 || context > model.max_context()) {
    return absl::InvalidArgumentError(absl::StrCat("context length ", context, " is outside [1, ",
                                                   model.max_context(), "] for this model"));
  }
  KvCache cache;
  cache.context_ = context;
  cache.n_layers_ = model.config().n_layers;
  cache.row_bytes_ = llm::KvRowBytes(model.attention_shape());
  cache.size_ = context * model.KvBytesPerPosition();
  // Default-initialized: pages become resident only when positions are written.
  cache.bytes_ = std::make_unique_for_overwrite<uint8_t[]>(static_cast<size_t>(cache.size_));
  return cache;
}

llm::AttentionShape Model::attention_shape() const {
  return {config_.n_heads, config_.n_kv_heads, config_.head_dim};
}

int64_t Model::KvBytesPerPosition() const {
  return 2 * int64_t{config_.n_layers} * llm::KvRowBytes(attention_shape());
}

absl::StatusOr<std::unique_ptr<Model>> Model::Create(const ModelConfig& config,
                                                     const TensorProvider& tensors,
                                                     ops::Backend& backend,
                                                     const ModelOptions& options) {
  RETURN_IF_ERROR(ValidateModelConfig(config));
  const int64_t max_context =
      options.max_context == 0 ? config.context_length : options.max_context;
  if (max_context < 1 || max_context > config.context_length) {
    return absl::InvalidArgumentError(absl::StrCat("max_context ", max_context, " is outside [1, ",
                                                   config.context_length,
                                                   "] (the model's context_length)"));
  }
  RETURN_IF_ERROR(
      llm::ValidateAttentionShape({config.n_heads, config.n_kv_heads, config.head_dim}));
  const std::vector<TensorSpec> specs = LlamaTensorSpecs(config);
  RETURN_IF_ERROR(CheckTensors(specs, tensors));

  std::unique_ptr<Model> model(new Model());
  model->config_ = config;
  model->backend_ = &backend;
  ModelMemory& mem = model->memory_;

  const TensorInfo& embd = *tensors.Find("token_embd.weight");
  EmbeddingFormat(embd.dtype, &model->embedding_format_);
  ASSIGN_OR_RETURN(model->embedding_row_bytes_,
                   llm::RowBytes(model->embedding_format_, config.d_model));
  ASSIGN_OR_RETURN(model->embedding_, tensors.Read(embd));
  if (static_cast<int64_t>(model->embedding_.size()) !=
      model->embedding_row_bytes_ * config.vocab_size) {
    return absl::DataLossError(absl::StrCat("tensor 'token_embd.weight' read ",
                                            model->embedding_.size(), " bytes, expected ",
                                            model->embedding_row_bytes_ * config.vocab_size));
  }
  mem.embedding_rows = static_cast<int64_t>(model->embedding_.size());

  auto linear = [&](const std::string& name, Linear* out) -> absl::Status {
    ASSIGN_OR_RETURN(*out, LoadLinear(tensors, *tensors.Find(name), backend));
    mem.prepared_weights += out->weights->SizeBytes();
    return absl::OkStatus();
  };
  auto norm = [&](const std::string& name, std::vector<float>* out) -> absl::Status {
    ASSIGN_OR_RETURN(*out, LoadNorm(tensors, *tensors.Find(name)));
    mem.norms += static_cast<int64_t>(out->size() * sizeof(float));
    return absl::OkStatus();
  };

  model->layers_.resize(static_cast<size_t>(config.n_layers));
  for (int l = 0; l < config.n_layers; ++l) {
    Layer& layer = model->layers_[static_cast<size_t>(l)];
    const std::string p = absl::StrCat("blk.", l, ".");
    RETURN_IF_ERROR(norm(p + "attn_norm.weight", &layer.attn_norm));
    RETURN_IF_ERROR(linear(p + "attn_q.weight", &layer.q));
    RETURN_IF_ERROR(linear(p + "attn_k.weight", &layer.k));
    RETURN_IF_ERROR(linear(p + "attn_v.weight", &layer.v));
    RETURN_IF_ERROR(linear(p + "attn_output.weight", &layer.o));
    RETURN_IF_ERROR(norm(p + "ffn_norm.weight", &layer.ffn_norm));
    RETURN_IF_ERROR(linear(p + "ffn_gate.weight", &layer.gate));
    RETURN_IF_ERROR(linear(p + "ffn_up.weight", &layer.up));
    RETURN_IF_ERROR(linear(p + "ffn_down.weight", &layer.down));
  }
  RETURN_IF_ERROR(norm("output_norm.weight", &model->output_norm_));
  if (tensors.Find("output.weight") != nullptr) {
    RETURN_IF_ERROR(linear("output.weight", &model->output_));
  } else {
    // Tied embeddings (SmolLM2): the output projection is token_embd.weight, which
    // then must be a format the matmuls accept.
    ops::OpKind kind;
    if (!LinearKind(embd.dtype, &kind)) {
      return absl::UnimplementedError(absl::StrCat(
          "the model has no 'output.weight', and its 'token_embd.weight' is ",
          TensorDtypeName(embd.dtype), ": the tied output projection needs ",
          RoleFormats(TensorRole::kLinear)));
    }
    model->tied_embeddings_ = true;
    ASSIGN_OR_RETURN(model->output_, PrepareLinear(embd, model->embedding_, backend));
    mem.prepared_weights += model->output_.weights->SizeBytes();
    // One copy of the tied tensor: when the prepared output weights give its rows back
    // byte for byte (checked here, every row), the lookup reads them from there.
    ASSIGN_OR_RETURN(const bool read_back,
                     RowsReadBack(*model->output_.weights, model->embedding_,
                                  model->embedding_row_bytes_));
    if (read_back) {
      std::vector<uint8_t>().swap(model->embedding_);
      mem.embedding_rows = 0;
    }
  }

  ASSIGN_OR_RETURN(llm::RopeTable rope,
                   llm::RopeTable::Create(config.rope_freq_base, config.rope_dim, max_context));
  model->rope_ = std::make_unique<llm::RopeTable>(std::move(rope));
  mem.rope_table = model->rope_->SizeBytes();
  return model;
}

}  // namespace datanode::node::inference
