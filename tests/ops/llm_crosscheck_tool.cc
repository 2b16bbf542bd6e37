// Copyright 2026 The datanode Authors.
//
// Runs the reference LLM ops on cases read from stdin, for llm_crosscheck.py (an
// independent Python implementation of docs/determinism.md §8). One case per line,
// every float as the hex of its f32 bits; prints one line of hex result bits per case
// (or "error <code>").
//   add N x[N] y[N]
//   rmsnorm N eps x[N] g[N]
//   silu N g[N] u[N]
//   rope BASE ROPE_DIM POS N_HEADS HEAD_DIM x[N_HEADS*HEAD_DIM]
//   attend N_HEADS N_KV HEAD_DIM N q[N_HEADS*HEAD_DIM] k[N*N_KV*HEAD_DIM] v[...]
//   sample TEMP TOP_K TOP_P SEED_HEX DRAWS V logits[V]   (prints DRAWS token ids)
//   dequant FORMAT D ROW_HEX                             (FORMAT = RowFormat value)
//   matmul OP_NAME M N K A_HEX W_HEX                     (a matmul op of types.h on the
//                                                        reference backend: C's bytes)
// (also used by python/crosscheck_kquant.py for the K-quant weights of §3.4)
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "datanode/ops/backend.h"
#include "datanode/ops/exact_float.h"
#include "datanode/ops/llm.h"
#include "datanode/util/hex.h"

namespace llm = datanode::ops::llm;
using datanode::ops::BitsToF32;
using datanode::ops::F32ToBits;

namespace {

float ReadF(std::istream& in) {
  uint32_t bits;
  in >> std::hex >> bits >> std::dec;
  return BitsToF32(bits);
}
std::vector<float> ReadFs(std::istream& in, int64_t n) {
  std::vector<float> v(n);
  for (float& f : v) f = ReadF(in);
  return v;
}
void Print(const absl::Status& s, const std::vector<float>& out) {
  if (!s.ok()) {
    std::printf("error %d\n", static_cast<int>(s.code()));
    return;
  }
  for (size_t i = 0; i < out.size(); ++i) std::printf(i ? " %08x" : "%08x", F32ToBits(out[i]));
  std::printf("\n");
}

// The cross-check script writes well-formed hex; anything else stops the tool.
std::vector<uint8_t> FromHex(const std::string& hex) {
  absl::StatusOr<std::vector<uint8_t>> bytes = datanode::util::HexDecodeBytes(hex);
  if (!bytes.ok()) {
    std::fprintf(stderr, "bad hex '%s'\n", hex.c_str());
    std::exit(2);
  }
  return *std::move(bytes);
}

}  // namespace

int main() {
  std::unique_ptr<datanode::ops::Backend> reference = *datanode::ops::CreateBackend("reference");
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string op;
    in >> op;
    if (op == "add" || op == "silu") {
      int64_t n;
      in >> n;
      const auto a = ReadFs(in, n), b = ReadFs(in, n);
      std::vector<float> out(n);
      Print(op == "add" ? llm::Add(a, b, out) : llm::SiluMul(a, b, out), out);
    } else if (op == "rmsnorm") {
      int64_t n;
      in >> n;
      const float eps = ReadF(in);
      const auto x = ReadFs(in, n), g = ReadFs(in, n);
      std::vector<float> out(n);
      Print(llm::RmsNorm(x, g, eps, out), out);
    } else if (op == "rope") {
      const float base = ReadF(in);
      int dim, heads, head_dim;
      int64_t pos;
      in >> dim >> pos >> heads >> head_dim;
      auto x = ReadFs(in, int64_t{heads} * head_dim);
      auto table = llm::RopeTable::Create(base, dim, pos + 1);
      Print(table.ok() ? table->Apply(pos, heads, head_dim, x) : table.status(), x);
    } else if (op == "attend") {
      llm::AttentionShape shape;
      int64_t n;
      in >> shape.n_heads >> shape.n_kv_heads >> shape.head_dim >> n;
      const int64_t kv = int64_t{shape.n_kv_heads} * shape.head_dim;
      const auto q = ReadFs(in, int64_t{shape.n_heads} * shape.head_dim);
      const auto k = ReadFs(in, n * kv), v = ReadFs(in, n * kv);
      const int64_t row = llm::KvRowBytes(shape);
      std::vector<uint8_t> kc(n * row), vc(n * row);
      absl::Status s;
      for (int64_t p = 0; p < n && s.ok(); ++p) {
        s = llm::EncodeKvRow(shape, std::span(&k[p * kv], kv), std::span(&kc[p * row], row));
        if (s.ok()) {
          s = llm::EncodeKvRow(shape, std::span(&v[p * kv], kv), std::span(&vc[p * row], row));
        }
      }
      std::vector<float> out(q.size());
      if (s.ok()) s = llm::Attend(shape, q, kc, vc, n, out);
      Print(s, out);
    } else if (op == "sample") {
      llm::SamplingParams params;
      params.temperature = ReadF(in);
      in >> params.top_k;
      params.top_p = ReadF(in);
      std::string seed_hex;
      int draws;
      int64_t vocab;
      in >> seed_hex >> draws >> vocab;
      // "-" is the script's spelling of an empty seed.
      const std::vector<uint8_t> seed = FromHex(seed_hex == "-" ? "" : seed_hex);
      const auto logits = ReadFs(in, vocab);
      llm::SpecRng rng(seed);
      std::string out;
      for (int d = 0; d < draws; ++d) {
        auto token = llm::SampleToken(logits, params, rng);
        if (!token.ok()) {
          out = "error " + std::to_string(static_cast<int>(token.status().code()));
          break;
        }
        out += (d ? " " : "") + std::to_string(*token);
      }
      std::printf("%s\n", out.c_str());
    } else if (op == "dequant") {
      int format;
      int64_t d;
      std::string hex;
      in >> format >> d >> hex;
      const std::vector<uint8_t> row = FromHex(hex);
      std::vector<float> out(d);
      Print(llm::DequantizeRow(static_cast<llm::RowFormat>(format), row, out), out);
    } else if (op == "matmul") {
      std::string name, a_hex, w_hex;
      datanode::ops::OpArgs args;
      in >> name >> args.m >> args.n >> args.k >> a_hex >> w_hex;
      const auto kind = datanode::ops::OpKindFromName(name);
      if (!kind.ok()) {
        std::printf("error unknown-op\n");
        continue;
      }
      args.kind = *kind;
      const std::vector<uint8_t> a = FromHex(a_hex), w = FromHex(w_hex);
      std::vector<uint8_t> out(static_cast<size_t>(args.m * args.n * 4));
      args.a = a;
      args.w = w;
      args.out = out;
      const absl::Status s = datanode::ops::RunOp(*reference, args);
      if (!s.ok()) {
        std::printf("error %d\n", static_cast<int>(s.code()));
        continue;
      }
      for (size_t i = 0; i < out.size(); ++i) std::printf("%02x", out[i]);
      std::printf("\n");
    } else {
      std::printf("error unknown-op\n");
    }
  }
  return 0;
}
