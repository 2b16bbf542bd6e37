// Copyright 2026 The datanode Authors.
#include "node/shim/pricing.h"

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "datanode/ops/status_macros.h"

namespace datanode::shim {

absl::StatusOr<PriceTerms> MatMulPriceTerms(uint64_t subnet_size, ops::OpKind op, uint32_t m,
                                            uint32_t n, uint32_t k, uint64_t arg_bytes) {
  if (subnet_size == 0 || subnet_size > (uint64_t{1} << 32)) {
    return absl::InvalidArgumentError(absl::StrCat("subnet size ", subnet_size));
  }
  if (!ops::IsMatMul(op)) {
    return absl::InvalidArgumentError(absl::StrCat(ops::OpKindName(op), " is not a matmul"));
  }
  ASSIGN_OR_RETURN(ops::OperandSizes sizes, ops::ComputeOperandSizes(op, m, n, k));
  PriceTerms t;
  t.subnet_size = subnet_size;
  t.arg_bytes = arg_bytes;
  t.out_bytes = static_cast<uint64_t>(sizes.out);
  t.macs = absl::uint128(m) * n * k;
  t.w_bytes = static_cast<uint64_t>(sizes.w + sizes.w_scale);
  return t;
}

absl::uint128 ComputeCycles(const PriceTerms& t) {
  return (t.macs + 63) / 64 + (absl::uint128(t.w_bytes) + 63) / 64;
}

absl::uint128 Price(const PriceTerms& t) {
  const absl::uint128 n = t.subnet_size;
  const absl::uint128 per_call = (absl::uint128(3'000'000) + absl::uint128(60'000) * n) * n;
  const absl::uint128 per_node =
      absl::uint128(400) * t.arg_bytes + absl::uint128(800) * t.out_bytes + ComputeCycles(t);
  return per_call + per_node * n;
}

absl::uint128 CheckCycles(uint32_t m, uint32_t n, uint32_t k) {
  const absl::uint128 cols = absl::uint128(n) + k;
  return (absl::uint128(m) * cols + 63) / 64 + (8 * cols + 63) / 64;
}

absl::uint128 VerifiedPrice(const PriceTerms& t, uint32_t m, uint32_t n, uint32_t k) {
  const absl::uint128 nodes = t.subnet_size;
  const absl::uint128 per_call = (absl::uint128(3'000'000) + absl::uint128(60'000) * nodes) * nodes;
  const absl::uint128 bytes = absl::uint128(400) * t.arg_bytes + absl::uint128(800) * t.out_bytes;
  return per_call + bytes * nodes + ComputeCycles(t) + (nodes - 1) * CheckCycles(m, n, k);
}

namespace {

// The matmul weights of a llama-architecture model, the output head last (output.weight,
// or token_embd.weight when the head is tied; none when neither is there).
std::vector<const PricedTensor*> MatMulWeights(std::span<const PricedTensor> tensors) {
  static constexpr std::string_view kLinear[] = {
      ".attn_q.weight",   ".attn_k.weight", ".attn_v.weight",  ".attn_output.weight",
      ".ffn_gate.weight", ".ffn_up.weight", ".ffn_down.weight"};
  auto is_layer_weight = [](std::string_view name) {
    if (name.substr(0, 4) != "blk.") return false;
    const size_t dot = name.find('.', 4);
    if (dot == std::string_view::npos || dot == 4) return false;
    for (char c : name.substr(4, dot - 4)) {
      if (c < '0' || c > '9') return false;
    }
    for (std::string_view suffix : kLinear) {
      if (name.substr(dot) == suffix) return true;
    }
    return false;
  };
  std::vector<const PricedTensor*> weights;
  const PricedTensor* output = nullptr;
  const PricedTensor* embedding = nullptr;
  for (const PricedTensor& t : tensors) {
    if (t.shape.size() != 2 || t.shape[0] < 0 || t.shape[1] < 0) continue;
    if (t.name == "output.weight") output = &t;
    if (t.name == "token_embd.weight") embedding = &t;
    if (is_layer_weight(t.name)) weights.push_back(&t);
  }
  if (output != nullptr) {
    weights.push_back(output);
  } else if (embedding != nullptr) {
    weights.push_back(embedding);
  }
  return weights;
}

uint32_t Dim(int64_t d) { return d > int64_t{UINT32_MAX} ? UINT32_MAX : static_cast<uint32_t>(d); }

}  // namespace

ModelCost ModelCostFromTensors(std::span<const PricedTensor> tensors) {
  ModelCost cost;
  for (const PricedTensor* t : MatMulWeights(tensors)) {
    cost.macs_per_token +=
        absl::uint128(static_cast<uint64_t>(t->shape[0])) * static_cast<uint64_t>(t->shape[1]);
    cost.weight_bytes += t->bytes;
  }
  return cost;
}

absl::StatusOr<absl::uint128> VerifiedGeneratePrice(uint64_t subnet_size,
                                                    std::span<const PricedTensor> tensors,
                                                    uint64_t prompt_tokens,
                                                    uint64_t generated_tokens, uint64_t arg_bytes,
                                                    uint64_t out_bytes) {
  if (generated_tokens > 0 && prompt_tokens == 0) {
    return absl::InvalidArgumentError("generated tokens after an empty prompt");
  }
  // The consensus and byte terms: Price of a call that computed nothing.
  ASSIGN_OR_RETURN(const PriceTerms call,
                   GeneratePriceTerms(subnet_size, ModelCost{}, prompt_tokens, generated_tokens,
                                      arg_bytes, out_bytes));
  const ModelCost cost = ModelCostFromTensors(tensors);
  const std::vector<const PricedTensor*> weights = MatMulWeights(tensors);
  // One step of t tokens: the computing node's pass and the n - 1 verifiers' checks.
  auto step = [&](uint64_t t) -> absl::StatusOr<absl::uint128> {
    ASSIGN_OR_RETURN(const PriceTerms pass, GeneratePriceTerms(1, cost, t - 1, 1, 0, 0));
    absl::uint128 checks = 0;
    for (size_t i = 0; i < weights.size(); ++i) {
      const uint32_t m = i + 1 == weights.size() ? 1 : static_cast<uint32_t>(t);
      checks += CheckCycles(m, Dim(weights[i]->shape[0]), Dim(weights[i]->shape[1]));
    }
    return ComputeCycles(pass) + absl::uint128(subnet_size - 1) * checks;
  };
  absl::uint128 price = Price(call);
  if (generated_tokens == 0) return price;
  ASSIGN_OR_RETURN(const absl::uint128 prefill, step(prompt_tokens));
  ASSIGN_OR_RETURN(const absl::uint128 decode, step(1));
  return price + prefill + absl::uint128(generated_tokens - 1) * decode;
}

absl::StatusOr<PriceTerms> GeneratePriceTerms(uint64_t subnet_size, const ModelCost& model,
                                              uint64_t prompt_tokens, uint64_t generated_tokens,
                                              uint64_t arg_bytes, uint64_t out_bytes) {
  if (subnet_size == 0 || subnet_size > (uint64_t{1} << 32)) {
    return absl::InvalidArgumentError(absl::StrCat("subnet size ", subnet_size));
  }
  if (prompt_tokens > (uint64_t{1} << 32) || generated_tokens > (uint64_t{1} << 32)) {
    return absl::InvalidArgumentError("token counts above 2^32");
  }
  PriceTerms t;
  t.subnet_size = subnet_size;
  t.arg_bytes = arg_bytes;
  t.out_bytes = out_bytes;
  t.macs = absl::uint128(prompt_tokens + generated_tokens) * model.macs_per_token;
  // Exact in 128 bits; saturated (a price no canister can pay) rather than wrapped.
  const absl::uint128 w = absl::uint128(generated_tokens) * model.weight_bytes;
  t.w_bytes = w > absl::uint128(UINT64_MAX) ? UINT64_MAX : static_cast<uint64_t>(w);
  return t;
}

absl::uint128 RejectFee(uint64_t subnet_size, uint64_t arg_bytes) {
  PriceTerms t;
  t.subnet_size = subnet_size;
  t.arg_bytes = arg_bytes;
  return Price(t);
}

}  // namespace datanode::shim
