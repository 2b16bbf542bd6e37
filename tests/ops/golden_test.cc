// Copyright 2026 The datanode Authors.
//
// The golden vectors (ops/golden/golden_vectors.txt, datanode/ops/golden.h) so that a
// change to an op's bytes or to the input generator cannot slip through: the reference
// and every other backend that can be created here must reproduce every digest.
#include "datanode/ops/golden.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/types.h"
#include "tests/ops/test_util.h"
#include "tests/support/read_file.h"

namespace datanode::ops {
namespace {

constexpr char kGoldenPath[] = DATANODE_GOLDEN_FILE;
constexpr char kRegenHint[] =
    "(if the spec changed on purpose: bump kSpecVersion, then run "
    "ops_golden_regen ops/golden/golden_vectors.txt; see datanode/ops/golden.h)";

GoldenFile LoadOrDie() {
  absl::StatusOr<GoldenFile> file = ParseGoldenFile(test_support::ReadWholeFile(kGoldenPath));
  EXPECT_TRUE(file.ok()) << kGoldenPath << ": " << file.status();
  return file.ok() ? *std::move(file) : GoldenFile{};
}

TEST(GoldenFile, HasEveryCaseForThisSpecVersion) {
  const GoldenFile file = LoadOrDie();
  EXPECT_EQ(file.spec_version, kSpecVersion)
      << kGoldenPath << " was produced for another spec version " << kRegenHint;
  const std::vector<GoldenCase> want = GoldenCaseList();
  ASSERT_EQ(file.cases.size(), want.size())
      << "the file and GoldenCaseList() disagree on the number of cases " << kRegenHint;
  std::map<OpKind, int> per_op;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(file.cases[i].Key(), want[i].Key()) << "case " << i;
    ++per_op[file.cases[i].kind];
  }
  for (OpKind kind : kAllOpKinds) {
    EXPECT_GE(per_op[kind], 12) << OpKindName(kind) << " has few golden cases";
  }
}

// The file is exactly what the regenerator writes for its cases: no hand edit, header
// included, can hide in it.
TEST(GoldenFile, IsInTheRegeneratorsFormat) {
  const GoldenFile file = LoadOrDie();
  EXPECT_EQ(FormatGoldenFile(file.cases), test_support::ReadWholeFile(kGoldenPath)) << kRegenHint;
}

// Checks every case of the file on `backend`; `label` names it in messages.
void CheckBackend(Backend& backend, const std::string& label) {
  const GoldenFile file = LoadOrDie();
  ASSERT_FALSE(file.cases.empty());
  int failures = 0;
  std::set<OpKind> unsupported;
  for (const GoldenCase& want : file.cases) {
    // A backend may lack an op (Supports() false: RunOp is UNIMPLEMENTED); the ops it
    // has must match. The reference has every op.
    if (!backend.Supports(want.kind)) {
      unsupported.insert(want.kind);
      continue;
    }
    GoldenCase got = want;
    const absl::Status st = ComputeGoldenDigests(backend, got);
    ASSERT_TRUE(st.ok()) << label << " " << want.Key() << ": " << st;
    if (got.input_sha256 != want.input_sha256) {
      ADD_FAILURE() << want.Key() << ": the INPUT digest changed (MakeRandomInputs changed): "
                    << "expected " << want.input_sha256 << ", got " << got.input_sha256 << " "
                    << kRegenHint;
      ++failures;
    } else if (got.output_sha256 != want.output_sha256) {
      ADD_FAILURE() << label << " " << want.Key() << ": output digest expected "
                    << want.output_sha256 << ", got " << got.output_sha256
                    << (label == "reference" ? std::string(" ") + kRegenHint : std::string());
      ++failures;
    }
    if (failures >= 10) break;
  }
  if (label == "reference") {
    EXPECT_TRUE(unsupported.empty()) << "the reference lacks an op";
  }
  std::string skipped;
  for (OpKind kind : unsupported) absl::StrAppend(&skipped, " ", OpKindName(kind));
  std::printf("%s: %zu golden cases, ops not supported (not checked):%s\n", label.c_str(),
              file.cases.size(), skipped.empty() ? " none" : skipped.c_str());
}

TEST(Golden, Reference) {
  std::unique_ptr<Backend> reference = *CreateBackend("reference");
  CheckBackend(*reference, "reference");
}

TEST(Golden, EveryOtherBackend) {
  int checked = 0;
  for (testing::BackendUnderTest& b : testing::AllBackendsUnderTest(2)) {
    if (b.label == "reference") continue;
    CheckBackend(*b.backend, b.label);
    ++checked;
  }
  if (checked == 0) GTEST_SKIP() << "only the reference is available in this build";
}

}  // namespace
}  // namespace datanode::ops
