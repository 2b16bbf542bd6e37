// Copyright 2026 The datanode Authors.
//
// The Hopper s8 GEMMs with TMA loads and warp specialization (contract in
// matmul_s8_wgmma.cuh, layout and mbarrier protocol in matmul_s8_wgmma_layout.h).
// Compiled for sm_90a only. One kernel template, two instances: kCluster = 1 (each CTA
// loads its own operands) and kCluster = 2 (a thread-block cluster of two CTAs on
// vertically adjacent tiles shares the W tile through TMA multicast). Each cluster
// loops over work items (one per kCluster vertically adjacent tiles); launched with a
// cluster per item, or persistently with only as many clusters as fit on the GPU.
//
// One CTA of 384 threads computes a 128 x 256 tile of C32:
//   - warpgroup 0 is the producer: one thread issues cp.async.bulk.tensor (TMA) copies
//     of the A box (128 x 128 bytes) and of its part of the W box (256 / kCluster rows
//     x 128 bytes, multicast to the whole cluster) of each k tile into a 4-stage ring;
//     the tensor maps use the 128-byte swizzle, so TMA writes exactly the layout wgmma
//     reads, and zero-fills the box past the operands' edges (N overhang, K tail);
//   - warpgroups 1 and 2 consume: wait on the stage's "full" mbarrier (the stage's
//     transaction bytes have landed), issue four wgmma m64n256k32 .s32.s8.s8 on their
//     64 rows, keep one k tile of MMAs in flight, and arrive on the "empty" mbarrier of
//     the previous stage in every CTA of the cluster once its MMAs are done, which lets
//     every producer reuse it.
// Why multicast: each k step a CTA reads 48 KB for 8.4 M MMA operations (175 ops per
// byte); a full H100/H200 at its s8 rate would need ~11 TB/s of L2 bandwidth for
// that, more than L2 delivers. Sharing W across two CTAs cuts the L2 traffic by a
// third (64 KB per two tiles instead of 96 KB).
// Unlike the cp.async kernel, loads run up to four stages ahead and no CTA-wide
// barrier sits in the loop. Every mbarrier wait is bounded (10 s of %globaltimer,
// then __trap): a protocol bug becomes a CUDA error, which the backend's start-up
// check turns into "kernel off" (resetting the device), never a hung GPU.
//
// Exactness: integer products and sums only, zero fill adds nothing. No float here.
#include <cuda.h>
#include <cudaTypedefs.h>

#include <algorithm>
#include <atomic>

#include "ops/cuda/matmul_s8_wgmma.cuh"
#include "ops/cuda/wgmma_ptx.cuh"

namespace datanode::ops::cuda {
namespace {

constexpr int kTmaThreads = 384;  // producer warpgroup + two consumer warpgroups
constexpr int kTmaStageBytes = kWgStageBytesA + kWgStageBytesB;
// Ring, then the 2 x kWgStages mbarriers; + slack to align the ring to 1024 bytes.
constexpr int kTmaSharedBytes =
    kWgStages * kTmaStageBytes + 2 * kWgStages * 8 + kWgSwizzleAtomBytes;

__device__ __forceinline__ void MbarInit(uint32_t bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}

__device__ __forceinline__ void MbarArriveExpectTx(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes)
               : "memory");
}

// Arrives on the barrier at the same shared-memory offset as `bar` in CTA `cta_rank`
// of the cluster (this CTA included). Default semantics (release at CTA scope), as
// CUTLASS's cluster barriers use: what must be ordered before the arrival is the
// wgmma's reads of the stage, which wgmma.wait_group already completed, not generic
// memory accesses; ".release.cluster" would put a MEMBAR.ALL.GPU in the main loop.
__device__ __forceinline__ void MbarArriveInCta(uint32_t bar, uint32_t cta_rank) {
  asm volatile(
      "{\n"
      ".reg .b32 remote;\n"
      "mapa.shared::cluster.u32 remote, %0, %1;\n"
      "mbarrier.arrive.shared::cluster.b64 _, [remote];\n"
      "}\n" ::"r"(bar),
      "r"(cta_rank)
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

__device__ __forceinline__ uint32_t ClusterCtaRank() {
  uint32_t rank;
  asm volatile("mov.u32 %0, %%cluster_ctarank;\n" : "=r"(rank));
  return rank;
}

// All threads of all CTAs of the cluster: no CTA arrives on or copies into another's
// barriers before they are initialized. The arrive can be relaxed because
// fence.mbarrier_init.release.cluster already released the initialization.
__device__ __forceinline__ void ClusterSync() {
  asm volatile(
      "barrier.cluster.arrive.relaxed.aligned;\n"
      "barrier.cluster.wait.acquire.aligned;\n" ::
          : "memory");
}

// Waits until the phase of `bar` with parity `parity` has completed; traps after
// limit_ns (WgmmaWaitLimitNs: a deadlock, not a slow GPU, as one stage takes
// microseconds; 0 = wait forever). Default (CTA-scope acquire) semantics: the data
// behind a completed phase are TMA writes, made visible by the transaction completion
// itself, and ".acquire.cluster" would invalidate L1 (CCTL.IVALL) on every wait. For
// the empty barriers, which other CTAs' consumers arrive on, CTA scope is formally
// weaker than the memory model's cluster-scope pairing, but the only accesses it must
// order are the wgmma reads of the stage, complete (wait_group) before the arrive is
// issued, against TMA writes that cannot start before the arrive is observed; CUTLASS's
// cluster pipelines rely on the same.
__device__ __forceinline__ void MbarWait(uint32_t bar, uint32_t parity, uint64_t limit_ns) {
  uint32_t done = 0;
  uint64_t start = 0;
  for (uint64_t polls = 0;; ++polls) {
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
    if (polls > 64 && (polls & 1023) == 0 && limit_ns != 0 && GlobalTimerNs() - start > limit_ns) {
      __trap();
    }
  }
}

// TMA: the box at (inner = k byte offset, outer = row) of `map` into this CTA's shared
// memory at dst, completing its bytes on `bar`.
__device__ __forceinline__ void TmaLoad2d(uint32_t dst, const CUtensorMap* map, int32_t inner,
                                          int32_t outer, uint32_t bar) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes "
      "[%0], [%1, {%2, %3}], [%4];\n" ::"r"(dst),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(inner), "r"(outer), "r"(bar)
      : "memory");
}

// The same box into every CTA of the cluster in `cta_mask`, at the same offsets dst
// and bar in each.
__device__ __forceinline__ void TmaLoad2dMulticast(uint32_t dst, const CUtensorMap* map,
                                                   int32_t inner, int32_t outer, uint32_t bar,
                                                   uint16_t cta_mask) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
      ".multicast::cluster [%0], [%1, {%2, %3}], [%4], %5;\n" ::"r"(dst),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(inner), "r"(outer), "r"(bar), "h"(cta_mask)
      : "memory");
}

struct TmaKernelArgs {
  int64_t np;
  int64_t tiles_m;
  int64_t tiles_n;
  uint64_t wait_limit_ns;  // MbarWait's bound
  int k_tiles;
};

template <int kCluster>
__global__ void __launch_bounds__(kTmaThreads, 1)
    MatMulS8WgmmaTmaKernel(const __grid_constant__ CUtensorMap map_a,
                           const __grid_constant__ CUtensorMap map_w, int32_t* __restrict__ c32,
                           TmaKernelArgs args) {
  static_assert(kCluster >= 1 && kCluster <= kTmaMaxCluster, "cluster of 1 or 2 CTAs along M");
  extern __shared__ uint8_t smem_raw[];
  // The dynamic shared memory starts at the same offset in every CTA of the kernel, so
  // the ring and barriers below are at the same offsets in every CTA of a cluster, as
  // multicast and MbarArriveInCta need.
  const uint32_t ring = (wgmma::SharedAddress(smem_raw) + kWgSwizzleAtomBytes - 1) &
                        ~static_cast<uint32_t>(kWgSwizzleAtomBytes - 1);
  const uint32_t sa = ring;
  const uint32_t sb = ring + kWgStages * kWgStageBytesA;
  const uint32_t full = ring + kWgStages * kTmaStageBytes;  // kWgStages x 8 bytes
  const uint32_t empty = full + kWgStages * 8;
  const uint32_t rank = kCluster == 1 ? 0 : ClusterCtaRank();

  if (threadIdx.x == 0) {
    for (int s = 0; s < kWgStages; ++s) {
      MbarInit(full + 8 * s, kTmaFullArrivals);
      MbarInit(empty + 8 * s, TmaEmptyArrivals(kCluster));
    }
    // Make the initialized barriers visible to the async proxy (TMA) and the cluster.
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  if constexpr (kCluster == 1) {
    __syncthreads();
  } else {
    ClusterSync();
  }

  // Cluster c of the grid takes work items c, c + clusters, ... (one item when the
  // grid covers them all; several in a persistent launch). Both CTAs of a cluster see
  // the same items; CTA `rank` takes the rank-th of the item's kCluster vertically
  // adjacent tiles (TmaWorkTile; a tile past the last row only loads, TmaStoresTile).
  const int64_t first_work = blockIdx.x / kCluster;
  const int64_t work_stride = gridDim.x / kCluster;
  const int64_t cluster_rows = TmaClusterRows(args.tiles_m, kCluster);
  const int64_t items = TmaWorkItems(first_work, work_stride, cluster_rows * args.tiles_n);
  const int64_t total_k_tiles = items * args.k_tiles;  // this CTA's k tile sequence
  const int warpgroup = threadIdx.x / 128;

  if (warpgroup == 0) {
    // Producer: one thread; the other 127 have nothing to do and leave.
    if (threadIdx.x != 0) return;
    const uint32_t w_part = TmaWPartOffset(kCluster, static_cast<int>(rank));
    int32_t a_row = 0, w_row = 0;
    for (int64_t it = 0; it < TmaProducerSteps(total_k_tiles); ++it) {
      const int s = TmaStage(it);
      if (TmaProducerWaits(it)) MbarWait(empty + 8 * s, TmaEmptyParity(it), args.wait_limit_ns);
      if (!TmaProducerLoads(it, total_k_tiles)) continue;  // the tail: waits only
      const int kt = static_cast<int>(it % args.k_tiles);
      if (kt == 0) {  // a new output tile
        int64_t m_tile, n_tile;
        TmaWorkTile(first_work + it / args.k_tiles * work_stride, cluster_rows, args.tiles_n,
                    kCluster, static_cast<int>(rank), &m_tile, &n_tile);
        a_row = TmaARow(m_tile, args.tiles_m);
        w_row = TmaWRow(n_tile, kCluster, static_cast<int>(rank));
      }
      MbarArriveExpectTx(full + 8 * s, kTmaStageBytes);
      TmaLoad2d(sa + s * kWgStageBytesA, &map_a, TmaKOffset(kt), a_row, full + 8 * s);
      if constexpr (kCluster == 1) {
        TmaLoad2d(sb + s * kWgStageBytesB, &map_w, TmaKOffset(kt), w_row, full + 8 * s);
      } else {
        TmaLoad2dMulticast(sb + s * kWgStageBytesB + w_part, &map_w, TmaKOffset(kt), w_row,
                           full + 8 * s, static_cast<uint16_t>((1u << kCluster) - 1));
      }
    }
    return;
  }

  // Consumers: warpgroup 1 takes rows 0-63 of the tile, warpgroup 2 rows 64-127.
  const int consumer = warpgroup - 1;
  static_assert(kTmaThreads == 128 * (1 + kTmaConsumers), "one producer warpgroup");
  const int thread_in_wg = threadIdx.x % 128;
  // Thread r < kCluster of the warpgroup releases a stage in CTA r of the cluster.
  const auto release = [&](int64_t tile) {
    if constexpr (kCluster == 1) {
      if (thread_in_wg == 0) MbarArrive(empty + 8 * TmaStage(tile));
    } else {
      if (thread_in_wg < kCluster) MbarArriveInCta(empty + 8 * TmaStage(tile), thread_in_wg);
    }
  };
  int32_t acc[kWgAccRegs];
  int64_t it = 0;  // position in this CTA's k tile sequence
  for (int64_t item = 0; item < items; ++item) {
#pragma unroll
    for (int i = 0; i < kWgAccRegs; ++i) acc[i] = 0;
    for (int kt = 0; kt < args.k_tiles; ++kt, ++it) {
      const int s = TmaStage(it);
      MbarWait(full + 8 * s, TmaFullParity(it), args.wait_limit_ns);
      wgmma::MmaStageKeepOneInFlight(acc, sa + s * kWgStageBytesA + WgWarpgroupRowOffset(consumer),
                                     sb + s * kWgStageBytesB);
      // The MMAs of the previous k tile are done in this warpgroup: release its stage.
      const int64_t released = TmaTileReleasedAfter(kt);
      if (released >= 0) release(it - kt + released);
    }
    wgmma::WgmmaWait<0>(acc);
    release(it - 1);

    int64_t m_tile, n_tile;
    TmaWorkTile(first_work + item * work_stride, cluster_rows, args.tiles_n, kCluster,
                static_cast<int>(rank), &m_tile, &n_tile);
    if (TmaStoresTile(m_tile, args.tiles_m)) {
      wgmma::StoreAccumulators(acc, c32, args.np, m_tile * kWgTileM + consumer * 64,
                               n_tile * kWgTileN, thread_in_wg);
    }
  }
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

// Launch configuration of the kCluster instance for `grid` CTAs (cluster dimension
// set at launch, so one kernel body serves both instances).
template <int kCluster>
struct TmaLaunch {
  cudaLaunchAttribute attribute{};
  cudaLaunchConfig_t config{};

  TmaLaunch(unsigned grid, cudaStream_t stream) {
    attribute.id = cudaLaunchAttributeClusterDimension;
    attribute.val.clusterDim.x = kCluster;
    attribute.val.clusterDim.y = 1;
    attribute.val.clusterDim.z = 1;
    config.gridDim = dim3(grid);
    config.blockDim = dim3(kTmaThreads);
    config.dynamicSmemBytes = kTmaSharedBytes;
    config.stream = stream;
    config.attrs = &attribute;
    config.numAttrs = kCluster > 1 ? 1 : 0;  // a plain launch for one CTA per cluster
  }
};

// Clusters of the kCluster instance that fit on the current device at once (0 when the
// query fails). Asked once per device: the answer does not change.
template <int kCluster>
int64_t ResidentClusters() {
  constexpr int kMaxDevices = 64;
  static std::atomic<int64_t> cached[kMaxDevices] = {};
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess || device < 0 || device >= kMaxDevices) {
    (void)cudaGetLastError();
    return 0;
  }
  int64_t clusters = cached[device].load(std::memory_order_relaxed);
  if (clusters > 0) return clusters;
  int count = 0;
  cudaError_t err =
      cudaFuncSetAttribute(MatMulS8WgmmaTmaKernel<kCluster>,
                           cudaFuncAttributeMaxDynamicSharedMemorySize, kTmaSharedBytes);
  if constexpr (kCluster == 1) {
    int per_sm = 0, sms = 0;
    if (err == cudaSuccess) {
      err = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, MatMulS8WgmmaTmaKernel<1>,
                                                          kTmaThreads, kTmaSharedBytes);
    }
    if (err == cudaSuccess) {
      err = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
    }
    count = per_sm * sms;
  } else {
    TmaLaunch<kCluster> launch(kCluster, nullptr);
    if (err == cudaSuccess) {
      err =
          cudaOccupancyMaxActiveClusters(&count, MatMulS8WgmmaTmaKernel<kCluster>, &launch.config);
    }
  }
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  cached[device].store(count, std::memory_order_relaxed);
  return count;
}

template <int kCluster, bool kPersistent>
cudaError_t LaunchTma(const S8GemmPlan& plan, const int8_t* a, const int8_t* w, int32_t* c32,
                      cudaStream_t stream) {
  if (!S8WgmmaPlanIsValid(plan)) return cudaErrorInvalidValue;
  const int64_t tiles_m = WgTilesM(plan.mp);
  const int64_t tiles_n = WgTilesN(plan.np);
  // One cluster per work item, or (persistent) as many as fit, each looping over items.
  int64_t clusters = TmaClusterRows(tiles_m, kCluster) * tiles_n;
  if constexpr (kPersistent) {
    const int64_t resident = plan.persistent_ctas > 0
                                 ? std::max<int64_t>(plan.persistent_ctas / kCluster, 1)
                                 : ResidentClusters<kCluster>();
    if (resident <= 0) return cudaErrorInvalidConfiguration;  // no cluster fits
    clusters = std::min(clusters, resident);
  }
  CUtensorMap map_a, map_w;
  if (!EncodeOperandMap(&map_a, a, plan.mp, plan.kp, kWgTileM) ||
      !EncodeOperandMap(&map_w, w, plan.np, plan.kp, TmaWRowsPerCta(kCluster))) {
    return cudaErrorInvalidValue;
  }
  cudaError_t err =
      cudaFuncSetAttribute(MatMulS8WgmmaTmaKernel<kCluster>,
                           cudaFuncAttributeMaxDynamicSharedMemorySize, kTmaSharedBytes);
  if (err != cudaSuccess) return err;
  const TmaKernelArgs args{plan.np, tiles_m, tiles_n, WgmmaWaitLimitNs(),
                           static_cast<int>(WgKTiles(plan.kp))};
  TmaLaunch<kCluster> launch(static_cast<unsigned>(clusters * kCluster), stream);
  err =
      cudaLaunchKernelEx(&launch.config, MatMulS8WgmmaTmaKernel<kCluster>, map_a, map_w, c32, args);
  if (err != cudaSuccess) return err;
  return cudaGetLastError();
}

// The kernel loads, the driver encodes tensor maps, and (clusters) at least one
// cluster of kCluster CTAs with this much shared memory fits on the device.
template <int kCluster>
bool TmaKernelLoads() {
  cudaFuncAttributes attributes{};
  if (cudaFuncGetAttributes(&attributes, MatMulS8WgmmaTmaKernel<kCluster>) != cudaSuccess ||
      EncodeTiledFunction() == nullptr) {
    (void)cudaGetLastError();
    return false;
  }
  return ResidentClusters<kCluster>() > 0;
}

}  // namespace

cudaError_t LaunchMatMulS8WgmmaTma(const S8GemmPlan& plan, const int8_t* a, const int8_t* w,
                                   int32_t* c32, cudaStream_t stream) {
  return LaunchTma<1, false>(plan, a, w, c32, stream);
}

bool S8WgmmaTmaKernelLoads() { return TmaKernelLoads<1>(); }

cudaError_t LaunchMatMulS8WgmmaTmaMulticast(const S8GemmPlan& plan, const int8_t* a,
                                            const int8_t* w, int32_t* c32, cudaStream_t stream) {
  return LaunchTma<2, false>(plan, a, w, c32, stream);
}

cudaError_t LaunchMatMulS8WgmmaTmaMulticastPersistent(const S8GemmPlan& plan, const int8_t* a,
                                                      const int8_t* w, int32_t* c32,
                                                      cudaStream_t stream) {
  return LaunchTma<2, true>(plan, a, w, c32, stream);
}

bool S8WgmmaTmaMulticastKernelLoads() { return TmaKernelLoads<2>(); }

}  // namespace datanode::ops::cuda
