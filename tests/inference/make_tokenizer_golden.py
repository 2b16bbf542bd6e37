#!/usr/bin/env python3
# Copyright 2026 The datanode Authors.
"""Writes llama.cpp's token ids for every corpus record: the tokenizer golden file.

Usage: make_tokenizer_golden.py PEER_BIN MODEL.gguf CORPUS.txt.gz OUT.txt.gz [CHECK]

PEER_BIN is the peer's bin directory (bench/peer/build-llama-cpp.sh). The ids come
from PEER_BIN/tokenize_lines (bench/peer/tokenize_lines.c: the vocabulary loaded once,
the llama_tokenize call llama-tokenize makes). Then CHECK records, evenly spaced (all
of them if CHECK is 0; default 500), are tokenized again by PEER_BIN/llama-tokenize
itself, one process per record:
    llama-tokenize -m MODEL -f FILE --ids --no-escape --log-disable
(-f reads the bytes verbatim; --no-escape keeps backslashes; special tokens are parsed,
llama-tokenize's default; a BOS is added only if the model asks for one), and any
difference fails the run. OUT has one line per record: its ids, separated by spaces.
"""
import concurrent.futures
import gzip
import os
import subprocess
import sys
import tempfile


def unescape(s):
  out = bytearray()
  i = 0
  while i < len(s):
    c = s[i]
    if c != "\\":
      out += c.encode("utf-8")
      i += 1
      continue
    n = s[i + 1]
    if n == "n":
      out += b"\n"
      i += 2
    elif n == "r":
      out += b"\r"
      i += 2
    elif n == "x":
      out.append(int(s[i + 2:i + 4], 16))
      i += 4
    else:
      out += n.encode("utf-8")
      i += 2
  return bytes(out)


def llama_tokenize(args):
  tool, model, tmpdir, idx, rec = args
  path = os.path.join(tmpdir, "r%d" % idx)
  with open(path, "wb") as f:
    f.write(unescape(rec))
  out = subprocess.run([tool, "-m", model, "-f", path, "--ids", "--no-escape", "--log-disable"],
                       capture_output=True, check=True).stdout.decode().strip()
  os.unlink(path)
  assert out.startswith("[") and out.endswith("]"), out
  return " ".join(t.strip() for t in out[1:-1].split(",") if t.strip())


def main():
  peer_bin, model, corpus, out_path = sys.argv[1:5]
  check = int(sys.argv[5]) if len(sys.argv) > 5 else 500
  with gzip.open(corpus, "rt", encoding="utf-8", newline="\n") as f:
    text = f.read()
  records = text.split("\n")[:-1]
  lines = subprocess.run([os.path.join(peer_bin, "tokenize_lines"), model], input=text.encode(),
                         capture_output=True, check=True).stdout.decode().split("\n")[:-1]
  assert len(lines) == len(records), (len(lines), len(records))
  ids = []
  for rec, line in zip(records, lines):
    got_rec, got_ids = line.split("\t")
    assert got_rec == rec
    ids.append(got_ids)
  step = 1 if check == 0 else max(1, len(records) // check)
  sample = list(range(0, len(records), step))
  tool = os.path.join(peer_bin, "llama-tokenize")
  with tempfile.TemporaryDirectory() as tmpdir, concurrent.futures.ThreadPoolExecutor(2) as pool:
    direct = list(pool.map(llama_tokenize, [(tool, model, tmpdir, i, records[i]) for i in sample]))
  bad = [i for i, d in zip(sample, direct) if d != ids[i]]
  if bad:
    sys.exit("tokenize_lines and llama-tokenize differ on records %s" % bad[:20])
  print("%d records; %d checked against llama-tokenize, all equal" % (len(records), len(sample)))
  with gzip.GzipFile(out_path, "wb", mtime=0) as f:
    f.write("".join(i + "\n" for i in ids).encode())


if __name__ == "__main__":
  main()
