// Copyright 2026 The datanode Authors.
#include "ops/cpu/cpu_features.h"

#include <cstdlib>
#include <fstream>
#include <string>

namespace datanode::ops::cpu {

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kPortable:
      return "portable";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512Vnni:
      return "avx512vnni";
  }
  return "unknown";
}

Isa DetectIsa() {
  Isa best = Isa::kPortable;
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) best = Isa::kAvx2;
  if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512vnni")) {
    best = Isa::kAvx512Vnni;
  }
#endif
  if (const char* cap = std::getenv("DATANODE_CPU_ISA"); cap != nullptr) {
    const std::string_view want(cap);
    for (Isa isa : {Isa::kPortable, Isa::kAvx2, Isa::kAvx512Vnni}) {
      if (want == std::string_view(IsaName(isa)) && static_cast<int>(isa) < static_cast<int>(best)) best = isa;
    }
  }
  return best;
}

std::string CpuModelName() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos && colon + 2 <= line.size()) return line.substr(colon + 2);
    }
  }
  return "unknown CPU";
}

}  // namespace datanode::ops::cpu
