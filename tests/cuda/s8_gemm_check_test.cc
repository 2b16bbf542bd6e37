// Copyright 2026 The datanode Authors.
//
// Runs without a GPU: the s8 GEMM's choice rule, the DATANODE_CUDA_WGMMA setting, and
// what the start-up check reaches (ops/cuda/s8_gemm.h). The check must run every kernel
// the backend may serve with on the plans a call gets: both mma.sync tile
// configurations with and without split-K (an uneven last slice included), the decode
// plan of the device itself, and the wgmma kernel's edge tiles. These tests assert that
// the check shapes do, for GPUs of any SM count; whether the kernels then pass is the
// device's part (cuda_backend_test, bench/gpu-check.sh).
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "ops/cuda/matmul_s8_plan.h"
#include "ops/cuda/matmul_s8_wgmma_layout.h"
#include "ops/cuda/s8_gemm.h"

namespace datanode::ops::cuda {
namespace {

// A100 108, H100 PCIe 114, H100 SXM / H200 132, L4 58, RTX 4090 128, A10 72, small
// parts 16 and 24; 1 for the degenerate case.
constexpr int kSmCounts[] = {1, 16, 24, 46, 58, 72, 108, 114, 128, 132, 144};

struct Reached {
  bool cfg64_whole = false, cfg64_split = false, cfg64_uneven = false;
  bool cfg128_whole = false, cfg128_split = false, cfg128_uneven = false;
  bool ring_wraps = false;  // some slice has more k tiles than the stage ring
  bool partial_m = false, partial_n = false, partial_k = false;
};

TEST(CudaS8Gemm, CheckReachesEveryMmaPathOnEveryGpu) {
  for (int sms : kSmCounts) {
    SCOPED_TRACE("SMs " + std::to_string(sms));
    Reached r;
    bool decode_as_served = false;
    for (const S8CheckShape& s : S8CheckShapes()) {
      if (s.kernel != S8Kernel::kMma) continue;
      const S8GemmPlan p = S8CheckPlan(s, sms);
      const bool cfg64 = p.config == S8TileConfig::k64x128;
      const bool split = p.splits > 1;
      const bool uneven = split && p.k_tiles % p.k_tiles_per_split != 0;
      (cfg64 ? (split ? r.cfg64_split : r.cfg64_whole)
             : (split ? r.cfg128_split : r.cfg128_whole)) = true;
      if (uneven) (cfg64 ? r.cfg64_uneven : r.cfg128_uneven) = true;
      r.ring_wraps |= p.k_tiles_per_split > kS8Stages;
      r.partial_m |= p.mp != s.m;
      r.partial_n |= p.np != s.n;
      r.partial_k |= p.kp != s.k;
      if (s.plan_sm_count == 0) {
        // Exactly the plan a 1 x 4096 x 4096 call gets on this device.
        const S8GemmPlan served = PlanS8Gemm(1, 4096, 4096, sms);
        EXPECT_EQ(p.config, served.config);
        EXPECT_EQ(p.splits, served.splits);
        EXPECT_EQ(p.k_tiles_per_split, served.k_tiles_per_split);
        decode_as_served = true;
        // Tiles cannot fill a GPU of more than 16 SMs: the decode plan splits K there.
        if (sms > 16) {
          EXPECT_GT(p.splits, 1);
        }
      }
    }
    EXPECT_TRUE(decode_as_served);
    EXPECT_TRUE(r.cfg64_whole);
    EXPECT_TRUE(r.cfg64_split);
    EXPECT_TRUE(r.cfg64_uneven);
    EXPECT_TRUE(r.cfg128_whole);
    EXPECT_TRUE(r.cfg128_split);
    EXPECT_TRUE(r.cfg128_uneven);
    EXPECT_TRUE(r.ring_wraps);
    EXPECT_TRUE(r.partial_m);
    EXPECT_TRUE(r.partial_n);
    EXPECT_TRUE(r.partial_k);
  }
}

// The wgmma shapes run with the plans PlanS8Gemm makes for 128-row tiles without
// split-K (what ChooseS8Kernel sends to wgmma) and reach its edges: an N tile half
// past np, a K tile half past kp, a K loop longer than the ring, several tiles both
// ways, rows past m.
TEST(CudaS8Gemm, CheckReachesTheWgmmaKernelsEdges) {
  bool half_n = false, half_k = false, ring_wraps = false, grid = false, rows_past_m = false;
  int shapes = 0;
  for (const S8CheckShape& s : S8CheckShapes()) {
    if (s.kernel != S8Kernel::kWgmma) continue;
    ++shapes;
    for (int sms : kSmCounts) {
      const S8GemmPlan p = S8CheckPlan(s, sms);
      ASSERT_EQ(p.config, S8TileConfig::k128x128) << s.m << "x" << s.n << "x" << s.k;
      ASSERT_EQ(p.splits, 1) << s.m << "x" << s.n << "x" << s.k;
      ASSERT_TRUE(S8WgmmaPlanIsValid(p)) << s.m << "x" << s.n << "x" << s.k;
    }
    const S8GemmPlan p = S8CheckPlan(s, 132);
    half_n |= p.np % kWgTileN != 0;
    half_k |= p.kp % kWgTileK != 0;
    ring_wraps |= WgKTiles(p.kp) > kWgStages;
    grid |= WgTilesM(p.mp) > 1 && WgTilesN(p.np) > 1;
    rows_past_m |= p.mp != s.m;
  }
  EXPECT_GE(shapes, 3);
  EXPECT_TRUE(half_n);
  EXPECT_TRUE(half_k);
  EXPECT_TRUE(ring_wraps);
  EXPECT_TRUE(grid);
  EXPECT_TRUE(rows_past_m);
}

// A plan variant as far as the kernels' code paths go: which kernel, which tile
// configuration, split-K or not.
struct Variant {
  S8Kernel kernel;
  S8TileConfig config;
  bool split;
  auto operator<=>(const Variant&) const = default;
};

std::string Describe(const Variant& v) {
  return std::string(S8KernelName(v.kernel)) + " " + std::to_string(TileShapeOf(v.config).bm) +
         "x128" + (v.split ? " split-K" : " whole-K");
}

// From the planner's own tables and rule: every variant PlanS8Gemm + ChooseS8Kernel
// produce for calls of any shape (a sweep of M, N, K around every tile and split
// boundary, with wgmma on and off), on each GPU size, is a variant the start-up check
// runs on that GPU. The sweep must itself reach every entry of kS8TileConfigs and
// kS8Kernels, so a configuration or kernel added to the tables without a check shape
// fails here.
TEST(CudaS8Gemm, CheckCoversEveryVariantThePlannerAndChoiceRuleServe) {
  const int64_t ms[] = {1,   2,   16,  33,  63,   64,   65,   100, 128,
                        129, 200, 256, 512, 1000, 2048, 4096, 8192};
  const int64_t ns[] = {1, 100, 128, 129, 256, 300, 1024, 4096, 8192, 16384};
  const int64_t ks[] = {32, 64, 256, 520, 1024, 2100, 4096, 14336};
  std::set<S8TileConfig> configs_served;
  std::set<S8Kernel> kernels_served;
  for (int sms : kSmCounts) {
    SCOPED_TRACE("SMs " + std::to_string(sms));
    std::set<Variant> served, checked;
    for (int64_t m : ms) {
      for (int64_t n : ns) {
        for (int64_t k : ks) {
          const S8GemmPlan p = PlanS8Gemm(m, n, k, sms);
          for (bool wgmma_enabled : {false, true}) {
            const S8Kernel kernel = ChooseS8Kernel(p, sms, wgmma_enabled);
            served.insert({kernel, p.config, p.splits > 1});
            configs_served.insert(p.config);
            kernels_served.insert(kernel);
          }
        }
      }
    }
    for (const S8CheckShape& s : S8CheckShapes()) {
      const S8GemmPlan p = S8CheckPlan(s, sms);
      checked.insert({s.kernel, p.config, p.splits > 1});
    }
    for (const Variant& v : served) {
      EXPECT_TRUE(checked.count(v)) << Describe(v) << " serves calls but the check never runs it";
    }
  }
  for (S8TileConfig c : kS8TileConfigs) {
    EXPECT_TRUE(configs_served.count(c))
        << "tile config " << static_cast<int>(c) << " is in the table but the sweep never plans it";
  }
  for (S8Kernel k : kS8Kernels) {
    EXPECT_TRUE(kernels_served.count(k)) << S8KernelName(k) << " never chosen by the sweep";
  }
}

TEST(CudaS8Gemm, ChoiceRuleIsWgmmaOnlyWhenEnabledAndPaying) {
  // 8192^3 and 4096^3 on 132 SMs take wgmma once enabled; never when it is off.
  for (int64_t size : {4096, 8192}) {
    const S8GemmPlan p = PlanS8Gemm(size, size, size, 132);
    EXPECT_EQ(ChooseS8Kernel(p, 132, true), S8Kernel::kWgmma) << size;
    EXPECT_EQ(ChooseS8Kernel(p, 132, false), S8Kernel::kMma) << size;
  }
  // Decode shapes and GEMMs below a full wave of 128x256 tiles keep mma.sync.
  for (int64_t m : {1, 8, 64}) {
    EXPECT_EQ(ChooseS8Kernel(PlanS8Gemm(m, 8192, 8192, 132), 132, true), S8Kernel::kMma) << m;
  }
  EXPECT_EQ(ChooseS8Kernel(PlanS8Gemm(256, 4096, 4096, 132), 132, true), S8Kernel::kMma);
  // Across shapes: exactly S8WgmmaPays when enabled.
  for (int64_t m : {1, 65, 129, 1000, 1536, 4096}) {
    for (int64_t n : {1, 300, 2900, 4096}) {
      for (int sms : {1, 108, 132}) {
        const S8GemmPlan p = PlanS8Gemm(m, n, 1024, sms);
        EXPECT_EQ(ChooseS8Kernel(p, sms, true) == S8Kernel::kWgmma, S8WgmmaPays(p, sms));
        EXPECT_EQ(ChooseS8Kernel(p, sms, false), S8Kernel::kMma);
      }
    }
  }
  EXPECT_STREQ(S8KernelName(S8Kernel::kMma), "mma.sync");
  EXPECT_STREQ(S8KernelName(S8Kernel::kWgmma), "wgmma");
}

TEST(CudaS8Gemm, WgmmaSettingParses) {
  for (const char* on : {static_cast<const char*>(nullptr), "", "auto", "1"}) {
    auto allowed = WgmmaAllowed(on);
    ASSERT_TRUE(allowed.ok()) << allowed.status();
    EXPECT_TRUE(*allowed) << (on == nullptr ? "unset" : on);
  }
  auto off = WgmmaAllowed("0");
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(*off);
  for (const char* bad : {"wgmma+TMA", "yes", " 0", "2"}) {
    auto parsed = WgmmaAllowed(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find(std::string("DATANODE_CUDA_WGMMA=\"") + bad + "\""),
              std::string::npos)
        << parsed.status();
  }
}

}  // namespace
}  // namespace datanode::ops::cuda
