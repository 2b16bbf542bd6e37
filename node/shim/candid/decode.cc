// Copyright 2026 The datanode Authors.
//
// Candid decoding of untrusted bytes against a declared type (see candid.h for the
// supported subset, the subtyping rules and the limits). One pass: each value is read
// against its wire type and shaped to the declared type; wire values the declared
// type does not want are skipped, still bounded by the same limits.
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "datanode/ops/status_macros.h"
#include "node/shim/candid/candid.h"
#include "node/shim/candid/leb128.h"

namespace datanode::shim::candid {
namespace {

// A composite type of the wire's type table. Children are wire references: a negative
// primitive opcode or an index into the table.
struct WireEntry {
  Op op = Op::kNull;
  int64_t inner = 0;
  std::vector<std::pair<uint32_t, int64_t>> fields;  // strictly increasing ids
};

absl::Status Bad(const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("invalid Candid: ", what));
}

bool IsSupportedPrimitive(int64_t ref) {
  return ref <= static_cast<int64_t>(Op::kNull) && ref >= static_cast<int64_t>(Op::kEmpty);
}

class Decoder {
 public:
  Decoder(std::span<const uint8_t> bytes, const DecodeLimits& limits)
      : r_(bytes), limits_(limits) {}

  absl::StatusOr<std::vector<Value>> Run(std::span<const TypeRef> types) {
    ASSIGN_OR_RETURN(auto magic, r_.Bytes(4));
    if (std::memcmp(magic.data(), "DIDL", 4) != 0) return Bad("missing DIDL magic");
    RETURN_IF_ERROR(ParseTable());
    ASSIGN_OR_RETURN(uint64_t nargs, r_.Count());
    if (nargs > limits_.max_args) {
      return Bad(absl::StrCat(nargs, " arguments exceed the limit of ", limits_.max_args));
    }
    std::vector<int64_t> arg_refs;
    for (uint64_t i = 0; i < nargs; ++i) {
      ASSIGN_OR_RETURN(int64_t ref, TypeRefAt());
      arg_refs.push_back(ref);
    }
    std::vector<Value> out;
    for (size_t i = 0; i < arg_refs.size(); ++i) {
      if (i < types.size()) {
        ASSIGN_OR_RETURN(Value v, DecodeAs(arg_refs[i], *types[i], 0));
        out.push_back(std::move(v));
      } else {
        RETURN_IF_ERROR(Skip(arg_refs[i], 0));  // extra arguments: checked, ignored
      }
    }
    for (size_t i = arg_refs.size(); i < types.size(); ++i) {
      ASSIGN_OR_RETURN(Value v, Absent(*types[i], absl::StrCat("argument ", i)));
      out.push_back(std::move(v));
    }
    if (r_.remaining() != 0) {
      return Bad(absl::StrCat(r_.remaining(), " bytes trail the last value"));
    }
    return out;
  }

 private:
  // A type reference: a supported primitive opcode or an index below the table size.
  absl::StatusOr<int64_t> TypeRefAt() {
    ASSIGN_OR_RETURN(absl::int128 ref128, r_.Sleb128(64));
    const int64_t ref = static_cast<int64_t>(ref128);
    if (ref >= 0) {
      if (static_cast<uint64_t>(ref) >= table_size_) {
        return Bad(absl::StrCat("type index ", ref, " outside the table of ", table_size_));
      }
      return ref;
    }
    if (ref == static_cast<int64_t>(Op::kPrincipal)) return Bad("principal is not supported");
    if (!IsSupportedPrimitive(ref)) return Bad(absl::StrCat("unknown type opcode ", ref));
    return ref;
  }

  absl::Status ParseTable() {
    ASSIGN_OR_RETURN(uint64_t n, r_.Count());
    if (n > limits_.max_type_entries) {
      return Bad(
          absl::StrCat(n, " type table entries exceed the limit of ", limits_.max_type_entries));
    }
    table_size_ = n;
    table_.resize(n);
    for (uint64_t i = 0; i < n; ++i) {
      ASSIGN_OR_RETURN(absl::int128 op128, r_.Sleb128(32));
      const Op op = static_cast<Op>(static_cast<int32_t>(op128));
      WireEntry& e = table_[i];
      e.op = op;
      switch (op) {
        case Op::kOpt:
        case Op::kVec: {
          ASSIGN_OR_RETURN(e.inner, TypeRefAt());
          break;
        }
        case Op::kRecord:
        case Op::kVariant: {
          ASSIGN_OR_RETURN(uint64_t nf, r_.Count());
          if (nf > limits_.max_fields) {
            return Bad(absl::StrCat(nf, " fields exceed the limit of ", limits_.max_fields));
          }
          for (uint64_t f = 0; f < nf; ++f) {
            ASSIGN_OR_RETURN(absl::uint128 id, r_.Leb128(32));
            ASSIGN_OR_RETURN(int64_t ref, TypeRefAt());
            const uint32_t id32 = static_cast<uint32_t>(id);
            if (!e.fields.empty() && id32 <= e.fields.back().first) {
              return Bad(absl::StrCat("field ids of type ", i, " not strictly increasing"));
            }
            e.fields.emplace_back(id32, ref);
          }
          break;
        }
        case Op::kFunc:
        case Op::kService:
          return Bad("func and service types are not supported");
        default:
          return Bad(absl::StrCat("type table entry ", i, " has opcode ", static_cast<int32_t>(op),
                                  ", not a composite type"));
      }
    }
    return absl::OkStatus();
  }

  Op WireOp(int64_t ref) const {
    return ref < 0 ? static_cast<Op>(ref) : table_[static_cast<size_t>(ref)].op;
  }

  absl::Status Enter(int depth) {
    if (depth > limits_.max_depth) {
      return Bad(absl::StrCat("nesting deeper than ", limits_.max_depth));
    }
    if (++values_ > limits_.max_values) {
      return Bad(absl::StrCat("more than ", limits_.max_values, " values"));
    }
    return absl::OkStatus();
  }

  // The value of a declared type whose wire value is absent (missing field/argument).
  absl::StatusOr<Value> Absent(const Type& want, const std::string& what) {
    if (want.op == Op::kOpt || want.op == Op::kNull || want.op == Op::kReserved) {
      Value v;
      v.op = want.op;
      return v;
    }
    return Bad(absl::StrCat(what, " of type ", TypeToString(want), " is missing"));
  }

  absl::Status Mismatch(int64_t wire, const Type& want) {
    return Bad(
        absl::StrCat("wire type ", WireName(wire), " where ", TypeToString(want), " is expected"));
  }

  std::string WireName(int64_t ref) const {
    if (ref < 0) {
      Type t;
      t.op = static_cast<Op>(ref);
      return TypeToString(t);
    }
    switch (table_[static_cast<size_t>(ref)].op) {
      case Op::kOpt:
        return "opt";
      case Op::kVec:
        return "vec";
      case Op::kRecord:
        return "record";
      default:
        return "variant";
    }
  }

  absl::StatusOr<uint64_t> Length(size_t min_bytes_each) {
    ASSIGN_OR_RETURN(uint64_t n, r_.Count());
    if (min_bytes_each > 0 && n > r_.remaining() / min_bytes_each) {
      return Bad(absl::StrCat("length ", n, " exceeds the ", r_.remaining(), " bytes that remain"));
    }
    if (min_bytes_each == 0 && n > limits_.max_values - values_) {
      return Bad(absl::StrCat("length ", n, " exceeds the value budget"));
    }
    return n;
  }

  absl::StatusOr<absl::uint128> FixedLe(int bytes) {
    ASSIGN_OR_RETURN(auto s, r_.Bytes(bytes));
    absl::uint128 v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | s[i];
    return v;
  }

  static int FixedBytes(Op op) {
    switch (op) {
      case Op::kBool:
      case Op::kNat8:
      case Op::kInt8:
        return 1;
      case Op::kNat16:
      case Op::kInt16:
        return 2;
      case Op::kNat32:
      case Op::kInt32:
      case Op::kFloat32:
        return 4;
      case Op::kNat64:
      case Op::kInt64:
      case Op::kFloat64:
        return 8;
      default:
        return 0;
    }
  }

  // Reads a primitive wire value of opcode `op` into `v` (v.op = op).
  absl::Status ReadPrimitive(Op op, Value* v) {
    v->op = op;
    switch (op) {
      case Op::kNull:
      case Op::kReserved:
        return absl::OkStatus();
      case Op::kEmpty:
        return Bad("a value of type empty cannot exist");
      case Op::kBool: {
        ASSIGN_OR_RETURN(uint8_t b, r_.Byte());
        if (b > 1) return Bad(absl::StrCat("bool byte ", b));
        v->b = b == 1;
        return absl::OkStatus();
      }
      case Op::kNat: {
        ASSIGN_OR_RETURN(v->nat, r_.Leb128(128));
        return absl::OkStatus();
      }
      case Op::kInt: {
        ASSIGN_OR_RETURN(v->integer, r_.Sleb128(128));
        return absl::OkStatus();
      }
      case Op::kNat8:
      case Op::kNat16:
      case Op::kNat32:
      case Op::kNat64: {
        ASSIGN_OR_RETURN(v->nat, FixedLe(FixedBytes(op)));
        return absl::OkStatus();
      }
      case Op::kInt8:
      case Op::kInt16:
      case Op::kInt32:
      case Op::kInt64: {
        const int bytes = FixedBytes(op);
        ASSIGN_OR_RETURN(absl::uint128 u, FixedLe(bytes));
        const int shift = 128 - 8 * bytes;  // sign-extend from the top byte
        v->integer = static_cast<absl::int128>(u << shift) >> shift;
        return absl::OkStatus();
      }
      case Op::kFloat32: {
        ASSIGN_OR_RETURN(auto s, r_.Bytes(4));
        float f;
        std::memcpy(&f, s.data(), 4);
        v->f = f;
        return absl::OkStatus();
      }
      case Op::kFloat64: {
        ASSIGN_OR_RETURN(auto s, r_.Bytes(8));
        std::memcpy(&v->f, s.data(), 8);
        return absl::OkStatus();
      }
      case Op::kText: {
        ASSIGN_OR_RETURN(uint64_t n, Length(1));
        ASSIGN_OR_RETURN(auto s, r_.Bytes(n));
        if (!IsValidUtf8(s)) return Bad("text is not UTF-8");
        v->text.assign(reinterpret_cast<const char*>(s.data()), s.size());
        return absl::OkStatus();
      }
      default:
        return Bad("unsupported primitive");
    }
  }

  // Reads and discards a value of wire type `wire`.
  absl::Status Skip(int64_t wire, int depth) {
    RETURN_IF_ERROR(Enter(depth));
    if (wire < 0) {
      Value ignored;
      return ReadPrimitive(static_cast<Op>(wire), &ignored);
    }
    const WireEntry& e = table_[static_cast<size_t>(wire)];
    switch (e.op) {
      case Op::kOpt: {
        ASSIGN_OR_RETURN(uint8_t tag, r_.Byte());
        if (tag > 1) return Bad(absl::StrCat("opt tag ", tag));
        if (tag == 1) return Skip(e.inner, depth + 1);
        return absl::OkStatus();
      }
      case Op::kVec: {
        if (e.inner == static_cast<int64_t>(Op::kNat8)) {
          ASSIGN_OR_RETURN(uint64_t n, Length(1));
          return r_.Bytes(n).status();
        }
        ASSIGN_OR_RETURN(uint64_t n, Length(0));
        for (uint64_t i = 0; i < n; ++i) RETURN_IF_ERROR(Skip(e.inner, depth + 1));
        return absl::OkStatus();
      }
      case Op::kRecord:
        for (const auto& [id, ref] : e.fields) RETURN_IF_ERROR(Skip(ref, depth + 1));
        return absl::OkStatus();
      default: {  // kVariant
        ASSIGN_OR_RETURN(uint64_t idx, r_.Count());
        if (idx >= e.fields.size()) return Bad(absl::StrCat("variant index ", idx));
        return Skip(e.fields[idx].second, depth + 1);
      }
    }
  }

  absl::StatusOr<Value> DecodeAs(int64_t wire, const Type& want, int depth) {
    if (want.op == Op::kReserved) {  // anything is a subtype of reserved
      RETURN_IF_ERROR(Skip(wire, depth));
      Value v;
      v.op = Op::kReserved;
      return v;
    }
    const Op wop = WireOp(wire);
    if (want.op == Op::kOpt && wop != Op::kOpt) {
      // null and reserved read as an absent opt; any other T is accepted for opt T.
      if (wop == Op::kNull || wop == Op::kReserved) {
        RETURN_IF_ERROR(Skip(wire, depth));
        return MakeOpt(std::nullopt);
      }
      ASSIGN_OR_RETURN(Value inner, DecodeAs(wire, *want.inner, depth + 1));
      return MakeOpt(std::move(inner));
    }
    RETURN_IF_ERROR(Enter(depth));
    if (wire < 0) {
      const bool same = wop == want.op || (want.op == Op::kInt && wop == Op::kNat);
      if (!same) return Mismatch(wire, want);
      Value v;
      RETURN_IF_ERROR(ReadPrimitive(wop, &v));
      if (want.op == Op::kInt && wop == Op::kNat) {
        if ((v.nat >> 127) != 0) return Bad("nat too large for int");
        v.integer = static_cast<absl::int128>(v.nat);
        v.op = Op::kInt;
      }
      return v;
    }
    if (wop != want.op) return Mismatch(wire, want);
    const WireEntry& e = table_[static_cast<size_t>(wire)];
    Value v;
    v.op = want.op;
    switch (e.op) {
      case Op::kOpt: {
        ASSIGN_OR_RETURN(uint8_t tag, r_.Byte());
        if (tag > 1) return Bad(absl::StrCat("opt tag ", tag));
        if (tag == 1) {
          ASSIGN_OR_RETURN(Value inner, DecodeAs(e.inner, *want.inner, depth + 1));
          v.items.push_back(std::move(inner));
        }
        return v;
      }
      case Op::kVec: {
        if (IsBlob(want)) {
          if (e.inner != static_cast<int64_t>(Op::kNat8)) return Mismatch(wire, want);
          ASSIGN_OR_RETURN(uint64_t n, Length(1));
          ASSIGN_OR_RETURN(auto s, r_.Bytes(n));
          v.bytes.assign(s.begin(), s.end());
          return v;
        }
        ASSIGN_OR_RETURN(uint64_t n, Length(0));
        for (uint64_t i = 0; i < n; ++i) {
          ASSIGN_OR_RETURN(Value item, DecodeAs(e.inner, *want.inner, depth + 1));
          v.items.push_back(std::move(item));
        }
        return v;
      }
      case Op::kRecord: {
        size_t j = 0;  // next declared field
        for (const auto& [id, ref] : e.fields) {
          while (j < want.fields.size() && want.fields[j].id < id) {
            ASSIGN_OR_RETURN(
                Value absent,
                Absent(*want.fields[j].type, absl::StrCat("field ", FieldName(want.fields[j]))));
            v.fields.emplace_back(want.fields[j].id, std::move(absent));
            ++j;
          }
          if (j < want.fields.size() && want.fields[j].id == id) {
            ASSIGN_OR_RETURN(Value fv, DecodeAs(ref, *want.fields[j].type, depth + 1));
            v.fields.emplace_back(id, std::move(fv));
            ++j;
          } else {
            RETURN_IF_ERROR(Skip(ref, depth + 1));  // a field the declared type lacks
          }
        }
        for (; j < want.fields.size(); ++j) {
          ASSIGN_OR_RETURN(Value absent, Absent(*want.fields[j].type,
                                                absl::StrCat("field ", FieldName(want.fields[j]))));
          v.fields.emplace_back(want.fields[j].id, std::move(absent));
        }
        return v;
      }
      default: {  // kVariant
        ASSIGN_OR_RETURN(uint64_t idx, r_.Count());
        if (idx >= e.fields.size()) {
          return Bad(absl::StrCat("variant index ", idx, " of ", e.fields.size()));
        }
        const auto& [id, ref] = e.fields[idx];
        for (const Field& f : want.fields) {
          if (f.id == id) {
            ASSIGN_OR_RETURN(Value payload, DecodeAs(ref, *f.type, depth + 1));
            v.fields.emplace_back(id, std::move(payload));
            return v;
          }
        }
        return Bad(absl::StrCat("variant tag ", id, " is not one of ", TypeToString(want)));
      }
    }
  }

  static std::string FieldName(const Field& f) {
    return f.name.empty() ? absl::StrCat(f.id) : f.name;
  }

  Reader r_;
  const DecodeLimits& limits_;
  std::vector<WireEntry> table_;
  uint64_t table_size_ = 0;
  size_t values_ = 0;
};

}  // namespace

absl::StatusOr<std::vector<Value>> Decode(std::span<const uint8_t> bytes,
                                          std::span<const TypeRef> types,
                                          const DecodeLimits& limits) {
  if (bytes.size() > limits.max_input_bytes) {
    return Bad(absl::StrCat("message of ", bytes.size(), " bytes exceeds the limit of ",
                            limits.max_input_bytes));
  }
  Decoder d(bytes, limits);
  absl::StatusOr<std::vector<Value>> values = d.Run(types);
  // Reader errors (lengths, LEB128) carry no prefix of their own: one message style.
  if (!values.ok() && !absl::StartsWith(values.status().message(), "invalid Candid")) {
    return Bad(std::string(values.status().message()));
  }
  return values;
}

}  // namespace datanode::shim::candid
