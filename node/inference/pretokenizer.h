// Copyright 2026 The datanode Authors.
//
// The pre-tokenizer of a GPT-2-style BPE vocabulary: splits text into the words that
// BPE then merges, the way llama.cpp does for the pre-tokenizer a GGUF names in
// tokenizer.ggml.pre (llama.cpp's llama-vocab.cpp and unicode.cpp are the reference;
// our ids must equal theirs).
//
// Text is bytes, not necessarily valid UTF-8. It is read into code points exactly as
// llama.cpp reads it: each byte that does not start a complete sequence becomes
// U+FFFD, and overlong forms and surrogates are decoded as they stand (llama.cpp
// checks only the continuation bits). A word's bytes are the UTF-8 of its code points,
// so an invalid byte comes out as EF BF BD. The one divergence: a sequence that
// decodes above U+10FFFF (F4 90.. and F5-F7 leads), which llama.cpp cannot re-encode
// and throws on, becomes U+FFFD here.
//
// The character classes are llama.cpp's: \p{L} and \p{N} as RE2 knows them (Debian
// 12's RE2, Unicode 14) plus the letters Unicode 15.1 added (CJK Extension I,
// U+2EBF0..U+2EE5D), which llama.cpp's tables have; whitespace is llama.cpp's set of
// 25 code points (\t \n \v \f \r, space, U+0085, U+00A0, U+1680, U+2000..U+200A,
// U+2028, U+2029, U+202F, U+205F, U+3000), not RE2's ASCII-only \s. Checked over every
// code point against llama.cpp's unicode tables (bench/peer/unicode_classes_check.cc):
// no other difference.
//
// Thread-safe after construction (RE2 objects are).
#ifndef DATANODE_NODE_INFERENCE_PRETOKENIZER_H_
#define DATANODE_NODE_INFERENCE_PRETOKENIZER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace re2 {
class RE2;
}

namespace datanode::node {

// llama.cpp's classes as RE2 class bodies (to go inside [...]): whitespace, \p{L}, \p{N}.
// bench/peer/unicode_classes_check.cc compares them with llama.cpp's tables for every
// code point.
extern const char kLlamaWhitespaceClass[];
extern const char kLlamaLetterClass[];
extern const char kLlamaNumberClass[];

// Code points of `text`, read as llama.cpp's unicode_cpts_from_utf8 reads them (see
// above). Never fails.
std::vector<uint32_t> DecodeUtf8Lossy(std::string_view text);
// Appends the UTF-8 of `cp` (<= 0x10FFFF, surrogates included, as llama.cpp writes
// them); anything larger is written as U+FFFD.
void AppendUtf8(uint32_t cp, std::string* out);

class PreTokenizer {
 public:
  // `pre` is tokenizer.ggml.pre: "smollm", or "llama-bpe" (also spelled "llama3" and
  // "llama-v3" in llama.cpp). UNIMPLEMENTED naming any other.
  static absl::StatusOr<PreTokenizer> ForName(std::string_view pre);

  // The words of `text`, in order; their concatenation is the text with each code
  // point re-encoded (see above). Work is linear in the text's length per pass.
  std::vector<std::string> Split(std::string_view text) const;

  const std::string& name() const { return name_; }
  // llama.cpp's ignore_merges: a word that is itself in the vocabulary becomes that
  // token without BPE (true for llama-bpe).
  bool ignore_merges() const { return ignore_merges_; }
  // The default of tokenizer.ggml.add_bos_token for this pre-tokenizer in llama.cpp.
  bool default_add_bos() const { return default_add_bos_; }

 private:
  // One regex of llama.cpp's list, applied to every piece the previous one left.
  struct Pass {
    std::shared_ptr<const re2::RE2> re;
    // The regex ends in "|(\s+)": the hand-made stand-in for "\s+(?!\S)|\s+", whose
    // lookahead RE2 cannot express (RE2 guarantees linear time, so it has no
    // lookaround). When that group matched a run of k > 1 whitespace code points
    // followed by more text in the piece, only k - 1 are taken: exactly what
    // \s+(?!\S) would match, leaving the last whitespace to start the next word.
    bool whitespace_group = false;
  };

  std::string name_;
  std::vector<Pass> passes_;
  bool ignore_merges_ = false;
  bool default_add_bos_ = false;
};

}  // namespace datanode::node

#endif  // DATANODE_NODE_INFERENCE_PRETOKENIZER_H_
