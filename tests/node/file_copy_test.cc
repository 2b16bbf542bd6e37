// Copyright 2026 The datanode Authors.
//
// ObjectWriter::AppendFile (node/store/file_copy.cc) on a real temp directory: the
// pipelined copy stores exactly what Append stores, in chunk files or in one pack, and
// every failure (a short file, a stop, a full store, SIGKILL) leaves nothing.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
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

// --- Packs: a file copied into one pack file (FileCopyOptions::pack_min_bytes) --------

FileCopyOptions PackAlways() {
  FileCopyOptions options;
  options.pack_min_bytes = 0;
  return options;
}

size_t FilesUnder(const fs::path& dir) {
  size_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) n += e.is_regular_file();
  return n;
}

absl::StatusOr<ObjectInfo> CopyIn(WeightStore& store, const fs::path& path, int64_t n,
                                  const FileCopyOptions& options) {
  Fd fd(path);
  auto w = store.NewWriter();
  if (absl::Status s = w->AppendFile(fd.get(), n, options); !s.ok()) return s;
  return w->Finish();
}

// Same name and chunk list as the chunk-file layout, bytes read back, one pack file and
// nothing else on disk; reopened, the store finds it again.
TEST_F(FileCopyTest, PackedCopyIsTheSameObjectAndReadsBackAfterReopen) {
  for (size_t n :
       {size_t{1}, size_t(kChunkBytes - 1), size_t(kChunkBytes), size_t(5 * kChunkBytes + 17)}) {
    for (int threads : {1, 3}) {
      SCOPED_TRACE("n=" + std::to_string(n) + " threads=" + std::to_string(threads));
      fs::remove_all(root_ / "store");
      const fs::path path = root_ / "f.bin";
      auto data = WriteFile(path, n, static_cast<uint32_t>(n + threads), /*repeat=*/true);
      Sha256 digest{};
      {
        auto store = OpenStore();
        FileCopyOptions options = PackAlways();
        options.readers = options.writers = threads;
        options.direct_reads = threads == 1;  // both read paths
        auto copied = CopyIn(*store, path, static_cast<int64_t>(n), options);
        ASSERT_TRUE(copied.ok()) << copied.status();
        EXPECT_TRUE(copied->packed);
        digest = copied->digest;
        auto stat = store->Stat(digest);
        ASSERT_TRUE(stat.ok());
        EXPECT_TRUE(stat->packed);
        EXPECT_EQ(fs::file_size(store->PackPath(digest)), n);
        EXPECT_EQ(ChunkFiles(root_ / "store"), 0u);
        EXPECT_TRUE(fs::is_empty(root_ / "store" / "tmp"));
        EXPECT_EQ(store->used_bytes(), static_cast<int64_t>(n));
        // The chunk-file layout of the same bytes has the same name; storing them again
        // adds nothing (the chunk files written meanwhile are dropped).
        auto put = store->Put(data);
        ASSERT_TRUE(put.ok()) << put.status();
        EXPECT_EQ(put->digest, digest);
        EXPECT_EQ(put->chunks, copied->chunks);
        EXPECT_TRUE(put->packed);
        EXPECT_EQ(ChunkFiles(root_ / "store"), 0u);
        EXPECT_EQ(store->used_bytes(), static_cast<int64_t>(n));
      }
      auto store = OpenStore();
      EXPECT_EQ(store->List(), std::vector<Sha256>{digest});
      EXPECT_EQ(store->used_bytes(), static_cast<int64_t>(n));
      std::vector<uint8_t> back;
      ASSERT_TRUE(store->ReadRange(digest, 0, static_cast<int64_t>(n), &back).ok());
      EXPECT_EQ(back, data);
      EXPECT_TRUE(store->Verify(digest).ok());
      ASSERT_TRUE(store->Delete(digest).ok());
      EXPECT_EQ(store->used_bytes(), 0);
      EXPECT_EQ(FilesUnder(root_ / "store" / "packs"), 0u);
    }
  }
}

// Nothing can be appended after a packed copy (it would not be part of the pack).
TEST_F(FileCopyTest, AppendAfterAPackedCopyIsFailedPrecondition) {
  auto store = OpenStore();
  const fs::path path = root_ / "f.bin";
  auto data = WriteFile(path, 2 * kChunkBytes + 3, 18);
  Fd fd(path);
  auto w = store->NewWriter();
  ASSERT_TRUE(w->AppendFile(fd.get(), static_cast<int64_t>(data.size()), PackAlways()).ok());
  EXPECT_EQ(w->Append(ByteSpan(data.data(), 1)).code(), absl::StatusCode::kFailedPrecondition);
  auto info = w->Finish();
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->size, static_cast<int64_t>(data.size()));
  EXPECT_TRUE(store->Verify(info->digest).ok());
}

// An object already stored as chunk files stays so: the pack is dropped.
TEST_F(FileCopyTest, PackOfAnObjectStoredAsChunksIsDropped) {
  auto store = OpenStore();
  const fs::path path = root_ / "f.bin";
  auto data = WriteFile(path, 3 * kChunkBytes + 9, 11);
  auto put = store->Put(data);
  ASSERT_TRUE(put.ok());
  auto copied = CopyIn(*store, path, static_cast<int64_t>(data.size()), PackAlways());
  ASSERT_TRUE(copied.ok()) << copied.status();
  EXPECT_EQ(copied->digest, put->digest);
  EXPECT_FALSE(copied->packed);
  EXPECT_EQ(FilesUnder(root_ / "store" / "packs"), 0u);
  EXPECT_TRUE(fs::is_empty(root_ / "store" / "tmp"));
  EXPECT_EQ(store->used_bytes(), static_cast<int64_t>(data.size()));
}

// Every read verifies: a flipped byte in a pack is DATA_LOSS for its chunk only, a
// short or missing pack is DATA_LOSS.
TEST_F(FileCopyTest, CorruptShortOrMissingPackIsDataLoss) {
  auto store = OpenStore();
  const fs::path path = root_ / "f.bin";
  auto data = WriteFile(path, 3 * kChunkBytes + 100, 12);
  auto copied = CopyIn(*store, path, static_cast<int64_t>(data.size()), PackAlways());
  ASSERT_TRUE(copied.ok()) << copied.status();
  const fs::path pack = store->PackPath(copied->digest);
  {
    std::fstream f(pack, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(kChunkBytes + 200);
    char c = static_cast<char>(f.get() ^ 1);
    f.seekp(kChunkBytes + 200);
    f.put(c);
  }
  std::vector<uint8_t> back;
  absl::Status s = store->ReadRange(copied->digest, kChunkBytes, 10, &back);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_NE(s.message().find("corrupt"), std::string::npos) << s;
  EXPECT_TRUE(back.empty());
  EXPECT_EQ(store->Verify(copied->digest).code(), absl::StatusCode::kDataLoss);
  ASSERT_TRUE(store->ReadRange(copied->digest, 0, 10, &back).ok());  // chunk 0 is intact
  EXPECT_EQ(back, std::vector<uint8_t>(data.begin(), data.begin() + 10));

  fs::resize_file(pack, 3 * kChunkBytes + 50);
  s = store->ReadRange(copied->digest, 3 * kChunkBytes, 10, &back);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  fs::remove(pack);
  s = store->ReadRange(copied->digest, 0, 10, &back);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_NE(s.message().find("missing"), std::string::npos) << s;
}

// The capacity is reserved up front: a file that does not fit fails before anything
// is written, and nothing is left.
TEST_F(FileCopyTest, PackThatDoesNotFitIsResourceExhaustedAndLeavesNothing) {
  auto store = OpenStore(/*capacity=*/4 * kChunkBytes);
  const fs::path path = root_ / "f.bin";
  WriteFile(path, 5 * kChunkBytes, 13);
  auto copied = CopyIn(*store, path, 5 * kChunkBytes, PackAlways());
  EXPECT_EQ(copied.status().code(), absl::StatusCode::kResourceExhausted) << copied.status();
  EXPECT_EQ(store->used_bytes(), 0);
  EXPECT_TRUE(fs::is_empty(root_ / "store" / "tmp"));
  EXPECT_EQ(FilesUnder(root_ / "store" / "packs"), 0u);
  WriteFile(path, 4 * kChunkBytes, 14);  // exactly the capacity fits
  EXPECT_TRUE(CopyIn(*store, path, 4 * kChunkBytes, PackAlways()).ok());
  EXPECT_EQ(store->used_bytes(), 4 * kChunkBytes);
}

// A file that ends early, a stop from the poll: FAILED_PRECONDITION / the poll's code,
// no tmp file, no pack, no capacity held.
TEST_F(FileCopyTest, FailedPackCopyLeavesNothing) {
  auto store = OpenStore();
  const fs::path path = root_ / "f.bin";
  WriteFile(path, 3 * kChunkBytes + 5, 15);
  auto shorter = CopyIn(*store, path, 4 * kChunkBytes, PackAlways());
  EXPECT_EQ(shorter.status().code(), absl::StatusCode::kFailedPrecondition) << shorter.status();
  EXPECT_NE(shorter.status().message().find("changed during import"), std::string::npos);
  FileCopyOptions stop = PackAlways();
  stop.poll = [](int64_t) { return absl::CancelledError("stop"); };
  EXPECT_EQ(CopyIn(*store, path, 3 * kChunkBytes + 5, stop).status().code(),
            absl::StatusCode::kCancelled);
  EXPECT_TRUE(store->List().empty());
  EXPECT_EQ(store->used_bytes(), 0);
  EXPECT_TRUE(fs::is_empty(root_ / "store" / "tmp"));
  EXPECT_EQ(FilesUnder(root_ / "store" / "packs"), 0u);
}

// Two writers packing the same file at once: one object, one pack, counted once.
TEST_F(FileCopyTest, ConcurrentPackedCopiesOfOneFileStoreOnePack) {
  auto store = OpenStore();
  const fs::path path = root_ / "f.bin";
  const size_t n = 24 * kChunkBytes + 3;
  WriteFile(path, n, 16);
  std::vector<absl::StatusOr<ObjectInfo>> results(2, absl::UnknownError(""));
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back(
        [&, t] { results[t] = CopyIn(*store, path, static_cast<int64_t>(n), PackAlways()); });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  ASSERT_TRUE(results[1].ok()) << results[1].status();
  EXPECT_EQ(results[0]->digest, results[1]->digest);
  EXPECT_EQ(store->used_bytes(), static_cast<int64_t>(n));
  EXPECT_EQ(FilesUnder(root_ / "store" / "packs"), 1u);
  EXPECT_TRUE(fs::is_empty(root_ / "store" / "tmp"));
  EXPECT_TRUE(store->Verify(results[0]->digest).ok());
}

// Crash states. A process SIGKILLed in the middle of a packed copy leaves a tmp file
// only: the next Open removes it. A pack renamed into place whose manifest was never
// written (a crash between the two) is removed by the next Open too.
TEST_F(FileCopyTest, SigkillDuringPackedCopyAndPackWithoutManifestLeaveNothing) {
  const fs::path path = root_ / "f.bin";
  const int64_t n = 192 * kChunkBytes;
  WriteFile(path, static_cast<size_t>(n), 17);
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(ready[0]);
    auto store = WeightStore::Open({root_ / "store", 0, true});
    if (!store.ok()) ::_exit(2);
    FileCopyOptions options = PackAlways();
    options.readers = 1;
    options.buffers = 2;
    int polls = 0;
    options.poll = [&](int64_t) {
      if (++polls == 2) {  // the first poll during the copy: the pack is half written
        (void)!::write(ready[1], "x", 1);
        while (true) ::pause();
      }
      return absl::OkStatus();
    };
    (void)CopyIn(**store, path, n, options);
    ::_exit(3);  // the copy ended before the parent could kill it
  }
  ::close(ready[1]);
  char c = 0;
  const bool mid_copy = ::read(ready[0], &c, 1) == 1;
  ::close(ready[0]);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(mid_copy) << "the copy ended before it was killed (exit status " << status << ")";
  ASSERT_FALSE(fs::is_empty(root_ / "store" / "tmp"));  // the partial pack
  {
    auto store = OpenStore();
    EXPECT_TRUE(store->List().empty());
    EXPECT_EQ(store->used_bytes(), 0);
    EXPECT_TRUE(fs::is_empty(root_ / "store" / "tmp"));
    EXPECT_EQ(FilesUnder(root_ / "store" / "packs"), 0u);
    // Now a complete object whose manifest is lost, as if the crash came after the
    // pack's rename and before the manifest's.
    auto copied = CopyIn(*store, path, n, PackAlways());
    ASSERT_TRUE(copied.ok()) << copied.status();
    std::string hex = ops::ToHex(copied->digest);
    ASSERT_TRUE(fs::remove(root_ / "store" / "objects" / hex.substr(0, 2) / hex));
  }
  auto store = OpenStore();
  EXPECT_TRUE(store->List().empty());
  EXPECT_EQ(store->used_bytes(), 0);
  EXPECT_EQ(FilesUnder(root_ / "store" / "packs"), 0u);
}

}  // namespace
}  // namespace datanode::node
