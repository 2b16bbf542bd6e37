// Copyright 2026 The datanode Authors.
//
// Ed25519 against RFC 8032's test vectors 1 and 2, tampering, and key files.
#include "datanode/util/ed25519.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "datanode/util/hex.h"
#include "gtest/gtest.h"

namespace datanode::util {
namespace {

std::vector<uint8_t> Bytes(std::string_view hex) { return *HexDecodeBytes(hex); }

struct Vector {
  const char* seed;
  const char* public_key;
  const char* message;
  const char* signature;
};

// RFC 8032 section 7.1, TEST 1 (empty message) and TEST 2 (one byte).
constexpr Vector kRfc8032[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac"
     "c61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e"
     "458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
};

TEST(UtilEd25519, Rfc8032Vectors) {
  for (const Vector& v : kRfc8032) {
    absl::StatusOr<Ed25519Key> key = Ed25519Key::FromSeed(Bytes(v.seed));
    ASSERT_TRUE(key.ok()) << key.status();
    EXPECT_EQ(HexEncode(key->public_key()), v.public_key);
    const std::vector<uint8_t> msg = Bytes(v.message);
    absl::StatusOr<Ed25519Signature> sig = key->Sign(msg);
    ASSERT_TRUE(sig.ok()) << sig.status();
    EXPECT_EQ(HexEncode(*sig), v.signature);
    EXPECT_TRUE(Ed25519Verify(key->public_key(), msg, *sig));
  }
}

TEST(UtilEd25519, VerifyRejectsTampering) {
  absl::StatusOr<Ed25519Key> key = Ed25519Key::FromSeed(Bytes(kRfc8032[0].seed));
  ASSERT_TRUE(key.ok());
  const std::vector<uint8_t> msg = {1, 2, 3};
  Ed25519Signature sig = *key->Sign(msg);
  EXPECT_TRUE(Ed25519Verify(key->public_key(), msg, sig));
  Ed25519Signature bad = sig;
  bad[10] ^= 1;
  EXPECT_FALSE(Ed25519Verify(key->public_key(), msg, bad));
  EXPECT_FALSE(Ed25519Verify(key->public_key(), std::vector<uint8_t>{1, 2, 4}, sig));
  EXPECT_FALSE(Ed25519Verify(key->public_key(), msg, std::span(sig).first(63)));
  Ed25519PublicKey other = key->public_key();
  other[0] ^= 1;
  EXPECT_FALSE(Ed25519Verify(other, msg, sig));
}

TEST(UtilEd25519, RejectsWrongSeedSize) {
  EXPECT_EQ(Ed25519Key::FromSeed(std::vector<uint8_t>(31)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(UtilEd25519, GeneratedKeysDiffer) {
  absl::StatusOr<Ed25519Key> a = Ed25519Key::Generate(), b = Ed25519Key::Generate();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->public_key(), b->public_key());
}

class UtilKeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("util_ed25519_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(UtilKeyFileTest, FilesRoundTripAndPrivateKeyIsNeverReplaced) {
  const auto priv = dir_ / "key.pem", pub = dir_ / "key.pub.pem";
  ASSERT_TRUE(GenerateEd25519KeyFiles(priv, pub).ok());
  struct stat st {};
  ASSERT_EQ(::stat(priv.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 077, 0u);
  absl::StatusOr<Ed25519Key> key = Ed25519Key::FromPemFile(priv);
  ASSERT_TRUE(key.ok()) << key.status();
  absl::StatusOr<Ed25519PublicKey> from_pub = ReadEd25519PublicKey(pub);
  absl::StatusOr<Ed25519PublicKey> from_priv = ReadEd25519PublicKey(priv);
  ASSERT_TRUE(from_pub.ok() && from_priv.ok());
  EXPECT_EQ(*from_pub, key->public_key());
  EXPECT_EQ(*from_priv, key->public_key());
  const std::vector<uint8_t> msg = {9};
  EXPECT_TRUE(Ed25519Verify(*from_pub, msg, *key->Sign(msg)));

  // A second key never overwrites the first.
  EXPECT_EQ(GenerateEd25519KeyFiles(priv, dir_ / "other.pub.pem").code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Ed25519Key::FromPemFile(priv)->public_key(), key->public_key());
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
  }
}

TEST_F(UtilKeyFileTest, BadFiles) {
  EXPECT_EQ(Ed25519Key::FromPemFile(dir_ / "absent.pem").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadEd25519PublicKey(dir_ / "absent.pem").status().code(), absl::StatusCode::kNotFound);
  std::ofstream(dir_ / "junk.pem") << "not a key\n";
  EXPECT_EQ(Ed25519Key::FromPemFile(dir_ / "junk.pem").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadEd25519PublicKey(dir_ / "junk.pem").status().code(),
            absl::StatusCode::kInvalidArgument);
  // A public key is no private key.
  absl::StatusOr<Ed25519Key> key = Ed25519Key::Generate();
  ASSERT_TRUE(key->WritePublicPem(dir_ / "pub.pem").ok());
  EXPECT_EQ(Ed25519Key::FromPemFile(dir_ / "pub.pem").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace datanode::util
