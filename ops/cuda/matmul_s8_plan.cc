// Copyright 2026 The datanode Authors.
#include "ops/cuda/matmul_s8_plan.h"

#include <algorithm>
#include <cstring>

#include "ops/cuda/matmul_s8_wgmma_layout.h"

namespace datanode::ops::cuda {

S8GemmPlan PlanS8Gemm(int64_t m, int64_t n, int64_t k, int sm_count) {
  S8GemmPlan plan;
  plan.config = m <= 64 ? S8TileConfig::k64x128 : S8TileConfig::k128x128;
  const S8TileShape shape = TileShapeOf(plan.config);
  plan.m = m;
  plan.n = n;
  plan.k = k;
  plan.mp = RoundUp(m, shape.bm);
  plan.np = RoundUp(n, kS8TileN);
  plan.kp = RoundUp(k, kS8TileK);
  plan.tiles_m = plan.mp / shape.bm;
  plan.tiles_n = plan.np / kS8TileN;
  plan.k_tiles = plan.kp / kS8TileK;
  // Aim for about two CTAs per SM; each split keeps at least 4 k tiles (256 bytes of K)
  // so the pipeline has something to overlap, and at most 16 splits.
  const int64_t ctas = plan.tiles_m * plan.tiles_n;
  const int64_t target = 2 * static_cast<int64_t>(std::max(sm_count, 1));
  int64_t splits = 1;
  if (ctas < target) {
    splits = std::min<int64_t>({(target + ctas - 1) / ctas, plan.k_tiles / 4, 16});
    splits = std::max<int64_t>(splits, 1);
  }
  plan.k_tiles_per_split = (plan.k_tiles + splits - 1) / splits;
  // No empty slice: recompute the count from the rounded-up slice length.
  plan.splits =
      static_cast<int>((plan.k_tiles + plan.k_tiles_per_split - 1) / plan.k_tiles_per_split);
  return plan;
}

S8GemmPlan PlanS8GemmWith128RowTiles(int64_t m, int64_t n, int64_t k, int sm_count) {
  S8GemmPlan plan = PlanS8Gemm(m, n, k, sm_count);
  plan.config = S8TileConfig::k128x128;
  plan.mp = RoundUp(m, TileShapeOf(plan.config).bm);
  plan.tiles_m = plan.mp / TileShapeOf(plan.config).bm;
  return plan;
}

bool S8WgmmaPays(const S8GemmPlan& plan, int sm_count) {
  return plan.config == S8TileConfig::k128x128 && plan.splits == 1 && S8WgmmaPlanIsValid(plan) &&
         WgTilesM(plan.mp) * WgTilesN(plan.np) >= std::max(sm_count, 1);
}

bool S8WgmmaPlanIsValid(const S8GemmPlan& plan) {
  constexpr int64_t kInt32Max = 0x7FFFFFFF;
  return plan.mp > 0 && plan.mp % kWgTileM == 0 && plan.np > 0 && plan.np % 2 == 0 && plan.kp > 0 &&
         plan.kp % 16 == 0 && plan.mp <= kInt32Max && plan.np <= kInt32Max &&
         plan.kp <= kInt32Max && WgTilesM(plan.mp) * WgTilesN(plan.np) <= kInt32Max;
}

void PackPaddedRows(const uint8_t* src, int64_t rows, int64_t cols, int64_t rows_p, int64_t cols_p,
                    uint8_t* dst) {
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(dst + r * cols_p, src + r * cols, static_cast<size_t>(cols));
    std::memset(dst + r * cols_p + cols, 0, static_cast<size_t>(cols_p - cols));
  }
  std::memset(dst + rows * cols_p, 0, static_cast<size_t>((rows_p - rows) * cols_p));
}

}  // namespace datanode::ops::cuda
