// Copyright 2026 The datanode Authors.
//
// Non-x86 builds: no vector kernels; Verify uses the portable ones.
#include "ops/verify/kernels.h"

namespace datanode::ops::verify::internal {

const Kernels* Avx512Kernels() { return nullptr; }

}  // namespace datanode::ops::verify::internal
