// Copyright 2026 The datanode Authors.
#include "device_classes/device_class_loader.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/digest.h"
#include "datanode/ops/types.h"
#include "datanode/util/hex.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace datanode::device_classes {
namespace {

using google::protobuf::Message;
using google::protobuf::TextFormat;

// Collects the text-format parser's errors and warnings with their positions.
class Collector : public google::protobuf::io::ErrorCollector {
 public:
  explicit Collector(std::vector<std::string>* errors, std::string origin)
      : errors_(errors), origin_(std::move(origin)) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    errors_->push_back(absl::StrCat(origin_, ":", line + 1, ":", column + 1, ": ", message));
  }
  void AddWarning(int line, google::protobuf::io::ColumnNumber column,
                  const std::string& message) override {
    AddError(line, column, absl::StrCat("warning: ", message));
  }

 private:
  std::vector<std::string>* errors_;
  std::string origin_;
};

// Semantic validation with positions: each message is checked with the parse-info
// subtree recorded for it, so an error points at the field's own line, or at the
// enclosing message when the field is absent.
class Validator {
 public:
  Validator(std::string origin, std::vector<std::string>* errors)
      : origin_(std::move(origin)), errors_(errors) {}

  struct Ctx {
    const TextFormat::ParseInfoTree* tree = nullptr;
    int line = 0;  // 0-based position of the message itself
    int column = 0;
  };

  void Error(const Ctx& ctx, const Message& msg, const char* field, const std::string& text,
             int index = -1) {
    int line = ctx.line, column = ctx.column;
    const auto* fd = msg.GetDescriptor()->FindFieldByName(field);
    if (ctx.tree != nullptr && fd != nullptr) {
      auto loc = ctx.tree->GetLocation(fd, fd->is_repeated() ? std::max(index, 0) : -1);
      if (loc.line >= 0) {
        line = loc.line;
        column = loc.column;
      }
    }
    errors_->push_back(
        absl::StrCat(origin_, ":", line + 1, ":", column + 1, ": ", field, ": ", text));
  }

  Ctx Nested(const Ctx& ctx, const Message& msg, const char* field) {
    Ctx out = ctx;
    const auto* fd = msg.GetDescriptor()->FindFieldByName(field);
    if (ctx.tree == nullptr || fd == nullptr) return out;
    auto loc = ctx.tree->GetLocation(fd, -1);
    if (loc.line >= 0) {
      out.line = loc.line;
      out.column = loc.column;
    }
    out.tree = ctx.tree->GetTreeForNested(fd, -1);
    return out;
  }

  void CheckClass(const Ctx& ctx, const v1::DeviceClass& c) {
    if (c.name().empty()) {
      Error(ctx, c, "name", "required");
    } else if (c.name().find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") !=
               std::string::npos) {
      Error(ctx, c, "name", "must match [a-z0-9_]+");
    }
    if (c.spec_version() != ops::kSpecVersion) {
      Error(ctx, c, "spec_version",
            absl::StrCat("must be ", ops::kSpecVersion, " (the spec this build implements), got ",
                         c.spec_version()));
    }
    if (!c.has_compute() && !c.has_storage()) {
      Error(ctx, c, "compute", "a class needs a compute or a storage section (or both)");
    }
    if (c.has_compute()) CheckCompute(Nested(ctx, c, "compute"), c.compute());
    if (c.has_storage()) CheckStorage(Nested(ctx, c, "storage"), c.storage());
    for (const char* profile : {"quick", "full"}) {
      const auto& p = profile[0] == 'q' ? c.quick() : c.full();
      if (!(profile[0] == 'q' ? c.has_quick() : c.has_full())) {
        Error(ctx, c, profile, "required");
        continue;
      }
      CheckProfile(Nested(ctx, c, profile), p, c.has_compute(), c.has_storage());
    }
  }

 private:
  void CheckCompute(const Ctx& ctx, const v1::ComputeRequirements& r) {
    if (r.allowed_backends().empty()) Error(ctx, r, "allowed_backends", "at least one required");
    for (int i = 0; i < r.allowed_backends_size(); ++i) {
      const std::string& b = r.allowed_backends(i);
      const std::vector<std::string> known = ops::AllBackendNames();
      if (std::find(known.begin(), known.end(), b) == known.end()) {
        Error(ctx, r, "allowed_backends",
              absl::StrCat("unknown backend \"", b, "\" (", absl::StrJoin(known, ", "), ")"), i);
      }
    }
    bool has_canonical = false;
    for (int i = 0; i < r.required_ops_size(); ++i) {
      auto kind = ops::OpKindFromName(r.required_ops(i));
      if (!kind.ok()) {
        Error(ctx, r, "required_ops", absl::StrCat("unknown op \"", r.required_ops(i), "\""), i);
      } else if (*kind == ops::OpKind::kMatMulS8S32) {
        has_canonical = true;
      }
    }
    if (!has_canonical) {
      Error(ctx, r, "required_ops", "must include matmul_s8_s32 (the canonical kernel)");
    }
    if (!r.has_canonical_shape()) {
      Error(ctx, r, "canonical_shape", "required");
    } else {
      const auto& s = r.canonical_shape();
      auto sizes = ops::ComputeOperandSizes(ops::OpKind::kMatMulS8S32, s.m(), s.n(), s.k());
      if (!sizes.ok()) {
        Error(ctx, r, "canonical_shape", std::string(sizes.status().message()));
      }
    }
    if (!(r.min_s8_gops() > 0)) Error(ctx, r, "min_s8_gops", "must be > 0");
    if (!(r.min_memory_bandwidth_gbps() >= 0)) {
      Error(ctx, r, "min_memory_bandwidth_gbps", "must be >= 0");
    }
    if (!(r.max_repeat_speedup() >= 1.0)) {
      Error(ctx, r, "max_repeat_speedup", "must be >= 1.0 (e.g. 1.5)");
    }
    if (!(r.max_challenge_seconds() > 0)) Error(ctx, r, "max_challenge_seconds", "must be > 0");
  }

  void CheckStorage(const Ctx& ctx, const v1::StorageRequirements& r) {
    if (!(r.min_capacity_gib() >= 0)) Error(ctx, r, "min_capacity_gib", "must be >= 0");
    if (!(r.min_seq_write_mbps() > 0)) Error(ctx, r, "min_seq_write_mbps", "must be > 0");
    if (!(r.min_seq_read_mbps() > 0)) Error(ctx, r, "min_seq_read_mbps", "must be > 0");
    if (!(r.max_fsync_latency_ms() > 0)) Error(ctx, r, "max_fsync_latency_ms", "must be > 0");
    if (!(r.max_proof_response_ms() > 0)) {
      Error(ctx, r, "max_proof_response_ms", "must be > 0");
    }
    // Model digests as the store names them (lower-case hex); an empty list is valid
    // here, and the storage phase then fails: there is nothing to prove.
    std::set<std::string> seen;
    for (int i = 0; i < r.expected_models_size(); ++i) {
      const std::string& m = r.expected_models(i);
      if (m.size() != 64 || !util::IsHex(m, util::HexCase::kLower)) {
        Error(ctx, r, "expected_models",
              absl::StrCat("\"", m, "\" is not a model digest (64 lower-case hex digits)"), i);
      } else if (!seen.insert(m).second) {
        Error(ctx, r, "expected_models", absl::StrCat("model ", m, " is listed twice"), i);
      }
    }
  }

  void CheckProfile(const Ctx& ctx, const v1::ProfileSettings& p, bool compute, bool storage) {
    if (compute) {
      if (p.challenge_count() < 1) Error(ctx, p, "challenge_count", "must be >= 1");
      if (p.sampled_rows() < 1) Error(ctx, p, "sampled_rows", "must be >= 1");
      if (p.stability_repetitions() < 2) {
        Error(ctx, p, "stability_repetitions", "must be >= 2");
      }
      if (p.memory_test_mib() < 1) Error(ctx, p, "memory_test_mib", "must be >= 1");
      if (!(p.performance_seconds() > 0) || p.performance_seconds() > 3600) {
        Error(ctx, p, "performance_seconds", "must be in (0, 3600]");
      }
    }
    if (storage) {
      if (p.storage_test_mib() < 1) Error(ctx, p, "storage_test_mib", "must be >= 1");
      if (p.proof_challenges() < 1) Error(ctx, p, "proof_challenges", "must be >= 1");
    }
  }

  std::string origin_;
  std::vector<std::string>* errors_;
};

}  // namespace

absl::StatusOr<LoadedClass> ParseClassText(std::string_view text, std::string_view origin) {
  std::vector<std::string> errors;
  Collector collector(&errors, std::string(origin));
  TextFormat::ParseInfoTree tree;
  TextFormat::Parser parser;
  parser.RecordErrorsTo(&collector);
  parser.WriteLocationsTo(&tree);
  LoadedClass loaded;
  bool parsed = parser.ParseFromString(std::string(text), &loaded.device_class);
  if (parsed) {
    Validator validator(std::string(origin), &errors);
    validator.CheckClass(Validator::Ctx{&tree, 0, 0}, loaded.device_class);
  }
  if (!errors.empty() || !parsed) {
    if (errors.empty())
      errors.push_back(absl::StrCat(std::string(origin), ":1:1: could not parse"));
    return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  }
  loaded.origin = std::string(origin);
  loaded.digest_hex = ops::ToHex(
      ops::Sha256Of({ops::ByteSpan(reinterpret_cast<const uint8_t*>(text.data()), text.size())}));
  return loaded;
}

absl::StatusOr<LoadedClass> LoadClassFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read class file ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseClassText(buffer.str(), path);
}

std::vector<std::string> DefaultClassDirs() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("DATANODE_CLASS_DIR"); env != nullptr && *env != '\0') {
    dirs.push_back(env);
  }
  dirs.push_back("/etc/datanode/device_classes");
#ifdef DATANODE_SOURCE_CLASS_DIR
  dirs.push_back(DATANODE_SOURCE_CLASS_DIR);
#endif
  return dirs;
}

absl::StatusOr<std::string> ResolveClassPath(std::string_view name_or_path,
                                             const std::vector<std::string>& dirs) {
  std::string arg(name_or_path);
  if (arg.find('/') != std::string::npos || arg.ends_with(".textproto")) return arg;
  for (const std::string& dir : dirs) {
    std::filesystem::path candidate = std::filesystem::path(dir) / (arg + ".textproto");
    std::error_code ec;
    if (std::filesystem::is_regular_file(candidate, ec)) return candidate.string();
  }
  return absl::NotFoundError(absl::StrCat("no class \"", arg, "\" in ", absl::StrJoin(dirs, ", "),
                                          " (pass a path or set DATANODE_CLASS_DIR)"));
}

absl::StatusOr<v1::ProfileSettings> ProfileSettingsFor(const v1::DeviceClass& device_class,
                                                       std::string_view profile) {
  if (profile == "quick") return device_class.quick();
  if (profile == "full") return device_class.full();
  return absl::InvalidArgumentError(
      absl::StrCat("unknown profile \"", std::string(profile), "\" (quick or full)"));
}

}  // namespace datanode::device_classes
