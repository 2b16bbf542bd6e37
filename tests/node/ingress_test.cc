// Copyright 2026 The datanode Authors.
//
// Integration tests of every way into the node: ImportModel paths (FIFOs,
// symlinks out of the import root, files changed or cancelled during import), the TCP
// listener's token, the metrics socket under idle clients, and the CLIs on bad input.
// The real datanoded (DATANODED_PATH), dnctl (DNCTL_PATH) and dn-conformance
// (DN_CONFORMANCE_PATH) binaries on temp sockets.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

// $DN_TEST_BIN_DIR, when set, names a directory holding other builds of the three
// binaries (used to check that these tests fail on older daemons).
namespace datanode {
inline const char* TestBinary(const char* built) {
  static thread_local std::string path;
  const char* dir = std::getenv("DN_TEST_BIN_DIR");
  if (dir == nullptr) return built;
  path = std::string(dir) + "/" + std::filesystem::path(built).filename().string();
  return path.c_str();
}
constexpr const char* kBuiltDatanoded = DATANODED_PATH;
}  // namespace datanode
#undef DATANODED_PATH
#define DATANODED_PATH ::datanode::TestBinary(::datanode::kBuiltDatanoded)
#define DNCTL ::datanode::TestBinary(DNCTL_PATH)
#define DN_CONFORMANCE ::datanode::TestBinary(DN_CONFORMANCE_PATH)

#include "daemon_process.h"
#include "datanode/v1/accelerator.grpc.pb.h"
#include "datanode/v1/store.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/support/read_file.h"
#include "tests/support/safetensors_writer.h"
#include "tests/support/temp_dir.h"

namespace datanode {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 30) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return c;
}

using test_support::WriteI8Safetensors;

struct Outcome {
  int exit_code = -1;  // 128 + signal when killed
  std::string output;  // stdout and stderr together
};

// Runs a program with `args`, killing it after `timeout_s`.
Outcome RunProgram(const std::vector<std::string>& args, const fs::path& out_file,
                   int timeout_s = 20) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  Outcome o;
  int status = 0;
  auto until = Clock::now() + std::chrono::seconds(timeout_s);
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (Clock::now() > until) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  o.output = test_support::ReadWholeFile(out_file);
  return o;
}

int FreeTcpPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

int ConnectUnix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// DaemonProcess waits for the socket file, which bind(2) creates just before listen(2):
// wait until a connection succeeds, so that the first call cannot be refused.
void WaitReady(DaemonProcess& d) {
  ASSERT_TRUE(
      d.channel()->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(20)));
}

class IngressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = test_support::FreshTestDir("dn_ingress");
    fs::create_directories(root_ / "models");
    models_ = root_ / "models";
  }
  void TearDown() override {
    if (HasFailure()) {
      std::fprintf(stderr, "--- daemon log ---\n%s",
                   test_support::ReadWholeFile(root_ / "d.log").c_str());
    }
    fs::remove_all(root_);
  }

  std::string ImportRootConfig() const { return "import_root: \"" + models_.string() + "\"\n"; }

  grpc::Status Import(DaemonProcess& d, const std::string& path, v1::ModelInfo* info,
                      int seconds = 30) {
    auto ctx = Ctx(seconds);
    v1::ImportModelRequest req;
    req.set_path(path);
    return d.store->ImportModel(ctx.get(), req, info);
  }

  fs::path root_, models_;
};

// A 1x64x64 s8 MatMul with inline weights.
grpc::Status SmallMatMul(DaemonProcess& d, int seconds) {
  v1::MatMulRequest req;
  req.set_op(v1::OP_KIND_MATMUL_S8_S32);
  req.set_m(1);
  req.set_n(64);
  req.set_k(64);
  req.set_a(std::string(64, '\1'));
  req.mutable_inline_weights()->set_w(std::string(64 * 64, '\2'));
  v1::MatMulResponse resp;
  auto ctx = Ctx(seconds);
  return d.acc->MatMul(ctx.get(), req, &resp);
}

// A FIFO per executor thread used to block each thread in open(2) forever,
// so that info, list and matmul timed out.
TEST_F(IngressTest, FifosInTheImportRootDoNotWedgeTheDaemon) {
  const fs::path f1 = models_ / "f1", f2 = models_ / "f2";
  ASSERT_EQ(::mkfifo(f1.c_str(), 0644), 0);
  ASSERT_EQ(::mkfifo(f2.c_str(), 0644), 0);
  {
    DaemonProcess d(root_, ImportRootConfig() + "executor_threads: 2\n");
    WaitReady(d);
    std::vector<std::thread> importers;
    std::vector<grpc::Status> results(2);
    for (int i = 0; i < 2; ++i) {
      importers.emplace_back([&, i] {
        v1::ModelInfo info;
        results[i] = Import(d, (i == 0 ? f1 : f2).string(), &info, 3);
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const auto start = Clock::now();
    {
      auto ctx = Ctx(2);
      v1::GetNodeInfoResponse info;
      grpc::Status st = d.acc->GetNodeInfo(ctx.get(), {}, &info);
      EXPECT_TRUE(st.ok()) << "info: " << st.error_code() << " " << st.error_message();
    }
    {
      auto ctx = Ctx(2);
      v1::ListModelsResponse list;
      grpc::Status st = d.store->ListModels(ctx.get(), {}, &list);
      EXPECT_TRUE(st.ok()) << "list: " << st.error_code() << " " << st.error_message();
    }
    grpc::Status mm = SmallMatMul(d, 2);
    EXPECT_TRUE(mm.ok()) << "matmul: " << mm.error_code() << " " << mm.error_message();
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(3));
    for (auto& t : importers) t.join();
    for (const grpc::Status& st : results) {
      EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
      EXPECT_NE(st.error_message().find("not a regular file"), std::string::npos)
          << st.error_message();
    }
    // On a daemon stuck in open(2), a writer frees the threads so that it can stop.
    for (const fs::path& f : {f1, f2}) {
      int fd = ::open(f.c_str(), O_RDWR | O_NONBLOCK);
      if (fd >= 0) ::close(fd);
    }
  }
}

TEST_F(IngressTest, PathsOutsideTheImportRootAreRejected) {
  fs::create_directories(root_ / "outside");
  WriteI8Safetensors(root_ / "outside" / "m.safetensors", 4, 32, '\3');
  WriteI8Safetensors(models_ / "in.safetensors", 4, 32, '\4');
  fs::create_symlink(root_ / "outside" / "m.safetensors", models_ / "link.safetensors");
  fs::create_directory_symlink(root_ / "outside", models_ / "dirlink");
  DaemonProcess d(root_, ImportRootConfig());
  WaitReady(d);
  v1::ModelInfo info;
  for (const fs::path& p :
       {models_ / "link.safetensors", models_ / "dirlink" / "m.safetensors",
        models_ / ".." / "outside" / "m.safetensors", root_ / "outside" / "m.safetensors"}) {
    grpc::Status st = Import(d, p.string(), &info);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << p << ": " << st.error_message();
  }
  grpc::Status ok = Import(d, (models_ / "in.safetensors").string(), &info);
  EXPECT_TRUE(ok.ok()) << ok.error_message();
}

// The old check resolved the path, then opened it again by name: a directory symlink
// swapped between the two let a file outside the root in. Now the file is opened once,
// beneath the root, so no import may ever return the outside model.
TEST_F(IngressTest, SymlinkSwapRaceNeverImportsAFileOutsideTheRoot) {
  fs::create_directories(root_ / "outside");
  fs::create_directories(models_ / "real");
  WriteI8Safetensors(root_ / "outside" / "m.safetensors", 4, 32, '\5');
  WriteI8Safetensors(models_ / "real" / "m.safetensors", 4, 32, '\6');
  fs::create_directory_symlink("real", models_ / "d");
  DaemonProcess d(root_, ImportRootConfig());
  WaitReady(d);
  v1::ModelInfo inside;
  ASSERT_TRUE(Import(d, (models_ / "real" / "m.safetensors").string(), &inside).ok());

  std::atomic<bool> stop{false};
  std::thread swapper([&] {
    const fs::path tmp = models_ / "d.tmp", link = models_ / "d";
    const std::string targets[2] = {"real", (root_ / "outside").string()};
    for (int i = 0; !stop; ++i) {
      ::unlink(tmp.c_str());
      if (::symlink(targets[i % 2].c_str(), tmp.c_str()) != 0) continue;
      ::rename(tmp.c_str(), link.c_str());
    }
  });
  int ok = 0, denied = 0, escaped = 0;
  const auto until = Clock::now() + std::chrono::seconds(4);
  while (Clock::now() < until && escaped == 0) {
    v1::ModelInfo info;
    grpc::Status st = Import(d, (models_ / "d" / "m.safetensors").string(), &info);
    if (st.ok()) {
      (info.digest() == inside.digest() ? ok : escaped)++;
    } else if (st.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
               st.error_code() == grpc::StatusCode::NOT_FOUND ||
               st.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {  // swapped mid-import
      ++denied;
    } else {
      ADD_FAILURE() << st.error_code() << " " << st.error_message();
      break;
    }
  }
  stop = true;
  swapper.join();
  EXPECT_EQ(escaped, 0) << "imported the file outside the root (" << ok << " inside, " << denied
                        << " refused)";
  EXPECT_GT(denied, 0);
}

// Writes to the file while it is imported: the import must not register a model whose
// bytes are a mix of two versions of the file.
TEST_F(IngressTest, FileChangedDuringImportIsFailedPrecondition) {
  const fs::path big = models_ / "big.safetensors";
  WriteI8Safetensors(big, 4096, 8192, '\7');  // 32 MiB
  DaemonProcess d(root_, ImportRootConfig() + "store_fsync: false\n");
  WaitReady(d);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    int fd = ::open(big.c_str(), O_WRONLY);
    for (int64_t i = 0; !stop; ++i) {
      char c = static_cast<char>(i % 100);
      (void)!::pwrite(fd, &c, 1, 4096 + (i * 4099) % (int64_t{4096} * 8192));
      timespec times[2] = {{0, UTIME_OMIT}, {1000000 + i, 0}};  // mtime differs each time
      ::futimens(fd, times);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    ::close(fd);
  });
  v1::ModelInfo info;
  grpc::Status st = Import(d, big.string(), &info);
  stop = true;
  writer.join();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << st.error_message();
  EXPECT_NE(st.error_message().find("changed during import"), std::string::npos)
      << st.error_message();
  auto ctx = Ctx();
  v1::ListModelsResponse list;
  ASSERT_TRUE(d.store->ListModels(ctx.get(), {}, &list).ok());
  EXPECT_EQ(list.models_size(), 0);
}

// The path is renamed over by another file while the import reads the first one.
TEST_F(IngressTest, FileReplacedDuringImportIsFailedPrecondition) {
  const fs::path big = models_ / "big.safetensors", other = root_ / "other.safetensors";
  // 128 MiB (a pack): long enough that the replacement 20 ms in always lands mid-import;
  // at 32 MiB a fast import sometimes finished first (1 run in 13 under load).
  WriteI8Safetensors(big, 8192, 16384, '\7');
  WriteI8Safetensors(other, 4, 32, '\1');
  DaemonProcess d(root_, ImportRootConfig() + "store_fsync: false\n");
  WaitReady(d);
  std::atomic<bool> started{false}, stop{false};
  std::thread replacer([&] {
    const fs::path tmp = models_ / "tmp";
    while (!started) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    while (!stop) {
      ::unlink(tmp.c_str());
      if (::link(other.c_str(), tmp.c_str()) == 0) ::rename(tmp.c_str(), big.c_str());
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  started = true;
  v1::ModelInfo info;
  grpc::Status st = Import(d, big.string(), &info);
  stop = true;
  replacer.join();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << st.error_message();
}

// A client that gives up on an import stops it: nothing is registered.
TEST_F(IngressTest, CancelledImportStopsAndRegistersNothing) {
  const fs::path big = models_ / "big.safetensors";
  WriteI8Safetensors(big, 8192, 8192, '\7');  // 64 MiB
  DaemonProcess d(root_, ImportRootConfig());
  WaitReady(d);
  {
    grpc::ClientContext ctx;
    v1::ImportModelRequest req;
    req.set_path(big.string());
    v1::ModelInfo info;
    std::thread canceller([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
      ctx.TryCancel();
    });
    grpc::Status st = d.store->ImportModel(&ctx, req, &info);
    canceller.join();
    EXPECT_EQ(st.error_code(), grpc::StatusCode::CANCELLED) << st.error_message();
  }
  // The daemon records the call's own end once the executor thread lets go of it.
  std::string metrics;
  for (int i = 0; i < 100; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto ctx = Ctx();
    v1::ListModelsResponse list;
    ASSERT_TRUE(d.store->ListModels(ctx.get(), {}, &list).ok());
    EXPECT_EQ(list.models_size(), 0);
    Outcome o = RunProgram({DNCTL, "metrics", "--metrics-socket", (root_ / "m.sock").string()},
                           root_ / "metrics.out");
    metrics = o.output;
    if (metrics.find("datanoded_requests_total{method=\"ImportModel\"}") != std::string::npos)
      break;
  }
  EXPECT_NE(metrics.find("datanoded_errors_total{method=\"ImportModel\",cause=\"CANCELLED\"} 1"),
            std::string::npos)
      << metrics;
}

// ImportModelStream: progress (bytes stored, never decreasing, of the file's size), then
// the model, equal to the unary ImportModel's; a cancelled call ends CANCELLED.
TEST_F(IngressTest, ImportModelStreamReportsProgressThenTheModel) {
  const fs::path big = models_ / "big.safetensors";
  WriteI8Safetensors(big, 8192, 8192, '\7');  // 64 MiB
  const int64_t size = static_cast<int64_t>(fs::file_size(big));
  DaemonProcess d(root_, ImportRootConfig());
  WaitReady(d);
  {
    grpc::ClientContext ctx;
    v1::ImportModelRequest req;
    req.set_path(big.string());
    auto reader = d.store->ImportModelStream(&ctx, req);
    ctx.TryCancel();  // at once: the import may have started or not, the call ends
    v1::ImportModelUpdate u;
    while (reader->Read(&u)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  auto ctx = Ctx(60);
  v1::ImportModelRequest req;
  req.set_path(big.string());
  auto reader = d.store->ImportModelStream(ctx.get(), req);
  v1::ImportModelUpdate u;
  std::vector<v1::ImportModelUpdate> updates;
  while (reader->Read(&u)) updates.push_back(u);
  grpc::Status st = reader->Finish();
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_FALSE(updates.empty());
  int64_t last = 0;
  for (size_t i = 0; i < updates.size(); ++i) {
    EXPECT_EQ(updates[i].bytes_total(), size);
    EXPECT_GE(updates[i].bytes_done(), last);
    EXPECT_EQ(updates[i].has_model(), i + 1 == updates.size());
    last = updates[i].bytes_done();
  }
  EXPECT_EQ(last, size);
  v1::ModelInfo unary;
  ASSERT_TRUE(Import(d, big.string(), &unary).ok());
  EXPECT_EQ(updates.back().model().digest(), unary.digest());
  EXPECT_EQ(updates.back().model().tensors_size(), 1);
  auto list_ctx = Ctx();
  v1::ListModelsResponse list;
  ASSERT_TRUE(d.store->ListModels(list_ctx.get(), {}, &list).ok());
  EXPECT_EQ(list.models_size(), 1);
}

// --- TCP ------------------------------------------------------------------------

class TcpTest : public IngressTest {
 protected:
  std::string TcpConfig(int port, const std::string& token) {
    std::string c =
        "tcp_address: \"127.0.0.1:" + std::to_string(port) + "\"\n" + ImportRootConfig();
    if (!token.empty()) c += "tcp_auth_token: \"" + token + "\"\n";
    return c;
  }
};

TEST_F(TcpTest, CallsNeedTheBearerToken) {
  const std::string token = "0123456789abcdef0123456789abcdef";
  const int port = FreeTcpPort();
  DaemonProcess d(root_, TcpConfig(port, token));
  WaitReady(d);
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
  ASSERT_TRUE(
      channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10)));
  auto acc = v1::Accelerator::NewStub(channel);
  auto store = v1::Store::NewStub(channel);
  for (const std::string& metadata :
       std::vector<std::string>{"", "Bearer wrong", "Bearer " + token + "x", token, "Bearer "}) {
    auto ctx = Ctx();
    if (!metadata.empty()) ctx->AddMetadata("authorization", metadata);
    v1::GetNodeInfoResponse info;
    grpc::Status st = acc->GetNodeInfo(ctx.get(), {}, &info);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << "'" << metadata << "'";
  }
  {  // a stream too
    auto ctx = Ctx();
    v1::BlobInfo blob;
    auto w = store->PutBlob(ctx.get(), &blob);
    v1::PutBlobRequest req;
    req.set_data("x");
    req.set_last(true);
    w->Write(req);
    w->WritesDone();
    EXPECT_EQ(w->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  auto ctx = Ctx();
  ctx->AddMetadata("authorization", "Bearer " + token);
  v1::GetNodeInfoResponse info;
  grpc::Status st = acc->GetNodeInfo(ctx.get(), {}, &info);
  EXPECT_TRUE(st.ok()) << st.error_code() << " " << st.error_message();
  // The Unix socket is checked by peer uid and needs no token.
  auto uctx = Ctx();
  EXPECT_TRUE(d.acc->GetNodeInfo(uctx.get(), {}, &info).ok());
}

TEST_F(TcpTest, DaemonRefusesTcpWithoutTokenOrImportRoot) {
  const int port = FreeTcpPort();
  const fs::path conf = root_ / "tcp.conf";
  const std::string base = "socket_path: \"" + (root_ / "d.sock").string() +
                           "\"\nmetrics_socket_path: \"\"\nstore_root: \"" +
                           (root_ / "store").string() + "\"\n";
  struct Case {
    std::string extra, expect;
  } cases[] = {
      {TcpConfig(port, ""), "tcp_auth_token"},
      {"tcp_address: \"127.0.0.1:" + std::to_string(port) +
           "\"\ntcp_auth_token: \"0123456789abcdef0123456789abcdef\"\n",
       "import_root"},
      {TcpConfig(port, "short"), "tcp_auth_token"},
  };
  for (const Case& c : cases) {
    std::ofstream(conf) << base << c.extra;
    Outcome o = RunProgram({DATANODED_PATH, "--config", conf.string()}, root_ / "out", 10);
    EXPECT_EQ(o.exit_code, 2) << c.extra << o.output;
    EXPECT_NE(o.output.find(c.expect), std::string::npos) << o.output;
  }
}

// --- metrics --------------------------------------------------------------------

TEST_F(IngressTest, IdleMetricsClientsDoNotBlockScrapes) {
  DaemonProcess d(root_);
  WaitReady(d);
  const std::string msock = (root_ / "m.sock").string();
  // Two clients connect and say nothing.
  int idle1 = ConnectUnix(msock), idle2 = ConnectUnix(msock);
  ASSERT_GE(idle1, 0);
  ASSERT_GE(idle2, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto start = Clock::now();
  int fd = ConnectUnix(msock);
  ASSERT_GE(fd, 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
  ASSERT_EQ(::write(fd, req, sizeof(req) - 1), static_cast<ssize_t>(sizeof(req) - 1));
  std::string resp;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) resp.append(buf, static_cast<size_t>(n));
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ::close(fd);
  EXPECT_LT(seconds, 1.0) << resp;
  EXPECT_EQ(resp.rfind("HTTP/1.0 200 OK", 0), 0u) << resp;
  EXPECT_NE(resp.find("datanoded_store_bytes"), std::string::npos);
  ::close(idle1);
  ::close(idle2);
}

// --- CLIs -----------------------------------------------------------------------

TEST_F(IngressTest, CliBadInputIsAUsageErrorNotACrash) {
  struct Case {
    std::vector<std::string> args;
    std::string expect;  // in the output
  } cases[] = {
      {{DNCTL, "import", ""}, "import"},
      {{DNCTL, "gen-model", (root_ / "x").string(), "--n", "abc"}, "--n"},
      {{DNCTL, "gen-model", (root_ / "x").string(), "--k", "99999999999999999999"}, "--k"},
      {{DNCTL, "gen-model", (root_ / "x").string(), "--n", "-4"}, "--n"},
      {{DNCTL, "gen-npy", (root_ / "x.npy").string(), "--shape", "4,x"}, "--shape"},
      {{DNCTL, "gen-npy", (root_ / "x.npy").string(), "--seed", "-1"}, "--seed"},
      {{DNCTL, "--no-such-flag", "info"}, "no-such-flag"},
      {{DNCTL, "no-such-command"}, "no-such-command"},
      {{DNCTL, "get", "ab"}, "get"},
      {{DATANODED_PATH, "--no-such-flag"}, "no-such-flag"},
      {{DATANODED_PATH, "--socket"}, "socket"},
      {{DN_CONFORMANCE, "run", "--class"}, "class"},
      {{DN_CONFORMANCE, "run", "--no-such-flag", "x"}, "no-such-flag"},
  };
  for (const Case& c : cases) {
    Outcome o = RunProgram(c.args, root_ / "cli.out");
    std::string cmd;
    for (const auto& a : c.args) cmd += "'" + a + "' ";
    EXPECT_EQ(o.exit_code, 2) << cmd << "\n" << o.output;
    EXPECT_NE(o.output.find(c.expect), std::string::npos) << cmd << "\n" << o.output;
  }
  for (std::string program :
       {std::string(DNCTL), std::string(DATANODED_PATH), std::string(DN_CONFORMANCE)}) {
    Outcome o = RunProgram({program, "--help"}, root_ / "help.out");
    EXPECT_EQ(o.exit_code, 0) << program << o.output;
    EXPECT_NE(o.output.find("usage"), std::string::npos) << program << o.output;
  }
}

}  // namespace
}  // namespace datanode
