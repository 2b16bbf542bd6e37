// Copyright 2026 The datanode Authors.
#include "conformance/store_view.h"

#include <filesystem>

#include "absl/strings/str_cat.h"

namespace datanode::conformance {

absl::StatusOr<node::ObjectInfo> StoreView::ModelObject(const ops::Sha256& model) const {
  auto manifest = models_->Get(model);
  if (absl::IsNotFound(manifest.status())) {
    return absl::NotFoundError(absl::StrCat("model ", ops::ToHex(model), " is not in the store"));
  }
  if (!manifest.ok()) return manifest.status();
  auto info = store_->Stat(manifest->source);
  if (absl::IsNotFound(info.status())) {
    return absl::NotFoundError(absl::StrCat("the file object ", ops::ToHex(manifest->source),
                                            " of model ", ops::ToHex(model), " is missing"));
  }
  return info;
}

absl::Status StoreView::ReadRange(const ops::Sha256& object, int64_t offset, int64_t length,
                                  std::vector<uint8_t>* out) const {
  return store_->ReadRange(object, offset, length, out);
}

absl::StatusOr<OpenedStore> OpenStoreDir(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat("no weight store at ", dir));
  }
  OpenedStore out;
  node::StoreOptions options;
  options.root = dir;
  auto store = node::WeightStore::Open(options);
  if (!store.ok()) return store.status();
  out.store = *std::move(store);
  auto models = node::ModelRegistry::Open(out.store.get());
  if (!models.ok()) return models.status();
  out.models = *std::move(models);
  out.view = std::make_unique<StoreView>(out.store.get(), out.models.get());
  return out;
}

}  // namespace datanode::conformance
