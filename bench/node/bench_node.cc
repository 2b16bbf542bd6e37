// Copyright 2026 The datanode Authors.
//
// Daemon benchmark. Prints:
//  1. p50 / p99 latency of a 64x64x64 s8 MatMul (weights by reference) in process
//     (NodeService::MatMul, the work the daemon does) vs over the Unix socket (the
//     real datanoded, C++ gRPC client): the difference is the RPC overhead;
//  2. throughput with 1 / 4 / 16 concurrent clients over the socket;
//  3. import throughput (MB/s) of a >= 500 MB safetensors file vs `cp` of it.
// usage: bench_node [--import-mb N] [--seconds S] [--dir DIR]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/v1/accelerator.grpc.pb.h"
#include "datanode/v1/store.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "node/daemon/node_service.h"

namespace datanode {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double Secs(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Writes a safetensors file holding one I8 tensor "w" [n, k] of pseudo-random values.
void WriteModel(const fs::path& path, int64_t n, int64_t k, uint64_t seed) {
  std::string header = "{\"w\":{\"dtype\":\"I8\",\"shape\":[" + std::to_string(n) + "," +
                       std::to_string(k) + "],\"data_offsets\":[0," + std::to_string(n * k) + "]}}";
  while (header.size() % 8) header.push_back(' ');
  uint64_t len = header.size();
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(&len), 8);
  f << header;
  ops::SplitMix64 rng(seed);
  std::vector<char> buf(1 << 20);
  for (int64_t done = 0; done < n * k;) {
    size_t take =
        static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(buf.size()), n * k - done));
    for (size_t i = 0; i < take; ++i) buf[i] = static_cast<char>(rng.Uniform(-127, 127));
    f.write(buf.data(), static_cast<std::streamsize>(take));
    done += static_cast<int64_t>(take);
  }
}

void Percentiles(const char* what, std::vector<double> us) {
  std::sort(us.begin(), us.end());
  auto at = [&](double q) {
    return us[std::min(us.size() - 1, static_cast<size_t>(q * us.size()))];
  };
  std::printf("%-34s p50 %8.1f us   p99 %8.1f us   (%zu calls)\n", what, at(0.5), at(0.99),
              us.size());
}

int Main(int argc, char** argv) {
  int64_t import_mb = 512;
  double seconds = 2;
  fs::path dir = fs::temp_directory_path() / ("dn_bench_" + std::to_string(getpid()));
  for (int i = 1; i < argc; i += 2) {
    const std::string a = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    bool ok = value != nullptr;
    if (ok && a == "--import-mb") {
      ok = absl::SimpleAtoi(value, &import_mb) && import_mb > 0 && import_mb <= (1 << 20);
    } else if (ok && a == "--seconds") {
      ok = absl::SimpleAtod(value, &seconds) && seconds > 0 && seconds <= 3600;
    } else if (ok && a == "--dir") {
      dir = value;
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr,
                   "usage: bench_node [--import-mb 1..1048576] [--seconds 0..3600] [--dir DIR]\n");
      return 2;
    }
  }
  fs::create_directories(dir);
  const int64_t M = 64, N = 64, K = 64;
  WriteModel(dir / "small.safetensors", N, K, 1);
  auto inputs = ops::MakeRandomInputs(ops::OpKind::kMatMulS8S32, M, N, K, 2);
  std::string a(inputs->a.begin(), inputs->a.end());

  // --- In process: the daemon's own MatMul path (pinned weights) -------------------
  std::string model_hex;
  {
    auto backend = *ops::CreateBackend("cpu");
    auto store = *node::WeightStore::Open({dir / "inproc_store", 0, true});
    auto models = *node::ModelRegistry::Open(store.get());
    auto imported = models->ImportFile(dir / "small.safetensors");
    node::NodeService service(backend.get(), store.get(), models.get(), 1 << 30);
    node::MatMulCall call;
    call.m = M, call.n = N, call.k = K;
    call.a = inputs->a;
    call.by_reference = true;
    call.model = imported->model;
    call.tensor = "w";
    std::vector<double> us;
    for (int i = 0; i < 2000; ++i) {
      auto t0 = Clock::now();
      auto r = service.MatMul(call);
      us.push_back(Secs(t0, Clock::now()) * 1e6);
      if (!r.ok())
        return std::fprintf(stderr, "in-process MatMul: %s\n", r.status().ToString().c_str()), 1;
    }
    Percentiles("64x64x64 s8 MatMul in process", us);
  }

  // --- Over the socket: the real daemon -------------------------------------------
  std::string sock = (dir / "d.sock").string();
  std::ofstream(dir / "d.conf") << "socket_path: \"" << sock
                                << "\"\nmetrics_socket_path: \"\"\nstore_root: \""
                                << (dir / "store").string()
                                << "\"\nlog_level: \"warn\"\nexecutor_threads: 4\n"
                                << "limits { max_ops_per_second: 1000000 max_in_flight: 1000 }\n";
  pid_t pid = fork();
  if (pid == 0) {
    std::string conf = (dir / "d.conf").string();
    execl(DATANODED_PATH, "datanoded", "--config", conf.c_str(), nullptr);
    _exit(127);
  }
  for (int i = 0; i < 200 && !fs::exists(sock); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto channel = grpc::CreateChannel("unix:" + sock, grpc::InsecureChannelCredentials());
  auto store = v1::Store::NewStub(channel);
  v1::ModelInfo model;
  {
    grpc::ClientContext ctx;
    v1::ImportModelRequest req;
    req.set_path((dir / "small.safetensors").string());
    grpc::Status st = store->ImportModel(&ctx, req, &model);
    if (!st.ok()) return std::fprintf(stderr, "import: %s\n", st.error_message().c_str()), 1;
  }
  v1::MatMulRequest req;
  req.set_op(v1::OP_KIND_MATMUL_S8_S32);
  req.set_m(M);
  req.set_n(N);
  req.set_k(K);
  req.set_a(a);
  req.mutable_weight_ref()->set_model_digest(model.digest());
  req.mutable_weight_ref()->set_tensor("w");
  {
    auto acc = v1::Accelerator::NewStub(channel);
    std::vector<double> us;
    for (int i = 0; i < 2000; ++i) {
      grpc::ClientContext ctx;
      v1::MatMulResponse resp;
      auto t0 = Clock::now();
      grpc::Status st = acc->MatMul(&ctx, req, &resp);
      us.push_back(Secs(t0, Clock::now()) * 1e6);
      if (!st.ok()) return std::fprintf(stderr, "MatMul: %s\n", st.error_message().c_str()), 1;
    }
    Percentiles("64x64x64 s8 MatMul over the socket", us);
  }
  for (int clients : {1, 4, 16}) {
    std::atomic<int64_t> calls{0};
    std::atomic<bool> failed{false};
    std::vector<std::thread> threads;
    auto t0 = Clock::now();
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&, c] {
        // One channel per client: separate connections, as separate callers would have.
        grpc::ChannelArguments args;
        args.SetInt("grpc.channel_id", c);  // distinct args -> no subchannel sharing
        auto ch =
            grpc::CreateCustomChannel("unix:" + sock, grpc::InsecureChannelCredentials(), args);
        auto acc = v1::Accelerator::NewStub(ch);
        while (Secs(t0, Clock::now()) < seconds) {
          grpc::ClientContext ctx;
          v1::MatMulResponse resp;
          if (!acc->MatMul(&ctx, req, &resp).ok()) failed = true;
          ++calls;
        }
      });
    }
    for (auto& t : threads) t.join();
    double s = Secs(t0, Clock::now());
    std::printf("throughput, %2d concurrent clients: %8.0f MatMul/s%s\n", clients, calls / s,
                failed ? " (some calls FAILED)" : "");
  }

  // --- Import throughput vs cp ------------------------------------------------------
  fs::path big = dir / "big.safetensors";
  WriteModel(big, import_mb * 1024, 1024, 3);
  double mb = static_cast<double>(fs::file_size(big)) / (1 << 20);
  std::string cp = "cp " + big.string() + " " + (dir / "big.copy").string();
  auto t0 = Clock::now();
  if (std::system(cp.c_str()) != 0) return 1;
  double cp_s = Secs(t0, Clock::now());
  std::string sync = "sync " + (dir / "big.copy").string();
  t0 = Clock::now();
  if (std::system(cp.c_str()) != 0 || std::system(sync.c_str()) != 0) return 1;
  double cp_sync_s = Secs(t0, Clock::now());
  fs::remove(dir / "big.copy");
  {
    grpc::ClientContext ctx;
    v1::ImportModelRequest ireq;
    ireq.set_path(big.string());
    v1::ModelInfo info;
    t0 = Clock::now();
    grpc::Status st = store->ImportModel(&ctx, ireq, &info);
    double import_s = Secs(t0, Clock::now());
    if (!st.ok()) return std::fprintf(stderr, "big import: %s\n", st.error_message().c_str()), 1;
    std::printf("import of a %.0f MB file: %7.1f MB/s   cp: %7.1f MB/s   cp + sync: %7.1f MB/s\n",
                mb, mb / import_s, mb / cp_s, mb / cp_sync_s);
  }
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  fs::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace datanode

int main(int argc, char** argv) { return datanode::Main(argc, argv); }
