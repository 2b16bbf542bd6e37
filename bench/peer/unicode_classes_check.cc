// Copyright 2026 The datanode Authors.
//
// Checks the pre-tokenizer's character classes (node/inference/pretokenizer.h) against
// llama.cpp's own Unicode tables (the peer's src/unicode.cpp), for every code point
// outside the surrogates: whitespace, letters (\p{L}) and numbers (\p{N}) must agree
// exactly, or the token ids could differ. Built and run by build-llama-cpp.sh against
// the peer outside this repository; exits 1 on any difference.
#include <cstdio>
#include <string>

#include "node/inference/pretokenizer.h"
#include "re2/re2.h"
#include "unicode.h"  // llama.cpp

int main() {
  using datanode::node::AppendUtf8;
  const RE2 ws(std::string("[") + datanode::node::kLlamaWhitespaceClass + "]");
  const RE2 letter(std::string("[") + datanode::node::kLlamaLetterClass + "]");
  const RE2 number(std::string("[") + datanode::node::kLlamaNumberClass + "]");
  static const char* const kNames[3] = {"space", "letter", "number"};
  int diffs = 0;
  for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    std::string s;
    AppendUtf8(cp, &s);
    const unicode_cpt_flags f = unicode_cpt_flags_from_cpt(cp);
    const bool ours[3] = {RE2::FullMatch(s, ws), RE2::FullMatch(s, letter),
                          RE2::FullMatch(s, number)};
    const bool theirs[3] = {f.is_whitespace != 0, f.is_letter != 0, f.is_number != 0};
    for (int k = 0; k < 3; ++k) {
      if (ours[k] != theirs[k] && diffs++ < 20) {
        std::printf("U+%04X %s: ours %d, llama.cpp %d\n", cp, kNames[k], ours[k], theirs[k]);
      }
    }
  }
  std::printf("%d differences over all code points\n", diffs);
  return diffs == 0 ? 0 : 1;
}
