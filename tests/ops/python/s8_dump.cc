// Copyright 2026 The datanode Authors.
//
// Writes seeded kMatMulS8S32 cases for the independent numpy cross-check
// (crosscheck_s8.py): for every case and every backend that can be created, one file
//   <dir>/case_<i>_<backend>.bin = int64 M, N, K (little-endian), A s8[M,K],
//                                  W s8[N,K], C s32[M,N] as the backend computed it.
// Usage: ops_s8_dump <dir>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "datanode/ops/backend.h"
#include "datanode/ops/random_inputs.h"

int main(int argc, char** argv) {
  using namespace datanode::ops;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <output dir>\n", argv[0]);
    return 2;
  }
  struct Case {
    int64_t m, n, k;
    InputProfile profile;
  };
  // Shapes with 1s, odd sizes, the longest K, and +-127 extremes.
  const Case cases[] = {
      {1, 1, 1, InputProfile::kExtreme},     {3, 5, 7, InputProfile::kWide},
      {17, 33, 65, InputProfile::kWide},     {8, 64, 4128, InputProfile::kExtreme},
      {2, 3, kMaxK, InputProfile::kExtreme}, {31, 9, 513, InputProfile::kRealistic},
  };
  int written = 0;
  for (const std::string& name : CompiledBackends()) {
    absl::StatusOr<std::unique_ptr<Backend>> backend = CreateBackend(name);
    if (!backend.ok()) continue;  // a GPU backend without a device
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
      const Case& c = cases[i];
      absl::StatusOr<OpInputs> in =
          MakeRandomInputs(OpKind::kMatMulS8S32, c.m, c.n, c.k, 0x9A7 + i, c.profile);
      if (!in.ok() || !RunOp(**backend, in->Args()).ok()) {
        std::fprintf(stderr, "case %zu on %s failed\n", i, name.c_str());
        return 1;
      }
      const std::string path =
          std::string(argv[1]) + "/case_" + std::to_string(i) + "_" + name + ".bin";
      std::ofstream f(path, std::ios::binary);
      for (int64_t v : {c.m, c.n, c.k}) {
        uint8_t le[8];
        for (int b = 0; b < 8; ++b)
          le[b] = static_cast<uint8_t>(static_cast<uint64_t>(v) >> (8 * b));
        f.write(reinterpret_cast<const char*>(le), 8);
      }
      f.write(reinterpret_cast<const char*>(in->a.data()), in->a.size());
      f.write(reinterpret_cast<const char*>(in->w.data()), in->w.size());
      f.write(reinterpret_cast<const char*>(in->out.data()), in->out.size());
      if (!f) return 1;
      ++written;
    }
  }
  std::printf("%d files\n", written);
  return 0;
}
