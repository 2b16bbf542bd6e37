// Copyright 2026 The datanode Authors.
//
// datanoded: the data node's adapter daemon. Runs on its embedded defaults
// (config.h) with no arguments; see docs/daemon.md.
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "datanode/ops/backend.h"
#include "datanode/util/hex.h"
#include "device_classes/device_class_loader.h"
#include "node/cli/flags.h"
#include "node/daemon/admission.h"
#include "node/daemon/config.h"
#include "node/daemon/inference_service.h"
#include "node/daemon/rpc_server.h"
#include "node/import/model_registry.h"
#include "node/store/weight_store.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, config, "", "config file (text proto datanode.v1.DaemonConfig)");
ABSL_FLAG(std::string, socket, "", "gRPC Unix socket (config socket_path)");
ABSL_FLAG(std::string, metrics_socket, "",
          "metrics Unix socket (config metrics_socket_path; empty disables)");
ABSL_FLAG(std::string, store, "", "store directory (config store_root)");
ABSL_FLAG(std::string, backend, "", "cpu, reference, vulkan or cuda (config backend)");
ABSL_FLAG(std::string, tcp, "",
          "also serve on loopback TCP, e.g. 127.0.0.1:50051 (config tcp_address; needs "
          "tcp_auth_token and import_root)");
ABSL_FLAG(std::string, log_level, "", "debug, info, warn or error (config log_level)");

namespace datanode::node {
namespace {

constexpr char kUsage[] =
    "usage: datanoded [--config FILE] [--socket PATH] [--metrics-socket PATH] [--store DIR]\n"
    "                 [--backend NAME] [--tcp 127.0.0.1:PORT] [--log-level LEVEL]\n"
    "Serves the datanode.v1 Accelerator, Store, Admission and Inference gRPC services on a\n"
    "Unix socket.\n"
    "Flags override the config file (text proto datanode.v1.DaemonConfig), which\n"
    "overrides the embedded defaults. SIGTERM/SIGINT drain in-flight calls and exit.\n"
    "Exit codes: 0 clean stop, 1 start-up failure, 2 usage or config error.\n\nFlags:\n";

const std::vector<std::string_view> kFlags = {"config",  "socket", "metrics_socket", "store",
                                              "backend", "tcp",    "log_level"};

int Run(int argc, char** argv) {
  cli::CommandLine line;
  if (std::optional<int> exit_code =
          cli::ParseFlagsOnlyCommandLine("datanoded", kUsage, argc, argv, kFlags, &line)) {
    return *exit_code;
  }
  const std::string config_path = absl::GetFlag(FLAGS_config);
  absl::StatusOr<Config> loaded =
      config_path.empty() ? absl::StatusOr<Config>(Config{}) : LoadConfigFile(config_path);
  if (!loaded.ok()) {
    std::fprintf(stderr, "datanoded: %s\n", std::string(loaded.status().message()).c_str());
    return 2;
  }
  Config config = *loaded;
  // Only flags given override the file ("--metrics-socket ''" disables metrics).
  auto given = [&](const char* name) { return line.seen.count(name) > 0; };
  if (given("socket")) config.socket_path = absl::GetFlag(FLAGS_socket);
  if (given("metrics_socket")) config.metrics_socket_path = absl::GetFlag(FLAGS_metrics_socket);
  if (given("store")) config.store_root = absl::GetFlag(FLAGS_store);
  if (given("backend")) config.backend = absl::GetFlag(FLAGS_backend);
  if (given("tcp")) config.tcp_address = absl::GetFlag(FLAGS_tcp);
  if (given("log_level")) config.log_level = absl::GetFlag(FLAGS_log_level);
  if (absl::Status s = ValidateConfig(config); !s.ok()) {
    std::fprintf(stderr, "datanoded: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  spdlog::info("datanoded {} starting, spec version {}", DATANODE_VERSION, ops::kSpecVersion);
  spdlog::info("config: {}", ConfigToString(config));

  // Block the stop signals in every thread; main waits for them with sigwait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  ops::BackendOptions backend_options;
  backend_options.num_threads = config.backend_threads;
  auto backend = ops::CreateBackend(config.backend, backend_options);
  if (!backend.ok()) {
    spdlog::critical("backend {}: {}", config.backend, backend.status().ToString());
    return 1;
  }
  spdlog::info("backend {} passed its self-test: {}", (*backend)->Name(),
               (*backend)->Description());
  auto store =
      WeightStore::Open({config.store_root, config.store_capacity_bytes, config.store_fsync});
  if (!store.ok()) {
    spdlog::critical("store: {}", store.status().ToString());
    return 1;
  }
  auto models = ModelRegistry::Open(store->get());
  if (!models.ok()) {
    spdlog::critical("models: {}", models.status().ToString());
    return 1;
  }
  spdlog::info("store {}: {} objects, {} bytes; {} models", config.store_root,
               (*store)->List().size(), (*store)->used_bytes(), (*models)->List().size());

  // The node's identity for admission reports; created once, never overwritten.
  const std::string key_path = NodeKeyPath(config);
  bool key_created = false;
  auto public_key = EnsureNodeKey(key_path, &key_created);
  if (!public_key.ok()) {
    spdlog::critical("{}", public_key.status().ToString());
    return 1;
  }
  spdlog::info("{} node key {} (Ed25519 public key {})", key_created ? "created" : "using",
               key_path, util::HexEncode(*public_key));

  NodeService service(backend->get(), store->get(), models->get(), config.pin_budget_bytes,
                      MatMulLimits{config.max_reply_bytes, config.memory_budget_bytes});
  ImportOptions import_options;
  import_options.root = config.import_root;
  import_options.timeout = absl::Seconds(config.import_timeout_seconds);
  service.set_import_options(std::move(import_options));
  // Verified mode signs verdicts with the node key; a test fault was refused by
  // ValidateConfig unless the test environment allows it.
  if (absl::Status s = service.EnableVerifiedMode(key_path, config.test_fault); !s.ok()) {
    spdlog::critical("verified mode: {}", s.ToString());
    return 1;
  }
  if (!config.test_fault.empty()) {
    spdlog::warn("TEST FAULT {}: this node answers wrongly in verified mode", config.test_fault);
  }
  Metrics metrics;
  CallerLimiter limiter(config.max_in_flight, config.max_ops_per_second);
  PeerTable peers;
  AdmissionService admission(backend->get(), backend_options, key_path,
                             device_classes::DefaultClassDirs(), store->get(), models->get());
  if (absl::Status s = admission.LoadSaved(*public_key); !s.ok()) {
    spdlog::warn("ignoring the saved admission report {}: {}", admission.saved_report_path(),
                 s.ToString());
  } else if (!admission.Admitted().class_name.empty()) {
    spdlog::info("admitted class {} (report {}, from {})", admission.Admitted().class_name,
                 admission.Admitted().report_digest, admission.saved_report_path());
  }
  // Fault evidence (ReportFault) is checked against the subnet's key list, never keys a
  // request brings; a bad list is reported at start-up and refused per call.
  admission.SetSubnetKeys(config.subnet_keys_path, *public_key);
  if (!config.subnet_keys_path.empty()) {
    if (auto keys = LoadSubnetKeys(config.subnet_keys_path); !keys.ok()) {
      spdlog::warn("subnet keys: {} (ReportFault is refused until it reads)",
                   keys.status().ToString());
    } else {
      spdlog::info("subnet keys {}: {} nodes", config.subnet_keys_path, keys->size());
    }
  }
  admission.StartRechecks(absl::Seconds(config.admission_recheck_seconds), *public_key);
  InferenceService inference(&service, backend->get(), config);
  int exit_code = 0;
  {
    Executor executor(config.executor_threads);
    RpcServer server(config,
                     {&service, &executor, &metrics, &limiter, &peers, &admission, &inference});
    MetricsHttpServer metrics_server;
    if (absl::Status s = server.Start(); !s.ok()) {
      spdlog::critical("{}", s.ToString());
      return 1;
    }
    if (!config.metrics_socket_path.empty()) {
      absl::Status s = metrics_server.Start(config.metrics_socket_path, config.allowed_uids, [&] {
        Metrics::Gauges g;
        g.store_bytes = service.store().used_bytes();
        g.store_capacity_bytes = service.store().capacity_bytes();
        g.objects = static_cast<int64_t>(service.store().List().size());
        g.models = static_cast<int64_t>(service.models().List().size());
        g.pinned_bytes = service.cache().used_bytes();
        g.pin_budget_bytes = service.cache().budget_bytes();
        g.inference_sessions = inference.open_sessions();
        g.inference_models_loaded = inference.loaded_models();
        return metrics.Render(g) + admission.RenderMetrics();
      });
      if (!s.ok()) {
        spdlog::critical("{}", s.ToString());
        return 1;
      }
    }
    spdlog::info("serving on unix:{}{}{} (metrics on {})", config.socket_path,
                 config.tcp_address.empty() ? "" : " and ", config.tcp_address,
                 config.metrics_socket_path);
    int sig = 0;
    sigwait(&stop_signals, &sig);
    spdlog::info("received {}, draining in-flight calls (up to {} s)", strsignal(sig),
                 config.drain_timeout_seconds);
    server.Shutdown();
    admission.StopRechecks();  // cancels a re-check in progress
    metrics_server.Stop();
  }  // the executor drains its queue here
  spdlog::info("datanoded stopped cleanly");
  return exit_code;
}

}  // namespace
}  // namespace datanode::node

int main(int argc, char** argv) {
  // Large buffers (MatMul outputs, weights being read) are mmapped and go back to the
  // system when freed. Otherwise glibc raises its mmap threshold after the first such
  // free and keeps later ones in per-thread arenas, and resident memory tracks the sum
  // of the arenas' peaks rather than the memory budget (docs/daemon.md, "Limits").
  mallopt(M_MMAP_THRESHOLD, 256 << 10);
  const int exit_code = datanode::node::Run(argc, argv);
  // Everything durable is already on disk (the store fsyncs before it renames) and the
  // servers and executor have drained inside Run. What is left is gRPC's global
  // shutdown at exit, which waits for its internal poller threads: 2 s when idle and
  // about 10 s after a large stream with gRPC 1.51 (grpc/grpc#41050). Nothing depends
  // on it, so flush the logs and leave without running static destructors.
  spdlog::shutdown();
  std::fflush(nullptr);
  std::_Exit(exit_code);
}
