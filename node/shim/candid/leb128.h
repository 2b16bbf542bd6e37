// Copyright 2026 The datanode Authors.
//
// LEB128 / SLEB128 as Candid uses them (little-endian base-128, shortest form on
// encode). Decoding is bounded: a reader never reads past its span and rejects numbers
// wider than 128 bits, so hostile input cannot make it loop or overflow.
#ifndef DATANODE_NODE_SHIM_CANDID_LEB128_H_
#define DATANODE_NODE_SHIM_CANDID_LEB128_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/status/statusor.h"

namespace datanode::shim::candid {

// Whether `s` is well-formed UTF-8 (no overlong forms, no surrogates, <= U+10FFFF).
bool IsValidUtf8(std::span<const uint8_t> s);

void AppendLeb128(absl::uint128 v, std::vector<uint8_t>* out);
void AppendSleb128(absl::int128 v, std::vector<uint8_t>* out);

// A bounds-checked cursor over untrusted bytes.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  size_t remaining() const { return bytes_.size() - pos_; }
  size_t position() const { return pos_; }

  absl::StatusOr<uint8_t> Byte();
  // The next `n` bytes, or INVALID_ARGUMENT if fewer remain.
  absl::StatusOr<std::span<const uint8_t>> Bytes(size_t n);
  // Unsigned LEB128 of at most `max_bits` significant bits (<= 128).
  absl::StatusOr<absl::uint128> Leb128(int max_bits);
  // Signed LEB128 that must fit in `max_bits` (<= 128) two's complement bits.
  absl::StatusOr<absl::int128> Sleb128(int max_bits);
  // Unsigned LEB128 that must fit in uint64 (lengths, counts, field ids).
  absl::StatusOr<uint64_t> Count();

 private:
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
};

}  // namespace datanode::shim::candid

#endif  // DATANODE_NODE_SHIM_CANDID_LEB128_H_
