// Copyright 2026 The datanode Authors.
//
// safetensors: u64 LE header length N, N bytes of JSON
//   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {string: string}}
// then the data section; offsets are relative to its start (8 + N).
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
  std::string header(static_cast<size_t>(header_len), '\0');
  RETURN_IF_ERROR(source.ReadAt(8, static_cast<int64_t>(header_len),
                                reinterpret_cast<uint8_t*>(header.data())));
  ASSIGN_OR_RETURN(JsonValue root, ParseJson(header));
  if (root.type != JsonValue::Type::kObject)
    return absl::InvalidArgumentError("safetensors header is not a JSON object");
  if (static_cast<int64_t>(root.keys.size()) > limits.max_tensors + 1) {
    return absl::InvalidArgumentError(absl::StrCat("safetensors header lists ", root.keys.size(),
                                                   " entries, limit ", limits.max_tensors));
  }
  const int64_t data_begin = 8 + static_cast<int64_t>(header_len);
  ParsedModel model;
  model.format = ModelFormat::kSafetensors;
  for (size_t i = 0; i < root.keys.size(); ++i) {
    const std::string& name = root.keys[i];
    const JsonValue& v = root.values[i];
    if (name == "__metadata__") continue;
    auto bad = [&name](std::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("safetensors tensor '", name.substr(0, 256), "': ", std::string(why)));
    };
    if (v.type != JsonValue::Type::kObject) return bad("entry is not an object");
    const JsonValue* dtype = v.Find("dtype");
    const JsonValue* shape = v.Find("shape");
    const JsonValue* offsets = v.Find("data_offsets");
    if (!dtype || dtype->type != JsonValue::Type::kString) return bad("missing dtype");
    if (!shape || shape->type != JsonValue::Type::kArray) return bad("missing shape");
    if (!offsets || offsets->type != JsonValue::Type::kArray || offsets->array.size() != 2) {
      return bad("data_offsets must be [begin, end]");
    }
    TensorInfo t;
    t.name = name;
    auto dt = TensorDtypeFromName(dtype->text);
    // Block formats are GGUF-only; safetensors names only element types.
    if (!dt.ok() || *dt == TensorDtype::kQ8_0 || *dt == TensorDtype::kQ4_0 ||
        *dt == TensorDtype::kQ4_1 || *dt == TensorDtype::kQ4_K || *dt == TensorDtype::kQ6_K) {
      return bad(absl::StrCat("unsupported dtype '", dtype->text.substr(0, 32), "'"));
    }
    t.dtype = *dt;
    if (static_cast<int64_t>(shape->array.size()) > limits.max_rank) return bad("rank too large");
    for (const JsonValue& d : shape->array) {
      auto dim = d.AsNonNegativeInt();
      if (!dim.ok()) return bad(absl::StrCat("shape: ", dim.status().message()));
      t.shape.push_back(*dim);
    }
    auto begin = offsets->array[0].AsNonNegativeInt();
    auto end = offsets->array[1].AsNonNegativeInt();
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
