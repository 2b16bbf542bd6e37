// Copyright 2026 The datanode Authors.
//
// Pre-tokenizer regexes, from llama.cpp's llm_tokenizer_bpe (llama-vocab.cpp), in RE2
// syntax with llama.cpp's character classes spelled out (see the header).
#include "node/inference/pretokenizer.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "re2/re2.h"

namespace datanode::node {
namespace {

// llama.cpp's whitespace (unicode_set_whitespace), letters and numbers, for use inside
// a character class.
#define DN_WS \
  R"(\t\n\x0B\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})"
#define DN_L R"(\p{L}\x{2EBF0}-\x{2EE5D})"
#define DN_N R"(\p{N})"

// GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// (llama.cpp's list for smollm omits the final \s+, but its hand-written matcher,
// unicode_regex_split_custom_gpt2, has it; the words come out the same either way).
constexpr char kGpt2[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?[" DN_L "]+| ?[" DN_N "]+| ?[^" DN_WS DN_L DN_N "]+|([" DN_WS "]+)";
// Llama 3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//          ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
constexpr char kLlama3[] =
    "'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]|[^\\r\\n" DN_L DN_N "]?[" DN_L
    "]+|[" DN_N "]{1,3}| ?[^" DN_WS DN_L DN_N "]+[\\r\\n]*|[" DN_WS "]*[\\r\\n]+|([" DN_WS "]+)";
// smollm first isolates every digit.
constexpr char kDigit[] = "[" DN_N "]";

}  // namespace

const char kLlamaWhitespaceClass[] = DN_WS;
const char kLlamaLetterClass[] = DN_L;
const char kLlamaNumberClass[] = DN_N;

#undef DN_WS
#undef DN_L
#undef DN_N

std::vector<uint32_t> DecodeUtf8Lossy(std::string_view text) {
  std::vector<uint32_t> out;
  out.reserve(text.size());
  const size_t n = text.size();
  auto byte = [&text](size_t i) { return static_cast<uint8_t>(text[i]); };
  auto cont = [&](size_t i) { return i < n && (byte(i) & 0xC0) == 0x80; };
  size_t i = 0;
  while (i < n) {
    const uint8_t b0 = byte(i);
    if ((b0 & 0x80) == 0) {
      out.push_back(b0);
      i += 1;
    } else if ((b0 & 0x40) == 0) {  // a continuation byte where a sequence must start
      out.push_back(0xFFFD);
      i += 1;
    } else if ((b0 & 0x20) == 0) {
      if (!cont(i + 1)) {
        out.push_back(0xFFFD);
        i += 1;
        continue;
      }
      out.push_back(((b0 & 0x1Fu) << 6) | (byte(i + 1) & 0x3Fu));
      i += 2;
    } else if ((b0 & 0x10) == 0) {
      if (!cont(i + 1) || !cont(i + 2)) {
        out.push_back(0xFFFD);
        i += 1;
        continue;
      }
      out.push_back(((b0 & 0x0Fu) << 12) | ((byte(i + 1) & 0x3Fu) << 6) | (byte(i + 2) & 0x3Fu));
      i += 3;
    } else if ((b0 & 0x08) == 0) {
      if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) {
        out.push_back(0xFFFD);
        i += 1;
        continue;
      }
      const uint32_t cp = ((b0 & 0x07u) << 18) | ((byte(i + 1) & 0x3Fu) << 12) |
                          ((byte(i + 2) & 0x3Fu) << 6) | (byte(i + 3) & 0x3Fu);
      out.push_back(cp <= 0x10FFFF ? cp : 0xFFFD);  // the documented divergence
      i += 4;
    } else {  // F8..FF start nothing
      out.push_back(0xFFFD);
      i += 1;
    }
  }
  return out;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp > 0x10FFFF) cp = 0xFFFD;
  if (cp <= 0x7F) {
    out->push_back(static_cast<char>(cp));
  } else if (cp <= 0x7FF) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp <= 0xFFFF) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

absl::StatusOr<PreTokenizer> PreTokenizer::ForName(std::string_view pre) {
  PreTokenizer p;
  p.name_ = std::string(pre);
  std::vector<std::pair<const char*, bool>> regexes;
  if (pre == "smollm") {
    regexes = {{kDigit, false}, {kGpt2, true}};
  } else if (pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3") {
    regexes = {{kLlama3, true}};
    p.ignore_merges_ = true;
    p.default_add_bos_ = true;
  } else {
    return absl::UnimplementedError(
        absl::StrCat("pre-tokenizer '", std::string(pre.substr(0, 64)),
                     "' (tokenizer.ggml.pre) is not implemented; known: smollm, llama-bpe"));
  }
  RE2::Options options;
  options.set_log_errors(false);
  for (const auto& [pattern, whitespace_group] : regexes) {
    auto re = std::make_shared<const RE2>(pattern, options);
    if (!re->ok()) {
      return absl::InternalError(
          absl::StrCat("pre-tokenizer regex does not compile: ", re->error()));
    }
    p.passes_.push_back(Pass{std::move(re), whitespace_group});
  }
  return p;
}

std::vector<std::string> PreTokenizer::Split(std::string_view text) const {
  const std::vector<uint32_t> cps = DecodeUtf8Lossy(text);
  const uint32_t n = static_cast<uint32_t>(cps.size());
  // RE2 reads valid UTF-8 only, so it sees surrogates as U+FFFD: like a surrogate,
  // that is in none of the classes.
  std::string proxy;
  proxy.reserve(text.size() + 3);
  std::vector<size_t> start(n + 1);  // byte offset of each code point in `proxy`
  for (uint32_t i = 0; i < n; ++i) {
    start[i] = proxy.size();
    const uint32_t c = cps[i];
    AppendUtf8(c >= 0xD800 && c <= 0xDFFF ? 0xFFFD : c, &proxy);
  }
  start[n] = proxy.size();
  auto to_cp = [&start](size_t byte) {
    return static_cast<uint32_t>(std::lower_bound(start.begin(), start.end(), byte) -
                                 start.begin());
  };

  // Pieces as code point ranges [begin, end); each pass splits every piece further,
  // keeping the text between matches as pieces too (llama.cpp's unicode_regex_split).
  std::vector<std::pair<uint32_t, uint32_t>> pieces;
  if (n > 0) pieces.emplace_back(0, n);
  for (const Pass& pass : passes_) {
    std::vector<std::pair<uint32_t, uint32_t>> next;
    next.reserve(pieces.size() * 2);
    for (const auto& [b, e] : pieces) {
      const re2::StringPiece sub(proxy.data() + start[b], start[e] - start[b]);
      re2::StringPiece groups[2];
      const int ngroups = pass.whitespace_group ? 2 : 1;
      size_t pos = 0;
      uint32_t last = b;
      while (pos < sub.size() &&
             pass.re->Match(sub, pos, sub.size(), RE2::UNANCHORED, groups, ngroups)) {
        const size_t mb = static_cast<size_t>(groups[0].data() - sub.data());
        const uint32_t cb = to_cp(start[b] + mb);
        uint32_t ce = to_cp(start[b] + mb + groups[0].size());
        if (ce == cb) {  // no pattern here matches empty; step on to stay linear
          pos = start[cb + 1] - start[b];
          continue;
        }
        if (pass.whitespace_group && groups[1].data() != nullptr && ce - cb > 1 && ce < e) {
          --ce;  // \s+(?!\S): leave the last whitespace to the next word
        }
        if (cb > last) next.emplace_back(last, cb);
        next.emplace_back(cb, ce);
        last = ce;
        pos = start[ce] - start[b];
      }
      if (last < e) next.emplace_back(last, e);
    }
    pieces = std::move(next);
  }

  std::vector<std::string> words;
  words.reserve(pieces.size());
  for (const auto& [b, e] : pieces) {
    std::string w;
    for (uint32_t i = b; i < e; ++i) AppendUtf8(cps[i], &w);
    words.push_back(std::move(w));
  }
  return words;
}

}  // namespace datanode::node
