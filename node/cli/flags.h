// Copyright 2026 The datanode Authors.
//
// Command-line parsing for datanoded, dnctl, dn-conformance and dn-subnet-sim over
// absl flags: the programs an operator or a CI job runs (benchmarks and test tools keep
// their own few arguments).
//
// Flags are defined with ABSL_FLAG and their values parsed by absl (numbers are
// range-checked for the flag's type; nothing throws). The argv loop is ours because
// absl::ParseCommandLine exits with status 1 on a bad flag and on --help, where these
// tools promise 2 for usage errors and 0 for --help, and because it knows no
// subcommands: its --help describes the binary, not one subcommand, and every flag is
// accepted everywhere, where here each subcommand accepts only the flags it names.
//
// Accepted forms: --name=value, --name value, --bool, --nobool, --bool=false; "-" in a
// name stands for "_" (--metrics-socket sets metrics_socket); --help and -h ask for
// help; "--" ends the flags. Flags and positional arguments may be interleaved.
#ifndef DATANODE_NODE_CLI_FLAGS_H_
#define DATANODE_NODE_CLI_FLAGS_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace datanode::cli {

struct CommandLine {
  std::vector<std::string> positional;
  std::set<std::string> seen;  // flags given (absl names, with "_")
  bool help = false;
};

// Parses argv[first..argc) accepting only the flags in `allowed` (absl names).
// INVALID_ARGUMENT naming the flag for an unknown flag, a missing or bad value.
absl::StatusOr<CommandLine> ParseCommandLine(int argc, char** argv, int first,
                                             const std::vector<std::string_view>& allowed);

// One "  --name=<default>  help" block per flag in `names`, for --help texts.
std::string DescribeFlags(const std::vector<std::string_view>& names);

// The whole command line of a program that takes flags and no positional arguments
// (datanoded, dn-subnet-sim): returns the exit code to leave with now, after printing the
// usage for --help (0) or a one-line error ending "(PROGRAM --help)" (2), or nullopt when
// the program should go on and read its flags (then *line, if given, holds the parse).
std::optional<int> ParseFlagsOnlyCommandLine(std::string_view program, std::string_view usage,
                                             int argc, char** argv,
                                             const std::vector<std::string_view>& allowed,
                                             CommandLine* line = nullptr);

// Range checks for numeric flags after parsing: INVALID_ARGUMENT naming --flag.
absl::Status CheckRange(std::string_view flag, int64_t value, int64_t lo, int64_t hi);

// A comma-separated list of integers in [lo, hi] ("4,64"); INVALID_ARGUMENT naming
// --flag on anything else.
absl::StatusOr<std::vector<int64_t>> ParseIntList(std::string_view flag, std::string_view text,
                                                  int64_t lo, int64_t hi);

}  // namespace datanode::cli

#endif  // DATANODE_NODE_CLI_FLAGS_H_
