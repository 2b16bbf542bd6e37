// Copyright 2026 The datanode Authors.
//
// The storage phase's access to the node's weight store (node/store/) and its model
// registry (node/import/): there is one chunk store, and the admission test reads and
// writes it through its own API. A standalone run opens the store directory
// (OpenStoreDir); the daemon passes the store it serves from.
//
// Thread safety: as the store and registry (thread-safe); the view adds no state.
#ifndef DATANODE_CONFORMANCE_STORE_VIEW_H_
#define DATANODE_CONFORMANCE_STORE_VIEW_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "datanode/ops/digest.h"
#include "node/import/model_registry.h"
#include "node/store/weight_store.h"

namespace datanode::conformance {

class StoreView {
 public:
  // Both must outlive the view; `models` must be the registry over `store`.
  StoreView(node::WeightStore* store, const node::ModelRegistry* models)
      : store_(store), models_(models) {}
  virtual ~StoreView() = default;

  node::WeightStore& store() const { return *store_; }

  // The store object holding model `model`'s file (its weights). NOT_FOUND naming the
  // model when the node does not hold it or its file object is gone; DATA_LOSS when a
  // manifest on the way is corrupt.
  absl::StatusOr<node::ObjectInfo> ModelObject(const ops::Sha256& model) const;

  // The prover's read: `length` bytes at `offset` of `object` into *out, every chunk
  // touched verified against its name (WeightStore::ReadRange: DATA_LOSS naming a
  // missing or altered chunk). Virtual so that a test can put a delay in front of a
  // real store, as a node that fetches challenged bytes from elsewhere would.
  virtual absl::Status ReadRange(const ops::Sha256& object, int64_t offset, int64_t length,
                                 std::vector<uint8_t>* out) const;

 private:
  node::WeightStore* store_;
  const node::ModelRegistry* models_;
};

// A store opened from its directory for a standalone run (dn-conformance run
// --store-dir). Opening a store removes leftovers of interrupted writes, as the
// daemon's start-up does, so a standalone run must not share the directory with a
// running daemon (`dnctl admission` tests that daemon's store instead).
struct OpenedStore {
  std::unique_ptr<node::WeightStore> store;
  std::unique_ptr<node::ModelRegistry> models;
  std::unique_ptr<StoreView> view;
};
// NOT_FOUND when `dir` does not exist (a typo should not create an empty store);
// otherwise WeightStore::Open's and ModelRegistry::Open's errors.
absl::StatusOr<OpenedStore> OpenStoreDir(const std::string& dir);

}  // namespace datanode::conformance

#endif  // DATANODE_CONFORMANCE_STORE_VIEW_H_
