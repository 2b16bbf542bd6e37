// Copyright 2026 The datanode Authors.
//
// GGUF v2/v3 (ggml's docs/gguf.md): "GGUF", u32 version, u64 tensor_count,
// u64 kv_count, kv pairs (string key, u32 type, value), tensor infos (string name,
// u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset), padding to
// general.alignment (default 32), then the data section. Strings are u64 length +
// bytes. Offsets are relative to the data section and multiples of the alignment.
// The fixed header and the key-values are read by ReadGgufHeader (gguf_metadata.h);
// this file reads the tensor infos that follow.
#include "absl/strings/str_cat.h"
#include "datanode/ops/status_macros.h"
#include "node/import/gguf_metadata.h"
#include "node/import/model.h"
#include "node/import/parse_util.h"

namespace datanode::node {
namespace {

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

}  // namespace

absl::StatusOr<ParsedModel> ParseGguf(const ByteSource& source, const ParseLimits& limits) {
  ASSIGN_OR_RETURN(GgufHeader header, ReadGgufHeader(source, limits));
  const int64_t alignment = header.alignment;
  Cursor c(source, limits.max_header_bytes);
  RETURN_IF_ERROR(c.Skip(header.tensor_infos_offset));
  ParsedModel model;
  model.format = ModelFormat::kGguf;
  std::vector<int64_t> rel_offsets;
  for (uint64_t i = 0; i < header.tensor_count; ++i) {
    TensorInfo t;
    uint64_t name_len = 0;
    RETURN_IF_ERROR(c.ReadLe(&name_len));
    if (name_len > static_cast<uint64_t>(limits.max_string_bytes)) {
      return absl::InvalidArgumentError(
          absl::StrCat("GGUF tensor name of ", name_len, " bytes at offset ", c.pos() - 8,
                       " exceeds the limit of ", limits.max_string_bytes));
    }
    t.name.resize(static_cast<size_t>(name_len));
    RETURN_IF_ERROR(c.Read(t.name.data(), static_cast<int64_t>(name_len)));
    auto bad = [&t](std::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("GGUF tensor '", t.name.substr(0, 256), "': ", std::string(why)));
    };
    uint32_t n_dims = 0;
    RETURN_IF_ERROR(c.ReadLe(&n_dims));
    // The format's own bound (GGML_MAX_DIMS): ggml cannot represent a 5-d tensor, so
    // such a file is malformed even when limits.max_rank would allow it.
    if (n_dims > kGgufMaxDims) {
      return bad(absl::StrCat("rank ", n_dims, " too large: GGUF allows at most ", kGgufMaxDims,
                              " dimensions"));
    }
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
