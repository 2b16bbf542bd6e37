// Copyright 2026 The datanode Authors.
//
// The Hopper s8 GEMM (contract in matmul_s8_wgmma.cuh, layout in
// matmul_s8_wgmma_layout.h). Compiled for sm_90a only: wgmma is an arch-specific
// feature that no other target (and no PTX for a later GPU) may carry.
//
// One CTA (256 threads = two warpgroups) computes a 128 x 256 tile of C32:
//   - all threads copy 16-byte chunks of A and W with cp.async.cg into a 4-stage ring
//     in the 128-byte-swizzled layout wgmma reads (zero-filled past the padded
//     operands), running two stages ahead;
//   - once a stage has landed, each thread fences its copies into the async proxy
//     (fence.proxy.async: cp.async writes through the generic proxy, wgmma reads
//     through the async proxy), the CTA synchronizes, and each warpgroup issues four
//     wgmma.mma_async m64n256k32 .s32.s8.s8 on its 64 rows;
//   - wgmma.wait_group 1 keeps one k tile of MMAs in flight while the next stage is
//     awaited; a stage is reloaded only after the barrier that follows the wait
//     covering its last reader, so no MMA ever reads a stage being overwritten;
//   - the int32 accumulators go straight to C32.
// Why cp.async rather than TMA + mbarriers: every synchronization here is a CTA
// barrier or a wait on the thread's own copies, so a mistake cannot hang the GPU;
// the kernel is checked against the reference (self-check at backend creation,
// device tests) before it serves a call.
//
// Exactness: integer products and sums only (|s8| <= 127, K <= 131071 fit int32);
// zero-filled loads add nothing. No float appears in this kernel.
#include "ops/cuda/matmul_s8_wgmma.cuh"
#include "ops/cuda/wgmma_ptx.cuh"

namespace datanode::ops::cuda {
namespace {

// 16-byte copy; src_bytes = 0 writes 16 zero bytes and reads nothing.
__device__ __forceinline__ void CpAsync16ZeroFill(uint32_t smem, const void* gmem, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem), "l"(gmem),
               "r"(src_bytes));
}

__device__ __forceinline__ void CpAsyncCommit() { asm volatile("cp.async.commit_group;\n" ::); }

template <int kPending>
__device__ __forceinline__ void CpAsyncWait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
}

// Makes this thread's completed generic-proxy writes to shared memory (cp.async)
// visible to the async proxy that wgmma reads through.
__device__ __forceinline__ void FenceProxyAsyncShared() {
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}

struct WgKernelArgs {
  int64_t kp;
  int64_t np;
  int64_t tiles_m;
  int64_t tiles_n;
  int k_tiles;
};

// Stage of tile kt+2 (being loaded) must differ from those of kt-1 (its MMAs may still
// run), kt (being read) and kt+1 (landing).
static_assert(kWgStages >= 4, "the ring must hold four k tiles");

__global__ void __launch_bounds__(kWgThreads, 1)
    MatMulS8WgmmaKernel(const int8_t* __restrict__ a, const int8_t* __restrict__ w,
                        int32_t* __restrict__ c32, WgKernelArgs args) {
  extern __shared__ uint8_t smem_raw[];
  // The swizzle pattern must start on a 1024-byte boundary (descriptor base offset 0).
  const uint32_t sa = (wgmma::SharedAddress(smem_raw) + kWgSwizzleAtomBytes - 1) &
                      ~static_cast<uint32_t>(kWgSwizzleAtomBytes - 1);
  const uint32_t sb = sa + kWgStages * kWgStageBytesA;

  int64_t m_tile, n_tile;
  TileCoords(blockIdx.x, args.tiles_m, args.tiles_n, &m_tile, &n_tile);
  const int8_t* a_tile = a + m_tile * kWgTileM * args.kp;
  const int64_t n_first = n_tile * kWgTileN;
  const int8_t* w_tile = w + n_first * args.kp;

  auto load_stage = [&](int stage, int kt) {
    const int64_t k_off = static_cast<int64_t>(kt) * kWgTileK;
#pragma unroll
    for (int i = 0; i < kWgLoadsA; ++i) {
      const int q = threadIdx.x + i * kWgThreads;
      const int64_t k = k_off + WgLoadChunk(q) * 16;
      const bool in = k < args.kp;
      CpAsync16ZeroFill(sa + stage * kWgStageBytesA + WgSmemOffset(WgLoadRow(q), WgLoadChunk(q)),
                        in ? a_tile + WgLoadRow(q) * args.kp + k : a_tile, in ? 16 : 0);
    }
#pragma unroll
    for (int i = 0; i < kWgLoadsB; ++i) {
      const int q = threadIdx.x + i * kWgThreads;
      const int64_t k = k_off + WgLoadChunk(q) * 16;
      const bool in = k < args.kp && n_first + WgLoadRow(q) < args.np;
      CpAsync16ZeroFill(sb + stage * kWgStageBytesB + WgSmemOffset(WgLoadRow(q), WgLoadChunk(q)),
                        in ? w_tile + WgLoadRow(q) * args.kp + k : w_tile, in ? 16 : 0);
    }
  };

  const int warpgroup = threadIdx.x / 128;
  const int thread_in_wg = threadIdx.x % 128;
  int32_t acc[kWgAccRegs];
#pragma unroll
  for (int i = 0; i < kWgAccRegs; ++i) acc[i] = 0;

  // Prologue: k tiles 0 and 1 in flight (empty groups keep the count uniform).
  for (int s = 0; s < 2; ++s) {
    if (s < args.k_tiles) load_stage(s, s);
    CpAsyncCommit();
  }

  for (int kt = 0; kt < args.k_tiles; ++kt) {
    // Groups 0..kt+1 are committed; at most one pending means tile kt has landed.
    CpAsyncWait<1>();
    FenceProxyAsyncShared();
    // After this barrier every warpgroup has passed WgmmaWait<1> of iteration kt-1,
    // so the MMAs of tile kt-2 are done and its stage, (kt+2) % 4, may be reloaded.
    __syncthreads();
    if (kt + 2 < args.k_tiles) load_stage((kt + 2) % kWgStages, kt + 2);
    CpAsyncCommit();

    const int stage = kt % kWgStages;
    wgmma::MmaStageKeepOneInFlight(acc,
                                   sa + stage * kWgStageBytesA + WgWarpgroupRowOffset(warpgroup),
                                   sb + stage * kWgStageBytesB);
  }
  wgmma::WgmmaWait<0>(acc);

  wgmma::StoreAccumulators(acc, c32, args.np, m_tile * kWgTileM + warpgroup * 64, n_first,
                           thread_in_wg);
}

}  // namespace

cudaError_t LaunchMatMulS8Wgmma(const S8GemmPlan& plan, const int8_t* a, const int8_t* w,
                                int32_t* c32, cudaStream_t stream) {
  if (!S8WgmmaPlanIsValid(plan)) return cudaErrorInvalidValue;
  const int64_t tiles_m = WgTilesM(plan.mp);
  const int64_t tiles_n = WgTilesN(plan.np);
  cudaError_t err = cudaFuncSetAttribute(
      MatMulS8WgmmaKernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kWgSharedBytes);
  if (err != cudaSuccess) return err;
  const WgKernelArgs args{plan.kp, plan.np, tiles_m, tiles_n, static_cast<int>(WgKTiles(plan.kp))};
  MatMulS8WgmmaKernel<<<static_cast<unsigned>(tiles_m * tiles_n), kWgThreads, kWgSharedBytes,
                        stream>>>(a, w, c32, args);
  return cudaGetLastError();
}

bool S8WgmmaKernelLoads() {
  cudaFuncAttributes attributes{};
  const cudaError_t err = cudaFuncGetAttributes(&attributes, MatMulS8WgmmaKernel);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();  // not sticky; clear it so the caller's next check is clean
    return false;
  }
  return true;
}

}  // namespace datanode::ops::cuda
