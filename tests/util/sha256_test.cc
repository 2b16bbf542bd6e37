// Copyright 2026 The datanode Authors.
//
// SHA-256 against the FIPS 180-2 known answers, and the streaming form against the
// one-shot form for every split of a message.
#include "datanode/util/sha256.h"

#include <string>
#include <vector>

#include "datanode/util/hex.h"
#include "gtest/gtest.h"

namespace datanode::util {
namespace {

TEST(UtilSha256, KnownAnswers) {
  EXPECT_EQ(HexEncode(Sha256OfString("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HexEncode(Sha256OfString("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexEncode(Sha256OfString("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(UtilSha256, MillionAsStreamed) {
  Sha256Hasher hasher;
  const std::string block(1000, 'a');
  for (int i = 0; i < 1000; ++i) hasher.Update(block);
  EXPECT_EQ(HexEncode(hasher.Finish()),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // Finish starts over: the next digest is of the next bytes only.
  hasher.Update(std::string_view("abc"));
  EXPECT_EQ(HexEncode(hasher.Finish()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(UtilSha256, StreamingEqualsOneShotAtEverySplit) {
  std::vector<uint8_t> msg(200);
  for (size_t i = 0; i < msg.size(); ++i) msg[i] = static_cast<uint8_t>(i * 7 + 3);
  const Sha256 whole = Sha256Of({msg});
  for (size_t cut = 0; cut <= msg.size(); ++cut) {
    std::span<const uint8_t> all(msg);
    EXPECT_EQ(Sha256Of({all.first(cut), all.subspan(cut)}), whole) << "cut " << cut;
    Sha256Hasher hasher;
    hasher.Update(all.first(cut));
    hasher.Update(all.subspan(cut));
    EXPECT_EQ(hasher.Finish(), whole) << "cut " << cut;
  }
}

TEST(UtilSha256, MovedHasherKeepsItsState) {
  Sha256Hasher a;
  a.Update(std::string_view("ab"));
  Sha256Hasher b = std::move(a);
  b.Update(std::string_view("c"));
  EXPECT_EQ(b.Finish(), Sha256OfString("abc"));
}

TEST(UtilSha256, FromHex) {
  const std::string hex = "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD";
  absl::StatusOr<Sha256> d = Sha256FromHex(hex);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, Sha256OfString("abc"));
  EXPECT_EQ(Sha256FromHex(hex.substr(2)).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(Sha256FromHex(hex.substr(2)).status().message().find("64 hex"), std::string::npos);
  std::string bad = hex;
  bad[5] = 'g';
  EXPECT_EQ(Sha256FromHex(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace datanode::util
