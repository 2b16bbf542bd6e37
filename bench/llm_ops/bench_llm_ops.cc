// Copyright 2026 The datanode Authors.
//
// The LLM ops (spec v2) at SmolLM2-135M shapes (d 576, 9 / 3 heads x 64, FFN 1536, vocab
// 49152): the reference (llm.h) against the CPU backend's kernels (Backend::LlmKernels)
// with 1 and 2 threads, side by side. Prints microseconds per call (the best of 5 runs
// of >= 50 ms each) and the speed-up. Usage: bench_llm_ops [--quick] [FILTER]
// (FILTER: run only the rows whose name contains it, e.g. "Attend").
//   --thread-cpu-time: time by the calling thread's CPU clock instead of the wall clock, for
//   a busy machine (then only the reference and x1 columns mean anything: x2's second
//   thread is not counted).
//   DATANODE_CPU_ISA=avx2 bench_llm_ops   caps the kernel family, as everywhere.
#include <algorithm>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "datanode/ops/backend.h"
#include "datanode/ops/llm.h"
#include "datanode/ops/llm_kernels.h"

namespace {

namespace ops = datanode::ops;
namespace llm = datanode::ops::llm;

double g_run_ms = 50;
bool g_thread_cpu = false;

double NowUs() {
  if (g_thread_cpu) {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec * 1e-3;
  }
  return std::chrono::duration<double, std::micro>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
std::string g_filter;

// Best-of-5 microseconds per call of fn.
double Time(const std::function<void()>& fn) {
  fn();
  double best = 1e30;
  for (int run = 0; run < 5; ++run) {
    int64_t calls = 0;
    const double t0 = NowUs();
    double us = 0;
    do {
      fn();
      ++calls;
      us = NowUs() - t0;
    } while (us < g_run_ms * 1000);
    best = std::min(best, us / calls);
  }
  return best;
}

void Check(const absl::Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "bench_llm_ops: %s\n", std::string(s.message()).c_str());
    std::exit(1);
  }
}

std::vector<float> Row(std::mt19937_64& rng, size_t n, float scale) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      g_run_ms = 10;
    } else if (std::strcmp(argv[i], "--thread-cpu-time") == 0) {
      g_thread_cpu = true;
    } else {
      g_filter = argv[i];
    }
  }
  std::vector<std::unique_ptr<ops::Backend>> cpus;
  for (int threads : {1, 2}) {
    ops::BackendOptions options;
    options.num_threads = threads;
    auto cpu = ops::CreateBackend("cpu", options);
    Check(cpu.status());
    cpus.push_back(std::move(cpu).value());
  }
  const llm::Kernels& ref = llm::ReferenceKernels();
  std::printf("%s\nkernels: %s\n\n", cpus[0]->Description().c_str(), cpus[0]->LlmKernels().Name());
  std::printf("%-34s %12s %12s %12s %9s %9s\n", "op (SmolLM2-135M shape)", "reference us",
              "cpu x1 us", "cpu x2 us", "ratio x1", "ratio x2");

  auto row = [&](const std::string& name, const std::function<void(const llm::Kernels&)>& op) {
    if (name.find(g_filter) == std::string::npos) return;
    const double r = Time([&] { op(ref); });
    const double c1 = Time([&] { op(cpus[0]->LlmKernels()); });
    const double c2 = Time([&] { op(cpus[1]->LlmKernels()); });
    std::printf("%-34s %12.2f %12.2f %12.2f %8.1fx %8.1fx\n", name.c_str(), r, c1, c2, r / c1,
                r / c2);
    std::fflush(stdout);
  };

  std::mt19937_64 rng(1);
  const llm::AttentionShape shape{9, 3, 64};
  const int64_t row_bytes = llm::KvRowBytes(shape);
  const int64_t max_pos = 2048;
  std::vector<uint8_t> k(max_pos * row_bytes), v(max_pos * row_bytes);
  for (int64_t p = 0; p < max_pos; ++p) {
    Check(llm::EncodeKvRow(shape, Row(rng, 192, 2.0f), std::span(k).subspan(p * row_bytes, row_bytes)));
    Check(llm::EncodeKvRow(shape, Row(rng, 192, 1.0f), std::span(v).subspan(p * row_bytes, row_bytes)));
  }
  std::vector<float> q = Row(rng, 576, 2.0f), att(576);
  for (int64_t n : {1, 128, 512, 2048}) {
    row("Attend 9/3x64, " + std::to_string(n) + " positions",
        [&](const llm::Kernels& kk) { Check(kk.Attend(shape, q, k, v, n, att)); });
  }
  std::vector<float> x = Row(rng, 576, 1.0f), y = Row(rng, 576, 1.0f), g = Row(rng, 576, 0.2f),
                     o(576);
  row("RmsNorm 576", [&](const llm::Kernels& kk) { Check(kk.RmsNorm(x, g, 1e-5f, o)); });
  row("Add 576", [&](const llm::Kernels& kk) { Check(kk.Add(x, y, o)); });
  std::vector<float> gate = Row(rng, 1536, 2.0f), up = Row(rng, 1536, 1.0f), act(1536);
  row("SiluMul 1536", [&](const llm::Kernels& kk) { Check(kk.SiluMul(gate, up, act)); });
  auto table = llm::RopeTable::Create(100000.0f, 64, 8192);
  Check(table.status());
  std::vector<float> qr = q, kr = Row(rng, 192, 2.0f);
  row("RoPE q 9x64 + k 3x64, pos 300", [&](const llm::Kernels& kk) {
    Check(kk.RopeApply(*table, 300, 9, 64, qr));
    Check(kk.RopeApply(*table, 300, 3, 64, kr));
  });
  std::vector<uint8_t> kv_row(row_bytes);
  row("EncodeKvRow 3x64", [&](const llm::Kernels& kk) { Check(kk.EncodeKvRow(shape, kr, kv_row)); });

  // Sampling and the RoPE table are host-only (llm.h): one column.
  std::vector<float> logits = Row(rng, 49152, 3.0f);
  const uint8_t seed[] = {'b', 'e', 'n', 'c', 'h'};
  llm::SpecRng srng(seed);
  auto sample = [&](const std::string& name, llm::SamplingParams params) {
    if (name.find(g_filter) == std::string::npos) return;
    const double us = Time([&] { Check(llm::SampleToken(logits, params, srng).status()); });
    std::printf("%-34s %12.2f   (host-only, llm.h)\n", name.c_str(), us);
  };
  std::printf("\n");
  sample("SampleToken 49152 greedy", {0.0f, 0, 1.0f});
  sample("SampleToken 49152 T 0.8", {0.8f, 0, 1.0f});
  sample("SampleToken 49152 T 0.8 top-p 0.9", {0.8f, 0, 0.9f});
  sample("SampleToken 49152 T 0.8 top-k 40", {0.8f, 40, 1.0f});
  if (std::string("RopeTable::Create").find(g_filter) != std::string::npos) {
    const double t_us = Time([&] { Check(llm::RopeTable::Create(100000.0f, 64, 8192).status()); });
    std::printf("%-34s %12.2f   (host-only, llm.h)\n", "RopeTable::Create 64 x 8192", t_us);
  }
  return 0;
}
