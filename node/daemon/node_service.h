// Copyright 2026 The datanode Authors.
//
// The daemon's domain logic, free of RPC types: node info and MatMul with inline or
// stored weights. The RPC layer (rpc_convert.h, *_rpc.cc) converts protos to these structs and
// back, and runs these methods on the daemon's executor.
//
// MatMulResult.cycles is one node's compute share of the published price
// (docs/canister-api.md): shim::ComputeCycles of shim::MatMulPriceTerms for the call,
// ceil(M*N*K / 64) + ceil(weight bytes / 64). The one price formula lives in
// node/shim/pricing.h; the shim charges n times this plus the consensus and byte terms.
//
// Verified mode (docs/verification.md §8, docs/daemon.md "Verified mode"): a computing
// node's MatMul with exact_output also returns the exact sums; a verifying node's MatMul
// with verify set checks such an answer (VerifyingNode: per-epoch secret, verifier
// state per tensor held from the memory budget) and returns a signed verdict, charging
// shim::CheckCycles instead of the compute share.
#ifndef DATANODE_NODE_DAEMON_NODE_SERVICE_H_
#define DATANODE_NODE_DAEMON_NODE_SERVICE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "datanode/ops/backend.h"
#include "node/daemon/caller_limits.h"
#include "node/daemon/config.h"
#include "node/daemon/verified_mode.h"
#include "node/daemon/weight_cache.h"
#include "node/import/model_registry.h"
#include "node/store/weight_store.h"

namespace datanode::node {

// Spans borrow the caller's buffers for the duration of the call.
struct MatMulCall {
  ops::OpKind kind = ops::OpKind::kMatMulS8S32;
  int64_t m = 0, n = 0, k = 0;
  ops::ByteSpan a, a_scale;
  bool by_reference = false;
  ops::ByteSpan w, w_scale;  // inline weights
  Sha256 model{};            // by reference
  std::string tensor, scale_tensor;
  // Verified mode: return the exact sums beside C (computing node), or check `answer`
  // instead of computing (verifying node). Exclusive; verifiable ops only.
  bool exact_output = false;
  bool verify = false;
  struct Answer {
    ops::ByteSpan out, exact;
    uint64_t epoch = 0;
    Sha256 request_digest{};
    uint32_t computing_node = 0;
  } answer;
};

struct MatMulResult {
  std::vector<uint8_t> out;
  std::string output_digest;  // hex
  uint64_t cycles = 0;
  std::vector<uint8_t> exact;                // with exact_output
  std::optional<Verification> verification;  // with verify (then `out` is empty)
};

// The limits NodeService applies to every MatMul (docs/daemon.md, "Limits").
struct MatMulLimits {
  int64_t max_reply_bytes = Config::kDefaultMaxReplyBytes;
  int64_t memory_budget_bytes = Config::kDefaultMemoryBudgetBytes;
};

// A MatMul that passed AdmitMatMul: its operand sizes and the memory it holds of the
// daemon's budget. Keep it until the reply has been sent (the reservation covers the
// reply's serialized copy); destroying it releases the memory.
struct MatMulTicket {
  ops::OperandSizes sizes;
  std::vector<MemoryBudget::Reservation> held;
};

// The compute share above (saturating at 2^64 - 1). INVALID_ARGUMENT for a non-matmul
// op or invalid shapes (ComputeOperandSizes).
absl::StatusOr<uint64_t> MatMulCycles(ops::OpKind kind, int64_t m, int64_t n, int64_t k);
// A verifying node's charge for one check: shim::CheckCycles (saturating).
absl::StatusOr<uint64_t> CheckCycles(ops::OpKind kind, int64_t m, int64_t n, int64_t k);

struct NodeInfo {
  struct BackendEntry {
    std::string name, description;
    std::vector<std::string> supported_ops;
    bool serving = false;
  };
  std::vector<BackendEntry> backends;
  int64_t store_used = 0, store_capacity = 0, pinned = 0, pin_budget = 0;
  int64_t verifier_bytes = 0;  // verified mode's verifier state held now
};

class NodeService {
 public:
  // All pointers must outlive the service.
  NodeService(ops::Backend* backend, WeightStore* store, ModelRegistry* models,
              int64_t pin_budget_bytes, MatMulLimits limits = {})
      : backend_(backend),
        store_(store),
        models_(models),
        cache_(pin_budget_bytes),
        max_reply_bytes_(limits.max_reply_bytes),
        budget_(limits.memory_budget_bytes) {}

  // Checks a matmul from the request's sizes alone, before anything is allocated or
  // computed: INVALID_ARGUMENT for a shape the spec rejects or operands (A, a_scale,
  // inline W and w_scale) whose byte counts differ from the shape's; RESOURCE_EXHAUSTED
  // for an output larger than limits.max_reply_bytes, or when `request_bytes` (the
  // received message, already in memory) plus twice the output (the result and the
  // reply's serialized copy) do not fit the memory budget now. O(1), no disk, so the
  // RPC layer calls it on gRPC's thread before queueing the call. Thread-safe.
  absl::StatusOr<MatMulTicket> AdmitMatMul(const MatMulCall& call, int64_t request_bytes);

  // Runs an admitted matmul. Operand values (int8 -128, non-finite scales) are checked
  // before anything is allocated (INVALID_ARGUMENT). By reference: the tensor's dtype
  // must match the op (its w_dtype in ops::kOpTable) and its shape
  // must be [N, K], both checked from the manifest before the tensor is read; reading
  // and preparing it reserves its bytes first (added to `ticket`). NOT_FOUND for
  // unknown models or tensors, DATA_LOSS if stored bytes are corrupt,
  // RESOURCE_EXHAUSTED when the weights do not fit the memory budget.
  absl::StatusOr<MatMulResult> MatMul(const MatMulCall& call, MatMulTicket& ticket);
  // AdmitMatMul (no request bytes) then MatMul, for in-process callers; the
  // reservation ends when it returns.
  absl::StatusOr<MatMulResult> MatMul(const MatMulCall& call);
  NodeInfo Info() const;
  // Deletes a model (ModelRegistry::Delete) and unpins its weights.
  absl::Status DeleteModel(const Sha256& model);
  // Deletes a store object (WeightStore::Delete) unless it is the manifest or source of
  // an imported model (ModelRegistry::References): FAILED_PRECONDITION then, since
  // deleting it would break the model; DeleteModel removes those objects.
  absl::Status DeleteBlob(const Sha256& object);
  // Imports a model file (ModelRegistry::ImportFile) under the import options set
  // with set_import_options; `cancelled` and `progress` as in ImportOptions.
  absl::StatusOr<ImportResult> ImportModel(
      const std::string& path, std::function<bool()> cancelled = {},
      std::function<void(int64_t bytes_done, int64_t bytes_total)> progress = {});
  void set_import_options(ImportOptions options) { import_options_ = std::move(options); }
  // Enables the verifying side of verified mode (verdicts signed with `key`) and sets the
  // computing side's test fault (kNone in production; see ParseTestFault). Without it a
  // verify call is FAILED_PRECONDITION. Call before serving.
  void EnableVerifiedMode(shim::NodeKey key, TestFault fault = TestFault::kNone);
  // The same from the node key's PEM file and the config's test_fault name.
  absl::Status EnableVerifiedMode(const std::string& key_path, std::string_view test_fault);
  // Verifier state held now (0 without verified mode).
  int64_t verifier_memory_bytes() const;
  // For verified inference (verified_inference.h): the verifying node (null without
  // verified mode), the computing side's test fault and the serving backend.
  VerifyingNode* verifying_node() { return verifying_.get(); }
  TestFault test_fault() const { return fault_; }
  ops::Backend& serving_backend() { return *backend_; }

  WeightStore& store() { return *store_; }
  ModelRegistry& models() { return *models_; }
  const WeightCache& cache() const { return cache_; }
  const ops::Backend& backend() const { return *backend_; }
  MemoryBudget& memory_budget() { return budget_; }

 private:
  absl::StatusOr<std::shared_ptr<const ops::PreparedWeights>> LoadWeights(const MatMulCall& call,
                                                                          MatMulTicket& ticket);
  // The tensor's stored bytes (and the scale tensor's for matmul_s8_f32), reserved in
  // `ticket`; the manifest checks are LoadWeights'.
  absl::StatusOr<VerifyingNode::Weights> ReadRawWeights(const MatMulCall& call,
                                                        MatMulTicket& ticket);
  absl::StatusOr<MatMulResult> VerifyAnswer(const MatMulCall& call, const ops::OpArgs& args,
                                            MatMulTicket& ticket);

  ops::Backend* backend_;
  WeightStore* store_;
  ModelRegistry* models_;
  WeightCache cache_;
  const int64_t max_reply_bytes_;
  MemoryBudget budget_;
  ImportOptions import_options_;              // root and time limit
  std::unique_ptr<VerifyingNode> verifying_;  // set by EnableVerifiedMode
  ComputingNode computing_;
  TestFault fault_ = TestFault::kNone;
};

}  // namespace datanode::node

#endif  // DATANODE_NODE_DAEMON_NODE_SERVICE_H_
