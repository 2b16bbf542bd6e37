// Copyright 2026 The datanode Authors.
//
// The transformer ops of spec version 2 (docs/determinism.md, "LLM ops"): everything a
// llama-architecture forward pass needs besides the matmuls and the Q8_0 activation
// quantization that spec version 1 already defines.
//
// Contract shared by every function here:
// - Activations are binary32 values held in `float` storage. Implementations never use
//   float arithmetic on them: each result is defined by exact integer arithmetic on the
//   decoded inputs (DecodeF32Bits) plus at most one specified rounding per output
//   element (RoundToF32Bits), or by integer fixed-point steps the spec lists. So any
//   backend, thread count or batch composition gives the same bits.
// - Every function works on one token's row (or one head), so a batch of rows, or a
//   prompt split into chunks, gives the same bytes as rows computed one at a time.
// - Non-finite inputs (inf, NaN) are rejected with INVALID_ARGUMENT naming the op and
//   the element; mismatched span sizes are INVALID_ARGUMENT. Nothing aborts on input.
// - All functions are pure and thread-safe; RopeTable is immutable after Create.
#ifndef DATANODE_OPS_LLM_H_
#define DATANODE_OPS_LLM_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "datanode/ops/types.h"

namespace datanode::ops::llm {

// Row formats an embedding table (or any weight row) may have. Values are stable.
enum class RowFormat : uint8_t {
  kF32 = 1,
  kF16 = 2,
  kQ8_0 = 3,
  kQ4_0 = 4,
  kQ4_1 = 5,
  kQ4_K = 6,  // 256-value super-blocks (kquant.h)
  kQ6_K = 7,
};
inline constexpr RowFormat kAllRowFormats[] = {
    RowFormat::kF32,  RowFormat::kF16,  RowFormat::kQ8_0, RowFormat::kQ4_0,
    RowFormat::kQ4_1, RowFormat::kQ4_K, RowFormat::kQ6_K};

// The GGUF type name of `format` ("F32", "Q4_K", ...); nullptr for a value outside the
// enum.
const char* RowFormatName(RowFormat format);

// Bytes of one row of `d` values; INVALID_ARGUMENT if d <= 0 or, for block formats,
// not a multiple of the block (32 values; 256 for Q4_K and Q6_K).
absl::StatusOr<int64_t> RowBytes(RowFormat format, int64_t d);

// Embedding lookup: dequantizes one row (exact value, one rounding to f32).
// out.size() is the row length d.
absl::Status DequantizeRow(RowFormat format, ByteSpan row, std::span<float> out);

// RMSNorm of one row: out_i = x_i * gain_i / sqrt(mean_j(x_j^2) + eps), as the spec
// defines it in fixed point. x, gain, out have the same size, in [1, 2^15]; eps > 0 and
// finite.
absl::Status RmsNorm(std::span<const float> x, std::span<const float> gain, float eps,
                     std::span<float> out);

// Residual add: out_i = round_f32(x_i + y_i) (the exact sum, rounded once).
absl::Status Add(std::span<const float> x, std::span<const float> y, std::span<float> out);

// SwiGLU: out_i = silu(gate_i) * up_i, silu(g) = g / (1 + exp(-g)), in fixed point.
absl::Status SiluMul(std::span<const float> gate, std::span<const float> up,
                     std::span<float> out);

// Rotary position embedding, llama.cpp's "normal" layout for the llama architecture:
// within each head, the pairs (x[2i], x[2i+1]) for 2i < rope_dim rotate by angle
// pos * freq_base^(-2i / rope_dim). The cos/sin values are fixed-point integers derived
// exactly (integer arithmetic only) when the table is created.
class RopeTable {
 public:
  // INVALID_ARGUMENT unless freq_base > 1 is finite, rope_dim is even and in [2, 1024],
  // and max_positions is in [1, 2^20].
  static absl::StatusOr<RopeTable> Create(float freq_base, int rope_dim, int64_t max_positions);

  int rope_dim() const { return rope_dim_; }
  int64_t max_positions() const { return max_positions_; }
  // Bytes held (for memory accounting).
  int64_t SizeBytes() const;

  // The table row of position pos in [0, max_positions): rope_dim / 2 values each, the
  // spec's C and S of pair i in Q1.30 (§8.9 step 5). For backends that upload the table
  // or apply it themselves; the bytes are the same for every backend.
  const int32_t* CosQ30(int64_t pos) const { return &cos_[static_cast<size_t>(pos) * (rope_dim_ / 2)]; }
  const int32_t* SinQ30(int64_t pos) const { return &sin_[static_cast<size_t>(pos) * (rope_dim_ / 2)]; }

  // Rotates every head of one token's row x[n_heads * head_dim] in place.
  // INVALID_ARGUMENT if pos is outside [0, max_positions), head_dim < rope_dim, or
  // x.size() != n_heads * head_dim.
  absl::Status Apply(int64_t pos, int n_heads, int head_dim, std::span<float> x) const;

 private:
  RopeTable() = default;
  int rope_dim_ = 0;
  int64_t max_positions_ = 0;
  // Spec-defined fixed-point cos / sin per (position, pair); layout is private.
  std::vector<int32_t> cos_;
  std::vector<int32_t> sin_;
};

// --- Attention with a KV cache -----------------------------------------------------
//
// The cache holds, per position, one encoded K row and one V row of
// n_kv_heads * head_dim values each, in the spec's KV format (KvRowBytes bytes).
struct AttentionShape {
  int n_heads = 0;     // query heads
  int n_kv_heads = 0;  // key/value heads; n_heads % n_kv_heads == 0 (grouped-query)
  int head_dim = 0;    // multiple of 32
};

// INVALID_ARGUMENT for an inconsistent shape.
absl::Status ValidateAttentionShape(const AttentionShape& shape);

// Bytes of one encoded K (or V) row: n_kv_heads * head_dim values.
int64_t KvRowBytes(const AttentionShape& shape);

// Encodes one position's K or V row (f32[n_kv_heads * head_dim], K after RoPE) into
// out (KvRowBytes bytes): little-endian binary16, round to nearest even, saturating at
// +-65504 (spec §8.10).
absl::Status EncodeKvRow(const AttentionShape& shape, std::span<const float> row,
                         std::span<uint8_t> out);

// Causal attention for one query row q[n_heads * head_dim] at position n_positions - 1
// (n_positions in [1, 2^20]; head_dim a multiple of 32 in [32, 512]):
// each head h attends to positions [0, n_positions) of its KV head h / (n_heads /
// n_kv_heads), scores q.k / sqrt(head_dim), softmax, weighted sum of V, all as the spec
// defines in fixed point. k_cache / v_cache hold at least n_positions encoded rows.
// out: f32[n_heads * head_dim].
absl::Status Attend(const AttentionShape& shape, std::span<const float> q, ByteSpan k_cache,
                    ByteSpan v_cache, int64_t n_positions, std::span<float> out);

// --- Sampling ---------------------------------------------------------------------

// The spec's PRNG: SHA-256 in counter mode. Block i (i = 0, 1, ...) is
// SHA-256(seed || u64_le(i)); Next() returns its bytes as little-endian u64 values,
// four per block, in order. Seeded by the caller (on the IC: the random beacon).
class SpecRng {
 public:
  explicit SpecRng(ByteSpan seed);
  uint64_t Next();
  // Positions the stream so that the next Next() returns word `word` (0-based) of the
  // stream: what a fresh SpecRng returns on its (word + 1)-th call. Lets a step of a
  // verified generation draw its token's word without replaying the steps before it.
  void Seek(uint64_t word);

 private:
  std::vector<uint8_t> seed_;
  uint64_t block_ = 0;
  uint64_t words_[4] = {};
  int next_word_ = 4;
};

struct SamplingParams {
  // 0 = greedy (argmax, lowest token id on ties); otherwise in (0, 100], finite.
  float temperature = 0.0f;
  int32_t top_k = 0;   // 0 = no limit
  float top_p = 1.0f;  // in (0, 1]
};

// INVALID_ARGUMENT for out-of-range parameters.
absl::Status ValidateSamplingParams(const SamplingParams& params);

// Picks one token id from logits f32[vocab] (vocab in [1, 2^22]) as the spec defines
// (exact arithmetic; draws exactly one rng.Next() when temperature > 0, none otherwise).
absl::StatusOr<int32_t> SampleToken(std::span<const float> logits, const SamplingParams& params,
                                    SpecRng& rng);

}  // namespace datanode::ops::llm

#endif  // DATANODE_OPS_LLM_H_
