// Copyright 2026 The datanode Authors.
//
// The tokenizer of a llama-family GGUF: GPT-2 byte-level BPE ("gpt2" in
// tokenizer.ggml.model) with the pre-tokenizer the file names (pretokenizer.h). Its
// contract is llama.cpp's: Encode gives the ids llama.cpp's llama_tokenize gives with
// parse_special = true (what llama-tokenize does), for any bytes, valid UTF-8 or not;
// tests/inference/tokenizer_test.cc checks that on a corpus against llama-tokenize.
//
// What is read from the metadata:
//   tokenizer.ggml.model    "gpt2" (UNIMPLEMENTED otherwise)
//   tokenizer.ggml.pre      the pre-tokenizer (UNIMPLEMENTED for unknown names)
//   tokenizer.ggml.tokens   the vocabulary (<= kMaxVocab entries)
//   tokenizer.ggml.merges   "left right" pairs, rank = index (<= kMaxMerges)
//   tokenizer.ggml.token_type  optional; 3 = control, 4 = user-defined, 2 = unknown
//   tokenizer.ggml.{bos,eos,eot,eom,fim_pad,fim_rep,fim_sep}_token_id  optional
//   tokenizer.ggml.add_bos_token / add_eos_token  optional
// Like llama.cpp, token texts that name end-of-turn and fill-in-middle tokens
// ("<|im_end|>", "<|eot_id|>", "<reponame>", ...) make those tokens control tokens, and
// the end-of-generation set (IsEog) is eos, eot, eom, fim pad/rep/sep and every token
// whose text is on llama.cpp's end-of-generation list. Where llama.cpp picks one of
// several candidate texts by hash-map order, the lowest id is taken here.
//
// Immutable after FromGguf; all methods are thread-safe.
#ifndef DATANODE_NODE_INFERENCE_TOKENIZER_H_
#define DATANODE_NODE_INFERENCE_TOKENIZER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "node/import/gguf_metadata.h"
#include "node/inference/pretokenizer.h"

namespace datanode::node {

class Tokenizer {
 public:
  static constexpr int32_t kNoToken = -1;
  // Bounds on hostile metadata (Llama 3 has 128256 tokens and 280147 merges).
  static constexpr uint64_t kMaxVocab = 1 << 20;
  static constexpr uint64_t kMaxMerges = 1 << 21;

  // NOT_FOUND naming a missing required key, INVALID_ARGUMENT naming a malformed one,
  // UNIMPLEMENTED for another tokenizer model or pre-tokenizer.
  static absl::StatusOr<Tokenizer> FromGguf(const GgufMetadata& metadata);

  // The ids of `text`. Control, user-defined and unknown-type tokens written in the text
  // (e.g. "<|im_start|>") become those tokens; everything else goes through the
  // pre-tokenizer and BPE. With add_special, BOS is put first if the file asks for it
  // (add_bos_token) and EOS last if it asks for that (add_eos_token). Work: the
  // special-token scan is one substring search per special token (O(n * S) typically,
  // O(n * S * L) at worst for S special tokens of up to L bytes: callers bound n, e.g.
  // by the context length), then O(n log n) for BPE. Special tokens of equal length are
  // tried in id order (llama.cpp's order among them is unspecified; it matters only if
  // two of them can overlap in a text, which "<...>"-style tokens cannot).
  std::vector<int32_t> Encode(std::string_view text, bool add_special) const;

  // The bytes a token stands for: GPT-2 byte-level decoding for normal tokens; the text
  // itself for control, user-defined and unknown tokens (llama.cpp's token_to_piece
  // with special = true). Empty for an id out of range. A code point that is no
  // byte of the GPT-2 alphabet comes out as llama.cpp writes it, "[UNK_BYTE_0x..]".
  std::string TokenToPiece(int32_t id) const;
  // Concatenated pieces (no space clean-up).
  std::string Decode(const std::vector<int32_t>& ids) const;

  int32_t vocab_size() const { return static_cast<int32_t>(texts_.size()); }
  int32_t bos_id() const { return bos_; }  // kNoToken if none
  int32_t eos_id() const { return eos_; }  // kNoToken if none
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }
  // End of generation: a generated token that ends the turn.
  bool IsEog(int32_t id) const;
  const std::vector<int32_t>& eog_ids() const { return eog_; }  // ascending
  bool IsControl(int32_t id) const;
  const std::string& TokenText(int32_t id) const;  // as stored (byte-level alphabet)
  const PreTokenizer& pre_tokenizer() const { return pre_; }

 private:
  explicit Tokenizer(PreTokenizer pre) : pre_(std::move(pre)) {}
  int32_t TextToId(std::string_view text) const;
  // BPE on one pre-tokenized word (already in the byte-level alphabet).
  void EncodeWord(const std::string& word, std::vector<int32_t>* out) const;
  int32_t MergeRank(std::string_view left, std::string_view right) const;

  PreTokenizer pre_;
  std::vector<std::string> texts_;
  std::vector<uint8_t> attrs_;  // kAttr* bits (tokenizer.cc)
  absl::flat_hash_map<std::string, int32_t> ids_;
  absl::flat_hash_map<std::string, int32_t> ranks_;  // key: MergeKey(left, right)
  std::vector<int32_t> specials_;                    // matched in text, longest first
  std::vector<int32_t> eog_;
  int32_t bos_ = kNoToken;
  int32_t eos_ = kNoToken;
  bool add_bos_ = false;
  bool add_eos_ = false;
};

}  // namespace datanode::node

#endif  // DATANODE_NODE_INFERENCE_TOKENIZER_H_
