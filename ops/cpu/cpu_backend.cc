// Copyright 2026 The datanode Authors.
#include "ops/cpu/cpu_backend.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "datanode/ops/reference.h"
#include "datanode/ops/status_macros.h"
#include "ops/cpu/cpu_features.h"
#include "ops/cpu/llm_kernels.h"
#include "ops/cpu/matmul_kq.h"
#include "ops/cpu/matmul_q8.h"
#include "ops/cpu/matmul_s8.h"
#include "ops/cpu/quantize.h"
#include "ops/cpu/thread_pool.h"

namespace datanode::ops::cpu {
namespace {

class CpuBackend final : public Backend {
 public:
  CpuBackend(int num_threads, Isa isa)
      : pool_(num_threads), isa_(isa), llm_kernels_(CreateCpuLlmKernels(isa, &pool_)) {}

  const char* Name() const override { return "cpu"; }
  std::string Description() const override {
    return absl::StrCat(CpuModelName(), ", ", IsaName(isa_), " kernels, ", pool_.num_threads(),
                        " thread(s)");
  }
  bool Supports(OpKind kind) const override { return FindOpInfo(kind) != nullptr; }
  // The Q8_0 family and K-quant kernels store E from their fast or slow sums as they store
  // C (q8_common.h's StoreFastExactSums); the s8 kernel copies a tile's isums before its
  // rounding (matmul_s8.cc).
  bool WritesExactSums(OpKind kind) const override {
    return kind == OpKind::kMatMulS8F32 || IsQ8_0MatMul(kind);
  }

  absl::Status Run(const OpArgs& args) override {
    switch (args.kind) {
      case OpKind::kMatMulS8S32:
      case OpKind::kMatMulS8F32:
        return MatMulS8(*this, args, isa_, pool_);
      case OpKind::kMatMulQ8_0Q8_0:
      case OpKind::kMatMulQ8_0Q4_0:
      case OpKind::kMatMulQ8_0Q4_1:
        return MatMulQ8(*this, args, isa_, pool_);
      case OpKind::kQuantizeS8Row:
      case OpKind::kQuantizeQ8_0:
        return Quantize(args, isa_, pool_);
      case OpKind::kMatMulQ8_0Q4_K:
      case OpKind::kMatMulQ8_0Q6_K:
        return MatMulKq(*this, args, isa_, pool_);
    }
    return absl::UnimplementedError("cpu: unknown op kind");
  }

  const llm::Kernels& LlmKernels() const override { return *llm_kernels_; }

  // Weights checked by Backend::PrepareWeights; packed in the kernels' layout here.
  absl::StatusOr<std::unique_ptr<PreparedWeights>> DoPrepareWeights(OpKind kind, int64_t n,
                                                                    int64_t k, ByteSpan w,
                                                                    ByteSpan w_scale) override {
    switch (kind) {
      case OpKind::kMatMulS8S32:
      case OpKind::kMatMulS8F32:
        return PrepareS8Weights(this, kind, n, k, w, w_scale, isa_);
      case OpKind::kMatMulQ8_0Q8_0:
      case OpKind::kMatMulQ8_0Q4_0:
      case OpKind::kMatMulQ8_0Q4_1:
        return PrepareQ8Weights(this, kind, n, k, w, w_scale, isa_);
      case OpKind::kMatMulQ8_0Q4_K:
      case OpKind::kMatMulQ8_0Q6_K:
        return PrepareKqWeights(this, kind, n, k, w, w_scale, isa_);
      default:
        return absl::InternalError(absl::StrCat("cpu: no weight packing for ", OpKindName(kind)));
    }
  }

 private:
  ThreadPool pool_;
  const Isa isa_;
  const std::unique_ptr<llm::Kernels> llm_kernels_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> CreateCpuBackend(const BackendOptions& options) {
  if (options.num_threads < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cpu: num_threads must be >= 0, got ", options.num_threads));
  }
  int threads = options.num_threads;
  if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::make_unique<CpuBackend>(threads, DetectIsa());
}

}  // namespace datanode::ops::cpu
