// Copyright 2026 The datanode Authors.
//
// Device-side PTX wrappers shared by the two Hopper s8 GEMMs (matmul_s8_wgmma.cu and
// matmul_s8_wgmma_tma.cu): the warpgroup MMA m64n256k32 .s32.s8.s8 on shared-memory
// descriptors, its fence / commit / wait, and the accumulator store. sm_90a only;
// include from .cu files compiled for that target.
#ifndef DATANODE_OPS_CUDA_WGMMA_PTX_CUH_
#define DATANODE_OPS_CUDA_WGMMA_PTX_CUH_

#include <cstdint>

#include "ops/cuda/matmul_s8_wgmma_layout.h"

#if defined(__CUDA_ARCH__) && !defined(__CUDA_ARCH_FEAT_SM90_ALL)
#error "the wgmma kernels must be compiled for sm_90a only (see ops/cuda/CMakeLists.txt)"
#endif

namespace datanode::ops::cuda::wgmma {

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

}  // namespace datanode::ops::cuda::wgmma

#endif  // DATANODE_OPS_CUDA_WGMMA_PTX_CUH_
