// Copyright 2026 The datanode Authors.
//
// A Candid (https://github.com/dfinity/candid/blob/master/spec/Candid.md) encoder and
// decoder for the types the data node's interface uses. There is no C++ Candid
// library in this environment, so this one is written by hand from the spec; it is
// cross-checked against the independent Python implementation `icp-py-core` in
// tests/shim/candid_crosscheck.py.
//
// Supported: null, bool, nat, int (up to 128 bits: larger values are rejected), nat8..
// nat64, int8..int64, float32, float64, text, reserved, empty (as a type only), opt,
// vec (vec nat8 = blob kept as bytes), record, variant. Not supported (rejected with
// INVALID_ARGUMENT): principal, func, service.
//
// Decoding treats the input as hostile: every length and count is checked against the
// bytes that remain, the type table and every value are bounded (DecodeLimits),
// recursion is bounded by depth, zero-sized elements (vec null) are bounded by a value
// budget, LEB128 numbers longer than their type allows are rejected, text must be UTF-8
// and no bytes may trail the last value. Errors are INVALID_ARGUMENT with a reason.
//
// Decoding follows the spec's subtyping for what a canister may reasonably send:
// record fields the declared type lacks are skipped, missing opt / reserved / null
// fields read as absent, a non-opt value is accepted for an opt, nat is accepted for
// int, and extra arguments are ignored. Encoding is canonical: one type table entry
// per distinct composite type, fields in id order, shortest LEB128.
#ifndef DATANODE_NODE_SHIM_CANDID_CANDID_H_
#define DATANODE_NODE_SHIM_CANDID_CANDID_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/status/statusor.h"

namespace datanode::shim::candid {

// Type opcodes of the wire format (negative SLEB128 values).
enum class Op : int32_t {
  kNull = -1,
  kBool = -2,
  kNat = -3,
  kInt = -4,
  kNat8 = -5,
  kNat16 = -6,
  kNat32 = -7,
  kNat64 = -8,
  kInt8 = -9,
  kInt16 = -10,
  kInt32 = -11,
  kInt64 = -12,
  kFloat32 = -13,
  kFloat64 = -14,
  kText = -15,
  kReserved = -16,
  kEmpty = -17,
  kOpt = -18,
  kVec = -19,
  kRecord = -20,
  kVariant = -21,
  kFunc = -22,
  kService = -23,
  kPrincipal = -24,
};

// The field id of a label: the spec's hash (h = h * 223 + byte, mod 2^32).
uint32_t IdlHash(std::string_view label);

struct Type;
using TypeRef = std::shared_ptr<const Type>;

struct Field {
  uint32_t id = 0;
  std::string name;  // "" for tuple-style fields named by number only
  TypeRef type;      // for a variant's payload-less tags: Null()
};

// A declared type (an acyclic tree; the interface has no recursive types).
struct Type {
  Op op = Op::kNull;
  TypeRef inner;              // kOpt, kVec
  std::vector<Field> fields;  // kRecord, kVariant: sorted by id, ids unique
};

TypeRef Prim(Op op);
TypeRef Null();
TypeRef Opt(TypeRef inner);
TypeRef Vec(TypeRef inner);
TypeRef Blob();  // vec nat8
// Fields are given by name; ids are IdlHash(name). Sorted here; duplicate ids abort
// (a programming error in a declared type, never input-driven).
TypeRef Record(std::vector<std::pair<std::string, TypeRef>> fields);
TypeRef Variant(std::vector<std::pair<std::string, TypeRef>> tags);

bool IsBlob(const Type& t);
// Candid text syntax of a type, e.g. "record {m : nat32; a : blob}" (for messages).
std::string TypeToString(const Type& t);

// A value of a declared type. Which members are meaningful depends on `op`:
// kBool: b; kNat, kNat8..kNat64: nat; kInt, kInt8..kInt64: integer; kFloat32/64: f;
// kText: text; kVec of nat8: bytes; other kVec: items; kOpt: items (0 or 1);
// kRecord: fields (sorted by id); kVariant: fields (exactly one); kNull/kReserved: none.
struct FieldValue;

struct Value {
  Op op = Op::kNull;
  bool b = false;
  absl::uint128 nat = 0;
  absl::int128 integer = 0;
  double f = 0;
  std::string text;
  std::vector<uint8_t> bytes;
  std::vector<Value> items;
  std::vector<FieldValue> fields;

  // Record field / variant payload by name (IdlHash); nullptr if absent.
  const Value* Get(std::string_view name) const;
};

// One record field or variant payload: (field id, value). A struct rather than
// std::pair<uint32_t, Value> because clang rejects a pair of the still-incomplete Value
// inside Value with libstdc++ 12; the member names keep pair's.
struct FieldValue {
  FieldValue() = default;
  FieldValue(uint32_t id, Value value) : first(id), second(std::move(value)) {}
  uint32_t first = 0;  // field id (IdlHash of the name)
  Value second;
};

// Builders for the values the shim produces.
Value MakeNull();
Value MakeBool(bool b);
Value MakeNat(Op op, absl::uint128 v);  // kNat or kNat8..kNat64
Value MakeInt(Op op, absl::int128 v);   // kInt or kInt8..kInt64
Value MakeText(std::string s);
Value MakeBlob(std::vector<uint8_t> bytes);
Value MakeVec(std::vector<Value> items);
Value MakeOpt(std::optional<Value> v);
Value MakeRecord(std::vector<std::pair<std::string, Value>> fields);
Value MakeVariant(std::string tag, Value payload = MakeNull());

struct DecodeLimits {
  size_t max_input_bytes = size_t{8} << 20;  // whole message
  size_t max_type_entries = 256;             // type table entries
  size_t max_fields = 256;                   // fields of one record / variant type
  size_t max_args = 32;                      // values in the argument sequence
  int max_depth = 48;                        // nesting of values and of types
  size_t max_values = size_t{1} << 20;       // values decoded or skipped in total
};

// Encodes `values` (each of the type at the same index) as one Candid message.
// INVALID_ARGUMENT if a value does not match its type (a programming error).
absl::StatusOr<std::vector<uint8_t>> Encode(std::span<const TypeRef> types,
                                            std::span<const Value> values);

// Decodes a Candid message as the argument sequence `types` (extra wire arguments are
// checked and ignored; missing ones are an error unless their type is opt/null/reserved).
absl::StatusOr<std::vector<Value>> Decode(std::span<const uint8_t> bytes,
                                          std::span<const TypeRef> types,
                                          const DecodeLimits& limits = {});

}  // namespace datanode::shim::candid

#endif  // DATANODE_NODE_SHIM_CANDID_CANDID_H_
