// Copyright 2026 The datanode Authors.
//
// Host side of kMatMulS8S32 / kMatMulS8F32 (kernels matmul_s8_s32.comp and
// matmul_s8_f32.comp). Bindings: 0 A, 1 W, 2 C, and for f32 3 a_scale, 4 w_scale, and
// with args.exact (Backend::WritesExactSums) 5 E, the s32 isums, written by
// matmul_s8_f32_exact.comp (the same source with EXACT_OUT); without it no E buffer.
#include <cstring>

#include "datanode/ops/status_macros.h"
#include "ops/vulkan/vulkan_ops.h"
#include "ops/vulkan/weight_packing.h"

namespace datanode::ops::vulkan {

BufferSpec WeightSpec(const WeightsRef& weights, uint64_t bytes, bool scales) {
  if (weights.prepared == nullptr) return {BufferSpec::Role::kInput, bytes, nullptr};
  return {BufferSpec::Role::kResident, bytes,
          scales ? &weights.prepared->scales() : &weights.prepared->data()};
}

absl::Status RunMatMulS8(KernelRunner& runner, const OpArgs& args, const WeightsRef& weights) {
  const bool scaled = args.kind == OpKind::kMatMulS8F32;
  const int64_t m_pad = PadTo(args.m, kS8Tile);
  const int64_t n_pad = PadTo(args.n, kS8Tile);
  const PackedWeightSizes w_sizes = PackedWeightBytes(args.kind, args.n, args.k);
  const uint64_t out_bytes = args.out.size();
  // RunOp allows args.exact for s8_f32 only (4 bytes per output element).
  const bool exact = scaled && !args.exact.empty();

  std::vector<BufferSpec> specs = {
      {BufferSpec::Role::kInput, PackedS8Bytes(m_pad, args.k)},
      WeightSpec(weights, w_sizes.data, /*scales=*/false),
      {BufferSpec::Role::kOutput, out_bytes},
  };
  if (scaled) {
    specs.push_back({BufferSpec::Role::kInput, static_cast<uint64_t>(args.m) * 4});
    specs.push_back(WeightSpec(weights, w_sizes.scales, /*scales=*/true));
  }
  if (exact) specs.push_back({BufferSpec::Role::kOutput, args.exact.size()});
  RETURN_IF_ERROR(runner.Prepare(specs));
  PackS8(args.a, args.m, args.k, runner.Input(0));
  if (weights.prepared == nullptr)
    PackWeightData(args.kind, args.n, args.k, weights.w, runner.Input(1));
  if (scaled) {
    std::memcpy(runner.Input(3), args.a_scale.data(), args.a_scale.size());
    if (weights.prepared == nullptr) {
      PackWeightScales(args.kind, args.n, args.k, weights.w, weights.w_scale, runner.Input(4));
    }
  }

  KernelCall call;
  call.kernel = !scaled ? KernelId::kMatMulS8S32
                        : (exact ? KernelId::kMatMulS8F32Exact : KernelId::kMatMulS8F32);
  call.push = {static_cast<uint32_t>(args.m), static_cast<uint32_t>(args.n),
               static_cast<uint32_t>(PadTo(args.k, kS8KAlignBytes) / 16), 0, 0};
  call.groups_x = static_cast<uint32_t>(n_pad / kS8Tile);
  call.groups_y = static_cast<uint32_t>(m_pad / kS8Tile);
  call.y_base_word = 3;
  call.x_base_word = 4;
  RETURN_IF_ERROR(runner.Run(call));
  std::memcpy(args.out.data(), runner.Output(2), out_bytes);
  if (exact) std::memcpy(args.exact.data(), runner.Output(5), args.exact.size());
  return absl::OkStatus();
}

}  // namespace datanode::ops::vulkan
