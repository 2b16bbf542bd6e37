// Copyright 2026 The datanode Authors.
//
// Shared by the host emulations of the s8 tensor-core kernels (s8_tiling_test.cc,
// s8_wgmma_layout_test.cc): packs a random s8 GEMM into the padded device layout,
// runs an emulated kernel on it and compares C32 with the reference.
#ifndef DATANODE_TESTS_CUDA_S8_EMULATION_UTIL_H_
#define DATANODE_TESTS_CUDA_S8_EMULATION_UTIL_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "datanode/ops/random_inputs.h"
#include "datanode/ops/reference.h"
#include "ops/cuda/matmul_s8_plan.h"

namespace datanode::ops::cuda {

// `emulate(plan, a, w)` returns C32 [plan.mp, plan.np] for the padded A [mp, kp] and
// W [np, kp]. Returns "" when C32[0:m, 0:n] equals the reference on random inputs
// (seed), else where it first differs.
template <typename Emulate>
std::string EmulationDiffersFromReference(const S8GemmPlan& plan, uint64_t seed, Emulate emulate) {
  auto in = MakeRandomInputs(OpKind::kMatMulS8S32, plan.m, plan.n, plan.k, seed);
  if (!in.ok()) return std::string(in.status().message());
  OpInputs ref = *in;
  reference::MatMulS8S32(ref.Args(), ref.w);
  std::vector<uint8_t> a(plan.mp * plan.kp), w(plan.np * plan.kp);
  PackPaddedRows(in->a.data(), plan.m, plan.k, plan.mp, plan.kp, a.data());
  PackPaddedRows(in->w.data(), plan.n, plan.k, plan.np, plan.kp, w.data());
  const std::vector<int32_t> c = emulate(plan, a, w);
  for (int64_t i = 0; i < plan.m; ++i) {
    for (int64_t j = 0; j < plan.n; ++j) {
      int32_t want;
      std::memcpy(&want, &ref.out[(i * plan.n + j) * 4], 4);
      if (c[i * plan.np + j] != want) {
        return "shape " + std::to_string(plan.m) + "x" + std::to_string(plan.n) + "x" +
               std::to_string(plan.k) + " splits " + std::to_string(plan.splits) + ": at " +
               std::to_string(i) + "," + std::to_string(j) + " got " +
               std::to_string(c[i * plan.np + j]) + ", want " + std::to_string(want);
      }
    }
  }
  return "";
}

}  // namespace datanode::ops::cuda

#endif  // DATANODE_TESTS_CUDA_S8_EMULATION_UTIL_H_
