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

#if defined(__CUDA_ARCH__) && !defined(__CUDA_ARCH_FEAT_SM90_ALL)
#error "matmul_s8_wgmma_tma.cu must be compiled for sm_90a only (see ops/cuda/CMakeLists.txt)"
#endif

namespace datanode::ops::cuda {
namespace {

constexpr int kTmaThreads = 384;  // producer warpgroup + two consumer warpgroups
constexpr int kTmaStageBytes = kWgStageBytesA + kWgStageBytesB;
// Ring, then the 2 x kWgStages mbarriers; + slack to align the ring to 1024 bytes.
constexpr int kTmaSharedBytes =
    kWgStages * kTmaStageBytes + 2 * kWgStages * 8 + kWgSwizzleAtomBytes;
constexpr uint64_t kWaitLimitNs = 10'000'000'000ull;

__device__ __forceinline__ uint32_t SharedAddress(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

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

__device__ __forceinline__ void WgmmaFence() {
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void WgmmaCommit() {
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
template <int kPending>
__device__ __forceinline__ void WgmmaWait(int32_t (&d)[kWgAccRegs]) {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(kPending) : "memory");
#pragma unroll
  for (int i = 0; i < kWgAccRegs; ++i) asm volatile("" : "+r"(d[i])::"memory");
}

// d (64 x 256 s32, fragment layout WgAccRow/WgAccCol) += A (64 x 32 s8, K-major, via
// desc_a) * B (256 x 32 s8, K-major, via desc_b)^T, issued asynchronously by the
// warpgroup (completion: WgmmaCommit / WgmmaWait). The accumulate input is always
// used (scale-d = 1); the accumulators start at zero.
__device__ __forceinline__ void WgmmaS8M64N256K32(int32_t (&d)[kWgAccRegs], uint64_t desc_a,
                                                  uint64_t desc_b) {
  static_assert(kWgAccRegs == 128, "operand list below is written for n256");
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "setp.ne.b32 p, %130, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n256k32.s32.s8.s8 {"
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, "
      "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, "
      "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, "
      "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, "
      "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, "
      "%127}, "
      "%128, %129, p;\n"
      "}\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3]), "+r"(d[4]), "+r"(d[5]), "+r"(d[6]),
        "+r"(d[7]), "+r"(d[8]), "+r"(d[9]), "+r"(d[10]), "+r"(d[11]), "+r"(d[12]), "+r"(d[13]),
        "+r"(d[14]), "+r"(d[15]), "+r"(d[16]), "+r"(d[17]), "+r"(d[18]), "+r"(d[19]), "+r"(d[20]),
        "+r"(d[21]), "+r"(d[22]), "+r"(d[23]), "+r"(d[24]), "+r"(d[25]), "+r"(d[26]), "+r"(d[27]),
        "+r"(d[28]), "+r"(d[29]), "+r"(d[30]), "+r"(d[31]), "+r"(d[32]), "+r"(d[33]), "+r"(d[34]),
        "+r"(d[35]), "+r"(d[36]), "+r"(d[37]), "+r"(d[38]), "+r"(d[39]), "+r"(d[40]), "+r"(d[41]),
        "+r"(d[42]), "+r"(d[43]), "+r"(d[44]), "+r"(d[45]), "+r"(d[46]), "+r"(d[47]), "+r"(d[48]),
        "+r"(d[49]), "+r"(d[50]), "+r"(d[51]), "+r"(d[52]), "+r"(d[53]), "+r"(d[54]), "+r"(d[55]),
        "+r"(d[56]), "+r"(d[57]), "+r"(d[58]), "+r"(d[59]), "+r"(d[60]), "+r"(d[61]), "+r"(d[62]),
        "+r"(d[63]), "+r"(d[64]), "+r"(d[65]), "+r"(d[66]), "+r"(d[67]), "+r"(d[68]), "+r"(d[69]),
        "+r"(d[70]), "+r"(d[71]), "+r"(d[72]), "+r"(d[73]), "+r"(d[74]), "+r"(d[75]), "+r"(d[76]),
        "+r"(d[77]), "+r"(d[78]), "+r"(d[79]), "+r"(d[80]), "+r"(d[81]), "+r"(d[82]), "+r"(d[83]),
        "+r"(d[84]), "+r"(d[85]), "+r"(d[86]), "+r"(d[87]), "+r"(d[88]), "+r"(d[89]), "+r"(d[90]),
        "+r"(d[91]), "+r"(d[92]), "+r"(d[93]), "+r"(d[94]), "+r"(d[95]), "+r"(d[96]), "+r"(d[97]),
        "+r"(d[98]), "+r"(d[99]), "+r"(d[100]), "+r"(d[101]), "+r"(d[102]), "+r"(d[103]),
        "+r"(d[104]), "+r"(d[105]), "+r"(d[106]), "+r"(d[107]), "+r"(d[108]), "+r"(d[109]),
        "+r"(d[110]), "+r"(d[111]), "+r"(d[112]), "+r"(d[113]), "+r"(d[114]), "+r"(d[115]),
        "+r"(d[116]), "+r"(d[117]), "+r"(d[118]), "+r"(d[119]), "+r"(d[120]), "+r"(d[121]),
        "+r"(d[122]), "+r"(d[123]), "+r"(d[124]), "+r"(d[125]), "+r"(d[126]), "+r"(d[127])
      : "l"(desc_a), "l"(desc_b), "r"(1));
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
  const uint32_t ring = (SharedAddress(smem_raw) + kWgSwizzleAtomBytes - 1) &
                        ~static_cast<uint32_t>(kWgSwizzleAtomBytes - 1);
  const uint32_t sa = ring;
  const uint32_t sb = ring + kWgStages * kWgStageBytesA;
  const uint32_t full = ring + kWgStages * kTmaStageBytes;  // kWgStages x 8 bytes
  const uint32_t empty = full + kWgStages * 8;

  if (threadIdx.x == 0) {
    for (int s = 0; s < kWgStages; ++s) {
      MbarInit(full + 8 * s, 1);   // the producer's arrive.expect_tx
      MbarInit(empty + 8 * s, 2);  // one arrive per consumer warpgroup
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
      const int s = kt % kWgStages;
      // Round r of stage s reuses it after the consumers released round r - 1.
      if (kt >= kWgStages) MbarWait(empty + 8 * s, ((kt / kWgStages) - 1) & 1);
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
  const int thread_in_wg = threadIdx.x % 128;
  int32_t acc[kWgAccRegs];
#pragma unroll
  for (int i = 0; i < kWgAccRegs; ++i) acc[i] = 0;

  for (int kt = 0; kt < args.k_tiles; ++kt) {
    const int s = kt % kWgStages;
    MbarWait(full + 8 * s, (kt / kWgStages) & 1);
    const uint64_t desc_a = WgDescriptor(sa + s * kWgStageBytesA + WgWarpgroupRowOffset(consumer));
    const uint64_t desc_b = WgDescriptor(sb + s * kWgStageBytesB);
    WgmmaFence();
#pragma unroll
    for (int ks = 0; ks < kWgTileK / kWgInstrK; ++ks) {
      WgmmaS8M64N256K32(acc, WgDescriptorStep(desc_a, ks), WgDescriptorStep(desc_b, ks));
    }
    WgmmaCommit();
    WgmmaWait<1>(acc);
    // The MMAs of tile kt - 1 are done in this warpgroup: release its stage.
    if (kt > 0 && thread_in_wg == 0) MbarArrive(empty + 8 * ((kt - 1) % kWgStages));
  }
  WgmmaWait<0>(acc);

  const int64_t n_first = n_tile * kWgTileN;
  const int64_t row_base = m_tile * kWgTileM + consumer * 64;
#pragma unroll
  for (int reg = 0; reg < kWgAccRegs; reg += 2) {
    const int64_t col = n_first + WgAccCol(thread_in_wg, reg);
    if (col < args.np) {  // np is even: covers (col, col + 1)
      int32_t* dst = c32 + (row_base + WgAccRow(thread_in_wg, reg)) * args.np + col;
      *reinterpret_cast<int2*>(dst) = make_int2(acc[reg], acc[reg + 1]);
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

}  // namespace

cudaError_t LaunchMatMulS8WgmmaTma(const S8GemmPlan& plan, const int8_t* a, const int8_t* w,
                                   int32_t* c32, cudaStream_t stream) {
  if (plan.mp % kWgTileM != 0 || plan.np % 2 != 0 || plan.kp % 16 != 0) {
    return cudaErrorInvalidValue;
  }
  const int64_t tiles_m = WgTilesM(plan.mp);
  const int64_t tiles_n = WgTilesN(plan.np);
  if (tiles_m * tiles_n > 0x7FFFFFFF || plan.mp > 0x7FFFFFFF || plan.np > 0x7FFFFFFF) {
    return cudaErrorInvalidConfiguration;
  }
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
