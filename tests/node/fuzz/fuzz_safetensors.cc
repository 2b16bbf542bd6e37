// Copyright 2026 The datanode Authors.
// libFuzzer target: the safetensors parser on arbitrary bytes. Any parse that
// succeeds must describe tensors inside the input, sized by dtype and shape.
#include <cstdlib>

#include "node/import/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace datanode::node;
  ParseLimits limits;
  limits.max_header_bytes = 1 << 20;
  MemorySource src(std::string_view(reinterpret_cast<const char*>(data), size));
  auto m = ParseSafetensors(src, limits);
  if (!m.ok()) return 0;
  for (const TensorInfo& t : m->tensors) {
    auto bytes = TensorBytes(t.dtype, t.shape);
    if (!bytes.ok() || *bytes != t.size || t.offset < 8 ||
        t.offset + t.size > static_cast<int64_t>(size))
      abort();
  }
  return 0;
}
