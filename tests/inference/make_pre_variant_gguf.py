#!/usr/bin/env python3
# Copyright 2026 The datanode Authors.
"""Writes a vocabulary-only copy of a GGUF with tokenizer.ggml.pre replaced.

Usage: make_pre_variant_gguf.py IN.gguf OUT.gguf PRE

Every key-value pair is copied (types kept), no tensors. llama-tokenize loads such a
file (it reads the vocabulary only), so the same vocabulary can be tokenized by
llama.cpp under another pre-tokenizer: this is how the llama-bpe golden file was made,
since no Llama-3 GGUF is available offline.
"""
import sys

import gguf


def main():
  src, dst, pre = sys.argv[1:4]
  r = gguf.GGUFReader(src)
  arch = r.fields["general.architecture"]
  w = gguf.GGUFWriter(dst, bytes(arch.parts[arch.data[0]]).decode())
  for name, f in r.fields.items():
    if name.startswith("GGUF.") or name == "general.architecture":
      continue
    vtype = f.types[0]
    if name == "tokenizer.ggml.pre":
      w.add_string(name, pre)
    elif vtype == gguf.GGUFValueType.ARRAY:
      etype = f.types[1]
      if etype == gguf.GGUFValueType.STRING:
        vals = [bytes(f.parts[i]) for i in f.data]
      else:
        vals = [f.parts[i][0].item() for i in f.data]
      w.add_key_value(name, vals, vtype, sub_type=etype)
    elif vtype == gguf.GGUFValueType.STRING:
      w.add_key_value(name, bytes(f.parts[f.data[0]]), vtype)
    else:
      w.add_key_value(name, f.parts[f.data[0]][0].item(), vtype)
  w.write_header_to_file()
  w.write_kv_data_to_file()
  w.write_tensors_to_file()
  w.close()


if __name__ == "__main__":
  main()
