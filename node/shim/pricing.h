// Copyright 2026 The datanode Authors.
//
// The published price of an accel_matmul call, in cycles, in the style of the IC's
// http_request formula. With n = subnet size (replicas that all run the call):
//
//   price = (3_000_000 + 60_000 * n) * n
//         + (400 * arg_bytes + 800 * out_bytes + ceil(macs / 64) + ceil(w_bytes / 64)) * n
//
//   arg_bytes  size of the Candid-encoded MatMulArgs (what consensus carries in)
//   out_bytes  size of C = m * n_out * 4 (what consensus carries back, and signs)
//   macs       m * n_out * k multiply-accumulates
//   w_bytes    size of the stored weight operand W[n_out, k] in the op's format
//              (plus w_scale for matmul_s8_f32): the device memory traffic
//
// The first line is http_request's per-call term (consensus on a result among n
// replicas); the byte terms reuse its per-byte rates. One cycle per 64 MACs makes a
// Llama-3-8B token (~8e9 MACs, ~8.5 GB of Q8_0 weights) cost ~3.4e9 cycles on 13 nodes,
// against ~1.7e11 cycles for the same token in Wasm. Everything is exact integer
// arithmetic on shapes only (no store lookup, no timing), so every replica and the
// canister itself compute the same number. docs/canister-api.md publishes it.
#ifndef DATANODE_NODE_SHIM_PRICING_H_
#define DATANODE_NODE_SHIM_PRICING_H_

#include <cstdint>
#include <span>
#include <string_view>

#include "absl/numeric/int128.h"
#include "absl/status/statusor.h"
#include "datanode/ops/types.h"

namespace datanode::shim {

struct PriceTerms {
  uint64_t subnet_size = 0;
  uint64_t arg_bytes = 0;
  uint64_t out_bytes = 0;
  absl::uint128 macs = 0;
  uint64_t w_bytes = 0;
};

// The terms of a call. INVALID_ARGUMENT for a non-matmul op or a shape the spec rejects
// (the same checks ops::ComputeOperandSizes makes), or subnet_size == 0.
absl::StatusOr<PriceTerms> MatMulPriceTerms(uint64_t subnet_size, ops::OpKind op, uint32_t m,
                                            uint32_t n, uint32_t k, uint64_t arg_bytes);

// The formula above. Cannot overflow: every term is below 2^66 and n below 2^32.
absl::uint128 Price(const PriceTerms& t);

// The compute part of one node's share of the price: ceil(macs / 64) + ceil(w_bytes / 64),
// one cycle per 64 multiply-accumulates and per 64 weight bytes read. Price uses it;
// so does the daemon for GenerateDone.cycles.
absl::uint128 ComputeCycles(const PriceTerms& t);

// --- Verified mode (docs/verification.md, docs/canister-api.md "Verified mode") ---
//
// One node computes and the other n - 1 check its answer with Freivalds' algorithm:
//
//   verified_price = (3_000_000 + 60_000 * n) * n
//                  + (400 * arg_bytes + 800 * out_bytes) * n
//                  + ComputeCycles(terms)                 (the one computing node)
//                  + (n - 1) * CheckCycles(m, n_out, k)    (every other node)
//
//   check_cycles = ceil(m * (n_out + k) / 64) + ceil(8 * (n_out + k) / 64)
//
// The check's work is C r (m * n_out multiply-accumulates) and A v (m * k), at the
// matmul's rate of one cycle per 64, plus its state read in place of the weights: r and
// v, one 8-byte word per output and input column, at the weight-byte rate. The consensus
// and byte terms are those of Price: every replica still carries the call and signs the
// result. The exact sums go from the computing data node to the verifying data nodes, not
// through consensus, and are not charged.
absl::uint128 CheckCycles(uint32_t m, uint32_t n, uint32_t k);
// The formula above; `t` from MatMulPriceTerms for the same (m, n, k).
absl::uint128 VerifiedPrice(const PriceTerms& t, uint32_t m, uint32_t n, uint32_t k);

// --- Inference: accel_generate and the daemon's Generate (docs/canister-api.md) ---
//
// A model's cost per token, from the shapes and stored sizes of its matmul weights only
// (the manifest; no timing, no backend):
//   macs_per_token  sum of N * K over every matmul weight W[N, K], the output head included
//   weight_bytes    the stored bytes of those weights (Q4_1, Q8_0, ... as in the GGUF)
struct ModelCost {
  absl::uint128 macs_per_token = 0;
  uint64_t weight_bytes = 0;
};

// A tensor of a model's manifest, as far as pricing needs it.
struct PricedTensor {
  std::string_view name;
  std::span<const int64_t> shape;  // outermost first: a matmul weight is [N, K]
  uint64_t bytes = 0;
};

// The ModelCost of a llama-architecture model from its tensor list: the 2-D tensors
// blk.<i>.{attn_q,attn_k,attn_v,attn_output,ffn_gate,ffn_up,ffn_down}.weight and
// output.weight, or token_embd.weight when there is no output.weight (a tied head).
// The daemon (GenerateDone.cycles) and the shim (accel_generate) both use it.
ModelCost ModelCostFromTensors(std::span<const PricedTensor> tensors);

// A generation of `prompt_tokens` prefilled and `generated_tokens` decoded tokens, priced
// with accel_matmul's rates: a prefill token is one row of a batched matmul (its MACs;
// the weights are read once per pass and not charged per token), a decode token is a
// matmul with m = 1 that reads every weight:
//   macs    = (prompt_tokens + generated_tokens) * macs_per_token
//   w_bytes = generated_tokens * weight_bytes
// so the published per-token prices are macs_per_token / 64 per prefill token and
// (macs_per_token + weight_bytes) / 64 per decode token, rounded up once per call.
// arg_bytes and out_bytes are the Candid argument and reply sizes (0 for the daemon's
// own figure, ComputeCycles of these terms). INVALID_ARGUMENT for subnet_size 0 or
// counts above 2^32.
absl::StatusOr<PriceTerms> GeneratePriceTerms(uint64_t subnet_size, const ModelCost& model,
                                              uint64_t prompt_tokens, uint64_t generated_tokens,
                                              uint64_t arg_bytes, uint64_t out_bytes);

// A verified generation (docs/canister-api.md "Verified inference"): one step per
// generated token, the prompt's prefill (t = prompt_tokens) and then one decode step
// (t = 1) per further token. Each step is charged as the daemons charge it: the computing
// node one pass, ComputeCycles(GeneratePriceTerms(1, cost, t - 1, 1, 0, 0)), and each of
// the n - 1 verifiers the Freivalds checks of that pass, the sum of CheckCycles(m, N, K)
// over its matmul weights W[N, K] (m = t for the layers', 1 for the output head):
//
//   verified_generate_price = (3_000_000 + 60_000 * n) * n
//                           + (400 * arg_bytes + 800 * out_bytes) * n
//                           + sum over steps (pass(t) + (n - 1) * checks(t))
//
// The matmul weights are ModelCostFromTensors' (tensors: the model's manifest).
// INVALID_ARGUMENT as GeneratePriceTerms, and for generated tokens after an empty prompt.
absl::StatusOr<absl::uint128> VerifiedGeneratePrice(uint64_t subnet_size,
                                                    std::span<const PricedTensor> tensors,
                                                    uint64_t prompt_tokens,
                                                    uint64_t generated_tokens, uint64_t arg_bytes,
                                                    uint64_t out_bytes);

// The fee for an accel_matmul rejected because of its caller (CANISTER_REJECT or
// CANISTER_ERROR: bad Candid, bad values, unknown weights, too few cycles, a reply over
// the limit), as the IC charges for the work of failed calls. It is the price above
// for a call that carried its argument through consensus but computed and returned
// nothing (out_bytes = macs = w_bytes = 0):
//
//   reject_fee = (3_000_000 + 60_000 * n) * n + 400 * arg_bytes * n
//
// so repeating a rejected call on every node of a subnet costs what its consensus
// and argument bytes cost. The shim charges min(reject_fee, cycles attached) and
// refunds the rest. Not charged: queries, SYS_* rejects (the node's fault) and
// DESTINATION_INVALID (nothing ran). docs/canister-api.md publishes it.
absl::uint128 RejectFee(uint64_t subnet_size, uint64_t arg_bytes);

}  // namespace datanode::shim

#endif  // DATANODE_NODE_SHIM_PRICING_H_
