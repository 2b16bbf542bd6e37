// Copyright 2026 The datanode Authors.
//
// Model::Forward: the forward pass of spec version 2. Matmuls and activation
// quantization go through the backend with M = number of rows; every other op is the
// spec's per-row function (ops/include/datanode/ops/llm.h) as the backend's kernels
// implement it (Backend::LlmKernels), run over the pass's rows by Kernels::ForEachRow (on
// the backend's workers where it has them), so a row's bytes never depend on which rows
// share its pass or which thread computed it.
#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/llm_kernels.h"
#include "datanode/ops/status_macros.h"
#include "node/inference/forward_hooks.h"
#include "node/inference/model.h"

namespace datanode::node::inference {
namespace {

namespace llm = ops::llm;

ops::ByteSpan Bytes(std::span<const float> f) {
  return {reinterpret_cast<const uint8_t*>(f.data()), f.size() * sizeof(float)};
}
ops::MutableByteSpan MutableBytes(std::span<float> f) {
  return {reinterpret_cast<uint8_t*>(f.data()), f.size() * sizeof(float)};
}

// layer -1: the embedding lookup or the output head (the step says which).
std::string Where(int layer, const char* step) {
  if (layer < 0) return step;
  return absl::StrCat("layer ", layer, ", ", step);
}

// Failures of the spec's ops on values the model itself produced (non-finite, or too
// large for Q8_0) are numeric failures of this model on this input: OUT_OF_RANGE, with
// where it happened. Other codes (device errors) pass through with the place added.
absl::Status Annotate(absl::Status status, int layer, const char* step) {
  if (status.ok()) return status;
  const absl::StatusCode code = status.code() == absl::StatusCode::kInvalidArgument
                                    ? absl::StatusCode::kOutOfRange
                                    : status.code();
  return absl::Status(code,
                      absl::StrCat("forward pass, ", Where(layer, step), ": ", status.message()));
}

// Rows of a [m, width] f32 matrix.
class Rows {
 public:
  Rows(int64_t m, int64_t width) : width_(width), data_(static_cast<size_t>(m * width)) {}
  std::span<float> operator[](int64_t r) {
    return {data_.data() + r * width_, static_cast<size_t>(width_)};
  }
  std::span<float> First(int64_t m) { return {data_.data(), static_cast<size_t>(m * width_)}; }
  // Rows [begin, end).
  std::span<float> Range(int64_t begin, int64_t end) {
    return {data_.data() + begin * width_, static_cast<size_t>((end - begin) * width_)};
  }
  void Swap(Rows& other) {
    std::swap(data_, other.data_);
    std::swap(width_, other.width_);
  }

 private:
  int64_t width_;
  std::vector<float> data_;
};

// Q8_0-quantizes the first m rows of x (width k) into *out.
absl::Status Quantize(ops::Backend& backend, int64_t m, int64_t k, Rows& x,
                      std::vector<uint8_t>* out, int layer, const char* step) {
  out->resize(static_cast<size_t>(m * (k / ops::kQBlockSize) * ops::kQ8_0BlockBytes));
  ops::OpArgs args;
  args.kind = ops::OpKind::kQuantizeQ8_0;
  args.m = m;
  args.k = k;
  args.a = Bytes(x.First(m));
  args.out = *out;
  return Annotate(ops::RunOp(backend, args), layer, step);
}

// out[m, w.n] = a_q8[m, w.k] x W^T, on the backend or (verified delegation) from the hooks.
absl::Status MatMul(ops::Backend& backend, const Linear& w, int64_t m,
                    const std::vector<uint8_t>& a_q8, Rows& out, int layer, ForwardHooks* hooks,
                    MatMulSite site) {
  absl::Status s = hooks != nullptr ? hooks->MatMul(layer, site, w, m, a_q8, out.First(m))
                                    : RunLinear(backend, w, m, a_q8, out.First(m));
  if (s.ok()) return s;
  return absl::Status(s.code(), absl::StrCat("forward pass, ", Where(layer, "matmul"), " ", w.name,
                                             ": ", s.message()));
}

}  // namespace

const char* MatMulSiteName(MatMulSite site) {
  switch (site) {
    case MatMulSite::kQ:
      return "attn_q";
    case MatMulSite::kK:
      return "attn_k";
    case MatMulSite::kV:
      return "attn_v";
    case MatMulSite::kO:
      return "attn_output";
    case MatMulSite::kGate:
      return "ffn_gate";
    case MatMulSite::kUp:
      return "ffn_up";
    case MatMulSite::kDown:
      return "ffn_down";
    case MatMulSite::kOutput:
      return "output";
  }
  return "unknown";
}

absl::Status RunLinear(ops::Backend& backend, const Linear& w, int64_t m, ops::ByteSpan a_q8,
                       std::span<float> out, ops::MutableByteSpan exact) {
  ops::OpArgs args;
  args.kind = w.kind;
  args.m = m;
  args.n = w.n;
  args.k = w.k;
  args.a = a_q8;
  args.w_prepared = w.weights.get();
  args.out = MutableBytes(out);
  args.exact = exact;
  return ops::RunOp(backend, args);
}

std::vector<const Linear*> Model::linears() const {
  std::vector<const Linear*> out;
  for (const Layer& layer : layers_) {
    for (const Linear* w :
         {&layer.q, &layer.k, &layer.v, &layer.o, &layer.gate, &layer.up, &layer.down}) {
      out.push_back(w);
    }
  }
  out.push_back(&output_);
  return out;
}

absl::Status Model::Forward(std::span<const ForwardRow> rows, std::span<float> logits,
                            ForwardHooks* hooks) const {
  const int64_t m = static_cast<int64_t>(rows.size());
  const ModelConfig& c = config_;
  if (m == 0) return absl::InvalidArgumentError("forward pass with no rows");
  int64_t n_logits = 0;
  // Rows of one cache must be consecutive positions in order, so no row attends to a
  // position nobody wrote (which would read stale bytes, not crash, but break the spec).
  std::vector<std::pair<const KvCache*, int64_t>> last_pos;
  for (int64_t r = 0; r < m; ++r) {
    const ForwardRow& row = rows[static_cast<size_t>(r)];
    if (row.token < 0 || row.token >= c.vocab_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("row ", r, ": token id ", row.token, " is outside [0, ", c.vocab_size, ")"));
    }
    if (row.cache == nullptr || row.pos < 0 || row.pos >= row.cache->context()) {
      return absl::InvalidArgumentError(
          absl::StrCat("row ", r, ": position ", row.pos, " is outside its KV cache (",
                       row.cache == nullptr ? 0 : row.cache->context(), " positions)"));
    }
    for (auto& [cache, pos] : last_pos) {
      if (cache == row.cache) {
        if (row.pos != pos + 1) {
          return absl::InvalidArgumentError(absl::StrCat("row ", r, ": position ", row.pos,
                                                         " does not follow position ", pos,
                                                         " of the same KV cache"));
        }
        pos = row.pos;
      }
    }
    if (std::none_of(last_pos.begin(), last_pos.end(),
                     [&](const auto& e) { return e.first == row.cache; })) {
      last_pos.emplace_back(row.cache, row.pos);
    }
    if (row.want_logits) ++n_logits;
  }
  if (static_cast<int64_t>(logits.size()) != n_logits * c.vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat("logits buffer holds ", logits.size(),
                                                   " values, expected ", n_logits, " x ",
                                                   c.vocab_size));
  }

  // Runs [begin, end) of consecutive rows of one cache (consecutive positions, checked above).
  std::vector<std::pair<int64_t, int64_t>> runs;
  for (int64_t r = 0; r < m; ++r) {
    if (r > 0 && rows[r].cache == rows[r - 1].cache) {
      runs.back().second = r + 1;
    } else {
      runs.emplace_back(r, r + 1);
    }
  }

  ops::Backend& backend = *backend_;
  // The backend's own kernels for the per-row ops (byte-equal to llm.h's reference).
  const llm::Kernels& kernels = backend.LlmKernels();
  const llm::AttentionShape shape = attention_shape();
  const int64_t d = c.d_model;
  const int64_t q_dim = int64_t{c.n_heads} * c.head_dim;
  const int64_t kv_dim = int64_t{c.n_kv_heads} * c.head_dim;
  const int64_t kv_row = llm::KvRowBytes(shape);
  Rows x(m, d), h(m, d), o(m, d), q(m, q_dim), k(m, kv_dim), v(m, kv_dim), att(m, q_dim),
      gate(m, c.ffn_dim), up(m, c.ffn_dim), act(m, c.ffn_dim);
  std::vector<uint8_t> aq;

  // A tied embedding with no host copy reads its rows from the output weights.
  std::vector<uint8_t> embedding_row(embedding_.empty() ? embedding_row_bytes_ : 0);
  for (int64_t r = 0; r < m; ++r) {
    ops::ByteSpan row_bytes;
    if (embedding_.empty()) {
      RETURN_IF_ERROR(
          Annotate(output_.weights->ReadRow(rows[r].token, embedding_row), -1, "embedding lookup"));
      row_bytes = embedding_row;
    } else {
      const size_t offset = static_cast<size_t>(rows[r].token * embedding_row_bytes_);
      row_bytes =
          ops::ByteSpan(embedding_).subspan(offset, static_cast<size_t>(embedding_row_bytes_));
    }
    RETURN_IF_ERROR(Annotate(kernels.DequantizeRow(embedding_format_, row_bytes, x[r]), -1,
                             "embedding lookup"));
  }
  if (hooks != nullptr) RETURN_IF_ERROR(hooks->Residual(-1, m, x.First(m)));

  for (int l = 0; l < c.n_layers; ++l) {
    const Layer& layer = layers_[static_cast<size_t>(l)];
    // Attention block.
    RETURN_IF_ERROR(kernels.ForEachRow(m, d, [&](int64_t r) {
      return Annotate(kernels.RmsNorm(x[r], layer.attn_norm, c.rms_eps, h[r]), l,
                      "attention RMSNorm");
    }));
    RETURN_IF_ERROR(Quantize(backend, m, d, h, &aq, l, "attention input quantization"));
    RETURN_IF_ERROR(MatMul(backend, layer.q, m, aq, q, l, hooks, MatMulSite::kQ));
    RETURN_IF_ERROR(MatMul(backend, layer.k, m, aq, k, l, hooks, MatMulSite::kK));
    RETURN_IF_ERROR(MatMul(backend, layer.v, m, aq, v, l, hooks, MatMulSite::kV));
    RETURN_IF_ERROR(kernels.ForEachRow(m, q_dim + 2 * kv_dim, [&](int64_t r) -> absl::Status {
      const ForwardRow& row = rows[r];
      RETURN_IF_ERROR(
          Annotate(kernels.RopeApply(*rope_, row.pos, c.n_heads, c.head_dim, q[r]), l, "RoPE(Q)"));
      RETURN_IF_ERROR(Annotate(kernels.RopeApply(*rope_, row.pos, c.n_kv_heads, c.head_dim, k[r]),
                               l, "RoPE(K)"));
      const size_t at = static_cast<size_t>(row.pos * kv_row);
      RETURN_IF_ERROR(
          Annotate(kernels.EncodeKvRow(shape, k[r],
                                       row.cache->K(l).subspan(at, static_cast<size_t>(kv_row))),
                   l, "K cache encoding"));
      return Annotate(kernels.EncodeKvRow(shape, v[r],
                                          row.cache->V(l).subspan(at, static_cast<size_t>(kv_row))),
                      l, "V cache encoding");
    }));
    // Every row's K/V is in its cache before any row attends: a prompt's row i sees
    // rows [0, i] of its own pass, exactly as token-by-token decoding would. Runs of rows
    // of one cache (a prompt) go to AttendRows together, which can share the K/V reads;
    // single rows (decode steps of a batch) are spread over the rows. A row's attention
    // reads its positions once per head: its work is about q_dim x positions.
    if (runs.size() == static_cast<size_t>(m)) {
      RETURN_IF_ERROR(kernels.ForEachRow(m, q_dim * (rows[m - 1].pos + 1), [&](int64_t r) {
        const ForwardRow& row = rows[r];
        const KvCache& cache = *row.cache;
        return Annotate(kernels.Attend(shape, q[r], cache.K(l), cache.V(l), row.pos + 1, att[r]), l,
                        "attention");
      }));
    } else {
      for (const auto& [begin, end] : runs) {
        const ForwardRow& row = rows[begin];
        const KvCache& cache = *row.cache;
        RETURN_IF_ERROR(
            Annotate(kernels.AttendRows(shape, q.Range(begin, end), cache.K(l), cache.V(l), row.pos,
                                        end - begin, att.Range(begin, end)),
                     l, "attention"));
      }
    }
    RETURN_IF_ERROR(Quantize(backend, m, q_dim, att, &aq, l, "attention output quantization"));
    RETURN_IF_ERROR(MatMul(backend, layer.o, m, aq, o, l, hooks, MatMulSite::kO));
    RETURN_IF_ERROR(kernels.ForEachRow(m, d, [&](int64_t r) {
      return Annotate(kernels.Add(x[r], o[r], h[r]), l, "attention residual add");
    }));
    x.Swap(h);

    // Feed-forward block.
    RETURN_IF_ERROR(kernels.ForEachRow(m, d, [&](int64_t r) {
      return Annotate(kernels.RmsNorm(x[r], layer.ffn_norm, c.rms_eps, h[r]), l, "FFN RMSNorm");
    }));
    RETURN_IF_ERROR(Quantize(backend, m, d, h, &aq, l, "FFN input quantization"));
    RETURN_IF_ERROR(MatMul(backend, layer.gate, m, aq, gate, l, hooks, MatMulSite::kGate));
    RETURN_IF_ERROR(MatMul(backend, layer.up, m, aq, up, l, hooks, MatMulSite::kUp));
    RETURN_IF_ERROR(kernels.ForEachRow(m, c.ffn_dim, [&](int64_t r) {
      return Annotate(kernels.SiluMul(gate[r], up[r], act[r]), l, "SiLU(gate) * up");
    }));
    RETURN_IF_ERROR(Quantize(backend, m, c.ffn_dim, act, &aq, l, "FFN down quantization"));
    RETURN_IF_ERROR(MatMul(backend, layer.down, m, aq, o, l, hooks, MatMulSite::kDown));
    RETURN_IF_ERROR(kernels.ForEachRow(m, d, [&](int64_t r) {
      return Annotate(kernels.Add(x[r], o[r], h[r]), l, "FFN residual add");
    }));
    x.Swap(h);
    if (hooks != nullptr) RETURN_IF_ERROR(hooks->Residual(l, m, x.First(m)));
  }

  if (n_logits == 0) return absl::OkStatus();
  // Output head only for the rows that want logits (a prompt needs its last row's):
  // their normed rows are packed into h, so the vocab-sized matmul runs with M = n_logits.
  int64_t packed = 0;
  for (int64_t r = 0; r < m; ++r) {
    if (!rows[r].want_logits) continue;
    RETURN_IF_ERROR(Annotate(kernels.RmsNorm(x[r], output_norm_, c.rms_eps, h[packed]), -1,
                             "output head RMSNorm"));
    ++packed;
  }
  RETURN_IF_ERROR(Quantize(backend, n_logits, d, h, &aq, -1, "output head quantization"));
  absl::Status s = hooks != nullptr
                       ? hooks->MatMul(-1, MatMulSite::kOutput, output_, n_logits, aq, logits)
                       : RunLinear(backend, output_, n_logits, aq, logits);
  if (!s.ok()) {
    return absl::Status(
        s.code(), absl::StrCat("forward pass, output matmul ", output_.name, ": ", s.message()));
  }
  return absl::OkStatus();
}

}  // namespace datanode::node::inference
