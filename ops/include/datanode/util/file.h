// Copyright 2026 The datanode Authors.
//
// Durable whole-file writes: the new content is written to a temporary file beside the
// target (<name>.tmp.<pid>.<n>, created exclusively), fsynced, renamed over the target
// and the directory fsynced. A reader sees the old file or the new one, never a part, and
// after a crash the target is either complete or absent/old; a leftover temporary file is
// the only trace, and its name is no digest. Files a store writes in bulk (chunks,
// batched under one syncfs) use the store's own pipeline; everything else uses this.
//
// Errors: INTERNAL naming the step, the path and errno's text; RESOURCE_EXHAUSTED for
// ENOSPC and EDQUOT; ALREADY_EXISTS when `replace` is false and the target exists. On
// every error the temporary file is removed and the target is untouched.
// Thread safety: thread-safe; concurrent writers of one target each write a whole file
// and the last rename wins.
#ifndef DATANODE_UTIL_FILE_H_
#define DATANODE_UTIL_FILE_H_

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>

#include "absl/status/status.h"

namespace datanode::util {

// INTERNAL "<what> <path>: <strerror(err)>"; RESOURCE_EXHAUSTED for ENOSPC and EDQUOT.
absl::Status ErrnoStatus(std::string_view what, const std::filesystem::path& path, int err = errno);

struct AtomicWriteOptions {
  // Permission bits of a new file (the process umask still applies).
  uint32_t mode = 0644;
  // false: never replace an existing target (ALREADY_EXISTS), checked atomically at the
  // rename (renameat2 RENAME_NOREPLACE, or link(2) where the filesystem lacks it).
  bool replace = true;
  // false: skip both fsyncs (atomic, not durable); for tests and benchmarks.
  bool sync = true;
};

// Writes `data` to `path` as described above. The directory must exist.
absl::Status WriteFileAtomically(const std::filesystem::path& path, std::span<const uint8_t> data,
                                 const AtomicWriteOptions& options = {});
absl::Status WriteFileAtomically(const std::filesystem::path& path, std::string_view data,
                                 const AtomicWriteOptions& options = {});

// fsync(2) of a directory, so that the renames and creations in it are durable.
absl::Status FsyncDir(const std::filesystem::path& dir);

}  // namespace datanode::util

#endif  // DATANODE_UTIL_FILE_H_
