// Copyright 2026 The datanode Authors.
//
// Run-time instruction-set detection for the CPU backend's kernel dispatch.
#ifndef DATANODE_OPS_CPU_CPU_FEATURES_H_
#define DATANODE_OPS_CPU_CPU_FEATURES_H_

#include <string>
#include <string_view>

namespace datanode::ops::cpu {

// Kernel families, best last. Every family gives the same bytes; they differ only in speed.
enum class Isa : int {
  kPortable = 0,    // plain C++ (any CPU)
  kAvx2 = 1,        // AVX2: vpmaddubsw with the sign trick
  kAvx512Vnni = 2,  // AVX-512 BW/VL + VNNI: vpdpbusd (non-saturating)
};

const char* IsaName(Isa isa);

// The best family this CPU supports, capped by the environment variable
// DATANODE_CPU_ISA ("portable", "avx2", "avx512vnni") when set, so tests and
// benchmarks can exercise every path on one machine.
Isa DetectIsa();

// Name of the CPU (from /proc/cpuinfo "model name"), or "unknown CPU".
std::string CpuModelName();

}  // namespace datanode::ops::cpu

#endif  // DATANODE_OPS_CPU_CPU_FEATURES_H_
