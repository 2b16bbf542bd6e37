// Copyright 2026 The datanode Authors.
//
// ObjectWriter::AppendFile (node/store/file_copy.cc) on a real temp directory: the
// pipelined copy stores exactly what Append stores, and every failure leaves nothing.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "gtest/gtest.h"
#include "node/store/weight_store.h"

namespace datanode::node {
namespace {
namespace fs = std::filesystem;

class FileCopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("dn_file_copy_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  std::unique_ptr<WeightStore> OpenStore(int64_t capacity = 0) {
    auto s = WeightStore::Open({root_ / "store", capacity, true});
    EXPECT_TRUE(s.ok()) << s.status();
    return std::move(*s);
  }
  // Writes `n` seeded bytes, the first chunk repeated once when `repeat` (a chunk that
  // occurs twice in one file), and returns them.
  std::vector<uint8_t> WriteFile(const fs::path& path, size_t n, uint32_t seed,
                                 bool repeat = false) {
    std::vector<uint8_t> v(n);
    std::mt19937 rng(seed);
    for (auto& b : v) b = static_cast<uint8_t>(rng());
    if (repeat && n >= 2 * kChunkBytes) {
      std::copy(v.begin(), v.begin() + kChunkBytes, v.begin() + kChunkBytes);
    }
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(v.data()), n);
    return v;
  }
  static size_t ChunkFiles(const fs::path& store) {
    size_t n = 0;
    for (const auto& e : fs::recursive_directory_iterator(store / "chunks")) {
      n += e.is_regular_file();
    }
    return n;
  }
  fs::path root_;
};

class Fd {
 public:
  explicit Fd(const fs::path& p) : fd_(::open(p.c_str(), O_RDONLY | O_CLOEXEC)) {}
  ~Fd() { ::close(fd_); }
  int get() const { return fd_; }

 private:
  int fd_;
};

TEST_F(FileCopyTest, SameObjectAsAppendForEverySizeAndThreadCount) {
  auto store = OpenStore();
  for (size_t n : {size_t{0}, size_t{1}, size_t(kChunkBytes - 1), size_t(kChunkBytes),
                   size_t(kChunkBytes + 1), size_t(5 * kChunkBytes + 17)}) {
    for (int threads : {1, 3, 8}) {
      SCOPED_TRACE("n=" + std::to_string(n) + " readers=writers=" + std::to_string(threads));
      const fs::path path = root_ / "f.bin";
      auto data = WriteFile(path, n, static_cast<uint32_t>(n + threads), /*repeat=*/true);
      Fd fd(path);
      auto w = store->NewWriter();
      FileCopyOptions options;
      options.readers = threads;
      options.writers = threads;
      options.buffers = threads == 1 ? 2 : 3 * threads;
      options.direct_reads = threads != 3;  // both read paths
      ASSERT_TRUE(w->AppendFile(fd.get(), static_cast<int64_t>(n), options).ok());
      auto copied = w->Finish();
      ASSERT_TRUE(copied.ok()) << copied.status();
      auto put = store->Put(data);
      ASSERT_TRUE(put.ok()) << put.status();
      EXPECT_EQ(copied->digest, put->digest);
      EXPECT_EQ(copied->chunks, put->chunks);
      std::vector<uint8_t> back;
      ASSERT_TRUE(store->ReadRange(copied->digest, 0, static_cast<int64_t>(n), &back).ok());
      EXPECT_EQ(back, data);
      EXPECT_TRUE(store->Verify(copied->digest).ok());
    }
  }
}

TEST_F(FileCopyTest, ProgressIsPolledAndAnErrorStopsTheCopyLeavingNothing) {
  auto store = OpenStore();
  const fs::path path = root_ / "f.bin";
  WriteFile(path, 64 * kChunkBytes, 1);
  Fd fd(path);
  std::vector<int64_t> seen;
  FileCopyOptions options;
  options.poll = [&](int64_t done) {
    seen.push_back(done);
    return seen.size() == 2 ? absl::CancelledError("stop") : absl::OkStatus();
  };
  auto w = store->NewWriter();
  absl::Status s = w->AppendFile(fd.get(), 64 * kChunkBytes, options);
  // Either the copy was stopped, or it finished before the second poll came.
  if (seen.size() == 2) {
    EXPECT_EQ(s.code(), absl::StatusCode::kCancelled) << s;
    EXPECT_EQ(w->Finish().status().code(), absl::StatusCode::kCancelled);
    w.reset();
    EXPECT_EQ(store->used_bytes(), 0);
    EXPECT_EQ(ChunkFiles(root_ / "store"), 0u);
  } else {
    EXPECT_TRUE(s.ok()) << s;
  }
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen[0], 0);
}

TEST_F(FileCopyTest, AFileShorterThanItsSizeIsFailedPreconditionAndLeavesNothing) {
  auto store = OpenStore();
  const fs::path path = root_ / "f.bin";
  WriteFile(path, 3 * kChunkBytes + 5, 2);
  Fd fd(path);
  auto w = store->NewWriter();
  absl::Status s = w->AppendFile(fd.get(), 4 * kChunkBytes, {});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("changed during import"), std::string::npos) << s;
  w.reset();
  EXPECT_TRUE(store->List().empty());
  EXPECT_EQ(store->used_bytes(), 0);
  EXPECT_EQ(ChunkFiles(root_ / "store"), 0u);
}

TEST_F(FileCopyTest, FullStoreIsResourceExhaustedAndLeavesNothing) {
  auto store = OpenStore(/*capacity=*/4 * kChunkBytes);
  const fs::path path = root_ / "f.bin";
  WriteFile(path, 9 * kChunkBytes, 3);
  Fd fd(path);
  auto w = store->NewWriter();
  absl::Status s = w->AppendFile(fd.get(), 9 * kChunkBytes, {});
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  w.reset();
  EXPECT_EQ(store->used_bytes(), 0);
  EXPECT_EQ(ChunkFiles(root_ / "store"), 0u);
}

TEST_F(FileCopyTest, OnlyAFreshWriterCopiesAFile) {
  auto store = OpenStore();
  const fs::path path = root_ / "f.bin";
  WriteFile(path, 10, 4);
  Fd fd(path);
  auto w = store->NewWriter();
  ASSERT_TRUE(w->Append(ByteSpan(reinterpret_cast<const uint8_t*>("x"), 1)).ok());
  EXPECT_EQ(w->AppendFile(fd.get(), 10, {}).code(), absl::StatusCode::kFailedPrecondition);
}

// Two writers copying the same file at once share every chunk; a chunk one of them is
// still writing is waited for, so both objects are whole, and deleting one keeps the
// other readable.
TEST_F(FileCopyTest, ConcurrentCopiesOfOneFileShareChunks) {
  auto store = OpenStore();
  const fs::path path = root_ / "f.bin";
  const size_t n = 24 * kChunkBytes + 3;
  WriteFile(path, n, 5);
  std::vector<absl::StatusOr<ObjectInfo>> results(2, absl::UnknownError(""));
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      Fd fd(path);
      auto w = store->NewWriter();
      absl::Status s = w->AppendFile(fd.get(), static_cast<int64_t>(n), {});
      results[t] = s.ok() ? w->Finish() : absl::StatusOr<ObjectInfo>(s);
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  ASSERT_TRUE(results[1].ok()) << results[1].status();
  EXPECT_EQ(results[0]->digest, results[1]->digest);
  EXPECT_EQ(store->used_bytes(), static_cast<int64_t>(n));
  EXPECT_EQ(ChunkFiles(root_ / "store"), 25u);
  EXPECT_TRUE(fs::is_empty(root_ / "store" / "tmp"));
  EXPECT_TRUE(store->Verify(results[0]->digest).ok());
}

}  // namespace
}  // namespace datanode::node
