// Copyright 2026 The datanode Authors.
//
// The backends compiled into this binary. Explicit calls (not static registration),
// so a static library's backend is never dropped by the linker.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/reference.h"
#include "datanode/ops/self_test.h"
#include "datanode/ops/status_macros.h"

#ifdef DATANODE_WITH_CPU
#include "ops/cpu/cpu_backend.h"
#endif
#ifdef DATANODE_WITH_VULKAN
#include "ops/vulkan/vulkan_backend.h"
#endif
#ifdef DATANODE_WITH_CUDA
#include "ops/cuda/cuda_backend.h"
#endif

namespace datanode::ops {

std::vector<std::string> CompiledBackends() {
  std::vector<std::string> names = {"reference"};
#ifdef DATANODE_WITH_CPU
  names.push_back("cpu");
#endif
#ifdef DATANODE_WITH_VULKAN
  names.push_back("vulkan");
#endif
#ifdef DATANODE_WITH_CUDA
  names.push_back("cuda");
#endif
  return names;
}

absl::StatusOr<std::unique_ptr<Backend>> CreateBackend(std::string_view name,
                                                       const BackendOptions& options) {
  std::unique_ptr<Backend> backend;
  if (name == "reference") {
    return reference::CreateReferenceBackend();  // the oracle needs no self-test
  }
#ifdef DATANODE_WITH_CPU
  if (name == "cpu") {
    ASSIGN_OR_RETURN(backend, cpu::CreateCpuBackend(options));
  }
#endif
#ifdef DATANODE_WITH_VULKAN
  if (name == "vulkan") {
    ASSIGN_OR_RETURN(backend, vulkan::CreateVulkanBackend(options));
  }
#endif
#ifdef DATANODE_WITH_CUDA
  if (name == "cuda") {
    ASSIGN_OR_RETURN(backend, cuda::CreateCudaBackend(options));
  }
#endif
  if (backend == nullptr) {
    return absl::NotFoundError(absl::StrCat("backend \"", std::string(name),
                                            "\" is not compiled in (available: ",
                                            absl::StrJoin(CompiledBackends(), ", "), ")"));
  }
  RETURN_IF_ERROR(RunGoldenSelfTest(*backend));
  return backend;
}

}  // namespace datanode::ops
