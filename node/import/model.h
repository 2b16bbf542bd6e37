// Copyright 2026 The datanode Authors.
//
// Model files (safetensors, GGUF) and the model manifest (docs/store.md).
//
// The parsers treat every file as hostile: the header size, tensor and key counts,
// string lengths and ranks are bounded (ParseLimits); all arithmetic is checked;
// every tensor's bytes must lie inside the file's data section, be consistent with its
// dtype and shape, and not overlap another tensor; GGUF offsets must respect the
// file's alignment (general.alignment, default 32). Errors are INVALID_ARGUMENT naming
// the file offset or tensor; the parsers never read outside [0, source.size()).
//
// Shapes are row-major, outermost dimension first (safetensors order). GGUF lists
// dimensions innermost first (ne[0]); they are reversed here, so a GGUF linear weight
// with ne = [K, N] becomes shape [N, K], the W[N, K] layout of the ops.
#ifndef DATANODE_NODE_IMPORT_MODEL_H_
#define DATANODE_NODE_IMPORT_MODEL_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "datanode/ops/digest.h"

namespace datanode::node {

// Element / block formats a tensor may have. Values are stable (stored in manifests).
enum class TensorDtype : uint8_t {
  kUnspecified = 0,
  kF32 = 1,
  kF16 = 2,
  kBF16 = 3,
  kI8 = 4,
  kQ8_0 = 5,
  kQ4_0 = 6,
  kQ4_1 = 7,
  kQ4_K = 8,
  kQ6_K = 9,
  kU8 = 10,
  kI16 = 11,
  kI32 = 12,
  kI64 = 13,
  kF64 = 14,
};

const char* TensorDtypeName(TensorDtype dtype);  // "F32", "Q8_0", ...
absl::StatusOr<TensorDtype> TensorDtypeFromName(std::string_view name);

// Bytes of a tensor of `dtype` and `shape`; INVALID_ARGUMENT on overflow, negative
// dimensions, or an innermost dimension that is not a multiple of the block size.
absl::StatusOr<int64_t> TensorBytes(TensorDtype dtype, const std::vector<int64_t>& shape);

enum class ModelFormat : uint8_t { kUnspecified = 0, kSafetensors = 1, kGguf = 2 };
const char* ModelFormatName(ModelFormat format);  // "safetensors", "gguf"

struct TensorInfo {
  std::string name;
  TensorDtype dtype = TensorDtype::kUnspecified;
  std::vector<int64_t> shape;
  int64_t offset = 0;  // absolute byte offset in the source file
  int64_t size = 0;    // bytes
};

struct ParseLimits {
  int64_t max_header_bytes = int64_t{256} << 20;
  int64_t max_tensors = 1 << 16;
  int64_t max_kv = 1 << 16;
  int64_t max_string_bytes = 1 << 16;
  int64_t max_array_elements = int64_t{1} << 24;
  int max_rank = 8;
};

// Random access to a file's bytes (a file on disk, a stored object, a test buffer).
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual int64_t size() const = 0;
  // Reads exactly [offset, offset + length) into out; OUT_OF_RANGE past the end.
  virtual absl::Status ReadAt(int64_t offset, int64_t length, uint8_t* out) const = 0;
};

class MemorySource : public ByteSource {
 public:
  explicit MemorySource(std::string_view bytes) : bytes_(bytes) {}
  int64_t size() const override { return static_cast<int64_t>(bytes_.size()); }
  absl::Status ReadAt(int64_t offset, int64_t length, uint8_t* out) const override;

 private:
  std::string_view bytes_;
};

struct ParsedModel {
  ModelFormat format = ModelFormat::kUnspecified;
  std::vector<TensorInfo> tensors;  // sorted by name
};

absl::StatusOr<ParsedModel> ParseSafetensors(const ByteSource& source,
                                             const ParseLimits& limits = {});
absl::StatusOr<ParsedModel> ParseGguf(const ByteSource& source, const ParseLimits& limits = {});
// Chooses by magic: "GGUF" at offset 0, or safetensors when byte 8 can start its JSON
// header ('{', '[' or whitespace); anything else is INVALID_ARGUMENT naming the bad
// magic. Files under 9 bytes go to the safetensors parser, which names them truncated.
absl::StatusOr<ParsedModel> ParseModelFile(const ByteSource& source,
                                           const ParseLimits& limits = {});

// What a model digest names: the source file (a store object) and its tensors.
struct ModelManifest {
  ModelFormat format = ModelFormat::kUnspecified;
  ops::Sha256 source{};  // store object holding the file's bytes
  int64_t source_size = 0;
  std::vector<TensorInfo> tensors;  // sorted by name

  const TensorInfo* Find(std::string_view name) const;
};

// Canonical text encoding (deterministic: the model digest is its SHA-256).
std::string SerializeManifest(const ModelManifest& manifest);
// INVALID_ARGUMENT (DATA_LOSS is the caller's choice) for anything malformed.
absl::StatusOr<ModelManifest> ParseManifest(std::string_view text);

}  // namespace datanode::node

#endif  // DATANODE_NODE_IMPORT_MODEL_H_
