// Copyright 2026 The datanode Authors.
//
// Host side of kQuantizeS8Row (kernel quantize_s8_row.comp): one workgroup per row.
// Bindings: 0 X (f32 words), 1 Q (rows padded to whole words), 2 scale (f32 bits).
#include <cstring>

#include "datanode/ops/status_macros.h"
#include "ops/vulkan/vulkan_ops.h"

namespace datanode::ops::vulkan {

absl::Status RunQuantizeS8Row(KernelRunner& runner, const OpArgs& args) {
  const uint64_t k_words = static_cast<uint64_t>(args.k + 3) / 4;
  const BufferSpec specs[] = {
      {BufferSpec::Role::kInput, args.a.size()},
      {BufferSpec::Role::kOutput, static_cast<uint64_t>(args.m) * k_words * 4},
      {BufferSpec::Role::kOutput, static_cast<uint64_t>(args.m) * 4},
  };
  RETURN_IF_ERROR(runner.Prepare(specs));
  std::memcpy(runner.Input(0), args.a.data(), args.a.size());

  KernelCall call;
  call.kernel = KernelId::kQuantizeS8Row;
  call.push = {static_cast<uint32_t>(args.m), static_cast<uint32_t>(args.k),
               static_cast<uint32_t>(k_words), 0};
  call.groups_x = static_cast<uint32_t>(args.m);
  call.x_base_word = 3;
  RETURN_IF_ERROR(runner.Run(call));

  const uint8_t* q = runner.Output(1);
  for (int64_t r = 0; r < args.m; ++r) {
    std::memcpy(args.out.data() + r * args.k, q + r * k_words * 4, args.k);
  }
  std::memcpy(args.out_scale.data(), runner.Output(2), args.out_scale.size());
  return absl::OkStatus();
}

}  // namespace datanode::ops::vulkan
