// Copyright 2026 The datanode Authors.
#include "conformance/llm_challenges.h"

#include <cstring>
#include <iterator>
#include <span>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "conformance/nonce.h"
#include "datanode/ops/digest.h"
#include "datanode/ops/elementwise.h"
#include "datanode/ops/status_macros.h"

namespace datanode::conformance {
namespace {

using ops::llm::RowFormat;

// Matmul ops whose weight operand is one row of `format` (the GGUF block layouts).
ops::OpKind WeightOpOf(RowFormat format) {
  switch (format) {
    case RowFormat::kQ8_0:
      return ops::OpKind::kMatMulQ8_0Q8_0;
    case RowFormat::kQ4_0:
      return ops::OpKind::kMatMulQ8_0Q4_0;
    case RowFormat::kQ4_1:
      return ops::OpKind::kMatMulQ8_0Q4_1;
    case RowFormat::kQ4_K:
      return ops::OpKind::kMatMulQ8_0Q4_K;
    default:
      return ops::OpKind::kMatMulQ8_0Q6_K;
  }
}

// A finite binary32 value drawn for `profile`: wide spans 2^-20..2^20 with random
// mantissas; realistic is uniform in [-4, 4); edge mixes values near FLT_MAX,
// subnormals and small normals, each cut to 4 significant bits (exact halves and
// overflowing sums and squares are then common).
float DrawF32(ops::SplitMix64& rng, ChallengeProfile profile) {
  uint32_t bits = 0;
  const uint32_t sign = static_cast<uint32_t>(rng.Next() & 1) << 31;
  switch (profile) {
    case ChallengeProfile::kWide:
      bits = sign | static_cast<uint32_t>(rng.Uniform(127 - 20, 127 + 20)) << 23 |
             static_cast<uint32_t>(rng.Next() & 0x7FFFFF);
      break;
    case ChallengeProfile::kRealistic: {
      const float v = static_cast<float>(rng.Uniform(-(1 << 20), (1 << 20) - 1)) / (1 << 18);
      return v;
    }
    case ChallengeProfile::kEdge: {
      const uint32_t mantissa = static_cast<uint32_t>(rng.Next() & 0x780000);  // 4 bits
      switch (rng.Uniform(0, 2)) {
        case 0:
          bits = sign | static_cast<uint32_t>(rng.Uniform(250, 254)) << 23 | mantissa;
          break;
        case 1:
          bits = sign | (mantissa | 0x40000);  // subnormal, never zero
          break;
        default:
          bits = sign | static_cast<uint32_t>(rng.Uniform(120, 134)) << 23 | mantissa;
          break;
      }
      break;
    }
  }
  float v;
  std::memcpy(&v, &bits, 4);
  return v;
}

std::vector<float> DrawRow(ops::SplitMix64& rng, ChallengeProfile profile, size_t n) {
  std::vector<float> v(n);
  for (float& x : v) x = DrawF32(rng, profile);
  return v;
}

// "ok:" + bytes, or "status:" + code name: what a kernel call produced.
std::string Outcome(const absl::Status& st, std::span<const uint8_t> bytes) {
  if (!st.ok()) return absl::StrCat("status:", absl::StatusCodeToString(st.code()));
  return absl::StrCat("ok:",
                      std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}
std::string Outcome(const absl::Status& st, std::span<const float> v) {
  return Outcome(st, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(v.data()),
                                              v.size() * sizeof(float)));
}

// Poisons a float output with seed-derived bytes (never read as values).
void PoisonFloats(std::span<float> out, uint64_t seed) {
  Poison(ops::MutableByteSpan(reinterpret_cast<uint8_t*>(out.data()), out.size() * 4), seed);
}

// The attention shape of a case: n_kv_heads in 1..4, a group of 1..4 query heads each,
// head_dim 32, 64 or 128 (from m = n_heads, k = head_dim and the seed's group).
ops::llm::AttentionShape ShapeOf(const LlmChallenge& c, int n_kv_heads) {
  return {static_cast<int>(c.m), n_kv_heads, static_cast<int>(c.k)};
}

// KV cache rows [0, rows) of `shape`, encoded by the reference from drawn values.
absl::StatusOr<std::vector<uint8_t>> DrawCache(ops::SplitMix64& rng, ChallengeProfile profile,
                                               const ops::llm::AttentionShape& shape,
                                               int64_t rows) {
  const int64_t row_bytes = ops::llm::KvRowBytes(shape);
  std::vector<uint8_t> cache(static_cast<size_t>(row_bytes * rows));
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<float> v =
        DrawRow(rng, profile, static_cast<size_t>(shape.n_kv_heads) * shape.head_dim);
    RETURN_IF_ERROR(ops::llm::EncodeKvRow(
        shape, v,
        std::span<uint8_t>(cache).subspan(static_cast<size_t>(r * row_bytes), row_bytes)));
  }
  return cache;
}

constexpr int64_t kRopePositions = 256;

}  // namespace

const std::vector<std::string>& LlmChallengeOps() {
  static const auto* ops = [] {
    auto* v = new std::vector<std::string>;
    for (RowFormat f : ops::llm::kAllRowFormats) {
      v->push_back(
          absl::StrCat("llm_dequantize_row_", absl::AsciiStrToLower(ops::llm::RowFormatName(f))));
    }
    v->push_back("llm_rms_norm");
    for (const ops::llm::ElementwiseOpInfo& op : ops::llm::kElementwiseOps) {
      v->push_back(absl::StrCat("llm_", op.snake));
    }
    for (const char* op : {"llm_rope", "llm_encode_kv_row", "llm_attend", "llm_attend_rows"}) {
      v->push_back(op);
    }
    return v;
  }();
  return *ops;
}

std::vector<LlmChallenge> LlmChallengeCases(uint32_t count, const std::vector<uint8_t>& nonce) {
  std::vector<LlmChallenge> out;
  constexpr size_t kProfiles = std::size(kAllChallengeProfiles);
  const size_t first_profile = DeriveSeed(nonce, "llm/profiles") % kProfiles;
  const auto& names = LlmChallengeOps();
  for (size_t op_index = 0; op_index < names.size(); ++op_index) {
    const std::string& op = names[op_index];
    ops::SplitMix64 shape(DeriveSeed(nonce, absl::StrCat("shape/", op)));
    const bool attention = op.starts_with("llm_attend") || op == "llm_encode_kv_row";
    int64_t m = 1, n = 0, k = 256 * shape.Uniform(1, 8);  // a row of d values
    if (op == "llm_rope") {
      k = 32 * shape.Uniform(1, 4);  // head_dim, rotated whole
      m = shape.Uniform(1, 8);
      n = shape.Uniform(0, kRopePositions - 1);
    } else if (attention) {
      const int64_t kv = shape.Uniform(1, 4);
      m = kv * shape.Uniform(1, 4);  // n_heads; n_kv_heads is m / group, in the seed
      k = 32 << shape.Uniform(0, 2);
      n = op == "llm_encode_kv_row" ? kv : shape.Uniform(1, 48);
    }
    for (uint32_t i = 0; i < count; ++i) {
      LlmChallenge c;
      c.label = absl::StrCat("challenge/", op, "/", i);
      c.op = op;
      c.m = m;
      c.n = n;
      c.k = k;
      c.seed = DeriveSeed(nonce, c.label);
      c.profile = kAllChallengeProfiles[(first_profile + op_index + i) % kProfiles];
      out.push_back(std::move(c));
    }
  }
  return out;
}

absl::StatusOr<std::string> RunLlmChallenge(const ops::llm::Kernels& kernels,
                                            const LlmChallenge& c) {
  ops::SplitMix64 rng(c.seed);
  const uint64_t poison = c.seed ^ 0x9E3779B97F4A7C15ull;
  const size_t d = static_cast<size_t>(c.k);
  if (c.op.starts_with("llm_dequantize_row_")) {
    for (RowFormat f : ops::llm::kAllRowFormats) {
      if (c.op !=
          absl::StrCat("llm_dequantize_row_", absl::AsciiStrToLower(ops::llm::RowFormatName(f)))) {
        continue;
      }
      std::vector<uint8_t> row;
      if (f == RowFormat::kF32) {
        std::vector<float> v = DrawRow(rng, c.profile, d);
        row.resize(d * 4);
        std::memcpy(row.data(), v.data(), row.size());
      } else if (f == RowFormat::kF16) {
        row.resize(d * 2);
        for (size_t i = 0; i < d; ++i) {
          uint16_t h = static_cast<uint16_t>(rng.Next());
          if ((h & 0x7C00) == 0x7C00) h &= 0xBFFF;  // finite: exponent below 31
          std::memcpy(&row[2 * i], &h, 2);
        }
      } else {
        ASSIGN_OR_RETURN(ops::OpInputs in,
                         MakeChallengeInputs(WeightOpOf(f), 1, 1, c.k, c.seed, c.profile));
        row = std::move(in.w);
      }
      std::vector<float> out(d);
      PoisonFloats(out, poison);
      return Outcome(kernels.DequantizeRow(f, row, out), std::span<const float>(out));
    }
    return absl::InternalError(absl::StrCat("unknown LLM challenge op ", c.op));
  }
  if (c.op == "llm_rms_norm") {
    std::vector<float> x = DrawRow(rng, c.profile, d), y = DrawRow(rng, c.profile, d), out(d);
    PoisonFloats(out, poison);
    return Outcome(kernels.RmsNorm(x, y, 1e-5f, out), std::span<const float>(out));
  }
  for (int i = 0; i < ops::llm::kNumElementwiseOps; ++i) {
    const ops::llm::ElementwiseOp op = ops::llm::ElementwiseOpAt(i);
    if (c.op != absl::StrCat("llm_", ops::llm::InfoOf(op).snake)) continue;
    std::vector<std::vector<float>> rows;
    for (int j = 0; j < ops::llm::InfoOf(op).arity; ++j) rows.push_back(DrawRow(rng, c.profile, d));
    std::vector<float> out(d);
    PoisonFloats(out, poison);
    const std::vector<std::span<const float>> in(rows.begin(), rows.end());
    return Outcome(kernels.Elementwise(op, in, out), std::span<const float>(out));
  }
  if (c.op == "llm_rope") {
    ASSIGN_OR_RETURN(ops::llm::RopeTable table,
                     ops::llm::RopeTable::Create(10000.0f, static_cast<int>(c.k), kRopePositions));
    std::vector<float> x = DrawRow(rng, c.profile, static_cast<size_t>(c.m) * d);
    absl::Status st =
        kernels.RopeApply(table, c.n, static_cast<int>(c.m), static_cast<int>(c.k), x);
    return Outcome(st, std::span<const float>(x));
  }
  // Attention ops: n_kv_heads divides n_heads (m); the group is drawn here.
  int kv = 1;
  for (int g = 4; g >= 1; --g) {
    if (c.m % g == 0 && c.m / g <= 4 && rng.Uniform(0, 1) == 1) {
      kv = static_cast<int>(c.m / g);
      break;
    }
  }
  if (c.op == "llm_encode_kv_row") kv = static_cast<int>(c.n);
  const ops::llm::AttentionShape shape = ShapeOf(c, kv);
  if (c.op == "llm_encode_kv_row") {
    std::vector<float> v = DrawRow(rng, c.profile, static_cast<size_t>(kv) * d);
    std::vector<uint8_t> out(static_cast<size_t>(ops::llm::KvRowBytes(shape)));
    Poison(out, poison);
    return Outcome(kernels.EncodeKvRow(shape, v, out), std::span<const uint8_t>(out));
  }
  const size_t width = static_cast<size_t>(c.m) * d;
  if (c.op == "llm_attend") {
    ASSIGN_OR_RETURN(std::vector<uint8_t> k_cache, DrawCache(rng, c.profile, shape, c.n));
    ASSIGN_OR_RETURN(std::vector<uint8_t> v_cache, DrawCache(rng, c.profile, shape, c.n));
    std::vector<float> q = DrawRow(rng, c.profile, width), out(width);
    PoisonFloats(out, poison);
    return Outcome(kernels.Attend(shape, q, k_cache, v_cache, c.n, out),
                   std::span<const float>(out));
  }
  if (c.op == "llm_attend_rows") {
    const int64_t rows = rng.Uniform(1, 4);
    const int64_t first = c.n - 1;  // the cache holds first + rows positions
    ASSIGN_OR_RETURN(std::vector<uint8_t> k_cache, DrawCache(rng, c.profile, shape, first + rows));
    ASSIGN_OR_RETURN(std::vector<uint8_t> v_cache, DrawCache(rng, c.profile, shape, first + rows));
    std::vector<float> q = DrawRow(rng, c.profile, width * rows), out(width * rows);
    PoisonFloats(out, poison);
    return Outcome(kernels.AttendRows(shape, q, k_cache, v_cache, first, rows, out),
                   std::span<const float>(out));
  }
  return absl::InternalError(absl::StrCat("unknown LLM challenge op ", c.op));
}

std::string LlmChallengeDigest(const std::string& outcome) {
  return ops::ToHex(ops::Sha256Of(
      {ops::ByteSpan(reinterpret_cast<const uint8_t*>(outcome.data()), outcome.size())}));
}

}  // namespace datanode::conformance
