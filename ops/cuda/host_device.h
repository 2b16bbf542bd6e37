// Copyright 2026 The datanode Authors.
//
// DN_HD marks functions compiled both for the GPU (by nvcc) and for the host (by the
// C++ compiler, in the backend's host code and in the tests that check the kernels'
// arithmetic and indexing without a GPU).
#ifndef DATANODE_OPS_CUDA_HOST_DEVICE_H_
#define DATANODE_OPS_CUDA_HOST_DEVICE_H_

#if defined(__CUDACC__)
#define DN_HD __host__ __device__ __forceinline__
#else
#define DN_HD inline
#endif

#endif  // DATANODE_OPS_CUDA_HOST_DEVICE_H_
