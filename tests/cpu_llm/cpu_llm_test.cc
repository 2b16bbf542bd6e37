// Copyright 2026 The datanode Authors.
//
// The CPU backend's LLM kernels (Backend::LlmKernels) against the reference (llm.h),
// byte for byte and status for status: every kernel family this machine has
// (DATANODE_CPU_ISA caps it), 1 / 2 / 3 threads, random shapes and values with the hard
// cases (outliers, f16 subnormals and saturation, zeros, ties, constant rows, huge and
// tiny exponents). Each sweep counts its cases and asserts the minimum was reached.
#include <cstdint>
#include <xmmintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/exact_float.h"
#include "datanode/ops/llm.h"
#include "datanode/ops/llm_kernels.h"
#include "gtest/gtest.h"
#include "ops/cpu/llm_kernels.h"
#include "ops/reference/fixed_point.h"
#include "tests/ops/test_util.h"

namespace datanode::ops {
namespace {

namespace llm = ops::llm;

struct Cpu {
  std::string isa;
  int threads;
  std::unique_ptr<Backend> backend;
};

// Every (family this machine has, thread count) pair.
std::vector<Cpu> AllCpus() {
  std::vector<Cpu> cpus;
  for (const char* isa : testing::kCpuIsas) {
    std::string why;
    if (!testing::MachineHasIsa(isa, &why)) {
      std::printf("skipping %s: %s\n", isa, why.c_str());
      continue;
    }
    for (int threads : {1, 2, 3}) {
      auto backend = testing::CreateCpuWithIsa(isa, threads);
      EXPECT_TRUE(backend.ok()) << backend.status();
      if (!backend.ok()) continue;
      EXPECT_NE(std::string((*backend)->LlmKernels().Name()).find(isa), std::string::npos);
      cpus.push_back({isa, threads, std::move(backend).value()});
    }
  }
  return cpus;
}

std::vector<uint32_t> Bits(std::span<const float> v) {
  std::vector<uint32_t> b(v.size());
  std::memcpy(b.data(), v.data(), v.size() * 4);
  return b;
}

// A random finite f32 of a profile: 0 LLM-like (normal-ish, 1% outliers 20x), 1 any
// finite bits, 2 tiny (near and below the f16 subnormal range), 3 exact zeros, any other
// around f16 limits.
float RandomF32(std::mt19937_64& rng, int profile) {
  constexpr testing::F32Kind kKinds[] = {
      testing::F32Kind::kActivation, testing::F32Kind::kAnyFinite, testing::F32Kind::kTinyF16,
      testing::F32Kind::kSignedZero, testing::F32Kind::kF16Edges};
  return testing::RandomF32(rng, kKinds[profile >= 0 && profile < 4 ? profile : 4]);
}

std::vector<float> RandomRow(std::mt19937_64& rng, size_t n, int profile) {
  std::vector<float> v(n);
  for (auto& x : v) x = RandomF32(rng, profile == 5 ? static_cast<int>(rng() % 5) : profile);
  return v;
}

int CheckBits(const std::vector<uint32_t>& want, const std::vector<uint32_t>& got,
              const std::string& what) {
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i] != got[i]) {
      ADD_FAILURE() << what << ": element " << i << " want 0x" << std::hex << want[i]
                    << " got 0x" << got[i];
      return 1;
    }
  }
  return 0;
}

TEST(CpuLlmTest, F16ConversionHelpersMatchTheSpec) {
  // Every f16 and a sweep of f32 bit patterns (all exponents, many mantissas).
  for (uint32_t h = 0; h < 65536; ++h) {
    if ((h & 0x7C00) == 0x7C00 || h == 0x8000) continue;  // -0 decodes to -0.0: the value 0
    const ExactValue v = DecodeF16Bits(static_cast<uint16_t>(h));
    ASSERT_EQ(F32ToBits(cpu::llm_kernels::F16BitsToF32(static_cast<uint16_t>(h))),
              RoundToF32Bits(v.mantissa, v.exponent))
        << h;
  }
  std::mt19937_64 rng(7);
  int64_t cases = 0;
  for (uint32_t hi = 0; hi < 0x7F800000u; hi += 0x00001000u) {
    for (int s = 0; s < 2; ++s) {
      for (uint32_t lo : {0u, 1u, 0x7FFu, 0x800u, 0x801u, 0xFFFu, static_cast<uint32_t>(rng() & 0xFFF)}) {
        const uint32_t b = (s ? 0x80000000u : 0u) | hi | lo;
        const ExactValue v = DecodeF32Bits(b);
        uint16_t want = RoundToF16Bits(v.mantissa, v.exponent);
        if ((want & 0x7C00) == 0x7C00) want = static_cast<uint16_t>((want & 0x8000) | 0x7BFF);
        ASSERT_EQ(cpu::llm_kernels::F32ToF16SatBits(b), want) << std::hex << b;
        ++cases;
      }
    }
  }
  EXPECT_GT(cases, 1000000);
}

// SampleToken before its candidate filter (every logit ranked and weighted): the oracle
// for the faster reference, kept here verbatim from the spec engineer's version.
int32_t SampleTokenFullSort(std::span<const float> logits, const llm::SamplingParams& params,
                            llm::SpecRng& rng) {
  namespace fixed = ops::llm::fixed;
  const int32_t vocab = static_cast<int32_t>(logits.size());
  auto key = [&](int32_t i) { return fixed::OrderKey(F32ToBits(logits[i])); };
  int32_t best = 0;
  for (int32_t i = 1; i < vocab; ++i) {
    if (key(i) > key(best)) best = i;
  }
  if (F32ToBits(params.temperature) == 0) return best;
  std::vector<std::pair<int64_t, int32_t>> ranked(vocab);
  for (int32_t i = 0; i < vocab; ++i) ranked[i] = {-key(i), i};
  int64_t kept = vocab;
  if (params.top_k > 0 && params.top_k < vocab) {
    kept = params.top_k;
    std::partial_sort(ranked.begin(), ranked.begin() + kept, ranked.end());
  } else {
    std::sort(ranked.begin(), ranked.end());
  }
  std::vector<int32_t> order(kept);
  for (int64_t c = 0; c < kept; ++c) order[c] = ranked[c].second;
  const ExactValue lmax = DecodeF32Bits(F32ToBits(logits[best]));
  const ExactValue temp = DecodeF32Bits(F32ToBits(params.temperature));
  std::vector<int64_t> weight(kept);
  int64_t total = 0;
  for (int64_t c = 0; c < kept; ++c) {
    const ExactValue l = DecodeF32Bits(F32ToBits(logits[order[c]]));
    const uint32_t diff_bits =
        fixed::RoundSum2ToF32Bits(lmax.mantissa, lmax.exponent, -l.mantissa, l.exponent);
    uint32_t scaled_bits = diff_bits;
    if (IsFiniteF32Bits(diff_bits)) {
      const ExactValue diff = DecodeF32Bits(diff_bits);
      scaled_bits =
          RoundQuotientToF32Bits(diff.mantissa, diff.exponent - temp.exponent, temp.mantissa);
    }
    weight[c] = IsFiniteF32Bits(scaled_bits)
                    ? fixed::WeightQ40(fixed::ExpNeg(DecodeF32Bits(scaled_bits)))
                    : 0;
    total += weight[c];
  }
  if (F32ToBits(params.top_p) != F32ToBits(1.0f)) {
    const ExactValue p = DecodeF32Bits(F32ToBits(params.top_p));
    int64_t cum = 0;
    int64_t c = 0;
    while (c < kept) {
      cum += weight[c++];
      if (p.exponent < -60) break;
      const int shift = -p.exponent;
      if ((int128{cum} << shift) >= int128{p.mantissa} * total) break;
    }
    kept = c;
    total = cum;
  }
  const uint64_t u = rng.Next();
  const int64_t r = static_cast<int64_t>((uint128{u} * static_cast<uint64_t>(total)) >> 64);
  int64_t cum = 0;
  for (int64_t c = 0; c < kept; ++c) {
    cum += weight[c];
    if (cum > r) return order[c];
  }
  return order[0];
}

// The filtered reference SampleToken draws the same tokens as the full sort: logits with
// ties, narrow and huge ranges, values right at the filter's cut, temperatures from 1e-3
// to 100, top-k and top-p on and off; 4 draws per case.
TEST(CpuLlmTest, SampleTokenEqualsFullSort) {
  std::mt19937_64 rng(99);
  int cases = 0, filtered = 0;
  for (int it = 0; it < 3000; ++it) {
    const size_t vocab = 1 + rng() % (it % 10 == 0 ? 49152 : 300);
    llm::SamplingParams params;
    const float temps[] = {0.0f, 1e-3f, 0.1f, 0.7f, 1.0f, 1.5f, 100.0f};
    params.temperature = temps[rng() % std::size(temps)];
    params.top_k = rng() % 3 == 0 ? static_cast<int32_t>(1 + rng() % 50) : 0;
    const float top_ps[] = {1.0f, 0.9f, 0.5f, 0.999f, 1e-20f, 0.3f};
    params.top_p = top_ps[rng() % std::size(top_ps)];
    std::vector<float> logits(vocab);
    const int profile = static_cast<int>(rng() % 4);
    const float spread = std::ldexp(1.0f, static_cast<int>(rng() % 12) - 4);
    std::normal_distribution<float> dist(0.0f, spread);
    for (auto& l : logits) {
      switch (profile) {
        case 0: l = dist(rng); break;
        case 1: l = static_cast<float>(static_cast<int>(rng() % 5));  break;  // many ties
        case 2: l = RandomF32(rng, 1) * 1e-30f; break;                       // wild range
        default: l = RandomF32(rng, static_cast<int>(rng() % 5)); break;
      }
    }
    if (profile == 3 && vocab > 3 && params.temperature > 0) {  // right at the cut
      logits[0] = 10.0f;
      logits[1] = 10.0f - 28.5f * params.temperature;
      logits[2] = 10.0f - 29.0f * params.temperature;
      logits[3] = std::nextafter(logits[2], 0.0f);
    }
    const uint8_t seed[] = {static_cast<uint8_t>(it), static_cast<uint8_t>(it >> 8)};
    llm::SpecRng a(seed), b(seed);
    for (int draw = 0; draw < 4; ++draw) {
      auto got = llm::SampleToken(logits, params, a);
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_EQ(*got, SampleTokenFullSort(logits, params, b))
          << "case " << it << " vocab " << vocab << " T " << params.temperature << " top_k "
          << params.top_k << " top_p " << params.top_p << " profile " << profile;
    }
    ++cases;
    if (params.temperature > 0 && profile == 0 && spread >= 8) ++filtered;
  }
  EXPECT_GE(cases, 1000);
  EXPECT_GE(filtered, 50);
}

// The vectorized exp weights against the spec's scalar steps: every family, y over the
// whole range with the table, 2^26 and 2^30 boundaries and the zero-weight cut.
TEST(CpuLlmTest, WeightsMatchTheSpec) {
  namespace fixed = ops::llm::fixed;
  std::mt19937_64 rng(5);
  std::vector<int64_t> y;
  for (int64_t b = 0; b <= 42; ++b) {
    for (int64_t m : {int64_t{1} << 26, int64_t{1} << 30}) {
      for (int64_t d = -2; d <= 2; ++d) {
        const int64_t v = b * m + d;
        if (v >= 0 && v <= (int64_t{1} << 42)) y.push_back(v);
      }
    }
  }
  for (int64_t d = -3; d <= 3; ++d) y.push_back(cpu::llm_kernels::kZeroWeightY + d);
  for (int i = 0; i < 1000000; ++i) {
    y.push_back(static_cast<int64_t>(rng() % ((uint64_t{1} << (rng() % 2 ? 36 : 43)) + 1)));
  }
  std::vector<int64_t> want(y.size());
  for (size_t i = 0; i < y.size(); ++i) want[i] = fixed::WeightQ40(fixed::Exp2NegQ30(y[i]));
  struct Fn {
    const char* isa;
    cpu::llm_kernels::WeightsFn fn;
  };
  for (const Fn& f : {Fn{"portable", cpu::llm_kernels::WeightsPortable},
                      Fn{"avx2", cpu::llm_kernels::WeightsAvx2},
                      Fn{"avx512vnni", cpu::llm_kernels::WeightsAvx512}}) {
    std::string why;
    if (!testing::MachineHasIsa(f.isa, &why)) continue;
    for (size_t off : {size_t{0}, size_t{3}}) {  // vector bodies and scalar tails
      std::vector<int64_t> got(y.size() - off, -1);
      f.fn(y.data() + off, static_cast<int64_t>(got.size()), got.data());
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(got[i], want[i + off]) << f.isa << " y " << y[i + off];
      }
    }
  }
}

// 1 to 3 KV heads, each shared by 1 to 3 query heads (GQA), head_dim drawn from `dims`.
llm::AttentionShape RandomAttentionShape(std::mt19937_64& rng, std::span<const int> dims) {
  llm::AttentionShape shape;
  shape.n_kv_heads = 1 + static_cast<int>(rng() % 3);
  shape.n_heads = shape.n_kv_heads * (1 + static_cast<int>(rng() % 3));
  shape.head_dim = dims[rng() % dims.size()];
  return shape;
}

// Attention: random shapes (GQA groups, head_dim 32..256), positions 1..2048, K/V rows
// from every value profile (encoded like the engine does, or raw random f16 bits).
TEST(CpuLlmTest, AttendEqualsReference) {
  std::vector<Cpu> cpus = AllCpus();
  ASSERT_FALSE(cpus.empty());
  std::mt19937_64 rng(12);
  int cases = 0, long_cases = 0;
  for (int it = 0; it < 1100; ++it) {
    const int dims[] = {32, 64, 64, 96, 128, 256};
    const llm::AttentionShape shape = RandomAttentionShape(rng, dims);
    int64_t n;
    switch (rng() % 8) {
      case 0: n = 1; break;
      case 1: n = 1 + static_cast<int64_t>(rng() % 2048); break;
      case 2: n = 2048; break;
      default: n = 1 + static_cast<int64_t>(rng() % 64);
    }
    if (n * shape.n_heads * shape.head_dim > 3000000) n = 3000000 / (shape.n_heads * shape.head_dim);
    const int qp = static_cast<int>(rng() % 6), kp = static_cast<int>(rng() % 6),
              vp = static_cast<int>(rng() % 7);
    const int64_t row_bytes = llm::KvRowBytes(shape);
    std::vector<uint8_t> k(n * row_bytes), v(n * row_bytes);
    const size_t kv_values = static_cast<size_t>(shape.n_kv_heads) * shape.head_dim;
    std::vector<float> constant_row = RandomRow(rng, kv_values, 0);
    for (int64_t p = 0; p < n; ++p) {
      std::span<uint8_t> kr(k.data() + p * row_bytes, row_bytes), vr(v.data() + p * row_bytes, row_bytes);
      ASSERT_TRUE(llm::EncodeKvRow(shape, RandomRow(rng, kv_values, kp), kr).ok());
      if (vp == 6) {
        ASSERT_TRUE(llm::EncodeKvRow(shape, constant_row, vr).ok());
      } else {
        ASSERT_TRUE(llm::EncodeKvRow(shape, RandomRow(rng, kv_values, vp), vr).ok());
      }
    }
    const size_t q_size = static_cast<size_t>(shape.n_heads) * shape.head_dim;
    std::vector<float> q = RandomRow(rng, q_size, qp);
    if (rng() % 10 == 0) {  // ties: every key equal to the query direction
      for (int64_t p = 1; p < n; ++p) std::memcpy(&k[p * row_bytes], &k[0], row_bytes);
    }
    std::vector<float> want(q_size);
    ASSERT_TRUE(llm::Attend(shape, q, k, v, n, want).ok());
    const auto want_bits = Bits(want);
    for (Cpu& cpu : cpus) {
      std::vector<float> got(q_size, 1234.0f);
      ASSERT_TRUE(cpu.backend->LlmKernels().Attend(shape, q, k, v, n, got).ok());
      if (CheckBits(want_bits, Bits(got),
                    absl::StrCat("Attend case ", it, " ", cpu.isa, " x", cpu.threads, " heads ",
                                 shape.n_heads, "/", shape.n_kv_heads, " hd ", shape.head_dim,
                                 " n ", n, " profiles ", qp, kp, vp)) != 0) {
        return;
      }
    }
    ++cases;
    if (n >= 512) ++long_cases;
  }
  EXPECT_GE(cases, 1000);
  EXPECT_GE(long_cases, 50);
}

TEST(CpuLlmTest, AttendRejectsLikeTheReference) {
  std::vector<Cpu> cpus = AllCpus();
  llm::AttentionShape shape{6, 2, 64};
  const int64_t n = 40, row_bytes = llm::KvRowBytes(shape);
  std::mt19937_64 rng(3);
  std::vector<uint8_t> k(n * row_bytes), v(n * row_bytes);
  for (int64_t p = 0; p < n; ++p) {
    ASSERT_TRUE(llm::EncodeKvRow(shape, RandomRow(rng, 128, 0), std::span(k).subspan(p * row_bytes, row_bytes)).ok());
    ASSERT_TRUE(llm::EncodeKvRow(shape, RandomRow(rng, 128, 0), std::span(v).subspan(p * row_bytes, row_bytes)).ok());
  }
  std::vector<float> q = RandomRow(rng, 384, 0), out(384);
  for (int where = 0; where < 6; ++where) {
    std::vector<uint8_t> kb = k, vb = v;
    std::vector<float> qb = q;
    const uint16_t bad = where % 2 ? 0x7C00 : 0xFE01;  // inf, NaN
    if (where < 2) StoreU16(&kb[37 * row_bytes + 2 * 100], bad);
    else if (where < 4) StoreU16(&vb[39 * row_bytes + 2 * 5], bad);
    else qb[200] = where == 4 ? INFINITY : NAN;
    const absl::Status want = llm::Attend(shape, qb, kb, vb, n, out);
    ASSERT_FALSE(want.ok());
    for (Cpu& cpu : cpus) {
      EXPECT_EQ(cpu.backend->LlmKernels().Attend(shape, qb, kb, vb, n, out), want) << cpu.isa;
    }
  }
  for (Cpu& cpu : cpus) {
    EXPECT_EQ(cpu.backend->LlmKernels().Attend(shape, q, k, v, n + 1, out),
              llm::Attend(shape, q, k, v, n + 1, out));
    EXPECT_EQ(cpu.backend->LlmKernels().Attend({5, 2, 64}, q, k, v, n, out),
              llm::Attend({5, 2, 64}, q, k, v, n, out));
  }
}

// The rows of one prefill pass at once (Kernels::AttendRows, blocked on AVX-512): each
// row equals the reference's Attend at its own position, across block edges (64), the
// double sums' flush (4096 positions), every value profile (LLM-like rows take the
// unsplit fast path, random bits and tiny values the split one) and thread count.
TEST(CpuLlmTest, AttendRowsEqualsReference) {
  std::vector<Cpu> cpus = AllCpus();
  ASSERT_FALSE(cpus.empty());
  std::mt19937_64 rng(21);
  int cases = 0, long_cases = 0;
  for (int it = 0; it < 160; ++it) {
    const int dims[] = {32, 64, 64, 64, 96, 128, 256, 512};
    const llm::AttentionShape shape = RandomAttentionShape(rng, dims);
    int64_t first_pos = 0, rows = 2 + static_cast<int64_t>(rng() % 20);
    switch (rng() % 6) {
      case 0: first_pos = static_cast<int64_t>(rng() % 200); break;
      case 1: rows = 60 + static_cast<int64_t>(rng() % 140); break;
      case 2: first_pos = 4080 + static_cast<int64_t>(rng() % 16); rows = 20 + rng() % 10; break;
      default: break;
    }
    const int64_t n = first_pos + rows;
    const int qp = it % 3 == 0 ? 0 : static_cast<int>(rng() % 6),
              kp = it % 3 == 0 ? 0 : static_cast<int>(rng() % 6),
              vp = static_cast<int>(rng() % 6);
    const int64_t row_bytes = llm::KvRowBytes(shape);
    const size_t kv_values = static_cast<size_t>(shape.n_kv_heads) * shape.head_dim;
    std::vector<uint8_t> k(n * row_bytes), v(n * row_bytes);
    for (int64_t p = 0; p < n; ++p) {
      // Mostly the case's profile, with now and then a row of another (mixed exponents).
      const int kpp = rng() % 16 == 0 ? static_cast<int>(rng() % 6) : kp;
      ASSERT_TRUE(llm::EncodeKvRow(shape, RandomRow(rng, kv_values, kpp),
                                   std::span(k).subspan(p * row_bytes, row_bytes)).ok());
      ASSERT_TRUE(llm::EncodeKvRow(shape, RandomRow(rng, kv_values, vp),
                                   std::span(v).subspan(p * row_bytes, row_bytes)).ok());
    }
    const size_t q_size = static_cast<size_t>(shape.n_heads) * shape.head_dim;
    std::vector<float> q = RandomRow(rng, q_size * rows, qp);
    std::vector<float> want(q.size());
    for (int64_t i = 0; i < rows; ++i) {
      ASSERT_TRUE(llm::Attend(shape, std::span(q).subspan(i * q_size, q_size), k, v,
                              first_pos + i + 1, std::span(want).subspan(i * q_size, q_size))
                      .ok());
    }
    const auto want_bits = Bits(want);
    for (Cpu& cpu : cpus) {
      std::vector<float> got(q.size(), 1234.0f);
      ASSERT_TRUE(cpu.backend->LlmKernels().AttendRows(shape, q, k, v, first_pos, rows, got).ok());
      if (CheckBits(want_bits, Bits(got),
                    absl::StrCat("AttendRows case ", it, " ", cpu.isa, " x", cpu.threads,
                                 " heads ", shape.n_heads, "/", shape.n_kv_heads, " hd ",
                                 shape.head_dim, " first_pos ", first_pos, " rows ", rows,
                                 " profiles ", qp, kp, vp)) != 0) {
        return;
      }
    }
    ++cases;
    if (n > 4096) ++long_cases;
  }
  EXPECT_GE(cases, 160);
  EXPECT_GE(long_cases, 10);
}

TEST(CpuLlmTest, AttendRowsRejectsLikeThePerRowLoop) {
  std::vector<Cpu> cpus = AllCpus();
  llm::AttentionShape shape{6, 2, 64};
  const int64_t first_pos = 30, rows = 12, n = first_pos + rows;
  const int64_t row_bytes = llm::KvRowBytes(shape);
  std::mt19937_64 rng(5);
  std::vector<uint8_t> k(n * row_bytes), v(n * row_bytes);
  for (int64_t p = 0; p < n; ++p) {
    ASSERT_TRUE(llm::EncodeKvRow(shape, RandomRow(rng, 128, 0), std::span(k).subspan(p * row_bytes, row_bytes)).ok());
    ASSERT_TRUE(llm::EncodeKvRow(shape, RandomRow(rng, 128, 0), std::span(v).subspan(p * row_bytes, row_bytes)).ok());
  }
  std::vector<float> q = RandomRow(rng, 384 * rows, 0), out(q.size());
  const llm::Kernels& reference = llm::ReferenceKernels();
  for (int where = 0; where < 6; ++where) {
    std::vector<uint8_t> kb = k, vb = v;
    std::vector<float> qb = q;
    const uint16_t bad = where % 2 ? 0x7C00 : 0xFE01;  // inf, NaN
    // Positions only the later rows read, so the first rows succeed.
    if (where < 2) StoreU16(&kb[37 * row_bytes + 2 * 100], bad);
    else if (where < 4) StoreU16(&vb[39 * row_bytes + 2 * 5], bad);
    else qb[384 * 5 + 200] = where == 4 ? INFINITY : NAN;
    const absl::Status want = reference.AttendRows(shape, qb, kb, vb, first_pos, rows, out);
    ASSERT_FALSE(want.ok());
    for (Cpu& cpu : cpus) {
      EXPECT_EQ(cpu.backend->LlmKernels().AttendRows(shape, qb, kb, vb, first_pos, rows, out),
                want)
          << cpu.isa << " x" << cpu.threads << " case " << where;
    }
  }
  for (Cpu& cpu : cpus) {
    EXPECT_EQ(cpu.backend->LlmKernels().AttendRows(shape, q, k, v, first_pos + 1, rows, out),
              reference.AttendRows(shape, q, k, v, first_pos + 1, rows, out));
    EXPECT_EQ(cpu.backend->LlmKernels().AttendRows({5, 2, 64}, q, k, v, first_pos, rows, out),
              reference.AttendRows({5, 2, 64}, q, k, v, first_pos, rows, out));
  }
}

// Elementwise ops: rows of every profile (and mixed), lengths 1..4096 (SmolLM2's 576 and
// 1536 included), 1000+ rows per op, each through every family and thread count.
TEST(CpuLlmTest, ElementwiseOpsEqualReference) {
  std::vector<Cpu> cpus = AllCpus();
  ASSERT_FALSE(cpus.empty());
  std::mt19937_64 rng(21);
  int cases = 0;
  for (int it = 0; it < 1500; ++it) {
    const size_t lengths[] = {1, 7, 32, 64, 576, 1536, 4096};
    const size_t n = it % 3 == 0 ? 1 + rng() % 300 : lengths[rng() % std::size(lengths)];
    const int pa = static_cast<int>(rng() % 6), pb = static_cast<int>(rng() % 6);
    std::vector<float> a = RandomRow(rng, n, pa), b = RandomRow(rng, n, pb);
    if (it % 7 == 0) b = a;                                  // x + x, g * g
    if (it % 11 == 0) for (size_t i = 0; i < n; ++i) b[i] = -a[i];  // exact cancellation
    const float eps_values[] = {1e-5f, 1e-6f, 0x1p-149f, 1.0f, 1e30f};
    const float eps = eps_values[rng() % std::size(eps_values)];
    std::vector<float> want_add(n), want_silu(n), want_norm(n);
    ASSERT_TRUE(llm::Add(a, b, want_add).ok());
    ASSERT_TRUE(llm::SiluMul(a, b, want_silu).ok());
    ASSERT_TRUE(llm::RmsNorm(a, b, eps, want_norm).ok());
    llm::AttentionShape shape{1, 1, 32};
    std::vector<uint8_t> want_kv;
    std::vector<float> kv_row;
    if (n % 32 == 0 && n <= 512 * 4) {
      shape.head_dim = n % 64 == 0 ? 64 : 32;
      shape.n_kv_heads = static_cast<int>(n) / shape.head_dim;
      shape.n_heads = shape.n_kv_heads;
      want_kv.resize(2 * n);
      kv_row = a;
      ASSERT_TRUE(llm::EncodeKvRow(shape, kv_row, want_kv).ok());
    }
    for (Cpu& cpu : cpus) {
      const llm::Kernels& k = cpu.backend->LlmKernels();
      const std::string what = absl::StrCat(" case ", it, " n ", n, " profiles ", pa, pb, " ",
                                            cpu.isa, " x", cpu.threads);
      std::vector<float> got(n, 1234.0f);
      ASSERT_TRUE(k.Add(a, b, got).ok());
      if (CheckBits(Bits(want_add), Bits(got), "Add" + what)) return;
      ASSERT_TRUE(k.SiluMul(a, b, got).ok());
      if (CheckBits(Bits(want_silu), Bits(got), "SiluMul" + what)) return;
      ASSERT_TRUE(k.RmsNorm(a, b, eps, got).ok());
      if (CheckBits(Bits(want_norm), Bits(got), absl::StrCat("RmsNorm eps ", eps, what))) return;
      if (!want_kv.empty()) {
        std::vector<uint8_t> got_kv(2 * n, 0xAB);
        ASSERT_TRUE(k.EncodeKvRow(shape, kv_row, got_kv).ok());
        ASSERT_EQ(want_kv, got_kv) << "EncodeKvRow" << what;
      }
    }
    ++cases;
  }
  EXPECT_GE(cases, 1000);
}

// RoPE Apply: bases and rope dims of real models and odd ones, head_dim >= rope_dim,
// positions over the table, rows of every profile (zeros, distant exponents, huge values).
TEST(CpuLlmTest, RopeApplyEqualsReference) {
  std::vector<Cpu> cpus = AllCpus();
  std::mt19937_64 rng(31);
  struct T {
    float base;
    int dim;
  };
  std::vector<std::pair<T, llm::RopeTable>> tables;
  for (T t : {T{100000.0f, 64}, T{10000.0f, 128}, T{500000.0f, 64}, T{1.5f, 16}, T{10000.0f, 2},
              T{1e6f, 32}, T{10000.0f, 24}}) {
    auto table = llm::RopeTable::Create(t.base, t.dim, 3000);
    ASSERT_TRUE(table.ok());
    tables.emplace_back(t, std::move(table).value());
  }
  int cases = 0;
  for (int it = 0; it < 1200; ++it) {
    auto& [t, table] = tables[rng() % tables.size()];
    const int head_dim = t.dim + (rng() % 3 == 0 ? 32 : 0);
    const int heads = 1 + static_cast<int>(rng() % 9);
    const int64_t pos = rng() % 4 == 0 ? static_cast<int64_t>(rng() % 4) : static_cast<int64_t>(rng() % 3000);
    const std::vector<float> x = RandomRow(rng, static_cast<size_t>(heads) * head_dim, static_cast<int>(rng() % 6));
    std::vector<float> want = x;
    ASSERT_TRUE(table.Apply(pos, heads, head_dim, want).ok());
    for (Cpu& cpu : cpus) {
      std::vector<float> got = x;
      ASSERT_TRUE(cpu.backend->LlmKernels().RopeApply(table, pos, heads, head_dim, got).ok());
      if (CheckBits(Bits(want), Bits(got),
                    absl::StrCat("RoPE case ", it, " base ", t.base, " dim ", t.dim, " pos ", pos,
                                 " ", cpu.isa)) != 0) {
        return;
      }
    }
    ++cases;
  }
  EXPECT_GE(cases, 1000);
  // Invalid calls: the reference's status.
  std::vector<float> bad(64, 1.0f);
  bad[3] = NAN;
  for (Cpu& cpu : cpus) {
    const llm::Kernels& k = cpu.backend->LlmKernels();
    const llm::RopeTable& table = tables[0].second;
    std::vector<float> a = bad, b = bad;
    EXPECT_EQ(k.RopeApply(table, 5, 1, 64, a), table.Apply(5, 1, 64, b));
    std::vector<float> ok(64, 1.0f), ok2(64, 1.0f);
    EXPECT_EQ(k.RopeApply(table, 3000, 1, 64, ok), table.Apply(3000, 1, 64, ok2));
    EXPECT_EQ(k.RopeApply(table, 1, 2, 64, ok), table.Apply(1, 2, 64, ok2));
    EXPECT_EQ(k.RopeApply(table, 1, 2, 32, ok), table.Apply(1, 2, 32, ok2));
  }
}

// SiluMul's vectorized sigma over every f32 exponent of the gate (both signs, subnormals,
// the exp cap at |g| >= 2^31), with up values of every profile.
TEST(CpuLlmTest, SiluMulSweepsEveryGateExponent) {
  std::vector<Cpu> cpus = AllCpus();
  std::mt19937_64 rng(77);
  std::vector<float> gate, up;
  for (uint32_t biased = 0; biased < 255; ++biased) {
    for (int r = 0; r < 400; ++r) {
      const uint32_t mant = r < 4 ? std::array<uint32_t, 4>{0, 1, 0x7FFFFF, 0x400000}[r]
                                  : static_cast<uint32_t>(rng() & 0x7FFFFF);
      gate.push_back(BitsToF32(((r & 1u) << 31) | (biased << 23) | mant));
      up.push_back(RandomF32(rng, static_cast<int>(rng() % 5)));
    }
  }
  std::vector<float> want(gate.size());
  ASSERT_TRUE(llm::SiluMul(gate, up, want).ok());
  for (Cpu& cpu : cpus) {
    std::vector<float> got(gate.size());
    ASSERT_TRUE(cpu.backend->LlmKernels().SiluMul(gate, up, got).ok());
    EXPECT_EQ(CheckBits(Bits(want), Bits(got), "SiluMul sweep " + cpu.isa), 0);
  }
}

// The float shortcuts need the default MXCSR; under flush-to-zero, denormals-are-zero or
// another rounding mode the kernels must take their integer paths and still match.
TEST(CpuLlmTest, NonDefaultFloatEnvironmentChangesNothing) {
  std::vector<Cpu> cpus = AllCpus();
  const unsigned saved = _mm_getcsr();
  std::mt19937_64 rng(8);
  int cases = 0;
  for (unsigned mode : {0x8040u, 0x6000u, 0x2000u, 0x4000u}) {  // FTZ+DAZ, RZ, RD, RU
    for (int it = 0; it < 40; ++it) {
      const size_t n = 1 + rng() % 700;
      std::vector<float> a = RandomRow(rng, n, 5), b = RandomRow(rng, n, 5);
      std::vector<float> want_add(n), want_silu(n), want_norm(n);
      ASSERT_TRUE(llm::Add(a, b, want_add).ok());
      ASSERT_TRUE(llm::SiluMul(a, b, want_silu).ok());
      ASSERT_TRUE(llm::RmsNorm(a, b, 1e-5f, want_norm).ok());
      llm::AttentionShape shape{3, 1, 32};
      const int64_t np = 1 + static_cast<int64_t>(rng() % 40);
      std::vector<uint8_t> k(np * 64), v(np * 64);
      for (int64_t p = 0; p < np; ++p) {
        ASSERT_TRUE(llm::EncodeKvRow(shape, RandomRow(rng, 32, 5), std::span(k).subspan(p * 64, 64)).ok());
        ASSERT_TRUE(llm::EncodeKvRow(shape, RandomRow(rng, 32, 5), std::span(v).subspan(p * 64, 64)).ok());
      }
      std::vector<float> q = RandomRow(rng, 96, 5), want_att(96);
      ASSERT_TRUE(llm::Attend(shape, q, k, v, np, want_att).ok());
      static const llm::RopeTable table = *llm::RopeTable::Create(100000.0f, 32, 100);
      std::vector<float> want_rope = q;
      ASSERT_TRUE(table.Apply(np, 3, 32, want_rope).ok());
      _mm_setcsr((saved & ~0xE040u) | mode);
      for (Cpu& cpu : cpus) {
        const llm::Kernels& kk = cpu.backend->LlmKernels();
        std::vector<float> got(n), got_att(96);
        const std::string what = absl::StrCat(" mode ", mode, " ", cpu.isa);
        EXPECT_TRUE(kk.Add(a, b, got).ok());
        EXPECT_EQ(CheckBits(Bits(want_add), Bits(got), "Add" + what), 0);
        EXPECT_TRUE(kk.SiluMul(a, b, got).ok());
        EXPECT_EQ(CheckBits(Bits(want_silu), Bits(got), "SiluMul" + what), 0);
        EXPECT_TRUE(kk.RmsNorm(a, b, 1e-5f, got).ok());
        EXPECT_EQ(CheckBits(Bits(want_norm), Bits(got), "RmsNorm" + what), 0);
        std::vector<float> got_rope = q;
        EXPECT_TRUE(kk.RopeApply(table, np, 3, 32, got_rope).ok());
        EXPECT_EQ(CheckBits(Bits(want_rope), Bits(got_rope), "RoPE" + what), 0);
        EXPECT_TRUE(kk.Attend(shape, q, k, v, np, got_att).ok());
        EXPECT_EQ(CheckBits(Bits(want_att), Bits(got_att), "Attend" + what), 0);
      }
      _mm_setcsr(saved);
      ++cases;
    }
  }
  EXPECT_EQ(cases, 160);
}

TEST(CpuLlmTest, ElementwiseOpsRejectLikeTheReference) {
  std::vector<Cpu> cpus = AllCpus();
  std::vector<float> a(64, 1.0f), b(64, 2.0f), out(64), short_out(63);
  std::vector<float> bad = a;
  bad[17] = NAN;
  std::vector<float> inf = a;
  inf[63] = -INFINITY;
  for (Cpu& cpu : cpus) {
    const llm::Kernels& k = cpu.backend->LlmKernels();
    for (const auto& x : {bad, inf}) {
      EXPECT_EQ(k.Add(x, b, out), llm::Add(x, b, out));
      EXPECT_EQ(k.Add(b, x, out), llm::Add(b, x, out));
      EXPECT_EQ(k.SiluMul(x, b, out), llm::SiluMul(x, b, out));
      EXPECT_EQ(k.SiluMul(b, x, out), llm::SiluMul(b, x, out));
      EXPECT_EQ(k.RmsNorm(x, b, 1e-5f, out), llm::RmsNorm(x, b, 1e-5f, out));
      EXPECT_EQ(k.RmsNorm(b, x, 1e-5f, out), llm::RmsNorm(b, x, 1e-5f, out));
      std::vector<uint8_t> kv(128);
      EXPECT_EQ(k.EncodeKvRow({2, 2, 32}, x, kv), llm::EncodeKvRow({2, 2, 32}, x, kv));
    }
    EXPECT_EQ(k.Add(a, b, short_out), llm::Add(a, b, short_out));
    EXPECT_EQ(k.SiluMul(a, b, short_out), llm::SiluMul(a, b, short_out));
    for (float eps : {0.0f, -1.0f, NAN, INFINITY}) {
      EXPECT_EQ(k.RmsNorm(a, b, eps, out), llm::RmsNorm(a, b, eps, out));
    }
  }
}

}  // namespace
}  // namespace datanode::ops
