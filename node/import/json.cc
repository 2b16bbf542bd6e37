// Copyright 2026 The datanode Authors.
#include "node/import/json.h"

#include "absl/strings/str_cat.h"

namespace datanode::node {
namespace {

class Parser {
 public:
  explicit Parser(std::string_view in) : in_(in) {}

  absl::StatusOr<JsonValue> ParseDocument() {
    JsonValue v;
    if (absl::Status s = ParseValue(0, &v); !s.ok()) return s;
    SkipSpace();
    if (pos_ != in_.size()) return Error("trailing characters");
    return v;
  }

 private:
  absl::Status Error(std::string_view why) const {
    return absl::InvalidArgumentError(
        absl::StrCat("bad JSON at byte ", pos_, ": ", std::string(why)));
  }
  void SkipSpace() {
    while (pos_ < in_.size() &&
           (in_[pos_] == ' ' || in_[pos_] == '\t' || in_[pos_] == '\n' || in_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Consume(std::string_view lit) {
    if (in_.substr(pos_, lit.size()) != lit) return false;
    pos_ += lit.size();
    return true;
  }

  absl::Status ParseValue(int depth, JsonValue* out) {
    if (depth > kMaxJsonDepth) return Error("nesting too deep");
    SkipSpace();
    if (pos_ >= in_.size()) return Error("unexpected end");
    char c = in_[pos_];
    if (c == '{') return ParseObject(depth, out);
    if (c == '[') return ParseArray(depth, out);
    if (c == '"') {
      out->type = JsonValue::Type::kString;
      return ParseString(&out->text);
    }
    if (Consume("null")) {
      out->type = JsonValue::Type::kNull;
      return absl::OkStatus();
    }
    if (Consume("true") || Consume("false")) {
      out->type = JsonValue::Type::kBool;
      out->boolean = in_[pos_ - 1] == 'e' && in_[pos_ - 2] == 'u';
      return absl::OkStatus();
    }
    if (c == '-' || (c >= '0' && c <= '9')) return ParseNumber(out);
    return Error("unexpected character");
  }

  absl::Status ParseNumber(JsonValue* out) {
    size_t start = pos_;
    if (in_[pos_] == '-') ++pos_;
    auto digits = [&] {
      size_t s = pos_;
      while (pos_ < in_.size() && in_[pos_] >= '0' && in_[pos_] <= '9') ++pos_;
      return pos_ - s;
    };
    if (digits() == 0) return Error("bad number");
    if (pos_ < in_.size() && in_[pos_] == '.') {
      ++pos_;
      if (digits() == 0) return Error("bad fraction");
    }
    if (pos_ < in_.size() && (in_[pos_] == 'e' || in_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < in_.size() && (in_[pos_] == '+' || in_[pos_] == '-')) ++pos_;
      if (digits() == 0) return Error("bad exponent");
    }
    out->type = JsonValue::Type::kNumber;
    out->text = std::string(in_.substr(start, pos_ - start));
    return absl::OkStatus();
  }

  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  absl::Status ParseHex4(uint32_t* v) {
    if (in_.size() - pos_ < 4) return Error("short \\u escape");
    *v = 0;
    for (int i = 0; i < 4; ++i) {
      char h = in_[pos_++];
      int d = (h >= '0' && h <= '9')   ? h - '0'
              : (h >= 'a' && h <= 'f') ? h - 'a' + 10
              : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                       : -1;
      if (d < 0) return Error("bad \\u escape");
      *v = (*v << 4) | static_cast<uint32_t>(d);
    }
    return absl::OkStatus();
  }

  absl::Status ParseString(std::string* out) {
    ++pos_;  // opening quote
    out->clear();
    while (true) {
      if (pos_ >= in_.size()) return Error("unterminated string");
      char c = in_[pos_++];
      if (c == '"') return absl::OkStatus();
      if (static_cast<unsigned char>(c) < 0x20) return Error("control character in string");
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (pos_ >= in_.size()) return Error("unterminated escape");
      char e = in_[pos_++];
      switch (e) {
        case '"':
          out->push_back('"');
          break;
        case '\\':
          out->push_back('\\');
          break;
        case '/':
          out->push_back('/');
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'u': {
          uint32_t cp = 0;
          if (absl::Status s = ParseHex4(&cp); !s.ok()) return s;
          if (cp >= 0xD800 && cp < 0xDC00) {
            uint32_t lo = 0;
            if (!Consume("\\u")) return Error("lone high surrogate");
            if (absl::Status s = ParseHex4(&lo); !s.ok()) return s;
            if (lo < 0xDC00 || lo >= 0xE000) return Error("bad low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            return Error("lone low surrogate");
          }
          AppendUtf8(cp, out);
          break;
        }
        default:
          return Error("bad escape");
      }
    }
  }

  absl::Status ParseArray(int depth, JsonValue* out) {
    out->type = JsonValue::Type::kArray;
    ++pos_;
    SkipSpace();
    if (Consume("]")) return absl::OkStatus();
    while (true) {
      out->array.emplace_back();
      if (absl::Status s = ParseValue(depth + 1, &out->array.back()); !s.ok()) return s;
      SkipSpace();
      if (Consume(",")) continue;
      if (Consume("]")) return absl::OkStatus();
      return Error("expected , or ]");
    }
  }

  absl::Status ParseObject(int depth, JsonValue* out) {
    out->type = JsonValue::Type::kObject;
    ++pos_;
    SkipSpace();
    if (Consume("}")) return absl::OkStatus();
    while (true) {
      SkipSpace();
      if (pos_ >= in_.size() || in_[pos_] != '"') return Error("expected key");
      std::string key;
      if (absl::Status s = ParseString(&key); !s.ok()) return s;
      SkipSpace();
      if (!Consume(":")) return Error("expected :");
      JsonValue v;
      if (absl::Status s = ParseValue(depth + 1, &v); !s.ok()) return s;
      out->keys.push_back(std::move(key));
      out->values.push_back(std::move(v));
      SkipSpace();
      if (Consume(",")) continue;
      if (Consume("}")) return absl::OkStatus();
      return Error("expected , or }");
    }
  }

  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace

const JsonValue* JsonValue::Find(std::string_view key) const {
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i] == key) return &values[i];
  }
  return nullptr;
}

absl::StatusOr<int64_t> JsonValue::AsNonNegativeInt() const {
  if (type != Type::kNumber || text.empty() || text.size() > 18) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a non-negative integer < 10^18, got '", text, "'"));
  }
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return absl::InvalidArgumentError(absl::StrCat("expected an integer, got '", text, "'"));
    v = v * 10 + (c - '0');
  }
  return v;
}

absl::StatusOr<JsonValue> ParseJson(std::string_view input) {
  return Parser(input).ParseDocument();
}

}  // namespace datanode::node
