// Copyright 2026 The datanode Authors.
//
// The engine on tiny llama models in the K-quant formats (docs/determinism.md §3.4): the
// layout llama.cpp's Q4_K_M quantization gives a llama model (Q4_K everywhere, Q6_K for
// output.weight and for attn_v / ffn_down of some layers, a Q4_K token_embd), tied Q4_K
// and Q6_K embeddings, prefill == token by token, and the other backends byte-equal to
// the reference where they have the K-quant matmuls (skipped with the reason where not).
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/backend.h"
#include "gtest/gtest.h"
#include "node/inference/model.h"
#include "node/inference/session.h"
#include "tests/inference/engine_test_util.h"
#include "tests/inference/prefill_check.h"
#include "tests/ops/test_util.h"

namespace datanode::node::inference {
namespace {

using testing::GgufWriter;
using testing::TinyLlama;

const std::vector<int32_t> kPrompt = {5, 17, 42, 3, 77, 8, 60, 11, 90};

TinyLlama KQuantSpec() { return testing::Q4KMSpec(); }

GenerateParams Greedy(int max_tokens) {
  GenerateParams p;
  p.max_tokens = max_tokens;
  p.stop_at_eog = false;
  return p;
}

class KQuantModelTest : public ::testing::Test {
 protected:
  void SetUp() override { reference_ = std::move(ops::CreateBackend("reference")).value(); }

  absl::StatusOr<std::shared_ptr<const Model>> Load(const TinyLlama& spec,
                                                    ops::Backend* backend = nullptr) {
    absl::StatusOr<ops::Sha256> digest =
        store_.ImportBytes(absl::StrCat("kquant", ++files_, ".gguf"), testing::TinyLlamaGguf(spec));
    if (!digest.ok()) return digest.status();
    return LoadModel(store_.registry(), store_.store(), *digest,
                     backend != nullptr ? *backend : *reference_);
  }

  testing::TempStore store_;
  std::unique_ptr<ops::Backend> reference_;
  int files_ = 0;
};

TEST_F(KQuantModelTest, Q4KMLayoutHasBothFormats) {
  // The tiny model really mixes the formats the way llama.cpp's Q4_K_M does.
  const TinyLlama spec = KQuantSpec();
  EXPECT_EQ(spec.tensor_types.at("output.weight"), GgufWriter::kQ6_K);
  EXPECT_EQ(spec.tensor_types.count("blk.0.attn_v.weight"), 0u);  // Q4_K
  EXPECT_EQ(spec.tensor_types.at("blk.1.attn_v.weight"), GgufWriter::kQ6_K);
  EXPECT_EQ(spec.tensor_types.at("blk.1.ffn_down.weight"), GgufWriter::kQ6_K);
  // Llama-3-8B's 32 layers: Q6_K attn_v / ffn_down in layers 0-3, 6, 9, ..., 27, 28-31.
  const auto types = testing::Q4KMTypes(32);
  int q6 = 0;
  for (int i = 0; i < 32; ++i) q6 += types.count(absl::StrCat("blk.", i, ".attn_v.weight"));
  EXPECT_EQ(q6, 4 + 8 + 4);
  EXPECT_EQ(types.count("blk.5.ffn_down.weight"), 0u);
  EXPECT_EQ(types.count("blk.6.ffn_down.weight"), 1u);
}

TEST_F(KQuantModelTest, Q4KMLayoutLoadsAndGenerates) {
  absl::StatusOr<std::shared_ptr<const Model>> model = Load(KQuantSpec());
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_FALSE((*model)->tied_embeddings());
  // Untied: the Q4_K embedding keeps its host rows (vocab 96 x 256 values / 256 x 144).
  EXPECT_EQ((*model)->memory().embedding_rows, 96 * 144);
  absl::StatusOr<GenerateResult> r = (*Session::Create(*model))->Generate(kPrompt, Greedy(12));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->tokens.size(), 12u);
  // Not a degenerate model: the greedy tokens are not all one id.
  bool varied = false;
  for (int32_t t : r->tokens) varied = varied || t != r->tokens[0];
  EXPECT_TRUE(varied);
}

TEST_F(KQuantModelTest, PrefillEqualsTokenByToken) {
  absl::StatusOr<std::shared_ptr<const Model>> model = Load(KQuantSpec());
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(testing::ExpectPrefillChunkingInvariant(*model, kPrompt, 2).size(), 3u);
}

// A tied K-quant embedding is also the output projection (matmul_q8_0_q4_k / q6_k); the
// lookup reads its rows back from the prepared weights and dequantizes them (§8.5).
TEST_F(KQuantModelTest, TiedKQuantEmbeddings) {
  for (uint32_t type : {GgufWriter::kQ4_K, GgufWriter::kQ6_K}) {
    SCOPED_TRACE(absl::StrCat("ggml type ", type));
    TinyLlama spec = KQuantSpec();
    spec.untied = false;
    spec.embedding_type = type;
    absl::StatusOr<std::shared_ptr<const Model>> model = Load(spec);
    ASSERT_TRUE(model.ok()) << model.status();
    EXPECT_TRUE((*model)->tied_embeddings());
    EXPECT_EQ((*model)->memory().embedding_rows, 0);
    absl::StatusOr<GenerateResult> r = (*Session::Create(*model))->Generate(kPrompt, Greedy(6));
    ASSERT_TRUE(r.ok()) << r.status();
  }
}

// The error for an unusable format lists what the engine accepts, K-quants included (the
// list comes from the op table and the row formats, so it cannot fall behind them).
TEST_F(KQuantModelTest, UnusableFormatErrorListsTheKQuants) {
  TinyLlama spec = KQuantSpec();
  spec.tensor_types["blk.0.ffn_up.weight"] = GgufWriter::kF16;
  absl::StatusOr<std::shared_ptr<const Model>> model = Load(spec);
  ASSERT_EQ(model.status().code(), absl::StatusCode::kUnimplemented) << model.status();
  EXPECT_NE(model.status().message().find("'blk.0.ffn_up.weight' is F16"), std::string::npos)
      << model.status();
  EXPECT_NE(model.status().message().find("Q8_0, Q4_0, Q4_1, Q4_K or Q6_K"), std::string::npos)
      << model.status();
}

// Every other backend that has the K-quant matmuls gives the reference's bytes, for the
// Q4_K_M layout and for tied Q4_K / Q6_K embeddings (whose rows the lookup reads back
// from the backend's prepared weights).
TEST_F(KQuantModelTest, EveryBackendGivesTheSameBytes) {
  std::vector<TinyLlama> specs = {KQuantSpec(), KQuantSpec(), KQuantSpec()};
  specs[1].untied = false;
  specs[2].untied = false;
  specs[2].embedding_type = GgufWriter::kQ6_K;
  std::vector<GenerateResult> want;
  for (const TinyLlama& spec : specs) {
    absl::StatusOr<std::shared_ptr<const Model>> ref = Load(spec);
    ASSERT_TRUE(ref.ok()) << ref.status();
    absl::StatusOr<GenerateResult> r = (*Session::Create(*ref))->Generate(kPrompt, Greedy(12));
    ASSERT_TRUE(r.ok()) << r.status();
    want.push_back(*r);
  }
  int checked = 0;
  std::string skipped;
  auto check = [&](absl::StatusOr<std::unique_ptr<ops::Backend>> backend, const std::string& what) {
    if (!backend.ok()) {
      absl::StrAppend(&skipped, " ", what, " (", backend.status().message(), ")");
      return;
    }
    for (ops::OpKind kind : {ops::OpKind::kMatMulQ8_0Q4_K, ops::OpKind::kMatMulQ8_0Q6_K}) {
      if (!(*backend)->Supports(kind)) {
        absl::StrAppend(&skipped, " ", what, " (no ", ops::OpKindName(kind), ")");
        return;
      }
    }
    for (size_t i = 0; i < specs.size(); ++i) {
      absl::StatusOr<std::shared_ptr<const Model>> model = Load(specs[i], backend->get());
      ASSERT_TRUE(model.ok()) << what << " model " << i << ": " << model.status();
      absl::StatusOr<GenerateResult> got =
          (*Session::Create(*model))->Generate(kPrompt, Greedy(12));
      ASSERT_TRUE(got.ok()) << what << " model " << i << ": " << got.status();
      EXPECT_EQ(got->tokens, want[i].tokens) << what << " model " << i;
      EXPECT_EQ(got->final_logits_digest, want[i].final_logits_digest) << what << " model " << i;
    }
    ++checked;
  };
  for (const char* isa : ops::testing::kCpuIsas) {
    std::string why;
    if (!ops::testing::MachineHasIsa(isa, &why)) continue;
    for (int threads : {1, 3}) {
      check(ops::testing::CreateCpuWithIsa(isa, threads), absl::StrCat("cpu ", isa, " x", threads));
    }
  }
  check(ops::CreateBackend("vulkan"), "vulkan");
  std::printf("%d backends checked;%s%s\n", checked,
              skipped.empty() ? "" : " skipped:", skipped.c_str());
  if (checked == 0) {
    GTEST_SKIP() << "no backend but the reference has the K-quant matmuls:" << skipped;
  }
}

}  // namespace
}  // namespace datanode::node::inference
