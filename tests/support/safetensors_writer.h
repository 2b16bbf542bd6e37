// Copyright 2026 The datanode Authors.
//
// Test support, not product code: writes a safetensors file holding one I8 tensor "w"
// [n, k] whose bytes are all `fill`, its JSON header padded to 8 bytes, written a row at a
// time (so files of hundreds of MiB need no buffer of that size). A failed write is a gtest
// failure naming the path. Thread-compatible.
#ifndef DATANODE_TESTS_SUPPORT_SAFETENSORS_WRITER_H_
#define DATANODE_TESTS_SUPPORT_SAFETENSORS_WRITER_H_

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace datanode::test_support {

inline void WriteI8Safetensors(const std::filesystem::path& path, int64_t n, int64_t k,
                               char fill = '\1') {
  std::string header = "{\"w\":{\"dtype\":\"I8\",\"shape\":[" + std::to_string(n) + "," +
                       std::to_string(k) + "],\"data_offsets\":[0," + std::to_string(n * k) + "]}}";
  while (header.size() % 8) header.push_back(' ');
  const uint64_t len = header.size();
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(&len), 8);
  f << header;
  const std::string row(static_cast<size_t>(k), fill);
  for (int64_t i = 0; i < n; ++i) f << row;
  f.close();
  EXPECT_TRUE(f.good()) << "cannot write " << path;
}

}  // namespace datanode::test_support

#endif  // DATANODE_TESTS_SUPPORT_SAFETENSORS_WRITER_H_
