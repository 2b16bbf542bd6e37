// Copyright 2026 The datanode Authors.
//
// Helpers of the verified-forward tests: a computing node and a verifying node on one
// model (each its own Model, backend and KV caches), the rows of one step, and the
// answer faults that are applied to an answer after the fact (bit flips).
#ifndef DATANODE_TESTS_VERIFY_INFERENCE_VERIFY_TEST_UTIL_H_
#define DATANODE_TESTS_VERIFY_INFERENCE_VERIFY_TEST_UTIL_H_

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "datanode/ops/backend.h"
#include "datanode/ops/verify_pass.h"
#include "gtest/gtest.h"
#include "node/inference/model.h"
#include "node/inference/verified_forward.h"

namespace datanode::node::inference::testing {

// Rows of a prompt (or one decode step) of one cache at positions [pos, pos + tokens.size()),
// logits for the last row only.
inline std::vector<ForwardRow> StepRows(const std::vector<int32_t>& tokens, int64_t pos,
                                        KvCache* cache) {
  std::vector<ForwardRow> rows;
  for (size_t i = 0; i < tokens.size(); ++i) {
    rows.push_back({tokens[i], pos + static_cast<int64_t>(i), cache, i + 1 == tokens.size()});
  }
  return rows;
}

inline int32_t Argmax(const std::vector<float>& logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

// Flips one random bit of one random matmul's output (or exact sums) of `answer`; false
// when the chosen part is empty (no matmul has exact sums).
inline bool FlipRandomBit(ops::verify::PassAnswer& answer, bool exact, std::mt19937_64& rng,
                          std::string* where) {
  std::vector<size_t> candidates;
  for (size_t i = 0; i < answer.matmuls.size(); ++i) {
    if (!(exact ? answer.matmuls[i].exact : answer.matmuls[i].out).empty()) candidates.push_back(i);
  }
  if (candidates.empty()) return false;
  ops::verify::MatMulAnswer& a = answer.matmuls[candidates[rng() % candidates.size()]];
  std::vector<uint8_t>& bytes = exact ? a.exact : a.out;
  const size_t bit = rng() % (bytes.size() * 8);
  bytes[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
  *where = "layer " + std::to_string(a.layer) + " site " + std::to_string(a.site) + " bit " +
           std::to_string(bit);
  return true;
}

// Whether two answers carry the same outputs (a "fault" that changed nothing the answer
// says, e.g. a weight change that met zero activations, is no wrong answer).
inline bool SameOutputs(const ops::verify::PassAnswer& a, const ops::verify::PassAnswer& b) {
  if (a.matmuls.size() != b.matmuls.size()) return false;
  for (size_t i = 0; i < a.matmuls.size(); ++i) {
    if (a.matmuls[i].out != b.matmuls[i].out || a.matmuls[i].exact != b.matmuls[i].exact) {
      return false;
    }
  }
  return a.residual_digests == b.residual_digests;
}

// Per fault kind: trials, rejections, and how the first failing check was distributed.
struct FaultTally {
  int trials = 0;
  int caught = 0;
  int unchanged = 0;  // the fault left the answer correct (not a wrong answer)
  std::map<std::string, int> by_check;
  void Count(const ops::verify::PassVerdict& v) {
    ++trials;
    if (!v.accepted) {
      ++caught;
      std::string key = ops::verify::PassCheckName(v.failed);
      if (v.failed == ops::verify::PassCheck::kMatMul) {
        key += std::string("/") + ops::verify::CheckName(v.matmul_check);
      }
      ++by_check[key];
    }
  }
  std::string Summary() const {
    std::string s = std::to_string(caught) + " of " + std::to_string(trials) + " caught";
    if (unchanged > 0) s += " (" + std::to_string(unchanged) + " unchanged answers not counted)";
    s += "; first failed check:";
    for (const auto& [k, n] : by_check) s += " " + k + " " + std::to_string(n);
    return s;
  }
};

}  // namespace datanode::node::inference::testing

#endif  // DATANODE_TESTS_VERIFY_INFERENCE_VERIFY_TEST_UTIL_H_
