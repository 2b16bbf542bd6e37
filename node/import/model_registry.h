// Copyright 2026 The datanode Authors.
//
// The models a node holds: imported model files, each named by the SHA-256 of its
// manifest (docs/store.md). A model is two store objects (the source file's bytes and
// the manifest) plus a durable registration file `models/<digest>` under the store
// root. Tensor bytes are read back from the store, so every read is verified.
// Thread-safe.
#ifndef DATANODE_NODE_IMPORT_MODEL_REGISTRY_H_
#define DATANODE_NODE_IMPORT_MODEL_REGISTRY_H_

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "node/import/model.h"
#include "node/store/weight_store.h"

namespace datanode::node {

struct ImportResult {
  Sha256 model{};
  ModelManifest manifest;
};

class ModelRegistry {
 public:
  // `store` must outlive the registry.
  static absl::StatusOr<std::unique_ptr<ModelRegistry>> Open(WeightStore* store);

  // Streams a safetensors or GGUF file from the node's disk into the store (bounded
  // memory: one chunk), validates it as hostile input, stores its manifest and
  // registers the model. Importing the same file twice returns the same digest.
  // NOT_FOUND / PERMISSION_DENIED for the path, INVALID_ARGUMENT for a bad file,
  // RESOURCE_EXHAUSTED when the store is full.
  absl::StatusOr<ImportResult> ImportFile(const std::filesystem::path& path,
                                          const ParseLimits& limits = {});

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
  explicit ModelRegistry(WeightStore* store) : store_(store) {}
  std::filesystem::path RegistrationPath(const Sha256& model) const;

  WeightStore* store_;
  mutable std::mutex mu_;
  std::map<Sha256, ModelManifest> models_;  // guarded by mu_
};

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
