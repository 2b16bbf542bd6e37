// Copyright 2026 The datanode Authors.
//
// Hexadecimal text for bytes: the one encoder and decoder of the project (digests,
// nonces, keys, names in manifests). Encoding is abseil's BytesToHexString; decoding
// validates first (this abseil's HexStringToBytes accepts anything), then converts with
// abseil.
//
// Output is always lower case, two characters per byte. Errors: INVALID_ARGUMENT for an
// odd length or a character that is not a hex digit of the accepted case.
// Thread safety: every function is thread-safe (no state).
#ifndef DATANODE_UTIL_HEX_H_
#define DATANODE_UTIL_HEX_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace datanode::util {

// Lower-case hex of `bytes`, 2 * bytes.size() characters.
std::string HexEncode(std::span<const uint8_t> bytes);
std::string HexEncode(std::string_view bytes);

// Which letters a decoder accepts. kLower is for canonical text (manifests, digests a
// peer must send exactly), where two spellings of one value must not both parse.
enum class HexCase { kAny, kLower };

// True if `hex` has an even length and only hex digits of `letters` case.
bool IsHex(std::string_view hex, HexCase letters = HexCase::kAny);

// The bytes `hex` spells; INVALID_ARGUMENT unless IsHex(hex, letters).
absl::StatusOr<std::string> HexDecode(std::string_view hex, HexCase letters = HexCase::kAny);
absl::StatusOr<std::vector<uint8_t>> HexDecodeBytes(std::string_view hex,
                                                    HexCase letters = HexCase::kAny);
// Decodes exactly out.size() bytes; INVALID_ARGUMENT for any other length.
absl::Status HexDecodeTo(std::string_view hex, std::span<uint8_t> out,
                         HexCase letters = HexCase::kAny);

}  // namespace datanode::util

#endif  // DATANODE_UTIL_HEX_H_
