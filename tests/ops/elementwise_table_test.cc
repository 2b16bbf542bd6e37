// Copyright 2026 The datanode Authors.
//
// Every row of elementwise_ops.inc, checked from the table alone: an op added to the table
// (with its spec section and kernels) is tested here with no edit to this file.
// - The spec's example lines `Name(0x........, ...) = 0x........` (docs/determinism.md)
//   hold on the reference element function, and every op has at least two of them.
// - Every backend compiled in and usable here (the CPU in each kernel family, Vulkan on
//   lavapipe; CUDA when a GPU is present) returns the reference's bytes, over input rows
//   of every profile and awkward lengths.
// - Every backend returns the reference's status, message included, for each bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/elementwise.h"
#include "datanode/ops/exact_float.h"
#include "datanode/ops/llm_kernels.h"
#include "tests/ops/test_util.h"

namespace datanode::ops::llm {
namespace {

std::string ReadSpec() {
  std::ifstream in(DATANODE_SPEC_FILE);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ElementwiseTable, SpecExamplesHoldOnTheReference) {
  const std::string spec = ReadSpec();
  ASSERT_FALSE(spec.empty()) << "cannot read " << DATANODE_SPEC_FILE;
  std::map<std::string, int> examples;
  const std::regex line(
      R"(`([A-Za-z0-9]+)\((0x[0-9A-Fa-f]{8}(?:, 0x[0-9A-Fa-f]{8})*)\) = (0x[0-9A-Fa-f]{8})`)");
  for (auto it = std::sregex_iterator(spec.begin(), spec.end(), line); it != std::sregex_iterator();
       ++it) {
    const std::string name = (*it)[1];
    const ElementwiseOpInfo* info = nullptr;
    int index = 0;
    for (; index < kNumElementwiseOps; ++index) {
      if (name == kElementwiseOps[index].name) {
        info = &kElementwiseOps[index];
        break;
      }
    }
    ASSERT_NE(info, nullptr) << "spec example of an op that is not in elementwise_ops.inc: "
                             << it->str();
    std::vector<uint32_t> args;
    std::stringstream list((*it)[2].str());
    for (std::string arg; std::getline(list, arg, ',');) {
      args.push_back(static_cast<uint32_t>(std::stoul(arg, nullptr, 16)));
    }
    ASSERT_EQ(static_cast<int>(args.size()), info->arity) << it->str();
    const uint32_t want = static_cast<uint32_t>(std::stoul((*it)[3].str(), nullptr, 16));
    const uint32_t got = ReferenceElement(ElementwiseOpAt(index))(args.data());
    EXPECT_EQ(got, want) << it->str() << " gives 0x" << std::hex << got;
    ++examples[name];
  }
  for (const ElementwiseOpInfo& info : kElementwiseOps) {
    EXPECT_GE(examples[info.name], 2)
        << info.name << ": the spec needs example lines `" << info.name
        << "(0x........, ...) = 0x........` in its section";
  }
}

// A random finite f32 of a profile: 0 activation-like, 1 any finite bits, 2 tiny
// (subnormal), 3 signed zeros, 4 huge; any other profile mixes them per value.
float RandomF32(std::mt19937_64& rng, int profile) {
  constexpr testing::F32Kind kKinds[] = {testing::F32Kind::kActivation,
                                         testing::F32Kind::kAnyFinite, testing::F32Kind::kSubnormal,
                                         testing::F32Kind::kSignedZero, testing::F32Kind::kHuge};
  if (profile < 0 || profile >= 5) profile = static_cast<int>(rng() % 5);
  return testing::RandomF32(rng, kKinds[profile]);
}

std::vector<uint32_t> Bits(std::span<const float> v) {
  std::vector<uint32_t> b(v.size());
  for (size_t i = 0; i < v.size(); ++i) b[i] = F32ToBits(v[i]);
  return b;
}

std::vector<std::span<const float>> Spans(const std::vector<std::vector<float>>& rows) {
  return {rows.begin(), rows.end()};
}

TEST(ElementwiseTable, EveryBackendEqualsTheReference) {
  std::vector<testing::BackendUnderTest> backends = testing::AllBackendsUnderTest(2);
  ASSERT_FALSE(backends.empty());
  std::mt19937_64 rng(0xE1E3);
  const size_t lengths[] = {1, 3, 63, 64, 65, 576, 1000, 4099};
  for (int index = 0; index < kNumElementwiseOps; ++index) {
    const ElementwiseOp op = ElementwiseOpAt(index);
    const int arity = InfoOf(op).arity;
    for (int it = 0; it < 48; ++it) {
      const size_t n = lengths[it % std::size(lengths)];
      std::vector<std::vector<float>> in(static_cast<size_t>(arity), std::vector<float>(n));
      for (auto& row : in) {
        const int profile = static_cast<int>(rng() % 6);
        for (float& v : row) v = RandomF32(rng, profile);
      }
      // Equal and opposite inputs: exact cancellation and squares.
      if (arity >= 2 && it % 5 == 1) in[1] = in[0];
      if (arity >= 2 && it % 5 == 2) {
        for (size_t i = 0; i < n; ++i) in[1][i] = -in[0][i];
      }
      std::vector<float> want(n);
      ASSERT_TRUE(Elementwise(op, Spans(in), want).ok());
      for (const testing::BackendUnderTest& b : backends) {
        std::vector<float> got(n, BitsToF32(0x7FC00001u));  // poison: a NaN left shows
        const absl::Status s = b.backend->LlmKernels().Elementwise(op, Spans(in), got);
        ASSERT_TRUE(s.ok()) << b.label << " " << InfoOf(op).name << ": " << s;
        const std::vector<uint32_t> w = Bits(want), g = Bits(got);
        for (size_t i = 0; i < n; ++i) {
          ASSERT_EQ(g[i], w[i]) << b.label << " " << InfoOf(op).name << " case " << it << " n " << n
                                << " element " << i << std::hex << ": want 0x" << w[i] << " got 0x"
                                << g[i];
        }
      }
    }
  }
}

TEST(ElementwiseTable, EveryBackendRejectsLikeTheReference) {
  std::vector<testing::BackendUnderTest> backends = testing::AllBackendsUnderTest(1);
  ASSERT_FALSE(backends.empty());
  for (int index = 0; index < kNumElementwiseOps; ++index) {
    const ElementwiseOp op = ElementwiseOpAt(index);
    const int arity = InfoOf(op).arity;
    const size_t n = 40;
    struct BadCase {
      std::string what;
      std::vector<std::vector<float>> in;
      size_t out_size;
    };
    std::vector<BadCase> cases;
    const std::vector<std::vector<float>> good(static_cast<size_t>(arity),
                                               std::vector<float>(n, 1.5f));
    cases.push_back({"one input too many", good, n});
    cases.back().in.push_back(std::vector<float>(n, 1.0f));
    cases.push_back({"one input too few", good, n});
    cases.back().in.pop_back();
    cases.push_back({"short out", good, n - 1});
    for (int i = 0; i < arity; ++i) {
      cases.push_back({absl::StrCat("input ", i, " short"), good, n});
      cases.back().in[static_cast<size_t>(i)].pop_back();
      for (uint32_t bad : {0x7F800000u, 0xFF800000u, 0x7FC00000u}) {
        cases.push_back({absl::StrCat("input ", i, " holds 0x", absl::Hex(bad)), good, n});
        cases.back().in[static_cast<size_t>(i)][7 + static_cast<size_t>(i)] = BitsToF32(bad);
      }
    }
    for (const BadCase& c : cases) {
      std::vector<float> want(c.out_size);
      const absl::Status ref = Elementwise(op, Spans(c.in), want);
      ASSERT_EQ(ref.code(), absl::StatusCode::kInvalidArgument) << c.what << ": " << ref;
      EXPECT_NE(ref.message().find(InfoOf(op).name), absl::string_view::npos) << ref;
      for (const testing::BackendUnderTest& b : backends) {
        std::vector<float> got(c.out_size);
        EXPECT_EQ(b.backend->LlmKernels().Elementwise(op, Spans(c.in), got), ref)
            << b.label << " " << InfoOf(op).name << ": " << c.what;
      }
    }
  }
}

}  // namespace
}  // namespace datanode::ops::llm
