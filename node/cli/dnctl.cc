// Copyright 2026 The datanode Authors.
//
// dnctl: the operator CLI for datanoded. Run `dnctl --help`.
//
// This file is the command line: the global flags, the list of command groups, and
// dispatch. The commands live in cmd_*.cc (one file per group), what they share in
// dnctl_command.h, the flag parsing (and why it is ours over absl flags) in flags.h.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "node/cli/dnctl_command.h"
#include "node/cli/flags.h"

ABSL_FLAG(std::string, socket, "",
          "datanoded's Unix socket (default $DATANODE_SOCKET, else run/datanoded.sock)");
ABSL_FLAG(bool, json, false, "print responses as JSON");

namespace datanode::node::dnctl {
namespace {

constexpr char kUsage[] = R"(usage: dnctl [--socket PATH] [--json] COMMAND [ARGS] [FLAGS]

Talks to datanoded over its Unix socket (default run/datanoded.sock, or $DATANODE_SOCKET).
--json prints the raw response as JSON. `dnctl COMMAND --help` shows a command's flags.
Exit codes: 0 success, 1 the command failed (RPC or I/O error), 2 usage error.

Commands:
)";

// Every command, group by group; a new group is a line here.
const std::vector<Command>& Commands() {
  static const std::vector<Command> kCommands = [] {
    std::vector<Command> all;
    for (auto group : {NodeCommands, StoreCommands, MatMulCommands, FileCommands, AdmissionCommands,
                       InferenceCommands}) {
      std::vector<Command> rows = group();
      all.insert(all.end(), rows.begin(), rows.end());
    }
    return all;
  }();
  return kCommands;
}

const std::vector<std::string_view> kGlobalFlags = {"socket", "json"};

std::string UsageText() {
  std::string out = kUsage;
  for (const Command& c : Commands()) {
    absl::StrAppend(&out, "  ", c.name, *c.args ? " " : "", c.args, "\n      ", c.summary, "\n");
  }
  absl::StrAppend(&out, "\nGlobal flags:\n", cli::DescribeFlags(kGlobalFlags));
  return out;
}

int Run(int argc, char** argv) {
  // The command is the first positional argument; the flags it accepts are known only
  // once it is, so find it first (global flags may come before it).
  const Command* cmd = nullptr;
  for (int i = 1; i < argc && cmd == nullptr; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg.size() > 2 && arg.substr(0, 2) == "--") {
      // A global flag's separate value is not the command.
      std::string name(arg.substr(2));
      if ((name == "socket") && i + 1 < argc) ++i;
      continue;
    }
    if (arg == "-h") continue;
    for (const Command& c : Commands()) {
      if (arg == c.name) cmd = &c;
    }
    if (cmd == nullptr) {
      return Usage(
          absl::StrCat("unknown command '", std::string(arg), "' (dnctl --help lists them)"));
    }
  }
  std::vector<std::string_view> allowed = kGlobalFlags;
  if (cmd != nullptr) allowed.insert(allowed.end(), cmd->flags.begin(), cmd->flags.end());
  auto line = cli::ParseCommandLine(argc, argv, 1, allowed);
  if (!line.ok()) {
    return Usage(absl::StrCat(line.status().message(),
                              cmd ? absl::StrCat(" (dnctl ", cmd->name, " --help)") : ""));
  }
  if (line->help) {
    if (cmd == nullptr) {
      std::fputs(UsageText().c_str(), stdout);
    } else if (cmd->help != nullptr) {
      std::fputs(cmd->help, stdout);
    } else {
      std::printf("usage: dnctl %s%s%s [FLAGS]\n\n%s\n", cmd->name, *cmd->args ? " " : "",
                  cmd->args, cmd->summary);
      std::vector<std::string_view> names = kGlobalFlags;
      names.insert(names.end(), cmd->flags.begin(), cmd->flags.end());
      std::printf("\nFlags:\n%s", cli::DescribeFlags(names).c_str());
    }
    return 0;
  }
  if (cmd == nullptr) {
    std::fputs(UsageText().c_str(), stderr);
    return 2;
  }
  Invocation in;
  in.args.assign(line->positional.begin() + 1, line->positional.end());
  if (static_cast<int>(in.args.size()) != cmd->nargs) {
    return Usage(absl::StrCat(cmd->name, " takes ", cmd->nargs == 0 ? "no" : cmd->args,
                              cmd->nargs == 0 ? " arguments" : "", ", got ", in.args.size(),
                              " (dnctl ", cmd->name, " --help)"));
  }
  in.seen = line->seen;
  in.json = absl::GetFlag(FLAGS_json);
  in.socket = absl::GetFlag(FLAGS_socket);
  if (in.socket.empty()) {
    const char* env_socket = std::getenv("DATANODE_SOCKET");
    in.socket = env_socket ? env_socket : "run/datanoded.sock";
  }
  if (cmd->daemon) {
    grpc::ChannelArguments chargs;
    chargs.SetMaxReceiveMessageSize(-1);
    chargs.SetMaxSendMessageSize(-1);
    in.channel =
        grpc::CreateCustomChannel("unix:" + in.socket, grpc::InsecureChannelCredentials(), chargs);
  }
  return cmd->run(in);
}

}  // namespace
}  // namespace datanode::node::dnctl

int main(int argc, char** argv) { return datanode::node::dnctl::Run(argc, argv); }
