// Copyright 2026 The datanode Authors.
//
// A small strict JSON parser for hostile input (the safetensors header). Bounded:
// nesting depth <= kMaxJsonDepth, input size is the caller's bound. Numbers are kept
// as their text (only integers are ever needed and are parsed with overflow checks).
// No exceptions; errors are INVALID_ARGUMENT with the byte offset.
#ifndef DATANODE_NODE_IMPORT_JSON_H_
#define DATANODE_NODE_IMPORT_JSON_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace datanode::node {

inline constexpr int kMaxJsonDepth = 16;

struct JsonValue {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  Type type = Type::kNull;
  bool boolean = false;
  std::string text;  // kString: decoded UTF-8; kNumber: the literal
  std::vector<JsonValue> array;
  // kObject: member names and values, in input order (two vectors because a
  // std::pair of an incomplete type is ill-formed).
  std::vector<std::string> keys;
  std::vector<JsonValue> values;

  // The member named `key`, or nullptr.
  const JsonValue* Find(std::string_view key) const;
  // A non-negative integer that fits int64 (no sign, fraction or exponent).
  absl::StatusOr<int64_t> AsNonNegativeInt() const;
};

absl::StatusOr<JsonValue> ParseJson(std::string_view input);

}  // namespace datanode::node

#endif  // DATANODE_NODE_IMPORT_JSON_H_
