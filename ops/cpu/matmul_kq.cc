// Copyright 2026 The datanode Authors.
//
// Driver of the CPU K-quant matmuls: weight packing (PrepareKqWeights, or on the fly for raw
// args.w), per-call A metadata, and the parallel split. As in matmul_q8.cc, tasks own whole
// output elements (a range of rows x a range of 16-column panels) and every element is
// computed by the same sequence of integer operations whichever thread runs it.
#include "ops/cpu/matmul_kq.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "datanode/ops/kquant.h"
#include "datanode/ops/status_macros.h"
#include "datanode/ops/validate.h"
#include "ops/cpu/kq_common.h"

namespace datanode::ops::cpu {
namespace {

// The same split as matmul_q8.cc: 4 panels (64 columns) x up to 64 rows per task, and no
// hand-off to the pool below 1 MiB of prepared weight bytes x rows.
constexpr int64_t kPanelsPerTask = 4;
constexpr int64_t kRowsPerTask = 64;
constexpr int64_t kMinParallelWork = int64_t{1} << 20;

}  // namespace

absl::StatusOr<std::unique_ptr<PreparedWeights>> PrepareKqWeights(const Backend* owner, OpKind kind,
                                                                  int64_t n, int64_t k, ByteSpan w,
                                                                  ByteSpan w_scale, Isa isa) {
  if (!IsKQuantMatMul(kind)) {
    return absl::InvalidArgumentError(
        absl::StrCat("PrepareKqWeights: ", OpKindName(kind), " is not a K-quant matmul"));
  }
  RETURN_IF_ERROR(ComputeOperandSizes(kind, 1, n, k).status());
  RETURN_IF_ERROR(ValidateWeightValues(kind, n, k, w, w_scale));
  return std::unique_ptr<PreparedWeights>(
      kq::PackedKqWeights::Pack(owner, kind, n, k, w, q8::KernelIsa(isa)));
}

absl::Status MatMulKq(const Backend& owner, const OpArgs& args, Isa isa, ThreadPool& pool) {
  const Isa kernel_isa = q8::KernelIsa(isa);
  const kq::PackedKqWeights* packed = nullptr;
  std::unique_ptr<kq::PackedKqWeights> local;
  if (args.w_prepared != nullptr) {
    packed = dynamic_cast<const kq::PackedKqWeights*>(args.w_prepared);
  }
  if (packed == nullptr) {
    // Raw weights (args.w, or a RawPreparedWeights copy): pack for this call.
    ByteSpan w;
    ByteSpan w_scale;
    RETURN_IF_ERROR(ResolveRawWeights(owner, args, &w, &w_scale));
    local = kq::PackedKqWeights::Pack(&owner, args.kind, args.n, args.k, w, kernel_isa);
    packed = local.get();
  }
  if (packed->owner() != &owner || packed->kind() != args.kind || packed->n() != args.n ||
      packed->k() != args.k) {
    return absl::InvalidArgumentError(
        absl::StrCat("cpu ", OpKindName(args.kind),
                     ": prepared weights belong to another backend, op or shape"));
  }
  if (packed->isa() != kernel_isa) {
    return absl::FailedPreconditionError(
        absl::StrCat("cpu ", OpKindName(args.kind), ": weights were packed for ",
                     IsaName(packed->isa()), " kernels, this call runs ", IsaName(kernel_isa)));
  }

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
  job.out = args.out.data();

  auto run = kq::RunTilesPortable;
  if (kernel_isa == Isa::kAvx2) run = kq::RunTilesAvx2;
  if (kernel_isa == Isa::kAvx512Vnni) run = kq::RunTilesAvx512;

  const int64_t panels = packed->num_panels();
  if (packed->SizeBytes() * args.m < kMinParallelWork) {
    run(job, 0, args.m, 0, panels);
    return absl::OkStatus();
  }
  const int64_t panel_tasks = (panels + kPanelsPerTask - 1) / kPanelsPerTask;
  const int64_t row_tasks = (args.m + kRowsPerTask - 1) / kRowsPerTask;
  pool.ParallelFor(panel_tasks * row_tasks, [&](int64_t task) {
    const int64_t pt = task % panel_tasks;
    const int64_t rt = task / panel_tasks;
    const int64_t p0 = pt * kPanelsPerTask;
    const int64_t r0 = rt * kRowsPerTask;
    run(job, r0, std::min(args.m, r0 + kRowsPerTask), p0, std::min(panels, p0 + kPanelsPerTask));
  });
  return absl::OkStatus();
}

}  // namespace datanode::ops::cpu
