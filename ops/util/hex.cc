// Copyright 2026 The datanode Authors.
#include "datanode/util/hex.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace datanode::util {
namespace {

bool IsHexDigit(char c, HexCase letters) {
  if (c >= '0' && c <= '9') return true;
  if (c >= 'a' && c <= 'f') return true;
  return letters == HexCase::kAny && c >= 'A' && c <= 'F';
}

absl::Status Validate(std::string_view hex, HexCase letters) {
  if (hex.size() % 2 != 0) {
    return absl::InvalidArgumentError(absl::StrCat("odd hex length ", hex.size()));
  }
  for (char c : hex) {
    if (!IsHexDigit(c, letters)) {
      return absl::InvalidArgumentError(letters == HexCase::kLower ? "not lower-case hex"
                                                                   : "not hex");
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string HexEncode(std::span<const uint8_t> bytes) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

std::string HexEncode(std::string_view bytes) {
  // This abseil's string_view is its own type, not std::string_view.
  return absl::BytesToHexString(absl::string_view(bytes.data(), bytes.size()));
}

bool IsHex(std::string_view hex, HexCase letters) { return Validate(hex, letters).ok(); }

absl::StatusOr<std::string> HexDecode(std::string_view hex, HexCase letters) {
  if (absl::Status s = Validate(hex, letters); !s.ok()) return s;
  return absl::HexStringToBytes(absl::string_view(hex.data(), hex.size()));
}

absl::StatusOr<std::vector<uint8_t>> HexDecodeBytes(std::string_view hex, HexCase letters) {
  absl::StatusOr<std::string> raw = HexDecode(hex, letters);
  if (!raw.ok()) return raw.status();
  return std::vector<uint8_t>(raw->begin(), raw->end());
}

absl::Status HexDecodeTo(std::string_view hex, std::span<uint8_t> out, HexCase letters) {
  if (hex.size() != 2 * out.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected ", 2 * out.size(), " hex characters, got ", hex.size()));
  }
  absl::StatusOr<std::string> raw = HexDecode(hex, letters);
  if (!raw.ok()) return raw.status();
  std::memcpy(out.data(), raw->data(), out.size());
  return absl::OkStatus();
}

}  // namespace datanode::util
