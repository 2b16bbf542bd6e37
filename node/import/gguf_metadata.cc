// Copyright 2026 The datanode Authors.
//
// GGUF v2/v3 header: "GGUF", u32 version, u64 tensor_count, u64 kv_count, then kv_count
// pairs (string key, u32 type, value). Strings are u64 length + bytes; an array is
// u32 element type, u64 count, elements (no nested arrays).
#include "node/import/gguf_metadata.h"

#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "datanode/ops/status_macros.h"
#include "node/import/parse_util.h"

namespace datanode::node {
namespace {

// A key for an error message, quoted and bounded. (Debian's abseil, 20220623, has its
// own string_view, so StrCat does not take a std::string_view directly.)
std::string Quote(std::string_view key) {
  return absl::StrCat("'", std::string(key.substr(0, 256)), "'");
}

// Bytes of one scalar of `type`, or -1 for string / array / unknown.
int64_t ScalarSize(GgufType type) {
  switch (type) {
    case GgufType::kU8:
    case GgufType::kI8:
    case GgufType::kBool:
      return 1;
    case GgufType::kU16:
    case GgufType::kI16:
      return 2;
    case GgufType::kU32:
    case GgufType::kI32:
    case GgufType::kF32:
      return 4;
    case GgufType::kU64:
    case GgufType::kI64:
    case GgufType::kF64:
      return 8;
    default:
      return -1;
  }
}

bool IsInteger(GgufType t) {
  switch (t) {
    case GgufType::kU8:
    case GgufType::kI8:
    case GgufType::kU16:
    case GgufType::kI16:
    case GgufType::kU32:
    case GgufType::kI32:
    case GgufType::kU64:
    case GgufType::kI64:
      return true;
    default:
      return false;
  }
}

bool IsSigned(GgufType t) {
  return t == GgufType::kI8 || t == GgufType::kI16 || t == GgufType::kI32 || t == GgufType::kI64;
}

// Reads an integer of type `t` (IsInteger) at p, which holds ScalarSize(t) bytes.
// Unsigned values come back in *u, signed ones in *s.
void DecodeInteger(GgufType t, const char* p, uint64_t* u, int64_t* s) {
  switch (t) {
#define DN_GGUF_INT_CASE(TAG, CTYPE, OUT) \
  case GgufType::TAG: {                   \
    CTYPE v;                              \
    std::memcpy(&v, p, sizeof v);         \
    *OUT = v;                             \
    return;                               \
  }
    DN_GGUF_INT_CASE(kU8, uint8_t, u)
    DN_GGUF_INT_CASE(kU16, uint16_t, u)
    DN_GGUF_INT_CASE(kU32, uint32_t, u)
    DN_GGUF_INT_CASE(kU64, uint64_t, u)
    DN_GGUF_INT_CASE(kI8, int8_t, s)
    DN_GGUF_INT_CASE(kI16, int16_t, s)
    DN_GGUF_INT_CASE(kI32, int32_t, s)
    DN_GGUF_INT_CASE(kI64, int64_t, s)
#undef DN_GGUF_INT_CASE
    default:
      return;
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
  if (static_cast<int64_t>(len) > c.remaining()) {
    return absl::InvalidArgumentError(
        absl::StrCat("GGUF string of ", len, " bytes at offset ", c.pos() - 8, " is truncated"));
  }
  out->resize(static_cast<size_t>(len));
  return c.Read(out->data(), static_cast<int64_t>(len));
}

// Reads one value of `type` and appends its stored bytes to *raw; for an array also
// sets *element_type and *count.
absl::Status ReadValue(Cursor& c, const ParseLimits& limits, std::string_view key, GgufType type,
                       GgufType* element_type, uint64_t* count, std::string* raw) {
  if (int64_t sz = ScalarSize(type); sz > 0) {
    raw->resize(static_cast<size_t>(sz));
    return c.Read(raw->data(), sz);
  }
  if (type == GgufType::kString) {
    std::string s;
    RETURN_IF_ERROR(ReadString(c, limits, &s));
    uint64_t len = s.size();
    raw->append(reinterpret_cast<const char*>(&len), 8);
    raw->append(s);
    return absl::OkStatus();
  }
  if (type != GgufType::kArray) {
    return absl::InvalidArgumentError(
        absl::StrCat("GGUF key ", Quote(key), ": value of unknown type ",
                     static_cast<uint32_t>(type), " at offset ", c.pos() - 4));
  }
  uint32_t elem = 0;
  uint64_t n = 0;
  RETURN_IF_ERROR(c.ReadLe(&elem));
  RETURN_IF_ERROR(c.ReadLe(&n));
  if (n > static_cast<uint64_t>(limits.max_array_elements)) {
    return absl::InvalidArgumentError(absl::StrCat("GGUF key ", Quote(key), ": array of ", n,
                                                   " elements exceeds the limit of ",
                                                   limits.max_array_elements));
  }
  *element_type = static_cast<GgufType>(elem);
  *count = n;
  if (int64_t sz = ScalarSize(*element_type); sz > 0) {
    // n <= 2^24 and sz <= 8: no overflow. Check before allocating.
    const int64_t bytes = sz * static_cast<int64_t>(n);
    if (bytes > c.remaining()) {
      return absl::InvalidArgumentError(absl::StrCat("GGUF key ", Quote(key), ": array of ", n,
                                                     " elements at offset ", c.pos(),
                                                     " is truncated"));
    }
    raw->resize(static_cast<size_t>(bytes));
    return c.Read(raw->data(), bytes);
  }
  if (*element_type != GgufType::kString) {
    return absl::InvalidArgumentError(
        absl::StrCat("GGUF key ", Quote(key), ": array of unsupported element type ", elem));
  }
  // Each element consumes >= 8 header bytes, so the cursor's limit bounds the work.
  std::string s;
  for (uint64_t i = 0; i < n; ++i) {
    RETURN_IF_ERROR(ReadString(c, limits, &s));
    uint64_t len = s.size();
    raw->append(reinterpret_cast<const char*>(&len), 8);
    raw->append(s);
  }
  return absl::OkStatus();
}

// Splits string-array bytes (u64 length + bytes, repeated) without trusting them.
absl::StatusOr<std::vector<std::string>> DecodeStrings(std::string_view key, std::string_view raw,
                                                       uint64_t count) {
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(std::min<uint64_t>(count, raw.size() / 8)));
  size_t pos = 0;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t len = 0;
    if (raw.size() - pos < 8) break;
    std::memcpy(&len, raw.data() + pos, 8);
    pos += 8;
    if (len > raw.size() - pos) break;
    out.emplace_back(raw.substr(pos, static_cast<size_t>(len)));
    pos += static_cast<size_t>(len);
  }
  if (out.size() != count || pos != raw.size()) {
    return absl::InvalidArgumentError(absl::StrCat("GGUF key ", Quote(key), ": malformed strings"));
  }
  return out;
}

}  // namespace

const char* GgufTypeName(GgufType type) {
  switch (type) {
    case GgufType::kU8:
      return "uint8";
    case GgufType::kI8:
      return "int8";
    case GgufType::kU16:
      return "uint16";
    case GgufType::kI16:
      return "int16";
    case GgufType::kU32:
      return "uint32";
    case GgufType::kI32:
      return "int32";
    case GgufType::kF32:
      return "float32";
    case GgufType::kBool:
      return "bool";
    case GgufType::kString:
      return "string";
    case GgufType::kArray:
      return "array";
    case GgufType::kU64:
      return "uint64";
    case GgufType::kI64:
      return "int64";
    case GgufType::kF64:
      return "float64";
  }
  return "unknown";
}

absl::Status GgufMetadata::Add(std::string key, GgufType type, GgufType element_type,
                               uint64_t count, std::string raw) {
  if (values_.count(key) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("GGUF key '", key.substr(0, 256), "' appears twice"));
  }
  values_.emplace(std::move(key), Value{type, element_type, count, std::move(raw)});
  return absl::OkStatus();
}

void GgufMetadata::SetString(std::string key, std::string_view value) {
  const uint64_t len = value.size();
  std::string raw(reinterpret_cast<const char*>(&len), 8);
  raw.append(value);
  values_[std::move(key)] = Value{GgufType::kString, GgufType::kU8, 0, std::move(raw)};
}

bool GgufMetadata::Has(std::string_view key) const { return values_.find(key) != values_.end(); }

std::vector<std::string> GgufMetadata::Keys() const {
  std::vector<std::string> keys;
  keys.reserve(values_.size());
  for (const auto& [k, v] : values_) keys.push_back(k);
  return keys;
}

absl::StatusOr<const GgufMetadata::Value*> GgufMetadata::Find(std::string_view key) const {
  auto it = values_.find(key);
  if (it == values_.end()) {
    return absl::NotFoundError(absl::StrCat("GGUF key ", Quote(key), " is missing"));
  }
  return &it->second;
}

absl::StatusOr<const GgufMetadata::Value*> GgufMetadata::FindArray(std::string_view key) const {
  ASSIGN_OR_RETURN(const Value* v, Find(key));
  if (v->type != GgufType::kArray) {
    return absl::InvalidArgumentError(
        absl::StrCat("GGUF key ", Quote(key), " is a ", GgufTypeName(v->type), ", not an array"));
  }
  return v;
}

absl::StatusOr<GgufType> GgufMetadata::Type(std::string_view key) const {
  ASSIGN_OR_RETURN(const Value* v, Find(key));
  return v->type;
}

absl::StatusOr<GgufType> GgufMetadata::ArrayElementType(std::string_view key) const {
  ASSIGN_OR_RETURN(const Value* v, FindArray(key));
  return v->element_type;
}

absl::StatusOr<uint64_t> GgufMetadata::ArrayLength(std::string_view key) const {
  ASSIGN_OR_RETURN(const Value* v, FindArray(key));
  return v->count;
}

absl::StatusOr<std::string> GgufMetadata::GetString(std::string_view key) const {
  ASSIGN_OR_RETURN(const Value* v, Find(key));
  if (v->type != GgufType::kString) {
    return absl::InvalidArgumentError(
        absl::StrCat("GGUF key ", Quote(key), " is a ", GgufTypeName(v->type), ", not a string"));
  }
  ASSIGN_OR_RETURN(std::vector<std::string> s, DecodeStrings(key, v->raw, 1));
  return std::move(s[0]);
}

absl::StatusOr<uint64_t> GgufMetadata::GetUint(std::string_view key) const {
  ASSIGN_OR_RETURN(const Value* v, Find(key));
  if (!IsInteger(v->type) || v->raw.size() != static_cast<size_t>(ScalarSize(v->type))) {
    return absl::InvalidArgumentError(
        absl::StrCat("GGUF key ", Quote(key), " is a ", GgufTypeName(v->type), ", not an integer"));
  }
  uint64_t u = 0;
  int64_t s = 0;
  DecodeInteger(v->type, v->raw.data(), &u, &s);
  if (IsSigned(v->type)) {
    if (s < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("GGUF key ", Quote(key), " is negative (", s, ")"));
    }
    u = static_cast<uint64_t>(s);
  }
  return u;
}

absl::StatusOr<float> GgufMetadata::GetF32(std::string_view key) const {
  ASSIGN_OR_RETURN(const Value* v, Find(key));
  if (v->type != GgufType::kF32 || v->raw.size() != 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("GGUF key ", Quote(key), " is a ", GgufTypeName(v->type), ", not a float32"));
  }
  float f;
  std::memcpy(&f, v->raw.data(), 4);
  return f;
}

absl::StatusOr<bool> GgufMetadata::GetBool(std::string_view key) const {
  ASSIGN_OR_RETURN(const Value* v, Find(key));
  if (v->type != GgufType::kBool || v->raw.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("GGUF key ", Quote(key), " is a ", GgufTypeName(v->type), ", not a bool"));
  }
  // ggml writes 0 or 1; any other byte is not a bool.
  if (static_cast<uint8_t>(v->raw[0]) > 1) {
    return absl::InvalidArgumentError(absl::StrCat("GGUF key ", Quote(key), " holds the byte ",
                                                   static_cast<uint8_t>(v->raw[0]),
                                                   ", not a bool"));
  }
  return v->raw[0] == 1;
}

absl::StatusOr<std::vector<std::string>> GgufMetadata::GetStringArray(std::string_view key) const {
  ASSIGN_OR_RETURN(const Value* v, FindArray(key));
  if (v->element_type != GgufType::kString) {
    return absl::InvalidArgumentError(absl::StrCat("GGUF key ", Quote(key), " is an array of ",
                                                   GgufTypeName(v->element_type),
                                                   ", not of strings"));
  }
  return DecodeStrings(key, v->raw, v->count);
}

absl::StatusOr<std::vector<int32_t>> GgufMetadata::GetI32Array(std::string_view key) const {
  ASSIGN_OR_RETURN(const Value* v, FindArray(key));
  const int64_t sz = ScalarSize(v->element_type);
  if (!IsInteger(v->element_type) || v->raw.size() != static_cast<uint64_t>(sz) * v->count) {
    return absl::InvalidArgumentError(absl::StrCat("GGUF key ", Quote(key), " is an array of ",
                                                   GgufTypeName(v->element_type),
                                                   ", not of integers"));
  }
  std::vector<int32_t> out(static_cast<size_t>(v->count));
  for (size_t i = 0; i < out.size(); ++i) {
    uint64_t u = 0;
    int64_t s = 0;
    DecodeInteger(v->element_type, v->raw.data() + i * sz, &u, &s);
    const bool is_signed = IsSigned(v->element_type);
    const bool fits = is_signed ? (s >= std::numeric_limits<int32_t>::min() &&
                                   s <= std::numeric_limits<int32_t>::max())
                                : u <= static_cast<uint64_t>(std::numeric_limits<int32_t>::max());
    if (!fits) {
      return absl::InvalidArgumentError(
          absl::StrCat("GGUF key ", Quote(key), ": element ", i, " does not fit int32"));
    }
    out[i] = is_signed ? static_cast<int32_t>(s) : static_cast<int32_t>(u);
  }
  return out;
}

absl::StatusOr<std::vector<float>> GgufMetadata::GetF32Array(std::string_view key) const {
  ASSIGN_OR_RETURN(const Value* v, FindArray(key));
  if (v->element_type != GgufType::kF32 || v->raw.size() != 4 * v->count) {
    return absl::InvalidArgumentError(absl::StrCat("GGUF key ", Quote(key), " is an array of ",
                                                   GgufTypeName(v->element_type),
                                                   ", not of float32"));
  }
  std::vector<float> out(static_cast<size_t>(v->count));
  std::memcpy(out.data(), v->raw.data(), v->raw.size());
  return out;
}

absl::StatusOr<GgufHeader> ReadGgufHeader(const ByteSource& source, const ParseLimits& limits) {
  Cursor c(source, limits.max_header_bytes);
  char magic[4];
  RETURN_IF_ERROR(c.Read(magic, 4));
  if (std::memcmp(magic, "GGUF", 4) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("not a GGUF file (bad magic ",
                                                   DescribeMagic(std::string_view(magic, 4)), ")"));
  }
  GgufHeader h;
  uint64_t n_kv = 0;
  RETURN_IF_ERROR(c.ReadLe(&h.version));
  if (h.version != 2 && h.version != 3)
    return absl::InvalidArgumentError(absl::StrCat("unsupported GGUF version ", h.version));
  RETURN_IF_ERROR(c.ReadLe(&h.tensor_count));
  RETURN_IF_ERROR(c.ReadLe(&n_kv));
  if (h.tensor_count > static_cast<uint64_t>(limits.max_tensors)) {
    return absl::InvalidArgumentError(absl::StrCat("GGUF tensor count ", h.tensor_count,
                                                   " exceeds the limit of ", limits.max_tensors));
  }
  if (n_kv > static_cast<uint64_t>(limits.max_kv)) {
    return absl::InvalidArgumentError(
        absl::StrCat("GGUF key-value count ", n_kv, " exceeds the limit of ", limits.max_kv));
  }
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key;
    RETURN_IF_ERROR(ReadString(c, limits, &key));
    uint32_t type = 0;
    RETURN_IF_ERROR(c.ReadLe(&type));
    GgufType element_type = GgufType::kU8;
    uint64_t count = 0;
    std::string raw;
    RETURN_IF_ERROR(ReadValue(c, limits, std::string_view(key).substr(0, 256),
                              static_cast<GgufType>(type), &element_type, &count, &raw));
    if (key == "general.alignment") {
      if (type != static_cast<uint32_t>(GgufType::kU32))
        return absl::InvalidArgumentError("GGUF general.alignment must be a uint32");
      uint32_t a = 0;
      std::memcpy(&a, raw.data(), 4);
      if (a == 0 || (a & (a - 1)) != 0 || a > (1u << 20)) {
        return absl::InvalidArgumentError(
            absl::StrCat("GGUF alignment ", a, " is not a power of two <= 2^20"));
      }
      h.alignment = a;
    }
    RETURN_IF_ERROR(h.metadata.Add(std::move(key), static_cast<GgufType>(type), element_type, count,
                                   std::move(raw)));
  }
  h.tensor_infos_offset = c.pos();
  return h;
}

absl::StatusOr<GgufMetadata> ReadGgufMetadata(const ByteSource& source, const ParseLimits& limits) {
  ASSIGN_OR_RETURN(GgufHeader h, ReadGgufHeader(source, limits));
  return std::move(h.metadata);
}

}  // namespace datanode::node
