// Copyright 2026 The datanode Authors.
//
// Host side of A Q8_0 x W {Q8_0, Q4_0, Q4_1, Q4_K, Q6_K} -> f32 (kernels
// matmul_q8_0_*.comp).
// Bindings: 0 A quants, 1 A d words, 2 W quants, 3 W scale words (weight_packing.h), 4 C,
// and with args.exact (Backend::WritesExactSums) 5 E, written by the *_exact kernels: the
// same source compiled with EXACT_OUT, storing each element's 128-bit accumulator (the exact
// sum in units of 2^-48, int128 little-endian) beside its rounded C. Without args.exact the
// plain kernels run and no E buffer is allocated or read back.
// M <= kQ8GemvMaxM (decode, short prefills) runs the GEMV kernels
// (matmul_q8_0_*_gemv.comp, 8 rows per workgroup): A is not padded to the 64-row tile,
// so a decode step does 1 row of work, not 64. Both kernels
// read the same W layout (columns padded to kQ8TileN), so prepared weights serve both.
#include <cstring>
#include <span>

#include "datanode/ops/status_macros.h"
#include "ops/vulkan/vulkan_ops.h"
#include "ops/vulkan/weight_packing.h"

namespace datanode::ops::vulkan {
namespace {

struct Q8Kernels {
  KernelId tile;
  KernelId gemv;
  KernelId tile_exact;
  KernelId gemv_exact;
};

Q8Kernels KernelsOf(BlockFormat format) {
  switch (format) {
    case BlockFormat::kQ4_0:
      return {KernelId::kMatMulQ8_0Q4_0, KernelId::kMatMulQ8_0Q4_0Gemv,
              KernelId::kMatMulQ8_0Q4_0Exact, KernelId::kMatMulQ8_0Q4_0GemvExact};
    case BlockFormat::kQ4_1:
      return {KernelId::kMatMulQ8_0Q4_1, KernelId::kMatMulQ8_0Q4_1Gemv,
              KernelId::kMatMulQ8_0Q4_1Exact, KernelId::kMatMulQ8_0Q4_1GemvExact};
    case BlockFormat::kQ4_K:
      return {KernelId::kMatMulQ8_0Q4_K, KernelId::kMatMulQ8_0Q4_KGemv,
              KernelId::kMatMulQ8_0Q4_KExact, KernelId::kMatMulQ8_0Q4_KGemvExact};
    case BlockFormat::kQ6_K:
      return {KernelId::kMatMulQ8_0Q6_K, KernelId::kMatMulQ8_0Q6_KGemv,
              KernelId::kMatMulQ8_0Q6_KExact, KernelId::kMatMulQ8_0Q6_KGemvExact};
    case BlockFormat::kQ8_0:
      break;
  }
  return {KernelId::kMatMulQ8_0Q8_0, KernelId::kMatMulQ8_0Q8_0Gemv, KernelId::kMatMulQ8_0Q8_0Exact,
          KernelId::kMatMulQ8_0Q8_0GemvExact};
}

}  // namespace

absl::Status RunMatMulQ8(KernelRunner& runner, const OpArgs& args, const WeightsRef& weights) {
  const int64_t blocks = args.k / kQBlockSize;
  const bool gemv = args.m <= kQ8GemvMaxM;
  const int64_t m_pad = gemv ? args.m : PadTo(args.m, kQ8TileM);
  const int64_t n_pad = PadTo(args.n, kQ8TileN);
  const uint64_t a_blocks = static_cast<uint64_t>(m_pad) * blocks;
  const PackedWeightSizes w_sizes = PackedWeightBytes(args.kind, args.n, args.k);
  const uint64_t out_bytes = args.out.size();
  // RunOp checked args.exact's size: 16 bytes per output element.
  const bool exact = !args.exact.empty();

  const BufferSpec specs[] = {
      {BufferSpec::Role::kInput, a_blocks * 32},
      {BufferSpec::Role::kInput, a_blocks * 4},
      WeightSpec(weights, w_sizes.data, /*scales=*/false),
      WeightSpec(weights, w_sizes.scales, /*scales=*/true),
      {BufferSpec::Role::kOutput, out_bytes},
      {BufferSpec::Role::kOutput, args.exact.size()},  // E: bound by the exact kernels only
  };
  RETURN_IF_ERROR(runner.Prepare(std::span(specs, exact ? 6 : 5)));
  PackBlocks(BlockFormat::kQ8_0, args.a, args.m, blocks, runner.Input(0), runner.Input(1));
  if (weights.prepared == nullptr) {
    PackWeightData(args.kind, args.n, args.k, weights.w, runner.Input(2));
    PackWeightScales(args.kind, args.n, args.k, weights.w, weights.w_scale, runner.Input(3));
  }

  const Q8Kernels kernels = KernelsOf(WeightBlockFormat(args.kind));
  KernelCall call;
  if (exact) {
    call.kernel = gemv ? kernels.gemv_exact : kernels.tile_exact;
  } else {
    call.kernel = gemv ? kernels.gemv : kernels.tile;
  }
  call.push = {static_cast<uint32_t>(args.m), static_cast<uint32_t>(args.n),
               static_cast<uint32_t>(blocks), 0, 0};
  call.groups_x = static_cast<uint32_t>(n_pad / kQ8TileN);
  call.x_base_word = 4;
  if (gemv) {
    call.groups_y = static_cast<uint32_t>((args.m + kQ8GemvRows - 1) / kQ8GemvRows);
  } else {
    call.groups_y = static_cast<uint32_t>(m_pad / kQ8TileM);
  }
  call.y_base_word = 3;
  RETURN_IF_ERROR(runner.Run(call));
  std::memcpy(args.out.data(), runner.Output(4), out_bytes);
  if (exact) std::memcpy(args.exact.data(), runner.Output(5), args.exact.size());
  return absl::OkStatus();
}

}  // namespace datanode::ops::vulkan
