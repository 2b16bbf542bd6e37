// Copyright 2026 The datanode Authors.
// libFuzzer target: the GGUF parser on arbitrary bytes (seeded with "GGUF" so the
// fuzzer reaches past the magic). Successful parses must stay inside the input.
#include <cstdlib>
#include <cstring>
#include <string>

#include "node/import/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace datanode::node;
  std::string bytes = "GGUF";
  bytes.append(reinterpret_cast<const char*>(data), size);
  ParseLimits limits;
  limits.max_header_bytes = 1 << 20;
  limits.max_array_elements = 1 << 16;
  auto m = ParseGguf(MemorySource(bytes), limits);
  if (!m.ok()) return 0;
  for (const TensorInfo& t : m->tensors) {
    auto n = TensorBytes(t.dtype, t.shape);
    if (!n.ok() || *n != t.size || t.offset + t.size > static_cast<int64_t>(bytes.size())) abort();
  }
  return 0;
}
