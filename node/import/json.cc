// Copyright 2026 The datanode Authors.
#include "node/import/json.h"

#include "absl/strings/str_cat.h"

namespace datanode::node {

absl::StatusOr<std::unique_ptr<JsonDocument>> JsonDocument::Parse(std::string_view text,
                                                                  int max_depth) {
  return ParsePadded(simdjson::padded_string(text), max_depth);
}

absl::StatusOr<std::unique_ptr<JsonDocument>> JsonDocument::ParsePadded(
    const simdjson::padded_string& text, int max_depth) {
  if (max_depth < 1) return absl::InvalidArgumentError("JSON max_depth must be at least 1");
  std::unique_ptr<JsonDocument> doc(new JsonDocument());
  // The parser holds exactly this document: its capacity and ceiling are its size.
  doc->parser_ = simdjson::dom::parser(text.size());
  simdjson::error_code error = doc->parser_.allocate(text.size(), static_cast<size_t>(max_depth));
  if (error == simdjson::SUCCESS) {
    error =
        doc->parser_.parse(text.data(), text.size(), /*realloc_if_needed=*/false).get(doc->root_);
  }
  if (error == simdjson::DEPTH_ERROR) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad JSON: nesting too deep (at most ", max_depth, " levels)"));
  }
  if (error == simdjson::MEMALLOC) {
    return absl::ResourceExhaustedError(
        absl::StrCat("no memory to parse a JSON document of ", text.size(), " bytes"));
  }
  if (error != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(absl::StrCat("bad JSON: ", simdjson::error_message(error)));
  }
  return doc;
}

absl::StatusOr<int64_t> JsonNonNegativeInt(simdjson::dom::element e) {
  int64_t v = 0;
  if (!e.is_int64() || e.get_int64().get(v) != simdjson::SUCCESS || v < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected a non-negative integer below 2^63, got ", simdjson::to_string(e).substr(0, 32)));
  }
  return v;
}

}  // namespace datanode::node
