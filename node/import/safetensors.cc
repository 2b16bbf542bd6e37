// Copyright 2026 The datanode Authors.
//
// safetensors: u64 LE header length N, N bytes of JSON
//   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {string: string}}
// then the data section; offsets are relative to its start (8 + N).
#include <memory>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "datanode/ops/status_macros.h"
#include "node/import/json.h"
#include "node/import/model.h"
#include "node/import/parse_util.h"

namespace datanode::node {

absl::StatusOr<ParsedModel> ParseSafetensors(const ByteSource& source, const ParseLimits& limits) {
  if (source.size() < 8) {
    return absl::InvalidArgumentError(
        absl::StrCat("safetensors file of ", source.size(), " bytes is truncated"));
  }
  uint8_t len_bytes[8];
  RETURN_IF_ERROR(source.ReadAt(0, 8, len_bytes));
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  if (header_len > static_cast<uint64_t>(limits.max_header_bytes)) {
    return absl::InvalidArgumentError(absl::StrCat("safetensors header of ", header_len,
                                                   " bytes exceeds the limit of ",
                                                   limits.max_header_bytes));
  }
  if (static_cast<int64_t>(header_len) > source.size() - 8) {
    return absl::InvalidArgumentError(absl::StrCat("safetensors header of ", header_len,
                                                   " bytes runs past the end of the ",
                                                   source.size(), "-byte file"));
  }
  // Read straight into simdjson's padded buffer: the header is copied once.
  simdjson::padded_string header(static_cast<size_t>(header_len));
  RETURN_IF_ERROR(source.ReadAt(8, static_cast<int64_t>(header_len),
                                reinterpret_cast<uint8_t*>(header.data())));
  ASSIGN_OR_RETURN(std::unique_ptr<JsonDocument> doc, JsonDocument::ParsePadded(header));
  simdjson::dom::object root;
  if (doc->root().get(root) != simdjson::SUCCESS)
    return absl::InvalidArgumentError("safetensors header is not a JSON object");
  int64_t entries = 0;
  for ([[maybe_unused]] simdjson::dom::key_value_pair entry : root) ++entries;
  if (entries > limits.max_tensors + 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("safetensors header lists ", entries, " entries, limit ", limits.max_tensors));
  }
  const int64_t data_begin = 8 + static_cast<int64_t>(header_len);
  ParsedModel model;
  model.format = ModelFormat::kSafetensors;
  // Members in input order; a repeated name is kept twice and refused by the layout check.
  for (simdjson::dom::key_value_pair entry : root) {
    const std::string name(entry.key);
    if (name == "__metadata__") continue;
    auto bad = [&name](std::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("safetensors tensor '", name.substr(0, 256), "': ", std::string(why)));
    };
    simdjson::dom::object v;
    if (entry.value.get(v) != simdjson::SUCCESS) return bad("entry is not an object");
    // at_key finds the first member of that name, as the format's writers emit one.
    std::string_view dtype_text;
    simdjson::dom::array shape, offsets;
    if (v.at_key("dtype").get(dtype_text) != simdjson::SUCCESS) return bad("missing dtype");
    const std::string dtype(dtype_text);
    if (v.at_key("shape").get(shape) != simdjson::SUCCESS) return bad("missing shape");
    if (v.at_key("data_offsets").get(offsets) != simdjson::SUCCESS || offsets.size() != 2) {
      return bad("data_offsets must be [begin, end]");
    }
    TensorInfo t;
    t.name = name;
    auto dt = TensorDtypeFromName(dtype);
    // Block formats are GGUF-only; safetensors names only element types.
    if (!dt.ok() || *dt == TensorDtype::kQ8_0 || *dt == TensorDtype::kQ4_0 ||
        *dt == TensorDtype::kQ4_1 || *dt == TensorDtype::kQ4_K || *dt == TensorDtype::kQ6_K) {
      return bad(absl::StrCat("unsupported dtype '", dtype.substr(0, 32), "'"));
    }
    t.dtype = *dt;
    if (static_cast<int64_t>(shape.size()) > limits.max_rank) return bad("rank too large");
    for (simdjson::dom::element d : shape) {
      auto dim = JsonNonNegativeInt(d);
      if (!dim.ok()) return bad(absl::StrCat("shape: ", dim.status().message()));
      t.shape.push_back(*dim);
    }
    auto begin = JsonNonNegativeInt(offsets.at(0).value_unsafe());
    auto end = JsonNonNegativeInt(offsets.at(1).value_unsafe());
    if (!begin.ok() || !end.ok() || *end < *begin)
      return bad("data_offsets must be integers with begin <= end");
    auto want = TensorBytes(t.dtype, t.shape);
    if (!want.ok()) return bad(std::string(want.status().message()));
    if (*end - *begin != *want) {
      return bad(absl::StrCat("data_offsets span ", *end - *begin,
                              " bytes but dtype and shape need ", *want));
    }
    if (!CheckedAdd(data_begin, *begin, &t.offset)) return bad("offset overflows");
    t.size = *want;
    model.tensors.push_back(std::move(t));
  }
  RETURN_IF_ERROR(CheckTensorLayout(&model.tensors, data_begin, source.size()));
  return model;
}

}  // namespace datanode::node
