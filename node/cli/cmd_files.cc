// Copyright 2026 The datanode Authors.
//
// dnctl gen-model and gen-npy: local test inputs (a small safetensors model, a random
// .npy array), written without a daemon. Deterministic for a given --seed.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "datanode/ops/random_inputs.h"
#include "node/cli/dnctl_command.h"
#include "node/cli/flags.h"
#include "node/cli/npy.h"

ABSL_FLAG(int64_t, n, 64, "gen-model: rows N of w [N,K]");
ABSL_FLAG(int64_t, k, 64, "gen-model: columns K of w [N,K]");
ABSL_FLAG(std::string, shape, "4,64", "gen-npy: the shape, comma-separated");
ABSL_FLAG(std::string, dtype, "int8", "gen-npy: int8 or float32");

namespace datanode::node::dnctl {
namespace {

int GenModel(const Invocation& in) {
  const int64_t n = absl::GetFlag(FLAGS_n), k = absl::GetFlag(FLAGS_k);
  if (absl::Status s = cli::CheckRange("n", n, 1, int64_t{1} << 20); !s.ok()) return Usage(s);
  if (absl::Status s = cli::CheckRange("k", k, 1, int64_t{1} << 20); !s.ok()) return Usage(s);
  if (n * k > (int64_t{1} << 31)) return Usage("--n times --k must be at most 2^31");
  ops::SplitMix64 rng(in.seen.count("seed") ? absl::GetFlag(FLAGS_seed) : 1);
  std::string w(static_cast<size_t>(n * k), '\0');
  for (auto& c : w) c = static_cast<char>(rng.Uniform(-127, 127));
  std::string scale(static_cast<size_t>(n * 4), '\0');
  for (int64_t i = 0; i < n; ++i) {
    float f = static_cast<float>(rng.Uniform(1, 1024)) / 65536.0f;  // exact in f32
    std::memcpy(&scale[static_cast<size_t>(i * 4)], &f, 4);
  }
  std::string header = absl::StrCat(
      R"({"__metadata__":{"writer":"dnctl gen-model"},"w":{"dtype":"I8","shape":[)", n, ",", k,
      R"(],"data_offsets":[0,)", w.size(), R"(]},"w.scale":{"dtype":"F32","shape":[)", n,
      R"(],"data_offsets":[)", w.size(), ",", w.size() + scale.size(), "]}}");
  while (header.size() % 8) header.push_back(' ');
  uint64_t len = header.size();
  const std::string& path = in.args[0];
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(&len), 8);
  f << header << w << scale;
  if (!f) return Fail("cannot write " + path);
  std::printf("wrote %s: w I8 [%lld,%lld], w.scale F32 [%lld]\n", path.c_str(), (long long)n,
              (long long)k, (long long)n);
  return 0;
}

int GenNpy(const Invocation& in) {
  NpyArray arr;
  auto shape = cli::ParseIntList("shape", absl::GetFlag(FLAGS_shape), 1, int64_t{1} << 31);
  if (!shape.ok()) return Usage(shape.status());
  int64_t count = 1;
  for (int64_t d : *shape) {
    if (count > (int64_t{1} << 31) / d) return Usage("--shape has more than 2^31 elements");
    count *= d;
  }
  arr.shape = *shape;
  const std::string dtype = absl::GetFlag(FLAGS_dtype);
  if (dtype != "int8" && dtype != "float32") return Usage("--dtype must be int8 or float32");
  ops::SplitMix64 rng(in.seen.count("seed") ? absl::GetFlag(FLAGS_seed) : 2);
  if (dtype == "float32") {
    arr.descr = "<f4";
    arr.data.resize(static_cast<size_t>(count * 4));
    for (int64_t i = 0; i < count; ++i) {
      float f = static_cast<float>(rng.Uniform(-4096, 4096)) / 1024.0f;
      std::memcpy(&arr.data[static_cast<size_t>(i * 4)], &f, 4);
    }
  } else {
    arr.descr = "|i1";
    arr.data.resize(static_cast<size_t>(count));
    for (auto& c : arr.data) c = static_cast<char>(rng.Uniform(-127, 127));
  }
  absl::Status s = WriteNpy(in.args[0], arr);
  return s.ok() ? 0 : Fail(s);
}

}  // namespace

std::vector<Command> FileCommands() {
  return {
      {"gen-model",
       "OUT.safetensors",
       1,
       "write a small model: \"w\" I8 [N,K], \"w.scale\" F32 [N]",
       {"n", "k", "seed"},
       false,
       GenModel},
      {"gen-npy",
       "OUT.npy",
       1,
       "write a random .npy array",
       {"shape", "dtype", "seed"},
       false,
       GenNpy},
  };
}

}  // namespace datanode::node::dnctl
