// Copyright 2026 The datanode Authors.
#include "node/cli/flags.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <utility>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace datanode::cli {
namespace {

std::string Dashed(std::string_view name) {
  return absl::StrReplaceAll(absl::string_view(name.data(), name.size()), {{"_", "-"}});
}

}  // namespace

absl::StatusOr<CommandLine> ParseCommandLine(int argc, char** argv, int first,
                                             const std::vector<std::string_view>& allowed) {
  CommandLine out;
  auto is_allowed = [&](std::string_view name) {
    return std::find(allowed.begin(), allowed.end(), name) != allowed.end();
  };
  for (int i = first; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") {
      for (++i; i < argc; ++i) out.positional.emplace_back(argv[i]);
      break;
    }
    if (arg == "--help" || arg == "-h" || arg == "-help") {
      out.help = true;
      continue;
    }
    if (arg.size() < 3 || arg.substr(0, 2) != "--") {
      out.positional.emplace_back(arg);
      continue;
    }
    std::string_view body = arg.substr(2);
    const size_t eq = body.find('=');
    std::string name = absl::StrReplaceAll(std::string(body.substr(0, eq)), {{"-", "_"}});
    std::optional<std::string> value;
    if (eq != std::string_view::npos) value = std::string(body.substr(eq + 1));
    absl::CommandLineFlag* flag = is_allowed(name) ? absl::FindCommandLineFlag(name) : nullptr;
    if (flag == nullptr && !value && name.rfind("no", 0) == 0 && is_allowed(name.substr(2))) {
      flag = absl::FindCommandLineFlag(name.substr(2));  // --nojson
      if (flag != nullptr && flag->IsOfType<bool>()) {
        name = name.substr(2);
        value = "false";
      } else {
        flag = nullptr;
      }
    }
    if (flag == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", Dashed(name)));
    }
    if (!value) {
      if (flag->IsOfType<bool>()) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat("--", Dashed(name), " needs a value"));
      }
    }
    std::string error;
    if (!flag->ParseFrom(*value, &error)) {
      return absl::InvalidArgumentError(absl::StrCat("--", Dashed(name), ": ", error));
    }
    out.seen.insert(name);
  }
  return out;
}

std::optional<int> ParseFlagsOnlyCommandLine(std::string_view program, std::string_view usage,
                                             int argc, char** argv,
                                             const std::vector<std::string_view>& allowed,
                                             CommandLine* parsed) {
  const std::string name(program);
  auto line = ParseCommandLine(argc, argv, 1, allowed);
  if (!line.ok()) {
    std::fprintf(stderr, "%s: %s (%s --help)\n", name.c_str(),
                 std::string(line.status().message()).c_str(), name.c_str());
    return 2;
  }
  if (line->help) {
    std::printf("%s%s", std::string(usage).c_str(), DescribeFlags(allowed).c_str());
    return 0;
  }
  if (!line->positional.empty()) {
    std::fprintf(stderr, "%s: unexpected argument '%s' (%s --help)\n", name.c_str(),
                 line->positional[0].c_str(), name.c_str());
    return 2;
  }
  if (parsed != nullptr) *parsed = *std::move(line);
  return std::nullopt;
}

std::string DescribeFlags(const std::vector<std::string_view>& names) {
  std::string out;
  for (std::string_view name : names) {
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(std::string(name));
    if (flag == nullptr) continue;
    std::string head = absl::StrCat("  --", Dashed(name));
    if (!flag->IsOfType<bool>()) {
      const std::string def = flag->DefaultValue();
      absl::StrAppend(&head, "=", def.empty() ? "..." : def);
    }
    if (head.size() < 28)
      head.resize(28, ' ');
    else
      absl::StrAppend(&head, "\n", std::string(28, ' '));
    absl::StrAppend(&out, head, flag->Help(), "\n");
  }
  return out;
}

absl::Status CheckRange(std::string_view flag, int64_t value, int64_t lo, int64_t hi) {
  if (value < lo || value > hi) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", Dashed(flag), " must be in [", lo, ", ", hi, "], not ", value));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int64_t>> ParseIntList(std::string_view flag, std::string_view text,
                                                  int64_t lo, int64_t hi) {
  std::vector<int64_t> out;
  for (absl::string_view part : absl::StrSplit(std::string(text), ',')) {
    int64_t v = 0;
    if (!absl::SimpleAtoi(part, &v)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", Dashed(flag), ": '", part, "' is not an integer (want e.g. 4,64)"));
    }
    if (absl::Status s = CheckRange(flag, v, lo, hi); !s.ok()) return s;
    out.push_back(v);
  }
  return out;
}

}  // namespace datanode::cli
