// Copyright 2026 The datanode Authors.
// libFuzzer target: the tokenizer (pre-tokenizer regexes, special-token matching, BPE
// merges, byte-level decoding) on arbitrary prompt bytes, as a canister may send them.
// The vocabulary is made in memory: GPT-2's 256 byte tokens, a few merges and two
// special tokens. Byte 0 of the input picks the pre-tokenizer and add_special.
// Checks: every id is inside the vocabulary, and valid UTF-8 without special-token
// text decodes back to exactly the input.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "node/import/gguf_metadata.h"
#include "node/inference/pretokenizer.h"
#include "node/inference/tokenizer.h"

namespace {

using datanode::node::GgufMetadata;
using datanode::node::GgufType;
using datanode::node::Tokenizer;

// The raw bytes of a GGUF string array's elements (u64 length, then the bytes).
std::string StringElements(const std::vector<std::string>& strings) {
  std::string raw;
  for (const std::string& s : strings) {
    const uint64_t n = s.size();
    raw.append(reinterpret_cast<const char*>(&n), 8);
    raw.append(s);
  }
  return raw;
}

std::string U32(uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); }

// GPT-2's byte-to-code-point map: printable Latin-1 bytes map to themselves, the others
// to 256 + i in order.
std::vector<std::string> ByteTokens() {
  std::vector<std::string> tokens(256);
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    std::string utf8;
    datanode::node::AppendUtf8(printable ? b : 256 + extra++, &utf8);
    tokens[b] = utf8;
  }
  return tokens;
}

const Tokenizer* Make(const char* pre) {
  std::vector<std::string> tokens = ByteTokens();
  tokens.push_back("<|im_start|>");
  tokens.push_back("<|im_end|>");
  const std::vector<std::string> merges = {"t h", "th e", "\xC4\xA0 t", "i n", "a n"};
  for (const std::string& m : merges)
    tokens.push_back(m.substr(0, m.find(' ')) + m.substr(m.find(' ') + 1));
  std::string types;
  for (size_t i = 0; i < tokens.size(); ++i) types += U32(i == 256 || i == 257 ? 3 : 1);
  GgufMetadata md;
  md.SetString("tokenizer.ggml.model", "gpt2");
  md.SetString("tokenizer.ggml.pre", pre);
  if (!md.Add("tokenizer.ggml.tokens", GgufType::kArray, GgufType::kString, tokens.size(),
              StringElements(tokens))
           .ok() ||
      !md.Add("tokenizer.ggml.merges", GgufType::kArray, GgufType::kString, merges.size(),
              StringElements(merges))
           .ok() ||
      !md.Add("tokenizer.ggml.token_type", GgufType::kArray, GgufType::kI32, tokens.size(), types)
           .ok() ||
      !md.Add("tokenizer.ggml.eos_token_id", GgufType::kU32, GgufType::kU32, 1, U32(257)).ok()) {
    std::abort();
  }
  auto tokenizer = Tokenizer::FromGguf(md);
  if (!tokenizer.ok()) std::abort();
  return new Tokenizer(*std::move(tokenizer));
}

bool IsValidUtf8(std::string_view text) {
  std::string again;
  for (uint32_t cp : datanode::node::DecodeUtf8Lossy(text)) datanode::node::AppendUtf8(cp, &again);
  return again == text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Tokenizer* smollm = Make("smollm");
  static const Tokenizer* llama_bpe = Make("llama-bpe");
  if (size == 0) return 0;
  const Tokenizer& tokenizer = (data[0] & 1) ? *llama_bpe : *smollm;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::vector<int32_t> ids = tokenizer.Encode(text, (data[0] & 2) != 0);
  for (int32_t id : ids) {
    if (id < 0 || id >= tokenizer.vocab_size()) std::abort();
  }
  const std::string decoded = tokenizer.Decode(ids);
  if ((data[0] & 2) == 0 && text.find("<|") == std::string_view::npos && IsValidUtf8(text) &&
      decoded != text) {
    std::abort();
  }
  return 0;
}
