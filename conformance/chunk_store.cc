// Copyright 2026 The datanode Authors.
#include "conformance/chunk_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "datanode/ops/digest.h"

namespace datanode::conformance {
namespace {

absl::Status Errno(const std::string& what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

absl::Status FsyncPath(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return Errno("open", path);
  int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? absl::OkStatus() : Errno("fsync", path);
}

absl::Status WriteAll(int fd, const uint8_t* p, size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Errno("write", path);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return absl::OkStatus();
}

}  // namespace

std::string ChunkStore::ChunkPath(const std::string& name) const {
  return absl::StrCat(root_, "/chunks/", name.substr(0, 2), "/", name);
}

absl::StatusOr<std::string> ChunkStore::Put(ops::ByteSpan data, double* fsync_ms) {
  std::string name = ops::ToHex(ops::Sha256Of({data}));
  std::string dir = absl::StrCat(root_, "/chunks/", name.substr(0, 2));
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("mkdir ", dir, ": ", ec.message()));
  std::string final_path = ChunkPath(name);
  std::string tmp = absl::StrCat(final_path, ".tmp.", ::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("create", tmp);
  absl::Status st = WriteAll(fd, data.data(), data.size(), tmp);
  auto t0 = std::chrono::steady_clock::now();
  if (st.ok() && ::fsync(fd) != 0) st = Errno("fsync", tmp);
  auto t1 = std::chrono::steady_clock::now();
  ::close(fd);
  if (st.ok() && ::rename(tmp.c_str(), final_path.c_str()) != 0) st = Errno("rename", tmp);
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  if (absl::Status d = FsyncPath(dir, O_RDONLY | O_DIRECTORY); !d.ok()) return d;
  if (fsync_ms != nullptr) {
    *fsync_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  }
  return name;
}

absl::StatusOr<std::vector<uint8_t>> ChunkStore::ReadRange(const std::string& name, uint64_t offset,
                                                           uint64_t length) const {
  std::string path = ChunkPath(name);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat("chunk ", name, " is missing"));
    return Errno("open", path);
  }
  std::vector<uint8_t> out(length);
  uint64_t got = 0;
  while (got < length) {
    ssize_t r = ::pread(fd, out.data() + got, length - got, static_cast<off_t>(offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<uint64_t>(r);
  }
  ::close(fd);
  if (got != length) {
    return absl::DataLossError(
        absl::StrCat("chunk ", name, " is shorter than ", offset + length, " bytes"));
  }
  return out;
}

absl::StatusOr<uint64_t> ChunkStore::Size(const std::string& name) const {
  struct stat st;
  if (::stat(ChunkPath(name).c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("chunk ", name, " is missing"));
  }
  return static_cast<uint64_t>(st.st_size);
}

absl::StatusOr<std::vector<uint8_t>> ChunkStore::Get(const std::string& name) const {
  auto size = Size(name);
  if (!size.ok()) return size.status();
  auto data = ReadRange(name, 0, *size);
  if (!data.ok()) return data.status();
  if (ops::ToHex(ops::Sha256Of({ops::ByteSpan(*data)})) != name) {
    return absl::DataLossError(absl::StrCat("chunk ", name, " does not match its hash"));
  }
  return data;
}

absl::Status ChunkStore::Remove(const std::string& name) {
  if (::unlink(ChunkPath(name).c_str()) != 0 && errno != ENOENT) {
    return Errno("unlink", ChunkPath(name));
  }
  return absl::OkStatus();
}

void ChunkStore::DropCache(const std::string& name) const {
  int fd = ::open(ChunkPath(name).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

absl::StatusOr<std::vector<std::string>> ChunkStore::Manifest() const {
  std::ifstream in(absl::StrCat(root_, "/MANIFEST"));
  std::vector<std::string> names;
  if (!in) return names;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line.size() != 64 || line.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return absl::DataLossError(absl::StrCat("MANIFEST holds a malformed name: ", line));
    }
    names.push_back(line);
  }
  return names;
}

absl::Status ChunkStore::AddToManifest(const std::vector<std::string>& names) {
  std::filesystem::create_directories(root_);
  std::string path = absl::StrCat(root_, "/MANIFEST");
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("open", path);
  std::string text;
  for (const auto& n : names) absl::StrAppend(&text, n, "\n");
  absl::Status st = WriteAll(fd, reinterpret_cast<const uint8_t*>(text.data()), text.size(), path);
  if (st.ok() && ::fsync(fd) != 0) st = Errno("fsync", path);
  ::close(fd);
  return st;
}

}  // namespace datanode::conformance
