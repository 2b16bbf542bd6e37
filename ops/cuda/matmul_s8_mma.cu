// Copyright 2026 The datanode Authors.
//
// The s8 tensor-core GEMM (contract in matmul_s8_mma.cuh, tiling in
// matmul_s8_plan.h). One CTA computes a bm x 128 tile of C32 over one split-K slice:
//   - cp.async.cg copies 16-byte chunks of A and W into a 4-stage ring in shared
//     memory (swizzled, see SmemChunkOffset);
//   - each warp loads its fragments with ldmatrix.x4 and issues
//     mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32;
//   - the int32 accumulators go straight to C32 (or atomicAdd for split-K).
#include "ops/cuda/matmul_s8_mma.cuh"

namespace datanode::ops::cuda {
namespace {

__device__ __forceinline__ uint32_t SharedAddress(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void CpAsync16(uint32_t smem, const void* gmem) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(smem), "l"(gmem));
}

__device__ __forceinline__ void CpAsyncCommit() { asm volatile("cp.async.commit_group;\n" ::); }

template <int kPending>
__device__ __forceinline__ void CpAsyncWait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending));
}

__device__ __forceinline__ void LdMatrixX4(uint32_t (&r)[4], uint32_t smem) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem));
}

// d += a * b for one m16n8k32 tile, s8 inputs, s32 accumulate (wrapping, exact here).
__device__ __forceinline__ void MmaS8(int32_t (&d)[4], const uint32_t (&a)[4],
                                      const uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

struct KernelArgs {
  int64_t kp;
  int64_t np;
  int64_t tiles_m;
  int64_t tiles_n;
  int64_t k_tiles;
  int64_t k_tiles_per_split;
  int atomic_out;
};

template <int kBM, int kBN, int kWarpsM, int kWarpsN>
__global__ void __launch_bounds__(kWarpsM* kWarpsN * 32)
    MatMulS8MmaKernel(const int8_t* __restrict__ a, const int8_t* __restrict__ w,
                      int32_t* __restrict__ c32, KernelArgs args) {
  constexpr int kThreads = kWarpsM * kWarpsN * 32;
  constexpr int kWarpTileM = kBM / kWarpsM;
  constexpr int kWarpTileN = kBN / kWarpsN;
  constexpr int kMT = kWarpTileM / 16;
  constexpr int kNT = kWarpTileN / 8;
  constexpr int kStageA = kBM * kS8TileK;
  constexpr int kStageB = kBN * kS8TileK;
  static_assert(kNT % 2 == 0, "B fragments are loaded two n8 tiles at a time");
  static_assert((kBM * 4) % kThreads == 0 && (kBN * 4) % kThreads == 0, "even copy split");

  extern __shared__ __align__(128) uint8_t smem[];
  const uint32_t sa = SharedAddress(smem);
  const uint32_t sb = sa + kS8Stages * kStageA;

  int64_t m_tile, n_tile;
  TileCoords(blockIdx.x, args.tiles_m, args.tiles_n, &m_tile, &n_tile);
  const int64_t kt_begin = static_cast<int64_t>(blockIdx.z) * args.k_tiles_per_split;
  const int64_t kt_end = kt_begin + args.k_tiles_per_split < args.k_tiles
                             ? kt_begin + args.k_tiles_per_split
                             : args.k_tiles;
  const int num_k = static_cast<int>(kt_end - kt_begin);

  const int8_t* a_tile = a + m_tile * kBM * args.kp + kt_begin * kS8TileK;
  const int8_t* w_tile = w + n_tile * kBN * args.kp + kt_begin * kS8TileK;

  auto load_stage = [&](int stage, int kt) {
    const int64_t k_off = static_cast<int64_t>(kt) * kS8TileK;
#pragma unroll
    for (int i = 0; i < kBM * 4 / kThreads; ++i) {
      const int q = threadIdx.x + i * kThreads;
      CpAsync16(sa + stage * kStageA + SmemChunkOffset(LoadRow(q), LoadChunk(q)),
                a_tile + LoadRow(q) * args.kp + k_off + LoadChunk(q) * 16);
    }
#pragma unroll
    for (int i = 0; i < kBN * 4 / kThreads; ++i) {
      const int q = threadIdx.x + i * kThreads;
      CpAsync16(sb + stage * kStageB + SmemChunkOffset(LoadRow(q), LoadChunk(q)),
                w_tile + LoadRow(q) * args.kp + k_off + LoadChunk(q) * 16);
    }
  };

  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  constexpr S8TileShape kShape{kBM, kBN, kWarpsM, kWarpsN};
  const int warp_row = WarpRow(kShape, warp);
  const int warp_col = WarpCol(kShape, warp);

  int32_t acc[kMT][kNT][4];
#pragma unroll
  for (int i = 0; i < kMT; ++i) {
#pragma unroll
    for (int j = 0; j < kNT; ++j) {
#pragma unroll
      for (int r = 0; r < 4; ++r) acc[i][j][r] = 0;
    }
  }

  // Prologue: stages 0 .. kS8Stages-2 in flight (empty groups keep the count uniform).
#pragma unroll
  for (int s = 0; s < kS8Stages - 1; ++s) {
    if (s < num_k) load_stage(s, s);
    CpAsyncCommit();
  }

  for (int kt = 0; kt < num_k; ++kt) {
    // Group kt is complete once at most kS8Stages-2 newer groups are pending; the
    // barrier also guarantees every warp is done reading the stage reloaded below.
    CpAsyncWait<kS8Stages - 2>();
    __syncthreads();
    const int next = kt + kS8Stages - 1;
    if (next < num_k) load_stage(next % kS8Stages, next);
    CpAsyncCommit();

    const int stage = kt % kS8Stages;
    const uint32_t a_stage = sa + stage * kStageA;
    const uint32_t b_stage = sb + stage * kStageB;
#pragma unroll
    for (int ks = 0; ks < kS8TileK / 32; ++ks) {
      uint32_t af[kMT][4];
      uint32_t bf[kNT][2];
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt) {
        LdMatrixX4(af[mt], a_stage + SmemChunkOffset(warp_row + mt * 16 + LdsmARow(lane),
                                                     LdsmAChunk(lane, ks)));
      }
#pragma unroll
      for (int nt = 0; nt < kNT; nt += 2) {
        uint32_t r[4];
        LdMatrixX4(
            r, b_stage + SmemChunkOffset(warp_col + nt * 8 + LdsmBRow(lane), LdsmBChunk(lane, ks)));
        bf[nt][0] = r[0];
        bf[nt][1] = r[1];
        bf[nt + 1][0] = r[2];
        bf[nt + 1][1] = r[3];
      }
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
        for (int nt = 0; nt < kNT; ++nt) MmaS8(acc[mt][nt], af[mt], bf[nt]);
      }
    }
  }
  CpAsyncWait<0>();

  const int64_t row0 = m_tile * kBM + warp_row;
  const int64_t col0 = n_tile * kBN + warp_col;
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
    for (int nt = 0; nt < kNT; ++nt) {
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int i = half * 2;
        int32_t* dst =
            c32 + (row0 + mt * 16 + AccRow(lane, i)) * args.np + col0 + nt * 8 + AccCol(lane, i);
        if (args.atomic_out) {
          atomicAdd(dst, acc[mt][nt][i]);
          atomicAdd(dst + 1, acc[mt][nt][i + 1]);
        } else {
          *reinterpret_cast<int2*>(dst) = make_int2(acc[mt][nt][i], acc[mt][nt][i + 1]);
        }
      }
    }
  }
}

template <int kBM, int kBN, int kWarpsM, int kWarpsN>
cudaError_t Launch(const S8GemmPlan& plan, const int8_t* a, const int8_t* w, int32_t* c32,
                   cudaStream_t stream) {
  auto* kernel = &MatMulS8MmaKernel<kBM, kBN, kWarpsM, kWarpsN>;
  const int smem = kS8Stages * (kBM + kBN) * kS8TileK;
  cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
  if (err != cudaSuccess) return err;
  KernelArgs args{plan.kp,
                  plan.np,
                  plan.tiles_m,
                  plan.tiles_n,
                  plan.k_tiles,
                  plan.k_tiles_per_split,
                  plan.splits > 1 ? 1 : 0};
  const dim3 grid(static_cast<unsigned>(plan.tiles_m * plan.tiles_n), 1,
                  static_cast<unsigned>(plan.splits));
  kernel<<<grid, kWarpsM * kWarpsN * 32, smem, stream>>>(a, w, c32, args);
  return cudaGetLastError();
}

}  // namespace

int S8MmaSharedBytes(S8TileConfig config) {
  const S8TileShape s = TileShapeOf(config);
  return kS8Stages * (s.bm + s.bn) * kS8TileK;
}

cudaError_t LaunchMatMulS8Mma(const S8GemmPlan& plan, const int8_t* a, const int8_t* w,
                              int32_t* c32, cudaStream_t stream) {
  if (plan.tiles_m * plan.tiles_n > 0x7FFFFFFF) return cudaErrorInvalidConfiguration;
  if (plan.splits > 1) {
    const cudaError_t err = cudaMemsetAsync(
        c32, 0, static_cast<size_t>(plan.mp) * static_cast<size_t>(plan.np) * 4, stream);
    if (err != cudaSuccess) return err;
  }
  static_assert(TileShapeOf(S8TileConfig::k128x128).bm == 128);
  static_assert(TileShapeOf(S8TileConfig::k64x128).bm == 64);
  if (plan.config == S8TileConfig::k128x128)
    return Launch<128, kS8TileN, 2, 4>(plan, a, w, c32, stream);
  return Launch<64, kS8TileN, 2, 4>(plan, a, w, c32, stream);
}

}  // namespace datanode::ops::cuda
