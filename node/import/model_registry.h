// Copyright 2026 The datanode Authors.
//
// The models a node holds: imported model files, each named by the SHA-256 of its
// manifest text (docs/store.md). A model is two store objects (the source file's bytes
// and the manifest) plus a durable registration file `models/<digest>` under the store
// root holding the manifest object's digest (empty in stores written before objects
// were named by their chunk lists: then the model digest is the object's). Tensor
// bytes are read back from the store, so every read is verified. Thread-safe.
#ifndef DATANODE_NODE_IMPORT_MODEL_REGISTRY_H_
#define DATANODE_NODE_IMPORT_MODEL_REGISTRY_H_

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "node/import/model.h"
#include "node/store/weight_store.h"

namespace datanode::node {

struct ImportResult {
  Sha256 model{};
  ModelManifest manifest;
};

// Where an import may read from, and how long it may take.
struct ImportOptions {
  // The directory the path must lie beneath, or "" for any path the daemon can read.
  // With a root, the file is opened once, relative to the root's directory fd, with
  // openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) and O_NOFOLLOW (a symlink as the
  // last component is refused; symlinks before it may not leave the root). Where the
  // kernel lacks openat2 (ENOSYS) the path is walked one component at a time with
  // O_NOFOLLOW, refusing every symlink and "..". An absolute path must start with the
  // root (as configured or fully resolved); a relative one is taken from the root.
  std::string root;
  // The import ends with DEADLINE_EXCEEDED once it has run this long; checked as
  // `cancelled` is, so a read stuck inside the kernel (a hung network filesystem) is not
  // interrupted.
  absl::Duration timeout = absl::InfiniteDuration();
  // Polled before the copy, about every 50 ms during it and once after it; true ends
  // the import with CANCELLED. May be empty.
  std::function<bool()> cancelled;
  // Called on the importing thread before the copy, about every 50 ms during it and
  // once at its end, with the bytes copied (durably) and the file's size. May be empty.
  std::function<void(int64_t bytes_done, int64_t bytes_total)> progress;
  // How the file is copied into the store (threads and buffers; `poll` is set by the
  // import from `cancelled`, the time limit and `progress`).
  FileCopyOptions copy;
  ParseLimits limits;
};

class ModelRegistry {
 public:
  // `store` must outlive the registry.
  static absl::StatusOr<std::unique_ptr<ModelRegistry>> Open(WeightStore* store);

  // Copies a safetensors or GGUF file from the node's disk into the store
  // (ObjectWriter::AppendFile: pipelined as options.copy says, memory its buffers),
  // validates it as hostile input, stores its manifest and
  // registers the model. Importing the same file twice returns the same digest.
  // The file is opened once, without blocking (O_NONBLOCK: a FIFO or device cannot
  // hold the thread), must be a regular file (fstat), and is read only through that
  // descriptor (the copy's direct reads use a second descriptor opened on the same open
  // file through /proc/self/fd, never the path). Codes: NOT_FOUND (missing), PERMISSION_DENIED (outside the root, a
  // symlink, unreadable), INVALID_ARGUMENT (empty path, not a regular file, bad file),
  // FAILED_PRECONDITION (the file was written to, truncated or replaced while it was
  // read: its size, mtime, ctime or inode changed; nothing is registered),
  // DEADLINE_EXCEEDED / CANCELLED (see ImportOptions), RESOURCE_EXHAUSTED (store full).
  absl::StatusOr<ImportResult> ImportFile(const std::filesystem::path& path,
                                          const ImportOptions& options = {});

  // NOT_FOUND for unknown models, DATA_LOSS if the stored manifest is corrupt.
  absl::StatusOr<ModelManifest> Get(const Sha256& model) const;
  std::vector<Sha256> List() const;
  // Unregisters a model and deletes its manifest, and its source object unless
  // another model uses it.
  absl::Status Delete(const Sha256& model);
  // Whether a store object is the manifest or source of a registered model.
  bool References(const Sha256& object) const;

  // Reads one tensor's bytes (verified). NOT_FOUND for unknown models or tensors.
  absl::StatusOr<std::vector<uint8_t>> ReadTensor(const Sha256& model, std::string_view tensor,
                                                  TensorInfo* info) const;

 private:
  struct Entry {
    ModelManifest manifest;
    Sha256 object{};  // the store object holding the manifest text
  };
  explicit ModelRegistry(WeightStore* store) : store_(store) {}
  std::filesystem::path RegistrationPath(const Sha256& model) const;
  // Reads the registration and the manifest object (verified against `model`).
  absl::StatusOr<Entry> Load(const Sha256& model) const;

  WeightStore* store_;
  mutable std::mutex mu_;
  std::map<Sha256, Entry> models_;  // guarded by mu_
};

namespace internal {
// Opens `relative` (no leading "/") read-only beneath the directory `root_fd` as
// ImportOptions::root describes; `use_openat2` false forces the component walk (for
// tests). Returns the fd (O_CLOEXEC | O_NONBLOCK), which the caller closes.
absl::StatusOr<int> OpenBeneath(int root_fd, const std::filesystem::path& relative,
                                bool use_openat2 = true);
}  // namespace internal

// A ByteSource over a store object; reads are verified chunk by chunk (one cached).
class StoreSource : public ByteSource {
 public:
  StoreSource(const WeightStore* store, ObjectInfo info) : store_(store), info_(std::move(info)) {}
  int64_t size() const override { return info_.size; }
  absl::Status ReadAt(int64_t offset, int64_t length, uint8_t* out) const override;

 private:
  const WeightStore* store_;
  ObjectInfo info_;
  mutable int64_t cached_chunk_ = -1;
  mutable std::vector<uint8_t> cache_;
};

}  // namespace datanode::node

#endif  // DATANODE_NODE_IMPORT_MODEL_REGISTRY_H_
