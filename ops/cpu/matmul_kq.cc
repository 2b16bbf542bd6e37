// Copyright 2026 The datanode Authors.
//
// Driver of the CPU K-quant matmuls: weight packing (PrepareKqWeights, or on the fly for raw
// args.w), per-call A metadata, and the parallel split. The weight resolution and checks and
// the split over rows x 16-column panels are q8_common.h's, shared with matmul_q8.cc.
#include "ops/cpu/matmul_kq.h"

#include "datanode/ops/kquant.h"
#include "datanode/ops/status_macros.h"
#include "ops/cpu/kq_common.h"

namespace datanode::ops::cpu {

absl::StatusOr<std::unique_ptr<PreparedWeights>> PrepareKqWeights(const Backend* owner, OpKind kind,
                                                                  int64_t n, int64_t k, ByteSpan w,
                                                                  ByteSpan w_scale, Isa isa) {
  (void)w_scale;
  return std::unique_ptr<PreparedWeights>(
      kq::PackedKqWeights::Pack(owner, kind, n, k, w, q8::KernelIsa(isa)));
}

absl::Status MatMulKq(const Backend& owner, const OpArgs& args, Isa isa, ThreadPool& pool) {
  const Isa kernel_isa = q8::KernelIsa(isa);
  std::unique_ptr<kq::PackedKqWeights> local;
  ASSIGN_OR_RETURN(const kq::PackedKqWeights* packed,
                   q8::ResolvePackedWeights(owner, args, kernel_isa, &local));

  const kq::KqARows rows = kq::PrepareKqARows(args);
  kq::Job job;
  job.kind = args.kind;
  job.m = args.m;
  job.n = args.n;
  job.num_supers = args.k / kQKSuperBlockSize;
  job.a = args.a.data();
  job.a_row_bytes = job.num_supers * kKQuantSlices * kQ8_0BlockBytes;
  job.rows = &rows;
  job.w = packed;
  job.max_fast_span = kq::MaxFastSpan(args.kind, job.num_supers * kKQuantSlices);
  job.all_fast = q8::CallIsFast(rows.base, packed->max_col_span(), kq::MaxColSpan(args.kind),
                                job.max_fast_span);
  job.out = args.out.data();
  job.exact = args.exact.empty() ? nullptr : args.exact.data();

  auto run = kq::RunTilesPortable;
  if (kernel_isa == Isa::kAvx2) run = kq::RunTilesAvx2;
  if (kernel_isa == Isa::kAvx512Vnni) run = kq::RunTilesAvx512;
  q8::RunPanelTasks(
      args.m, packed->num_panels(), packed->SizeBytes(), pool,
      [&](int64_t r0, int64_t r1, int64_t p0, int64_t p1) { run(job, r0, r1, p0, p1); });
  return absl::OkStatus();
}

}  // namespace datanode::ops::cpu
