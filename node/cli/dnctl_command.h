// Copyright 2026 The datanode Authors.
//
// What every dnctl subcommand shares: the shape of a command (a row of its group's
// table), what it is given when it runs, the flags several groups read, and the one
// way each kind of result or error is printed.
//
// A subcommand is a function and a row in its group's table (cmd_*.cc); the groups are
// listed once, in dnctl.cc. Output conventions (kept by the helpers here):
// - stdout: the result (a summary, or with --json the response message as JSON);
// - stderr: "dnctl: <message>" for errors, progress lines;
// - exit 0 success, 1 the command failed (RPC or I/O error), 2 usage error. A command
//   with a verdict (admission) documents its own codes.
// Single-threaded: a command runs once per process.
#ifndef DATANODE_NODE_CLI_DNCTL_COMMAND_H_
#define DATANODE_NODE_CLI_DNCTL_COMMAND_H_

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "grpcpp/grpcpp.h"

// Flags that more than one group reads (each group defines its own others).
ABSL_DECLARE_FLAG(std::string, model);
ABSL_DECLARE_FLAG(std::string, out);
ABSL_DECLARE_FLAG(uint64_t, seed);

namespace datanode::node::dnctl {

// What a command gets: its positional arguments (after the command name), the flags
// given (absl names), the daemon's socket and channel (the channel only for commands
// that talk to the daemon), and whether --json was given.
struct Invocation {
  std::vector<std::string> args;
  std::set<std::string> seen;
  std::string socket;
  std::shared_ptr<grpc::Channel> channel;
  bool json = false;
};

struct Command {
  const char* name;
  const char* args;  // positional arguments, for the usage line
  int nargs;         // how many positional arguments it takes
  const char* summary;
  std::vector<std::string_view> flags;  // absl names, besides the global --socket and --json
  bool daemon;                          // talks to datanoded (needs the channel)
  int (*run)(const Invocation&);
  const char* help = nullptr;  // a longer --help text, if any
};

// The groups' tables (cmd_*.cc), in the order `dnctl --help` lists them.
std::vector<Command> NodeCommands();       // info, metrics
std::vector<Command> StoreCommands();      // blobs and models
std::vector<Command> MatMulCommands();     // matmul
std::vector<Command> FileCommands();       // gen-model, gen-npy (local, no daemon)
std::vector<Command> AdmissionCommands();  // admission
std::vector<Command> InferenceCommands();  // generate, tokenize

// "dnctl: <what>" on stderr; returns 1.
int Fail(std::string_view what);
int Fail(const absl::Status& s);  // its message
// A usage error: "dnctl: <why>" on stderr; returns 2.
int Usage(std::string_view why);
int Usage(const absl::Status& s);
// A failed RPC: "dnctl: <CODE NAME>: <message>" on stderr; returns 1.
int FailRpc(const grpc::Status& s);
// `m` as JSON (proto field names, indented) on stdout.
void PrintJson(const google::protobuf::Message& m);
// `path` made absolute (the daemon resolves paths from its own directory), or as given
// if the working directory is unknown.
std::string Absolute(const std::string& path);

}  // namespace datanode::node::dnctl

#endif  // DATANODE_NODE_CLI_DNCTL_COMMAND_H_
