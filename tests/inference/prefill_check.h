// Copyright 2026 The datanode Authors.
//
// The engine tests' check that prefill chunking changes no byte: one prompt evaluated on
// fresh sessions of one model in a single pass (prefill chunk 64), in chunks of 4 and one
// token at a time must give equal logits and equal KV-cache bytes. gtest assertions.
#ifndef DATANODE_TESTS_INFERENCE_PREFILL_CHECK_H_
#define DATANODE_TESTS_INFERENCE_PREFILL_CHECK_H_

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "gtest/gtest.h"
#include "node/inference/model.h"
#include "node/inference/session.h"

namespace datanode::node::inference::testing {

// Runs the three variants over `prompt` and compares the last logits and the first
// `layers` layers' KV bytes with the single pass's; returns the sessions (single pass
// first), empty if one failed, so a test can continue generating from each.
inline std::vector<std::unique_ptr<Session>> ExpectPrefillChunkingInvariant(
    const std::shared_ptr<const Model>& model, std::span<const int32_t> prompt, int layers) {
  std::vector<std::vector<float>> logits;
  std::vector<std::unique_ptr<Session>> sessions;
  for (int chunk : {64, 4, 1}) {
    SessionOptions options;
    options.prefill_chunk = chunk;
    auto s = Session::Create(model, options);
    EXPECT_TRUE(s.ok()) << s.status();
    if (!s.ok()) return {};
    absl::StatusOr<std::vector<float>> l;
    if (chunk == 1) {
      for (const int32_t& t : prompt) l = (*s)->Evaluate({&t, 1});
    } else {
      l = (*s)->Evaluate(prompt);
    }
    EXPECT_TRUE(l.ok()) << l.status();
    if (!l.ok()) return {};
    logits.push_back(*l);
    sessions.push_back(std::move(*s));
  }
  for (size_t i = 1; i < sessions.size(); ++i) {
    EXPECT_EQ(logits[i], logits[0]) << "variant " << i;
    for (int layer = 0; layer < layers; ++layer) {
      EXPECT_EQ(sessions[i]->KvBytes(layer), sessions[0]->KvBytes(layer)) << "layer " << layer;
    }
  }
  return sessions;
}

}  // namespace datanode::node::inference::testing

#endif  // DATANODE_TESTS_INFERENCE_PREFILL_CHECK_H_
