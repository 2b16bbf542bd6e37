// Copyright 2026 The datanode Authors.
//
// The computing node's verified-mode answer ("exact output", verify.h): the op's output as
// any backend writes it, plus the exact values before its single rounding. Where the backend
// writes them itself (Backend::WritesExactSums: the CPU and Vulkan backends' Q8_0-family,
// K-quant and s8 -> f32 kernels, which hold them before rounding anyway) they come from the same
// Run as the output, at about the cost of the matmul (docs/verification.md §8 has the figures);
// otherwise the op runs on the backend and ComputeExactSums (scalar, O(M * N * K)) follows.
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/status_macros.h"
#include "datanode/ops/verify.h"

namespace datanode::ops::verify {

absl::StatusOr<std::vector<uint8_t>> RunOpWithExactSums(Backend& backend, const OpArgs& args,
                                                        ByteSpan w_raw) {
  if (!IsVerifiable(args.kind)) {
    return absl::InvalidArgumentError(absl::StrCat(OpKindName(args.kind), " has no verified mode"));
  }
  std::vector<uint8_t> exact(static_cast<size_t>(ExactSumsBytes(args.kind, args.m, args.n)));
  if (!exact.empty() && backend.WritesExactSums(args.kind)) {
    OpArgs with_exact = args;
    with_exact.exact = MutableByteSpan(exact);
    RETURN_IF_ERROR(RunOp(backend, with_exact));
  } else {
    RETURN_IF_ERROR(RunOp(backend, args));
    if (exact.empty()) return exact;  // s8_s32: the output is exact
    RETURN_IF_ERROR(
        ComputeExactSums(args.kind, args.m, args.n, args.k, args.a, w_raw, MutableByteSpan(exact)));
  }
  exact.resize(static_cast<size_t>(CompactExactSums(args.kind, MutableByteSpan(exact))));
  return exact;
}

}  // namespace datanode::ops::verify
