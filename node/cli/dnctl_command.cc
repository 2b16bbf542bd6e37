// Copyright 2026 The datanode Authors.
#include "node/cli/dnctl_command.h"

#include <cstdio>
#include <filesystem>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

ABSL_FLAG(std::string, model, "",
          "matmul: weights by reference: the model digest; generate, tokenize: the model");
ABSL_FLAG(std::string, out, "",
          "matmul: write C as .npy; admission: the report path (default "
          "admission-<class>-<first 8 nonce digits>.json)");
ABSL_FLAG(uint64_t, seed, 0,
          "gen-model, gen-npy: random seed (default 1 and 2); generate: the sampling seed, "
          "sent as 8 bytes little-endian (default: no seed bytes)");

namespace datanode::node::dnctl {

int Fail(std::string_view what) {
  std::fprintf(stderr, "dnctl: %.*s\n", static_cast<int>(what.size()), what.data());
  return 1;
}

int Fail(const absl::Status& s) { return Fail(std::string(s.message())); }

int Usage(std::string_view why) {
  std::fprintf(stderr, "dnctl: %.*s\n", static_cast<int>(why.size()), why.data());
  return 2;
}

int Usage(const absl::Status& s) { return Usage(std::string(s.message())); }

int FailRpc(const grpc::Status& s) {
  // gRPC's codes are absl's, number for number.
  std::string name = absl::StatusCodeToString(static_cast<absl::StatusCode>(s.error_code()));
  return Fail(absl::StrCat(name.empty() ? "?" : name, ": ", s.error_message()));
}

void PrintJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions opts;
  opts.add_whitespace = true;
  opts.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, opts);
  std::fputs(out.c_str(), stdout);
}

std::string Absolute(const std::string& path) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(path, ec);
  return ec ? path : p.string();
}

}  // namespace datanode::node::dnctl
