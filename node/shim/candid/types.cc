// Copyright 2026 The datanode Authors.
//
// Declared types and values of the hand-written Candid codec (see candid.h).
#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "node/shim/candid/candid.h"

namespace datanode::shim::candid {

uint32_t IdlHash(std::string_view label) {
  uint32_t h = 0;
  for (unsigned char c : label) h = h * 223 + c;  // wraps mod 2^32 by definition
  return h;
}

TypeRef Prim(Op op) {
  auto t = std::make_shared<Type>();
  t->op = op;
  return t;
}

TypeRef Null() { return Prim(Op::kNull); }

TypeRef Opt(TypeRef inner) {
  auto t = std::make_shared<Type>();
  t->op = Op::kOpt;
  t->inner = std::move(inner);
  return t;
}

TypeRef Vec(TypeRef inner) {
  auto t = std::make_shared<Type>();
  t->op = Op::kVec;
  t->inner = std::move(inner);
  return t;
}

TypeRef Blob() { return Vec(Prim(Op::kNat8)); }

namespace {

TypeRef Fields(Op op, std::vector<std::pair<std::string, TypeRef>> in) {
  auto t = std::make_shared<Type>();
  t->op = op;
  for (auto& [name, type] : in) {
    t->fields.push_back(Field{IdlHash(name), name, type ? std::move(type) : Null()});
  }
  std::sort(t->fields.begin(), t->fields.end(),
            [](const Field& a, const Field& b) { return a.id < b.id; });
  for (size_t i = 1; i < t->fields.size(); ++i) {
    if (t->fields[i].id == t->fields[i - 1].id) std::abort();  // declared-type bug
  }
  return t;
}

}  // namespace

TypeRef Record(std::vector<std::pair<std::string, TypeRef>> fields) {
  return Fields(Op::kRecord, std::move(fields));
}

TypeRef Variant(std::vector<std::pair<std::string, TypeRef>> tags) {
  return Fields(Op::kVariant, std::move(tags));
}

bool IsBlob(const Type& t) { return t.op == Op::kVec && t.inner && t.inner->op == Op::kNat8; }

std::string TypeToString(const Type& t) {
  switch (t.op) {
    case Op::kNull:
      return "null";
    case Op::kBool:
      return "bool";
    case Op::kNat:
      return "nat";
    case Op::kInt:
      return "int";
    case Op::kNat8:
      return "nat8";
    case Op::kNat16:
      return "nat16";
    case Op::kNat32:
      return "nat32";
    case Op::kNat64:
      return "nat64";
    case Op::kInt8:
      return "int8";
    case Op::kInt16:
      return "int16";
    case Op::kInt32:
      return "int32";
    case Op::kInt64:
      return "int64";
    case Op::kFloat32:
      return "float32";
    case Op::kFloat64:
      return "float64";
    case Op::kText:
      return "text";
    case Op::kReserved:
      return "reserved";
    case Op::kEmpty:
      return "empty";
    case Op::kPrincipal:
      return "principal";
    case Op::kFunc:
      return "func";
    case Op::kService:
      return "service";
    case Op::kOpt:
      return absl::StrCat("opt ", TypeToString(*t.inner));
    case Op::kVec:
      return IsBlob(t) ? "blob" : absl::StrCat("vec ", TypeToString(*t.inner));
    case Op::kRecord:
    case Op::kVariant: {
      std::vector<std::string> parts;
      for (const Field& f : t.fields) {
        std::string label = f.name.empty() ? absl::StrCat(f.id) : f.name;
        if (t.op == Op::kVariant && f.type->op == Op::kNull) {
          parts.push_back(label);
        } else {
          parts.push_back(absl::StrCat(label, " : ", TypeToString(*f.type)));
        }
      }
      return absl::StrCat(t.op == Op::kRecord ? "record {" : "variant {",
                          absl::StrJoin(parts, "; "), "}");
    }
  }
  return "?";
}

const Value* Value::Get(std::string_view name) const {
  const uint32_t id = IdlHash(name);
  for (const auto& [fid, v] : fields) {
    if (fid == id) return &v;
  }
  return nullptr;
}

Value MakeNull() { return Value{}; }

Value MakeBool(bool b) {
  Value v;
  v.op = Op::kBool;
  v.b = b;
  return v;
}

Value MakeNat(Op op, absl::uint128 n) {
  Value v;
  v.op = op;
  v.nat = n;
  return v;
}

Value MakeInt(Op op, absl::int128 i) {
  Value v;
  v.op = op;
  v.integer = i;
  return v;
}

Value MakeText(std::string s) {
  Value v;
  v.op = Op::kText;
  v.text = std::move(s);
  return v;
}

Value MakeBlob(std::vector<uint8_t> bytes) {
  Value v;
  v.op = Op::kVec;
  v.bytes = std::move(bytes);
  return v;
}

Value MakeVec(std::vector<Value> items) {
  Value v;
  v.op = Op::kVec;
  v.items = std::move(items);
  return v;
}

Value MakeOpt(std::optional<Value> inner) {
  Value v;
  v.op = Op::kOpt;
  if (inner) v.items.push_back(std::move(*inner));
  return v;
}

Value MakeRecord(std::vector<std::pair<std::string, Value>> fields) {
  Value v;
  v.op = Op::kRecord;
  for (auto& [name, fv] : fields) v.fields.emplace_back(IdlHash(name), std::move(fv));
  std::sort(v.fields.begin(), v.fields.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return v;
}

Value MakeVariant(std::string tag, Value payload) {
  Value v;
  v.op = Op::kVariant;
  v.fields.emplace_back(IdlHash(tag), std::move(payload));
  return v;
}

}  // namespace datanode::shim::candid
