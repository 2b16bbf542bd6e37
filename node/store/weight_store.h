// Copyright 2026 The datanode Authors.
//
// The node's content-addressed weight store (docs/store.md).
//
// Objects are immutable byte strings. Each is split into 1 MiB chunks named by their
// own SHA-256 (identical chunks are stored once) and described by a manifest (size +
// chunk list, ObjectManifestText); the object's name is the SHA-256 of that manifest
// (ObjectDigest), so every byte is hashed once, as part of its chunk. Stores written
// before this rule hold "v1" objects named by the SHA-256 of their content; they stay
// readable under those names (docs/store.md, migration). On disk, under `root`:
//   chunks/ab/<sha256>   chunk bytes         objects/ab/<sha256>   object manifest
//   packs/ab/<sha256>    the whole content of a large object copied from a file
//                        (AppendFile), chunk i at offset i MiB, named by its object
//   tmp/                 files being written (removed at Open)
// A packed object's chunks live only in its pack (not shared with other objects);
// every other object's chunks are chunk files, shared by all objects that hold them.
// Durability: every file is written to tmp/, fsynced, renamed into place, and its
// directory fsynced. An object becomes visible only when its manifest is renamed into
// place, after all its chunks (or its pack) are durable, so a crash never exposes a
// partial object.
//
// Integrity: every read re-hashes what it returns. A chunk whose bytes do not match
// its name, or a manifest that does not hash to the object's name (v1: whose checksum
// fails, or whose content does not hash to the name) yields DATA_LOSS; bad bytes are
// never returned.
//
// Capacity: the bytes of all chunks are counted; a write that would exceed the
// capacity fails with RESOURCE_EXHAUSTED and leaves nothing visible.
//
// Thread safety: all methods are thread-safe. Memory: a writer buffers one chunk
// (AppendFile: FileCopyOptions::buffers); a reader holds one chunk.
#ifndef DATANODE_NODE_STORE_WEIGHT_STORE_H_
#define DATANODE_NODE_STORE_WEIGHT_STORE_H_

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "datanode/ops/digest.h"
#include "datanode/ops/types.h"
#include "datanode/util/file.h"
#include "datanode/util/sha256.h"

namespace datanode::node {

using ops::ByteSpan;

using ops::Sha256;
// INTERNAL naming `what` and `path` with errno's text; RESOURCE_EXHAUSTED for ENOSPC
// and EDQUOT (datanode/util/file.h).
using util::ErrnoStatus;

inline constexpr int64_t kChunkBytes = int64_t{1} << 20;
// Buffers and lengths that are multiples of this may be written with O_DIRECT.
inline constexpr size_t kDirectAlign = 4096;

// Parses 64 lower- or upper-case hex characters. INVALID_ARGUMENT otherwise
// (util::Sha256FromHex).
inline absl::StatusOr<Sha256> ParseDigestHex(std::string_view hex) {
  return util::Sha256FromHex(hex);
}

struct ObjectInfo {
  Sha256 digest{};
  int64_t size = 0;
  std::vector<Sha256> chunks;  // in order; all kChunkBytes long except the last
  // A v1 object (written before the manifest-digest rule): its name is the SHA-256 of
  // its content, which sequential reads verify at the end.
  bool v1 = false;
  // Its bytes are one pack file (packs/), not chunk files. Set by Stat and Finish.
  bool packed = false;
};

// The canonical manifest of an object: "datanode-object v2\nsize <bytes>\n" and one
// "chunk <lower-case hex>\n" line per chunk, in order.
std::string ObjectManifestText(int64_t size, const std::vector<Sha256>& chunks);
// An object's name: SHA-256 of ObjectManifestText(size, chunks).
Sha256 ObjectDigest(int64_t size, const std::vector<Sha256>& chunks);

// How ObjectWriter::AppendFile copies a file: `readers` threads pread and hash chunks,
// `writers` threads write them (direct I/O, one write in flight each: several keep the
// disk busy while a writer waits for a CPU to submit its next write), the calling
// thread commits them; `buffers` 1 MiB buffers (at least readers + writers)
// bound the chunks in flight and the memory. Each clamped to [1, 64] (buffers 256).
// The defaults were the fastest measured on a 2-core VM (docs/store.md).
struct FileCopyOptions {
  int readers = 2;
  int writers = 4;
  int buffers = 12;
  // Chunks the page cache holds whole are copied from it (a file just downloaded or
  // copied costs no disk read); the others are read with O_DIRECT through a second
  // descriptor on the same open file (/proc/self/fd/N), not through the cache. Falls
  // back to pread on `fd` wherever that fails. false: every chunk through pread.
  bool direct_reads = true;
  // A file of at least this many bytes (and not empty) is stored as one pack file
  // (one create, one fsync, one rename) instead of one chunk file per MiB; smaller
  // files get chunk files, shared with equal chunks of other objects.
  int64_t pack_min_bytes = int64_t{64} << 20;
  // Called on the calling thread before the first chunk and then about every 50 ms
  // until the copy ends, with the bytes copied so far (chunk files: durable and
  // renamed, their directories fsynced at the end; a pack: written, made durable at the
  // end). A non-OK return stops the copy with that status. May be empty.
  std::function<absl::Status(int64_t bytes_done)> poll;
};

struct StoreOptions {
  std::filesystem::path root;
  // Total bytes of chunk data the store may hold. 0 = unlimited.
  int64_t capacity_bytes = 0;
  // fsync files and directories (tests of crash safety keep it on; benchmarks may not).
  bool fsync = true;
};

class WeightStore;

// Streams one object into the store. Not thread-safe (one writer per upload).
// Destroying an unfinished writer aborts it: chunks it added that no object uses are
// removed, nothing becomes visible.
class ObjectWriter {
 public:
  ~ObjectWriter();
  ObjectWriter(const ObjectWriter&) = delete;
  ObjectWriter& operator=(const ObjectWriter&) = delete;

  // Appends bytes. RESOURCE_EXHAUSTED when the store is full, INTERNAL on I/O errors;
  // after an error the writer is dead (every later call fails the same way).
  // FAILED_PRECONDITION after an AppendFile that made a pack (the writer stays usable).
  absl::Status Append(ByteSpan data);
  // Appends `size` bytes read with pread from `fd` at offsets 0..size, pipelined as
  // FileCopyOptions says: each byte is read once, hashed once and written once, to a
  // tmp chunk file (batches made durable with syncfs before they are renamed into
  // place; the directories are made durable in Finish, before the manifest) or, from
  // FileCopyOptions::pack_min_bytes on, to one tmp pack file (its space reserved
  // against the capacity up front; fsynced at the end, renamed into packs/ by Finish
  // before the manifest; dropped by Finish if the object is already stored). Only on a
  // fresh writer
  // (nothing appended yet: FAILED_PRECONDITION otherwise). FAILED_PRECONDITION if the
  // file ends before `size` ("became shorter"), INTERNAL on read errors, plus Append's
  // codes and whatever options.poll returns; every error kills the writer.
  absl::Status AppendFile(int fd, int64_t size, const FileCopyOptions& options = {});
  // Flushes the last chunk and publishes the object. If `expected` is given and the
  // content hashes differently, INVALID_ARGUMENT and nothing is published.
  absl::StatusOr<ObjectInfo> Finish(const Sha256* expected = nullptr);
  int64_t bytes_written() const { return size_; }

 private:
  friend class WeightStore;
  explicit ObjectWriter(WeightStore* store);
  absl::Status FlushChunk();
  absl::Status CopyFile(int fd, int64_t size, const FileCopyOptions& options);
  void Abort();

  WeightStore* store_;
  std::vector<uint8_t> buffer_;
  std::vector<Sha256> chunks_;                  // each entry holds one writer reference (PutChunk)
  std::set<std::filesystem::path> dirty_dirs_;  // chunk directories to fsync at Finish
  // A pack copied by AppendFile: its tmp file (durable), chunk names and the capacity
  // reserved for it (released by Abort, handed to the store by Finish).
  std::filesystem::path pack_tmp_;
  std::vector<Sha256> pack_chunks_;
  int64_t pack_reserved_ = 0;
  int64_t size_ = 0;
  absl::Status error_;
  bool done_ = false;
};

// Reads one object sequentially, verifying each chunk and, at the end, the whole.
class ObjectReader {
 public:
  ~ObjectReader();
  ObjectReader(const ObjectReader&) = delete;
  ObjectReader& operator=(const ObjectReader&) = delete;
  // Next piece (at most one chunk) into *out; an empty *out means the end, reached
  // only after the whole-object digest was verified. DATA_LOSS on corruption.
  absl::Status Next(std::vector<uint8_t>* out);
  const ObjectInfo& info() const { return info_; }

 private:
  friend class WeightStore;
  ObjectReader(const WeightStore* store, ObjectInfo info);
  const WeightStore* store_;
  ObjectInfo info_;
  size_t next_chunk_ = 0;
  std::optional<util::Sha256Hasher> v1_hash_;  // the whole content, for a v1 object
};

class WeightStore {
 public:
  // Opens (creating if needed) the store at options.root, removes leftovers of
  // interrupted writes (tmp files, chunks no object references) and indexes manifests.
  // DATA_LOSS is not returned here for corrupt manifests: they are reported by reads.
  static absl::StatusOr<std::unique_ptr<WeightStore>> Open(const StoreOptions& options);

  // Starts a streaming upload.
  std::unique_ptr<ObjectWriter> NewWriter();
  // Convenience: stores `data` in one go.
  absl::StatusOr<ObjectInfo> Put(ByteSpan data);

  // NOT_FOUND, or the object's manifest (DATA_LOSS if the manifest is corrupt).
  absl::StatusOr<ObjectInfo> Stat(const Sha256& digest) const;
  absl::StatusOr<std::unique_ptr<ObjectReader>> NewReader(const Sha256& digest) const;
  // Reads [offset, offset + length) of an object, verifying every chunk touched.
  // OUT_OF_RANGE if the range is not inside the object.
  absl::Status ReadRange(const Sha256& digest, int64_t offset, int64_t length,
                         std::vector<uint8_t>* out) const;
  // Reads and verifies the whole object (every chunk and the whole digest).
  absl::Status Verify(const Sha256& digest) const;
  // Digests of all published objects, sorted.
  std::vector<Sha256> List() const;
  // Removes an object (NOT_FOUND if absent) and the chunks only it used.
  absl::Status Delete(const Sha256& digest);
  // Removes chunk files no published object or live writer references; returns the
  // number of bytes freed.
  absl::StatusOr<int64_t> CollectGarbage();

  int64_t used_bytes() const;
  int64_t capacity_bytes() const { return options_.capacity_bytes; }
  const std::filesystem::path& root() const { return options_.root; }
  std::filesystem::path ChunkPath(const Sha256& digest) const;
  // Where a packed object's bytes are (ObjectInfo::packed).
  std::filesystem::path PackPath(const Sha256& object) const;

  // A chunk written to tmp/ but not yet durable (BeginChunk / CommitChunks, private).
  struct PendingChunk {
    Sha256 digest{};
    int64_t size = 0;
    std::filesystem::path tmp;
  };

 private:
  friend class ObjectWriter;
  friend class ObjectReader;
  explicit WeightStore(StoreOptions options) : options_(std::move(options)) {}
  absl::Status Load();
  std::filesystem::path ManifestPath(const Sha256& digest) const;
  // A new, unique path in tmp/ for a file that will become `name`.
  std::filesystem::path TmpPath(const std::string& name) const;
  // Writes `data` to a new file in tmp/ named after `path`; fsynced when `sync`, else
  // left for a later SyncFs: written with O_DIRECT when `data` is kDirectAlign-aligned
  // in address and length (and the filesystem allows it), else its writeback is started
  // (sync_file_range). Returns its path.
  absl::StatusOr<std::filesystem::path> WriteTmp(const std::filesystem::path& path, ByteSpan data,
                                                 bool sync) const;
  // rename(2), creating the parent; the tmp file is removed on failure.
  absl::Status RenameIntoPlace(const std::filesystem::path& tmp,
                               const std::filesystem::path& path) const;
  // syncfs(2) of the store's filesystem: every file written so far is durable, and
  // every rename (the journal is committed).
  absl::Status SyncFs() const;
  // Writes `data` durably to `path` (tmp + fsync + rename + dir fsync). With
  // `dirty_dirs`, the directory fsync is left to the caller: the parent is added there.
  absl::Status WriteFileDurably(const std::filesystem::path& path, ByteSpan data,
                                std::set<std::filesystem::path>* dirty_dirs = nullptr) const;
  // Stores one chunk, reserving capacity, and takes one writer reference on it (kept
  // on success); *created tells whether a new file was written. A chunk another writer
  // is writing is waited for. `dirty_dirs` as for WriteFileDurably; a deduplicated
  // chunk's directory is added too (its rename may not be durable yet).
  absl::Status PutChunk(const Sha256& digest, ByteSpan data, bool* created,
                        std::set<std::filesystem::path>* dirty_dirs = nullptr);
  // fsyncs the directories (one syncfs instead when there are more than 4).
  absl::Status FsyncDirs(const std::set<std::filesystem::path>& dirs) const;

  // The batched form of PutChunk, for AppendFile (node/store/file_copy.cc). BeginChunk
  // reserves the chunk, takes one writer reference and writes it to a tmp file whose
  // writeback is started; *tmp is empty when the chunk is already stored (deduplicated;
  // its directory is added to `dirty_dirs`), or when the same `copy` began it (that copy
  // commits it before it ends, or fails). A chunk another writer is writing is waited
  // for: every begun chunk is committed or abandoned within about 100 ms by its copy's
  // calling thread, which never waits for chunks itself. On error nothing is held.
  absl::Status BeginChunk(const void* copy, const Sha256& digest, ByteSpan data,
                          std::optional<std::filesystem::path>* tmp,
                          std::set<std::filesystem::path>* dirty_dirs);
  // Makes a batch of begun chunks durable with one syncfs and renames each into place
  // (its directory goes to `dirty_dirs`); committed[i] tells which succeeded (they keep
  // their writer reference). A chunk that fails, or every chunk when the syncfs fails,
  // is abandoned. `abandon` abandons them all without trying.
  absl::Status CommitChunks(const std::vector<PendingChunk>& batch, bool abandon,
                            std::vector<bool>* committed,
                            std::set<std::filesystem::path>* dirty_dirs);
  // Undoes BeginChunk for a chunk whose tmp file is gone: reservation, reference,
  // pending mark.
  void AbandonChunk(const Sha256& digest, int64_t size);
  absl::Status ReadChunk(const Sha256& digest, int64_t expected_size,
                         std::vector<uint8_t>* out) const;
  // Chunk `index` of an object, from its pack or its chunk file, verified.
  absl::Status ReadObjectChunk(const ObjectInfo& info, size_t index,
                               std::vector<uint8_t>* out) const;
  // Reserves `bytes` of capacity for a pack (RESOURCE_EXHAUSTED when full) / gives
  // them back.
  absl::Status ReservePack(int64_t bytes);
  void ReleasePack(int64_t bytes);
  // Publishes an object: with `pack_tmp`, renames that durable tmp file into packs/
  // (the `pack_bytes` reserved become the pack's) and makes its directory durable; then
  // writes the manifest durably. The store takes the tmp file and the reservation
  // whatever happens. An object already stored (or being published by another writer,
  // which is waited for) is left as it is: the tmp file is removed, OK. info->packed
  // tells where the stored object's bytes are.
  absl::Status PublishObject(ObjectInfo* info, const std::filesystem::path* pack_tmp,
                             int64_t pack_bytes);
  void ReleaseWriterChunks(const std::vector<Sha256>& chunks, bool drop_unused);
  absl::StatusOr<ObjectInfo> ReadManifest(const Sha256& digest) const;

  StoreOptions options_;
  mutable std::mutex mu_;
  int64_t used_bytes_ = 0;                 // guarded by mu_
  std::map<Sha256, int64_t> chunk_bytes_;  // guarded by mu_: chunk -> size on disk
  std::map<Sha256, int> chunk_refs_;       // guarded by mu_: chunk -> #objects using it
  std::map<Sha256, int> writer_refs_;      // guarded by mu_: chunk -> #live writers
  std::set<Sha256> objects_;               // guarded by mu_
  std::map<Sha256, int64_t> packs_;        // guarded by mu_: packed object -> pack bytes
  std::set<Sha256> publishing_;            // guarded by mu_: objects being published
  // guarded by mu_: chunk files being written -> the copy writing them (nullptr: PutChunk)
  std::map<Sha256, const void*> pending_chunks_;
  std::condition_variable pending_cv_;  // signalled when pending_chunks_ or publishing_ shrinks
  uint64_t tmp_counter_ = 0;            // guarded by mu_
};

}  // namespace datanode::node

#endif  // DATANODE_NODE_STORE_WEIGHT_STORE_H_
