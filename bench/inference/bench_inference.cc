// Copyright 2026 The datanode Authors.
//
// bench_inference: the engine's prefill and decode speed and its memory, side by side
// with llama.cpp's llama-bench on the same GGUF file, in one invocation.
//
// What is measured (the same tests llama-bench runs; each from an empty KV cache):
// - ppN (prefill): one Session::Evaluate of N seeded-random tokens (the session's
//   prefill_chunk = --ubatch, llama-bench's n_ubatch 512 by default); tok/s = N / time.
// - tgN (decode): Session::Generate greedy after a 1-token prompt, N tokens, EOG ignored:
//   N forward passes of one row plus the greedy argmax per token (llama-bench decodes
//   N single tokens and samples nothing); tok/s = N / (prefill + decode time).
// Each test is preceded by an untimed warm-up (the full prompt for pp, one token for tg, as
// llama-bench does) and then runs --reps times; the figure is the mean tok/s and its
// standard deviation, like llama-bench's avg_ts, and the best repetition.
// The peer: `llama-bench -m MODEL -p N -n 0 -t T -r REPS -ub U -o json` (and -p 0 -n N),
// run by this program right after each of our tests, so that the load of a shared machine
// changes less between the two sides of a ratio; "best/best" compares the fastest
// repetitions (least disturbed). Path from --llama-bench (default
// /work/peer/build/bin/llama-bench); the peer column is skipped with a message when it is
// absent. Its peak RSS comes from getrusage(RUSAGE_CHILDREN).
// Memory: VmRSS of this process while serving (a session of context pp+tg with the
// engine's default prefill_chunk, holding a pp-token prompt and tg generated tokens, model
// loaded on the cpu backend with the first thread count), against GGUF file bytes + that
// session's KV cache bytes. The weights are read with pread (no mmap), so the file's page
// cache is not in VmRSS; llama-bench mmaps the file, so its peak RSS includes the mapped
// weights.
//
// Usage: bench_inference [--model GGUF] [--threads 1,2] [--pp 512] [--tg 128] [--reps 3]
//                        [--ubatch 512] [--llama-bench PATH|none] [--llama-args "FLAGS"]
//                        [--peer-at-end 1]  (peer after ours has freed its model: use it
//                        when model + llama.cpp's mapped file exceed free RAM, e.g. 8B)
//                        [--backend cpu]
#include <sys/resource.h>
#include <sys/stat.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "bench/inference/gguf_file.h"
#include "datanode/ops/backend.h"
#include "node/inference/model.h"
#include "node/inference/session.h"

namespace datanode::bench {
namespace {

using node::inference::GenerateParams;
using node::inference::GenerateResult;
using node::inference::Session;
using node::inference::SessionOptions;

struct Args {
  std::string model, llama_bench = "/work/peer/build/bin/llama-bench", backend = "cpu";
  std::vector<int> threads = {1, 2};
  int pp = 512, tg = 128, reps = 3, ubatch = 512;
  std::string llama_args;  // extra llama-bench flags
  bool peer_at_end = false;  // run the peer after ours has freed its model (large models)
};

[[noreturn]] void Usage(const char* msg) {
  std::fprintf(stderr,
               "%s\nusage: bench_inference [--model GGUF] [--threads 1,2] [--pp 512] [--tg 128] "
               "[--reps 3] [--ubatch 512] [--llama-bench PATH|none] [--llama-args FLAGS] "
               "[--peer-at-end 1] [--backend cpu]\n",
               msg);
  std::exit(2);
}

std::string Run(const std::string& cmd, int* rc) {
  FILE* pipe = popen(cmd.c_str(), "r");
  std::string out;
  if (pipe == nullptr) {
    *rc = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  *rc = pclose(pipe);
  return out;
}

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) Usage(("missing value for " + k).c_str());
    const std::string v = argv[++i];
    if (k == "--model") a.model = v;
    else if (k == "--llama-bench") a.llama_bench = v;
    else if (k == "--backend") a.backend = v;
    else if (k == "--llama-args") a.llama_args = v;
    else if (k == "--peer-at-end") a.peer_at_end = v == "1";
    else if (k == "--pp") a.pp = std::atoi(v.c_str());
    else if (k == "--tg") a.tg = std::atoi(v.c_str());
    else if (k == "--reps") a.reps = std::atoi(v.c_str());
    else if (k == "--ubatch") a.ubatch = std::atoi(v.c_str());
    else if (k == "--threads") {
      a.threads.clear();
      for (absl::string_view t : absl::StrSplit(v, ',')) a.threads.push_back(std::atoi(std::string(t).c_str()));
    } else Usage(("unknown flag " + k).c_str());
  }
  if (a.model.empty()) {
    int rc = 0;
    a.model = Run(std::string("bash ") + DATANODE_SOURCE_DIR + "/.ci/find-model.sh 2>/dev/null", &rc);
    while (!a.model.empty() && (a.model.back() == '\n')) a.model.pop_back();
    if (rc != 0 || a.model.empty()) Usage("no --model and .ci/find-model.sh found none");
  }
  if (a.reps < 1 || a.pp < 0 || a.tg < 0 || a.threads.empty()) Usage("bad arguments");
  return a;
}

struct Stat {
  double mean = 0, sd = 0, best = 0;
};
Stat Summarize(const std::vector<double>& v) {
  Stat s;
  for (double x : v) s.best = std::max(s.best, x);
  for (double x : v) s.mean += x;
  s.mean /= v.size();
  for (double x : v) s.sd += (x - s.mean) * (x - s.mean);
  s.sd = v.size() > 1 ? std::sqrt(s.sd / (v.size() - 1)) : 0;
  return s;
}

// llama-bench -o json: an array of flat objects; takes n_prompt, n_gen, n_threads, avg_ts,
// stddev_ts of each.
struct PeerRow {
  int n_prompt = 0, n_gen = 0, threads = 0;
  double avg_ts = 0, stddev_ts = 0, best_ts = 0;  // best: max of samples_ts
};
double Field(const std::string& obj, const std::string& key) {
  const size_t p = obj.find("\"" + key + "\"");
  if (p == std::string::npos) return -1;
  const size_t c = obj.find(':', p);
  return std::atof(obj.c_str() + c + 1);
}
std::vector<PeerRow> ParsePeer(const std::string& json) {
  std::vector<PeerRow> rows;
  size_t pos = 0;
  while ((pos = json.find('{', pos)) != std::string::npos) {
    const size_t end = json.find('}', pos);
    if (end == std::string::npos) break;
    const std::string obj = json.substr(pos, end - pos);
    PeerRow r;
    r.n_prompt = static_cast<int>(Field(obj, "n_prompt"));
    r.n_gen = static_cast<int>(Field(obj, "n_gen"));
    r.threads = static_cast<int>(Field(obj, "n_threads"));
    r.avg_ts = Field(obj, "avg_ts");
    r.stddev_ts = Field(obj, "stddev_ts");
    if (size_t k = obj.find("\"samples_ts\""); k != std::string::npos) {
      const size_t open = obj.find('[', k), close = obj.find(']', k);
      for (absl::string_view v : absl::StrSplit(obj.substr(open + 1, close - open - 1), ',')) {
        r.best_ts = std::max(r.best_ts, std::atof(std::string(v).c_str()));
      }
    }
    if (r.avg_ts > 0) rows.push_back(r);
    pos = end + 1;
  }
  return rows;
}

int Main(int argc, char** argv) {
  const Args a = Parse(argc, argv);
  struct stat st {};
  if (::stat(a.model.c_str(), &st) != 0) Usage(("no such model " + a.model).c_str());
  const int64_t file_bytes = st.st_size;
  const int64_t rss_start = ProcStatusBytes("VmRSS");
  std::printf("model: %s (%.1f MiB)\nload at start: %s; VmRSS before loading %.1f MiB\n",
              a.model.c_str(), file_bytes / 1048576.0, LoadAverage().c_str(), rss_start / 1048576.0);

  struct Result {
    std::string test;
    int threads;
    Stat ours;
  };
  std::vector<Result> results;
  int64_t serving_rss = -1, serving_kv = 0, model_bytes = 0;
  // The peer, run right after each of our tests (same test, same thread count), so that
  // load changes on a shared machine hit both sides of a ratio alike.
  std::map<std::pair<std::string, int>, PeerRow> peer;
  std::string peer_note;
  const bool run_peer = a.llama_bench != "none" && ::access(a.llama_bench.c_str(), X_OK) == 0;
  if (a.llama_bench == "none") {
    peer_note = "peer skipped (--llama-bench none)";
  } else if (!run_peer) {
    peer_note = "peer skipped: " + a.llama_bench + " not found (bench/peer/build-llama-cpp.sh builds it)";
  }
  std::vector<std::array<int, 3>> deferred;  // --peer-at-end: (pp, tg, threads)
  bool at_end = false;
  auto RunPeer = [&](int pp, int tg, int threads) {
    if (!run_peer) return;
    if (a.peer_at_end && !at_end) {
      deferred.push_back({pp, tg, threads});
      return;
    }
    const std::string cmd = a.llama_bench + " -m " + a.model + " -p " + std::to_string(pp) +
                            " -n " + std::to_string(tg) + " -t " + std::to_string(threads) +
                            " -r " + std::to_string(a.reps) + " -ub " + std::to_string(a.ubatch) +
                            (a.llama_args.empty() ? "" : " " + a.llama_args) + " -o json 2>/dev/null";
    std::fflush(stdout);
    int rc = 0;
    const std::string json = Run(cmd, &rc);
    bool got = false;
    for (const PeerRow& r : ParsePeer(json)) {
      const std::string test = r.n_prompt > 0 ? "pp" + std::to_string(r.n_prompt)
                                              : "tg" + std::to_string(r.n_gen);
      peer[{test, r.threads}] = r;
      std::printf("  peer %s, %d threads: %.2f +/- %.2f tok/s, best %.2f (load %s)\n", test.c_str(),
                  r.threads, r.avg_ts, r.stddev_ts, r.best_ts, LoadAverage().c_str());
      got = true;
    }
    if (rc != 0 || !got) {
      peer_note += "peer failed (rc " + std::to_string(rc) + "): " + cmd + "\n";
    }
  };
  if (run_peer) {
    std::printf("peer: %s -m MODEL -p P -n N -t T -r %d -ub %d%s -o json, after each of our tests\n",
                a.llama_bench.c_str(), a.reps, a.ubatch,
                a.llama_args.empty() ? "" : (" " + a.llama_args).c_str());
  }
  std::mt19937 rng(12);
  for (size_t ti = 0; ti < a.threads.size(); ++ti) {
    const int threads = a.threads[ti];
    ops::BackendOptions bo;
    bo.num_threads = threads;
    auto backend = ops::CreateBackend(a.backend, bo);
    if (!backend.ok()) {
      std::fprintf(stderr, "backend: %s\n", backend.status().ToString().c_str());
      return 1;
    }
    const double t_load = Now();
    auto file = LoadGgufFile(a.model, **backend, a.pp + a.tg + 1);
    if (!file.ok()) {
      std::fprintf(stderr, "load: %s\n", file.status().ToString().c_str());
      return 1;
    }
    std::shared_ptr<const node::inference::Model> model = file->model;
    model_bytes = model->memory().total();
    std::printf("[%s] loaded in %.1f s; engine memory %.1f MiB (prepared weights %.1f); RSS %.1f MiB\n",
                (*backend)->Description().c_str(), Now() - t_load, model_bytes / 1048576.0,
                model->memory().prepared_weights / 1048576.0, ProcStatusBytes("VmRSS") / 1048576.0);
    const int vocab = static_cast<int>(model->config().vocab_size);
    std::uniform_int_distribution<int> tok(0, vocab - 1);

    if (ti == 0) {
      // Serving, first (before the speed runs' larger scratch, which the allocator may keep):
      // one session holding a pp-token prompt and tg generated tokens.
      SessionOptions so;  // the engine's default prefill_chunk, as a served session has
      so.context_length = a.pp + a.tg;
      auto session = Session::Create(model, so);
      if (!session.ok()) return std::fprintf(stderr, "%s\n", session.status().ToString().c_str()), 1;
      std::vector<int32_t> prompt(std::max(1, a.pp));
      for (auto& t : prompt) t = tok(rng);
      GenerateParams p;
      p.max_tokens = std::max(1, a.tg - (a.pp > 0 ? 0 : 1));
      p.stop_at_eog = false;
      auto g = (*session)->Generate(prompt, p);
      if (!g.ok()) return std::fprintf(stderr, "%s\n", g.status().ToString().c_str()), 1;
      serving_rss = ProcStatusBytes("VmRSS");
      serving_kv = (*session)->kv_cache_bytes();
      std::printf("  serving (context %d, %lld positions used, prefill_chunk %d): VmRSS %.1f MiB, "
                  "VmHWM %.1f MiB, KV cache %.1f MiB\n",
                  a.pp + a.tg, static_cast<long long>((*session)->position()), so.prefill_chunk,
                  serving_rss / 1048576.0, ProcStatusBytes("VmHWM") / 1048576.0,
                  serving_kv / 1048576.0);
    }
    if (a.pp > 0) {
      std::vector<double> ts;
      for (int r = 0; r <= a.reps; ++r) {
        SessionOptions so;
        so.context_length = a.pp;
        so.prefill_chunk = a.ubatch;
        auto session = Session::Create(model, so);
        if (!session.ok()) return std::fprintf(stderr, "%s\n", session.status().ToString().c_str()), 1;
        std::vector<int32_t> prompt(a.pp);
        for (auto& t : prompt) t = tok(rng);
        const double t0 = Now();
        auto logits = (*session)->Evaluate(prompt);
        const double dt = Now() - t0;
        if (!logits.ok()) return std::fprintf(stderr, "%s\n", logits.status().ToString().c_str()), 1;
        if (r > 0) ts.push_back(a.pp / dt);  // r == 0: warm-up
      }
      results.push_back({"pp" + std::to_string(a.pp), threads, Summarize(ts)});
      std::printf("  pp%d, %d threads: %.2f +/- %.2f tok/s, best %.2f (load %s)\n", a.pp, threads,
                  results.back().ours.mean, results.back().ours.sd, results.back().ours.best,
                  LoadAverage().c_str());
      RunPeer(a.pp, 0, threads);
    }
    if (a.tg > 0) {
      std::vector<double> ts;
      for (int r = 0; r <= a.reps; ++r) {
        SessionOptions so;
        so.context_length = a.tg + 1;
        auto session = Session::Create(model, so);
        if (!session.ok()) return std::fprintf(stderr, "%s\n", session.status().ToString().c_str()), 1;
        GenerateParams p;
        p.max_tokens = r == 0 ? 1 : a.tg;  // warm-up: one token, as llama-bench's
        p.stop_at_eog = false;
        const std::vector<int32_t> prompt = {tok(rng)};
        const double t0 = Now();
        auto g = (*session)->Generate(prompt, p);
        const double dt = Now() - t0;
        if (!g.ok()) return std::fprintf(stderr, "%s\n", g.status().ToString().c_str()), 1;
        if (static_cast<int>(g->tokens.size()) != p.max_tokens) return std::fprintf(stderr, "short generation\n"), 1;
        if (r > 0) ts.push_back(a.tg / dt);
      }
      results.push_back({"tg" + std::to_string(a.tg), threads, Summarize(ts)});
      std::printf("  tg%d, %d threads: %.2f +/- %.2f tok/s, best %.2f (load %s)\n", a.tg, threads,
                  results.back().ours.mean, results.back().ours.sd, results.back().ours.best,
                  LoadAverage().c_str());
      RunPeer(0, a.tg, threads);
    }
  }

  at_end = true;
  for (const auto& d : deferred) RunPeer(d[0], d[1], d[2]);
  std::printf("\n%-8s %7s %20s %20s %10s %12s\n", "test", "threads", "ours tok/s",
              "llama.cpp tok/s", "ours/llama", "best/best");
  for (const Result& r : results) {
    auto it = peer.find({r.test, r.threads});
    char ours[64], theirs[64] = "-", ratio[32] = "-", best[32] = "-";
    std::snprintf(ours, sizeof ours, "%.2f +/- %.2f", r.ours.mean, r.ours.sd);
    if (it != peer.end()) {
      std::snprintf(theirs, sizeof theirs, "%.2f +/- %.2f", it->second.avg_ts, it->second.stddev_ts);
      std::snprintf(ratio, sizeof ratio, "%.3fx", r.ours.mean / it->second.avg_ts);
      if (it->second.best_ts > 0) {
        std::snprintf(best, sizeof best, "%.3fx", r.ours.best / it->second.best_ts);
      }
    }
    std::printf("%-8s %7d %20s %20s %10s %12s\n", r.test.c_str(), r.threads, ours, theirs, ratio,
                best);
  }
  if (!peer_note.empty()) std::printf("%s\n", peer_note.c_str());
  struct rusage ru {};
  getrusage(RUSAGE_CHILDREN, &ru);
  const long peer_maxrss_kb = run_peer ? ru.ru_maxrss : -1;
  std::printf("\nmemory while serving: VmRSS %.1f MiB vs GGUF %.1f MiB + KV %.1f MiB = %.1f MiB: "
              "%.3fx (target <= 1.3x); engine-reported model memory %.1f MiB\n",
              serving_rss / 1048576.0, file_bytes / 1048576.0, serving_kv / 1048576.0,
              (file_bytes + serving_kv) / 1048576.0,
              static_cast<double>(serving_rss) / (file_bytes + serving_kv), model_bytes / 1048576.0);
  if (peer_maxrss_kb > 0) {
    std::printf("llama-bench peak RSS (its whole run, getrusage children): %.1f MiB\n",
                peer_maxrss_kb / 1024.0);
  }
  std::printf("load at end: %s\n", LoadAverage().c_str());
  return 0;
}

}  // namespace
}  // namespace datanode::bench

int main(int argc, char** argv) { return datanode::bench::Main(argc, argv); }
