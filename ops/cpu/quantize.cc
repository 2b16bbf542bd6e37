// Copyright 2026 The datanode Authors.
#include "ops/cpu/quantize.h"

#include <algorithm>

#include "datanode/ops/reference.h"
#include "ops/cpu/row_split.h"

namespace datanode::ops::cpu {

absl::Status Quantize(const OpArgs& args, Isa /*isa*/, ThreadPool& pool) {
  // Quantizing is O(M*K), negligible beside the matmul it feeds, so the exact integer
  // reference routine is used as is, split over rows.
  constexpr int64_t kRowsPerTask = 4;
  const int64_t tasks = (args.m + kRowsPerTask - 1) / kRowsPerTask;
  pool.ParallelFor(tasks, [&](int64_t t) {
    const int64_t begin = t * kRowsPerTask;
    const int64_t end = std::min(args.m, begin + kRowsPerTask);
    const OpArgs slice = RowSlice(args, begin, end);
    if (args.kind == OpKind::kQuantizeS8Row) {
      reference::QuantizeS8Row(slice);
    } else {
      reference::QuantizeQ8_0(slice);
    }
  });
  return absl::OkStatus();
}

}  // namespace datanode::ops::cpu
