// Copyright 2026 The datanode Authors.
//
// dnctl info and metrics: what the node reports about itself.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "datanode/v1/accelerator.grpc.pb.h"
#include "node/cli/dnctl_command.h"

ABSL_FLAG(std::string, metrics_socket, "",
          "metrics: the metrics socket (default datanoded-metrics.sock beside --socket)");

namespace datanode::node::dnctl {
namespace {

int Info(const Invocation& in) {
  v1::Accelerator::Stub acc(in.channel);
  grpc::ClientContext ctx;
  v1::GetNodeInfoResponse r;
  grpc::Status st = acc.GetNodeInfo(&ctx, {}, &r);
  if (!st.ok()) return FailRpc(st);
  if (in.json) return PrintJson(r), 0;
  std::printf("datanoded %s, spec version %d\n", r.daemon_version().c_str(), r.spec_version());
  for (const auto& b : r.backends()) {
    std::printf("  backend %-10s %s %s %s\n", b.name().c_str(),
                b.serving() ? "[serving]" : "[compiled]", b.description().c_str(),
                absl::StrJoin(b.supported_ops(), ",").c_str());
  }
  std::printf("store %lld bytes used (capacity %lld), pinned %lld of %lld bytes\n",
              (long long)r.store_used_bytes(), (long long)r.store_capacity_bytes(),
              (long long)r.pinned_bytes(), (long long)r.pin_budget_bytes());
  if (r.admitted_class().empty()) {
    std::printf("admitted class: none (dnctl admission --help)\n");
  } else {
    std::printf("admitted class: %s (report %s)\n", r.admitted_class().c_str(),
                r.admission_report_digest().c_str());
  }
  return 0;
}

int ScrapeMetrics(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return Fail(
        absl::StrCat("cannot connect to metrics socket ", path, ": ", std::strerror(errno)));
  }
  const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
  (void)!::write(fd, req, sizeof(req) - 1);
  std::string resp;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) resp.append(buf, static_cast<size_t>(n));
  ::close(fd);
  size_t body = resp.find("\r\n\r\n");
  std::fputs(body == std::string::npos ? resp.c_str() : resp.c_str() + body + 4, stdout);
  return 0;
}

int Metrics(const Invocation& in) {
  std::string path = absl::GetFlag(FLAGS_metrics_socket);
  if (path.empty()) {
    path = (std::filesystem::path(in.socket).parent_path() / "datanoded-metrics.sock").string();
  }
  return ScrapeMetrics(path);
}

}  // namespace

std::vector<Command> NodeCommands() {
  return {
      {"info",
       "",
       0,
       "node info: backends, spec version, store, pinning, admitted class",
       {},
       true,
       Info},
      {"metrics", "", 0, "print the Prometheus metrics", {"metrics_socket"}, false, Metrics},
  };
}

}  // namespace datanode::node::dnctl
