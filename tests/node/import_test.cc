// Copyright 2026 The datanode Authors.
//
// Model import: real files written by the PyPI gguf / safetensors writers
// (gen_models.py, run by ctest as a fixture; directory in $DATANODE_TEST_MODELS) and
// hand-made hostile files.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"
#include "node/import/json.h"
#include "node/import/model.h"
#include "node/import/model_registry.h"
#include "tests/support/gguf_writer.h"
#include "tests/support/read_file.h"

namespace datanode::node {
namespace {
namespace fs = std::filesystem;

// --- Hand-made files ---------------------------------------------------------------

using test_support::GgufBytes;

std::string Safetensors(std::string_view json, size_t data_bytes, int64_t claimed_len = -1) {
  std::string out;
  uint64_t len = claimed_len >= 0 ? static_cast<uint64_t>(claimed_len) : json.size();
  out.append(reinterpret_cast<const char*>(&len), 8);
  out.append(json);
  out.append(data_bytes, '\0');
  return out;
}

absl::Status Parse(const std::string& bytes) {
  return ParseModelFile(MemorySource(bytes)).status();
}

void ExpectInvalid(const std::string& bytes, std::string_view needle) {
  absl::Status s = Parse(bytes);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find(std::string(needle)), std::string::npos) << "message: " << s.message();
}

TEST(GgufHostileTest, ValidMinimalFileParses) {
  GgufBytes g;
  g.Header(1, 0).TensorInfo("w", {64, 2}, /*Q8_0*/ 8, 0).PadData(2 * 2 * 34);
  auto m = ParseModelFile(MemorySource(g.b));
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->tensors.size(), 1u);
  EXPECT_EQ(m->tensors[0].shape, (std::vector<int64_t>{2, 64}));
  EXPECT_EQ(m->tensors[0].size, 136);
  EXPECT_EQ(m->tensors[0].offset % 32, 0);
}

TEST(GgufHostileTest, BadFilesAreRejectedWithReasons) {
  GgufBytes g;
  ExpectInvalid(g.Header(0, 0, 1).b, "unsupported GGUF version 1");
  ExpectInvalid(g.Header(uint64_t{1} << 60, 0).b, "tensor count");
  ExpectInvalid(g.Header(0, uint64_t{1} << 62).b, "key-value count");
  ExpectInvalid("GGUF\x03\0\0", "truncated");
  ExpectInvalid(g.Header(0, 1).Le<uint64_t>(uint64_t{1} << 40).b, "GGUF string of");
  ExpectInvalid(g.Header(0, 1).Str("k").Le<uint32_t>(99).b, "unknown type 99");
  ExpectInvalid(
      g.Header(0, 1).Str("k").Le<uint32_t>(9).Le<uint32_t>(0).Le<uint64_t>(uint64_t{1} << 50).b,
      "array of");
  ExpectInvalid(g.Header(0, 1).Str("general.alignment").Le<uint32_t>(4).Le<uint32_t>(24).b,
                "power of two");
  ExpectInvalid(g.Header(1, 0).TensorInfo("w", {64, 2}, 8, 0).b, "past the end");  // no data
  ExpectInvalid(g.Header(1, 0).TensorInfo("w", {64, 2}, 8, 8).PadData(200).b,
                "not a multiple of the alignment");
  ExpectInvalid(g.Header(1, 0).TensorInfo("w", {33, 2}, 8, 0).PadData(200).b, "block size");
  ExpectInvalid(g.Header(1, 0).TensorInfo("w", {64}, 77, 0).PadData(200).b,
                "unsupported ggml tensor type 77");
  ExpectInvalid(g.Header(1, 0).TensorInfo("w", std::vector<uint64_t>(50, 1), 0, 0).PadData(64).b,
                "rank");
  ExpectInvalid(
      g.Header(1, 0).TensorInfo("w", {uint64_t{1} << 40, uint64_t{1} << 40}, 0, 0).PadData(64).b,
      "too large");
  ExpectInvalid(
      g.Header(2, 0).TensorInfo("a", {64}, 0, 0).TensorInfo("b", {64}, 0, 128).PadData(600).b,
      "overlap");
  ExpectInvalid(g.Header(2, 0).TensorInfo("a", {8}, 0, 0).TensorInfo("a", {8}, 0, 32).PadData(64).b,
                "duplicate");
  ExpectInvalid(g.Header(1, 0).TensorInfo("w", {64}, 0, uint64_t{1} << 63).PadData(256).b,
                "past end");
}

TEST(SafetensorsHostileTest, BadFilesAreRejectedWithReasons) {
  const std::string ok = R"({"w":{"dtype":"I8","shape":[2,4],"data_offsets":[0,8]}})";
  ASSERT_TRUE(Parse(Safetensors(ok, 8)).ok()) << Parse(Safetensors(ok, 8));
  ExpectInvalid("abc", "truncated");
  ExpectInvalid(Safetensors(ok, 8, int64_t{1} << 40), "exceeds the limit");
  ExpectInvalid(Safetensors(ok, 8, 5000), "runs past the end");
  ExpectInvalid(Safetensors(ok, 4), "outside the data section");
  ExpectInvalid(Safetensors(R"({"w":{"dtype":"I8","shape":[2,4],"data_offsets":[0,9]}})", 9),
                "need 8");
  ExpectInvalid(Safetensors(R"({"w":{"dtype":"Q8_0","shape":[32],"data_offsets":[0,34]}})", 34),
                "dtype");
  ExpectInvalid(Safetensors(R"({"w":{"dtype":"XX","shape":[1],"data_offsets":[0,1]}})", 1),
                "dtype");
  ExpectInvalid(Safetensors(R"({"w":{"dtype":"I8","shape":[-1],"data_offsets":[0,1]}})", 1),
                "shape");
  ExpectInvalid(Safetensors(R"({"a":{"dtype":"I8","shape":[8],"data_offsets":[0,8]},)"
                            R"("b":{"dtype":"I8","shape":[8],"data_offsets":[4,12]}})",
                            12),
                "overlap");
  ExpectInvalid(
      Safetensors(R"({"w":{"dtype":"I8","shape":[99999999999,99999999999],"data_offsets":[0,1]}})",
                  1),
      "overflow");
  ExpectInvalid(Safetensors(std::string(100, '[') + std::string(100, ']'), 0), "nesting too deep");
  // The depth limit is exact: kMaxJsonDepth nested arrays parse (and are not an object),
  // one more does not.
  ExpectInvalid(Safetensors(std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']'), 0),
                "not a JSON object");
  ExpectInvalid(
      Safetensors(std::string(kMaxJsonDepth + 1, '[') + std::string(kMaxJsonDepth + 1, ']'), 0),
      "nesting too deep");
  // Offsets are exact 64-bit integers: ~2^63 is read (and lies past the data), 2^63
  // and a fraction are not integers of the format.
  ExpectInvalid(Safetensors(R"({"w":{"dtype":"I8","shape":[1],)"
                            R"("data_offsets":[9223372036854775000,9223372036854775001]}})",
                            1),
                "outside the data section");
  ExpectInvalid(Safetensors(R"({"w":{"dtype":"I8","shape":[1],)"
                            R"("data_offsets":[0,9223372036854775808]}})",
                            1),
                "data_offsets must be integers");
  ExpectInvalid(Safetensors(R"({"w":{"dtype":"I8","shape":[1.0],"data_offsets":[0,1]}})", 1),
                "shape: expected a non-negative integer");
  // The header is UTF-8 (invalid bytes are refused) and is all JSON (nothing trailing).
  ExpectInvalid(Safetensors("{\"w\xff\":{}}", 0), "bad JSON");
  ExpectInvalid(Safetensors(ok + " x", 8), "bad JSON");
  ExpectInvalid(Safetensors(R"({"w":{"dtype":"I8","shape":[1],"data_offsets":[0,1]})", 1),
                "bad JSON");
}

TEST(ManifestTest, RoundTripsAndRejectsNonCanonical) {
  ModelManifest m;
  m.format = ModelFormat::kGguf;
  m.source_size = 1000;
  m.tensors.push_back({"a b\n", TensorDtype::kQ8_0, {2, 32}, 100, 68});
  m.tensors.push_back({"z", TensorDtype::kF32, {3}, 200, 12});
  std::string text = SerializeManifest(m);
  auto back = ParseManifest(text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(SerializeManifest(*back), text);
  EXPECT_EQ(back->Find("a b\n")->size, 68);
  EXPECT_FALSE(ParseManifest(text + "x\n").ok());
  EXPECT_FALSE(ParseManifest(text.substr(0, text.size() - 3)).ok());
}

// --- Real files from the PyPI writers ------------------------------------------------

class ImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* dir = std::getenv("DATANODE_TEST_MODELS");
    if (dir == nullptr) GTEST_SKIP() << "DATANODE_TEST_MODELS not set (run through ctest)";
    models_ = dir;
    root_ = fs::temp_directory_path() / ("dn_import_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    store_ = std::move(*WeightStore::Open({root_, 0, true}));
    registry_ = std::move(*ModelRegistry::Open(store_.get()));
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path models_, root_;
  std::unique_ptr<WeightStore> store_;
  std::unique_ptr<ModelRegistry> registry_;
};

TEST_F(ImportTest, PyPiWrittenFilesImportWithExactTensorBytes) {
  auto expected = JsonDocument::Parse(test_support::ReadWholeFile(models_ / "expected.json"));
  ASSERT_TRUE(expected.ok()) << expected.status();
  simdjson::dom::object files;
  ASSERT_EQ((*expected)->root().get(files), simdjson::SUCCESS);
  for (simdjson::dom::key_value_pair file_entry : files) {
    const std::string file(file_entry.key);
    simdjson::dom::object tensors;
    ASSERT_EQ(file_entry.value.get(tensors), simdjson::SUCCESS) << file;
    auto result = registry_->ImportFile(models_ / file);
    ASSERT_TRUE(result.ok()) << file << ": " << result.status();
    EXPECT_EQ(result->manifest.tensors.size(), tensors.size()) << file;
    for (simdjson::dom::key_value_pair tensor : tensors) {
      const std::string name(tensor.key);
      std::string_view dtype, sha256;
      simdjson::dom::array dims;
      ASSERT_EQ(tensor.value["dtype"].get(dtype), simdjson::SUCCESS) << name;
      ASSERT_EQ(tensor.value["shape"].get(dims), simdjson::SUCCESS) << name;
      ASSERT_EQ(tensor.value["sha256"].get(sha256), simdjson::SUCCESS) << name;
      TensorInfo info;
      auto bytes = registry_->ReadTensor(result->model, name, &info);
      ASSERT_TRUE(bytes.ok()) << file << "/" << name << ": " << bytes.status();
      EXPECT_EQ(TensorDtypeName(info.dtype), dtype) << name;
      std::vector<int64_t> shape;
      for (simdjson::dom::element d : dims) shape.push_back(*JsonNonNegativeInt(d));
      EXPECT_EQ(info.shape, shape) << name;
      EXPECT_EQ(ops::ToHex(ops::Sha256Of({ops::ByteSpan(*bytes)})), sha256) << name;
    }
    // Same file again: same model, nothing new stored.
    int64_t used = store_->used_bytes();
    auto again = registry_->ImportFile(models_ / file);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->model, result->model);
    EXPECT_EQ(store_->used_bytes(), used);
  }
  EXPECT_EQ(registry_->List().size(), 2u);
  // A reopened registry sees the same models; deleting removes their objects.
  registry_ = std::move(*ModelRegistry::Open(store_.get()));
  for (const Sha256& m : registry_->List()) ASSERT_TRUE(registry_->Delete(m).ok());
  EXPECT_TRUE(registry_->List().empty());
  EXPECT_TRUE(store_->List().empty());
  EXPECT_EQ(store_->used_bytes(), 0);
}

TEST_F(ImportTest, UnknownTensorAndModelAreNotFound) {
  auto result = registry_->ImportFile(models_ / "s8.safetensors");
  ASSERT_TRUE(result.ok()) << result.status();
  TensorInfo info;
  auto s = registry_->ReadTensor(result->model, "nope", &info).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(s.message().find("no tensor 'nope'"), std::string::npos) << s;
  EXPECT_EQ(registry_->Get(Sha256{}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(registry_->ImportFile(root_ / "missing.gguf").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(ImportTest, HostileFileIsRejectedAndStoresNothing) {
  fs::path bad = root_ / "bad.safetensors";
  std::ofstream(bad, std::ios::binary)
      << Safetensors(R"({"w":{"dtype":"I8","shape":[4],"data_offsets":[0,9]}})", 9);
  auto s = registry_->ImportFile(bad).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_TRUE(store_->List().empty());
}

}  // namespace
}  // namespace datanode::node
