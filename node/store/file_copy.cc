// Copyright 2026 The datanode Authors.
//
// ObjectWriter::AppendFile: a file copied into the store at disk speed.
//
// Reader threads take the next chunk index, read that 1 MiB into one of a fixed set of
// aligned buffers and hash it once (the chunk's name; the object's name is derived
// from the chunk names); writer threads write it out, so reading, hashing and writing
// overlap, and memory is the buffers whatever the file's size. A large file goes to
// one pack file (written in place at chunk i * 1 MiB, fsynced once at the end); a
// small one to chunk files, committed in batches by the calling thread (one syncfs,
// then the renames). The directory fsyncs are done in Finish, before the manifest.
//
// Writes use O_DIRECT where the filesystem allows it (no copy into the page cache and
// no writeback of it later). Chunks the page cache holds are copied from it (no disk
// read, which would share the disk with the writes); the others are read with O_DIRECT
// (no copy through the cache). Why not copy_file_range or reflinks: every byte must
// pass through user space anyway to be hashed, and an in-kernel copy after the hash
// could store bytes other than the hashed ones if the file changed meanwhile.
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "datanode/ops/status_macros.h"
#include "node/store/weight_store.h"

namespace datanode::node {
namespace fs = std::filesystem;

namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(50);

int64_t RoundUpToDirect(int64_t n) {
  return (n + static_cast<int64_t>(kDirectAlign) - 1) / static_cast<int64_t>(kDirectAlign) *
         static_cast<int64_t>(kDirectAlign);
}

// Whether the page cache holds every page of [offset, offset + len) of `fd`:
// cachestat(2) (Linux 6.5; the same number on every architecture). false where the
// kernel lacks it, so the caller reads directly.
bool InPageCache(int fd, int64_t offset, int64_t len) {
  constexpr long kCachestat = 451;
  struct {
    uint64_t off, len;
  } range{static_cast<uint64_t>(offset), static_cast<uint64_t>(len)};
  struct {
    uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
  } stat{};
  if (::syscall(kCachestat, fd, &range, &stat, 0) != 0) return false;
  constexpr int64_t kPage = 4096;  // pages counted; a larger page only makes this stricter
  const int64_t pages = (offset + len + kPage - 1) / kPage - offset / kPage;
  return static_cast<int64_t>(stat.nr_cache) >= pages;
}

absl::Status PreadFull(int fd, uint8_t* out, int64_t length, int64_t offset, int64_t size) {
  while (length > 0) {
    ssize_t n = ::pread(fd, out, static_cast<size_t>(length), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::InternalError(absl::StrCat("read: ", std::strerror(errno)));
    if (n == 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("file changed during import: it ended at byte ", offset, " of ", size));
    }
    out += n;
    offset += n;
    length -= n;
  }
  return absl::OkStatus();
}

// At most this many written chunks wait for their commit (dirty page cache, not
// resident memory); workers wait beyond it.
constexpr size_t kMaxQueued = 64;
constexpr size_t kCommitBatch = 32;
// A chunk waits at most about this long for its commit (another copy may wait for it).
constexpr auto kMaxCommitDelay = std::chrono::milliseconds(100);

// A chunk read and hashed, waiting for a writer.
struct ReadChunk {
  int64_t index = 0;
  int64_t len = 0;
  Sha256 digest{};
  uint8_t* buf = nullptr;
};

// What the copying threads share.
struct CopyState {
  int fd = -1;
  int direct_fd = -1;  // fd opened with O_DIRECT, or -1
  int pack_fd = -1;    // the tmp pack being written, or -1 (chunk files)
  std::filesystem::path pack_path;
  int64_t size = 0;
  int64_t chunk_count = 0;
  std::atomic<int64_t> next_chunk{0};
  std::atomic<bool> stop{false};
  // Per chunk index, written by the one thread handling the chunk at that moment.
  std::vector<Sha256> digests;
  std::vector<uint8_t> stored;  // 1 once the chunk is durable and renamed (or deduplicated)
  std::mutex mu;
  // Each wakes only the threads that can act on the change (on 2 cores every needless
  // wake-up of a thread per chunk costs CPU the hashing needs).
  std::condition_variable free_cv;     // readers: a free buffer, the end, stop
  std::condition_variable work_cv;     // writers: a chunk to write, readers done, queue room
  std::condition_variable main_cv;     // the calling thread: a batch to commit, workers done
  std::vector<uint8_t*> free_buffers;  // guarded by mu
  std::deque<ReadChunk> to_write;      // guarded by mu
  int readers = 0;                     // guarded by mu: running
  int writers = 0;                     // guarded by mu: running
  int64_t bytes_done = 0;              // guarded by mu
  std::vector<WeightStore::PendingChunk> queue;        // guarded by mu: written, not durable
  std::vector<int64_t> queue_index;                    // guarded by mu: their chunk indices
  std::chrono::steady_clock::time_point queued_since;  // guarded by mu: oldest in queue
  absl::Status error;                                  // guarded by mu: the first error
  std::set<fs::path> dirty_dirs;                       // guarded by mu

  void Fail(const absl::Status& s) {  // with mu held
    if (error.ok()) error = s;
    stop = true;
    free_cv.notify_all();
    work_cv.notify_all();
    main_cv.notify_all();
  }
};

// Reads [offset, offset + len) of the file into `buf` (kChunkBytes, aligned): from the
// page cache when it holds the whole range, else with O_DIRECT when it can (a whole
// aligned read, rounded up past the end of the file), else, and after any short or
// refused direct read, through the page cache.
absl::Status ReadChunkAt(const CopyState& st, uint8_t* buf, int64_t len, int64_t offset) {
  if (st.direct_fd >= 0 && !InPageCache(st.fd, offset, len)) {
    const int64_t want = (len + kDirectAlign - 1) / kDirectAlign * kDirectAlign;
    ssize_t n;
    do {
      n = ::pread(st.direct_fd, buf, static_cast<size_t>(want), offset);
    } while (n < 0 && errno == EINTR);
    if (n >= len) return absl::OkStatus();
  }
  return PreadFull(st.fd, buf, len, offset, st.size);
}

// Writes a chunk into the pack at its offset. A direct write covers whole blocks: the
// last chunk is padded with zeros (the file is cut to its size at the end).
absl::Status WritePackChunk(const CopyState& st, uint8_t* buf, int64_t len, int64_t offset) {
  int64_t n = len;
  if (::fcntl(st.pack_fd, F_GETFL) & O_DIRECT) {
    n = RoundUpToDirect(len);
    std::memset(buf + len, 0, static_cast<size_t>(n - len));
  }
  while (n > 0) {
    ssize_t w = ::pwrite(st.pack_fd, buf, static_cast<size_t>(n), offset);
    if (w < 0 && errno == EINVAL && (::fcntl(st.pack_fd, F_GETFL) & O_DIRECT)) {
      // O_DIRECT refused at write time: write through the page cache.
      if (::fcntl(st.pack_fd, F_SETFL, ::fcntl(st.pack_fd, F_GETFL) & ~O_DIRECT) == 0) continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return ErrnoStatus("write", st.pack_path);
    buf += w;
    offset += w;
    n -= w;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status WeightStore::BeginChunk(const void* copy, const Sha256& digest, ByteSpan data,
                                     std::optional<fs::path>* tmp, std::set<fs::path>* dirty_dirs) {
  tmp->reset();
  const int64_t size = static_cast<int64_t>(data.size());
  {
    std::unique_lock<std::mutex> lock(mu_);
    ++writer_refs_[digest];
    pending_cv_.wait(lock, [&] {
      auto it = pending_chunks_.find(digest);
      return it == pending_chunks_.end() || it->second == copy;
    });
    if (chunk_bytes_.count(digest)) {  // deduplicated; its rename may not be durable yet
      dirty_dirs->insert(ChunkPath(digest).parent_path());
      return absl::OkStatus();
    }
    if (options_.capacity_bytes > 0 && used_bytes_ + size > options_.capacity_bytes) {
      if (--writer_refs_[digest] == 0) writer_refs_.erase(digest);
      return absl::ResourceExhaustedError(absl::StrCat("store full: ", used_bytes_, " of ",
                                                       options_.capacity_bytes,
                                                       " bytes used, chunk needs ", size));
    }
    chunk_bytes_[digest] = size;
    used_bytes_ += size;
    pending_chunks_[digest] = copy;
  }
  auto written = WriteTmp(ChunkPath(digest), data, /*sync=*/false);
  if (!written.ok()) {
    AbandonChunk(digest, size);
    return written.status();
  }
  *tmp = *std::move(written);
  return absl::OkStatus();
}

void WeightStore::AbandonChunk(const Sha256& digest, int64_t size) {
  std::lock_guard<std::mutex> lock(mu_);
  pending_chunks_.erase(digest);
  chunk_bytes_.erase(digest);
  used_bytes_ -= size;
  if (--writer_refs_[digest] == 0) writer_refs_.erase(digest);
  pending_cv_.notify_all();
}

absl::Status WeightStore::CommitChunks(const std::vector<PendingChunk>& batch, bool abandon,
                                       std::vector<bool>* committed,
                                       std::set<fs::path>* dirty_dirs) {
  committed->assign(batch.size(), false);
  // One syncfs makes every tmp file of the batch durable (data and inode) before any
  // of them is renamed: the same order as fsync-then-rename per file, with one journal
  // commit and one cache flush instead of one per chunk.
  absl::Status status = abandon          ? absl::CancelledError("abandoned")
                        : options_.fsync ? SyncFs()
                                         : absl::OkStatus();
  for (size_t i = 0; i < batch.size(); ++i) {
    const PendingChunk& c = batch[i];
    absl::Status s = status.ok() ? RenameIntoPlace(c.tmp, ChunkPath(c.digest)) : status;
    if (!status.ok()) ::unlink(c.tmp.c_str());
    if (!s.ok()) {
      AbandonChunk(c.digest, c.size);
      if (status.ok()) status = s;
      continue;
    }
    dirty_dirs->insert(ChunkPath(c.digest).parent_path());
    (*committed)[i] = true;
    std::lock_guard<std::mutex> lock(mu_);
    pending_chunks_.erase(c.digest);
    pending_cv_.notify_all();
  }
  return abandon ? absl::OkStatus() : status;
}

absl::Status ObjectWriter::AppendFile(int fd, int64_t size, const FileCopyOptions& options) {
  if (done_) return error_.ok() ? absl::FailedPreconditionError("writer finished") : error_;
  absl::Status s =
      size_ != 0
          ? absl::FailedPreconditionError("AppendFile needs a writer nothing was appended to")
          : CopyFile(fd, size, options);
  if (!s.ok()) {
    error_ = s;
    Abort();
  }
  return s;
}

absl::Status ObjectWriter::CopyFile(int fd, int64_t size, const FileCopyOptions& options) {
  if (size < 0) return absl::InvalidArgumentError("negative file size");
  if (options.poll) {
    if (absl::Status s = options.poll(0); !s.ok()) return s;
  }
  CopyState st;
  st.fd = fd;
  st.size = size;
  st.chunk_count = (size + kChunkBytes - 1) / kChunkBytes;
  st.digests.resize(static_cast<size_t>(st.chunk_count));
  st.stored.assign(static_cast<size_t>(st.chunk_count), 0);
  (void)::posix_fadvise(fd, 0, size, POSIX_FADV_SEQUENTIAL);
  if (options.direct_reads) {
    // The same open file (not the path again), read without the page cache.
    st.direct_fd = ::open(absl::StrCat("/proc/self/fd/", fd).c_str(),
                          O_RDONLY | O_DIRECT | O_NONBLOCK | O_CLOEXEC);
  }

  struct CloseFds {
    CopyState& st;
    ~CloseFds() {
      if (st.direct_fd >= 0) ::close(st.direct_fd);
      if (st.pack_fd >= 0) ::close(st.pack_fd);
    }
  } close_fds{st};

  // Buffers aligned so that whole chunks can be written with O_DIRECT (WriteTmp).
  const int readers = std::clamp(options.readers, 1, 64);
  const int writers = std::clamp(options.writers, 1, 64);
  const int buffers = std::max(std::clamp(options.buffers, 2, 256), readers + writers);
  std::vector<std::unique_ptr<uint8_t, decltype(&std::free)>> pool;
  for (int b = 0; b < buffers; ++b) {
    pool.emplace_back(static_cast<uint8_t*>(std::aligned_alloc(kDirectAlign, kChunkBytes)),
                      &std::free);
    if (pool.back() == nullptr) return absl::ResourceExhaustedError("no memory for buffers");
    st.free_buffers.push_back(pool.back().get());
  }

  if (size > 0 && size >= options.pack_min_bytes) {
    // One pack file: its capacity reserved and its space allocated up front (ENOSPC
    // now, not mid-copy; and direct writes into allocated blocks do not extend the file,
    // which ext4 would serialize). Abort removes it and releases the reservation.
    RETURN_IF_ERROR(store_->ReservePack(size));
    pack_reserved_ = size;
    pack_tmp_ = store_->TmpPath("pack");
    st.pack_path = pack_tmp_;
    constexpr int kFlags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
    const bool direct = store_->options_.fsync;  // else left to the page cache
    if (direct) st.pack_fd = ::open(pack_tmp_.c_str(), kFlags | O_DIRECT, 0644);
    if (st.pack_fd < 0) st.pack_fd = ::open(pack_tmp_.c_str(), kFlags, 0644);
    if (st.pack_fd < 0) {
      absl::Status s = ErrnoStatus("create", pack_tmp_);
      pack_tmp_.clear();
      return s;
    }
    if (::fallocate(st.pack_fd, 0, 0, RoundUpToDirect(size)) != 0 && errno != EOPNOTSUPP) {
      return ErrnoStatus("allocate", pack_tmp_);
    }
  }

  // Readers: pread a chunk into a free buffer and hash it.
  auto read = [&st] {
    std::unique_lock<std::mutex> lock(st.mu);
    while (true) {
      st.free_cv.wait(lock, [&] {
        return !st.free_buffers.empty() || st.stop || st.next_chunk >= st.chunk_count;
      });
      if (st.stop) break;
      const int64_t i = st.next_chunk.fetch_add(1);
      if (i >= st.chunk_count) {
        st.free_cv.notify_all();  // the other readers end too
        break;
      }
      ReadChunk c{
          i, std::min<int64_t>(kChunkBytes, st.size - i * kChunkBytes), {}, st.free_buffers.back()};
      st.free_buffers.pop_back();
      lock.unlock();
      absl::Status s = ReadChunkAt(st, c.buf, c.len, i * kChunkBytes);
      if (s.ok()) c.digest = ops::Sha256Of({ByteSpan(c.buf, static_cast<size_t>(c.len))});
      lock.lock();
      if (!s.ok()) {
        st.free_buffers.push_back(c.buf);
        st.Fail(s);
        break;
      }
      st.to_write.push_back(c);
      st.work_cv.notify_one();
    }
    if (--st.readers == 0) st.work_cv.notify_all();
    st.main_cv.notify_one();
  };
  // Writers: store a hashed chunk (a tmp file, or nothing when deduplicated) and queue
  // it for the calling thread's next commit.
  auto write = [this, &st] {
    std::set<fs::path> dirs;
    std::unique_lock<std::mutex> lock(st.mu);
    while (true) {
      st.work_cv.wait(lock, [&] { return !st.to_write.empty() || st.readers == 0 || st.stop; });
      if (st.stop || st.to_write.empty()) break;
      ReadChunk c = st.to_write.front();
      st.to_write.pop_front();
      lock.unlock();
      st.digests[static_cast<size_t>(c.index)] = c.digest;
      if (st.pack_fd >= 0) {
        absl::Status s = WritePackChunk(st, c.buf, c.len, c.index * kChunkBytes);
        lock.lock();
        st.free_buffers.push_back(c.buf);
        st.free_cv.notify_one();
        if (!s.ok()) {
          st.Fail(s);
          break;
        }
        st.stored[static_cast<size_t>(c.index)] = 1;
        st.bytes_done += c.len;
        continue;
      }
      std::optional<fs::path> tmp;
      absl::Status s = store_->BeginChunk(&st, c.digest,
                                          ByteSpan(c.buf, static_cast<size_t>(c.len)), &tmp, &dirs);
      lock.lock();
      st.free_buffers.push_back(c.buf);
      st.free_cv.notify_one();
      if (!s.ok()) {
        st.Fail(s);
        break;
      }
      if (!tmp.has_value()) {
        st.stored[static_cast<size_t>(c.index)] = 1;
        st.bytes_done += c.len;
        continue;
      }
      // Pushed even when stopping, so that the calling thread abandons it.
      st.work_cv.wait(lock, [&] { return st.queue.size() < kMaxQueued || st.stop; });
      if (st.queue.empty()) st.queued_since = std::chrono::steady_clock::now();
      st.queue.push_back({c.digest, c.len, *std::move(tmp)});
      st.queue_index.push_back(c.index);
      if (st.queue.size() >= kCommitBatch) st.main_cv.notify_one();
    }
    st.dirty_dirs.merge(dirs);
    --st.writers;
    st.main_cv.notify_one();
  };

  std::vector<std::thread> threads;
  if (st.chunk_count > 0) {
    st.readers = readers;
    st.writers = writers;
    for (int t = 0; t < readers; ++t) threads.emplace_back(read);
    for (int t = 0; t < writers; ++t) threads.emplace_back(write);
  }

  // The calling thread commits what the workers wrote (group commits: everything
  // written since the last one) and polls.
  auto last_poll = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(st.mu);
  while (true) {
    // Commit in batches of kCommitBatch (each commit is a syncfs: a journal commit and
    // a cache flush, whatever the batch size), the rest once the workers are done.
    const bool working = st.readers + st.writers > 0;
    if (!st.queue.empty() &&
        (st.queue.size() >= kCommitBatch || !working || st.stop ||
         std::chrono::steady_clock::now() - st.queued_since >= kMaxCommitDelay)) {
      std::vector<WeightStore::PendingChunk> batch = std::move(st.queue);
      std::vector<int64_t> index = std::move(st.queue_index);
      st.queue.clear();
      st.queue_index.clear();
      const bool abandon = st.stop.load();
      st.work_cv.notify_all();  // room in the queue
      lock.unlock();
      std::vector<bool> committed;
      std::set<fs::path> dirs;
      absl::Status s = store_->CommitChunks(batch, abandon, &committed, &dirs);
      lock.lock();
      st.dirty_dirs.merge(dirs);
      for (size_t k = 0; k < batch.size(); ++k) {
        if (!committed[k]) continue;
        st.stored[static_cast<size_t>(index[k])] = 1;
        st.bytes_done += batch[k].size;
      }
      if (!s.ok()) st.Fail(s);
      continue;
    }
    if (!working) break;
    st.main_cv.wait_for(lock, kPollInterval);
    const auto now = std::chrono::steady_clock::now();
    if (options.poll && !st.stop && now - last_poll >= kPollInterval) {
      last_poll = now;
      const int64_t done = st.bytes_done;
      lock.unlock();
      absl::Status s = options.poll(done);
      lock.lock();
      if (!s.ok()) st.Fail(s);
    }
  }
  lock.unlock();
  for (std::thread& t : threads) t.join();
  if (st.pack_fd >= 0) {
    if (!st.error.ok()) return st.error;
    // Cut the padding of the last direct write; then data and size durable at once.
    if (::ftruncate(st.pack_fd, static_cast<off_t>(size)) != 0) {
      return ErrnoStatus("truncate", pack_tmp_);
    }
    if (store_->options_.fsync && ::fsync(st.pack_fd) != 0) return ErrnoStatus("fsync", pack_tmp_);
    pack_chunks_ = std::move(st.digests);
    size_ = size;
    return absl::OkStatus();
  }
  // Every stored chunk's reference now belongs to the writer (Abort releases them).
  for (size_t i = 0; i < st.stored.size(); ++i) {
    if (st.stored[i]) chunks_.push_back(st.digests[i]);
  }
  dirty_dirs_.merge(st.dirty_dirs);
  if (!st.error.ok()) return st.error;
  size_ = size;
  return absl::OkStatus();
}

}  // namespace datanode::node
