// Copyright 2026 The datanode Authors.
//
// The key-value metadata of a GGUF file (ggml's docs/gguf.md): architecture
// hyper-parameters ("llama.block_count", "llama.rope.freq_base", ...) and the tokenizer
// ("tokenizer.ggml.tokens", ".merges", ".pre", ...).
//
// ReadGgufHeader is the one reader of a GGUF header's fixed part and key-value section;
// ParseGguf (tensor infos) and ReadGgufMetadata both go through it. It treats the file
// as hostile like the other parsers (model.h): the header, key and value sizes are
// bounded by ParseLimits, keys are unique, nested arrays and unknown value types are
// rejected, and nothing is read outside [0, min(source.size(), max_header_bytes)).
// Errors are INVALID_ARGUMENT naming the offset or key.
//
// Getters: NOT_FOUND naming a missing key; INVALID_ARGUMENT naming a key whose stored
// type does not fit the getter (e.g. GetString on a uint32, GetUint on a negative
// int8). Values are kept as read, so floats keep their exact bits.
#ifndef DATANODE_NODE_IMPORT_GGUF_METADATA_H_
#define DATANODE_NODE_IMPORT_GGUF_METADATA_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "node/import/model.h"

namespace datanode::node {

// GGUF value types (gguf_type), as stored in the file.
enum class GgufType : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};
const char* GgufTypeName(GgufType type);  // "uint32", "string", ...

// The format's own limit (GGML_MAX_DIMS): a tensor has at most 4 dimensions.
inline constexpr uint32_t kGgufMaxDims = 4;

class GgufMetadata {
 public:
  bool Has(std::string_view key) const;
  std::vector<std::string> Keys() const;  // sorted
  // The stored type of `key` (for arrays: kArray; see ArrayElementType).
  absl::StatusOr<GgufType> Type(std::string_view key) const;
  absl::StatusOr<GgufType> ArrayElementType(std::string_view key) const;
  // Elements of an array value, without decoding them (to bound work before a Get).
  absl::StatusOr<uint64_t> ArrayLength(std::string_view key) const;

  absl::StatusOr<std::string> GetString(std::string_view key) const;
  // Any integer type; INVALID_ARGUMENT when the value is negative.
  absl::StatusOr<uint64_t> GetUint(std::string_view key) const;
  // FLOAT32 only (exact bits kept).
  absl::StatusOr<float> GetF32(std::string_view key) const;
  absl::StatusOr<bool> GetBool(std::string_view key) const;
  absl::StatusOr<std::vector<std::string>> GetStringArray(std::string_view key) const;
  // An array of any integer type whose every element fits int32.
  absl::StatusOr<std::vector<int32_t>> GetI32Array(std::string_view key) const;
  // FLOAT32 arrays only.
  absl::StatusOr<std::vector<float>> GetF32Array(std::string_view key) const;

  // Adds a value read from a file: `raw` holds the value's bytes exactly as stored
  // (for an array: the elements after the element type and count; string elements
  // keep their u64 length prefixes). Used by ReadGgufHeader, which validated `raw`.
  // INVALID_ARGUMENT for a duplicate key.
  absl::Status Add(std::string key, GgufType type, GgufType element_type, uint64_t count,
                   std::string raw);
  // Adds or replaces a string value (tests; metadata made in memory).
  void SetString(std::string key, std::string_view value);

 private:
  struct Value {
    GgufType type = GgufType::kU8;
    GgufType element_type = GgufType::kU8;  // arrays only
    uint64_t count = 0;                     // arrays only
    std::string raw;
  };
  absl::StatusOr<const Value*> Find(std::string_view key) const;
  absl::StatusOr<const Value*> FindArray(std::string_view key) const;

  std::map<std::string, Value, std::less<>> values_;
};

// The header of a GGUF file up to its tensor infos.
struct GgufHeader {
  uint32_t version = 0;             // 2 or 3
  uint64_t tensor_count = 0;        // <= limits.max_tensors
  int64_t alignment = 32;           // general.alignment: a power of two <= 2^20
  int64_t tensor_infos_offset = 0;  // file offset where the tensor infos begin
  GgufMetadata metadata;
};

absl::StatusOr<GgufHeader> ReadGgufHeader(const ByteSource& source, const ParseLimits& limits = {});
absl::StatusOr<GgufMetadata> ReadGgufMetadata(const ByteSource& source,
                                              const ParseLimits& limits = {});

}  // namespace datanode::node

#endif  // DATANODE_NODE_IMPORT_GGUF_METADATA_H_
