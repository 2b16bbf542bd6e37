// Copyright 2026 The datanode Authors.
#include "node/shim/candid/leb128.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace datanode::shim::candid {

bool IsValidUtf8(std::span<const uint8_t> s) {
  size_t i = 0;
  while (i < s.size()) {
    const uint8_t c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    uint32_t min = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (s.size() - i < len) return false;
    for (size_t j = 1; j < len; ++j) {
      if ((s[i + j] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + j] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

void AppendLeb128(absl::uint128 v, std::vector<uint8_t>* out) {
  do {
    uint8_t byte = static_cast<uint8_t>(absl::Uint128Low64(v) & 0x7f);
    v >>= 7;
    if (v != 0) byte |= 0x80;
    out->push_back(byte);
  } while (v != 0);
}

void AppendSleb128(absl::int128 v, std::vector<uint8_t>* out) {
  while (true) {
    uint8_t byte = static_cast<uint8_t>(absl::Int128Low64(v) & 0x7f);
    v >>= 7;  // arithmetic shift: absl::int128 sign-extends
    const bool sign_bit = (byte & 0x40) != 0;
    if ((v == 0 && !sign_bit) || (v == -1 && sign_bit)) {
      out->push_back(byte);
      return;
    }
    out->push_back(byte | 0x80);
  }
}

absl::StatusOr<uint8_t> Reader::Byte() {
  if (pos_ >= bytes_.size()) {
    return absl::InvalidArgumentError(absl::StrCat("unexpected end of input at byte ", pos_));
  }
  return bytes_[pos_++];
}

absl::StatusOr<std::span<const uint8_t>> Reader::Bytes(size_t n) {
  if (n > remaining()) {
    return absl::InvalidArgumentError(absl::StrCat("length ", n, " at byte ", pos_, " exceeds the ",
                                                   remaining(), " bytes that remain"));
  }
  std::span<const uint8_t> s = bytes_.subspan(pos_, n);
  pos_ += n;
  return s;
}

absl::StatusOr<absl::uint128> Reader::Leb128(int max_bits) {
  const size_t start = pos_;
  absl::uint128 result = 0;
  for (int shift = 0;; shift += 7) {
    if (shift >= max_bits) {
      return absl::InvalidArgumentError(
          absl::StrCat("LEB128 number at byte ", start, " exceeds ", max_bits, " bits"));
    }
    if (pos_ >= bytes_.size()) {
      return absl::InvalidArgumentError(absl::StrCat("truncated LEB128 number at byte ", start));
    }
    const uint8_t byte = bytes_[pos_++];
    const absl::uint128 chunk = byte & 0x7f;
    // Bits that would land at or above max_bits must be zero.
    if (shift + 7 > max_bits && (chunk >> (max_bits - shift)) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("LEB128 number at byte ", start, " exceeds ", max_bits, " bits"));
    }
    result |= chunk << shift;
    if ((byte & 0x80) == 0) return result;
  }
}

absl::StatusOr<absl::int128> Reader::Sleb128(int max_bits) {
  const size_t start = pos_;
  absl::uint128 result = 0;
  int shift = 0;
  uint8_t byte = 0;
  // Read at most ceil(max_bits / 7) bytes.
  while (true) {
    if (shift >= max_bits) {
      return absl::InvalidArgumentError(
          absl::StrCat("SLEB128 number at byte ", start, " exceeds ", max_bits, " bits"));
    }
    if (pos_ >= bytes_.size()) {
      return absl::InvalidArgumentError(absl::StrCat("truncated SLEB128 number at byte ", start));
    }
    byte = bytes_[pos_++];
    if (shift < 128) result |= absl::uint128(byte & 0x7f) << shift;
    shift += 7;
    if ((byte & 0x80) == 0) break;
  }
  if (shift < 128 && (byte & 0x40) != 0) result |= ~absl::uint128(0) << shift;  // sign-extend
  const absl::int128 value = static_cast<absl::int128>(result);
  // Range check against max_bits two's complement; also catches bits lost above 128.
  if (max_bits < 128) {
    const absl::int128 lo = -(absl::int128(1) << (max_bits - 1));
    const absl::int128 hi = (absl::int128(1) << (max_bits - 1)) - 1;
    if (value < lo || value > hi) {
      return absl::InvalidArgumentError(
          absl::StrCat("SLEB128 number at byte ", start, " exceeds ", max_bits, " bits"));
    }
  } else if (shift > 128) {
    // The bytes beyond bit 127 must all be copies of the sign bit.
    const bool negative = value < 0;
    const int extra_bits = shift - 128;  // 1..6: the 19th byte carries bits 126..132
    const uint8_t top = static_cast<uint8_t>((byte & 0x7f) >> (7 - extra_bits));
    const uint8_t want = negative ? static_cast<uint8_t>((1 << extra_bits) - 1) : 0;
    if (top != want) {
      return absl::InvalidArgumentError(
          absl::StrCat("SLEB128 number at byte ", start, " exceeds 128 bits"));
    }
  }
  return value;
}

absl::StatusOr<uint64_t> Reader::Count() {
  absl::StatusOr<absl::uint128> v = Leb128(64);
  if (!v.ok()) return v.status();
  return absl::Uint128Low64(*v);
}

}  // namespace datanode::shim::candid
