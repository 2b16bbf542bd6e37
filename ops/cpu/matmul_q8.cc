// Copyright 2026 The datanode Authors.
//
// Driver of the CPU Q8_0-family matmul: weight packing (PrepareQ8Weights, or on the fly
// for raw args.w), per-call A metadata, and the parallel split. Tasks own whole output
// elements (a range of rows x a range of 16-column panels), and every element is computed
// by the same sequence of integer operations whichever task or thread runs it, so the
// thread count never changes a byte.
#include "ops/cpu/matmul_q8.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "datanode/ops/status_macros.h"
#include "datanode/ops/validate.h"
#include "ops/cpu/q8_common.h"

namespace datanode::ops::cpu {
namespace {

// Panels (of 16 columns) and rows per task: 64 columns x all decode rows keeps a task's
// weight panel (4 x 73 KB at K = 4096) in L2 while it is reused across rows, and still
// gives 64 tasks at N = 4096 for dynamic balancing.
constexpr int64_t kPanelsPerTask = 4;
constexpr int64_t kRowsPerTask = 64;
// Below this much work (prepared weight bytes x rows) the call runs on the calling thread:
// the pool's hand-off (waking the workers and waiting for every one of them) costs more than
// splitting saves, and a decode step of a small model is many such calls. Which thread runs
// a tile never changes a byte.
constexpr int64_t kMinParallelWork = int64_t{1} << 20;

bool IsQ8Kind(OpKind kind) {
  return kind == OpKind::kMatMulQ8_0Q8_0 || kind == OpKind::kMatMulQ8_0Q4_0 ||
         kind == OpKind::kMatMulQ8_0Q4_1;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PreparedWeights>> PrepareQ8Weights(const Backend* owner, OpKind kind,
                                                                  int64_t n, int64_t k, ByteSpan w,
                                                                  ByteSpan w_scale, Isa isa) {
  if (!IsQ8Kind(kind)) {
    return absl::InvalidArgumentError(
        absl::StrCat("PrepareQ8Weights: ", OpKindName(kind), " is not a Q8_0-family matmul"));
  }
  RETURN_IF_ERROR(ComputeOperandSizes(kind, 1, n, k).status());
  RETURN_IF_ERROR(ValidateWeightValues(kind, n, k, w, w_scale));
  return std::unique_ptr<PreparedWeights>(
      q8::PackedQ8Weights::Pack(owner, kind, n, k, w, q8::KernelIsa(isa)));
}

absl::Status MatMulQ8(const Backend& owner, const OpArgs& args, Isa isa, ThreadPool& pool) {
  const Isa kernel_isa = q8::KernelIsa(isa);
  const q8::PackedQ8Weights* packed = nullptr;
  std::unique_ptr<q8::PackedQ8Weights> local;
  if (args.w_prepared != nullptr) {
    packed = dynamic_cast<const q8::PackedQ8Weights*>(args.w_prepared);
  }
  if (packed == nullptr) {
    // Raw weights (args.w, or a RawPreparedWeights copy): pack for this call.
    ByteSpan w;
    ByteSpan w_scale;
    RETURN_IF_ERROR(ResolveRawWeights(owner, args, &w, &w_scale));
    local = q8::PackedQ8Weights::Pack(&owner, args.kind, args.n, args.k, w, kernel_isa);
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
  job.out = args.out.data();

  auto run = q8::RunTilesPortable;
  if (kernel_isa == Isa::kAvx2) run = q8::RunTilesAvx2;
  if (kernel_isa == Isa::kAvx512Vnni) run = q8::RunTilesAvx512;

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
