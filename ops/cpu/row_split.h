// Copyright 2026 The datanode Authors.
//
// Splits an op into row ranges of A (and of the output). Each range is a complete
// op on its own, so any split computes exactly the same bytes.
#ifndef DATANODE_OPS_CPU_ROW_SPLIT_H_
#define DATANODE_OPS_CPU_ROW_SPLIT_H_

#include "datanode/ops/types.h"

namespace datanode::ops::cpu {

// The op restricted to rows [row_begin, row_end) of A / X and of the outputs.
OpArgs RowSlice(const OpArgs& args, int64_t row_begin, int64_t row_end);

}  // namespace datanode::ops::cpu

#endif  // DATANODE_OPS_CPU_ROW_SPLIT_H_
