// Copyright 2026 The datanode Authors.
//
// Hex: round trips over every byte value, and the inputs each decoder rejects.
#include "datanode/util/hex.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace datanode::util {
namespace {

TEST(UtilHex, EncodesLowerCase) {
  const std::vector<uint8_t> bytes = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
  EXPECT_EQ(HexEncode(bytes), "00017f80abff");
  EXPECT_EQ(HexEncode(std::string_view("\x0a\xfe", 2)), "0afe");
  EXPECT_EQ(HexEncode(std::span<const uint8_t>()), "");
}

TEST(UtilHex, RoundTripsEveryByte) {
  std::vector<uint8_t> all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<uint8_t>(i);
  const std::string hex = HexEncode(all);
  ASSERT_EQ(hex.size(), 512u);
  absl::StatusOr<std::vector<uint8_t>> back = HexDecodeBytes(hex, HexCase::kLower);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, all);
  std::string upper = hex;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  back = HexDecodeBytes(upper);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, all);
  absl::StatusOr<std::string> text = HexDecode("48692100");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, std::string("Hi!\0", 4));
}

TEST(UtilHex, RejectsMalformedInput) {
  for (std::string_view bad :
       {std::string_view("a"), std::string_view("abc"), std::string_view("0g"),
        std::string_view("g0"), std::string_view(" 00"), std::string_view("00 "),
        std::string_view("0x00"), std::string_view("-1"), std::string_view("zz"),
        std::string_view("\0\0", 2)}) {
    EXPECT_FALSE(IsHex(bad)) << bad;
    EXPECT_EQ(HexDecode(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  // Upper case is refused only where the text must be canonical.
  EXPECT_TRUE(IsHex("AbCd"));
  EXPECT_FALSE(IsHex("AbCd", HexCase::kLower));
  EXPECT_EQ(HexDecode("AB", HexCase::kLower).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(IsHex(""));
}

TEST(UtilHex, DecodeToNeedsTheExactLength) {
  uint8_t out[4] = {};
  EXPECT_TRUE(HexDecodeTo("deadBEEF", out).ok());
  EXPECT_EQ(out[0], 0xde);
  EXPECT_EQ(out[3], 0xef);
  EXPECT_EQ(HexDecodeTo("deadbe", out).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HexDecodeTo("deadbeef00", out).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HexDecodeTo("deadbeeg", out).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace datanode::util
