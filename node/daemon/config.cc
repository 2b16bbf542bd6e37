// Copyright 2026 The datanode Authors.
#include "node/daemon/config.h"

#include <sys/un.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "datanode/ops/status_macros.h"
#include "datanode/v1/node.pb.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "node/daemon/verified_mode.h"

namespace datanode::node {
namespace {

class Collector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (first.empty())
      first = absl::StrCat("line ", line + 1, ", column ", column + 1, ": ", message);
  }
  std::string first;
};

bool StartsWith(const std::string& s, std::string_view p) { return s.compare(0, p.size(), p) == 0; }

}  // namespace

absl::StatusOr<Config> ConfigFromText(std::string_view text) {
  v1::DaemonConfig pb;
  google::protobuf::TextFormat::Parser parser;
  Collector errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &pb)) {
    return absl::InvalidArgumentError(absl::StrCat("config: ", errors.first));
  }
  Config c;
  if (pb.has_socket_path()) c.socket_path = pb.socket_path();
  if (pb.has_metrics_socket_path()) c.metrics_socket_path = pb.metrics_socket_path();
  if (pb.has_tcp_address()) c.tcp_address = pb.tcp_address();
  if (pb.has_store_root()) c.store_root = pb.store_root();
  if (pb.has_store_capacity_bytes()) c.store_capacity_bytes = pb.store_capacity_bytes();
  if (pb.has_backend()) c.backend = pb.backend();
  if (pb.has_backend_threads()) c.backend_threads = pb.backend_threads();
  if (pb.has_pin_budget_bytes()) c.pin_budget_bytes = pb.pin_budget_bytes();
  if (pb.has_executor_threads()) c.executor_threads = pb.executor_threads();
  c.allowed_uids.assign(pb.allowed_uids().begin(), pb.allowed_uids().end());
  if (pb.limits().has_max_request_bytes()) c.max_request_bytes = pb.limits().max_request_bytes();
  if (pb.limits().has_max_in_flight()) c.max_in_flight = pb.limits().max_in_flight();
  if (pb.limits().has_max_ops_per_second()) c.max_ops_per_second = pb.limits().max_ops_per_second();
  if (pb.limits().has_max_reply_bytes()) c.max_reply_bytes = pb.limits().max_reply_bytes();
  if (pb.limits().has_memory_budget_bytes())
    c.memory_budget_bytes = pb.limits().memory_budget_bytes();
  if (pb.has_log_level()) c.log_level = pb.log_level();
  if (pb.has_drain_timeout_seconds()) c.drain_timeout_seconds = pb.drain_timeout_seconds();
  if (pb.has_store_fsync()) c.store_fsync = pb.store_fsync();
  if (pb.has_import_root()) c.import_root = pb.import_root();
  if (pb.has_node_key_path()) c.node_key_path = pb.node_key_path();
  if (pb.has_tcp_auth_token()) c.tcp_auth_token = pb.tcp_auth_token();
  if (pb.has_import_timeout_seconds()) c.import_timeout_seconds = pb.import_timeout_seconds();
  const v1::InferenceLimits& inf = pb.inference();
  if (inf.has_max_sessions()) c.max_sessions = inf.max_sessions();
  if (inf.has_default_context_length()) c.default_context_length = inf.default_context_length();
  if (inf.has_max_context_length()) c.max_context_length = inf.max_context_length();
  if (inf.has_max_tokens_per_call()) c.max_tokens_per_call = inf.max_tokens_per_call();
  if (inf.has_max_loaded_models()) c.max_loaded_models = inf.max_loaded_models();
  if (pb.has_test_fault()) c.test_fault = pb.test_fault();
  if (pb.has_admission_recheck_seconds())
    c.admission_recheck_seconds = pb.admission_recheck_seconds();
  if (pb.has_subnet_keys_path()) c.subnet_keys_path = pb.subnet_keys_path();
  RETURN_IF_ERROR(ValidateConfig(c));
  return c;
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) return absl::NotFoundError(absl::StrCat("cannot read config file ", path));
  std::stringstream ss;
  ss << f.rdbuf();
  auto c = ConfigFromText(ss.str());
  if (!c.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", c.status().message()));
  return c;
}

absl::Status ValidateConfig(const Config& c) {
  auto bad = [](std::string_view field, std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("config: ", std::string(field), " ", std::string(why)));
  };
  const size_t max_path = sizeof(sockaddr_un{}.sun_path) - 1;
  if (c.socket_path.empty() || c.socket_path.size() > max_path)
    return bad("socket_path", "must be 1..107 bytes");
  if (c.metrics_socket_path.size() > max_path)
    return bad("metrics_socket_path", "must be at most 107 bytes");
  if (!c.tcp_address.empty() && !StartsWith(c.tcp_address, "127.0.0.1:") &&
      !StartsWith(c.tcp_address, "[::1]:") && !StartsWith(c.tcp_address, "localhost:")) {
    return bad("tcp_address", "must be on loopback (127.0.0.1:PORT, [::1]:PORT or localhost:PORT)");
  }
  if (c.store_root.empty()) return bad("store_root", "must not be empty");
  if (c.store_capacity_bytes < 0) return bad("store_capacity_bytes", "must be >= 0");
  if (c.backend.empty()) return bad("backend", "must not be empty");
  if (c.backend_threads < 0 || c.backend_threads > 1024)
    return bad("backend_threads", "must be in [0, 1024]");
  if (c.pin_budget_bytes < 0) return bad("pin_budget_bytes", "must be >= 0");
  if (c.executor_threads < 1 || c.executor_threads > 1024)
    return bad("executor_threads", "must be in [1, 1024]");
  if (c.max_request_bytes < 1024 || c.max_request_bytes > (int64_t{1} << 31) - 1) {
    return bad("limits.max_request_bytes", "must be in [1024, 2^31)");
  }
  if (c.max_in_flight < 1) return bad("limits.max_in_flight", "must be >= 1");
  if (!(c.max_ops_per_second > 0)) return bad("limits.max_ops_per_second", "must be > 0");
  if (c.max_reply_bytes < 1024 || c.max_reply_bytes > Config::kMaxMaxReplyBytes)
    return bad("limits.max_reply_bytes", "must be in [1024, 2^30]");
  if (c.memory_budget_bytes < (int64_t{16} << 20))
    return bad("limits.memory_budget_bytes", "must be >= 16 MiB");
  if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" &&
      c.log_level != "error") {
    return bad("log_level", "must be debug, info, warn or error");
  }
  if (c.drain_timeout_seconds < 0 || c.drain_timeout_seconds > 3600) {
    return bad("drain_timeout_seconds", "must be in [0, 3600]");
  }
  if (!c.node_key_path.empty() && c.node_key_path.back() == '/')
    return bad("node_key_path", "must name a file, not a directory");
  if (!c.subnet_keys_path.empty() && c.subnet_keys_path.back() == '/')
    return bad("subnet_keys_path", "must name a file, not a directory");
  if (!c.tcp_address.empty()) {
    // TCP peers have no uid to check: the token is their only credential, and a path
    // they send must not reach beyond the files meant for import.
    if (c.tcp_auth_token.empty()) {
      return bad("tcp_auth_token", "is required when tcp_address is set");
    }
    if (c.import_root.empty()) return bad("import_root", "is required when tcp_address is set");
  }
  if (!c.tcp_auth_token.empty() && c.tcp_auth_token.size() < Config::kMinTcpAuthTokenBytes) {
    return bad("tcp_auth_token", absl::StrCat("must be at least ", Config::kMinTcpAuthTokenBytes,
                                              " characters"));
  }
  for (char ch : c.tcp_auth_token) {
    if (ch <= ' ' || ch > '~') return bad("tcp_auth_token", "must be printable ASCII, no spaces");
  }
  if (c.import_timeout_seconds < 1 || c.import_timeout_seconds > 86400) {
    return bad("import_timeout_seconds", "must be in [1, 86400]");
  }
  if (c.max_sessions < 1 || c.max_sessions > 4096) {
    return bad("inference.max_sessions", "must be in [1, 4096]");
  }
  if (c.max_context_length < 1 || c.max_context_length > (int64_t{1} << 20)) {
    return bad("inference.max_context_length", "must be in [1, 2^20]");
  }
  if (c.default_context_length < 1 || c.default_context_length > c.max_context_length) {
    return bad("inference.default_context_length", "must be in [1, max_context_length]");
  }
  if (c.max_tokens_per_call < 1 || c.max_tokens_per_call > (1 << 20)) {
    return bad("inference.max_tokens_per_call", "must be in [1, 2^20]");
  }
  if (c.max_loaded_models < 1 || c.max_loaded_models > 64) {
    return bad("inference.max_loaded_models", "must be in [1, 64]");
  }
  if (absl::StatusOr<TestFault> f = ParseTestFault(c.test_fault); !f.ok()) {
    return bad("test_fault", std::string(f.status().message()));
  }
  if (c.admission_recheck_seconds < 0 || c.admission_recheck_seconds > 366 * 86400) {
    return bad("admission_recheck_seconds", "must be in [0, 31622400] (0 = never)");
  }
  return absl::OkStatus();
}

std::string NodeKeyPath(const Config& c) {
  if (!c.node_key_path.empty()) return c.node_key_path;
  std::filesystem::path root = std::filesystem::path(c.store_root).lexically_normal();
  if (!root.has_filename()) root = root.parent_path();  // "store/" names "store"
  return (root.parent_path() / Config::kDefaultNodeKeyFile).string();
}

std::string ConfigToString(const Config& c) {
  return absl::StrCat(
      "socket_path=", c.socket_path, " metrics_socket_path=", c.metrics_socket_path,
      " tcp_address=", c.tcp_address.empty() ? "(off)" : c.tcp_address,
      " store_root=", c.store_root, " store_capacity_bytes=", c.store_capacity_bytes,
      " store_fsync=", c.store_fsync, " backend=", c.backend,
      " backend_threads=", c.backend_threads, " pin_budget_bytes=", c.pin_budget_bytes,
      " executor_threads=", c.executor_threads, " allowed_uids=[",
      absl::StrJoin(c.allowed_uids, ","), "] max_request_bytes=", c.max_request_bytes,
      " max_in_flight=", c.max_in_flight, " max_ops_per_second=", c.max_ops_per_second,
      " max_reply_bytes=", c.max_reply_bytes, " memory_budget_bytes=", c.memory_budget_bytes,
      " log_level=", c.log_level, " drain_timeout_seconds=", c.drain_timeout_seconds,
      " import_root=", c.import_root.empty() ? "(any)" : c.import_root,
      " node_key_path=", NodeKeyPath(c),
      " tcp_auth_token=", c.tcp_auth_token.empty() ? "(none)" : "(set)",
      " import_timeout_seconds=", c.import_timeout_seconds,
      " inference.max_sessions=", c.max_sessions,
      " inference.default_context_length=", c.default_context_length,
      " inference.max_context_length=", c.max_context_length,
      " inference.max_tokens_per_call=", c.max_tokens_per_call,
      " inference.max_loaded_models=", c.max_loaded_models,
      " admission_recheck_seconds=", c.admission_recheck_seconds,
      " subnet_keys_path=", c.subnet_keys_path.empty() ? "(none)" : c.subnet_keys_path);
}

}  // namespace datanode::node
