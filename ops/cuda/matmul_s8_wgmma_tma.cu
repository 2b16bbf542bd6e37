// Copyright 2026 The datanode Authors.
//
// The Hopper s8 GEMM with TMA loads and warp specialization (contract in
// matmul_s8_wgmma.cuh, layout in matmul_s8_wgmma_layout.h). Compiled for sm_90a only.
//
// One CTA of 384 threads computes a 128 x 256 tile of C32:
//   - warpgroup 0 is the producer: one thread issues cp.async.bulk.tensor (TMA) copies
//     of the A (128 x 128 bytes) and W (256 x 128 bytes) boxes of each k tile into a
//     4-stage ring; the tensor maps use the 128-byte swizzle, so TMA writes exactly the
//     layout wgmma reads, and zero-fills the box past the operands' edges (the N tile
//     overhang, the K tail);
//   - warpgroups 1 and 2 consume: wait on the stage's "full" mbarrier (TMA completes
//     its transaction bytes), issue four wgmma m64n256k32 .s32.s8.s8 on their 64 rows,
//     keep one k tile of MMAs in flight, and arrive on the "empty" mbarrier of the
//     previous stage once its MMAs are done, which lets the producer reuse it.
// Unlike the cp.async kernel, loads run up to four stages ahead and no CTA-wide
// barrier sits in the loop. Every mbarrier wait is bounded (10 s of %globaltimer,
// then __trap): a protocol bug becomes a CUDA error, which the backend's start-up
// check turns into "kernel off" (resetting the device), never a hung GPU.
//
// Exactness: integer products and sums only, zero fill adds nothing. No float here.
#include <cuda.h>
#include <cudaTypedefs.h>

#include <mutex>

#include "ops/cuda/matmul_s8_wgmma.cuh"
#include "ops/cuda/wgmma_ptx.cuh"

namespace datanode::ops::cuda {
namespace {

constexpr int kTmaThreads = 384;  // producer warpgroup + two consumer warpgroups
constexpr int kTmaStageBytes = kWgStageBytesA + kWgStageBytesB;
// Ring, then the 2 x kWgStages mbarriers; + slack to align the ring to 1024 bytes.
constexpr int kTmaSharedBytes =
    kWgStages * kTmaStageBytes + 2 * kWgStages * 8 + kWgSwizzleAtomBytes;
constexpr uint64_t kWaitLimitNs = 10'000'000'000ull;

__device__ __forceinline__ void MbarInit(uint32_t bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}

__device__ __forceinline__ void MbarArriveExpectTx(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes)
               : "memory");
}

__device__ __forceinline__ void MbarArrive(uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}

__device__ __forceinline__ uint64_t GlobalTimerNs() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;\n" : "=l"(t));
  return t;
}

// Waits until the phase of `bar` with parity `parity` has completed; traps after
// kWaitLimitNs (a deadlock, not a slow GPU: one stage takes microseconds).
__device__ __forceinline__ void MbarWait(uint32_t bar, uint32_t parity) {
  uint32_t done = 0;
  uint64_t start = 0;
  for (int polls = 0;; ++polls) {
    asm volatile(
        "{\n"
        ".reg .pred p;\n"
        "mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
        "selp.u32 %0, 1, 0, p;\n"
        "}\n"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
    if (done) return;
    if (polls == 64) start = GlobalTimerNs();
    if (polls > 64 && (polls & 1023) == 0 && GlobalTimerNs() - start > kWaitLimitNs) __trap();
  }
}

// TMA: the box at (inner = k byte offset, outer = row) of `map` into shared memory,
// completing its bytes on `bar`.
__device__ __forceinline__ void TmaLoad2d(uint32_t dst, const CUtensorMap* map, int32_t inner,
                                          int32_t outer, uint32_t bar) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes "
      "[%0], [%1, {%2, %3}], [%4];\n" ::"r"(dst),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(inner), "r"(outer), "r"(bar)
      : "memory");
}

struct TmaKernelArgs {
  int64_t np;
  int64_t tiles_m;
  int64_t tiles_n;
  int k_tiles;
};

__global__ void __launch_bounds__(kTmaThreads, 1)
    MatMulS8WgmmaTmaKernel(const __grid_constant__ CUtensorMap map_a,
                           const __grid_constant__ CUtensorMap map_w, int32_t* __restrict__ c32,
                           TmaKernelArgs args) {
  extern __shared__ uint8_t smem_raw[];
  const uint32_t ring = (wgmma::SharedAddress(smem_raw) + kWgSwizzleAtomBytes - 1) &
                        ~static_cast<uint32_t>(kWgSwizzleAtomBytes - 1);
  const uint32_t sa = ring;
  const uint32_t sb = ring + kWgStages * kWgStageBytesA;
  const uint32_t full = ring + kWgStages * kTmaStageBytes;  // kWgStages x 8 bytes
  const uint32_t empty = full + kWgStages * 8;

  if (threadIdx.x == 0) {
    for (int s = 0; s < kWgStages; ++s) {
      MbarInit(full + 8 * s, kTmaFullArrivals);
      MbarInit(empty + 8 * s, kTmaEmptyArrivals);
    }
    // Make the initialized barriers visible to the async proxy (TMA) as well.
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();

  int64_t m_tile, n_tile;
  TileCoords(blockIdx.x, args.tiles_m, args.tiles_n, &m_tile, &n_tile);
  const int warpgroup = threadIdx.x / 128;

  if (warpgroup == 0) {
    // Producer: one thread; the other 127 have nothing to do and leave.
    if (threadIdx.x != 0) return;
    for (int kt = 0; kt < args.k_tiles; ++kt) {
      const int s = TmaStage(kt);
      if (TmaProducerWaits(kt)) MbarWait(empty + 8 * s, TmaEmptyParity(kt));
      MbarArriveExpectTx(full + 8 * s, kTmaStageBytes);
      TmaLoad2d(sa + s * kWgStageBytesA, &map_a, kt * kWgTileK,
                static_cast<int32_t>(m_tile * kWgTileM), full + 8 * s);
      TmaLoad2d(sb + s * kWgStageBytesB, &map_w, kt * kWgTileK,
                static_cast<int32_t>(n_tile * kWgTileN), full + 8 * s);
    }
    return;
  }

  // Consumers: warpgroup 1 takes rows 0-63 of the tile, warpgroup 2 rows 64-127.
  const int consumer = warpgroup - 1;
  static_assert(kTmaThreads == 128 * (1 + kTmaConsumers), "one producer warpgroup");
  const int thread_in_wg = threadIdx.x % 128;
  int32_t acc[kWgAccRegs];
#pragma unroll
  for (int i = 0; i < kWgAccRegs; ++i) acc[i] = 0;

  for (int kt = 0; kt < args.k_tiles; ++kt) {
    const int s = TmaStage(kt);
    MbarWait(full + 8 * s, TmaFullParity(kt));
    wgmma::MmaStageKeepOneInFlight(acc, sa + s * kWgStageBytesA + WgWarpgroupRowOffset(consumer),
                                   sb + s * kWgStageBytesB);
    // The MMAs of tile kt - 1 are done in this warpgroup: release its stage.
    const int released = TmaTileReleasedAfter(kt);
    if (released >= 0 && thread_in_wg == 0) MbarArrive(empty + 8 * TmaStage(released));
  }
  wgmma::WgmmaWait<0>(acc);

  wgmma::StoreAccumulators(acc, c32, args.np, m_tile * kWgTileM + consumer * 64, n_tile * kWgTileN,
                           thread_in_wg);
}

// cuTensorMapEncodeTiled is a driver API function; the runtime hands out its address,
// so the library needs no link-time dependency on libcuda.
PFN_cuTensorMapEncodeTiled_v12000 EncodeTiledFunction() {
  static PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
    void* p = nullptr;
    cudaDriverEntryPointQueryResult found{};
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault,
                                         &found) != cudaSuccess ||
        found != cudaDriverEntryPointSuccess) {
      (void)cudaGetLastError();
      p = nullptr;
    }
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(p);
  }();
  return fn;
}

// Row-major [rows, kp] bytes, boxes of kWgTileK x box_rows, 128-byte swizzle, zero fill.
bool EncodeOperandMap(CUtensorMap* map, const int8_t* base, int64_t rows, int64_t kp,
                      uint32_t box_rows) {
  const PFN_cuTensorMapEncodeTiled_v12000 encode = EncodeTiledFunction();
  if (encode == nullptr) return false;
  const cuuint64_t dims[2] = {static_cast<cuuint64_t>(kp), static_cast<cuuint64_t>(rows)};
  const cuuint64_t strides[1] = {static_cast<cuuint64_t>(kp)};  // bytes, dimension 1
  const cuuint32_t box[2] = {kWgTileK, box_rows};
  const cuuint32_t element_strides[2] = {1, 1};
  return encode(map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 2, const_cast<int8_t*>(base), dims, strides,
                box, element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

}  // namespace

cudaError_t LaunchMatMulS8WgmmaTma(const S8GemmPlan& plan, const int8_t* a, const int8_t* w,
                                   int32_t* c32, cudaStream_t stream) {
  if (!S8WgmmaPlanIsValid(plan)) return cudaErrorInvalidValue;
  const int64_t tiles_m = WgTilesM(plan.mp);
  const int64_t tiles_n = WgTilesN(plan.np);
  CUtensorMap map_a, map_w;
  if (!EncodeOperandMap(&map_a, a, plan.mp, plan.kp, kWgTileM) ||
      !EncodeOperandMap(&map_w, w, plan.np, plan.kp, kWgTileN)) {
    return cudaErrorInvalidValue;
  }
  cudaError_t err = cudaFuncSetAttribute(
      MatMulS8WgmmaTmaKernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kTmaSharedBytes);
  if (err != cudaSuccess) return err;
  const TmaKernelArgs args{plan.np, tiles_m, tiles_n, static_cast<int>(WgKTiles(plan.kp))};
  MatMulS8WgmmaTmaKernel<<<static_cast<unsigned>(tiles_m * tiles_n), kTmaThreads, kTmaSharedBytes,
                           stream>>>(map_a, map_w, c32, args);
  return cudaGetLastError();
}

bool S8WgmmaTmaKernelLoads() {
  cudaFuncAttributes attributes{};
  if (cudaFuncGetAttributes(&attributes, MatMulS8WgmmaTmaKernel) != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  return EncodeTiledFunction() != nullptr;
}

}  // namespace datanode::ops::cuda
