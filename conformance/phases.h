// Copyright 2026 The datanode Authors.
//
// Internal: the phase functions RunAdmission() calls. Each returns a complete
// PhaseResult (disposition, reason, figures); device misbehaviour is a disposition,
// never an error.
#ifndef DATANODE_CONFORMANCE_PHASES_H_
#define DATANODE_CONFORMANCE_PHASES_H_

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "conformance/conformance.h"

namespace datanode::conformance::internal {

// Sets a phase result's disposition and reason (shared by every phase).
inline void Set(v1::PhaseResult* r, v1::Disposition d, const std::string& reason) {
  r->set_disposition(d);
  r->set_reason(reason);
}

// Rate-limited progress lines on stderr ("[performance] 3.0/6.0 s ...") and to
// RunOptions::on_progress.
class Progress {
 public:
  Progress(bool enabled, std::function<void(const std::string&, const std::string&)> sink)
      : enabled_(enabled), sink_(std::move(sink)) {}
  void Update(const std::string& phase, const std::string& text, bool force = false);

 private:
  bool enabled_;
  std::function<void(const std::string&, const std::string&)> sink_;
  std::chrono::steady_clock::time_point last_{};
};

struct PhaseContext {
  ops::Backend& backend;
  const v1::DeviceClass& device_class;
  const v1::ProfileSettings& profile;
  const std::vector<uint8_t>& nonce;
  const RunOptions& options;
  Progress& progress;
  std::vector<ops::OpKind> required_ops;

  // RunOptions::cancelled, for loops that may run long.
  bool Cancelled() const { return options.cancelled && options.cancelled(); }
};

v1::PhaseResult GoldenPhase(PhaseContext& ctx);
v1::PhaseResult ChallengePhase(PhaseContext& ctx);
v1::PhaseResult StabilityPhase(PhaseContext& ctx);
v1::PhaseResult MemoryPhase(PhaseContext& ctx);
v1::PhaseResult PerformancePhase(PhaseContext& ctx);
v1::PhaseResult StoragePhase(PhaseContext& ctx);

// Threshold violations of one phase's figures under the class (empty = none).
std::vector<std::string> ThresholdViolations(const v1::DeviceClass& device_class,
                                             const v1::PhaseResult& phase);

// SHA-256 hex of nonce || index (u32 LE) || bytes: a proof-of-storage answer.
std::string ProofAnswer(const std::vector<uint8_t>& nonce, uint32_t index, ops::ByteSpan bytes);

// Which expected model proof `index` challenges: its position in the class's
// expected_models, taken in a nonce-shuffled order ("proof/order") and repeated, so
// with at least as many proofs as models every model is challenged. `models` > 0.
size_t ProofModelIndex(const std::vector<uint8_t>& nonce, uint32_t index, size_t models);
// The range proof `index` challenges in a model file object of `object_size` bytes
// (> 0), from SHA-256(nonce || "proof/<index>"): a uniform chunk, 4..64 KiB (at most
// the chunk), at a uniform offset inside the chunk.
struct ProofTarget {
  int64_t chunk_index = 0;
  int64_t offset = 0;  // within the chunk
  int64_t length = 0;
};
ProofTarget DeriveProofTarget(const std::vector<uint8_t>& nonce, uint32_t index,
                              int64_t object_size);

double SecondsSince(std::chrono::steady_clock::time_point t0);

}  // namespace datanode::conformance::internal

#endif  // DATANODE_CONFORMANCE_PHASES_H_
