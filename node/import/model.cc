// Copyright 2026 The datanode Authors.
#include "node/import/model.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "datanode/ops/status_macros.h"
#include "datanode/util/hex.h"
#include "node/import/parse_util.h"

namespace datanode::node {
namespace {

struct DtypeDesc {
  TensorDtype dtype;
  const char* name;
  int64_t block_elems;
  int64_t block_bytes;
};

constexpr DtypeDesc kDtypes[] = {
    {TensorDtype::kF32, "F32", 1, 4},       {TensorDtype::kF16, "F16", 1, 2},
    {TensorDtype::kBF16, "BF16", 1, 2},     {TensorDtype::kI8, "I8", 1, 1},
    {TensorDtype::kQ8_0, "Q8_0", 32, 34},   {TensorDtype::kQ4_0, "Q4_0", 32, 18},
    {TensorDtype::kQ4_1, "Q4_1", 32, 20},   {TensorDtype::kQ4_K, "Q4_K", 256, 144},
    {TensorDtype::kQ6_K, "Q6_K", 256, 210}, {TensorDtype::kU8, "U8", 1, 1},
    {TensorDtype::kI16, "I16", 1, 2},       {TensorDtype::kI32, "I32", 1, 4},
    {TensorDtype::kI64, "I64", 1, 8},       {TensorDtype::kF64, "F64", 1, 8},
};

const DtypeDesc* Describe(TensorDtype d) {
  for (const auto& e : kDtypes) {
    if (e.dtype == d) return &e;
  }
  return nullptr;
}

constexpr char kManifestMagic[] = "datanode-model v1";

absl::StatusOr<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) {
    return absl::InvalidArgumentError(absl::StrCat("bad integer '", std::string(s), "'"));
  }
  return v;
}

std::vector<std::string_view> SplitWords(std::string_view line) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < line.size()) {
    size_t sp = line.find(' ', pos);
    if (sp == std::string_view::npos) sp = line.size();
    out.push_back(line.substr(pos, sp - pos));
    pos = sp + 1;
  }
  return out;
}

}  // namespace

const char* TensorDtypeName(TensorDtype dtype) {
  const DtypeDesc* d = Describe(dtype);
  return d ? d->name : "UNSPECIFIED";
}

absl::StatusOr<TensorDtype> TensorDtypeFromName(std::string_view name) {
  for (const auto& e : kDtypes) {
    if (name == e.name) return e.dtype;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported dtype '", std::string(name.substr(0, 32)), "'"));
}

const char* ModelFormatName(ModelFormat format) {
  switch (format) {
    case ModelFormat::kSafetensors:
      return "safetensors";
    case ModelFormat::kGguf:
      return "gguf";
    default:
      return "unspecified";
  }
}

absl::StatusOr<int64_t> TensorBytes(TensorDtype dtype, const std::vector<int64_t>& shape) {
  const DtypeDesc* d = Describe(dtype);
  if (d == nullptr) return absl::InvalidArgumentError("unknown dtype");
  int64_t elems = 1;
  for (int64_t dim : shape) {
    if (dim < 0) return absl::InvalidArgumentError("negative dimension");
    if (!CheckedMul(elems, dim, &elems) || elems > ops::kMaxTensorBytes) {
      return absl::InvalidArgumentError("tensor element count overflows");
    }
  }
  int64_t inner = shape.empty() ? 1 : shape.back();
  if (inner % d->block_elems != 0) {
    return absl::InvalidArgumentError(absl::StrCat("innermost dimension ", inner,
                                                   " is not a multiple of the ", d->name,
                                                   " block size ", d->block_elems));
  }
  int64_t bytes = 0;
  if (!CheckedMul(elems / d->block_elems, d->block_bytes, &bytes) || bytes > ops::kMaxTensorBytes) {
    return absl::InvalidArgumentError("tensor too large");
  }
  return bytes;
}

absl::Status MemorySource::ReadAt(int64_t offset, int64_t length, uint8_t* out) const {
  if (offset < 0 || length < 0 || offset > size() || length > size() - offset) {
    return absl::OutOfRangeError(
        absl::StrCat("read [", offset, ", +", length, ") past end ", size()));
  }
  if (length > 0) std::memcpy(out, bytes_.data() + offset, static_cast<size_t>(length));
  return absl::OkStatus();
}

absl::Status CheckTensorLayout(std::vector<TensorInfo>* tensors, int64_t data_begin,
                               int64_t data_end) {
  std::sort(tensors->begin(), tensors->end(),
            [](const TensorInfo& a, const TensorInfo& b) { return a.name < b.name; });
  for (size_t i = 1; i < tensors->size(); ++i) {
    if ((*tensors)[i].name == (*tensors)[i - 1].name) {
      return absl::InvalidArgumentError(
          absl::StrCat("duplicate tensor name '", (*tensors)[i].name, "'"));
    }
  }
  std::vector<const TensorInfo*> by_offset;
  for (const TensorInfo& t : *tensors) {
    int64_t end;
    if (t.offset < data_begin || !CheckedAdd(t.offset, t.size, &end) || end > data_end) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", t.name, "' bytes [", t.offset, ", +", t.size,
                       ") lie outside the data section [", data_begin, ", ", data_end, ")"));
    }
    by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorInfo* prev = by_offset[i - 1];
    if (by_offset[i]->offset < prev->offset + prev->size) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensors '", prev->name, "' and '", by_offset[i]->name, "' overlap"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ParsedModel> ParseModelFile(const ByteSource& source, const ParseLimits& limits) {
  uint8_t magic[9] = {};
  const int64_t head = std::min<int64_t>(source.size(), 9);
  RETURN_IF_ERROR(source.ReadAt(0, head, magic));
  if (head >= 4 && std::memcmp(magic, "GGUF", 4) == 0) return ParseGguf(source, limits);
  if (head < 9) return ParseSafetensors(source, limits);  // names it truncated
  // safetensors has no magic, but its JSON header starts right after the u64 length,
  // with '{' (the reference implementation refuses anything else; '[' and JSON
  // whitespace are let through so that the JSON parser names what is wrong). Anything
  // else is neither format: say so, instead of reading the first 8 bytes as a (huge)
  // header length.
  const uint8_t first = magic[8];
  if (first == '{' || first == '[' || first == ' ' || first == '\t' || first == '\n' ||
      first == '\r') {
    return ParseSafetensors(source, limits);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "not a model file: bad magic ",
      DescribeMagic(std::string_view(reinterpret_cast<const char*>(magic), 4)),
      " (expected \"GGUF\", or a safetensors u64 header length followed by '{')"));
}

const TensorInfo* ModelManifest::Find(std::string_view name) const {
  auto it = std::lower_bound(tensors.begin(), tensors.end(), name,
                             [](const TensorInfo& t, std::string_view n) { return t.name < n; });
  return (it != tensors.end() && it->name == name) ? &*it : nullptr;
}

std::string SerializeManifest(const ModelManifest& m) {
  std::string out =
      absl::StrCat(kManifestMagic, "\nformat ", ModelFormatName(m.format), "\nsource ",
                   ops::ToHex(m.source), " ", m.source_size, "\ntensors ", m.tensors.size(), "\n");
  for (const TensorInfo& t : m.tensors) {
    absl::StrAppend(&out, "tensor ", util::HexEncode(t.name), " ", TensorDtypeName(t.dtype), " ",
                    t.shape.size());
    for (int64_t d : t.shape) absl::StrAppend(&out, " ", d);
    absl::StrAppend(&out, " ", t.offset, " ", t.size, "\n");
  }
  return out;
}

absl::StatusOr<ModelManifest> ParseManifest(std::string_view text) {
  std::vector<std::string_view> lines;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos)
      return absl::InvalidArgumentError("manifest lacks final newline");
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  if (lines.size() < 4 || lines[0] != kManifestMagic)
    return absl::InvalidArgumentError("not a model manifest");
  ModelManifest m;
  auto fmt = SplitWords(lines[1]);
  if (fmt.size() != 2 || fmt[0] != "format") return absl::InvalidArgumentError("bad format line");
  if (fmt[1] == "gguf") {
    m.format = ModelFormat::kGguf;
  } else if (fmt[1] == "safetensors") {
    m.format = ModelFormat::kSafetensors;
  } else {
    return absl::InvalidArgumentError("unknown model format");
  }
  auto src = SplitWords(lines[2]);
  if (src.size() != 3 || src[0] != "source") return absl::InvalidArgumentError("bad source line");
  if (src[1].size() != 64) return absl::InvalidArgumentError("bad source digest");
  ASSIGN_OR_RETURN(std::string raw, util::HexDecode(src[1], util::HexCase::kLower));
  std::memcpy(m.source.data(), raw.data(), 32);
  ASSIGN_OR_RETURN(m.source_size, ParseInt(src[2]));
  auto cnt = SplitWords(lines[3]);
  if (cnt.size() != 2 || cnt[0] != "tensors") return absl::InvalidArgumentError("bad tensors line");
  ASSIGN_OR_RETURN(int64_t count, ParseInt(cnt[1]));
  if (count != static_cast<int64_t>(lines.size()) - 4)
    return absl::InvalidArgumentError("tensor count mismatch");
  for (size_t i = 4; i < lines.size(); ++i) {
    auto w = SplitWords(lines[i]);
    if (w.size() < 6 || w[0] != "tensor") return absl::InvalidArgumentError("bad tensor line");
    TensorInfo t;
    ASSIGN_OR_RETURN(t.name, util::HexDecode(w[1], util::HexCase::kLower));
    ASSIGN_OR_RETURN(t.dtype, TensorDtypeFromName(w[2]));
    ASSIGN_OR_RETURN(int64_t rank, ParseInt(w[3]));
    if (rank < 0 || rank > 16 || static_cast<int64_t>(w.size()) != 6 + rank) {
      return absl::InvalidArgumentError("bad tensor rank");
    }
    for (int64_t r = 0; r < rank; ++r) {
      ASSIGN_OR_RETURN(int64_t d, ParseInt(w[4 + r]));
      t.shape.push_back(d);
    }
    ASSIGN_OR_RETURN(t.offset, ParseInt(w[4 + rank]));
    ASSIGN_OR_RETURN(t.size, ParseInt(w[5 + rank]));
    ASSIGN_OR_RETURN(int64_t want, TensorBytes(t.dtype, t.shape));
    if (want != t.size) return absl::InvalidArgumentError("tensor size does not match shape");
    m.tensors.push_back(std::move(t));
  }
  RETURN_IF_ERROR(CheckTensorLayout(&m.tensors, 0, m.source_size));
  if (SerializeManifest(m) != text)
    return absl::InvalidArgumentError("manifest is not in canonical form");
  return m;
}

}  // namespace datanode::node
