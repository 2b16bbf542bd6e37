// Copyright 2026 The datanode Authors.
//
// datanoded's configuration: a text-proto file (datanode.v1.DaemonConfig,
// proto/datanode/v1/node.proto) over named defaults. The defaults alone run a local
// node: CPU backend, store in ./store, sockets in ./run. See docs/daemon.md.
#ifndef DATANODE_NODE_DAEMON_CONFIG_H_
#define DATANODE_NODE_DAEMON_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace datanode::node {

struct Config {
  static constexpr const char* kDefaultSocketPath = "run/datanoded.sock";
  static constexpr const char* kDefaultMetricsSocketPath = "run/datanoded-metrics.sock";
  static constexpr const char* kDefaultStoreRoot = "store";
  static constexpr const char* kDefaultBackend = "cpu";
  static constexpr int64_t kDefaultPinBudgetBytes = int64_t{1} << 30;
  static constexpr int kDefaultExecutorThreads = 4;
  static constexpr int64_t kDefaultMaxRequestBytes = int64_t{64} << 20;
  static constexpr int kDefaultMaxInFlight = 64;
  static constexpr double kDefaultMaxOpsPerSecond = 10000;
  // The largest MatMul output, well under gRPC's 2 GiB message limit (a larger reply
  // aborts gRPC's serializer); larger calls are refused before anything is computed.
  static constexpr int64_t kDefaultMaxReplyBytes = int64_t{64} << 20;
  static constexpr int64_t kMaxMaxReplyBytes = int64_t{1} << 30;
  // Bytes that calls in flight may hold at once (requests, outputs, weights being
  // loaded); see MemoryBudget (caller_limits.h) and docs/daemon.md.
  static constexpr int64_t kDefaultMemoryBudgetBytes = int64_t{1} << 30;
  static constexpr int kDefaultDrainTimeoutSeconds = 30;
  // An hour imports ~1 TB at the measured 334 MB/s; it only bounds a stuck import.
  static constexpr int kDefaultImportTimeoutSeconds = 3600;
  static constexpr size_t kMinTcpAuthTokenBytes = 32;
  // The node key's file name in the daemon's state directory (the parent of
  // store_root: /var/lib/datanode under systemd), so the node's identity survives
  // wiping the store.
  static constexpr const char* kDefaultNodeKeyFile = "node-key.pem";
  // Inference (docs/daemon.md, "API"). A SmolLM2-135M session's KV cache takes 22.5 KiB
  // per position (45 MiB at the default context), held from the memory budget.
  static constexpr int kDefaultMaxSessions = 8;
  static constexpr int64_t kDefaultContextLength = 2048;
  static constexpr int64_t kDefaultMaxContextLength = 8192;
  static constexpr int kDefaultMaxTokensPerCall = 1024;
  static constexpr int kDefaultMaxLoadedModels = 2;
  // Re-check of the admitted class: an hour keeps a quick run (about 10 s of a mini_pc's
  // CPU) under 0.3 % of the node's time while catching a degraded device the same day.
  static constexpr int64_t kDefaultAdmissionRecheckSeconds = 3600;

  std::string socket_path = kDefaultSocketPath;
  std::string metrics_socket_path = kDefaultMetricsSocketPath;
  std::string tcp_address;  // empty = no TCP listener
  std::string store_root = kDefaultStoreRoot;
  int64_t store_capacity_bytes = 0;  // 0 = unlimited
  std::string backend = kDefaultBackend;
  int backend_threads = 0;  // 0 = one per CPU
  int64_t pin_budget_bytes = kDefaultPinBudgetBytes;
  int executor_threads = kDefaultExecutorThreads;
  std::vector<uint32_t> allowed_uids;  // empty = only the daemon's own uid
  int64_t max_request_bytes = kDefaultMaxRequestBytes;
  int max_in_flight = kDefaultMaxInFlight;
  double max_ops_per_second = kDefaultMaxOpsPerSecond;
  int64_t max_reply_bytes = kDefaultMaxReplyBytes;
  int64_t memory_budget_bytes = kDefaultMemoryBudgetBytes;
  std::string log_level = "info";
  int drain_timeout_seconds = kDefaultDrainTimeoutSeconds;
  bool store_fsync = true;
  std::string import_root;    // ImportModel paths must lie inside; empty = any readable path
  std::string node_key_path;  // empty = NodeKeyPath()'s default
  // Required with tcp_address (ValidateConfig), at least kMinTcpAuthTokenBytes long.
  std::string tcp_auth_token;
  int import_timeout_seconds = kDefaultImportTimeoutSeconds;
  int max_sessions = kDefaultMaxSessions;
  int64_t default_context_length = kDefaultContextLength;
  int64_t max_context_length = kDefaultMaxContextLength;
  int max_tokens_per_call = kDefaultMaxTokensPerCall;
  int max_loaded_models = kDefaultMaxLoadedModels;
  // Test only: the verified-mode fault this node commits (node/daemon/verified_mode.h);
  // empty = none. Refused unless DATANODE_ALLOW_TEST_FAULTS=1.
  std::string test_fault;
  int64_t admission_recheck_seconds = kDefaultAdmissionRecheckSeconds;  // 0 = never
  // The subnet's node public keys, one hex key per line (node i = line i), for checking
  // the fault evidence of Admission.ReportFault; empty = that RPC is FAILED_PRECONDITION.
  std::string subnet_keys_path;
};

// The admission key's path: node_key_path, or kDefaultNodeKeyFile beside store_root.
std::string NodeKeyPath(const Config& config);

// Parses a DaemonConfig text proto over the defaults (unset fields keep them) and
// validates it. INVALID_ARGUMENT naming the line / field for anything wrong, including
// unknown fields.
absl::StatusOr<Config> ConfigFromText(std::string_view text);
// Reads and parses a file; NOT_FOUND if missing.
absl::StatusOr<Config> LoadConfigFile(const std::string& path);
// Range and consistency checks (TCP only on loopback, positive limits, ...).
absl::Status ValidateConfig(const Config& config);
// One line per field, for the start-up log.
std::string ConfigToString(const Config& config);

}  // namespace datanode::node

#endif  // DATANODE_NODE_DAEMON_CONFIG_H_
