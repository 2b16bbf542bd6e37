// Copyright 2026 The datanode Authors.
//
// dn-perplexity: perplexity of the engine on a text file, computed the way llama.cpp's
// llama-perplexity computes it (tools/perplexity/perplexity.cpp, perplexity()):
// - the whole file is tokenized once with add_special = true (BOS first when the GGUF
//   asks for it);
// - n_chunk = tokens / n_ctx chunks of n_ctx tokens, each evaluated from an empty KV
//   cache, with its first token replaced by BOS when add_bos;
// - only positions [n_ctx/2, n_ctx-2] are scored: the logits at position i predict token
//   i+1; nll = max + log(sum expf(l - max)) - l[tok], summed in double;
// - PPL = exp(sum nll / count).
// Measurement-side float/double math is fine here: this is not a spec op.
//
// With --llama-base FILE (written by `llama-perplexity --kl-divergence-base FILE`, same
// text and -c) it also compares position by position with llama.cpp's log-probs exactly
// as `llama-perplexity --kl-divergence` does (its log_softmax with base_log_prob): the
// share of positions whose argmax is the same ("same top"), the mean KL divergence
// KL(llama || ours), and llama.cpp's PPL recomputed from the (uint16-quantized) base.
// File format (perplexity.cpp): "_logits_", int32 n_ctx, int32 n_vocab, int32 n_chunk,
// int32 tokens[n_chunk*n_ctx], then per chunk and scored position nv = 2*((n_vocab+1)/2)+4
// uint16s: float scale, float min_log_prob, uint16 q[n_vocab] (log p = scale*q + min).
// With --write-base FILE it writes our log-probs in the same format, so that
// `llama-perplexity --kl-divergence-base FILE --kl-divergence` scores llama.cpp against us
// with llama.cpp's own code (a cross-check of this tool).
//
// Usage: dn-perplexity --model GGUF --text FILE [--ctx 512] [--threads 2] [--backend cpu]
//                      [--batch 64] [--chunks N] [--llama-base FILE] [--write-base FILE]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "bench/inference/gguf_file.h"
#include "datanode/ops/backend.h"
#include "node/inference/model.h"
#include "node/inference/tokenizer.h"

namespace datanode::bench {
namespace {

using node::inference::ForwardRow;
using node::inference::KvCache;

struct Args {
  std::string model, text, backend = "cpu", llama_base, write_base;
  int ctx = 512, threads = 2, batch = 64, chunks = -1;
};

[[noreturn]] void Usage(const char* msg) {
  std::fprintf(stderr,
               "%s\nusage: dn-perplexity --model GGUF --text FILE [--ctx 512] [--threads 2] "
               "[--backend cpu] [--batch 64] [--chunks N] [--llama-base FILE] "
               "[--write-base FILE]\n",
               msg);
  std::exit(2);
}

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) Usage(("missing value for " + k).c_str());
    const std::string v = argv[++i];
    if (k == "--model") a.model = v;
    else if (k == "--text") a.text = v;
    else if (k == "--backend") a.backend = v;
    else if (k == "--llama-base") a.llama_base = v;
    else if (k == "--write-base") a.write_base = v;
    else if (k == "--ctx") a.ctx = std::atoi(v.c_str());
    else if (k == "--threads") a.threads = std::atoi(v.c_str());
    else if (k == "--batch") a.batch = std::atoi(v.c_str());
    else if (k == "--chunks") a.chunks = std::atoi(v.c_str());
    else Usage(("unknown flag " + k).c_str());
  }
  if (a.model.empty() || a.text.empty()) Usage("--model and --text are required");
  if (a.ctx < 4 || a.batch < 1) Usage("bad --ctx or --batch");
  return a;
}

// perplexity.cpp's nearest_int.
int NearestInt(float fval) {
  float val = fval + 12582912.f;
  int i;
  std::memcpy(&i, &val, sizeof(int));
  return (i & 0x007fffff) - 0x00400000;
}

// llama.cpp's base file, read whole (its size is n_chunk * (n_ctx/2 - 1) * nv * 2 bytes).
struct LlamaBase {
  int32_t n_ctx = 0, n_vocab = 0, n_chunk = 0;
  std::vector<int32_t> tokens;
  std::vector<uint16_t> log_probs;  // per chunk, per scored position, nv entries
};

bool ReadBase(const std::string& path, LlamaBase* b) {
  std::ifstream in(path, std::ios::binary);
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "_logits_", 8) != 0) return false;
  in.read(reinterpret_cast<char*>(&b->n_ctx), 4);
  in.read(reinterpret_cast<char*>(&b->n_vocab), 4);
  in.read(reinterpret_cast<char*>(&b->n_chunk), 4);
  if (!in || b->n_ctx <= 0 || b->n_vocab <= 0 || b->n_chunk <= 0) return false;
  b->tokens.resize(static_cast<size_t>(b->n_ctx) * b->n_chunk);
  in.read(reinterpret_cast<char*>(b->tokens.data()), b->tokens.size() * 4);
  const size_t nv = 2 * ((b->n_vocab + 1) / 2) + 4;
  const size_t per_chunk = static_cast<size_t>(b->n_ctx - 1 - b->n_ctx / 2) * nv;
  b->log_probs.resize(per_chunk * b->n_chunk);
  in.read(reinterpret_cast<char*>(b->log_probs.data()), b->log_probs.size() * 2);
  return static_cast<bool>(in);
}

struct Totals {
  double nll = 0, nll2 = 0;
  int64_t count = 0;
  // Against llama.cpp's base (as its kl_divergence() does).
  double sum_nll_base = 0, sum_kld = 0, sum_kld2 = 0, sum_p_diff2 = 0;
  float max_p_diff = 0;
  int64_t same_top = 0, compared = 0;
};

int Main(int argc, char** argv) {
  const Args a = Parse(argc, argv);
  std::ifstream tin(a.text, std::ios::binary);
  if (!tin) Usage(("cannot read " + a.text).c_str());
  const std::string text((std::istreambuf_iterator<char>(tin)), std::istreambuf_iterator<char>());

  ops::BackendOptions bo;
  bo.num_threads = a.threads;
  auto backend = ops::CreateBackend(a.backend, bo);
  if (!backend.ok()) {
    std::fprintf(stderr, "backend %s: %s\n", a.backend.c_str(), backend.status().ToString().c_str());
    return 1;
  }
  const double t_load = Now();
  auto file = LoadGgufFile(a.model, **backend, a.ctx);
  if (!file.ok()) {
    std::fprintf(stderr, "load %s: %s\n", a.model.c_str(), file.status().ToString().c_str());
    return 1;
  }
  const node::inference::Model& model = *file->model;
  auto tok = node::Tokenizer::FromGguf(file->metadata);
  if (!tok.ok()) {
    std::fprintf(stderr, "tokenizer: %s\n", tok.status().ToString().c_str());
    return 1;
  }
  std::printf("backend: %s; model loaded in %.2f s\n", (*backend)->Description().c_str(),
              Now() - t_load);

  const std::vector<int32_t> tokens = tok->Encode(text, /*add_special=*/true);
  const int n_ctx = a.ctx;
  const int n_vocab = static_cast<int>(model.config().vocab_size);
  int n_chunk = static_cast<int>(tokens.size() / n_ctx);
  if (a.chunks >= 0) n_chunk = std::min(n_chunk, a.chunks);
  const bool add_bos = tok->add_bos();
  std::printf("text: %s, %zu bytes, %zu tokens (add_bos %d, bos %d); %d chunks of %d, "
              "%d tokens evaluated\n",
              a.text.c_str(), text.size(), tokens.size(), add_bos, tok->bos_id(), n_chunk, n_ctx,
              n_chunk * n_ctx);
  if (tokens.size() < 2 * static_cast<size_t>(n_ctx)) {
    std::fprintf(stderr, "need at least %d tokens\n", 2 * n_ctx);
    return 1;
  }

  LlamaBase base;
  const bool have_base = !a.llama_base.empty();
  if (have_base) {
    if (!ReadBase(a.llama_base, &base)) {
      std::fprintf(stderr, "cannot read llama.cpp base %s\n", a.llama_base.c_str());
      return 1;
    }
    if (base.n_ctx != n_ctx || base.n_vocab != n_vocab || base.n_chunk < n_chunk) {
      std::fprintf(stderr, "base %s: n_ctx %d n_vocab %d n_chunk %d do not match\n",
                   a.llama_base.c_str(), base.n_ctx, base.n_vocab, base.n_chunk);
      return 1;
    }
    int64_t diff = 0;
    for (size_t i = 0; i < static_cast<size_t>(n_chunk) * n_ctx; ++i) diff += base.tokens[i] != tokens[i];
    std::printf("tokens vs llama.cpp's (from the base file): %lld of %d differ\n",
                static_cast<long long>(diff), n_chunk * n_ctx);
  }
  const int first = n_ctx / 2;
  const int n_score = n_ctx - 1 - first;
  const size_t nv = 2 * ((n_vocab + 1) / 2) + 4;

  std::ofstream out;
  std::vector<uint16_t> out_probs;
  if (!a.write_base.empty()) {
    out.open(a.write_base, std::ios::binary);
    out.write("_logits_", 8);
    out.write(reinterpret_cast<const char*>(&n_ctx), 4);
    out.write(reinterpret_cast<const char*>(&n_vocab), 4);
    out.write(reinterpret_cast<const char*>(&n_chunk), 4);
    out.write(reinterpret_cast<const char*>(tokens.data()), static_cast<size_t>(n_chunk) * n_ctx * 4);
    out_probs.resize(static_cast<size_t>(n_score) * nv);
  }

  auto cache = KvCache::Create(model, n_ctx);
  if (!cache.ok()) {
    std::fprintf(stderr, "kv cache: %s\n", cache.status().ToString().c_str());
    return 1;
  }
  Totals t;
  std::vector<float> logits(static_cast<size_t>(n_score) * n_vocab);
  std::vector<float> pass_logits;
  std::vector<ForwardRow> rows;
  const double t0 = Now();
  for (int c = 0; c < n_chunk; ++c) {
    const int start = c * n_ctx;
    // Evaluate the chunk in passes of a.batch rows; keep logits of positions
    // [first, n_ctx - 2] (the rows that predict a token of this chunk).
    for (int p0 = 0; p0 < n_ctx; p0 += a.batch) {
      const int p1 = std::min(n_ctx, p0 + a.batch);
      rows.clear();
      int with_logits = 0;
      for (int p = p0; p < p1; ++p) {
        ForwardRow r;
        r.token = (p == 0 && add_bos) ? tok->bos_id() : tokens[start + p];
        r.pos = p;
        r.cache = &*cache;
        r.want_logits = p >= first && p < n_ctx - 1;
        with_logits += r.want_logits;
        rows.push_back(r);
      }
      pass_logits.resize(static_cast<size_t>(with_logits) * n_vocab);
      absl::Status s = model.Forward(rows, pass_logits);
      if (!s.ok()) {
        std::fprintf(stderr, "chunk %d pass at %d: %s\n", c, p0, s.ToString().c_str());
        return 1;
      }
      int j = 0;
      for (int p = p0; p < p1; ++p) {
        if (!rows[p - p0].want_logits) continue;
        std::copy_n(pass_logits.begin() + static_cast<size_t>(j) * n_vocab, n_vocab,
                    logits.begin() + static_cast<size_t>(p - first) * n_vocab);
        ++j;
      }
    }
    for (int i = 0; i < n_score; ++i) {
      const float* l = logits.data() + static_cast<size_t>(i) * n_vocab;
      const int tok_next = tokens[start + first + i + 1];
      float max_logit = l[0], min_logit = l[0];
      int imax = 0;
      for (int v = 1; v < n_vocab; ++v) {
        if (l[v] > max_logit) {
          max_logit = l[v];
          imax = v;
        }
        min_logit = std::min(min_logit, l[v]);
      }
      double sum_exp = 0.0;
      for (int v = 0; v < n_vocab; ++v) sum_exp += expf(l[v] - max_logit);
      const float log_sum_exp = std::log(sum_exp);
      // perplexity(): the nll in double, as its log_softmax(n_vocab, logits, tok).
      const double nll = max_logit + std::log(sum_exp) - l[tok_next];
      t.nll += nll;
      t.nll2 += nll * nll;
      ++t.count;
      if (!a.write_base.empty()) {
        uint16_t* lp = out_probs.data() + static_cast<size_t>(i) * nv;
        const float minl = std::max(min_logit, max_logit - 16);
        const float min_log_prob = minl - max_logit - log_sum_exp;
        const float scale = (max_logit - minl) / 65535.f;
        float* d = reinterpret_cast<float*>(lp);
        d[0] = scale;
        d[1] = min_log_prob;
        lp += 4;
        if (scale) {
          const float inv_scale = 1 / scale;
          for (int v = 0; v < n_vocab; ++v) {
            lp[v] = l[v] > minl ? NearestInt(inv_scale * (l[v] - minl)) : 0;
          }
        } else {
          std::memset(lp, 0, n_vocab * sizeof(uint16_t));
        }
      }
      if (have_base) {
        // kl_divergence()'s log_softmax(n_vocab, logits, base_log_prob, tok, kld).
        const uint16_t* bp = base.log_probs.data() + (static_cast<size_t>(c) * n_score + i) * nv;
        const float* d = reinterpret_cast<const float*>(bp);
        const float scale = d[0], min_log_prob = d[1];
        bp += 4;
        const float nll_f = max_logit + log_sum_exp - l[tok_next];
        const float nll_base = -(scale * bp[tok_next] + min_log_prob);
        t.sum_nll_base += nll_base;
        const float lse_max = max_logit + log_sum_exp;
        double kld = 0;
        int imax_base = -1;
        float p_log_base_max = 0;
        for (int v = 0; v < n_vocab; ++v) {
          const float p_log_base = scale * bp[v] + min_log_prob;
          if (v == 0 || p_log_base > p_log_base_max) {
            p_log_base_max = p_log_base;
            imax_base = v;
          }
          if (p_log_base > -16.f) kld += expf(p_log_base) * (p_log_base - l[v] + lse_max);
        }
        t.sum_kld += kld;
        t.sum_kld2 += kld * kld;
        ++t.compared;
        t.same_top += imax == imax_base;
        const float p_diff = expf(-nll_f) - expf(-nll_base);
        t.sum_p_diff2 += static_cast<double>(p_diff) * p_diff;
        t.max_p_diff = std::max(t.max_p_diff, std::fabs(p_diff));
      }
    }
    if (!a.write_base.empty()) {
      out.write(reinterpret_cast<const char*>(out_probs.data()), out_probs.size() * 2);
    }
    std::fprintf(stderr, "[%d]%.4f%s", c + 1, std::exp(t.nll / t.count),
                 have_base ? "" : ",");
    if (have_base) {
      std::fprintf(stderr, " (llama %.4f, same top %.2f%%), ", std::exp(t.sum_nll_base / t.count),
                   100.0 * t.same_top / t.compared);
    }
    if (c == 0) std::fprintf(stderr, "%.1f s per chunk, ", Now() - t0);
  }
  std::fprintf(stderr, "\n");
  const double secs = Now() - t0;
  const double av = t.nll / t.count;
  double av2 = t.nll2 / t.count - av * av;
  if (av2 > 0) av2 = std::sqrt(av2 / (t.count - 1));
  const double ppl = std::exp(av);
  std::printf("evaluated %d tokens in %.1f s (%.1f tok/s, %d threads, load %s)\n",
              n_chunk * n_ctx, secs, n_chunk * n_ctx / secs, a.threads, LoadAverage().c_str());
  std::printf("ours: PPL = %.4f +/- %.5f over %lld scored positions\n", ppl, ppl * av2,
              static_cast<long long>(t.count));
  if (have_base) {
    const double ppl_base = std::exp(t.sum_nll_base / t.count);
    const double kld = t.sum_kld / t.compared;
    std::printf("llama.cpp (from its uint16 base): PPL = %.4f\n", ppl_base);
    std::printf("ratio ours / llama.cpp's base-file PPL: %.4f (the acceptance ratio divides by the "
                "PPL llama-perplexity prints, which the uint16 base only approximates)\n",
                ppl / ppl_base);
    std::printf("same top-1 token: %lld of %lld = %.2f%%\n", static_cast<long long>(t.same_top),
                static_cast<long long>(t.compared), 100.0 * t.same_top / t.compared);
    std::printf("mean KLD(llama.cpp || ours) = %.6f; RMS dp = %.3f%%; max |dp| = %.3f%%\n", kld,
                100 * std::sqrt(t.sum_p_diff2 / t.compared), 100 * t.max_p_diff);
  }
  return 0;
}

}  // namespace
}  // namespace datanode::bench

int main(int argc, char** argv) { return datanode::bench::Main(argc, argv); }
