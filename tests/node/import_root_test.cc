// Copyright 2026 The datanode Authors.
//
// ModelRegistry::ImportFile's way in: the file is opened once beneath the
// import root (openat2, and the component walk used where the kernel has no openat2),
// never blocks, is read only through its descriptor, and an import can be cancelled or
// run out of time. Real temp directories, FIFOs and symlinks.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "node/import/model_registry.h"
#include "node/store/weight_store.h"
#include "tests/support/safetensors_writer.h"
#include "tests/support/temp_dir.h"

namespace datanode::node {
namespace {
namespace fs = std::filesystem;

using test_support::WriteI8Safetensors;

class ImportRootTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    root_ = test_support::FreshTestDir("dn_import_root");
    fs::create_directories(root_ / "models" / "sub");
    fs::create_directories(root_ / "outside");
    models_ = root_ / "models";
    WriteI8Safetensors(models_ / "sub" / "m.safetensors", 4, 32);
    WriteI8Safetensors(root_ / "outside" / "x.safetensors", 4, 32);
    root_fd_ = ::open(models_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(root_fd_, 0);
  }
  void TearDown() override {
    if (root_fd_ >= 0) ::close(root_fd_);
    fs::remove_all(root_);
  }
  // OpenBeneath with the parameter's choice of openat2 or the component walk.
  absl::StatusCode Open(const fs::path& relative) {
    auto fd = internal::OpenBeneath(root_fd_, relative, GetParam());
    if (fd.ok()) ::close(*fd);
    return fd.status().code();
  }

  fs::path root_, models_;
  int root_fd_ = -1;
};

TEST_P(ImportRootTest, OpensOnlyBeneathTheRootWithoutFollowingTheLastSymlink) {
  EXPECT_EQ(Open("sub/m.safetensors"), absl::StatusCode::kOk);
  EXPECT_EQ(Open("sub/../sub/m.safetensors"),
            GetParam() ? absl::StatusCode::kOk : absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Open("../outside/x.safetensors"), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Open("/etc/passwd"), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Open("missing"), absl::StatusCode::kNotFound);
  fs::create_symlink(root_ / "outside" / "x.safetensors", models_ / "abs_link");
  fs::create_symlink("sub/m.safetensors", models_ / "inner_link");
  fs::create_directory_symlink(root_ / "outside", models_ / "dir_link");
  EXPECT_EQ(Open("abs_link"), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Open("inner_link"), absl::StatusCode::kPermissionDenied);  // O_NOFOLLOW
  EXPECT_EQ(Open("dir_link/x.safetensors"), absl::StatusCode::kPermissionDenied);
}

TEST_P(ImportRootTest, AFifoOpensAtOnce) {
  ASSERT_EQ(::mkfifo((models_ / "fifo").c_str(), 0644), 0);
  EXPECT_EQ(Open("fifo"), absl::StatusCode::kOk);  // O_NONBLOCK: no writer needed
}

INSTANTIATE_TEST_SUITE_P(Openat2AndWalk, ImportRootTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "openat2" : "walk"; });

class ImportOptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = test_support::FreshTestDir("dn_import_opts");
    fs::create_directories(root_ / "models");
    auto store = WeightStore::Open({(root_ / "store").string(), 0, false});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    auto registry = ModelRegistry::Open(store_.get());
    ASSERT_TRUE(registry.ok()) << registry.status();
    registry_ = *std::move(registry);
    WriteI8Safetensors(root_ / "models" / "big.safetensors", 1024, 4096);  // 4 MiB: 4 chunks
    options_.root = (root_ / "models").string();
  }
  void TearDown() override { fs::remove_all(root_); }

  fs::path root_;
  std::unique_ptr<WeightStore> store_;
  std::unique_ptr<ModelRegistry> registry_;
  ImportOptions options_;
};

TEST_F(ImportOptionsTest, CancelledBetweenChunksRegistersNothing) {
  int polls = 0;
  options_.cancelled = [&] { return ++polls == 2; };
  auto r = registry_->ImportFile(root_ / "models" / "big.safetensors", options_);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled) << r.status();
  EXPECT_TRUE(registry_->List().empty());
  EXPECT_TRUE(store_->List().empty());  // the partial object was dropped
}

TEST_F(ImportOptionsTest, TimeLimitEndsTheImport) {
  options_.timeout = absl::ZeroDuration();
  auto r = registry_->ImportFile(root_ / "models" / "big.safetensors", options_);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_TRUE(registry_->List().empty());
}

TEST_F(ImportOptionsTest, AppendedDuringImportIsFailedPrecondition) {
  const fs::path path = root_ / "models" / "big.safetensors";
  options_.cancelled = [&] {
    std::ofstream(path, std::ios::binary | std::ios::app) << "more";
    return false;
  };
  auto r = registry_->ImportFile(path, options_);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  EXPECT_NE(r.status().message().find("changed during import"), std::string::npos);
  EXPECT_TRUE(store_->List().empty());
}

TEST_F(ImportOptionsTest, RelativePathsAreTakenFromTheRootAndEmptyIsInvalid) {
  auto r = registry_->ImportFile("big.safetensors", options_);
  EXPECT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(registry_->ImportFile("", options_).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry_->ImportFile(root_ / "models", options_).status().code(),
            absl::StatusCode::kInvalidArgument);  // a directory is not a regular file
}

}  // namespace
}  // namespace datanode::node
