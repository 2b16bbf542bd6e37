// Copyright 2026 The datanode Authors.
//
// Host side of kQuantizeQ8_0 (kernel quantize_q8_0.comp): one invocation per block.
// Bindings: 0 X (f32), 1 quants (32 bytes per block), 2 d (one word per block). The
// 34-byte ggml blocks are unaligned, so the host interleaves d and quants.
#include <cstring>

#include "datanode/ops/exact_float.h"
#include "datanode/ops/status_macros.h"
#include "ops/vulkan/vulkan_ops.h"

namespace datanode::ops::vulkan {

absl::Status RunQuantizeQ8_0(KernelRunner& runner, const OpArgs& args) {
  const uint64_t blocks = static_cast<uint64_t>(args.m) * (args.k / kQBlockSize);
  const BufferSpec specs[] = {
      {BufferSpec::Role::kInput, args.a.size()},
      {BufferSpec::Role::kOutput, blocks * 32},
      {BufferSpec::Role::kOutput, blocks * 4},
  };
  RETURN_IF_ERROR(runner.Prepare(specs));
  std::memcpy(runner.Input(0), args.a.data(), args.a.size());

  constexpr uint64_t kWorkgroup = 64;  // local_size_x of the kernel
  KernelCall call;
  call.kernel = KernelId::kQuantizeQ8_0;
  call.push = {static_cast<uint32_t>(blocks), 0};
  call.groups_x = static_cast<uint32_t>((blocks + kWorkgroup - 1) / kWorkgroup);
  call.x_base_word = 1;
  RETURN_IF_ERROR(runner.Run(call));

  const uint8_t* qs = runner.Output(1);
  const uint8_t* d = runner.Output(2);
  for (uint64_t b = 0; b < blocks; ++b) {
    uint8_t* block = args.out.data() + b * kQ8_0BlockBytes;
    StoreU16(block, static_cast<uint16_t>(LoadU32(d + b * 4)));
    std::memcpy(block + 2, qs + b * 32, 32);
  }
  return absl::OkStatus();
}

}  // namespace datanode::ops::vulkan
