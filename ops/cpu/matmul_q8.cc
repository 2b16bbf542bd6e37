// Copyright 2026 The datanode Authors.
//
// Driver of the CPU Q8_0-family matmul: weight packing (PrepareQ8Weights, or on the fly
// for raw args.w), per-call A metadata, and the parallel split (q8::RunPanelTasks, shared
// with matmul_kq.cc: tasks own whole output elements, so the thread count never changes a
// byte).
#include "ops/cpu/matmul_q8.h"

#include "datanode/ops/status_macros.h"
#include "ops/cpu/q8_common.h"

namespace datanode::ops::cpu {

absl::StatusOr<std::unique_ptr<PreparedWeights>> PrepareQ8Weights(const Backend* owner, OpKind kind,
                                                                  int64_t n, int64_t k, ByteSpan w,
                                                                  ByteSpan w_scale, Isa isa) {
  (void)w_scale;
  return std::unique_ptr<PreparedWeights>(
      q8::PackedQ8Weights::Pack(owner, kind, n, k, w, q8::KernelIsa(isa)));
}

absl::Status MatMulQ8(const Backend& owner, const OpArgs& args, Isa isa, ThreadPool& pool) {
  const Isa kernel_isa = q8::KernelIsa(isa);
  std::unique_ptr<q8::PackedQ8Weights> local;
  ASSIGN_OR_RETURN(const q8::PackedQ8Weights* packed,
                   q8::ResolvePackedWeights(owner, args, kernel_isa, &local));

  const q8::ARows rows = q8::PrepareARows(args);
  q8::Job job;
  job.kind = args.kind;
  job.m = args.m;
  job.n = args.n;
  job.num_blocks = args.k / kQBlockSize;
  job.a = args.a.data();
  job.a_row_bytes = job.num_blocks * kQ8_0BlockBytes;
  job.rows = &rows;
  job.w = packed;
  job.max_fast_span = q8::MaxFastSpan(args.kind, job.num_blocks);
  job.all_fast =
      q8::CallIsFast(rows, packed->max_col_span(), q8::kMaxColSpan, job.max_fast_span);
  job.out = args.out.data();
  job.exact = args.exact.empty() ? nullptr : args.exact.data();

  auto run = q8::RunTilesPortable;
  if (kernel_isa == Isa::kAvx2) run = q8::RunTilesAvx2;
  if (kernel_isa == Isa::kAvx512Vnni) run = q8::RunTilesAvx512;
  q8::RunPanelTasks(
      args.m, packed->num_panels(), packed->SizeBytes(), pool,
      [&](int64_t r0, int64_t r1, int64_t p0, int64_t p1) { run(job, r0, r1, p0, p1); });
  return absl::OkStatus();
}

}  // namespace datanode::ops::cpu
