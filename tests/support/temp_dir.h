// Copyright 2026 The datanode Authors.
//
// Test support, not product code: a fresh, empty directory for the running gtest test,
// <temp dir>/<prefix>_<pid>_<test name> ('/' of parameterized names as '_'), emptied first
// if an earlier run left it. The caller removes it (tests keep it on failure, to look at).
// Call from the test's thread (reads gtest's current test).
#ifndef DATANODE_TESTS_SUPPORT_TEMP_DIR_H_
#define DATANODE_TESTS_SUPPORT_TEMP_DIR_H_

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <string_view>

#include "gtest/gtest.h"

namespace datanode::test_support {

inline std::filesystem::path FreshTestDir(std::string_view prefix) {
  std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::replace(name.begin(), name.end(), '/', '_');
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      (std::string(prefix) + "_" + std::to_string(::getpid()) + "_" + name.substr(0, 40));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace datanode::test_support

#endif  // DATANODE_TESTS_SUPPORT_TEMP_DIR_H_
