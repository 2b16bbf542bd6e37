// Copyright 2026 The datanode Authors.
#include "node/store/weight_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "datanode/ops/status_macros.h"

namespace datanode::node {
namespace fs = std::filesystem;
using util::FsyncDir;

namespace {

constexpr char kManifestMagicV1[] = "datanode-object v1";
constexpr char kManifestMagic[] = "datanode-object v2";
// 16 GiB of object per MiB of manifest (72 bytes per chunk): ~230 GB objects.
constexpr int64_t kMaxManifestBytes = int64_t{16} << 20;

absl::Status ReadWholeFile(const fs::path& path, int64_t max_bytes, std::vector<uint8_t>* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat("missing file ", path.string()));
    return ErrnoStatus("open", path);
  }
  out->clear();
  uint8_t buf[65536];
  absl::Status status;
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      status = ErrnoStatus("read", path);
      break;
    }
    if (n == 0) break;
    if (static_cast<int64_t>(out->size()) + n > max_bytes) {
      status = absl::DataLossError(absl::StrCat("file too large: ", path.string()));
      break;
    }
    out->insert(out->end(), buf, buf + n);
  }
  ::close(fd);
  return status;
}

int64_t ChunkCountFor(int64_t size) { return (size + kChunkBytes - 1) / kChunkBytes; }

}  // namespace

std::string ObjectManifestText(int64_t size, const std::vector<Sha256>& chunks) {
  std::string body = absl::StrCat(kManifestMagic, "\nsize ", size, "\n");
  body.reserve(body.size() + chunks.size() * 72);
  for (const Sha256& c : chunks) absl::StrAppend(&body, "chunk ", ops::ToHex(c), "\n");
  return body;
}

Sha256 ObjectDigest(int64_t size, const std::vector<Sha256>& chunks) {
  const std::string text = ObjectManifestText(size, chunks);
  return ops::Sha256Of({ByteSpan(reinterpret_cast<const uint8_t*>(text.data()), text.size())});
}

// --- ObjectWriter -------------------------------------------------------------------

ObjectWriter::ObjectWriter(WeightStore* store) : store_(store) {}

ObjectWriter::~ObjectWriter() {
  if (!done_) Abort();
}

void ObjectWriter::Abort() {
  done_ = true;
  // One reference per entry; a chunk that an object or another writer still uses stays.
  store_->ReleaseWriterChunks(chunks_, /*drop_unused=*/true);
  chunks_.clear();
  if (!pack_tmp_.empty()) ::unlink(pack_tmp_.c_str());
  pack_tmp_.clear();
  store_->ReleasePack(pack_reserved_);
  pack_reserved_ = 0;
}

absl::Status ObjectWriter::FlushChunk() {
  if (buffer_.empty()) return absl::OkStatus();
  Sha256 digest = ops::Sha256Of({ByteSpan(buffer_)});
  bool created = false;
  absl::Status s = store_->PutChunk(digest, buffer_, &created, &dirty_dirs_);
  if (!s.ok()) return s;
  chunks_.push_back(digest);
  buffer_.clear();
  return absl::OkStatus();
}

absl::Status ObjectWriter::Append(ByteSpan data) {
  if (done_) return error_.ok() ? absl::FailedPreconditionError("writer finished") : error_;
  if (!pack_tmp_.empty()) {
    return absl::FailedPreconditionError("a file copied into a pack cannot be appended to");
  }
  if (buffer_.capacity() == 0 && !data.empty()) buffer_.reserve(kChunkBytes);
  size_ += static_cast<int64_t>(data.size());
  while (!data.empty()) {
    size_t room = static_cast<size_t>(kChunkBytes) - buffer_.size();
    size_t take = std::min(room, data.size());
    buffer_.insert(buffer_.end(), data.begin(), data.begin() + take);
    data = data.subspan(take);
    if (buffer_.size() == static_cast<size_t>(kChunkBytes)) {
      if (absl::Status s = FlushChunk(); !s.ok()) {
        error_ = s;
        Abort();
        return s;
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ObjectInfo> ObjectWriter::Finish(const Sha256* expected) {
  if (done_) return error_.ok() ? absl::FailedPreconditionError("writer finished") : error_;
  if (absl::Status s = FlushChunk(); !s.ok()) {
    error_ = s;
    Abort();
    return s;
  }
  // Every chunk file was fsynced before its rename; the renames become durable here,
  // before the manifest can name them.
  if (absl::Status s = store_->FsyncDirs(dirty_dirs_); !s.ok()) {
    error_ = s;
    Abort();
    return s;
  }
  ObjectInfo info;
  const bool packed = !pack_tmp_.empty();
  info.chunks = packed ? pack_chunks_ : chunks_;
  info.digest = ObjectDigest(size_, info.chunks);
  info.size = size_;
  info.packed = packed;
  if (expected != nullptr && *expected != info.digest) {
    error_ = absl::InvalidArgumentError(absl::StrCat("content digest ", ops::ToHex(info.digest),
                                                     " != expected ", ops::ToHex(*expected)));
    Abort();
    return error_;
  }
  // The store takes the pack and its reservation, whatever the outcome.
  const fs::path pack_tmp = std::move(pack_tmp_);
  pack_tmp_.clear();
  const int64_t pack_bytes = std::exchange(pack_reserved_, 0);
  if (absl::Status s = store_->PublishObject(&info, packed ? &pack_tmp : nullptr, pack_bytes);
      !s.ok()) {
    error_ = s;
    Abort();
    return s;
  }
  // The manifest now holds references; drop the writer's own (and the chunk files it
  // wrote if the object was already stored as a pack, so nothing else uses them).
  done_ = true;
  store_->ReleaseWriterChunks(chunks_, /*drop_unused=*/true);
  return info;
}

// --- ObjectReader -------------------------------------------------------------------

ObjectReader::ObjectReader(const WeightStore* store, ObjectInfo info)
    : store_(store), info_(std::move(info)) {
  if (info_.v1) v1_hash_.emplace();
}

ObjectReader::~ObjectReader() = default;

absl::Status ObjectReader::Next(std::vector<uint8_t>* out) {
  out->clear();
  if (next_chunk_ >= info_.chunks.size()) {
    if (!v1_hash_) return absl::OkStatus();
    Sha256 whole = v1_hash_->Finish();
    v1_hash_.reset();
    if (whole != info_.digest) {
      return absl::DataLossError(absl::StrCat("object ", ops::ToHex(info_.digest),
                                              " content hashes to ", ops::ToHex(whole)));
    }
    return absl::OkStatus();
  }
  size_t i = next_chunk_;
  RETURN_IF_ERROR(store_->ReadObjectChunk(info_, i, out));
  // A v2 name covers the chunk list, checked when the manifest was read; a v1 name is
  // the content's own hash.
  if (v1_hash_) v1_hash_->Update(*out);
  ++next_chunk_;
  return absl::OkStatus();
}

// --- WeightStore --------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<WeightStore>> WeightStore::Open(const StoreOptions& options) {
  if (options.root.empty()) return absl::InvalidArgumentError("store root is empty");
  if (options.capacity_bytes < 0) return absl::InvalidArgumentError("negative store capacity");
  std::unique_ptr<WeightStore> store(new WeightStore(options));
  RETURN_IF_ERROR(store->Load());
  return store;
}

fs::path WeightStore::ChunkPath(const Sha256& d) const {
  std::string hex = ops::ToHex(d);
  return options_.root / "chunks" / hex.substr(0, 2) / hex;
}

fs::path WeightStore::ManifestPath(const Sha256& d) const {
  std::string hex = ops::ToHex(d);
  return options_.root / "objects" / hex.substr(0, 2) / hex;
}

fs::path WeightStore::PackPath(const Sha256& d) const {
  std::string hex = ops::ToHex(d);
  return options_.root / "packs" / hex.substr(0, 2) / hex;
}

fs::path WeightStore::TmpPath(const std::string& name) const {
  uint64_t n;
  {
    std::lock_guard<std::mutex> lock(mu_);
    n = const_cast<WeightStore*>(this)->tmp_counter_++;
  }
  return options_.root / "tmp" / absl::StrCat(name, ".", ::getpid(), ".", n);
}

absl::Status WeightStore::Load() {
  std::error_code ec;
  for (const char* sub : {"chunks", "objects", "packs", "tmp"}) {
    fs::create_directories(options_.root / sub, ec);
    if (ec)
      return absl::InternalError(
          absl::StrCat("mkdir ", (options_.root / sub).string(), ": ", ec.message()));
  }
  // Interrupted writes leave only tmp files: they were never renamed into place.
  for (const auto& e : fs::directory_iterator(options_.root / "tmp", ec)) fs::remove(e.path(), ec);
  for (const auto& e : fs::recursive_directory_iterator(options_.root / "chunks", ec)) {
    if (!e.is_regular_file()) continue;
    auto d = ParseDigestHex(e.path().filename().string());
    if (!d.ok()) continue;
    int64_t sz = static_cast<int64_t>(e.file_size(ec));
    chunk_bytes_[*d] = sz;
    used_bytes_ += sz;
  }
  std::map<Sha256, int64_t> packs;
  for (const auto& e : fs::recursive_directory_iterator(options_.root / "packs", ec)) {
    if (!e.is_regular_file()) continue;
    auto d = ParseDigestHex(e.path().filename().string());
    if (d.ok()) packs[*d] = static_cast<int64_t>(e.file_size(ec));
  }
  for (const auto& e : fs::recursive_directory_iterator(options_.root / "objects", ec)) {
    if (!e.is_regular_file()) continue;
    auto d = ParseDigestHex(e.path().filename().string());
    if (!d.ok()) continue;
    objects_.insert(*d);
    auto info = ReadManifest(*d);
    if (!info.ok()) continue;  // reported as DATA_LOSS when read
    auto pack = packs.find(*d);
    if (pack != packs.end() && !info->v1) {  // its bytes are the pack, not chunk files
      packs_[*d] = pack->second;
      used_bytes_ += pack->second;
      packs.erase(pack);
      continue;
    }
    for (const Sha256& c : info->chunks) ++chunk_refs_[c];
  }
  // A pack whose manifest was never written (a crash in between) or is corrupt.
  for (const auto& [d, size] : packs) fs::remove(PackPath(d), ec);
  auto freed = CollectGarbage();
  return freed.status();
}

absl::StatusOr<fs::path> WeightStore::WriteTmp(const fs::path& path, ByteSpan data,
                                               bool sync) const {
  const fs::path tmp = TmpPath(path.filename().string());
  constexpr int kFlags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
  // A batched write of whole, aligned blocks goes straight to the disk (O_DIRECT): no
  // copy into the page cache and no writeback of it later, the larger part of the CPU
  // a copy costs. Filesystems without O_DIRECT (tmpfs) get a buffered write.
  const bool direct = !sync && options_.fsync && data.size() % kDirectAlign == 0 &&
                      reinterpret_cast<uintptr_t>(data.data()) % kDirectAlign == 0;
  int fd = direct ? ::open(tmp.c_str(), kFlags | O_DIRECT, 0644) : -1;
  if (fd >= 0) {
    // Sized first, the write is not an extending one, which ext4 serializes and journals
    // (orphan list) around each direct write.
    (void)::ftruncate(fd, static_cast<off_t>(data.size()));
  }
  if (fd < 0) fd = ::open(tmp.c_str(), kFlags, 0644);
  if (fd < 0) return ErrnoStatus("create", tmp);
  auto fail = [&](const char* what) {
    absl::Status s = ErrnoStatus(what, tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  };
  const uint8_t* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t w = ::write(fd, p, left);
    if (w < 0 && errno == EINVAL && (::fcntl(fd, F_GETFL) & O_DIRECT)) {
      // O_DIRECT refused at write time: write the rest through the page cache.
      if (::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_DIRECT) == 0) continue;
    }
    if (w < 0) {
      if (errno == EINTR) continue;
      return fail("write");
    }
    p += w;
    left -= static_cast<size_t>(w);
  }
  if (options_.fsync) {
    if (sync) {
      if (::fsync(fd) != 0) return fail("fsync");
    } else {
      // Start the writeback now, so the batch's syncfs finds little left to write.
      (void)::sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    }
  }
  ::close(fd);
  return tmp;
}

absl::Status WeightStore::RenameIntoPlace(const fs::path& tmp, const fs::path& path) const {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status s = ErrnoStatus("rename", path);
    ::unlink(tmp.c_str());
    return s;
  }
  return absl::OkStatus();
}

absl::Status WeightStore::WriteFileDurably(const fs::path& path, ByteSpan data,
                                           std::set<fs::path>* dirty_dirs) const {
  ASSIGN_OR_RETURN(fs::path tmp, WriteTmp(path, data, /*sync=*/true));
  RETURN_IF_ERROR(RenameIntoPlace(tmp, path));
  if (dirty_dirs != nullptr) {
    dirty_dirs->insert(path.parent_path());
  } else if (options_.fsync) {
    RETURN_IF_ERROR(FsyncDir(path.parent_path()));
  }
  return absl::OkStatus();
}

absl::Status WeightStore::FsyncDirs(const std::set<fs::path>& dirs) const {
  if (!options_.fsync || dirs.empty()) return absl::OkStatus();
  // Each directory fsync costs a journal commit and a cache flush; past a few
  // directories one syncfs (which commits every rename at once) is cheaper.
  if (dirs.size() > 4) return SyncFs();
  for (const fs::path& dir : dirs) RETURN_IF_ERROR(FsyncDir(dir));
  return absl::OkStatus();
}

absl::Status WeightStore::SyncFs() const {
  int fd = ::open(options_.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open dir", options_.root);
  int rc = ::syncfs(fd);
  ::close(fd);
  if (rc != 0) return ErrnoStatus("syncfs", options_.root);
  return absl::OkStatus();
}

absl::Status WeightStore::PutChunk(const Sha256& digest, ByteSpan data, bool* created,
                                   std::set<fs::path>* dirty_dirs) {
  *created = false;
  {
    std::unique_lock<std::mutex> lock(mu_);
    ++writer_refs_[digest];
    // Another writer may be writing this very chunk: wait until its file is in place
    // (or its write failed, and this one writes it).
    pending_cv_.wait(lock, [&] { return !pending_chunks_.count(digest); });
    if (chunk_bytes_.count(digest)) {  // deduplicated
      // Its rename may not be durable yet (a concurrent writer fsyncs its directories
      // at its own end): this writer fsyncs the directory too before publishing.
      if (dirty_dirs != nullptr) dirty_dirs->insert(ChunkPath(digest).parent_path());
      return absl::OkStatus();
    }
    int64_t size = static_cast<int64_t>(data.size());
    if (options_.capacity_bytes > 0 && used_bytes_ + size > options_.capacity_bytes) {
      if (--writer_refs_[digest] == 0) writer_refs_.erase(digest);
      return absl::ResourceExhaustedError(absl::StrCat("store full: ", used_bytes_, " of ",
                                                       options_.capacity_bytes,
                                                       " bytes used, chunk needs ", size));
    }
    // Reserve before writing so concurrent writers cannot overshoot the capacity.
    chunk_bytes_[digest] = size;
    used_bytes_ += size;
    pending_chunks_[digest] = nullptr;
  }
  absl::Status s = WriteFileDurably(ChunkPath(digest), data, dirty_dirs);
  std::lock_guard<std::mutex> lock(mu_);
  pending_chunks_.erase(digest);
  pending_cv_.notify_all();
  if (!s.ok()) {
    chunk_bytes_.erase(digest);
    used_bytes_ -= static_cast<int64_t>(data.size());
    if (--writer_refs_[digest] == 0) writer_refs_.erase(digest);
    return s;
  }
  *created = true;
  return absl::OkStatus();
}

void WeightStore::ReleaseWriterChunks(const std::vector<Sha256>& chunks, bool drop_unused) {
  std::vector<Sha256> drop;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Sha256& c : chunks) {
      auto it = writer_refs_.find(c);
      if (it != writer_refs_.end() && --it->second == 0) writer_refs_.erase(it);
      if (drop_unused && !writer_refs_.count(c) && !chunk_refs_.count(c) && chunk_bytes_.count(c)) {
        used_bytes_ -= chunk_bytes_[c];
        chunk_bytes_.erase(c);
        drop.push_back(c);
      }
    }
  }
  std::error_code ec;
  for (const Sha256& c : drop) fs::remove(ChunkPath(c), ec);
}

absl::Status WeightStore::ReservePack(int64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  if (options_.capacity_bytes > 0 && used_bytes_ + bytes > options_.capacity_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat("store full: ", used_bytes_, " of ",
                                                     options_.capacity_bytes,
                                                     " bytes used, the file needs ", bytes));
  }
  used_bytes_ += bytes;
  return absl::OkStatus();
}

void WeightStore::ReleasePack(int64_t bytes) {
  if (bytes == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  used_bytes_ -= bytes;
}

absl::Status WeightStore::PublishObject(ObjectInfo* info, const fs::path* pack_tmp,
                                        int64_t pack_bytes) {
  const Sha256 digest = info->digest;
  {
    std::unique_lock<std::mutex> lock(mu_);
    // One writer at a time publishes a given object, so it is stored in one layout.
    pending_cv_.wait(lock, [&] { return !publishing_.count(digest); });
    if (objects_.count(digest)) {  // already stored
      info->packed = packs_.count(digest) > 0;
      used_bytes_ -= pack_bytes;
      lock.unlock();
      if (pack_tmp != nullptr) ::unlink(pack_tmp->c_str());
      return absl::OkStatus();
    }
    publishing_.insert(digest);
  }
  absl::Status s;
  const fs::path pack = PackPath(digest);
  if (pack_tmp != nullptr) {
    std::error_code ec;
    const bool new_dir = fs::create_directories(pack.parent_path(), ec);
    s = RenameIntoPlace(*pack_tmp, pack);
    // The rename (and a new directory's own entry) durable before the manifest names it.
    if (s.ok() && options_.fsync) {
      s = FsyncDirs(new_dir
                        ? std::set<fs::path>{pack.parent_path(), pack.parent_path().parent_path()}
                        : std::set<fs::path>{pack.parent_path()});
    }
  }
  if (s.ok()) {
    const std::string body = ObjectManifestText(info->size, info->chunks);
    s = WriteFileDurably(ManifestPath(digest),
                         ByteSpan(reinterpret_cast<const uint8_t*>(body.data()), body.size()));
  }
  std::lock_guard<std::mutex> lock(mu_);
  publishing_.erase(digest);
  pending_cv_.notify_all();
  if (!s.ok()) {
    used_bytes_ -= pack_bytes;
    if (pack_tmp != nullptr) {
      ::unlink(pack_tmp->c_str());
      ::unlink(pack.c_str());
    }
    return s;
  }
  objects_.insert(digest);
  info->packed = pack_tmp != nullptr;
  if (info->packed) {
    packs_[digest] = pack_bytes;
  } else {
    for (const Sha256& c : info->chunks) ++chunk_refs_[c];
  }
  return absl::OkStatus();
}

absl::StatusOr<ObjectInfo> WeightStore::ReadManifest(const Sha256& digest) const {
  std::vector<uint8_t> raw;
  absl::Status s = ReadWholeFile(ManifestPath(digest), kMaxManifestBytes, &raw);
  if (absl::IsNotFound(s)) {
    return absl::NotFoundError(absl::StrCat("no object ", ops::ToHex(digest)));
  }
  RETURN_IF_ERROR(s);
  std::string_view text(reinterpret_cast<const char*>(raw.data()), raw.size());
  auto corrupt = [&](std::string_view why) {
    return absl::DataLossError(
        absl::StrCat("corrupt manifest of object ", ops::ToHex(digest), ": ", std::string(why)));
  };
  ObjectInfo info;
  info.digest = digest;
  std::string_view body = text;
  if (text.substr(0, sizeof(kManifestMagic)) == absl::StrCat(kManifestMagic, "\n")) {
    // v2: the object's name is the manifest's hash.
    if (ops::Sha256Of({ByteSpan(raw)}) != digest) return corrupt("it does not hash to the name");
  } else {
    // v1: a trailing "check <sha256 of the preceding bytes>" line; the name is the
    // content's hash (verified by sequential reads).
    info.v1 = true;
    size_t check_pos = text.rfind("check ");
    if (check_pos == std::string_view::npos) return corrupt("no checksum");
    body = text.substr(0, check_pos);
    Sha256 want = ops::Sha256Of({ByteSpan(raw.data(), check_pos)});
    std::string_view check_line = text.substr(check_pos + 6);
    if (check_line.size() != 65 || check_line.substr(0, 64) != ops::ToHex(want))
      return corrupt("checksum mismatch");
  }
  std::vector<std::string_view> lines;
  for (size_t pos = 0; pos < body.size();) {
    size_t nl = body.find('\n', pos);
    if (nl == std::string_view::npos) nl = body.size();
    if (nl > pos) lines.push_back(body.substr(pos, nl - pos));
    pos = nl + 1;
  }
  if (lines.size() < 2 || lines[0] != (info.v1 ? kManifestMagicV1 : kManifestMagic)) {
    return corrupt("bad header");
  }
  if (lines[1].substr(0, 5) != "size ") return corrupt("no size");
  std::string_view size_text = lines[1].substr(5);
  auto [ptr, ec] =
      std::from_chars(size_text.data(), size_text.data() + size_text.size(), info.size);
  if (ec != std::errc() || ptr != size_text.data() + size_text.size() || info.size < 0) {
    return corrupt("bad size");
  }
  info.chunks.reserve(lines.size() - 2);
  for (size_t i = 2; i < lines.size(); ++i) {
    if (lines[i].substr(0, 6) != "chunk ") return corrupt("bad chunk line");
    auto c = ParseDigestHex(lines[i].substr(6));
    if (!c.ok()) return corrupt("bad chunk digest");
    info.chunks.push_back(*c);
  }
  if (static_cast<int64_t>(info.chunks.size()) != ChunkCountFor(info.size))
    return corrupt("chunk count != size");
  return info;
}

absl::Status WeightStore::ReadObjectChunk(const ObjectInfo& info, size_t index,
                                          std::vector<uint8_t>* out) const {
  const int64_t offset = static_cast<int64_t>(index) * kChunkBytes;
  const int64_t expected = std::min<int64_t>(kChunkBytes, info.size - offset);
  const Sha256& digest = info.chunks[index];
  if (!info.packed) return ReadChunk(digest, expected, out);
  const fs::path path = PackPath(info.digest);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return absl::DataLossError(
          absl::StrCat("pack of object ", ops::ToHex(info.digest), " is missing"));
    }
    return ErrnoStatus("open", path);
  }
  out->resize(static_cast<size_t>(expected));
  int64_t done = 0;
  ssize_t n = 0;
  while (done < expected) {
    n = ::pread(fd, out->data() + done, static_cast<size_t>(expected - done), offset + done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += n;
  }
  absl::Status read_error = n < 0 ? ErrnoStatus("read", path) : absl::OkStatus();
  ::close(fd);
  if (!read_error.ok() || done < expected) {
    out->clear();
    if (!read_error.ok()) return read_error;
    return absl::DataLossError(absl::StrCat("chunk ", ops::ToHex(digest), " (", index,
                                            " of object ", ops::ToHex(info.digest),
                                            ") is missing: its pack is too short"));
  }
  if (ops::Sha256Of({ByteSpan(*out)}) != digest) {
    out->clear();
    return absl::DataLossError(absl::StrCat("chunk ", ops::ToHex(digest), " (", index,
                                            " of object ", ops::ToHex(info.digest),
                                            ") is corrupt (hash mismatch)"));
  }
  return absl::OkStatus();
}

absl::Status WeightStore::ReadChunk(const Sha256& digest, int64_t expected_size,
                                    std::vector<uint8_t>* out) const {
  absl::Status s = ReadWholeFile(ChunkPath(digest), kChunkBytes, out);
  if (absl::IsNotFound(s))
    return absl::DataLossError(absl::StrCat("chunk ", ops::ToHex(digest), " is missing"));
  RETURN_IF_ERROR(s);
  if (static_cast<int64_t>(out->size()) != expected_size) {
    out->clear();
    return absl::DataLossError(absl::StrCat("chunk ", ops::ToHex(digest), " has ", out->size(),
                                            " bytes, expected ", expected_size));
  }
  if (ops::Sha256Of({ByteSpan(*out)}) != digest) {
    out->clear();
    return absl::DataLossError(
        absl::StrCat("chunk ", ops::ToHex(digest), " is corrupt (hash mismatch)"));
  }
  return absl::OkStatus();
}

std::unique_ptr<ObjectWriter> WeightStore::NewWriter() {
  return std::unique_ptr<ObjectWriter>(new ObjectWriter(this));
}

absl::StatusOr<ObjectInfo> WeightStore::Put(ByteSpan data) {
  auto w = NewWriter();
  RETURN_IF_ERROR(w->Append(data));
  return w->Finish();
}

absl::StatusOr<ObjectInfo> WeightStore::Stat(const Sha256& digest) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!objects_.count(digest))
      return absl::NotFoundError(absl::StrCat("no object ", ops::ToHex(digest)));
  }
  ASSIGN_OR_RETURN(ObjectInfo info, ReadManifest(digest));
  std::lock_guard<std::mutex> lock(mu_);
  info.packed = packs_.count(digest) > 0;
  return info;
}

absl::StatusOr<std::unique_ptr<ObjectReader>> WeightStore::NewReader(const Sha256& digest) const {
  ASSIGN_OR_RETURN(ObjectInfo info, Stat(digest));
  return std::unique_ptr<ObjectReader>(new ObjectReader(this, std::move(info)));
}

absl::Status WeightStore::ReadRange(const Sha256& digest, int64_t offset, int64_t length,
                                    std::vector<uint8_t>* out) const {
  ASSIGN_OR_RETURN(ObjectInfo info, Stat(digest));
  if (offset < 0 || length < 0 || offset > info.size || length > info.size - offset) {
    return absl::OutOfRangeError(absl::StrCat("range [", offset, ", +", length,
                                              ") outside object of ", info.size, " bytes"));
  }
  out->clear();
  out->reserve(static_cast<size_t>(length));
  std::vector<uint8_t> chunk;
  int64_t pos = offset;
  const int64_t end = offset + length;
  while (pos < end) {
    int64_t ci = pos / kChunkBytes;
    int64_t csize = std::min<int64_t>(kChunkBytes, info.size - ci * kChunkBytes);
    RETURN_IF_ERROR(ReadObjectChunk(info, static_cast<size_t>(ci), &chunk));
    int64_t from = pos - ci * kChunkBytes;
    int64_t to = std::min<int64_t>(csize, end - ci * kChunkBytes);
    out->insert(out->end(), chunk.begin() + from, chunk.begin() + to);
    pos = ci * kChunkBytes + to;
  }
  return absl::OkStatus();
}

absl::Status WeightStore::Verify(const Sha256& digest) const {
  ASSIGN_OR_RETURN(auto reader, NewReader(digest));
  std::vector<uint8_t> piece;
  do {
    RETURN_IF_ERROR(reader->Next(&piece));
  } while (!piece.empty());
  return absl::OkStatus();
}

std::vector<Sha256> WeightStore::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::vector<Sha256>(objects_.begin(), objects_.end());
}

absl::Status WeightStore::Delete(const Sha256& digest) {
  std::vector<Sha256> chunks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!objects_.count(digest))
      return absl::NotFoundError(absl::StrCat("no object ", ops::ToHex(digest)));
  }
  auto info = ReadManifest(digest);
  // Unlink the manifest first: once it is gone the object is invisible, and chunks
  // left behind by a crash here are garbage collected at the next Open.
  if (::unlink(ManifestPath(digest).c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus("unlink", ManifestPath(digest));
  }
  if (options_.fsync) RETURN_IF_ERROR(FsyncDir(ManifestPath(digest).parent_path()));
  std::vector<Sha256> drop;
  bool drop_pack = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    objects_.erase(digest);
    if (auto pack = packs_.find(digest); pack != packs_.end()) {
      // Its chunks are in the pack only: nothing else to release.
      used_bytes_ -= pack->second;
      packs_.erase(pack);
      drop_pack = true;
    } else if (info.ok()) {
      for (const Sha256& c : info->chunks) {
        auto it = chunk_refs_.find(c);
        if (it != chunk_refs_.end() && --it->second == 0) chunk_refs_.erase(it);
        if (!chunk_refs_.count(c) && !writer_refs_.count(c) && chunk_bytes_.count(c)) {
          used_bytes_ -= chunk_bytes_[c];
          chunk_bytes_.erase(c);
          drop.push_back(c);
        }
      }
    }
  }
  std::error_code ec;
  for (const Sha256& c : drop) fs::remove(ChunkPath(c), ec);
  if (drop_pack) fs::remove(PackPath(digest), ec);
  if (!info.ok()) {
    // A corrupt manifest's chunks are unknown: reclaim what nothing else uses.
    RETURN_IF_ERROR(CollectGarbage().status());
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> WeightStore::CollectGarbage() {
  std::vector<Sha256> drop;
  int64_t freed = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // A corrupt manifest keeps nothing alive, so its object reads DATA_LOSS (missing
    // chunks) rather than silently holding capacity forever.
    for (auto it = chunk_bytes_.begin(); it != chunk_bytes_.end();) {
      if (!chunk_refs_.count(it->first) && !writer_refs_.count(it->first)) {
        freed += it->second;
        used_bytes_ -= it->second;
        drop.push_back(it->first);
        it = chunk_bytes_.erase(it);
      } else {
        ++it;
      }
    }
  }
  std::error_code ec;
  for (const Sha256& c : drop) fs::remove(ChunkPath(c), ec);
  return freed;
}

int64_t WeightStore::used_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return used_bytes_;
}

}  // namespace datanode::node
