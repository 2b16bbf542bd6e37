// Copyright 2026 The datanode Authors.
//
// Error of the spec-v2 LLM ops against a high-precision evaluation (x87 long double,
// 64-bit mantissa, host libm: test code only, never in an op). Inputs are LLM-like
// synthetic rows (normal values with heavy-tailed outliers) and, when
// DATANODE_LLM_TENSORS names a file written by llm_dump_tensors.py, real SmolLM2 layer-0
// activations. Each test prints its figures (the spec's §8.13 table) and asserts bounds
// with some margin over the measured ones.
//
// Units: "ulp" = |got - exact| / ulp_f32(exact) per element; for RoPE and attention,
// whose outputs can cancel, "row ulp" = |got - exact| / ulp_f32(max |exact| of the head).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "datanode/ops/exact_float.h"
#include "datanode/ops/llm.h"
#include "ops/reference/fixed_point.h"

namespace datanode::ops::llm {
namespace {

using Real = long double;

Real UlpOf(Real v) {
  v = std::fabs(v);
  int e = v == 0 ? -126 : std::ilogb(v);
  if (e < -126) e = -126;
  return std::ldexp(Real{1}, e - 23);
}

struct Stats {
  Real max = 0, sum = 0;
  int64_t n = 0;
  void Add(Real err) {
    if (err > max) max = err;
    sum += err;
    ++n;
  }
  Real Mean() const { return n ? sum / n : 0; }
  void Print(const char* what) const {
    std::printf("[accuracy] %-52s max %10.4Lg  mean %10.4Lg  (n = %lld)\n", what, max, Mean(),
                static_cast<long long>(n));
  }
};

std::map<std::string, std::vector<float>> LoadTensors() {
  std::map<std::string, std::vector<float>> out;
  const char* path = std::getenv("DATANODE_LLM_TENSORS");
  if (path == nullptr) return out;
  std::ifstream in(path, std::ios::binary);
  uint32_t len;
  while (in.read(reinterpret_cast<char*>(&len), 4)) {
    std::string name(len, '\0');
    in.read(name.data(), len);
    uint32_t count;
    in.read(reinterpret_cast<char*>(&count), 4);
    std::vector<float> v(count);
    in.read(reinterpret_cast<char*>(v.data()), count * 4);
    out[name] = std::move(v);
  }
  return out;
}

// LLM-like activations: N(0, sigma) with 1% outliers 20x larger.
std::vector<float> Activations(std::mt19937_64& gen, size_t n, float sigma) {
  std::normal_distribution<float> normal(0.0f, sigma);
  std::uniform_real_distribution<float> uni(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = normal(gen) * (uni(gen) < 0.01f ? 20.0f : 1.0f);
  return v;
}

// --- exp -------------------------------------------------------------------------------
TEST(LlmAccuracy, ExpNeg) {
  Stats rel;
  for (int i = 0; i <= 2000000; ++i) {
    const float x = static_cast<float>(i) * 1e-5f;  // [0, 20]
    const fixed::ExpResult r = fixed::ExpNeg(DecodeF32Bits(F32ToBits(x)));
    const Real got = std::ldexp(static_cast<Real>(r.e), r.k - 30);
    const Real want = std::exp(-static_cast<Real>(x));
    rel.Add(std::fabs(got - want) / want * std::ldexp(Real{1}, 30));
  }
  rel.Print("exp(-x), x in [0, 20]: rel. error in 2^-30");
  EXPECT_LT(rel.max, 8.0L);
}

// --- RMSNorm ---------------------------------------------------------------------------
void RmsNormRows(const std::vector<float>& x, const std::vector<float>& gain, size_t n,
                 Stats& ulp) {
  std::vector<float> out(n);
  for (size_t row = 0; row * n < x.size(); ++row) {
    std::span<const float> xr(&x[row * n], n);
    ASSERT_TRUE(RmsNorm(xr, gain, 1e-5f, out).ok());
    Real ss = 0;
    for (float v : xr) ss += static_cast<Real>(v) * v;
    const Real r = 1 / std::sqrt(ss / n + static_cast<Real>(1e-5f));
    for (size_t i = 0; i < n; ++i) {
      const Real want = static_cast<Real>(xr[i]) * gain[i] * r;
      ulp.Add(std::fabs(out[i] - want) / UlpOf(want));
    }
  }
}

TEST(LlmAccuracy, RmsNorm) {
  std::mt19937_64 gen(1);
  Stats synth;
  const std::vector<float> gain = Activations(gen, 576, 0.3f);
  RmsNormRows(Activations(gen, 576 * 200, 1.0f), gain, 576, synth);
  synth.Print("RmsNorm synthetic d=576: ulp");
  EXPECT_LT(synth.max, 2.0L);
  const auto t = LoadTensors();
  if (t.count("x")) {
    Stats real;
    RmsNormRows(t.at("x"), t.at("attn_norm"), 576, real);
    real.Print("RmsNorm SmolLM2 embeddings x attn_norm: ulp");
    EXPECT_LT(real.max, 2.0L);
  }
}

// --- SiluMul ---------------------------------------------------------------------------
void SiluRows(const std::vector<float>& gate, const std::vector<float>& up, Stats& ulp) {
  std::vector<float> out(gate.size());
  ASSERT_TRUE(SiluMul(gate, up, out).ok());
  for (size_t i = 0; i < gate.size(); ++i) {
    const Real g = gate[i];
    const Real want = g / (1 + std::exp(-g)) * up[i];
    if (want == 0) continue;
    ulp.Add(std::fabs(out[i] - want) / UlpOf(want));
  }
}

TEST(LlmAccuracy, SiluMul) {
  std::mt19937_64 gen(2);
  Stats synth;
  SiluRows(Activations(gen, 1 << 20, 2.0f), Activations(gen, 1 << 20, 1.0f), synth);
  synth.Print("SiluMul synthetic: ulp");
  EXPECT_LT(synth.max, 1.0L);
  Stats wide;
  std::uniform_real_distribution<float> uni(-90.0f, 90.0f);
  std::vector<float> g(1 << 18), u(1 << 18, 1.0f);
  for (float& v : g) v = uni(gen);
  SiluRows(g, u, wide);
  wide.Print("SiluMul gate in [-90, 90]: ulp");
  EXPECT_LT(wide.max, 1.0L);
  const auto t = LoadTensors();
  if (t.count("gate")) {
    Stats real;
    SiluRows(t.at("gate"), t.at("up"), real);
    real.Print("SiluMul SmolLM2 layer 0: ulp");
    EXPECT_LT(real.max, 1.0L);
  }
}

// --- RoPE ------------------------------------------------------------------------------
TEST(LlmAccuracy, RopeTable) {
  // cos/sin of the table (Q1.30, then rounded to f32 by Apply) against long double, in
  // units of 2^-24 (the f32 ulp in [0.5, 1)): the Q1.30 rounding adds 2^-7 of that.
  constexpr int kDim = 64;
  constexpr int64_t kPositions = 8192;
  auto table = RopeTable::Create(100000.0f, kDim, kPositions);
  ASSERT_TRUE(table.ok());
  Stats q30, out_ulp;
  std::vector<float> x(kDim);
  for (int64_t pos = 0; pos < kPositions; pos += 7) {
    for (int i = 0; i < kDim / 2; ++i) {
      std::fill(x.begin(), x.end(), 0.0f);
      x[2 * i] = 1.0f;  // (1, 0) -> (C, S) * 2^-30, rounded to f32
      ASSERT_TRUE(table->Apply(pos, 1, kDim, x).ok());
      const Real theta = std::pow(Real{100000}, -Real{2 * i} / kDim);
      const Real angle = pos * theta;
      q30.Add(std::fabs(static_cast<Real>(x[2 * i]) - std::cos(angle)) * std::ldexp(Real{1}, 24));
      q30.Add(std::fabs(static_cast<Real>(x[2 * i + 1]) - std::sin(angle)) *
              std::ldexp(Real{1}, 24));
    }
  }
  q30.Print("RoPE cos/sin, base 1e5, pos < 8192: 2^-24");
  EXPECT_LT(q30.max, 0.52L);
}

void RopeRows(const std::vector<float>& q, int n_heads, int head_dim, Stats& row_ulp) {
  auto table = RopeTable::Create(100000.0f, head_dim, 4096);
  ASSERT_TRUE(table.ok());
  const size_t row = static_cast<size_t>(n_heads) * head_dim;
  for (size_t r = 0; r * row < q.size(); ++r) {
    for (int64_t pos : {int64_t(r), int64_t(r * 61 + 7) % 4096}) {
      std::vector<float> x(q.begin() + r * row, q.begin() + (r + 1) * row);
      ASSERT_TRUE(table->Apply(pos, n_heads, head_dim, x).ok());
      for (int h = 0; h < n_heads; ++h) {
        std::vector<Real> want(head_dim);
        Real amax = 0;
        for (int i = 0; i < head_dim / 2; ++i) {
          const Real a = q[r * row + h * head_dim + 2 * i];
          const Real b = q[r * row + h * head_dim + 2 * i + 1];
          const Real angle = pos * std::pow(Real{100000}, -Real{2 * i} / head_dim);
          want[2 * i] = a * std::cos(angle) - b * std::sin(angle);
          want[2 * i + 1] = a * std::sin(angle) + b * std::cos(angle);
          amax = std::max({amax, std::fabs(want[2 * i]), std::fabs(want[2 * i + 1])});
        }
        for (int j = 0; j < head_dim; ++j) {
          row_ulp.Add(std::fabs(x[h * head_dim + j] - want[j]) / UlpOf(amax));
        }
      }
    }
  }
}

TEST(LlmAccuracy, RopeApply) {
  std::mt19937_64 gen(4);
  Stats synth;
  RopeRows(Activations(gen, 576 * 64, 2.0f), 9, 64, synth);
  synth.Print("RoPE synthetic 9x64: row ulp");
  EXPECT_LT(synth.max, 1.0L);
  const auto t = LoadTensors();
  if (t.count("q")) {
    Stats real;
    RopeRows(t.at("q"), 9, 64, real);
    real.Print("RoPE SmolLM2 layer-0 q: row ulp");
    EXPECT_LT(real.max, 1.0L);
  }
}

// --- Attention -------------------------------------------------------------------------
// exact_cache: the reference evaluation uses the f16-rounded q, K and V (the op's own
// error); otherwise the unrounded f32 ones (adds the KV format, as llama.cpp's f16 cache).
void AttentionRows(const std::vector<float>& q, const std::vector<float>& k,
                   const std::vector<float>& v, const AttentionShape& shape, bool f16_inputs,
                   Stats& row_ulp) {
  const int hd = shape.head_dim;
  const size_t q_row = size_t(shape.n_heads) * hd, kv_row = size_t(shape.n_kv_heads) * hd;
  const int64_t positions = static_cast<int64_t>(k.size() / kv_row);
  const int64_t row_bytes = KvRowBytes(shape);
  std::vector<uint8_t> kc(positions * row_bytes), vc(positions * row_bytes);
  for (int64_t p = 0; p < positions; ++p) {
    ASSERT_TRUE(EncodeKvRow(shape, std::span(&k[p * kv_row], kv_row),
                            std::span(&kc[p * row_bytes], row_bytes))
                    .ok());
    ASSERT_TRUE(EncodeKvRow(shape, std::span(&v[p * kv_row], kv_row),
                            std::span(&vc[p * row_bytes], row_bytes))
                    .ok());
  }
  auto f16 = [](float x) {
    const ExactValue e = DecodeF32Bits(F32ToBits(x));
    const ExactValue h = DecodeF16Bits(fixed::RoundToF16BitsSaturating(e.mantissa, e.exponent));
    return std::ldexp(static_cast<Real>(h.mantissa), h.exponent);
  };
  auto val = [&](float x) { return f16_inputs ? f16(x) : static_cast<Real>(x); };
  std::vector<float> out(q_row);
  for (int64_t t = 0; t < positions; ++t) {
    const int64_t n = t + 1;
    ASSERT_TRUE(Attend(shape, std::span(&q[t * q_row], q_row), kc, vc, n, out).ok());
    for (int h = 0; h < shape.n_heads; ++h) {
      const int g = h / (shape.n_heads / shape.n_kv_heads);
      std::vector<Real> s(n);
      Real smax = -1e30L;
      for (int64_t p = 0; p < n; ++p) {
        Real dot = 0;
        for (int j = 0; j < hd; ++j)
          dot += val(q[t * q_row + h * hd + j]) * val(k[p * kv_row + g * hd + j]);
        s[p] = dot / std::sqrt(Real(hd));
        smax = std::max(smax, s[p]);
      }
      Real wsum = 0;
      for (auto& x : s) wsum += (x = std::exp(x - smax));
      std::vector<Real> want(hd, 0);
      Real amax = 0;
      for (int j = 0; j < hd; ++j) {
        for (int64_t p = 0; p < n; ++p) want[j] += s[p] * val(v[p * kv_row + g * hd + j]);
        want[j] /= wsum;
        amax = std::max(amax, std::fabs(want[j]));
      }
      for (int j = 0; j < hd; ++j) row_ulp.Add(std::fabs(out[h * hd + j] - want[j]) / UlpOf(amax));
    }
  }
}

TEST(LlmAccuracy, Attention) {
  const AttentionShape shape{9, 3, 64};
  std::mt19937_64 gen(6);
  const auto q = Activations(gen, 576 * 64, 2.0f);
  const auto k = Activations(gen, 192 * 64, 2.0f);
  const auto v = Activations(gen, 192 * 64, 0.5f);
  Stats own, total;
  AttentionRows(q, k, v, shape, true, own);
  AttentionRows(q, k, v, shape, false, total);
  own.Print("Attention synthetic, vs f16 q/K/V: row ulp");
  total.Print("Attention synthetic, vs f32 q/K/V: row ulp");
  // Scores stay exact (the weights' exponent comes from exact dot differences), so the
  // op is within a hair of the single rounding of the exact result.
  EXPECT_LT(own.max, 1.0L);
  // The f16 format of the cache: 2^-11 relative, ~2^13 row ulps, as llama.cpp's f16 cache.
  EXPECT_LT(total.max, Real(1 << 18));
  const auto t = LoadTensors();
  if (t.count("q")) {
    Stats real_own, real_total;
    AttentionRows(t.at("q"), t.at("k"), t.at("v"), shape, true, real_own);
    AttentionRows(t.at("q"), t.at("k"), t.at("v"), shape, false, real_total);
    real_own.Print("Attention SmolLM2 layer 0, vs f16 q/K/V: row ulp");
    real_total.Print("Attention SmolLM2 layer 0, vs f32 q/K/V: row ulp");
    EXPECT_LT(real_own.max, 1.0L);
    EXPECT_LT(real_total.max, Real(1 << 15));
  }
}

// --- Sampling: the fixed-point probabilities --------------------------------------------
TEST(LlmAccuracy, SoftmaxWeights) {
  // Probability of each candidate implied by the weights (w_i / W) against the exact
  // softmax(l / T): absolute error in units of 2^-30, relative error where p >= 1e-3
  // (weights are floored to 2^-30 of the largest, so small probabilities carry a larger
  // relative but a tiny absolute error).
  std::mt19937_64 gen(8);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  Stats rel, abs;
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<float> logits(49152);
    for (float& l : logits) l = normal(gen);
    const float temp = trial % 2 ? 0.7f : 1.0f;
    Real lmax = -1e30L;
    for (float l : logits) lmax = std::max(lmax, Real(l));
    Real zsum = 0;
    std::vector<Real> p(logits.size());
    for (size_t i = 0; i < logits.size(); ++i) zsum += (p[i] = std::exp((logits[i] - lmax) / temp));
    // Spec weights: d = round_f32(round_f32(lmax - l) / T).
    std::vector<int64_t> w(logits.size());
    int64_t total = 0;
    const ExactValue tv = DecodeF32Bits(F32ToBits(temp));
    const ExactValue mv = DecodeF32Bits(F32ToBits(static_cast<float>(lmax)));
    for (size_t i = 0; i < logits.size(); ++i) {
      const ExactValue l = DecodeF32Bits(F32ToBits(logits[i]));
      const ExactValue d = DecodeF32Bits(
          fixed::RoundSum2ToF32Bits(mv.mantissa, mv.exponent, -l.mantissa, l.exponent));
      const ExactValue s =
          DecodeF32Bits(RoundQuotientToF32Bits(d.mantissa, d.exponent - tv.exponent, tv.mantissa));
      total += (w[i] = fixed::WeightQ40(fixed::ExpNeg(s)));
    }
    for (size_t i = 0; i < logits.size(); ++i) {
      const Real exact = p[i] / zsum;
      const Real got = Real(w[i]) / total;
      abs.Add(std::fabs(got - exact) * std::ldexp(Real{1}, 30));
      if (exact >= 1e-3L) rel.Add(std::fabs(got - exact) / exact);
    }
  }
  abs.Print("sampling probabilities: abs. error in 2^-30");
  rel.Print("sampling probabilities >= 1e-3: rel. error");
  EXPECT_LT(abs.max, 8.0L);  // d is an f32 (2^-24 relative): a few 2^-30
  EXPECT_LT(rel.max, 1e-5L);
}

}  // namespace
}  // namespace datanode::ops::llm
