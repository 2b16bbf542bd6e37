// Copyright 2026 The datanode Authors.
//
// Durable writes on real files: the content arrives whole, and every failure (an
// unwritable directory, a write cut short by the file-size limit, a rename onto a
// directory, an existing target that must not be replaced) leaves the old file as it
// was and no temporary file behind.
#include "datanode/util/file.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/read_file.h"

namespace datanode::util {
namespace {

namespace fs = std::filesystem;

using test_support::ReadWholeFile;

class UtilFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("util_file_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add);
    fs::remove_all(dir_);
  }
  // The names in dir_, sorted.
  std::vector<std::string> Names() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }
  // Runs `body` in a child process and returns its exit code (-1 if it did not exit).
  template <typename Body>
  int InChild(Body body) {
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(body());
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  fs::path dir_;
};

TEST_F(UtilFileTest, WritesAndReplaces) {
  const fs::path p = dir_ / "f";
  ASSERT_TRUE(WriteFileAtomically(p, "first").ok());
  EXPECT_EQ(ReadWholeFile(p), "first");
  const std::vector<uint8_t> bytes(100000, 0x5a);
  ASSERT_TRUE(WriteFileAtomically(p, bytes).ok());
  EXPECT_EQ(ReadWholeFile(p), std::string(100000, 'Z'));
  ASSERT_TRUE(WriteFileAtomically(p, "", {.sync = false}).ok());
  EXPECT_EQ(ReadWholeFile(p), "");
  EXPECT_EQ(Names(), std::vector<std::string>{"f"});
}

TEST_F(UtilFileTest, ModeAndNoReplace) {
  const fs::path p = dir_ / "secret";
  ASSERT_TRUE(WriteFileAtomically(p, "one", {.mode = 0600, .replace = false}).ok());
  struct stat st {};
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  absl::Status again = WriteFileAtomically(p, "two", {.replace = false});
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists) << again;
  EXPECT_EQ(ReadWholeFile(p), "one");
  EXPECT_EQ(Names(), std::vector<std::string>{"secret"});
}

TEST_F(UtilFileTest, UnwritableDirectoryLeavesNothing) {
  const fs::path p = dir_ / "f";
  ASSERT_TRUE(WriteFileAtomically(p, "old").ok());
  ASSERT_EQ(::chmod(dir_.c_str(), 0555), 0);
  // root ignores directory permissions: the write runs in a child that drops to nobody.
  const int code = InChild([&] {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) return 77;
    absl::Status s = WriteFileAtomically(p, "new");
    return s.code() == absl::StatusCode::kInternal &&
                   s.message().find("create") != std::string_view::npos
               ? 0
               : 1;
  });
  if (code == 77) GTEST_SKIP() << "cannot drop root privileges here";
  EXPECT_EQ(code, 0);
  EXPECT_EQ(ReadWholeFile(p), "old");
  EXPECT_EQ(Names(), std::vector<std::string>{"f"});
}

TEST_F(UtilFileTest, WriteCutShortLeavesNothing) {
  const fs::path p = dir_ / "f";
  ASSERT_TRUE(WriteFileAtomically(p, "old").ok());
  // A file-size limit makes the write fail part way (EFBIG) after the temporary file
  // holds some bytes.
  const int code = InChild([&] {
    ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = {4096, 4096};
    if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) return 77;
    absl::Status s = WriteFileAtomically(p, std::string(65536, 'x'));
    return s.code() == absl::StatusCode::kInternal &&
                   s.message().find("write") != std::string_view::npos
               ? 0
               : 1;
  });
  ASSERT_NE(code, 77);
  EXPECT_EQ(code, 0);
  EXPECT_EQ(ReadWholeFile(p), "old");
  EXPECT_EQ(Names(), std::vector<std::string>{"f"});
}

TEST_F(UtilFileTest, FailedRenameLeavesNothing) {
  // The target is a non-empty directory: the temporary file is written, the rename fails.
  fs::create_directories(dir_ / "d" / "x");
  absl::Status s = WriteFileAtomically(dir_ / "d", "data");
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal) << s;
  EXPECT_NE(s.message().find("rename"), std::string_view::npos) << s;
  EXPECT_EQ(Names(), std::vector<std::string>{"d"});
  EXPECT_TRUE(fs::is_directory(dir_ / "d" / "x"));
}

TEST_F(UtilFileTest, MissingDirectory) {
  EXPECT_EQ(WriteFileAtomically(dir_ / "no" / "f", "x").code(), absl::StatusCode::kInternal);
  EXPECT_EQ(FsyncDir(dir_ / "no").code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(FsyncDir(dir_).ok());
}

TEST(UtilErrnoStatus, MapsFullDiskToResourceExhausted) {
  EXPECT_EQ(ErrnoStatus("write", "/x", ENOSPC).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ErrnoStatus("write", "/x", EDQUOT).code(), absl::StatusCode::kResourceExhausted);
  absl::Status s = ErrnoStatus("open", "/x/y", ENOENT);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(s.message(), "open /x/y: No such file or directory");
}

}  // namespace
}  // namespace datanode::util
