// Copyright 2026 The datanode Authors.
#include "device_classes/device_class_loader.h"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/message.h"
#include "gtest/gtest.h"

namespace datanode::device_classes {
namespace {

TEST(DeviceClassLoader, ShippedClassesLoad) {
  for (const char* name : {"mini_pc", "gpu", "tpu", "storage"}) {
    auto path = ResolveClassPath(name, {DATANODE_SOURCE_DIR "/device_classes"});
    ASSERT_TRUE(path.ok()) << path.status();
    auto cls = LoadClassFile(*path);
    ASSERT_TRUE(cls.ok()) << cls.status();
    EXPECT_EQ(cls->device_class.name(), name);
    EXPECT_EQ(cls->digest_hex.size(), 64u);
  }
}

TEST(DeviceClassLoader, ReportsEverySemanticErrorWithItsLine) {
  const char* text =
      "name: \"Bad Name\"\n"               // line 1: bad characters
      "spec_version: 2\n"                  // line 2
      "compute {\n"                        // line 3
      "  allowed_backends: \"cpu\"\n"      // line 4
      "  allowed_backends: \"tpu9000\"\n"  // line 5: unknown backend
      "  required_ops: \"matmul_s8_s32\"\n"
      "  required_ops: \"fft\"\n"                      // line 7: unknown op
      "  canonical_shape { m: 64 n: 64 k: 200000 }\n"  // line 8: K too large
      "  min_s8_gops: -1\n"                            // line 9
      "  max_repeat_speedup: 1.5\n"
      "  max_challenge_seconds: 1\n"
      "}\n"
      "quick {\n"  // line 13: missing fields inside
      "  challenge_count: 1\n"
      "  sampled_rows: 1\n"
      "  stability_repetitions: 1\n"  // line 16: < 2
      "  memory_test_mib: 1\n"
      "  performance_seconds: 1\n"
      "}\n";  // no `full`
  auto cls = ParseClassText(text, "bad.textproto");
  ASSERT_FALSE(cls.ok());
  std::string msg(cls.status().message());
  for (const char* want :
       {"bad.textproto:1:1: name: must match",
        "bad.textproto:5:3: allowed_backends: unknown backend",
        "bad.textproto:7:3: required_ops: unknown op",
        "bad.textproto:8:3: canonical_shape:", "bad.textproto:9:3: min_s8_gops: must be > 0",
        "bad.textproto:16:3: stability_repetitions: must be >= 2", "full: required"}) {
    EXPECT_NE(msg.find(want), std::string::npos) << "missing \"" << want << "\" in:\n" << msg;
  }
  EXPECT_EQ(std::count(msg.begin(), msg.end(), '\n') + 1, 7) << msg;
}

TEST(DeviceClassLoader, ExpectedModelsMustBeDistinctModelDigests) {
  const std::string good(64, 'a');
  const std::string text = absl::StrCat("name: \"s\"\nspec_version: 2\nstorage {\n",
                                        "  min_seq_write_mbps: 1 min_seq_read_mbps: 1\n",
                                        "  max_fsync_latency_ms: 1 max_proof_response_ms: 1\n",  //
                                        "  expected_models: \"", good, "\"\n",  // line 6
                                        "  expected_models: \"ABC\"\n",  // line 7: not a digest
                                        "  expected_models: \"", good, "\"\n",  // line 8: twice
                                        "}\nquick { storage_test_mib: 1 proof_challenges: 1 }\n",
                                        "full { storage_test_mib: 1 proof_challenges: 1 }\n");
  auto cls = ParseClassText(text, "s.textproto");
  ASSERT_FALSE(cls.ok());
  std::string msg(cls.status().message());
  EXPECT_NE(msg.find("s.textproto:7:3: expected_models: \"ABC\" is not a model digest"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("s.textproto:8:3: expected_models: model " + good + " is listed twice"),
            std::string::npos)
      << msg;
  EXPECT_EQ(std::count(msg.begin(), msg.end(), '\n') + 1, 2) << msg;
}

TEST(DeviceClassLoader, SyntaxErrorHasLineAndColumn) {
  auto cls = ParseClassText("name: \"x\"\nspec_version: 2\nbogus_field: 3\n", "s.textproto");
  ASSERT_FALSE(cls.ok());
  EXPECT_NE(std::string(cls.status().message()).find("s.textproto:3:"), std::string::npos)
      << cls.status();
}

TEST(DeviceClassLoader, MissingSectionPointsAtClass) {
  auto cls = ParseClassText("name: \"x\"\nspec_version: 2\nquick {}\nfull {}\n", "m.textproto");
  ASSERT_FALSE(cls.ok());
  EXPECT_NE(std::string(cls.status().message()).find("compute or a storage section"),
            std::string::npos)
      << cls.status();
}

TEST(DeviceClassLoader, ResolvesNamesAndRejectsUnknown) {
  EXPECT_EQ(*ResolveClassPath("dir/x.textproto", {}), "dir/x.textproto");
  EXPECT_EQ(
      ResolveClassPath("no_such_class", {DATANODE_SOURCE_DIR "/device_classes"}).status().code(),
      absl::StatusCode::kNotFound);
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f.good()) << path;
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// A date written YYYY-MM-DD somewhere in `text`.
bool HasIsoDate(const std::string& text) {
  auto digits = [&](size_t at, size_t n) {
    for (size_t i = at; i < at + n; ++i) {
      if (i >= text.size() || !std::isdigit(static_cast<unsigned char>(text[i]))) return false;
    }
    return true;
  };
  for (size_t i = 0; i + 10 <= text.size(); ++i) {
    if (digits(i, 4) && text[i + 4] == '-' && digits(i + 5, 2) && text[i + 7] == '-' &&
        digits(i + 8, 2)) {
      return true;
    }
  }
  return false;
}

// Every threshold (a min_* or max_* field) of every shipped class has, in the comment
// right above it, the figure it rests on with a date ("Measured ... YYYY-MM-DD") or
// says it is a target not measured yet; and docs/admission.md has its row, with the
// file's value, in the table of threshold sources.
TEST(DeviceClassLoader, EveryShippedThresholdNamesItsSourceHereAndInTheDocs) {
  const std::string docs = ReadFile(DATANODE_SOURCE_DIR "/docs/admission.md");
  int thresholds = 0, classes = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(DATANODE_SOURCE_DIR "/device_classes")) {
    if (entry.path().extension() != ".textproto") continue;
    ++classes;
    const std::string file = entry.path().filename().string();
    auto cls = LoadClassFile(entry.path().string());
    ASSERT_TRUE(cls.ok()) << cls.status();
    const std::string& name = cls->device_class.name();
    std::set<std::string> seen;
    std::vector<std::string> comment;  // the '#' lines right above the current line
    int line_no = 0;
    for (absl::string_view raw : absl::StrSplit(ReadFile(entry.path()), '\n')) {
      ++line_no;
      const std::string line(absl::StripAsciiWhitespace(raw));
      if (line.starts_with("#")) {
        comment.push_back(line);
        continue;
      }
      const size_t colon = line.find(':');
      const std::string field = line.substr(0, colon);
      if (colon != std::string::npos && (field.starts_with("min_") || field.starts_with("max_"))) {
        ++thresholds;
        seen.insert(field);
        const std::string where = absl::StrCat(file, ":", line_no, ": ", field);
        const std::string block = absl::StrJoin(comment, " ");
        const bool measured = absl::StrContains(block, "Measured") && HasIsoDate(block);
        const bool target = absl::StrContains(block, "Target, not measured");
        EXPECT_TRUE(measured || target)
            << where << ": the comment above it must give the measured figure, device and date "
            << "(\"Measured ... YYYY-MM-DD\") or say \"Target, not measured\"";
        const std::string value(absl::StripAsciiWhitespace(line.substr(colon + 1)));
        const std::string row = absl::StrCat("| `", name, "` | `", field, "` | ", value, " |");
        EXPECT_TRUE(absl::StrContains(docs, row))
            << where << ": docs/admission.md has no row starting " << row;
      }
      comment.clear();
    }
    // Every threshold the loaded class sets is one of the lines checked above.
    for (const google::protobuf::Message* section :
         {static_cast<const google::protobuf::Message*>(&cls->device_class.compute()),
          static_cast<const google::protobuf::Message*>(&cls->device_class.storage())}) {
      std::vector<const google::protobuf::FieldDescriptor*> fields;
      section->GetReflection()->ListFields(*section, &fields);
      for (const auto* f : fields) {
        if (f->name().starts_with("min_") || f->name().starts_with("max_")) {
          EXPECT_EQ(seen.count(std::string(f->name())), 1u) << file << ": " << f->name();
        }
      }
    }
  }
  EXPECT_EQ(classes, 4);
  EXPECT_EQ(thresholds, 20);
}

}  // namespace
}  // namespace datanode::device_classes
