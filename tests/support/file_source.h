// Copyright 2026 The datanode Authors.
//
// Test support, not product code: a node::ByteSource over a file on disk (std::ifstream),
// for the tests that parse a real model file in place (tests/node/gguf_test.cc,
// tests/inference/tokenizer_test.cc). A file that cannot be opened has size 0. ReadAt:
// OUT_OF_RANGE past the end, DATA_LOSS if the read fails. Not thread-safe (one stream).
#ifndef DATANODE_TESTS_SUPPORT_FILE_SOURCE_H_
#define DATANODE_TESTS_SUPPORT_FILE_SOURCE_H_

#include <cstdint>
#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "node/import/model.h"

namespace datanode::test_support {

class FileSource : public node::ByteSource {
 public:
  explicit FileSource(const std::string& path) : f_(path, std::ios::binary) {
    f_.seekg(0, std::ios::end);
    size_ = f_ ? static_cast<int64_t>(f_.tellg()) : 0;
  }
  int64_t size() const override { return size_; }
  absl::Status ReadAt(int64_t offset, int64_t length, uint8_t* out) const override {
    if (offset < 0 || length < 0 || offset > size_ - length) {
      return absl::OutOfRangeError("read past end");
    }
    f_.seekg(offset);
    f_.read(reinterpret_cast<char*>(out), length);
    return f_ ? absl::OkStatus() : absl::DataLossError("read failed");
  }

 private:
  mutable std::ifstream f_;
  int64_t size_ = 0;
};

}  // namespace datanode::test_support

#endif  // DATANODE_TESTS_SUPPORT_FILE_SOURCE_H_
