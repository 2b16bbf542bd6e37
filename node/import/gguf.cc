// Copyright 2026 The datanode Authors.
//
// GGUF v2/v3 (ggml's docs/gguf.md): "GGUF", u32 version, u64 tensor_count,
// u64 kv_count, kv pairs (string key, u32 type, value), tensor infos (string name,
// u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset), padding to
// general.alignment (default 32), then the data section. Strings are u64 length +
// bytes. Offsets are relative to the data section and multiples of the alignment.
#include "absl/strings/str_cat.h"
#include "datanode/ops/status_macros.h"
#include "node/import/model.h"
#include "node/import/parse_util.h"

namespace datanode::node {
namespace {

enum GgufType : uint32_t {
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

int64_t ScalarSize(uint32_t type) {
  switch (type) {
    case kU8:
    case kI8:
    case kBool:
      return 1;
    case kU16:
    case kI16:
      return 2;
    case kU32:
    case kI32:
    case kF32:
      return 4;
    case kU64:
    case kI64:
    case kF64:
      return 8;
    default:
      return -1;
  }
}

absl::StatusOr<TensorDtype> FromGgmlType(uint32_t t) {
  switch (t) {
    case 0:
      return TensorDtype::kF32;
    case 1:
      return TensorDtype::kF16;
    case 2:
      return TensorDtype::kQ4_0;
    case 3:
      return TensorDtype::kQ4_1;
    case 8:
      return TensorDtype::kQ8_0;
    case 12:
      return TensorDtype::kQ4_K;
    case 14:
      return TensorDtype::kQ6_K;
    case 24:
      return TensorDtype::kI8;
    case 25:
      return TensorDtype::kI16;
    case 26:
      return TensorDtype::kI32;
    case 27:
      return TensorDtype::kI64;
    case 28:
      return TensorDtype::kF64;
    case 30:
      return TensorDtype::kBF16;
    default:
      return absl::InvalidArgumentError(absl::StrCat("unsupported ggml tensor type ", t));
  }
}

absl::Status ReadString(Cursor& c, const ParseLimits& limits, std::string* out) {
  uint64_t len = 0;
  RETURN_IF_ERROR(c.ReadLe(&len));
  if (len > static_cast<uint64_t>(limits.max_string_bytes)) {
    return absl::InvalidArgumentError(absl::StrCat("GGUF string of ", len, " bytes at offset ",
                                                   c.pos() - 8, " exceeds the limit of ",
                                                   limits.max_string_bytes));
  }
  out->resize(static_cast<size_t>(len));
  return c.Read(out->data(), static_cast<int64_t>(len));
}

absl::Status SkipValue(Cursor& c, const ParseLimits& limits, uint32_t type, bool in_array) {
  if (int64_t sz = ScalarSize(type); sz > 0) return c.Skip(sz);
  if (type == kString) {
    std::string s;
    return ReadString(c, limits, &s);
  }
  if (type == kArray && !in_array) {
    uint32_t elem = 0;
    uint64_t n = 0;
    RETURN_IF_ERROR(c.ReadLe(&elem));
    RETURN_IF_ERROR(c.ReadLe(&n));
    if (n > static_cast<uint64_t>(limits.max_array_elements)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "GGUF array of ", n, " elements exceeds the limit of ", limits.max_array_elements));
    }
    if (int64_t sz = ScalarSize(elem); sz > 0) return c.Skip(sz * static_cast<int64_t>(n));
    if (elem != kString)
      return absl::InvalidArgumentError(absl::StrCat("GGUF array of unsupported type ", elem));
    for (uint64_t i = 0; i < n; ++i) RETURN_IF_ERROR(SkipValue(c, limits, kString, true));
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("GGUF value of unknown type ", type, " at offset ", c.pos()));
}

}  // namespace

absl::StatusOr<ParsedModel> ParseGguf(const ByteSource& source, const ParseLimits& limits) {
  Cursor c(source, limits.max_header_bytes);
  char magic[4];
  RETURN_IF_ERROR(c.Read(magic, 4));
  if (std::memcmp(magic, "GGUF", 4) != 0)
    return absl::InvalidArgumentError("not a GGUF file (bad magic)");
  uint32_t version = 0;
  uint64_t n_tensors = 0, n_kv = 0;
  RETURN_IF_ERROR(c.ReadLe(&version));
  if (version != 2 && version != 3)
    return absl::InvalidArgumentError(absl::StrCat("unsupported GGUF version ", version));
  RETURN_IF_ERROR(c.ReadLe(&n_tensors));
  RETURN_IF_ERROR(c.ReadLe(&n_kv));
  if (n_tensors > static_cast<uint64_t>(limits.max_tensors)) {
    return absl::InvalidArgumentError(absl::StrCat("GGUF tensor count ", n_tensors,
                                                   " exceeds the limit of ", limits.max_tensors));
  }
  if (n_kv > static_cast<uint64_t>(limits.max_kv)) {
    return absl::InvalidArgumentError(
        absl::StrCat("GGUF key-value count ", n_kv, " exceeds the limit of ", limits.max_kv));
  }
  int64_t alignment = 32;
  std::string key;
  for (uint64_t i = 0; i < n_kv; ++i) {
    RETURN_IF_ERROR(ReadString(c, limits, &key));
    uint32_t type = 0;
    RETURN_IF_ERROR(c.ReadLe(&type));
    if (key == "general.alignment") {
      uint32_t a = 0;
      if (type != kU32)
        return absl::InvalidArgumentError("GGUF general.alignment must be a uint32");
      RETURN_IF_ERROR(c.ReadLe(&a));
      if (a == 0 || (a & (a - 1)) != 0 || a > (1u << 20)) {
        return absl::InvalidArgumentError(
            absl::StrCat("GGUF alignment ", a, " is not a power of two <= 2^20"));
      }
      alignment = a;
      continue;
    }
    RETURN_IF_ERROR(SkipValue(c, limits, type, false));
  }
  ParsedModel model;
  model.format = ModelFormat::kGguf;
  std::vector<int64_t> rel_offsets;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    TensorInfo t;
    RETURN_IF_ERROR(ReadString(c, limits, &t.name));
    auto bad = [&t](std::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("GGUF tensor '", t.name.substr(0, 256), "': ", std::string(why)));
    };
    uint32_t n_dims = 0;
    RETURN_IF_ERROR(c.ReadLe(&n_dims));
    if (n_dims > static_cast<uint32_t>(limits.max_rank))
      return bad(absl::StrCat("rank ", n_dims, " too large"));
    t.shape.resize(n_dims);
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t ne = 0;
      RETURN_IF_ERROR(c.ReadLe(&ne));
      if (ne > static_cast<uint64_t>(ops::kMaxTensorBytes))
        return bad(absl::StrCat("dimension ", ne, " too large"));
      t.shape[n_dims - 1 - d] = static_cast<int64_t>(ne);  // innermost first -> row-major
    }
    uint32_t ggml_type = 0;
    uint64_t offset = 0;
    RETURN_IF_ERROR(c.ReadLe(&ggml_type));
    RETURN_IF_ERROR(c.ReadLe(&offset));
    auto dt = FromGgmlType(ggml_type);
    if (!dt.ok()) return bad(std::string(dt.status().message()));
    t.dtype = *dt;
    auto bytes = TensorBytes(t.dtype, t.shape);
    if (!bytes.ok()) return bad(std::string(bytes.status().message()));
    t.size = *bytes;
    if (offset > static_cast<uint64_t>(source.size()))
      return bad(absl::StrCat("offset ", offset, " past end of file"));
    if (offset % static_cast<uint64_t>(alignment) != 0) {
      return bad(
          absl::StrCat("offset ", offset, " is not a multiple of the alignment ", alignment));
    }
    rel_offsets.push_back(static_cast<int64_t>(offset));
    model.tensors.push_back(std::move(t));
  }
  int64_t data_begin = (c.pos() + alignment - 1) / alignment * alignment;
  if (data_begin > source.size())
    return absl::InvalidArgumentError("GGUF data section starts past the end of the file");
  for (size_t i = 0; i < model.tensors.size(); ++i) {
    if (!CheckedAdd(data_begin, rel_offsets[i], &model.tensors[i].offset)) {
      return absl::InvalidArgumentError("GGUF tensor offset overflows");
    }
  }
  RETURN_IF_ERROR(CheckTensorLayout(&model.tensors, data_begin, source.size()));
  return model;
}

}  // namespace datanode::node
