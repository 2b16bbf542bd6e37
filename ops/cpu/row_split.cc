// Copyright 2026 The datanode Authors.
#include "ops/cpu/row_split.h"

namespace datanode::ops::cpu {

OpArgs RowSlice(const OpArgs& args, int64_t row_begin, int64_t row_end) {
  OpArgs slice = args;
  const int64_t rows = row_end - row_begin;
  slice.m = rows;
  const int64_t a_row = static_cast<int64_t>(args.a.size()) / args.m;
  const int64_t out_row = static_cast<int64_t>(args.out.size()) / args.m;
  slice.a = args.a.subspan(row_begin * a_row, rows * a_row);
  slice.out = args.out.subspan(row_begin * out_row, rows * out_row);
  if (!args.a_scale.empty()) slice.a_scale = args.a_scale.subspan(row_begin * 4, rows * 4);
  if (!args.out_scale.empty()) slice.out_scale = args.out_scale.subspan(row_begin * 4, rows * 4);
  return slice;
}

}  // namespace datanode::ops::cpu
