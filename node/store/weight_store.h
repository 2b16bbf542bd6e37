// Copyright 2026 The datanode Authors.
//
// The node's content-addressed weight store (docs/store.md).
//
// Objects are immutable byte strings named by the SHA-256 of their content. Each is
// split into 1 MiB chunks named by their own SHA-256 (identical chunks are stored
// once) and described by a small manifest file (size + chunk list) named by the
// object digest. On disk, under `root`:
//   chunks/ab/<sha256>   chunk bytes         objects/ab/<sha256>   object manifest
//   tmp/                 files being written (removed at Open)
// Durability: every file is written to tmp/, fsynced, renamed into place, and its
// directory fsynced. An object becomes visible only when its manifest is renamed into
// place, after all its chunks are durable, so a crash never exposes a partial object.
//
// Integrity: every read re-hashes what it returns. A chunk whose bytes do not match
// its name, a manifest whose checksum fails, or an object whose concatenation does
// not hash to its name yields DATA_LOSS; bad bytes are never returned.
//
// Capacity: the bytes of all chunks are counted; a write that would exceed the
// capacity fails with RESOURCE_EXHAUSTED and leaves nothing visible.
//
// Thread safety: all methods are thread-safe. Memory: a writer buffers one chunk; a
// reader holds one chunk.
#ifndef DATANODE_NODE_STORE_WEIGHT_STORE_H_
#define DATANODE_NODE_STORE_WEIGHT_STORE_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "datanode/ops/digest.h"
#include "datanode/ops/types.h"

namespace datanode::node {

using ops::ByteSpan;
using ops::Sha256;

inline constexpr int64_t kChunkBytes = int64_t{1} << 20;

// Parses 64 lower- or upper-case hex characters. INVALID_ARGUMENT otherwise.
absl::StatusOr<Sha256> ParseDigestHex(std::string_view hex);

struct ObjectInfo {
  Sha256 digest{};
  int64_t size = 0;
  std::vector<Sha256> chunks;  // in order; all kChunkBytes long except the last
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
  absl::Status Append(ByteSpan data);
  // Flushes the last chunk and publishes the object. If `expected` is given and the
  // content hashes differently, INVALID_ARGUMENT and nothing is published.
  absl::StatusOr<ObjectInfo> Finish(const Sha256* expected = nullptr);
  int64_t bytes_written() const { return size_; }

 private:
  friend class WeightStore;
  explicit ObjectWriter(WeightStore* store);
  absl::Status FlushChunk();
  void Abort();

  WeightStore* store_;
  std::vector<uint8_t> buffer_;
  std::vector<Sha256> chunks_;
  std::vector<Sha256> created_;  // chunks this writer created (to drop on abort)
  void* sha_ctx_ = nullptr;      // EVP_MD_CTX*
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
  void* sha_ctx_ = nullptr;
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

 private:
  friend class ObjectWriter;
  friend class ObjectReader;
  explicit WeightStore(StoreOptions options) : options_(std::move(options)) {}
  absl::Status Load();
  std::filesystem::path ManifestPath(const Sha256& digest) const;
  // Writes `data` durably to `path` (tmp + fsync + rename + dir fsync).
  absl::Status WriteFileDurably(const std::filesystem::path& path, ByteSpan data) const;
  // Stores one chunk, reserving capacity; *created tells whether a new file was written.
  absl::Status PutChunk(const Sha256& digest, ByteSpan data, bool* created);
  absl::Status ReadChunk(const Sha256& digest, int64_t expected_size,
                         std::vector<uint8_t>* out) const;
  absl::Status PublishManifest(const ObjectInfo& info);
  void ReleaseWriterChunks(const std::vector<Sha256>& chunks, bool drop_unused);
  absl::StatusOr<ObjectInfo> ReadManifest(const Sha256& digest) const;

  StoreOptions options_;
  mutable std::mutex mu_;
  int64_t used_bytes_ = 0;                 // guarded by mu_
  std::map<Sha256, int64_t> chunk_bytes_;  // guarded by mu_: chunk -> size on disk
  std::map<Sha256, int> chunk_refs_;       // guarded by mu_: chunk -> #objects using it
  std::map<Sha256, int> writer_refs_;      // guarded by mu_: chunk -> #live writers
  std::set<Sha256> objects_;               // guarded by mu_
  uint64_t tmp_counter_ = 0;               // guarded by mu_
};

}  // namespace datanode::node

#endif  // DATANODE_NODE_STORE_WEIGHT_STORE_H_
