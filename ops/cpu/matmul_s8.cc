// Copyright 2026 The datanode Authors.
//
// Driver of the CPU s8 GEMM: packs A (and W unless prepared), cuts C into tasks of
// whole output tiles, and runs the Isa's micro-kernel over cache-sized blocks.
//
// Exactness: every output element is owned by exactly one task, which accumulates
// its full K with wrapping int32 adds (s8_kernels.h). Wrapping addition is
// associative and commutative, so the k-blocking, the tile shapes, the Isa and the
// thread count cannot change the residue mod 2^32; the true dot product satisfies
// |sum_k A*W| <= 127 * 127 * 131071 < 2^31 (K <= kMaxK, operands in [-127, 127]),
// so that residue read as int32 IS the exact value. kMatMulS8F32 then applies the
// spec's single rounding to sa.mantissa * sw.mantissa * isum * 2^(ea + ew)
// (s8_round.h); no float arithmetic touches the scales.
//
// Blocking (Goto/BLIS order inside a task): for each k-block, for each W panel
// (64 x kc bytes), for each A panel of the task's rows (kc x 6 bytes): one
// micro-kernel call; the W and A blocks of a task stay in L2. Small M (decode) uses one k-block
// spanning all of K so each W panel is streamed from memory once, sequentially.
#include "ops/cpu/matmul_s8.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/exact_float.h"
#include "datanode/ops/status_macros.h"
#include "datanode/ops/validate.h"
#include "ops/cpu/s8_kernels.h"
#include "ops/cpu/s8_pack.h"
#include "ops/cpu/s8_round.h"
#include "ops/cpu/s8_round_avx512.h"

namespace datanode::ops::cpu {
namespace {

// k-groups (of 4 k) per k-block when A has many panels (2048 k). Measured on Zen 5
// (48 KiB L1, 1 MiB L2) at 1024^3 and 2048^3: the current W panel block (128 KiB)
// and the task's A block (up to 96 rows x 2 KiB) both sit in L2, which feeds the kernel fast enough
// (4 zmm + 6 dwords per 24 vpdpbusd); 512- and 1024-deep blocks that fit W in L1 were
// 3-10% slower because C tiles are re-read more often.
constexpr int64_t kKcGroups = 512;
// A panels per task when M is large: at most 16 (96 rows: the task's A block,
// 96 x 2 KiB, stays in L2), at least 4, and otherwise small enough to give each
// thread about 8 tasks so the dynamic schedule balances.
constexpr int64_t kMaxMcPanels = 16;
constexpr int64_t kMinMcPanels = 4;
constexpr int64_t kTasksPerThread = 8;
// Up to this many A panels, a task covers all rows and all of K (decode shapes).
constexpr int64_t kSmallMPanels = 3;
// Packed-A scratch up to this size is kept per calling thread between calls.
constexpr int64_t kKeptScratchBytes = int64_t{16} << 20;

struct Plan {
  int64_t kc_groups;  // k-groups per k-block
  int64_t mc_panels;  // A panels per task
  int64_t nc_panels;  // W panels per task
};

// Large M: tasks are blocks of whole A panels over all of N, and each task packs its
// own A panels first, so one parallel region does everything (a second region just
// to pack A costs a worker wake-up, which under load can take longer than the GEMM).
// Small M (decode): A is packed by the caller (a few KiB) and tasks split N.
Plan MakePlan(int64_t m_panels, int64_t n_panels, int64_t kgroups, int threads) {
  if (m_panels <= kSmallMPanels) {
    // One k-block; enough tasks along N for the threads to balance, but at least two
    // W panels per task so each task streams a long run of memory.
    const int64_t want_tasks = kTasksPerThread * threads;
    int64_t nc = std::max<int64_t>(1, n_panels / want_tasks);
    nc = std::clamp<int64_t>(nc, std::min<int64_t>(2, n_panels), 8);
    return {kgroups, m_panels, nc};
  }
  const int64_t want_tasks = kTasksPerThread * threads;
  const int64_t mc =
      std::clamp<int64_t>((m_panels + want_tasks - 1) / want_tasks, kMinMcPanels, kMaxMcPanels);
  return {std::min(kKcGroups, kgroups), mc, n_panels};
}

uint8_t* PackedAScratch(int64_t bytes, AlignedBytes& local) {
  if (bytes > kKeptScratchBytes) {
    local = AlignedBytes(bytes);
    return local.data();
  }
  thread_local AlignedBytes kept;
  if (kept.size() < bytes) kept = AlignedBytes(bytes);
  return kept.data();
}

absl::StatusOr<const PackedS8Weights*> ResolvePacked(const Backend& owner, const OpArgs& args,
                                                     ThreadPool& pool,
                                                     std::unique_ptr<PackedS8Weights>& local) {
  if (args.w_prepared == nullptr) {
    local = PackS8Weights(&owner, args.kind, args.n, args.k, args.w, args.w_scale, &pool);
    return local.get();
  }
  const auto* packed = dynamic_cast<const PackedS8Weights*>(args.w_prepared);
  if (packed == nullptr || packed->owner() != &owner) {
    return absl::InvalidArgumentError(absl::StrCat(OpKindName(args.kind),
                                                   ": prepared weights were not made by this ",
                                                   owner.Name(), " backend's PrepareWeights"));
  }
  if (packed->kind() != args.kind || packed->n() != args.n || packed->k() != args.k) {
    return absl::InvalidArgumentError(absl::StrCat(
        OpKindName(args.kind), ": prepared weights are ", OpKindName(packed->kind()), " [",
        packed->n(), ", ", packed->k(), "], the call needs [", args.n, ", ", args.k, "]"));
  }
  return packed;
}

// Rounds columns [first_col, cols) of the finished int32 tile (rows x cols at c, row
// stride n) in place to f32.
void RoundTileToF32(uint8_t* c, int64_t n, int rows, int first_col, int cols,
                    const S8Scale* row_scales, const S8Scale* col_scales) {
  for (int r = 0; r < rows; ++r) {
    const S8Scale sa = row_scales[r];
    uint8_t* row = c + r * n * 4;
    for (int j = first_col; j < cols; ++j) {
      const S8Scale sw = col_scales[j];
      const int32_t isum = static_cast<int32_t>(LoadU32(row + j * 4));
      StoreU32(row + j * 4, RoundS8ProductToF32Bits(int64_t{sa.mantissa} * sw.mantissa, isum,
                                                    sa.exponent + sw.exponent));
    }
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<PreparedWeights>> PrepareS8Weights(const Backend* owner, OpKind kind,
                                                                  int64_t n, int64_t k, ByteSpan w,
                                                                  ByteSpan w_scale, Isa isa) {
  // The packed layout is the same for every Isa, so `isa` needs no special case.
  return std::unique_ptr<PreparedWeights>(
      PackS8Weights(owner, kind, n, k, w, w_scale, /*pool=*/nullptr));
}

absl::Status MatMulS8(const Backend& owner, const OpArgs& args, Isa isa, ThreadPool& pool) {
  if (args.kind != OpKind::kMatMulS8S32 && args.kind != OpKind::kMatMulS8F32) {
    return absl::InvalidArgumentError(
        absl::StrCat("MatMulS8: ", OpKindName(args.kind), " is not an s8 matmul"));
  }
  const bool to_f32 = args.kind == OpKind::kMatMulS8F32;
  // The AVX-512 epilogue also needs the default MXCSR (no FTZ/DAZ); MXCSR is per thread,
  // so each worker checks its own before every tile (one stmxcsr).
  const bool vector_round = to_f32 && isa == Isa::kAvx512Vnni;
  std::unique_ptr<PackedS8Weights> local_weights;
  ASSIGN_OR_RETURN(const PackedS8Weights* pw, ResolvePacked(owner, args, pool, local_weights));

  const S8KernelSet& ks = S8KernelsFor(isa);
  const int64_t m = args.m;
  const int64_t n = args.n;
  const int64_t kgroups = pw->kgroups();
  const int64_t m_panels = (m + ks.mr - 1) / ks.mr;
  const int64_t a_panel_stride = int64_t{ks.mr} * kgroups * 4;

  // Pack A (A + 128 for VNNI). Panel i holds rows [i * mr, min(m, (i + 1) * mr)).
  AlignedBytes local_a;
  uint8_t* a_packed = PackedAScratch(m_panels * a_panel_stride, local_a);
  auto pack_a = [&](int64_t i) {
    const int rows = static_cast<int>(std::min<int64_t>(ks.mr, m - i * ks.mr));
    PackS8APanel(args.a.data() + i * ks.mr * args.k, args.k, rows, ks.a_to_u8,
                 a_packed + i * a_panel_stride);
  };
  const bool small_m = m_panels <= kSmallMPanels;
  if (small_m) {
    for (int64_t i = 0; i < m_panels; ++i) pack_a(i);
  }

  std::vector<S8Scale> row_scales;
  if (to_f32) {
    row_scales.resize(static_cast<size_t>(m));
    for (int64_t i = 0; i < m; ++i) {
      const ExactValue v = DecodeF32Bits(LoadU32(&args.a_scale[i * 4]));
      row_scales[i] = {static_cast<int32_t>(v.mantissa), v.exponent};
    }
  }

  const int64_t n_panels = pw->num_panels();
  const Plan plan = MakePlan(m_panels, n_panels, kgroups, pool.num_threads());
  const int64_t m_blocks = (m_panels + plan.mc_panels - 1) / plan.mc_panels;
  const int64_t n_blocks = (n_panels + plan.nc_panels - 1) / plan.nc_panels;
  uint8_t* out = args.out.data();
  // kMatMulS8F32's isums before rounding (s32 [m, n]), when the caller asked for them.
  uint8_t* exact = to_f32 && !args.exact.empty() ? args.exact.data() : nullptr;
  // Decode plan: every W panel is streamed from memory exactly once.
  const bool stream = small_m;

  // Task t owns output rows of A-panel block t / n_blocks and columns of W-panel
  // block t % n_blocks, over all of K.
  pool.ParallelFor(m_blocks * n_blocks, [&](int64_t task) {
    const int64_t p_begin = (task / n_blocks) * plan.mc_panels;
    const int64_t p_end = std::min(m_panels, p_begin + plan.mc_panels);
    const int64_t q_begin = (task % n_blocks) * plan.nc_panels;
    const int64_t q_end = std::min(n_panels, q_begin + plan.nc_panels);
    if (!small_m) {
      // This task is the only one that reads A panels [p_begin, p_end) (n_blocks == 1).
      for (int64_t p = p_begin; p < p_end; ++p) pack_a(p);
    }
    for (int64_t g0 = 0; g0 < kgroups; g0 += plan.kc_groups) {
      const int64_t groups = std::min(plan.kc_groups, kgroups - g0);
      const bool last = g0 + groups == kgroups;
      for (int64_t q = q_begin; q < q_end; ++q) {
        const int cols = static_cast<int>(std::min<int64_t>(kS8PanelCols, n - q * kS8PanelCols));
        S8TileArgs tile;
        tile.w = pw->panel(q) + g0 * kS8PanelGroupBytes;
        tile.kgroups = groups;
        tile.ldc = n;
        tile.cols = cols;
        tile.accumulate = g0 != 0;
        tile.comp = last && ks.a_to_u8 ? pw->comp() + q * kS8PanelCols : nullptr;
        for (int64_t p = p_begin; p < p_end; ++p) {
          const int rows = static_cast<int>(std::min<int64_t>(ks.mr, m - p * ks.mr));
          tile.a = a_packed + p * a_panel_stride + g0 * rows * 4;
          tile.c = out + (p * ks.mr * n + q * kS8PanelCols) * 4;
          (stream ? ks.stream_kernel : ks.kernel)[rows](tile);
          if (to_f32 && last) {
            if (exact != nullptr) {
              // The finished tile's int32 sums are the exact isums (see above): copied out
              // before the rounding overwrites them (Backend::WritesExactSums).
              for (int r = 0; r < rows; ++r) {
                std::memcpy(exact + ((p * ks.mr + r) * n + q * kS8PanelCols) * 4,
                            tile.c + r * n * 4, static_cast<size_t>(cols) * 4);
              }
            }
            const S8Scale* tile_row_scales = row_scales.data() + p * ks.mr;
            const S8Scale* tile_col_scales = pw->scales() + q * kS8PanelCols;
            int done = 0;
            if (vector_round && CanRoundTileAvx512()) {
              done = RoundTileToF32Avx512(tile.c, n, rows, cols, tile_row_scales, tile_col_scales);
            }
            RoundTileToF32(tile.c, n, rows, done, cols, tile_row_scales, tile_col_scales);
          }
        }
      }
    }
  });
  return absl::OkStatus();
}

}  // namespace datanode::ops::cpu
