// Copyright 2026 The datanode Authors.
//
// llama-tokenize for many records in one process: loads a GGUF's vocabulary once with
// llama.cpp's public API and prints, for each record of an escaped corpus
// (tests/inference/gen_tokenizer_corpus.py), the record, a tab and its ids. It makes
// the same call llama-tokenize makes (common_tokenize -> llama_tokenize with
// add_special = the model's add_bos, parse_special = true); make_tokenizer_golden.py
// --check compares the two tools on a sample. Built by build-llama-cpp.sh against the
// peer outside this repository.
//
// Usage: tokenize_lines MODEL.gguf < CORPUS > OUT.tsv
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama.h"

static size_t unescape(const char* s, size_t n, char* out) {
  size_t o = 0;
  for (size_t i = 0; i < n; ++i) {
    if (s[i] != '\\' || i + 1 >= n) {
      out[o++] = s[i];
      continue;
    }
    char c = s[++i];
    if (c == 'n') {
      out[o++] = '\n';
    } else if (c == 'r') {
      out[o++] = '\r';
    } else if (c == 'x' && i + 2 < n) {
      char hex[3] = {s[i + 1], s[i + 2], 0};
      out[o++] = (char)strtol(hex, NULL, 16);
      i += 2;
    } else {
      out[o++] = c;
    }
  }
  return o;
}

static void quiet(enum ggml_log_level level, const char* text, void* data) {
  (void)level;
  (void)text;
  (void)data;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s MODEL.gguf < CORPUS > OUT.tsv\n", argv[0]);
    return 2;
  }
  llama_log_set(quiet, NULL);
  llama_backend_init();
  struct llama_model_params mp = llama_model_default_params();
  mp.vocab_only = true;
  struct llama_model* model = llama_model_load_from_file(argv[1], mp);
  if (model == NULL) {
    fprintf(stderr, "cannot load %s\n", argv[1]);
    return 1;
  }
  const struct llama_vocab* vocab = llama_model_get_vocab(model);
  const bool add_special = llama_vocab_get_add_bos(vocab);
  char* line = NULL;
  size_t cap = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, stdin)) > 0) {
    if (line[len - 1] == '\n') line[--len] = 0;
    char* text = malloc((size_t)len + 1);
    size_t n = unescape(line, (size_t)len, text);
    int max = (int)n + 8;
    llama_token* ids = malloc(sizeof(llama_token) * (size_t)max);
    int got = llama_tokenize(vocab, text, (int)n, ids, max, add_special, true);
    if (got < 0) {
      max = -got;
      ids = realloc(ids, sizeof(llama_token) * (size_t)max);
      got = llama_tokenize(vocab, text, (int)n, ids, max, add_special, true);
    }
    fwrite(line, 1, (size_t)len, stdout);
    putchar('\t');
    for (int i = 0; i < got; ++i) printf(i ? " %d" : "%d", ids[i]);
    putchar('\n');
    free(ids);
    free(text);
  }
  free(line);
  llama_model_free(model);
  llama_backend_free();
  return 0;
}
