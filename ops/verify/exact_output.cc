// Copyright 2026 The datanode Authors.
//
// The computing node's verified-mode answer ("exact output", verify.h): the op's output as
// any backend writes it, plus the exact values before its single rounding. The default
// producer here runs the op on the backend and then ComputeExactSums (scalar code, so
// O(M * N * K) scalar work on top of the op). A backend whose kernels already hold these
// sums before rounding (the CPU Q8 / s8 kernels, CUDA) could return them at almost no
// extra cost; that needs a Backend hook next to Run, owed (docs/verification.md §8).
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
  RETURN_IF_ERROR(RunOp(backend, args));
  std::vector<uint8_t> exact(static_cast<size_t>(ExactSumsBytes(args.kind, args.m, args.n)));
  if (exact.empty()) return exact;  // s8_s32: the output is exact
  RETURN_IF_ERROR(
      ComputeExactSums(args.kind, args.m, args.n, args.k, args.a, w_raw, MutableByteSpan(exact)));
  exact.resize(static_cast<size_t>(CompactExactSums(args.kind, MutableByteSpan(exact))));
  return exact;
}

}  // namespace datanode::ops::verify
