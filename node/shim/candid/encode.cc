// Copyright 2026 The datanode Authors.
//
// Canonical Candid encoding (see candid.h): the type table holds one entry per
// distinct composite type (deduplicated by its serialized form, children first),
// fields in id order, shortest LEB128.
#include <cstring>
#include <map>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "datanode/ops/status_macros.h"
#include "node/shim/candid/candid.h"
#include "node/shim/candid/leb128.h"

namespace datanode::shim::candid {
namespace {

constexpr uint8_t kMagic[4] = {'D', 'I', 'D', 'L'};

bool IsPrimitive(Op op) {
  return static_cast<int32_t>(op) >= static_cast<int32_t>(Op::kEmpty) || op == Op::kPrincipal;
}

class TypeTable {
 public:
  // The SLEB128 reference of `t`: its opcode if primitive, else its table index.
  absl::StatusOr<int64_t> Ref(const Type& t) {
    if (IsPrimitive(t.op)) {
      if (t.op == Op::kPrincipal) return absl::InvalidArgumentError("principal unsupported");
      return static_cast<int64_t>(t.op);
    }
    std::vector<uint8_t> entry;
    AppendSleb128(static_cast<int32_t>(t.op), &entry);
    switch (t.op) {
      case Op::kOpt:
      case Op::kVec: {
        if (!t.inner) return absl::InvalidArgumentError("opt/vec type without element type");
        ASSIGN_OR_RETURN(int64_t inner, Ref(*t.inner));
        AppendSleb128(inner, &entry);
        break;
      }
      case Op::kRecord:
      case Op::kVariant: {
        AppendLeb128(t.fields.size(), &entry);
        for (const Field& f : t.fields) {
          ASSIGN_OR_RETURN(int64_t ref, Ref(*f.type));
          AppendLeb128(f.id, &entry);
          AppendSleb128(ref, &entry);
        }
        break;
      }
      default:
        return absl::InvalidArgumentError(absl::StrCat("cannot encode type ", TypeToString(t)));
    }
    auto [it, inserted] = index_.emplace(entry, static_cast<int64_t>(entries_.size()));
    if (inserted) entries_.push_back(std::move(entry));
    return it->second;
  }

  void AppendTo(std::vector<uint8_t>* out) const {
    AppendLeb128(entries_.size(), out);
    for (const auto& e : entries_) out->insert(out->end(), e.begin(), e.end());
  }

 private:
  std::map<std::vector<uint8_t>, int64_t> index_;
  std::vector<std::vector<uint8_t>> entries_;
};

absl::Status Mismatch(const Type& t, const char* why) {
  return absl::InvalidArgumentError(
      absl::StrCat("value does not match type ", TypeToString(t), ": ", why));
}

template <typename T>
void AppendLe(T v, std::vector<uint8_t>* out) {
  uint8_t buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));  // little-endian hosts only (x86-64, aarch64)
  out->insert(out->end(), buf, buf + sizeof(T));
}

absl::Status EncodeNat(const Type& t, absl::uint128 v, std::vector<uint8_t>* out) {
  int bits = 0;
  switch (t.op) {
    case Op::kNat:
      AppendLeb128(v, out);
      return absl::OkStatus();
    case Op::kNat8:
      bits = 8;
      break;
    case Op::kNat16:
      bits = 16;
      break;
    case Op::kNat32:
      bits = 32;
      break;
    default:
      bits = 64;
      break;
  }
  if (bits < 128 && (v >> bits) != 0) return Mismatch(t, "out of range");
  const uint64_t low = absl::Uint128Low64(v);
  for (int i = 0; i < bits / 8; ++i) out->push_back(static_cast<uint8_t>(low >> (8 * i)));
  return absl::OkStatus();
}

absl::Status EncodeInt(const Type& t, absl::int128 v, std::vector<uint8_t>* out) {
  int bits = 0;
  switch (t.op) {
    case Op::kInt:
      AppendSleb128(v, out);
      return absl::OkStatus();
    case Op::kInt8:
      bits = 8;
      break;
    case Op::kInt16:
      bits = 16;
      break;
    case Op::kInt32:
      bits = 32;
      break;
    default:
      bits = 64;
      break;
  }
  const absl::int128 lo = -(absl::int128(1) << (bits - 1));
  const absl::int128 hi = (absl::int128(1) << (bits - 1)) - 1;
  if (v < lo || v > hi) return Mismatch(t, "out of range");
  const uint64_t low = absl::Int128Low64(v);
  for (int i = 0; i < bits / 8; ++i) out->push_back(static_cast<uint8_t>(low >> (8 * i)));
  return absl::OkStatus();
}

absl::Status EncodeValue(const Type& t, const Value& v, std::vector<uint8_t>* out) {
  if (v.op != t.op && t.op != Op::kReserved) return Mismatch(t, "wrong kind of value");
  switch (t.op) {
    case Op::kNull:
    case Op::kReserved:
      return absl::OkStatus();
    case Op::kBool:
      out->push_back(v.b ? 1 : 0);
      return absl::OkStatus();
    case Op::kNat:
    case Op::kNat8:
    case Op::kNat16:
    case Op::kNat32:
    case Op::kNat64:
      return EncodeNat(t, v.nat, out);
    case Op::kInt:
    case Op::kInt8:
    case Op::kInt16:
    case Op::kInt32:
    case Op::kInt64:
      return EncodeInt(t, v.integer, out);
    case Op::kFloat32:
      AppendLe(static_cast<float>(v.f), out);
      return absl::OkStatus();
    case Op::kFloat64:
      AppendLe(v.f, out);
      return absl::OkStatus();
    case Op::kText:
      if (!IsValidUtf8({reinterpret_cast<const uint8_t*>(v.text.data()), v.text.size()})) {
        return Mismatch(t, "text is not UTF-8");
      }
      AppendLeb128(v.text.size(), out);
      out->insert(out->end(), v.text.begin(), v.text.end());
      return absl::OkStatus();
    case Op::kOpt:
      if (v.items.size() > 1) return Mismatch(t, "opt with more than one value");
      out->push_back(v.items.empty() ? 0 : 1);
      if (!v.items.empty()) return EncodeValue(*t.inner, v.items[0], out);
      return absl::OkStatus();
    case Op::kVec:
      if (IsBlob(t)) {
        AppendLeb128(v.bytes.size(), out);
        out->insert(out->end(), v.bytes.begin(), v.bytes.end());
        return absl::OkStatus();
      }
      AppendLeb128(v.items.size(), out);
      for (const Value& item : v.items) RETURN_IF_ERROR(EncodeValue(*t.inner, item, out));
      return absl::OkStatus();
    case Op::kRecord: {
      if (v.fields.size() != t.fields.size()) return Mismatch(t, "wrong number of fields");
      for (size_t i = 0; i < t.fields.size(); ++i) {
        if (v.fields[i].first != t.fields[i].id) return Mismatch(t, "missing field");
        RETURN_IF_ERROR(EncodeValue(*t.fields[i].type, v.fields[i].second, out));
      }
      return absl::OkStatus();
    }
    case Op::kVariant: {
      if (v.fields.size() != 1) return Mismatch(t, "variant value needs exactly one tag");
      for (size_t i = 0; i < t.fields.size(); ++i) {
        if (t.fields[i].id == v.fields[0].first) {
          AppendLeb128(i, out);
          return EncodeValue(*t.fields[i].type, v.fields[0].second, out);
        }
      }
      return Mismatch(t, "unknown tag");
    }
    default:
      return Mismatch(t, "unsupported type");
  }
}

}  // namespace

absl::StatusOr<std::vector<uint8_t>> Encode(std::span<const TypeRef> types,
                                            std::span<const Value> values) {
  if (types.size() != values.size()) {
    return absl::InvalidArgumentError("Encode: one value per type expected");
  }
  TypeTable table;
  std::vector<int64_t> refs;
  for (const TypeRef& t : types) {
    ASSIGN_OR_RETURN(int64_t ref, table.Ref(*t));
    refs.push_back(ref);
  }
  std::vector<uint8_t> out(kMagic, kMagic + 4);
  table.AppendTo(&out);
  AppendLeb128(refs.size(), &out);
  for (int64_t ref : refs) AppendSleb128(ref, &out);
  for (size_t i = 0; i < types.size(); ++i)
    RETURN_IF_ERROR(EncodeValue(*types[i], values[i], &out));
  return out;
}

}  // namespace datanode::shim::candid
