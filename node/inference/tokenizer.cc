// Copyright 2026 The datanode Authors.
//
// GPT-2 byte-level BPE as llama.cpp's llm_tokenizer_bpe_session runs it, and the
// vocabulary set-up of llama_vocab::impl::load (special tokens, end of generation).
#include "node/inference/tokenizer.h"

#include <algorithm>
#include <array>
#include <queue>
#include <utility>

#include "absl/strings/str_cat.h"
#include "datanode/ops/status_macros.h"
#include "datanode/util/hex.h"

namespace datanode::node {
namespace {

// Token attributes (llama_token_attr's meaning, our own bit values).
constexpr uint8_t kAttrNormal = 1;
constexpr uint8_t kAttrUnknown = 2;
constexpr uint8_t kAttrControl = 4;
constexpr uint8_t kAttrUserDefined = 8;
constexpr uint8_t kAttrUnused = 16;
constexpr uint8_t kAttrByte = 32;
constexpr uint8_t kAttrSpecial = kAttrUnknown | kAttrControl | kAttrUserDefined;

// GPT-2's bytes_to_unicode: printable bytes stand for themselves, the other 68 bytes
// for U+0100.. in order, so that every byte is a visible character.
struct ByteAlphabet {
  std::array<std::string, 256> encode;
  std::array<int16_t, 0x144> decode;  // code point -> byte, -1 if none
  ByteAlphabet() {
    decode.fill(-1);
    uint32_t extra = 0;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      const uint32_t cp = printable ? b : 0x100 + extra++;
      AppendUtf8(cp, &encode[b]);
      decode[cp] = static_cast<int16_t>(b);
    }
  }
};
const ByteAlphabet& Alphabet() {
  static const ByteAlphabet* const kAlphabet = new ByteAlphabet();
  return *kAlphabet;
}

// A merge's key: unambiguous for any two strings (the left length comes first).
std::string MergeKey(std::string_view left, std::string_view right) {
  std::string key;
  key.reserve(4 + left.size() + right.size());
  const uint32_t n = static_cast<uint32_t>(left.size());
  key.append(reinterpret_cast<const char*>(&n), 4);
  key.append(left);
  key.append(right);
  return key;
}

// llama.cpp's lists of texts that name special tokens (llama-vocab.cpp, load()).
constexpr std::string_view kEotTexts[] = {
    "<|eot_id|>",        "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
    "<|end_of_text|>",   "<EOT>",      "_<EOT>",  "[EOT]",         "<｜end▁of▁sentence｜>",
    "<end_of_utterance>"};
constexpr std::string_view kEomTexts[] = {"<|eom_id|>"};
constexpr std::string_view kFimPreTexts[] = {"<|fim_prefix|>",  "<fim-prefix>", "<fim_prefix>",
                                             "<｜fim▁begin｜>", "<PRE>",        "▁<PRE>",
                                             "<|code_prefix|>", "<|prefix|>"};
constexpr std::string_view kFimSufTexts[] = {"<|fim_suffix|>",  "<fim-suffix>", "<fim_suffix>",
                                             "<｜fim▁hole｜>",  "<SUF>",        "▁<SUF>",
                                             "<|code_suffix|>", "<|suffix|>"};
constexpr std::string_view kFimMidTexts[] = {"<|fim_middle|>",  "<fim-middle>", "<fim_middle>",
                                             "<｜fim▁end｜>",   "<MID>",        "▁<MID>",
                                             "<|code_middle|>", "<|middle|>"};
constexpr std::string_view kFimPadTexts[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>",
                                             "[PAD]"};
constexpr std::string_view kFimRepTexts[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>",
                                             "<REPO>", "<reponame>"};
constexpr std::string_view kFimSepTexts[] = {"<|file_sep|>"};
constexpr std::string_view kEogTexts[] = {"<|eot_id|>",
                                          "<|im_end|>",
                                          "<|end|>",
                                          "<|return|>",
                                          "<|call|>",
                                          "<|flush|>",
                                          "<|calls|>",
                                          "<end_of_turn>",
                                          "<|endoftext|>",
                                          "</s>",
                                          "<|eom_id|>",
                                          "<EOT>",
                                          "_<EOT>",
                                          "[EOT]",
                                          "[EOS]",
                                          "<|end_of_text|>",
                                          "<end_of_utterance>",
                                          "<eos>",
                                          "<turn|>",
                                          "<|tool_response>",
                                          "<｜end▁of▁sentence｜>",
                                          "[e~["};
constexpr std::string_view kUserDefinedTexts[] = {"<|channel|>", "<|message|>", "<|start|>",
                                                  "<|constrain|>"};

template <size_t N>
bool OneOf(std::string_view text, const std::string_view (&list)[N]) {
  return std::find(std::begin(list), std::end(list), text) != std::end(list);
}

}  // namespace

absl::StatusOr<Tokenizer> Tokenizer::FromGguf(const GgufMetadata& md) {
  const absl::StatusOr<std::string> model = md.GetString("tokenizer.ggml.model");
  if (!model.ok()) return model.status();
  if (*model != "gpt2") {
    return absl::UnimplementedError(absl::StrCat("tokenizer model '", model->substr(0, 64),
                                                 "' (tokenizer.ggml.model) is not implemented; "
                                                 "known: gpt2"));
  }
  ASSIGN_OR_RETURN(std::string pre_name, md.GetString("tokenizer.ggml.pre"));
  ASSIGN_OR_RETURN(PreTokenizer pre, PreTokenizer::ForName(pre_name));
  Tokenizer t(std::move(pre));

  // Vocabulary. Counts are checked before anything is decoded.
  ASSIGN_OR_RETURN(uint64_t n_vocab, md.ArrayLength("tokenizer.ggml.tokens"));
  if (n_vocab == 0 || n_vocab > kMaxVocab) {
    return absl::InvalidArgumentError(absl::StrCat("tokenizer.ggml.tokens has ", n_vocab,
                                                   " entries; 1 to ", kMaxVocab, " allowed"));
  }
  ASSIGN_OR_RETURN(t.texts_, md.GetStringArray("tokenizer.ggml.tokens"));
  const int32_t n = static_cast<int32_t>(t.texts_.size());
  t.attrs_.assign(n, kAttrNormal);
  if (md.Has("tokenizer.ggml.token_type")) {
    ASSIGN_OR_RETURN(std::vector<int32_t> types, md.GetI32Array("tokenizer.ggml.token_type"));
    if (types.size() < t.texts_.size()) {
      return absl::InvalidArgumentError(absl::StrCat("tokenizer.ggml.token_type has ", types.size(),
                                                     " entries for ", n, " tokens"));
    }
    for (int32_t i = 0; i < n; ++i) {
      switch (types[i]) {
        case 1:
          t.attrs_[i] = kAttrNormal;
          break;
        case 2:
          t.attrs_[i] = kAttrUnknown;
          break;
        case 3:
          t.attrs_[i] = kAttrControl;
          break;
        case 4:
          t.attrs_[i] = kAttrUserDefined;
          break;
        case 5:
          t.attrs_[i] = kAttrUnused;
          break;
        case 6:
          t.attrs_[i] = kAttrByte;
          break;
        default:
          t.attrs_[i] = 0;
          break;  // undefined: no piece, never matched
      }
    }
  }
  t.ids_.reserve(n);
  for (int32_t i = 0; i < n; ++i) {
    // llama.cpp renames empty tokens, so that no empty text is ever matched.
    if (t.texts_[i].empty()) t.texts_[i] = absl::StrCat("[EMPTY_", i, "]");
    t.ids_.insert_or_assign(t.texts_[i], i);  // a repeated text names its last id
  }

  // Merges: "left right", split at the first space after the first byte; the first
  // occurrence of a pair sets its rank.
  ASSIGN_OR_RETURN(uint64_t n_merges, md.ArrayLength("tokenizer.ggml.merges"));
  if (n_merges > kMaxMerges) {
    return absl::InvalidArgumentError(absl::StrCat("tokenizer.ggml.merges has ", n_merges,
                                                   " entries; at most ", kMaxMerges, " allowed"));
  }
  ASSIGN_OR_RETURN(std::vector<std::string> merges, md.GetStringArray("tokenizer.ggml.merges"));
  t.ranks_.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string_view m = merges[i];
    const size_t space = m.find(' ', 1);
    const std::string_view left = space == std::string_view::npos ? "" : m.substr(0, space);
    const std::string_view right = space == std::string_view::npos ? "" : m.substr(space + 1);
    t.ranks_.try_emplace(MergeKey(left, right), static_cast<int32_t>(i));
  }

  // Special ids: llama.cpp's defaults for gpt2 (11), then the metadata's, if in range.
  auto in_range = [n](int64_t id) { return id >= 0 && id < n; };
  int32_t eot = kNoToken, eom = kNoToken, fim_pre = kNoToken, fim_suf = kNoToken,
          fim_mid = kNoToken, fim_pad = kNoToken, fim_rep = kNoToken, fim_sep = kNoToken;
  t.bos_ = in_range(11) ? 11 : kNoToken;
  t.eos_ = in_range(11) ? 11 : kNoToken;
  const std::pair<const char*, int32_t*> special_keys[] = {
      {"tokenizer.ggml.bos_token_id", &t.bos_},      {"tokenizer.ggml.eos_token_id", &t.eos_},
      {"tokenizer.ggml.eot_token_id", &eot},         {"tokenizer.ggml.eom_token_id", &eom},
      {"tokenizer.ggml.fim_pre_token_id", &fim_pre}, {"tokenizer.ggml.fim_suf_token_id", &fim_suf},
      {"tokenizer.ggml.fim_mid_token_id", &fim_mid}, {"tokenizer.ggml.fim_pad_token_id", &fim_pad},
      {"tokenizer.ggml.fim_rep_token_id", &fim_rep}, {"tokenizer.ggml.fim_sep_token_id", &fim_sep},
  };
  for (const auto& [key, id] : special_keys) {
    if (!md.Has(key)) continue;
    ASSIGN_OR_RETURN(uint64_t v, md.GetUint(key));
    if (in_range(static_cast<int64_t>(std::min<uint64_t>(v, INT32_MAX)))) {
      *id = static_cast<int32_t>(v);
    }  // else llama.cpp keeps the default, and so do we
  }
  t.add_bos_ = t.pre_.default_add_bos();
  if (md.Has("tokenizer.ggml.add_bos_token")) {
    ASSIGN_OR_RETURN(t.add_bos_, md.GetBool("tokenizer.ggml.add_bos_token"));
  }
  if (md.Has("tokenizer.ggml.add_eos_token")) {
    ASSIGN_OR_RETURN(t.add_eos_, md.GetBool("tokenizer.ggml.add_eos_token"));
  }

  // Tokens found by their text (llama.cpp walks a hash map; we walk ids upwards, so
  // among several candidates the lowest id wins). Each one found becomes a control
  // token.
  auto distinct = [&t](int32_t i) { return t.ids_.find(t.texts_[i])->second == i; };
  auto detect = [&](int32_t* id, auto& list) {
    for (int32_t i = 0; i < n && *id == kNoToken; ++i) {
      if (distinct(i) && OneOf(t.texts_[i], list)) {
        *id = i;
        t.attrs_[i] |= kAttrControl;
      }
    }
  };
  detect(&eot, kEotTexts);
  detect(&eom, kEomTexts);
  detect(&fim_pre, kFimPreTexts);
  detect(&fim_suf, kFimSufTexts);
  detect(&fim_mid, kFimMidTexts);
  detect(&fim_pad, kFimPadTexts);
  detect(&fim_rep, kFimRepTexts);
  detect(&fim_sep, kFimSepTexts);
  for (int32_t i = 0; i < n; ++i) {
    if ((t.attrs_[i] & kAttrControl) && t.texts_[i].find("unused") != std::string::npos) {
      t.attrs_[i] |= kAttrUnused;
    }
  }

  // End of generation.
  std::vector<int32_t> eog;
  for (int32_t id : {fim_pad, fim_rep, fim_sep, t.eos_, eot, eom}) {
    if (id != kNoToken) eog.push_back(id);
  }
  for (int32_t i = 0; i < n; ++i) {
    if (distinct(i) && OneOf(t.texts_[i], kEogTexts)) {
      eog.push_back(i);
      t.attrs_[i] |= kAttrControl;
    }
  }
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
  t.eog_ = std::move(eog);
  for (int32_t i = 0; i < n; ++i) {
    if (distinct(i) && OneOf(t.texts_[i], kUserDefinedTexts)) t.attrs_[i] = kAttrUserDefined;
  }

  // Tokens matched in the text before pre-tokenization, longest text first.
  for (int32_t i = 0; i < n; ++i) {
    if (t.attrs_[i] & kAttrSpecial) t.specials_.push_back(i);
  }
  std::stable_sort(t.specials_.begin(), t.specials_.end(),
                   [&t](int32_t a, int32_t b) { return t.texts_[a].size() > t.texts_[b].size(); });
  return t;
}

int32_t Tokenizer::TextToId(std::string_view text) const {
  // Debian's abseil has its own string_view, which the heterogeneous lookup needs.
  auto it = ids_.find(absl::string_view(text.data(), text.size()));
  return it == ids_.end() ? kNoToken : it->second;
}

int32_t Tokenizer::MergeRank(std::string_view left, std::string_view right) const {
  auto it = ranks_.find(MergeKey(left, right));
  return it == ranks_.end() ? -1 : it->second;
}

void Tokenizer::EncodeWord(const std::string& word, std::vector<int32_t>* out) const {
  if (pre_.ignore_merges()) {
    if (int32_t id = TextToId(word); id != kNoToken) {
      out->push_back(id);
      return;
    }
  }
  // Symbols start as the word's characters (UTF-8 lengths from the lead byte, cut at
  // the end of the word, as llama.cpp does).
  struct Symbol {
    uint32_t begin, len;
    int32_t prev, next;
  };
  std::vector<Symbol> syms;
  for (uint32_t pos = 0; pos < word.size();) {
    static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    const uint32_t len = std::min<uint32_t>(kLen[static_cast<uint8_t>(word[pos]) >> 4],
                                            static_cast<uint32_t>(word.size()) - pos);
    const int32_t idx = static_cast<int32_t>(syms.size());
    syms.push_back({pos, len, idx - 1, pos + len == word.size() ? -1 : idx + 1});
    pos += len;
  }
  // Lowest rank first, then leftmost. A pair is stale once either side has changed
  // length (a symbol's start never moves, so equal lengths mean equal text).
  struct Pair {
    int32_t rank, left, right;
    uint32_t left_len, right_len;
  };
  auto later = [](const Pair& a, const Pair& b) {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  };
  std::priority_queue<Pair, std::vector<Pair>, decltype(later)> queue(later);
  const std::string_view w = word;
  auto add_pair = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = syms[left];
    const Symbol& r = syms[right];
    const int32_t rank = MergeRank(w.substr(l.begin, l.len), w.substr(r.begin, r.len));
    if (rank >= 0) queue.push({rank, left, right, l.len, r.len});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(syms.size()); ++i) add_pair(i - 1, i);
  // Each merge removes a symbol and adds at most two pairs: O(n log n) per word.
  while (!queue.empty()) {
    const Pair p = queue.top();
    queue.pop();
    Symbol& l = syms[p.left];
    Symbol& r = syms[p.right];
    if (l.len == 0 || r.len == 0 || l.len != p.left_len || r.len != p.right_len) continue;
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) syms[r.next].prev = p.left;
    add_pair(l.prev, p.left);
    add_pair(p.left, l.next);
  }
  for (const Symbol& s : syms) {
    if (s.len == 0) continue;
    const std::string_view piece = w.substr(s.begin, s.len);
    if (int32_t id = TextToId(piece); id != kNoToken) {
      out->push_back(id);
      continue;
    }
    // Not in the vocabulary: llama.cpp falls back to one token per byte of the piece's
    // text, and drops a byte that has none.
    for (char c : piece) {
      if (int32_t id = TextToId(std::string_view(&c, 1)); id != kNoToken) out->push_back(id);
    }
  }
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, bool add_special) const {
  // Fragments: a special token, or a stretch [begin, end) of raw text.
  struct Fragment {
    int32_t token;  // kNoToken for raw text
    size_t begin, end;
  };
  std::vector<Fragment> frags;
  if (!text.empty()) frags.push_back({kNoToken, 0, text.size()});
  // Like llama.cpp's tokenizer_st_partition: for each special token, longest first,
  // split every raw stretch at each of its occurrences, left to right.
  std::vector<Fragment> next;
  for (int32_t special : specials_) {
    const std::string& s = texts_[special];
    next.clear();
    for (const Fragment& f : frags) {
      if (f.token != kNoToken) {
        next.push_back(f);
        continue;
      }
      size_t pos = f.begin;
      while (pos < f.end) {
        const size_t hit = text.substr(0, f.end).find(s, pos);
        if (hit == std::string_view::npos) break;
        if (hit > pos) next.push_back({kNoToken, pos, hit});
        next.push_back({special, hit, hit + s.size()});
        pos = hit + s.size();
      }
      if (pos < f.end) next.push_back({kNoToken, pos, f.end});
    }
    frags.swap(next);
  }

  std::vector<int32_t> out;
  if (add_special && add_bos_ && bos_ != kNoToken) out.push_back(bos_);
  const ByteAlphabet& alphabet = Alphabet();
  std::string encoded;
  for (const Fragment& f : frags) {
    if (f.token != kNoToken) {
      out.push_back(f.token);
      continue;
    }
    for (const std::string& word : pre_.Split(text.substr(f.begin, f.end - f.begin))) {
      encoded.clear();
      for (char c : word) encoded += alphabet.encode[static_cast<uint8_t>(c)];
      EncodeWord(encoded, &out);
    }
  }
  if (add_special && add_eos_ && eos_ != kNoToken) out.push_back(eos_);
  return out;
}

std::string Tokenizer::TokenToPiece(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return "";
  const std::string& text = texts_[id];
  const uint8_t attr = attrs_[id];
  if (attr & kAttrSpecial) return text;
  if (attr & kAttrNormal) {
    // llama.cpp's llama_decode_text.
    const ByteAlphabet& alphabet = Alphabet();
    std::string out;
    for (uint32_t cp : DecodeUtf8Lossy(text)) {
      if (cp < alphabet.decode.size() && alphabet.decode[cp] >= 0) {
        out.push_back(static_cast<char>(alphabet.decode[cp]));
        continue;
      }
      std::string utf8;
      AppendUtf8(cp, &utf8);
      absl::StrAppend(&out, "[UNK_BYTE_0x", util::HexEncode(utf8), text, "]");
    }
    return out;
  }
  if ((attr & kAttrByte) && text.size() >= 5) {  // "<0xAB>"
    absl::StatusOr<std::string> byte = util::HexDecode(text.substr(3, 2));
    if (byte.ok()) return *std::move(byte);
  }
  return "";
}

std::string Tokenizer::Decode(const std::vector<int32_t>& ids) const {
  std::string out;
  for (int32_t id : ids) out += TokenToPiece(id);
  return out;
}

bool Tokenizer::IsEog(int32_t id) const { return std::binary_search(eog_.begin(), eog_.end(), id); }

bool Tokenizer::IsControl(int32_t id) const {
  return id >= 0 && id < vocab_size() && (attrs_[id] & kAttrControl) != 0;
}

const std::string& Tokenizer::TokenText(int32_t id) const {
  static const std::string* const kEmpty = new std::string();
  return id >= 0 && id < vocab_size() ? texts_[id] : *kEmpty;
}

}  // namespace datanode::node
