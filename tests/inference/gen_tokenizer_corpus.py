#!/usr/bin/env python3
# Copyright 2026 The datanode Authors.
"""Writes the tokenizer equality corpus: N varied lines, the same bytes on every run.

Usage: gen_tokenizer_corpus.py OUT_FILE [N]   (default N = 10500)

One record per line, escaped (see Escape): a backslash, newline and carriage return
and every byte that is not printable UTF-8 text are written as \\\\, \\n, \\r and \\xHH, so a
record may hold any bytes, including newlines, NULs and invalid UTF-8. The mix: prose
with contractions and mixed case, many scripts, whitespace runs (ASCII and Unicode
spaces, tabs, newlines), digits and long numbers (also non-ASCII digits), code, emoji
sequences, chat special tokens (whole, partial, adjacent), random code points from
assigned ranges, and malformed UTF-8 (never a sequence that decodes above U+10FFFF,
which llama.cpp itself cannot re-encode).
"""
import random
import sys

SEED = 20261207

WORDS = ("the of and to in is you that it he was for on are as with his they I at be this have "
         "from or one had by word but not what all were we when your can said there use an each "
         "which she do how their if will up other about out many then them these so some her "
         "would make like him into time has look two more write go see number no way could people "
         "my than first water been call who oil its now find long down day did get come made may "
         "part Hello World HTTP JSON iPhone McDonald NASA eBay O'Neil x86_64 camelCase snake_case "
         "naïve café résumé façade coöperate Straße fjörd Ελλάδα Москва").split()
CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve", "'M", "'LL",
                "'D", "'x", "'", "''", "’s", "’t"]
SCRIPTS = {
    "greek": "Η γρήγορη καφέ αλεπού πηδάει πάνω από τον τεμπέλη σκύλο",
    "cyrillic": "Съешь же ещё этих мягких французских булок, да выпей чаю",
    "arabic": "نص حكيم له سر قاطع وذو شأن عظيم مكتوب على ثوب أخضر",
    "hebrew": "דג סקרן שט בים מאוכזב ולפתע מצא חברה",
    "devanagari": "ऋषियों को सताने वाले दुष्ट राक्षसों के राजा रावण का सर्वनाश करने वाले",
    "bengali": "আমি বাংলায় গান গাই, আমি বাংলার গান গাই",
    "tamil": "யாமறிந்த மொழிகளிலே தமிழ்மொழி போல் இனிதாவது எங்கும் காணோம்",
    "thai": "เป็นมนุษย์สุดประเสริฐเลิศคุณค่า กว่าบรรดาฝูงสัตว์เดรัจฉาน",
    "han": "天地玄黄宇宙洪荒日月盈昃辰宿列张寒来暑往秋收冬藏",
    "japanese": "いろはにほへと ちりぬるを わかよたれそ つねならむ カタカナ",
    "hangul": "키스의 고유조건은 입술끼리 만나야 하고 특별한 기술은 필요치 않다",
    "georgian": "ვეპხის ტყაოსანი შოთა რუსთაველი",
    "armenian": "Բարեւ աշխարհ, ինչպես ես",
    "ethiopic": "ሰማይ አይታረስ ንጉሥ አይከሰስ",
    "vietnamese": "Tiếng Việt có dấu: Chữ Quốc Ngữ được dùng rộng rãi",
    "combining": "e\u0301 a\u0308 n\u0303 Z\u0336\u0335a\u0337l\u0338g\u0334o",
    "math": "∀x∈ℝ: x²≥0 ∑ᵢ aᵢ ≤ ∞ ∫₀¹ f(x)dx ≈ π ⊕ ⊗ ≠ ±",
    "fullwidth": "ＡＢＣ　ａｂｃ　１２３！？",
    "cjk_ext_i": "".join(chr(c) for c in range(0x2EBF0, 0x2EBF8)),
}
DIGITS = ["0123456789", "٠١٢٣٤٥٦٧٨٩", "०१२३४५६७८९", "０１２３４５６７８９", "ⅠⅡⅢⅫ", "²³¹½¼¾", "௧௨௩"]
SPACES = [" ", "  ", "   ", "    ", "\t", "\t\t", "\n", "\n\n", "\r\n", " \n ", "\u00a0", "\u2003",
          "\u3000", "\u0085", "\u000b", "\u000c", "\u2028", " \t ", "\u200b", "\u202f", "\u205f",
          " " * 9]
CODE = [
    "def f(x):\n    return x ** 2  # square\n",
    "for (int i = 0; i < n; ++i) { sum += a[i]; }",
    '{"key": [1, 2.5e-3, null, true], "nested": {"a": "b"}}',
    "<div class=\"x\">&nbsp;</div>",
    "SELECT * FROM t WHERE id >= 42 AND name LIKE '%ab%';",
    "fn main() -> Result<(), Box<dyn Error>> { Ok(()) }",
    "x = [i*i for i in range(10) if i % 2 == 0]",
    "#include <stdio.h>\nint main(void) {\n\tprintf(\"%d\\n\", 1);\n}",
    "$ ls -la | grep '^d' && echo $HOME",
    "a->b; c::d; e=>f; g!==h; i<<=2; j>>>=3; k??l",
]
EMOJI = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇯🇵", "❤️", "✔︎", "🤖", "🧑🏿‍💻", "😂😂😂", "🫠", "⌚"]
SPECIALS = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<reponame>", "<file_sep>",
            "<jupyter_code>", "<empty_output>", "<|im_start", "im_end|>", "<|im_start|><|im_end|>",
            "<<|im_end|>>", "<|endoftext|>\n", "<|eot_id|>"]
BAD_UTF8 = [b"\x80", b"\xbf\xbf", b"\xc3", b"\xc3(", b"\xe2\x82", b"\xe2\x28\xa1", b"\xf0\x9f\x98",
            b"\xf0\x28\x8c\x28", b"\xc0\x80", b"\xc1\xbf", b"\xe0\x80\xaf", b"\xed\xa0\x80",
            b"\xfe", b"\xff\xfe", b"\xf8\x88\x80\x80\x80", b"\xf5\x20", b"\x00"]


def assigned_codepoint(rng):
  # A code point from ranges that are assigned in every Unicode version since 6.
  ranges = [(0x20, 0x7e), (0xa1, 0x24f), (0x370, 0x3ff), (0x400, 0x4ff), (0x590, 0x5ff),
            (0x600, 0x6ff), (0x900, 0x97f), (0xe00, 0xe5b), (0x1100, 0x11ff), (0x2000, 0x206f),
            (0x2100, 0x22ff), (0x2500, 0x27bf), (0x3040, 0x30ff), (0x4e00, 0x9fff),
            (0xac00, 0xd7a3), (0xff01, 0xff5e), (0x1f300, 0x1f64f), (0x1d400, 0x1d7ff),
            (0x10000, 0x1007f), (0x20000, 0x2a6df)]
  lo, hi = rng.choice(ranges)
  return chr(rng.randint(lo, hi))


def piece(rng):
  kind = rng.randrange(14)
  if kind == 0:
    return rng.choice(WORDS) + rng.choice(CONTRACTIONS)
  if kind == 1:
    return rng.choice(list(SCRIPTS.values()))
  if kind == 2:
    s = rng.choice(list(SCRIPTS.values()))
    a = rng.randrange(len(s))
    return s[a:a + rng.randint(1, 12)]
  if kind == 3:
    return rng.choice(SPACES)
  if kind == 4:
    n = rng.choice([1, 2, 3, 4, 7, 12, 25])
    return "".join(rng.choice("0123456789") for _ in range(n))
  if kind == 5:
    d = rng.choice(DIGITS)
    return "".join(rng.choice(d) for _ in range(rng.randint(1, 6)))
  if kind == 6:
    return rng.choice(CODE)
  if kind == 7:
    return rng.choice(EMOJI)
  if kind == 8:
    return rng.choice(SPECIALS)
  if kind == 9:
    return "".join(assigned_codepoint(rng) for _ in range(rng.randint(1, 8)))
  if kind == 10:
    w = rng.choice(WORDS)
    return rng.choice([w.upper(), w.lower(), w.title(), w.swapcase()])
  if kind == 11:
    return rng.choice(["3.14159", "1,000,000", "-42", "+1e10", "0x1F", "2026-12-07", "12:30:59",
                       "$19.99", "100%", "v1.2.3", "192.168.0.1", "#1"])
  if kind == 12:
    return "".join(rng.choice(".,;:!?-_()[]{}<>/\\|@#$%^&*~`'\"=+") for _ in range(rng.randint(1, 6)))
  return rng.choice(WORDS)


def line(rng):
  """Returns one record as bytes."""
  n = rng.choice([1, 1, 2, 3, 4, 6, 9])
  out = bytearray()
  for _ in range(n):
    if rng.random() < 0.03:
      out += rng.choice(BAD_UTF8)
    else:
      out += piece(rng).encode("utf-8")
    r = rng.random()
    if r < 0.5:
      out += b" "
    elif r < 0.6:
      out += rng.choice(SPACES).encode("utf-8")
  return bytes(out)


def escape(b):
  """Backslash, \\n, \\r as escapes; other non-printable or non-UTF-8 bytes as \\xHH."""
  out = []
  i = 0
  while i < len(b):
    c = b[i]
    if c == 0x5c:
      out.append("\\\\")
    elif c == 0x0a:
      out.append("\\n")
    elif c == 0x0d:
      out.append("\\r")
    elif 0x20 <= c < 0x7f:
      out.append(chr(c))
    elif c >= 0x80:
      # Copy a whole valid UTF-8 sequence; escape anything else byte by byte.
      for n in (4, 3, 2):
        try:
          ch = b[i:i + n].decode("utf-8")
        except UnicodeDecodeError:
          continue
        if len(ch) == 1 and ch.isprintable():
          out.append(ch)
          i += n
          break
      else:
        out.append("\\x%02x" % c)
        i += 1
      continue
    else:
      out.append("\\x%02x" % c)
    i += 1
  return "".join(out)


def main():
  out_path = sys.argv[1]
  n = int(sys.argv[2]) if len(sys.argv) > 2 else 10500
  rng = random.Random(SEED)
  fixed = [b"", b" ", b"  ", b"\n", b"\t", b"a", b"'s", b" 's", b"Hello world", b"hello world",
           b"   leading", b"trailing   ", b"<|im_start|>user\nHi<|im_end|>\n", b"\xff", b"1234567890"]
  with open(out_path, "w", encoding="utf-8", newline="\n") as f:
    for rec in fixed:
      f.write(escape(rec) + "\n")
    for _ in range(n - len(fixed)):
      f.write(escape(line(rng)) + "\n")


if __name__ == "__main__":
  main()
