// Copyright 2026 The datanode Authors.
//
// Bench-only helpers: load a llama GGUF straight from a file (no store import, so an
// 8 GB file is not copied), the current process's RSS, and a wall clock.
// The engine path is the node's own: ParseGguf + ReadGgufMetadata + ModelConfigFromGguf
// + Model::Create, exactly what LoadModel does after the store lookup.
#ifndef DATANODE_BENCH_INFERENCE_GGUF_FILE_H_
#define DATANODE_BENCH_INFERENCE_GGUF_FILE_H_

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "datanode/ops/status_macros.h"
#include "node/import/gguf_metadata.h"
#include "node/import/model.h"
#include "node/inference/model.h"
#include "node/inference/model_config.h"

namespace datanode::bench {

class FileSource : public node::ByteSource {
 public:
  static absl::StatusOr<std::unique_ptr<FileSource>> Open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return absl::NotFoundError(absl::StrCat("cannot open ", path));
    auto s = std::unique_ptr<FileSource>(new FileSource(fd));
    s->size_ = ::lseek(fd, 0, SEEK_END);
    return s;
  }
  ~FileSource() override { ::close(fd_); }
  int64_t size() const override { return size_; }
  absl::Status ReadAt(int64_t offset, int64_t length, uint8_t* out) const override {
    while (length > 0) {
      const ssize_t n = ::pread(fd_, out, static_cast<size_t>(length), offset);
      if (n <= 0) return absl::DataLossError("short read");
      out += n;
      offset += n;
      length -= n;
    }
    return absl::OkStatus();
  }

 private:
  explicit FileSource(int fd) : fd_(fd) {}
  int fd_;
  int64_t size_ = 0;
};

class FileTensors : public node::inference::TensorProvider {
 public:
  FileTensors(const FileSource& source, std::vector<node::TensorInfo> tensors)
      : source_(source), tensors_(std::move(tensors)) {}
  const node::TensorInfo* Find(std::string_view name) const override {
    for (const auto& t : tensors_) {
      if (t.name == name) return &t;
    }
    return nullptr;
  }
  absl::StatusOr<std::vector<uint8_t>> Read(const node::TensorInfo& info) const override {
    std::vector<uint8_t> bytes(static_cast<size_t>(info.size));
    RETURN_IF_ERROR(source_.ReadAt(info.offset, info.size, bytes.data()));
    return bytes;
  }

 private:
  const FileSource& source_;
  std::vector<node::TensorInfo> tensors_;
};

struct LoadedFile {
  std::unique_ptr<FileSource> source;
  node::GgufMetadata metadata;
  std::shared_ptr<const node::inference::Model> model;
};

inline absl::StatusOr<LoadedFile> LoadGgufFile(const std::string& path, ops::Backend& backend,
                                               int64_t max_context) {
  LoadedFile f;
  ASSIGN_OR_RETURN(f.source, FileSource::Open(path));
  ASSIGN_OR_RETURN(node::ParsedModel parsed, node::ParseGguf(*f.source));
  ASSIGN_OR_RETURN(f.metadata, node::ReadGgufMetadata(*f.source));
  ASSIGN_OR_RETURN(node::inference::ModelConfig config,
                   node::inference::ModelConfigFromGguf(f.metadata));
  const FileTensors tensors(*f.source, std::move(parsed.tensors));
  node::inference::ModelOptions options;
  options.max_context = max_context;
  ASSIGN_OR_RETURN(std::unique_ptr<node::inference::Model> model,
                   node::inference::Model::Create(config, tensors, backend, options));
  f.model = std::move(model);
  return f;
}

// VmRSS / VmHWM of this process in bytes (Linux /proc/self/status).
inline int64_t ProcStatusBytes(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(key);
  while (std::getline(in, line)) {
    if (line.compare(0, n, key) == 0) return std::stoll(line.substr(n + 1)) * 1024;
  }
  return -1;
}

inline double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

}  // namespace datanode::bench

#endif  // DATANODE_BENCH_INFERENCE_GGUF_FILE_H_
