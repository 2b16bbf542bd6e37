// Copyright 2026 The datanode Authors.
//
// The C++ side of the Candid cross-check (candid_crosscheck.py drives it). Reads one
// command per line on stdin and answers one line on stdout:
//   types                    -> "<Name> <candid type text>" per interface type, then "end"
//   gen <Type> <seed>        -> "<hex> <json>": a random value of the type (seeded),
//                               encoded by this codec, and its JSON rendering
//   decode <Type> <hex>      -> "ok <json>" or "err <message>"
// JSON rendering (shared with the Python side): nat/int -> number, text -> string,
// blob -> lower-case hex string, vec -> list, opt -> [] or [v], record -> object by
// field name, variant -> {tag: payload} (payload null for null), bool, null.
#include <cstdint>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "datanode/util/hex.h"
#include "node/shim/candid/candid.h"
#include "node/shim/interface.h"

namespace {

using datanode::shim::candid::Op;
using datanode::shim::candid::Type;
using datanode::shim::candid::TypeRef;
using datanode::shim::candid::Value;
namespace candid = datanode::shim::candid;

using datanode::util::HexEncode;

std::string JsonString(const std::string& s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      o.push_back('\\');
      o.push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      char buf[8];
      snprintf(buf, sizeof buf, "\\u%04x", c);
      o += buf;
    } else {
      o.push_back(static_cast<char>(c));
    }
  }
  return o + "\"";
}

std::string Json(const Type& t, const Value& v) {
  std::ostringstream o;
  switch (t.op) {
    case Op::kNull:
    case Op::kReserved:
      return "null";
    case Op::kBool:
      return v.b ? "true" : "false";
    case Op::kNat:
    case Op::kNat8:
    case Op::kNat16:
    case Op::kNat32:
    case Op::kNat64:
      o << v.nat;
      return o.str();
    case Op::kInt:
    case Op::kInt8:
    case Op::kInt16:
    case Op::kInt32:
    case Op::kInt64:
      o << v.integer;
      return o.str();
    case Op::kText:
      return JsonString(v.text);
    case Op::kOpt:
      return v.items.empty() ? "[]" : "[" + Json(*t.inner, v.items[0]) + "]";
    case Op::kVec: {
      if (candid::IsBlob(t)) return "\"" + HexEncode(v.bytes) + "\"";
      std::string s = "[";
      for (size_t i = 0; i < v.items.size(); ++i) {
        if (i) s += ",";
        s += Json(*t.inner, v.items[i]);
      }
      return s + "]";
    }
    case Op::kRecord: {
      std::string s = "{";
      for (size_t i = 0; i < t.fields.size(); ++i) {
        if (i) s += ",";
        s += JsonString(t.fields[i].name) + ":" + Json(*t.fields[i].type, v.fields[i].second);
      }
      return s + "}";
    }
    case Op::kVariant:
      for (const auto& f : t.fields) {
        if (f.id == v.fields[0].first) {
          return "{" + JsonString(f.name) + ":" + Json(*f.type, v.fields[0].second) + "}";
        }
      }
      return "\"?\"";
    default:
      return "\"unsupported\"";
  }
}

// Random values; seeds 0 and 1 give the smallest and the largest values of each type.
class Gen {
 public:
  explicit Gen(uint64_t seed) : rng_(seed), mode_(seed < 2 ? static_cast<int>(seed) : 2) {}

  Value Make(const Type& t) {
    switch (t.op) {
      case Op::kNat:
        return candid::MakeNat(t.op, mode_ == 0   ? absl::uint128(0)
                                     : mode_ == 1 ? ~absl::uint128(0)
                                                  : RandomBits(128));
      case Op::kNat8:
      case Op::kNat16:
      case Op::kNat32:
      case Op::kNat64: {
        const int bits = t.op == Op::kNat8    ? 8
                         : t.op == Op::kNat16 ? 16
                         : t.op == Op::kNat32 ? 32
                                              : 64;
        const absl::uint128 max = (absl::uint128(1) << bits) - 1;
        return candid::MakeNat(t.op, mode_ == 0   ? absl::uint128(0)
                                     : mode_ == 1 ? max
                                                  : RandomBits(bits));
      }
      case Op::kText:
        return candid::MakeText(RandomText());
      case Op::kBool:
        return candid::MakeBool(mode_ == 1 || (mode_ == 2 && rng_() % 2));
      case Op::kOpt:
        if (mode_ == 0 || (mode_ == 2 && rng_() % 2)) return candid::MakeOpt(std::nullopt);
        return candid::MakeOpt(Make(*t.inner));
      case Op::kVec: {
        const size_t n = mode_ == 0 ? 0 : mode_ == 1 ? 3 : rng_() % 4;
        if (candid::IsBlob(t)) {
          std::vector<uint8_t> b(mode_ == 1 ? 300 : mode_ == 0 ? 0 : rng_() % 70);
          for (auto& x : b) x = static_cast<uint8_t>(rng_());
          return candid::MakeBlob(std::move(b));
        }
        std::vector<Value> items;
        for (size_t i = 0; i < n; ++i) items.push_back(Make(*t.inner));
        return candid::MakeVec(std::move(items));
      }
      case Op::kRecord: {
        Value v;
        v.op = Op::kRecord;
        for (const auto& f : t.fields) v.fields.emplace_back(f.id, Make(*f.type));
        return v;
      }
      case Op::kVariant: {
        const size_t i = mode_ == 0   ? 0
                         : mode_ == 1 ? t.fields.size() - 1
                                      : rng_() % t.fields.size();
        Value v;
        v.op = Op::kVariant;
        v.fields.emplace_back(t.fields[i].id, Make(*t.fields[i].type));
        return v;
      }
      default:
        return candid::MakeNull();
    }
  }

 private:
  absl::uint128 RandomBits(int max_bits) {
    const int bits = static_cast<int>(rng_() % (max_bits + 1));
    absl::uint128 v = absl::MakeUint128(rng_(), rng_());
    return bits == 128 ? v : v & ((absl::uint128(1) << bits) - 1);
  }

  std::string RandomText() {
    if (mode_ == 0) return "";
    static const char* pieces[] = {"blk.0.attn_q.weight", "ä", "模型", "🦀", "\"q\\", "\n", "x"};
    std::string s;
    const int n = mode_ == 1 ? 12 : static_cast<int>(rng_() % 6);
    for (int i = 0; i < n; ++i) s += pieces[rng_() % 7];
    return s;
  }

  std::mt19937_64 rng_;
  int mode_;
};

}  // namespace

int main() {
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd, name, arg;
    in >> cmd >> name >> arg;
    if (cmd == "types") {
      for (const std::string& n : datanode::shim::InterfaceTypeNames()) {
        std::cout << n << " " << candid::TypeToString(*datanode::shim::InterfaceType(n)) << "\n";
      }
      std::cout << "end" << std::endl;
      continue;
    }
    TypeRef t = datanode::shim::InterfaceType(name);
    if (!t) {
      std::cout << "err unknown type " << name << std::endl;
      continue;
    }
    if (cmd == "gen") {
      Gen g(std::stoull(arg));
      Value v = g.Make(*t);
      auto bytes = candid::Encode({&t, 1}, {&v, 1});
      if (!bytes.ok()) {
        std::cout << "err " << bytes.status().message() << std::endl;
        continue;
      }
      std::cout << HexEncode(*bytes) << " " << Json(*t, v) << std::endl;
    } else if (cmd == "decode") {
      auto bytes = datanode::util::HexDecodeBytes(arg, datanode::util::HexCase::kLower);
      if (!bytes.ok()) {
        std::cout << "err bad hex" << std::endl;
        continue;
      }
      auto values = candid::Decode(*bytes, {&t, 1});
      if (!values.ok()) {
        std::cout << "err " << values.status().message() << std::endl;
      } else {
        std::cout << "ok " << Json(*t, (*values)[0]) << std::endl;
      }
    } else {
      std::cout << "err unknown command" << std::endl;
    }
  }
  return 0;
}
