// Copyright 2026 The datanode Authors.
//
// CPU quantize ops (kQuantizeS8Row, kQuantizeQ8_0): the reference's exact integer
// routine, parallel over rows. Rows are independent, so the split cannot change bytes.
#ifndef DATANODE_OPS_CPU_QUANTIZE_H_
#define DATANODE_OPS_CPU_QUANTIZE_H_

#include "absl/status/status.h"
#include "datanode/ops/types.h"
#include "ops/cpu/cpu_features.h"
#include "ops/cpu/thread_pool.h"

namespace datanode::ops::cpu {

absl::Status Quantize(const OpArgs& args, Isa isa, ThreadPool& pool);

// kQuantizeQ8_0 on validated args, one thread: byte-equal to reference::QuantizeQ8_0. The
// kAvx512Vnni family quantizes 8 values per step in doubles (exact for these quotients,
// quantize.cc says why) under the default float environment; otherwise the per-element
// division runs in 64-bit integers where that is exact.
void QuantizeQ8_0Rows(const OpArgs& args, Isa isa);

}  // namespace datanode::ops::cpu

#endif  // DATANODE_OPS_CPU_QUANTIZE_H_
