// Copyright 2026 The datanode Authors.
#include "datanode/ops/llm_kernels.h"

namespace datanode::ops::llm {

const Kernels& ReferenceKernels() {
  static const Kernels kReference;
  return kReference;
}

}  // namespace datanode::ops::llm
