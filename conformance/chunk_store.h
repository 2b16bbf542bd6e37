// Copyright 2026 The datanode Authors.
//
// A minimal content-addressed chunk store used by the storage phase (phase 7) until
// the daemon's weight store (node/store/) offers the same operations. Layout:
//   <root>/chunks/<first two hex digits>/<sha256 hex>   one chunk (<= 1 MiB typical)
//   <root>/MANIFEST                                      chunk names the node holds
// Writes are durable: temp file, fsync, rename, fsync of the directory. Reads through
// Get() verify the content hash (DATA_LOSS on mismatch). Not thread-safe for writes
// to the same root.
#ifndef DATANODE_CONFORMANCE_CHUNK_STORE_H_
#define DATANODE_CONFORMANCE_CHUNK_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "datanode/ops/types.h"

namespace datanode::conformance {

inline constexpr int64_t kChunkBytes = int64_t{1} << 20;

class ChunkStore {
 public:
  explicit ChunkStore(std::string root) : root_(std::move(root)) {}

  const std::string& root() const { return root_; }
  std::string ChunkPath(const std::string& name) const;

  // Stores `data` durably; returns its name (SHA-256 hex). *fsync_ms (optional)
  // receives the time the file fsync took.
  absl::StatusOr<std::string> Put(ops::ByteSpan data, double* fsync_ms = nullptr);
  // Whole chunk, hash-verified: NOT_FOUND if missing, DATA_LOSS if altered.
  absl::StatusOr<std::vector<uint8_t>> Get(const std::string& name) const;
  // Raw bytes [offset, offset + length) without verification (the prover's read).
  absl::StatusOr<std::vector<uint8_t>> ReadRange(const std::string& name, uint64_t offset,
                                                 uint64_t length) const;
  absl::StatusOr<uint64_t> Size(const std::string& name) const;
  absl::Status Remove(const std::string& name);
  // Asks the kernel to drop cached pages of a chunk (best effort, for honest read
  // throughput figures).
  void DropCache(const std::string& name) const;

  // Chunk names recorded in MANIFEST (empty when there is none).
  absl::StatusOr<std::vector<std::string>> Manifest() const;
  // Appends names to MANIFEST (durably).
  absl::Status AddToManifest(const std::vector<std::string>& names);

 private:
  std::string root_;
};

}  // namespace datanode::conformance

#endif  // DATANODE_CONFORMANCE_CHUNK_STORE_H_
