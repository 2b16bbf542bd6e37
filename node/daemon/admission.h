// Copyright 2026 The datanode Authors.
//
// The admission test run by the daemon (the RunAdmission RPC): domain logic free of
// RPC types. Loads the class, runs conformance::RunAdmission on the serving backend
// (or a named one), signs the report with the node's key and remembers the last
// admitted class for GetNodeInfo, across restarts: the admitted report is kept as
// JSON beside the key (kLastAdmissionFile) and reloaded only if its signature is the
// node key's. One run at a time: a second Begin() is refused
// with RESOURCE_EXHAUSTED, the code for "this resource is busy, retry later with
// backoff" (ABORTED would tell the client its own transaction conflicted and should
// be redone at a higher level, which is not the situation). Thread-safe.
#ifndef DATANODE_NODE_DAEMON_ADMISSION_H_
#define DATANODE_NODE_DAEMON_ADMISSION_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "datanode/ops/backend.h"
#include "datanode/v1/admission.pb.h"
#include "datanode/v1/admission_service.pb.h"
#include "node/shim/agreement.h"

namespace datanode::conformance {
class StoreView;
}  // namespace datanode::conformance

namespace datanode::node {

class WeightStore;
class ModelRegistry;

struct AdmissionRequest {
  std::string class_name;  // a bare name looked up in the class dirs, or
  std::string class_text;  // an inline text-format DeviceClass (exactly one is set)
  std::string nonce_hex;
  std::string profile = "quick";  // "quick" or "full"
  std::string backend;            // empty: the serving backend
};

struct AdmissionOutcome {
  v1::AdmissionReport report;  // signed
  bool admitted = false;
  // The class came as class_text that is not, byte for byte, the operator's class file
  // of that name: the caller's own test. Its verdict never changes the node's admitted
  // class, so a caller cannot make the node claim "gpu" with lax thresholds.
  bool custom_class = false;
  std::vector<std::string> reasons;
  std::string report_digest;  // SHA-256 hex of conformance::CanonicalBytes(report)
};

struct AdmittedState {
  std::string class_name;  // empty: not admitted (since start-up)
  std::string report_digest;
};

// kVerifiedFault: not a test run but fault evidence (ReportFault) that took the node out.
enum class RecheckTrigger { kSchedule, kRequest, kVerifiedFault };

// One re-check of the admitted class (scheduled or requested).
struct RecheckRecord {
  absl::Time time;
  std::string class_name;
  bool passed = false;
  std::string detail;     // the report digest when passed; the first reason or error when not
  std::string nonce_hex;  // the fresh nonce it ran with
  RecheckTrigger trigger = RecheckTrigger::kSchedule;
};

// The wire and history-file form of a re-check (v1.AdmissionRecheck), and back.
v1::AdmissionRecheck RecheckToProto(const RecheckRecord& r);
RecheckRecord RecheckFromProto(const v1::AdmissionRecheck& p);

// Creates the node key (and <name>.pub.pem) when `key_path` does not exist, then
// checks that it holds an Ed25519 key. Returns the raw 32-byte public key; sets
// *created when it made a new one. A key readable by group or others is an error:
// whoever reads it can sign reports as this node.
absl::StatusOr<std::string> EnsureNodeKey(const std::string& key_path, bool* created);

// The subnet's key list (DaemonConfig.subnet_keys_path): one 64-hex-digit Ed25519 public
// key per line, blank and '#' lines skipped, the k-th key being node k's. NOT_FOUND for a
// missing file, INVALID_ARGUMENT naming the line for anything else, and for a key that
// appears twice (two indices for one node).
absl::StatusOr<std::vector<shim::PublicKey>> LoadSubnetKeys(const std::string& path);

class AdmissionService {
 public:
  // `serving` must outlive the service; `options` configure backends created for a
  // run with another name. `class_dirs` are searched for class names. `store` and
  // `models` (the daemon's weight store and its registry; both must outlive the
  // service) are what a storage class's phase measures and proves.
  AdmissionService(ops::Backend* serving, ops::BackendOptions options, std::string key_path,
                   std::vector<std::string> class_dirs, WeightStore* store,
                   const ModelRegistry* models);
  ~AdmissionService();  // stops the re-checks

  // The single run slot; released when destroyed. Movable, not copyable.
  class Slot {
   public:
    Slot(Slot&& o) noexcept : owner_(o.owner_) { o.owner_ = nullptr; }
    Slot& operator=(Slot&&) = delete;
    ~Slot();

   private:
    friend class AdmissionService;
    explicit Slot(AdmissionService* owner) : owner_(owner) {}
    AdmissionService* owner_;
  };
  // RESOURCE_EXHAUSTED while another run holds the slot.
  absl::StatusOr<Slot> Begin();

  // Checks the request's shape without touching disk: exactly one class source, a
  // class name that is a bare name, a valid nonce, a known profile. INVALID_ARGUMENT.
  static absl::Status Validate(const AdmissionRequest& request);

  using ProgressFn = std::function<void(const std::string& phase, const std::string& text)>;
  // Runs the test (blocking: call it on the executor, holding the slot). NOT_FOUND
  // for an unknown class name, INVALID_ARGUMENT for a bad class text or profile,
  // CANCELLED when `cancelled` turned true. A backend that cannot be created is a
  // rejection with a signed report, as in `dn-conformance run`. Only a class of the
  // class directories (by name, or as text identical to that file) sets or clears the
  // admitted class; any other class_text is a custom class (AdmissionOutcome).
  absl::StatusOr<AdmissionOutcome> Run(const Slot& slot, const AdmissionRequest& request,
                                       const ProgressFn& progress,
                                       const std::function<bool()>& cancelled);

  // Restores the re-check history (kRecheckHistoryFile; an unreadable one is logged
  // and ignored), then the admitted state from the saved report, if there is one
  // signed by `raw_public_key`. OK with nothing restored when there is no report; an
  // error (the caller logs it and starts unadmitted) for an unreadable, unsigned or
  // foreign one.
  absl::Status LoadSaved(const std::string& raw_public_key);

  AdmittedState Admitted() const;

  // --- Re-checks: a node that stops passing is taken out of its class -------------
  // Every `interval` (plus a fixed per-node offset in [0, interval / 4) derived from
  // the node's public key, so that a subnet's nodes do not all test at once) re-runs
  // the admitted class's quick profile, by name from the class directories, on the
  // serving backend with a fresh random nonce (in production the subnet's random
  // beacon would supply it). A failed run, or a class that no longer loads, clears the
  // admitted class and the saved report; a pass replaces the saved report. Skipped
  // while not admitted; postponed while another run holds the slot, and lapsed (a
  // failure, "lapsed: ...") when it could not run for a whole interval. interval <= 0:
  // nothing runs. Call at most once; StopRechecks() (or the destructor) cancels a run
  // in progress and joins the thread.
  void StartRechecks(absl::Duration interval, const std::string& raw_public_key);
  void StopRechecks();
  // The re-check's body, run now on the calling thread (the schedule; the
  // RecheckAdmission RPC). FAILED_PRECONDITION when not admitted, RESOURCE_EXHAUSTED
  // when busy, CANCELLED (nothing recorded) when `cancelled` turned true. Appends the
  // record to the history and saves the history file.
  absl::StatusOr<RecheckRecord> RecheckNow(const std::function<bool()>& cancelled,
                                           RecheckTrigger trigger = RecheckTrigger::kRequest);
  // --- Fault evidence: a verified-mode fault takes the node out ---------------------
  // Where the subnet's key list is (LoadSubnetKeys; "" = none) and this node's raw
  // public key, whose line there is its index. Call before serving.
  void SetSubnetKeys(std::string path, std::string raw_public_key);
  // Checks `evidence` (shim::CheckFaultEvidence) against the key list, read now, and when
  // it names this node takes the node out of its admitted class through the re-check's
  // path (Record: a failed history entry with trigger kVerifiedFault and detail
  // shim::FaultSummary; admitted class and saved report cleared). FAILED_PRECONDITION
  // when no key list is set or readable or this node's key is not in it; INVALID_ARGUMENT
  // for evidence that does not check or names another node; FAILED_PRECONDITION when the
  // node holds no admitted class (nothing recorded), or when the history already holds
  // this call's record (a replay: a record evicts once). On any error nothing changes.
  absl::StatusOr<RecheckRecord> ReportFault(const shim::FaultEvidence& evidence);

  // The last kMaxRecheckHistory re-checks, oldest first (kept across restarts in
  // kRecheckHistoryFile beside the key).
  std::vector<RecheckRecord> RecheckHistory() const;
  static constexpr size_t kMaxRecheckHistory = 64;
  static constexpr const char* kRecheckHistoryFile = "admission-history.json";
  // Prometheus text: datanode_admission_admitted{class}, datanode_admission_rechecks_total
  // {result="passed"|"failed"}, datanode_admission_last_recheck_timestamp_seconds.
  std::string RenderMetrics() const;
  // The saved report: <key directory>/kLastAdmissionFile.
  std::string saved_report_path() const;
  static constexpr const char* kLastAdmissionFile = "last-admission.json";
  const std::string& key_path() const { return key_path_; }

 private:
  // Makes `report` the saved one (temp file, fsync, rename), or removes the saved one
  // when `report` is null. Failures are logged: the verdict still stands in memory.
  void Save(const v1::AdmissionReport* report);
  // Writes history_ to kRecheckHistoryFile; failures are logged.
  void SaveHistory();
  // Appends a re-check to the history (saved) and the metrics; a failed one takes the
  // node out of record.class_name if it still holds it (and removes the saved report).
  void Record(const RecheckRecord& record);
  // The scheduled re-check due at `due` could not run for `period`: recorded as a
  // failure ("lapsed: ...") that takes the node out of its class.
  void Lapse(absl::Time due, absl::Duration period);
  std::string KeyDirFile(const char* name) const;

  ops::Backend* serving_;
  ops::BackendOptions options_;
  std::unique_ptr<conformance::StoreView> store_view_;
  std::string key_path_;
  std::vector<std::string> class_dirs_;
  std::string subnet_keys_path_;  // set before serving
  std::string raw_public_key_;
  void RecheckLoop(absl::Duration period, absl::Duration offset);

  std::mutex save_mu_;  // serializes SaveHistory
  mutable std::mutex mu_;
  bool running_ = false;                                // guarded by mu_
  AdmittedState admitted_;                              // guarded by mu_
  std::vector<RecheckRecord> history_;                  // guarded by mu_
  uint64_t rechecks_passed_ = 0, rechecks_failed_ = 0;  // guarded by mu_
  bool stop_ = false;                                   // guarded by mu_
  std::condition_variable stop_cv_;
  std::thread recheck_thread_;
};

}  // namespace datanode::node

#endif  // DATANODE_NODE_DAEMON_ADMISSION_H_
