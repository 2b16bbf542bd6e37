// Copyright 2026 The datanode Authors.
//
// JSON for hostile input (the safetensors header), parsed by simdjson's DOM parser
// (Debian libsimdjson-dev). simdjson validates the whole document before anything is
// read from it: grammar, UTF-8, escapes and surrogates, no trailing bytes. Integers are
// exact (int64 / uint64; a larger literal is an error); only its error-code API is used
// here (no exceptions).
//
// Bounds, both explicit:
// - size: the caller bounds the input (ParseLimits::max_header_bytes for safetensors);
//   the parser allocates about 14 bytes per input byte once per document (structural
//   indexes, tape, string copies; 11 measured resident for 64 MB of bare numbers, 4
//   for a header of tensor entries);
// - depth: arrays and objects nested more than `max_depth` deep are rejected
//   ("nesting too deep").
//
// Errors: INVALID_ARGUMENT "bad JSON: <simdjson's reason>" for any invalid document;
// RESOURCE_EXHAUSTED when the parser's memory cannot be allocated. A JsonDocument is
// immutable once parsed; its elements may be read from several threads.
#ifndef DATANODE_NODE_IMPORT_JSON_H_
#define DATANODE_NODE_IMPORT_JSON_H_

#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "simdjson.h"

namespace datanode::node {

// The most arrays and objects nested inside one another (a safetensors header needs 3).
inline constexpr int kMaxJsonDepth = 16;

// A parsed document. It owns the parser whose buffers root() and every element
// reached from it point into, so elements must not outlive it.
class JsonDocument {
 public:
  // Parses `text` after copying it once into a padded buffer.
  static absl::StatusOr<std::unique_ptr<JsonDocument>> Parse(std::string_view text,
                                                             int max_depth = kMaxJsonDepth);
  // Parses text already in simdjson's padded buffer (no copy); `text` may be freed after.
  static absl::StatusOr<std::unique_ptr<JsonDocument>> ParsePadded(
      const simdjson::padded_string& text, int max_depth = kMaxJsonDepth);

  simdjson::dom::element root() const { return root_; }

 private:
  JsonDocument() = default;
  simdjson::dom::parser parser_;
  simdjson::dom::element root_;
};

// `e` as an integer in [0, INT64_MAX]: INVALID_ARGUMENT for anything else (a negative,
// fractional or exponent number, a uint64 above INT64_MAX, a non-number).
absl::StatusOr<int64_t> JsonNonNegativeInt(simdjson::dom::element e);

}  // namespace datanode::node

#endif  // DATANODE_NODE_IMPORT_JSON_H_
