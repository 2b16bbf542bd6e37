// Copyright 2026 The datanode Authors.
//
// The daemon's one Unix-socket listener (node/daemon/unix_listener.h): the peer-uid
// check, systemd socket activation and the socket file's life, on real sockets; then the
// real datanoded, whose gRPC and metrics sockets both go through it. A peer of another
// uid is made for real (a child that drops to another uid) when the test runs as root,
// and by an allowed_uids list without our uid otherwise.
#include <fcntl.h>
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
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "daemon_process.h"
#include "datanode/v1/accelerator.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "node/daemon/unix_listener.h"

namespace datanode::node {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// A uid that is neither ours nor root's.
uint32_t OtherUid() { return ::geteuid() == 4242 ? 4243 : 4242; }

// What a client saw of one connection.
enum class Seen {
  kClosed,     // the server closed it without a byte: refused
  kReply,      // the server sent bytes
  kNoConnect,  // connect failed
  kNoSetuid,   // the child could not take the uid
  kStillOpen,  // neither within 5 s
};

// Connects to `path`, sends `request` and reads until the server closes or 5 s pass.
// With uid >= 0 this runs in a child that first drops to that uid (keeping group 0,
// so the 0660 socket file stays reachable and only the uid check can refuse it).
// Only async-signal-safe calls after the fork: the test process has threads.
Seen Exchange(const std::string& path, const std::string& request, int64_t uid = -1) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  auto run = [&]() -> Seen {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      if (fd >= 0) ::close(fd);
      return Seen::kNoConnect;
    }
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (!request.empty()) (void)!::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    char buf[256];
    ssize_t n = ::read(fd, buf, sizeof(buf));
    ::close(fd);
    if (n > 0) return Seen::kReply;
    if (n == 0 || errno == ECONNRESET) return Seen::kClosed;
    return Seen::kStillOpen;
  };
  if (uid < 0) return run();
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgid(0) != 0 || ::setuid(static_cast<uid_t>(uid)) != 0) ::_exit(100);
    ::_exit(static_cast<int>(run()));
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status)) return Seen::kStillOpen;
  return WEXITSTATUS(status) == 100 ? Seen::kNoSetuid : static_cast<Seen>(WEXITSTATUS(status));
}

bool WaitFor(const std::function<bool()>& done, int ms = 5000) {
  for (auto until = Clock::now() + std::chrono::milliseconds(ms); Clock::now() < until;) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

class ListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("dn_listener_" + std::to_string(getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    path_ = (root_ / "sub" / "l.sock").string();  // its directory is created by Start
  }
  void TearDown() override { fs::remove_all(root_); }

  // Starts `l` on path_; admitted connections get one byte "+" and are closed.
  absl::Status Start(UnixListener& l, std::vector<uint32_t> allowed, bool adopt = false) {
    UnixListener::Options o;
    o.path = path_;
    o.allowed_uids = std::move(allowed);
    o.adopt_systemd_socket = adopt;
    o.name = "test";
    return l.Start(
        std::move(o),
        [this](int fd, uint32_t uid) {
          nonblocking_ = (::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
          {
            std::lock_guard<std::mutex> lock(mu_);
            uids_.push_back(uid);
          }
          (void)!::send(fd, "+", 1, MSG_NOSIGNAL);
          ::close(fd);
        },
        [this] { ++refused_; });
  }
  std::vector<uint32_t> Uids() {
    std::lock_guard<std::mutex> lock(mu_);
    return uids_;
  }

  fs::path root_;
  std::string path_;
  std::mutex mu_;
  std::vector<uint32_t> uids_;  // guarded by mu_
  std::atomic<int> refused_{0};
  std::atomic<bool> nonblocking_{false};
};

TEST_F(ListenerTest, OurUidIsAdmittedByDefaultAndTheFileIsRemovedAtStop) {
  UnixListener l;
  ASSERT_TRUE(Start(l, {}).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_FALSE(l.adopted_systemd_socket());
  EXPECT_EQ(Exchange(path_, ""), Seen::kReply);
  EXPECT_EQ(Uids(), std::vector<uint32_t>{::geteuid()});
  EXPECT_TRUE(nonblocking_);
  EXPECT_EQ(refused_, 0);
  // A second Start of the same listener is refused; Stop removes the file it made.
  EXPECT_EQ(Start(l, {}).code(), absl::StatusCode::kFailedPrecondition);
  l.Stop();
  EXPECT_FALSE(fs::exists(path_));
  EXPECT_EQ(Exchange(path_, ""), Seen::kNoConnect);
  l.Stop();  // idempotent
}

TEST_F(ListenerTest, AUidNotInTheListIsRefused) {
  UnixListener l;
  ASSERT_TRUE(Start(l, {OtherUid()}).ok());
  EXPECT_EQ(Exchange(path_, "hello"), Seen::kClosed);
  EXPECT_TRUE(WaitFor([&] { return refused_ == 1; }));
  EXPECT_TRUE(Uids().empty());
}

TEST_F(ListenerTest, APeerOfAnotherUidIsRefusedUnlessListed) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to connect as another uid";
  const uint32_t other = OtherUid();
  fs::create_directories(root_);
  fs::permissions(root_, fs::perms::all);
  {
    UnixListener l;
    ASSERT_TRUE(Start(l, {}).ok());  // only our own uid (root)
    EXPECT_EQ(Exchange(path_, "hello", other), Seen::kClosed);
    EXPECT_TRUE(WaitFor([&] { return refused_ == 1; }));
    EXPECT_TRUE(Uids().empty());
  }
  UnixListener l;
  ASSERT_TRUE(Start(l, {0, other}).ok());
  EXPECT_EQ(Exchange(path_, "", other), Seen::kReply);
  EXPECT_EQ(Uids(), std::vector<uint32_t>{other});  // the peer's uid, read from the socket
  EXPECT_EQ(refused_, 1);
}

TEST_F(ListenerTest, AdoptsTheSocketSystemdPassesAsFd3) {
  // systemd's socket: bound elsewhere, at fd 3, announced for this process.
  const std::string systemd_path = (root_ / "systemd.sock").string();
  fs::create_directories(root_);
  int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, systemd_path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(s, 8), 0);
  const int saved3 = ::fcntl(3, F_DUPFD_CLOEXEC, 10);  // whatever fd 3 was, if anything
  ASSERT_EQ(::dup2(s, 3), 3);
  ::close(s);
  ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
  ::setenv("LISTEN_FDS", "1", 1);
  {
    UnixListener l;
    ASSERT_TRUE(Start(l, {}, /*adopt=*/true).ok());
    EXPECT_TRUE(l.adopted_systemd_socket());
    EXPECT_FALSE(fs::exists(path_));  // nothing bound at the configured path
    EXPECT_EQ(Exchange(systemd_path, ""), Seen::kReply);
    l.Stop();
    EXPECT_TRUE(fs::exists(systemd_path));  // systemd's file is not ours to remove
  }
  // Not for this process: the configured path is bound instead.
  ::setenv("LISTEN_PID", std::to_string(::getpid() + 1).c_str(), 1);
  {
    UnixListener l;
    ASSERT_TRUE(Start(l, {}, /*adopt=*/true).ok());
    EXPECT_FALSE(l.adopted_systemd_socket());
    EXPECT_EQ(Exchange(path_, ""), Seen::kReply);
  }
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  if (saved3 >= 0) {
    ::dup2(saved3, 3);
    ::close(saved3);
  }
}

TEST_F(ListenerTest, AnUnusablePathIsUnavailable) {
  UnixListener l;
  path_ = "/" + std::string(200, 'x') + "/l.sock";  // longer than sun_path
  EXPECT_EQ(Start(l, {}).code(), absl::StatusCode::kUnavailable);
  UnixListener l2;
  path_ = "";
  EXPECT_EQ(Start(l2, {}).code(), absl::StatusCode::kUnavailable);
}

// --- the real daemon: both of its Unix sockets ------------------------------------

class DaemonListenerTest : public ListenerTest {
 protected:
  std::string Log() {
    std::ifstream f(root_ / "d.log");
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
};

constexpr char kScrape[] = "GET /metrics HTTP/1.0\r\n\r\n";

TEST_F(DaemonListenerTest, BothSocketsRefuseAUidNotInAllowedUids) {
  DaemonProcess d(root_, "allowed_uids: " + std::to_string(OtherUid()) + "\n");
  const std::string msock = (root_ / "m.sock").string(), sock = (root_ / "d.sock").string();
  ASSERT_TRUE(WaitFor([&] { return fs::exists(msock); }));
  // The gRPC server sends its HTTP/2 settings to any admitted connection at once, the
  // metrics server a reply to the request: a refused one is closed without a byte.
  EXPECT_EQ(Exchange(msock, kScrape), Seen::kClosed);
  EXPECT_EQ(Exchange(sock, ""), Seen::kClosed);
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  v1::GetNodeInfoResponse info;
  EXPECT_FALSE(d.acc->GetNodeInfo(ctx.get(), {}, &info).ok());
  EXPECT_EQ(::kill(d.pid(), 0), 0);  // still serving
  EXPECT_EQ(d.Stop(), 0);
  const std::string log = Log();
  EXPECT_NE(log.find("metrics: refused connection from uid " + std::to_string(::geteuid())),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("gRPC: refused connection from uid " + std::to_string(::geteuid())),
            std::string::npos)
      << log;
}

TEST_F(DaemonListenerTest, BothSocketsServeOnlyTheirAllowedUids) {
  const bool root = ::geteuid() == 0;
  if (root) {
    fs::create_directories(root_);
    fs::permissions(root_, fs::perms::all);
  }
  DaemonProcess d(root_);  // allowed_uids empty: the daemon's own uid only
  const std::string msock = (root_ / "m.sock").string(), sock = (root_ / "d.sock").string();
  ASSERT_TRUE(WaitFor([&] { return fs::exists(msock); }));
  EXPECT_EQ(Exchange(msock, kScrape), Seen::kReply);
  EXPECT_EQ(Exchange(sock, ""), Seen::kReply);
  if (root) {  // a real peer of another uid, in the sockets' group
    EXPECT_EQ(Exchange(msock, kScrape, OtherUid()), Seen::kClosed);
    EXPECT_EQ(Exchange(sock, "", OtherUid()), Seen::kClosed);
  }
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::GetNodeInfoResponse info;
  EXPECT_TRUE(d.acc->GetNodeInfo(ctx.get(), {}, &info).ok());
  EXPECT_EQ(d.Stop(), 0);
  EXPECT_FALSE(fs::exists(msock));  // both files are removed at shutdown
  EXPECT_FALSE(fs::exists(sock));
}

}  // namespace
}  // namespace datanode::node
