// Copyright 2026 The datanode Authors.
//
// Hooks into Model::Forward for verified delegation of a forward pass
// (docs/verification.md §9). With hooks, Forward runs every elementwise op itself (on the
// model's backend kernels, byte-equal to the spec) but takes each matmul's output from
// the hooks instead of the backend, and shows the hooks the residual stream after the
// embedding and after every layer:
// - the computing node's hooks run the matmul (RunLinear), keep its output and exact sums
//   and a digest of each residual (node/inference/verified_forward.h);
// - a verifying node's hooks hand over the computing node's claimed outputs after a
//   Freivalds check against its own activations, so the pass it runs is the spec's pass
//   whenever it accepts.
// One description of the pass (forward.cc) serves computing and checking, so the verifier
// cannot drift from what the model computes.
//
// Thread safety: Forward calls the hooks from its calling thread only, in pass order.
#ifndef DATANODE_NODE_INFERENCE_FORWARD_HOOKS_H_
#define DATANODE_NODE_INFERENCE_FORWARD_HOOKS_H_

#include <cstdint>
#include <span>

#include "absl/status/status.h"
#include "datanode/ops/backend.h"

namespace datanode::node::inference {

struct Linear;

// Which matmul of a layer (or the output head) a hook call is. Values are stable (they
// travel in a pass answer).
enum class MatMulSite : uint8_t {
  kQ = 0,
  kK = 1,
  kV = 2,
  kO = 3,
  kGate = 4,
  kUp = 5,
  kDown = 6,
  kOutput = 7,  // the output head (layer -1)
};
const char* MatMulSiteName(MatMulSite site);

class ForwardHooks {
 public:
  virtual ~ForwardHooks() = default;

  // Supplies out[m, w.n] = a_q8[m, w.k] x W^T (f32, row-major) for the matmul `site` of
  // `layer` (-1 for the output head, whose m is the number of rows that want logits). An
  // error ends the pass with it.
  virtual absl::Status MatMul(int layer, MatMulSite site, const Linear& w, int64_t m,
                              ops::ByteSpan a_q8, std::span<float> out) = 0;

  // The residual stream x[m, d_model] after the embedding lookup (layer -1) and after each
  // layer (the next layer's input). A hook may rewrite it (the tests' fault injection); an
  // error ends the pass with it.
  virtual absl::Status Residual(int layer, int64_t m, std::span<float> x) = 0;
};

// The matmul as Forward runs it without hooks: ops::RunOp on the model's backend with the
// prepared weights. A non-empty `exact` asks the backend for the exact sums too
// (OpArgs::exact; requires backend.WritesExactSums(w.kind)).
absl::Status RunLinear(ops::Backend& backend, const Linear& w, int64_t m, ops::ByteSpan a_q8,
                       std::span<float> out, ops::MutableByteSpan exact = {});

}  // namespace datanode::node::inference

#endif  // DATANODE_NODE_INFERENCE_FORWARD_HOOKS_H_
