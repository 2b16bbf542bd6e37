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
// barrier or a wait on the thread's own copies, so a mistake cannot hang the GPU and
// seldom faults; a wrong result is caught by the start-up check (s8_gemm.h), which
// then leaves the kernel off, and the CUDA context stays usable (a trapped TMA wait
// would poison it, and only a device reset - which resets every user of the process's
// context - would bring it back). TMA variants (multicast clusters, persistent
// launches) may come back when a measurement on a GPU shows this one short of its
// target (docs/cuda.md).
//
// Exactness: integer products and sums only (|s8| <= 127, K <= 131071 fit int32);
// zero-filled loads add nothing. No float appears in this kernel.
#include "ops/cuda/matmul_s8_wgmma.cuh"

#if defined(__CUDA_ARCH__) && !defined(__CUDA_ARCH_FEAT_SM90_ALL)
#error "the wgmma kernel must be compiled for sm_90a only (see ops/cuda/CMakeLists.txt)"
#endif

namespace datanode::ops::cuda {
namespace {

// --- PTX wrappers: the warpgroup MMA on shared-memory descriptors, its fence / commit /
// wait, and the accumulator store -----------------------------------------------------
__device__ __forceinline__ uint32_t SharedAddress(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
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
  // Tie the accumulators to the wait so the compiler cannot move their uses above it.
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

// One stage of a warpgroup's main loop: its 64 rows of A at a_rows and the 256 rows of
// W at w_rows (shared addresses, 1024-byte aligned, layout WgSmemOffset) go through
// the four k steps of wgmma as one commit group; then waits until at most that group is
// in flight, so the previous stage's MMAs are done when this returns.
__device__ __forceinline__ void MmaStageKeepOneInFlight(int32_t (&acc)[kWgAccRegs], uint32_t a_rows,
                                                        uint32_t w_rows) {
  const uint64_t desc_a = WgDescriptor(a_rows);
  const uint64_t desc_b = WgDescriptor(w_rows);
  WgmmaFence();
#pragma unroll
  for (int ks = 0; ks < kWgTileK / kWgInstrK; ++ks) {
    WgmmaS8M64N256K32(acc, WgDescriptorStep(desc_a, ks), WgDescriptorStep(desc_b, ks));
  }
  WgmmaCommit();
  WgmmaWait<1>(acc);
}

// Writes a consumer warpgroup's 64 x 256 accumulator tile to C32 [*, np] at rows from
// row_base and columns from n_first; columns at or past np (the N overhang of the last
// tile) are skipped. np is even, so col < np covers the pair (col, col + 1).
__device__ __forceinline__ void StoreAccumulators(const int32_t (&acc)[kWgAccRegs],
                                                  int32_t* __restrict__ c32, int64_t np,
                                                  int64_t row_base, int64_t n_first,
                                                  int thread_in_wg) {
#pragma unroll
  for (int reg = 0; reg < kWgAccRegs; reg += 2) {
    const int64_t col = n_first + WgAccCol(thread_in_wg, reg);
    if (col < np) {
      int32_t* dst = c32 + (row_base + WgAccRow(thread_in_wg, reg)) * np + col;
      *reinterpret_cast<int2*>(dst) = make_int2(acc[reg], acc[reg + 1]);
    }
  }
}

// --- cp.async ------------------------------------------------------------------------

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
  const uint32_t sa = (SharedAddress(smem_raw) + kWgSwizzleAtomBytes - 1) &
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
    MmaStageKeepOneInFlight(acc, sa + stage * kWgStageBytesA + WgWarpgroupRowOffset(warpgroup),
                            sb + stage * kWgStageBytesB);
  }
  WgmmaWait<0>(acc);

  StoreAccumulators(acc, c32, args.np, m_tile * kWgTileM + warpgroup * 64, n_first, thread_in_wg);
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
