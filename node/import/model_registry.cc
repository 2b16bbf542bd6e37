// Copyright 2026 The datanode Authors.
#include "node/import/model_registry.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "datanode/ops/status_macros.h"
#include "datanode/util/file.h"

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
      if (n < 0) return absl::InternalError(absl::StrCat("read: ", std::strerror(errno)));
      if (n == 0) {
        return absl::FailedPreconditionError(
            "model file changed during import (it became shorter)");
      }
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

// Owns a file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~UniqueFd() { Reset(); }
  int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

constexpr int kOpenFlags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;

absl::Status OpenError(int err, const fs::path& path, std::string what) {
  if (what.empty()) what = err == EXDEV ? "it is outside the import_root" : std::strerror(err);
  std::string msg = absl::StrCat("cannot open model file ", path.string(), ": ", what);
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(msg);
    case EACCES:
    case EPERM:
    case EXDEV:
    case ELOOP:
      return absl::PermissionDeniedError(msg);
    default:
      return absl::InvalidArgumentError(msg);
  }
}

// The fallback of OpenBeneath: one component at a time, never following a symlink.
absl::StatusOr<int> WalkBeneath(int root_fd, const fs::path& relative) {
  std::vector<std::string> parts;
  for (const fs::path& part : relative) {
    const std::string p = part.string();
    if (p.empty() || p == ".") continue;
    if (p == "..") return OpenError(EXDEV, relative, "");
    parts.push_back(p);
  }
  if (parts.empty()) parts.push_back(".");
  UniqueFd dir;
  int at = root_fd;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    int fd = ::openat(at, parts[i].c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      struct stat st {};
      if (::fstatat(at, parts[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
        // Without openat2 a symlink's target cannot be confined to the root.
        return OpenError(ELOOP, relative, "a symbolic link (not followed)");
      }
      return OpenError(err, relative, "");
    }
    dir = UniqueFd(fd);
    at = fd;
  }
  int fd = ::openat(at, parts.back().c_str(), kOpenFlags);
  if (fd < 0) {
    int err = errno;
    return OpenError(err, relative, err == ELOOP ? "is a symbolic link (not followed)" : "");
  }
  return fd;
}

struct ModelFile {
  UniqueFd fd;
  UniqueFd root;      // the import root's directory, when there is one
  fs::path relative;  // the path beneath `root`
};

// Maps the caller's path to one beneath `root`: an absolute path must start with the
// root as configured or fully resolved; a relative path is taken from the root.
absl::StatusOr<fs::path> RelativeToRoot(const fs::path& path, const std::string& root) {
  const fs::path p = path.lexically_normal();
  if (p.is_relative()) return p;
  std::error_code ec;
  for (fs::path base : {fs::absolute(root, ec).lexically_normal(), fs::canonical(root, ec)}) {
    if (base.empty()) continue;
    if (!base.has_filename()) base = base.parent_path();  // "dir/" names "dir"
    auto [b, q] = std::mismatch(base.begin(), base.end(), p.begin(), p.end());
    if (b == base.end()) return p.lexically_relative(base);
  }
  return absl::PermissionDeniedError(
      absl::StrCat("import path ", path.string(), " is outside the import_root ", root));
}

absl::StatusOr<ModelFile> OpenModelFile(const fs::path& path, const std::string& root) {
  if (path.empty()) return absl::InvalidArgumentError("the model path is empty");
  ModelFile file;
  if (root.empty()) {
    // No root: the operator's own tool on a local node, so symlinks are followed.
    int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return OpenError(errno, path, "");
    file.fd = UniqueFd(fd);
    file.relative = path;
    return file;
  }
  ASSIGN_OR_RETURN(file.relative, RelativeToRoot(path, root));
  int root_fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) {
    return absl::InternalError(
        absl::StrCat("cannot open the import_root ", root, ": ", std::strerror(errno)));
  }
  file.root = UniqueFd(root_fd);
  ASSIGN_OR_RETURN(int fd, internal::OpenBeneath(root_fd, file.relative));
  file.fd = UniqueFd(fd);
  return file;
}

// FAILED_PRECONDITION unless the open file still has the size and times it had when
// the import began and the path still names it.
absl::Status CheckUnchanged(const ModelFile& file, const struct stat& before,
                            const fs::path& path) {
  const absl::Status changed = absl::FailedPreconditionError(
      absl::StrCat("model file changed during import: ", path.string()));
  struct stat now {};
  if (::fstat(file.fd.get(), &now) != 0 || now.st_size != before.st_size ||
      now.st_mtim.tv_sec != before.st_mtim.tv_sec ||
      now.st_mtim.tv_nsec != before.st_mtim.tv_nsec ||
      now.st_ctim.tv_sec != before.st_ctim.tv_sec ||
      now.st_ctim.tv_nsec != before.st_ctim.tv_nsec) {
    return changed;
  }
  struct stat named {};
  if (file.root.get() >= 0) {
    auto fd = internal::OpenBeneath(file.root.get(), file.relative);
    if (!fd.ok()) return changed;
    UniqueFd again(*fd);
    if (::fstat(again.get(), &named) != 0) return changed;
  } else if (::stat(file.relative.c_str(), &named) != 0) {
    return changed;
  }
  if (named.st_dev != before.st_dev || named.st_ino != before.st_ino) return changed;
  return absl::OkStatus();
}

// Reads an object whole; every chunk and the object's name are verified.
absl::StatusOr<std::vector<uint8_t>> ReadObject(const WeightStore& store, const Sha256& digest) {
  ASSIGN_OR_RETURN(auto reader, store.NewReader(digest));
  std::vector<uint8_t> all, piece;
  while (true) {
    RETURN_IF_ERROR(reader->Next(&piece));
    if (piece.empty()) return all;
    all.insert(all.end(), piece.begin(), piece.end());
  }
}

}  // namespace

namespace internal {

absl::StatusOr<int> OpenBeneath(int root_fd, const fs::path& relative, bool use_openat2) {
  if (relative.is_absolute()) return OpenError(EXDEV, relative, "");
  if (use_openat2) {
    open_how how{};
    how.flags = kOpenFlags;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    const std::string rel = relative.empty() ? "." : relative.string();
    long fd = ::syscall(SYS_openat2, root_fd, rel.c_str(), &how, sizeof(how));
    if (fd >= 0) return static_cast<int>(fd);
    int err = errno;
    if (err != ENOSYS) {
      return OpenError(err, relative,
                       err == ELOOP ? "a symbolic link (not followed) or a symlink loop" : "");
    }
  }
  return WalkBeneath(root_fd, relative);
}

}  // namespace internal

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
    auto entry = reg->Load(*d);
    // A model whose manifest is unreadable stays registered: Get reports DATA_LOSS.
    if (entry.ok()) reg->models_[*d] = *std::move(entry);
  }
  return reg;
}

fs::path ModelRegistry::RegistrationPath(const Sha256& model) const {
  return store_->root() / "models" / ops::ToHex(model);
}

absl::StatusOr<ImportResult> ModelRegistry::ImportFile(const fs::path& path,
                                                       const ImportOptions& options) {
  const absl::Time deadline = absl::Now() + options.timeout;
  auto interrupted = [&]() -> absl::Status {
    if (options.cancelled && options.cancelled()) {
      return absl::CancelledError(absl::StrCat("import of ", path.string(), " was cancelled"));
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("import of ", path.string(),
                                                      " did not finish within its time limit of ",
                                                      absl::FormatDuration(options.timeout)));
    }
    return absl::OkStatus();
  };
  ASSIGN_OR_RETURN(ModelFile file, OpenModelFile(path, options.root));
  struct stat st {};
  if (::fstat(file.fd.get(), &st) != 0) {
    return absl::InternalError(absl::StrCat("fstat ", path.string(), ": ", std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), " is not a regular file"));
  }
  // Reject bad files before copying them: parse the header straight from disk.
  FileSource source_file(file.fd.get(), st.st_size);
  RETURN_IF_ERROR(ParseModelFile(source_file, options.limits).status());

  auto writer = store_->NewWriter();
  FileCopyOptions copy = options.copy;
  copy.poll = [&](int64_t done) {
    if (options.progress) options.progress(done, st.st_size);
    return interrupted();
  };
  RETURN_IF_ERROR(writer->AppendFile(file.fd.get(), st.st_size, copy));
  if (options.progress) options.progress(st.st_size, st.st_size);
  RETURN_IF_ERROR(interrupted());
  // Every byte was read through the descriptor; a file written to meanwhile would give
  // a mix of two versions, and one renamed over would not be the file the caller meant.
  // Checked before the object is published, so nothing is left behind.
  RETURN_IF_ERROR(CheckUnchanged(file, st, path));
  ASSIGN_OR_RETURN(ObjectInfo source, writer->Finish());

  // The authoritative parse reads the stored (verified) bytes, so a file that changed
  // while it was copied cannot give a manifest that disagrees with the stored object.
  StoreSource stored(store_, source);
  ASSIGN_OR_RETURN(ParsedModel parsed, ParseModelFile(stored, options.limits));
  ImportResult result;
  result.manifest.format = parsed.format;
  result.manifest.source = source.digest;
  result.manifest.source_size = source.size;
  result.manifest.tensors = std::move(parsed.tensors);
  std::string text = SerializeManifest(result.manifest);
  const ops::ByteSpan text_bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  ASSIGN_OR_RETURN(ObjectInfo manifest_obj, store_->Put(text_bytes));
  result.model = ops::Sha256Of({text_bytes});
  // A leftover temporary file of a crash is named like no digest, so a scan ignores it.
  RETURN_IF_ERROR(util::WriteFileAtomically(RegistrationPath(result.model),
                                            ops::ToHex(manifest_obj.digest) + "\n"));
  std::lock_guard<std::mutex> lock(mu_);
  models_[result.model] = Entry{result.manifest, manifest_obj.digest};
  return result;
}

absl::StatusOr<ModelManifest> ModelRegistry::Get(const Sha256& model) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = models_.find(model);
    if (it != models_.end()) return it->second.manifest;
  }
  ASSIGN_OR_RETURN(Entry entry, Load(model));
  return std::move(entry.manifest);
}

absl::StatusOr<ModelRegistry::Entry> ModelRegistry::Load(const Sha256& model) const {
  std::ifstream reg(RegistrationPath(model), std::ios::binary);
  if (!reg) return absl::NotFoundError(absl::StrCat("no model ", ops::ToHex(model)));
  std::string object_hex;
  reg >> object_hex;
  Entry entry;
  entry.object = model;  // an empty registration: written when the two were the same
  if (!object_hex.empty()) {
    auto d = ParseDigestHex(object_hex);
    if (!d.ok()) {
      return absl::DataLossError(
          absl::StrCat("registration of model ", ops::ToHex(model), " is corrupt"));
    }
    entry.object = *d;
  }
  ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, ReadObject(*store_, entry.object));
  if (ops::Sha256Of({ops::ByteSpan(bytes)}) != model) {
    return absl::DataLossError(
        absl::StrCat("manifest of model ", ops::ToHex(model), " is corrupt"));
  }
  auto m =
      ParseManifest(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  if (!m.ok())
    return absl::DataLossError(
        absl::StrCat("manifest of model ", ops::ToHex(model), ": ", m.status().message()));
  entry.manifest = *std::move(m);
  return entry;
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
  for (const auto& [digest, e] : models_) {
    if (e.object == object || e.manifest.source == object) return true;
  }
  return false;
}

absl::Status ModelRegistry::Delete(const Sha256& model) {
  Entry entry;
  bool cached = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = models_.find(model);
    if (it != models_.end()) {
      entry = it->second;
      cached = true;
    }
  }
  if (!cached) {
    ASSIGN_OR_RETURN(entry, Load(model));
  }
  const ModelManifest& m = entry.manifest;
  std::error_code ec;
  fs::remove(RegistrationPath(model), ec);
  bool source_shared = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    models_.erase(model);
    for (const auto& [d, other] : models_) source_shared |= other.manifest.source == m.source;
  }
  absl::Status s = store_->Delete(entry.object);
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
