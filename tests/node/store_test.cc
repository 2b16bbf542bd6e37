// Copyright 2026 The datanode Authors.
//
// Unit tests of the weight store on a real temp directory.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "gtest/gtest.h"
#include "node/store/weight_store.h"

namespace datanode::node {
namespace {
namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("dn_store_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  std::unique_ptr<WeightStore> OpenStore(int64_t capacity = 0) {
    auto s = WeightStore::Open({root_, capacity, true});
    EXPECT_TRUE(s.ok()) << s.status();
    return std::move(*s);
  }
  static std::vector<uint8_t> Bytes(size_t n, uint32_t seed) {
    std::vector<uint8_t> v(n);
    std::mt19937 rng(seed);
    for (auto& b : v) b = static_cast<uint8_t>(rng());
    return v;
  }
  std::vector<uint8_t> ReadAll(WeightStore& store, const Sha256& d, absl::Status* status) {
    std::vector<uint8_t> all, piece;
    auto r = store.NewReader(d);
    if (!r.ok()) {
      *status = r.status();
      return all;
    }
    while (true) {
      *status = (*r)->Next(&piece);
      if (!status->ok() || piece.empty()) break;
      all.insert(all.end(), piece.begin(), piece.end());
    }
    return all;
  }
  // The object's name as docs/store.md defines it, written out here independently of
  // ObjectManifestText: SHA-256 of "datanode-object v2", the size and the chunk hashes.
  static Sha256 ManifestDigest(const std::vector<uint8_t>& data) {
    std::string text = "datanode-object v2\nsize " + std::to_string(data.size()) + "\n";
    for (size_t off = 0; off < data.size(); off += kChunkBytes) {
      const size_t len = std::min<size_t>(kChunkBytes, data.size() - off);
      text += "chunk " + ops::ToHex(ops::Sha256Of({ByteSpan(data.data() + off, len)})) + "\n";
    }
    return ops::Sha256Of({ByteSpan(reinterpret_cast<const uint8_t*>(text.data()), text.size())});
  }
  fs::path root_;
};

// Known answers computed with Python's hashlib (the definition, not this code).
TEST_F(StoreTest, ObjectNameIsTheHashOfItsManifest) {
  auto store = OpenStore();
  std::vector<uint8_t> data(2 * kChunkBytes + 5);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>((i * 7 + 3) % 251);
  auto info = store->Put(data);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(ops::ToHex(info->digest),
            "bda8a45bbb34a5123f90427b166cd500dfea604472080e17a54c15a8129d0e9f");
  EXPECT_EQ(info->digest, ObjectDigest(info->size, info->chunks));
  auto empty = store->Put({});
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(ops::ToHex(empty->digest),
            "32d7f40afa5b44478045015710ed1d4fcf8a617ce1b36a19719888585c8b4f4c");
  // The manifest file is exactly the hashed text.
  std::string hex = ops::ToHex(info->digest);
  std::ifstream f(root_ / "objects" / hex.substr(0, 2) / hex, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, ObjectManifestText(info->size, info->chunks));
}

// Migration: an object written before (v1: named by its content's SHA-256, manifest
// with a check line) stays readable under its name, shares chunks with v2 objects,
// and a v1 manifest whose chunks do not give its name fails the whole-object check.
TEST_F(StoreTest, V1ObjectsFromOlderStoresStayReadable) {
  auto data = Bytes(kChunkBytes + 300, 12);
  const Sha256 v1_name = ops::Sha256Of({ByteSpan(data)});
  Sha256 v2_name;
  auto write_v1 = [&](const Sha256& name, const ObjectInfo& info) {
    std::string body = "datanode-object v1\nsize " + std::to_string(info.size) + "\n";
    for (const Sha256& c : info.chunks) body += "chunk " + ops::ToHex(c) + "\n";
    body += "check " +
            ops::ToHex(ops::Sha256Of(
                {ByteSpan(reinterpret_cast<const uint8_t*>(body.data()), body.size())})) +
            "\n";
    std::string hex = ops::ToHex(name);
    fs::create_directories(root_ / "objects" / hex.substr(0, 2));
    std::ofstream(root_ / "objects" / hex.substr(0, 2) / hex, std::ios::binary) << body;
  };
  ObjectInfo other_info;
  {
    auto store = OpenStore();
    auto info = store->Put(data);
    ASSERT_TRUE(info.ok()) << info.status();
    v2_name = info->digest;
    write_v1(v1_name, *info);
    auto other = store->Put(Bytes(kChunkBytes + 300, 13));
    ASSERT_TRUE(other.ok());
    other_info = *other;
    // A v1 manifest naming other content's chunks under data's name.
    write_v1(ops::Sha256Of({ByteSpan(Bytes(7, 14))}), other_info);
  }
  auto store = OpenStore();
  auto stat = store->Stat(v1_name);
  ASSERT_TRUE(stat.ok()) << stat.status();
  EXPECT_TRUE(stat->v1);
  ASSERT_TRUE(store->Delete(v2_name).ok());  // the v1 object keeps the shared chunks
  absl::Status st;
  EXPECT_EQ(ReadAll(*store, v1_name, &st), data);
  EXPECT_TRUE(st.ok()) << st;
  EXPECT_EQ(store->Verify(ops::Sha256Of({ByteSpan(Bytes(7, 14))})).code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(StoreTest, PutGetRoundTripAcrossChunkBoundaries) {
  auto store = OpenStore();
  for (size_t n : {size_t{0}, size_t{1}, size_t(kChunkBytes - 1), size_t(kChunkBytes),
                   size_t(kChunkBytes + 1), size_t(3 * kChunkBytes + 17)}) {
    auto data = Bytes(n, static_cast<uint32_t>(n));
    auto info = store->Put(data);
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_EQ(info->digest, ManifestDigest(data));
    EXPECT_EQ(info->size, static_cast<int64_t>(n));
    EXPECT_EQ(info->chunks.size(), (n + kChunkBytes - 1) / kChunkBytes);
    absl::Status st;
    EXPECT_EQ(ReadAll(*store, info->digest, &st), data) << "n=" << n;
    EXPECT_TRUE(st.ok()) << st;
  }
}

TEST_F(StoreTest, StreamingWriterInSmallPiecesMatchesOneShot) {
  auto store = OpenStore();
  auto data = Bytes(2 * kChunkBytes + 1000, 7);
  auto w = store->NewWriter();
  for (size_t off = 0; off < data.size(); off += 4099) {
    size_t len = std::min<size_t>(4099, data.size() - off);
    ASSERT_TRUE(w->Append(ByteSpan(data.data() + off, len)).ok());
  }
  Sha256 expected = ManifestDigest(data);
  auto info = w->Finish(&expected);
  ASSERT_TRUE(info.ok()) << info.status();
  std::vector<uint8_t> range;
  ASSERT_TRUE(store->ReadRange(info->digest, kChunkBytes - 10, 30, &range).ok());
  EXPECT_EQ(range,
            std::vector<uint8_t>(data.begin() + kChunkBytes - 10, data.begin() + kChunkBytes + 20));
  EXPECT_EQ(store->ReadRange(info->digest, 5, static_cast<int64_t>(data.size()), &range).code(),
            absl::StatusCode::kOutOfRange);
}

TEST_F(StoreTest, WrongExpectedDigestPublishesNothing) {
  auto store = OpenStore();
  auto data = Bytes(1000, 1);
  auto w = store->NewWriter();
  ASSERT_TRUE(w->Append(data).ok());
  Sha256 wrong{};
  EXPECT_EQ(w->Finish(&wrong).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(store->List().empty());
  EXPECT_EQ(store->used_bytes(), 0);
}

TEST_F(StoreTest, FlippedByteInChunkIsDataLossNotBadBytes) {
  auto store = OpenStore();
  auto data = Bytes(kChunkBytes + 500, 3);
  auto info = store->Put(data);
  ASSERT_TRUE(info.ok());
  fs::path chunk = store->ChunkPath(info->chunks[1]);
  {
    std::fstream f(chunk, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    char c = static_cast<char>(data[kChunkBytes + 100] ^ 0x01);
    f.write(&c, 1);
  }
  absl::Status st;
  auto got = ReadAll(*store, info->digest, &st);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;
  EXPECT_NE(st.message().find("corrupt"), std::string::npos) << st;
  EXPECT_EQ(got.size(), static_cast<size_t>(kChunkBytes));  // only the verified first chunk
  std::vector<uint8_t> range;
  EXPECT_EQ(store->ReadRange(info->digest, kChunkBytes, 10, &range).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_TRUE(range.empty());
  EXPECT_EQ(store->Verify(info->digest).code(), absl::StatusCode::kDataLoss);
}

TEST_F(StoreTest, CorruptManifestIsDataLoss) {
  auto store = OpenStore();
  auto info = store->Put(Bytes(100, 4));
  ASSERT_TRUE(info.ok());
  std::string hex = ops::ToHex(info->digest);
  fs::path manifest = root_ / "objects" / hex.substr(0, 2) / hex;
  {
    std::fstream f(manifest, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(25);
    f.write("9", 1);
  }
  EXPECT_EQ(store->Stat(info->digest).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(StoreTest, CapacityLimitIsResourceExhaustedAndLeavesNothing) {
  auto store = OpenStore(/*capacity=*/2 * kChunkBytes + 10);
  auto small = store->Put(Bytes(kChunkBytes, 5));
  ASSERT_TRUE(small.ok());
  auto big = Bytes(2 * kChunkBytes, 6);
  auto result = store->Put(big);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted) << result.status();
  EXPECT_EQ(store->List().size(), 1u);
  EXPECT_EQ(store->used_bytes(), kChunkBytes);  // the aborted upload's chunk was dropped
  // Deleting frees room; the same upload then fits.
  ASSERT_TRUE(store->Delete(small->digest).ok());
  EXPECT_EQ(store->used_bytes(), 0);
  EXPECT_TRUE(store->Put(big).ok());
}

TEST_F(StoreTest, DedupAndDeleteKeepSharedChunks) {
  auto store = OpenStore();
  auto a = Bytes(kChunkBytes, 8);
  auto b = a;
  auto tail = Bytes(10, 9);
  b.insert(b.end(), tail.begin(), tail.end());
  auto ia = store->Put(a);
  auto ib = store->Put(b);
  ASSERT_TRUE(ia.ok() && ib.ok());
  EXPECT_EQ(ia->chunks[0], ib->chunks[0]);
  EXPECT_EQ(store->used_bytes(), kChunkBytes + 10);
  ASSERT_TRUE(store->Delete(ia->digest).ok());
  EXPECT_TRUE(store->Verify(ib->digest).ok());
  EXPECT_EQ(store->Delete(ia->digest).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->Stat(ia->digest).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, ReopenIndexesObjectsAndCollectsOrphans) {
  Sha256 kept;
  {
    auto store = OpenStore();
    auto info = store->Put(Bytes(kChunkBytes + 1, 10));
    ASSERT_TRUE(info.ok());
    kept = info->digest;
    // An interrupted upload: a chunk written, never published, writer leaked.
    auto w = store->NewWriter();
    ASSERT_TRUE(w->Append(Bytes(kChunkBytes, 11)).ok());
    std::ofstream(root_ / "tmp" / "half-written.tmp") << "x";
    (void)w.release();  // simulates a crash: no abort runs
  }
  auto store = OpenStore();
  EXPECT_EQ(store->List(), std::vector<Sha256>{kept});
  EXPECT_EQ(store->used_bytes(), kChunkBytes + 1);
  EXPECT_TRUE(fs::is_empty(root_ / "tmp"));
  EXPECT_TRUE(store->Verify(kept).ok());
}

TEST(ParseDigestHexTest, RejectsBadInput) {
  EXPECT_FALSE(ParseDigestHex("abc").ok());
  EXPECT_FALSE(ParseDigestHex(std::string(64, 'g')).ok());
  auto d = ParseDigestHex(std::string(64, 'A'));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(ops::ToHex(*d), std::string(64, 'a'));
}

}  // namespace
}  // namespace datanode::node
