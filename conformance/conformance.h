// Copyright 2026 The datanode Authors.
//
// The standardized admission test (docs/admission.md). RunAdmission() runs the seven
// phases against any ops::Backend (tests inject faulty ones) and returns an unsigned
// report; EvaluateReport() applies a class's thresholds to a report's figures (the
// runner and `verify` share it); VerifyReport() is what a subnet admin runs.
//
// Phases: 1 inventory, 2 golden vectors, 3 nonce-seeded challenges (Freivalds +
// sampled rows recomputed on the reference), 4 stability, 5 memory pattern test,
// 6 performance (sustained GOP/s, cache detection), 7 storage (write/fsync/read
// through the node's weight store, proofs of storage over the class's expected
// models). Every phase gets a disposition and a reason.
#ifndef DATANODE_CONFORMANCE_CONFORMANCE_H_
#define DATANODE_CONFORMANCE_CONFORMANCE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "conformance/challenge_inputs.h"
#include "datanode/ops/backend.h"
#include "datanode/v1/admission.pb.h"
#include "datanode/v1/device_class.pb.h"
#include "device_classes/device_class_loader.h"

namespace datanode::conformance {

class StoreView;  // store_view.h

inline constexpr uint32_t kReportVersion = 1;

struct RunOptions {
  std::string nonce_hex;               // from the verifier; required
  std::string profile_name = "quick";  // recorded in the report
  v1::ProfileSettings profile;         // the work each phase does
  // The node's weight store, for the storage phase (store_view.h): its figures describe
  // that store's filesystem and its proofs challenge the class's expected models in it.
  // Must outlive the run. Null: a class with a storage section fails that phase.
  const StoreView* store = nullptr;
  bool progress = true;  // progress lines on stderr for long phases
  // Embedding hooks (datanoded's RunAdmission RPC), both optional and called on the
  // running thread. on_progress receives the progress lines (phase name, text), with
  // the same rate limit as stderr, whether or not `progress` is set.
  std::function<void(const std::string& phase, const std::string& text)> on_progress;
  // Polled between phases and inside long loops; once it returns true the run stops
  // within about one kernel call and RunAdmission returns CANCELLED (no report).
  std::function<bool()> cancelled;
};

// Runs every phase the class requires on `backend` and returns the report (unsigned;
// see report.h). Errors only for bad options (nonce) and cancellation (CANCELLED);
// device failures are phase dispositions, never errors.
absl::StatusOr<v1::AdmissionReport> RunAdmission(ops::Backend& backend,
                                                 const device_classes::LoadedClass& device_class,
                                                 const RunOptions& options);

struct Verdict {
  bool admitted = false;
  std::vector<std::string> reasons;  // why not (empty when admitted)
};

// Re-applies the class's thresholds and phase requirements to a report's figures
// and dispositions (no signature or nonce checks).
Verdict EvaluateReport(const v1::DeviceClass& device_class, const v1::AdmissionReport& report);

struct VerifyOptions {
  // Recompute every challenge's output digest from the nonce on a local trusted
  // backend, and recheck the proofs of storage against `models` when given.
  bool recompute = true;
  // The verifier's own copy of the expected models (a weight store holding them).
  // With it, each proof's target (model, chunk, range) is re-derived from the nonce and
  // its answer recomputed from these bytes; without it only the proofs' targets are
  // checked against the class's model list. Must outlive the call.
  const StoreView* models = nullptr;
};

// Everything `dn-conformance verify` checks: signature by `raw_public_key`, nonce,
// class name and file digest, spec version, golden file digest, recomputed
// challenges and proofs, then EvaluateReport().
Verdict VerifyReport(const v1::AdmissionReport& report,
                     const device_classes::LoadedClass& device_class, const std::string& nonce_hex,
                     const std::string& raw_public_key, const VerifyOptions& options = {});

// One nonce-seeded challenge: inputs are MakeChallengeInputs(kind, m, n, k, seed,
// profile) (challenge_inputs.h).
struct ChallengeCase {
  std::string label;  // seed = DeriveSeed(nonce, label)
  ops::OpKind kind = ops::OpKind::kMatMulS8S32;
  int64_t m = 0, n = 0, k = 0;
  uint64_t seed = 0;
  ChallengeProfile profile = ChallengeProfile::kWide;
};

// The challenge list for `ops` (count per op). Shapes are derived from the nonce
// ("shape/<op>") within [half, full] of the canonical shape capped at 256 x 256 x 512,
// so every challenge of one op shares a shape (a backend that replays outputs by
// shape is caught from the second challenge on). Profiles rotate through
// kAllChallengeProfiles from a nonce-chosen start ("profiles"), shifted by one per op:
// with 3 or more challenges per op every op meets every profile, and with 1 or more
// the whole list does.
std::vector<ChallengeCase> ChallengeCases(const v1::ComputeRequirements& compute,
                                          const std::vector<ops::OpKind>& ops, uint32_t count,
                                          const std::vector<uint8_t>& nonce);

// Ops the class requires, parsed (invalid names were rejected by the loader).
std::vector<ops::OpKind> RequiredOps(const v1::DeviceClass& device_class);

const char* DispositionName(v1::Disposition d);

}  // namespace datanode::conformance

#endif  // DATANODE_CONFORMANCE_CONFORMANCE_H_
