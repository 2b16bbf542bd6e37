// Copyright 2026 The datanode Authors.
//
// Test support, not product code: a whole file's bytes, for tests that compare a file
// with what they expect. A file that cannot be opened reads as "" (the comparison then
// fails and names the difference). Thread-compatible.
#ifndef DATANODE_TESTS_SUPPORT_READ_FILE_H_
#define DATANODE_TESTS_SUPPORT_READ_FILE_H_

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace datanode::test_support {

inline std::string ReadWholeFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

}  // namespace datanode::test_support

#endif  // DATANODE_TESTS_SUPPORT_READ_FILE_H_
