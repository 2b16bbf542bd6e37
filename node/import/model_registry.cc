// Copyright 2026 The datanode Authors.
#include "node/import/model_registry.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "datanode/ops/status_macros.h"

namespace datanode::node {
namespace fs = std::filesystem;

namespace {

class FileSource : public ByteSource {
 public:
  FileSource(int fd, int64_t size) : fd_(fd), size_(size) {}
  int64_t size() const override { return size_; }
  absl::Status ReadAt(int64_t offset, int64_t length, uint8_t* out) const override {
    if (offset < 0 || length < 0 || offset > size_ || length > size_ - offset) {
      return absl::OutOfRangeError("read past end of file");
    }
    while (length > 0) {
      ssize_t n = ::pread(fd_, out, static_cast<size_t>(length), offset);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        return absl::FailedPreconditionError("model file changed or unreadable during import");
      out += n;
      offset += n;
      length -= n;
    }
    return absl::OkStatus();
  }

 private:
  int fd_;
  int64_t size_;
};

absl::Status CreateEmptyFileDurably(const fs::path& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return absl::InternalError(absl::StrCat("create ", path.string(), ": ", std::strerror(errno)));
  ::fsync(fd);
  ::close(fd);
  int dfd = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status StoreSource::ReadAt(int64_t offset, int64_t length, uint8_t* out) const {
  if (offset < 0 || length < 0 || offset > info_.size || length > info_.size - offset) {
    return absl::OutOfRangeError("read past end of object");
  }
  while (length > 0) {
    int64_t ci = offset / kChunkBytes;
    if (ci != cached_chunk_) {
      int64_t csize = std::min<int64_t>(kChunkBytes, info_.size - ci * kChunkBytes);
      cached_chunk_ = -1;
      RETURN_IF_ERROR(store_->ReadRange(info_.digest, ci * kChunkBytes, csize, &cache_));
      cached_chunk_ = ci;
    }
    int64_t from = offset - ci * kChunkBytes;
    int64_t take = std::min<int64_t>(length, static_cast<int64_t>(cache_.size()) - from);
    std::memcpy(out, cache_.data() + from, static_cast<size_t>(take));
    out += take;
    offset += take;
    length -= take;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ModelRegistry>> ModelRegistry::Open(WeightStore* store) {
  std::unique_ptr<ModelRegistry> reg(new ModelRegistry(store));
  std::error_code ec;
  fs::create_directories(store->root() / "models", ec);
  if (ec) return absl::InternalError(absl::StrCat("mkdir models: ", ec.message()));
  for (const auto& e : fs::directory_iterator(store->root() / "models", ec)) {
    auto d = ParseDigestHex(e.path().filename().string());
    if (!d.ok()) continue;
    auto m = reg->Get(*d);
    // A model whose manifest is unreadable stays registered: Get reports DATA_LOSS.
    if (m.ok()) reg->models_[*d] = *m;
  }
  return reg;
}

fs::path ModelRegistry::RegistrationPath(const Sha256& model) const {
  return store_->root() / "models" / ops::ToHex(model);
}

absl::StatusOr<ImportResult> ModelRegistry::ImportFile(const fs::path& path,
                                                       const ParseLimits& limits) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    std::string msg =
        absl::StrCat("cannot open model file ", path.string(), ": ", std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(msg);
    if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(msg);
    return absl::InvalidArgumentError(msg);
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), " is not a regular file"));
  }
  // Reject bad files before copying them: parse the header straight from disk.
  FileSource file(fd, st.st_size);
  RETURN_IF_ERROR(ParseModelFile(file, limits).status());

  auto writer = store_->NewWriter();
  std::vector<uint8_t> buf(static_cast<size_t>(kChunkBytes));
  for (int64_t off = 0; off < st.st_size;) {
    int64_t len = std::min<int64_t>(kChunkBytes, st.st_size - off);
    RETURN_IF_ERROR(file.ReadAt(off, len, buf.data()));
    RETURN_IF_ERROR(writer->Append(ops::ByteSpan(buf.data(), static_cast<size_t>(len))));
    off += len;
  }
  ASSIGN_OR_RETURN(ObjectInfo source, writer->Finish());

  // The authoritative parse reads the stored (verified) bytes, so a file that changed
  // while it was copied cannot give a manifest that disagrees with the stored object.
  StoreSource stored(store_, source);
  ASSIGN_OR_RETURN(ParsedModel parsed, ParseModelFile(stored, limits));
  ImportResult result;
  result.manifest.format = parsed.format;
  result.manifest.source = source.digest;
  result.manifest.source_size = source.size;
  result.manifest.tensors = std::move(parsed.tensors);
  std::string text = SerializeManifest(result.manifest);
  ASSIGN_OR_RETURN(
      ObjectInfo manifest_obj,
      store_->Put(ops::ByteSpan(reinterpret_cast<const uint8_t*>(text.data()), text.size())));
  result.model = manifest_obj.digest;
  RETURN_IF_ERROR(CreateEmptyFileDurably(RegistrationPath(result.model)));
  std::lock_guard<std::mutex> lock(mu_);
  models_[result.model] = result.manifest;
  return result;
}

absl::StatusOr<ModelManifest> ModelRegistry::Get(const Sha256& model) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = models_.find(model);
    if (it != models_.end()) return it->second;
  }
  std::error_code ec;
  if (!fs::exists(RegistrationPath(model), ec)) {
    return absl::NotFoundError(absl::StrCat("no model ", ops::ToHex(model)));
  }
  ASSIGN_OR_RETURN(ObjectInfo info, store_->Stat(model));
  std::vector<uint8_t> bytes;
  RETURN_IF_ERROR(store_->ReadRange(model, 0, info.size, &bytes));
  if (ops::Sha256Of({ops::ByteSpan(bytes)}) != model) {
    return absl::DataLossError(
        absl::StrCat("manifest of model ", ops::ToHex(model), " is corrupt"));
  }
  auto m =
      ParseManifest(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  if (!m.ok())
    return absl::DataLossError(
        absl::StrCat("manifest of model ", ops::ToHex(model), ": ", m.status().message()));
  return *m;
}

std::vector<Sha256> ModelRegistry::List() const {
  std::vector<Sha256> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(store_->root() / "models", ec)) {
    auto d = ParseDigestHex(e.path().filename().string());
    if (d.ok()) out.push_back(*d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool ModelRegistry::References(const Sha256& object) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [digest, m] : models_) {
    if (digest == object || m.source == object) return true;
  }
  return false;
}

absl::Status ModelRegistry::Delete(const Sha256& model) {
  ASSIGN_OR_RETURN(ModelManifest m, Get(model));
  std::error_code ec;
  fs::remove(RegistrationPath(model), ec);
  bool source_shared = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    models_.erase(model);
    for (const auto& [d, other] : models_) source_shared |= other.source == m.source;
  }
  absl::Status s = store_->Delete(model);
  if (!s.ok() && !absl::IsNotFound(s)) return s;
  if (!source_shared) {
    s = store_->Delete(m.source);
    if (!s.ok() && !absl::IsNotFound(s)) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint8_t>> ModelRegistry::ReadTensor(const Sha256& model,
                                                               std::string_view tensor,
                                                               TensorInfo* info) const {
  ASSIGN_OR_RETURN(ModelManifest m, Get(model));
  const TensorInfo* t = m.Find(tensor);
  if (t == nullptr) {
    return absl::NotFoundError(absl::StrCat("model ", ops::ToHex(model), " has no tensor '",
                                            std::string(tensor.substr(0, 256)), "'"));
  }
  *info = *t;
  std::vector<uint8_t> bytes;
  RETURN_IF_ERROR(store_->ReadRange(m.source, t->offset, t->size, &bytes));
  return bytes;
}

}  // namespace datanode::node
