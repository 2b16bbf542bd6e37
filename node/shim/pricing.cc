// Copyright 2026 The datanode Authors.
#include "node/shim/pricing.h"

#include <cstdint>

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
