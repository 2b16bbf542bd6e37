// Copyright 2026 The datanode Authors.
#include "node/shim/pricing.h"

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

absl::uint128 Price(const PriceTerms& t) {
  const absl::uint128 n = t.subnet_size;
  const absl::uint128 per_call = (absl::uint128(3'000'000) + absl::uint128(60'000) * n) * n;
  const absl::uint128 per_node = absl::uint128(400) * t.arg_bytes +
                                 absl::uint128(800) * t.out_bytes + (t.macs + 63) / 64 +
                                 (absl::uint128(t.w_bytes) + 63) / 64;
  return per_call + per_node * n;
}

absl::uint128 RejectFee(uint64_t subnet_size, uint64_t arg_bytes) {
  PriceTerms t;
  t.subnet_size = subnet_size;
  t.arg_bytes = arg_bytes;
  return Price(t);
}

}  // namespace datanode::shim
