// Copyright 2026 The datanode Authors.
#include "datanode/util/file.h"

#include <fcntl.h>
#include <stdio.h>  // renameat2
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

namespace datanode::util {
namespace fs = std::filesystem;

absl::Status ErrnoStatus(std::string_view what, const fs::path& path, int err) {
  std::string msg = absl::StrCat(absl::string_view(what.data(), what.size()), " ", path.string(),
                                 ": ", std::strerror(err));
  if (err == ENOSPC || err == EDQUOT) return absl::ResourceExhaustedError(msg);
  return absl::InternalError(msg);
}

absl::Status FsyncDir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open dir", dir);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus("fsync dir", dir, err);
  return absl::OkStatus();
}

namespace {

// Moves `tmp` to `path` unless `path` exists. RENAME_NOREPLACE where the filesystem
// has it, else link(2), which also refuses an existing target.
absl::Status RenameNoReplace(const fs::path& tmp, const fs::path& path) {
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) == 0) {
    return absl::OkStatus();
  }
  if (errno == EINVAL || errno == ENOSYS) {
    if (::link(tmp.c_str(), path.c_str()) == 0) {
      ::unlink(tmp.c_str());
      return absl::OkStatus();
    }
  }
  if (errno == EEXIST) return absl::AlreadyExistsError(absl::StrCat(path.string(), " exists"));
  return ErrnoStatus("rename", path);
}

}  // namespace

absl::Status WriteFileAtomically(const fs::path& path, std::string_view data,
                                 const AtomicWriteOptions& options) {
  static std::atomic<uint64_t> counter{0};
  const fs::path tmp = absl::StrCat(path.string(), ".tmp.", ::getpid(), ".", counter++);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                  static_cast<mode_t>(options.mode));
  if (fd < 0) return ErrnoStatus("create", tmp);
  auto fail = [&](absl::Status s) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  };
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t w = ::write(fd, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      return fail(ErrnoStatus("write", tmp));
    }
    p += w;
    left -= static_cast<size_t>(w);
  }
  if (options.sync && ::fsync(fd) != 0) return fail(ErrnoStatus("fsync", tmp));
  int rc = ::close(fd);
  fd = -1;
  if (rc != 0) return fail(ErrnoStatus("close", tmp));
  if (options.replace) {
    if (::rename(tmp.c_str(), path.c_str()) != 0) return fail(ErrnoStatus("rename", path));
  } else if (absl::Status s = RenameNoReplace(tmp, path); !s.ok()) {
    return fail(s);
  }
  if (!options.sync) return absl::OkStatus();
  fs::path dir = path.parent_path();
  return FsyncDir(dir.empty() ? fs::path(".") : dir);
}

absl::Status WriteFileAtomically(const fs::path& path, std::span<const uint8_t> data,
                                 const AtomicWriteOptions& options) {
  return WriteFileAtomically(
      path, std::string_view(reinterpret_cast<const char*>(data.data()), data.size()), options);
}

}  // namespace datanode::util
