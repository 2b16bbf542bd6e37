// Copyright 2026 The datanode Authors.
// libFuzzer target: the model manifest parser. Anything it accepts must serialize
// back to exactly the input (the encoding is canonical: the model digest depends on it).
#include <cstdlib>
#include <string_view>

#include "node/import/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace datanode::node;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto m = ParseManifest(text);
  if (m.ok() && SerializeManifest(*m) != text) abort();
  return 0;
}
