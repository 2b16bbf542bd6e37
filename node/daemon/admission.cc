// Copyright 2026 The datanode Authors.
#include "node/daemon/admission.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "conformance/conformance.h"
#include "conformance/nonce.h"
#include "conformance/report.h"
#include "conformance/store_view.h"
#include "datanode/ops/digest.h"
#include "datanode/ops/status_macros.h"
#include "datanode/util/ed25519.h"
#include "datanode/util/file.h"
#include "datanode/util/hex.h"
#include "device_classes/device_class_loader.h"
#include "google/protobuf/util/json_util.h"
#include "openssl/rand.h"
#include "spdlog/spdlog.h"

namespace datanode::node {
namespace {

std::string PubPathFor(const std::string& key_path) {
  std::string base = key_path;
  if (base.size() > 4 && base.ends_with(".pem")) base.resize(base.size() - 4);
  return base + ".pub.pem";
}

bool IsBareName(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

// The report of a backend that could not even be created: a signed rejection, as
// `dn-conformance run` writes it.
v1::AdmissionReport BackendFailureReport(const device_classes::LoadedClass& cls,
                                         const AdmissionRequest& request,
                                         const std::string& backend, const absl::Status& why) {
  v1::AdmissionReport report;
  report.set_report_version(conformance::kReportVersion);
  report.set_class_name(cls.device_class.name());
  report.set_class_digest(cls.digest_hex);
  report.set_nonce(request.nonce_hex);
  report.set_profile(request.profile);
  report.set_spec_version(ops::kSpecVersion);
  report.mutable_device()->set_backend(backend);
  v1::PhaseResult* p = report.add_phases();
  p->set_phase(v1::PHASE_INVENTORY);
  p->set_name("inventory");
  p->set_disposition(v1::DISPOSITION_FAILED);
  p->set_reason(absl::StrCat("backend ", backend, ": ", why.ToString()));
  report.add_reasons(p->reason());
  return report;
}

}  // namespace

v1::AdmissionRecheck RecheckToProto(const RecheckRecord& r) {
  v1::AdmissionRecheck p;
  p.set_time_unix_ms(absl::ToUnixMillis(r.time));
  p.set_class_name(r.class_name);
  p.set_passed(r.passed);
  p.set_detail(r.detail);
  p.set_nonce_hex(r.nonce_hex);
  p.set_trigger(r.trigger == RecheckTrigger::kRequest         ? v1::RECHECK_TRIGGER_REQUEST
                : r.trigger == RecheckTrigger::kVerifiedFault ? v1::RECHECK_TRIGGER_VERIFIED_FAULT
                                                              : v1::RECHECK_TRIGGER_SCHEDULE);
  return p;
}

RecheckRecord RecheckFromProto(const v1::AdmissionRecheck& p) {
  RecheckRecord r;
  r.time = absl::FromUnixMillis(p.time_unix_ms());
  r.class_name = p.class_name();
  r.passed = p.passed();
  r.detail = p.detail();
  r.nonce_hex = p.nonce_hex();
  r.trigger = p.trigger() == v1::RECHECK_TRIGGER_REQUEST          ? RecheckTrigger::kRequest
              : p.trigger() == v1::RECHECK_TRIGGER_VERIFIED_FAULT ? RecheckTrigger::kVerifiedFault
                                                                  : RecheckTrigger::kSchedule;
  return r;
}

absl::StatusOr<std::string> EnsureNodeKey(const std::string& key_path, bool* created) {
  *created = false;
  std::error_code ec;
  if (!std::filesystem::exists(key_path, ec)) {
    std::filesystem::path parent = std::filesystem::path(key_path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    RETURN_IF_ERROR(util::GenerateEd25519KeyFiles(key_path, PubPathFor(key_path)));
    *created = true;
  }
  struct stat st {};
  if (::stat(key_path.c_str(), &st) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("node key ", key_path, ": ", std::strerror(errno)));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(
        absl::StrFormat("node key %s is accessible to group/others (mode %03o); chmod 600 it",
                        key_path, st.st_mode & 0777));
  }
  auto raw = util::ReadEd25519PublicKey(key_path);
  if (!raw.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("node key ", key_path, ": ", raw.status().message()));
  }
  return std::string(raw->begin(), raw->end());
}

AdmissionService::AdmissionService(ops::Backend* serving, ops::BackendOptions options,
                                   std::string key_path, std::vector<std::string> class_dirs,
                                   WeightStore* store, const ModelRegistry* models)
    : serving_(serving),
      options_(options),
      store_view_(std::make_unique<conformance::StoreView>(store, models)),
      key_path_(std::move(key_path)),
      class_dirs_(std::move(class_dirs)) {}

AdmissionService::Slot::~Slot() {
  if (owner_ == nullptr) return;
  std::lock_guard<std::mutex> lock(owner_->mu_);
  owner_->running_ = false;
}

absl::StatusOr<AdmissionService::Slot> AdmissionService::Begin() {
  std::lock_guard<std::mutex> lock(mu_);
  if (running_) {
    return absl::ResourceExhaustedError(
        "an admission test is already running on this node (one at a time, so that its "
        "performance figures are not shared); retry when it has finished");
  }
  running_ = true;
  return Slot(this);
}

absl::Status AdmissionService::Validate(const AdmissionRequest& r) {
  if (r.class_name.empty() == r.class_text.empty()) {
    return absl::InvalidArgumentError("exactly one of class_name and class_text must be set");
  }
  if (!r.class_name.empty() && !IsBareName(r.class_name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("class_name '", r.class_name,
                     "' is not a class name ([a-z0-9_]+, no paths); send class_text instead"));
  }
  RETURN_IF_ERROR(conformance::ParseNonceHex(r.nonce_hex).status());
  if (r.profile != "quick" && r.profile != "full") {
    return absl::InvalidArgumentError(
        absl::StrCat("profile must be quick or full, got '", r.profile, "'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<AdmissionOutcome> AdmissionService::Run(const Slot& slot,
                                                       const AdmissionRequest& request,
                                                       const ProgressFn& progress,
                                                       const std::function<bool()>& cancelled) {
  if (slot.owner_ != this) return absl::InternalError("admission slot of another service");
  RETURN_IF_ERROR(Validate(request));
  device_classes::LoadedClass cls;
  bool custom = false;
  if (!request.class_name.empty()) {
    ASSIGN_OR_RETURN(std::string path,
                     device_classes::ResolveClassPath(request.class_name, class_dirs_));
    ASSIGN_OR_RETURN(cls, device_classes::LoadClassFile(path));
  } else {
    ASSIGN_OR_RETURN(cls, device_classes::ParseClassText(request.class_text, "class_text"));
    // Trusted only if it is the operator's file of that name, byte for byte (the
    // digest covers the bytes): the name alone proves nothing.
    custom = true;
    if (auto path = device_classes::ResolveClassPath(cls.device_class.name(), class_dirs_);
        path.ok()) {
      auto file = device_classes::LoadClassFile(*path);
      custom = !file.ok() || file->digest_hex != cls.digest_hex;
    }
  }
  ASSIGN_OR_RETURN(v1::ProfileSettings settings,
                   device_classes::ProfileSettingsFor(cls.device_class, request.profile));

  const std::string backend_name = request.backend.empty() ? serving_->Name() : request.backend;
  if (progress) {
    progress("", absl::StrCat(custom ? "custom class " : "class ", cls.device_class.name(),
                              " (sha256 ", cls.digest_hex.substr(0, 16), "...), profile ",
                              request.profile, ", backend ", backend_name));
    if (custom) {
      progress("",
               "the class text is not this node's class file of that name: the verdict "
               "will not change the node's admitted class");
    }
  }

  conformance::RunOptions options;
  options.nonce_hex = request.nonce_hex;
  options.profile_name = request.profile;
  options.profile = settings;
  options.progress = false;  // the daemon's stderr is its log; progress goes to the caller
  options.on_progress = progress;
  options.cancelled = cancelled;
  options.store = store_view_.get();  // the store this daemon serves from

  v1::AdmissionReport report;
  if (backend_name == serving_->Name()) {
    ASSIGN_OR_RETURN(report, conformance::RunAdmission(*serving_, cls, options));
  } else {
    auto backend = ops::CreateBackend(backend_name, options_);
    if (backend.ok()) {
      ASSIGN_OR_RETURN(report, conformance::RunAdmission(**backend, cls, options));
    } else {
      report = BackendFailureReport(cls, request, backend_name, backend.status());
    }
  }
  RETURN_IF_ERROR(conformance::SignReport(key_path_, &report));

  AdmissionOutcome out;
  out.admitted = report.admitted();
  out.custom_class = custom;
  out.reasons.assign(report.reasons().begin(), report.reasons().end());
  const std::string signed_bytes = conformance::CanonicalBytes(report);
  out.report_digest = ops::ToHex(ops::Sha256Of(
      {ops::ByteSpan(reinterpret_cast<const uint8_t*>(signed_bytes.data()), signed_bytes.size())}));
  out.report = std::move(report);
  if (custom) return out;  // the caller's own class: the node's state is not its to set
  // Only the run holding the slot gets here, so saving outside mu_ cannot interleave
  // with another run's save.
  bool changed = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (out.admitted) {
      admitted_ = {out.report.class_name(), out.report_digest};
      changed = true;
    } else if (admitted_.class_name == out.report.class_name()) {
      // The node no longer demonstrates the class it claimed: stop claiming it.
      admitted_ = {};
      changed = true;
    }
  }
  if (changed) Save(out.admitted ? &out.report : nullptr);
  return out;
}

std::string AdmissionService::KeyDirFile(const char* name) const {
  return (std::filesystem::path(key_path_).parent_path() / name).string();
}

std::string AdmissionService::saved_report_path() const { return KeyDirFile(kLastAdmissionFile); }

void AdmissionService::SaveHistory() {
  // One writer at a time, each writing the latest history: an older copy never lands
  // after a newer one.
  std::lock_guard<std::mutex> save_lock(save_mu_);
  v1::AdmissionHistory file;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const RecheckRecord& r : history_) *file.add_rechecks() = RecheckToProto(r);
  }
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  auto st = google::protobuf::util::MessageToJsonString(file, &json, options);
  absl::Status s = st.ok() ? util::WriteFileAtomically(KeyDirFile(kRecheckHistoryFile), json)
                           : absl::InternalError(std::string(st.message()));
  if (!s.ok()) {
    spdlog::warn("could not save the admission re-check history ({}): it is lost at restart",
                 s.ToString());
  }
}

void AdmissionService::Save(const v1::AdmissionReport* report) {
  const std::string path = saved_report_path();
  std::error_code ec;
  if (report == nullptr) {
    std::filesystem::remove(path, ec);
    return;
  }
  auto json = conformance::ReportToJson(*report);
  absl::Status s = json.ok() ? util::WriteFileAtomically(path, *json) : json.status();
  if (!s.ok()) {
    spdlog::warn("could not save the admission report to {} ({}): it is lost at restart", path,
                 s.ToString());
  }
}

absl::Status AdmissionService::LoadSaved(const std::string& raw_public_key) {
  if (std::ifstream hin(KeyDirFile(kRecheckHistoryFile), std::ios::binary); hin) {
    std::string text((std::istreambuf_iterator<char>(hin)), std::istreambuf_iterator<char>());
    v1::AdmissionHistory file;
    if (auto st = google::protobuf::util::JsonStringToMessage(text, &file); st.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      history_.clear();
      for (const v1::AdmissionRecheck& p : file.rechecks()) history_.push_back(RecheckFromProto(p));
      if (history_.size() > kMaxRecheckHistory) {
        history_.erase(history_.begin(), history_.end() - kMaxRecheckHistory);
      }
    } else {
      spdlog::warn("ignoring the admission re-check history {}: {}",
                   KeyDirFile(kRecheckHistoryFile), std::string(st.message()));
    }
  }
  const std::string path = saved_report_path();
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::OkStatus();  // never admitted (or the last run of its class failed)
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSIGN_OR_RETURN(v1::AdmissionReport report, conformance::ReportFromJson(text));
  RETURN_IF_ERROR(conformance::VerifyReportSignature(report, raw_public_key));
  if (!report.admitted()) return absl::DataLossError(path + " holds a rejection");
  const std::string signed_bytes = conformance::CanonicalBytes(report);
  std::lock_guard<std::mutex> lock(mu_);
  admitted_ = {report.class_name(),
               ops::ToHex(ops::Sha256Of({ops::ByteSpan(
                   reinterpret_cast<const uint8_t*>(signed_bytes.data()), signed_bytes.size())}))};
  return absl::OkStatus();
}

AdmittedState AdmissionService::Admitted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return admitted_;
}

AdmissionService::~AdmissionService() { StopRechecks(); }

absl::StatusOr<RecheckRecord> AdmissionService::RecheckNow(const std::function<bool()>& cancelled,
                                                           RecheckTrigger trigger) {
  const AdmittedState admitted = Admitted();
  if (admitted.class_name.empty()) {
    return absl::FailedPreconditionError("the node holds no admitted class to re-check");
  }
  ASSIGN_OR_RETURN(Slot slot, Begin());
  uint8_t nonce[16];
  if (RAND_bytes(nonce, sizeof(nonce)) != 1) return absl::InternalError("RAND_bytes failed");
  AdmissionRequest request;
  request.class_name = admitted.class_name;
  request.profile = "quick";
  request.nonce_hex = util::HexEncode(nonce);
  RecheckRecord record;
  record.time = absl::Now();
  record.class_name = admitted.class_name;
  record.nonce_hex = request.nonce_hex;
  record.trigger = trigger;
  absl::StatusOr<AdmissionOutcome> outcome = Run(slot, request, nullptr, cancelled);
  if (!outcome.ok() && absl::IsCancelled(outcome.status())) return outcome.status();
  if (outcome.ok() && outcome->admitted) {
    record.passed = true;
    record.detail = outcome->report_digest;
  } else {
    record.detail = !outcome.ok()              ? outcome.status().ToString()
                    : outcome->reasons.empty() ? "rejected"
                                               : outcome->reasons.front();
  }
  // Run() already dropped the class on a rejection; a class that no longer loads is a
  // failure too: the node cannot show it still qualifies.
  Record(record);
  return record;
}

absl::StatusOr<std::vector<shim::PublicKey>> LoadSubnetKeys(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read the subnet key list ", path));
  std::vector<shim::PublicKey> keys;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const absl::string_view stripped = absl::StripAsciiWhitespace(line);
    const std::string_view text(stripped.data(), stripped.size());
    if (text.empty() || text.front() == '#') continue;
    absl::StatusOr<std::vector<uint8_t>> bytes = util::HexDecodeBytes(text);
    if (!bytes.ok() || bytes->size() != 32) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", number, ": not a 64-hex-digit Ed25519 public key"));
    }
    shim::PublicKey key;
    std::copy(bytes->begin(), bytes->end(), key.begin());
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", number, ": the key of node ",
                       std::find(keys.begin(), keys.end(), key) - keys.begin(), " again"));
    }
    keys.push_back(key);
  }
  return keys;
}

void AdmissionService::SetSubnetKeys(std::string path, std::string raw_public_key) {
  subnet_keys_path_ = std::move(path);
  raw_public_key_ = std::move(raw_public_key);
}

absl::StatusOr<RecheckRecord> AdmissionService::ReportFault(const shim::FaultEvidence& evidence) {
  if (subnet_keys_path_.empty()) {
    return absl::FailedPreconditionError(
        "no subnet_keys_path is configured: the daemon cannot check fault evidence without "
        "the subnet's public keys");
  }
  absl::StatusOr<std::vector<shim::PublicKey>> keys = LoadSubnetKeys(subnet_keys_path_);
  if (!keys.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("subnet keys: ", keys.status().message()));
  }
  uint32_t self = 0;
  while (self < keys->size() &&
         std::string_view(reinterpret_cast<const char*>((*keys)[self].data()), 32) !=
             raw_public_key_) {
    ++self;
  }
  if (self == keys->size()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "this node's key ", util::HexEncode(raw_public_key_), " is not in ", subnet_keys_path_));
  }
  RETURN_IF_ERROR(shim::CheckFaultEvidence(*keys, evidence));
  if (evidence.computing_node != self) {
    return absl::InvalidArgumentError(absl::StrCat("the evidence names node ",
                                                   evidence.computing_node, "; this node is ", self,
                                                   " in ", subnet_keys_path_));
  }
  const AdmittedState admitted = Admitted();
  if (admitted.class_name.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the evidence against this node (", shim::FaultSummary(evidence),
                     ") checks, but the node holds no admitted class to take"));
  }
  // The same evidence again (a replay, e.g. after the node was re-admitted) is refused: a
  // record acts once. Its call is recognized by the summary's "... on call <16 hex>" prefix
  // in the kept history (the last kMaxRecheckHistory entries).
  const std::string summary = shim::FaultSummary(evidence);
  const std::string call = summary.substr(0, summary.find(':'));
  for (const RecheckRecord& past : RecheckHistory()) {
    if (past.trigger == RecheckTrigger::kVerifiedFault && absl::StartsWith(past.detail, call)) {
      return absl::FailedPreconditionError(
          absl::StrCat("this fault evidence (", call, ") was already acted on at ",
                       absl::FormatTime(past.time, absl::UTCTimeZone()), "; a record evicts once"));
    }
  }
  RecheckRecord record;
  record.time = absl::Now();
  record.class_name = admitted.class_name;
  record.trigger = RecheckTrigger::kVerifiedFault;
  record.detail = summary;
  Record(record);
  return record;
}

void AdmissionService::Record(const RecheckRecord& record) {
  bool clear = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!record.passed && admitted_.class_name == record.class_name) {
      admitted_ = {};
      clear = true;
    }
    (record.passed ? rechecks_passed_ : rechecks_failed_) += 1;
    history_.push_back(record);
    if (history_.size() > kMaxRecheckHistory) history_.erase(history_.begin());
  }
  if (clear) Save(nullptr);
  SaveHistory();
  if (record.passed) {
    spdlog::info("admission re-check of class {} passed (report {})", record.class_name,
                 record.detail);
  } else {
    spdlog::warn("{} of class {} FAILED, the node is out of the class: {}",
                 record.trigger == RecheckTrigger::kVerifiedFault ? "fault evidence against node"
                                                                  : "admission re-check",
                 record.class_name, record.detail);
  }
}

void AdmissionService::Lapse(absl::Time due, absl::Duration period) {
  const AdmittedState admitted = Admitted();
  if (admitted.class_name.empty()) return;
  RecheckRecord record;
  record.time = absl::Now();
  record.class_name = admitted.class_name;
  record.trigger = RecheckTrigger::kSchedule;
  record.detail =
      absl::StrCat("lapsed: the re-check due at ", absl::FormatTime(due), " could not run for ",
                   absl::FormatDuration(period), " (another admission test held the node)");
  Record(record);
}

void AdmissionService::StartRechecks(absl::Duration interval, const std::string& raw_public_key) {
  if (interval <= absl::ZeroDuration() || recheck_thread_.joinable()) return;
  // A fixed fraction of a quarter interval, from the node key: spreads a subnet's
  // nodes without coordination, and keeps one node's period regular.
  auto digest = ops::Sha256Of({ops::ByteSpan(
      reinterpret_cast<const uint8_t*>(raw_public_key.data()), raw_public_key.size())});
  uint64_t h = 0;
  for (int i = 0; i < 8; ++i) h = h << 8 | digest[i];
  const absl::Duration offset = interval / 4 * (static_cast<double>(h >> 11) / 9007199254740992.0);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = false;
  }
  spdlog::info("admission re-checks every {} (node offset {})", absl::FormatDuration(interval),
               absl::FormatDuration(offset));
  recheck_thread_ = std::thread([this, interval, offset] { RecheckLoop(interval, offset); });
}

void AdmissionService::StopRechecks() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (recheck_thread_.joinable()) recheck_thread_.join();
}

void AdmissionService::RecheckLoop(absl::Duration period, absl::Duration offset) {
  // While another run holds the slot, try again after this long; a re-check that could
  // not run for a whole period after it was due has lapsed, which takes the node out of
  // its class as a failure does.
  const absl::Duration busy_retry = std::min(period, absl::Seconds(10));
  absl::Time due = absl::Now() + offset + period;
  absl::Time next = due;
  auto stopped = [this] {
    std::lock_guard<std::mutex> lock(mu_);
    return stop_;
  };
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      stop_cv_.wait_for(
          lock, absl::ToChronoNanoseconds(std::max(next - absl::Now(), absl::ZeroDuration())),
          [this] { return stop_; });
      if (stop_) return;
      if (absl::Now() < next) continue;  // spurious wake-up
    }
    absl::StatusOr<RecheckRecord> r = RecheckNow(stopped, RecheckTrigger::kSchedule);
    if (stopped()) return;
    if (!r.ok() && absl::IsResourceExhausted(r.status())) {
      if (absl::Now() - due < period) {
        next = absl::Now() + busy_retry;
        continue;
      }
      Lapse(due, period);
    }
    due += period;
    if (due < absl::Now()) due = absl::Now() + period;  // a run longer than the period
    next = due;
  }
}

std::vector<RecheckRecord> AdmissionService::RecheckHistory() const {
  std::lock_guard<std::mutex> lock(mu_);
  return history_;
}

std::string AdmissionService::RenderMetrics() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  absl::StrAppend(&out,
                  "# HELP datanode_admission_admitted 1 while the node holds an admitted "
                  "device class.\n# TYPE datanode_admission_admitted gauge\n");
  if (admitted_.class_name.empty()) {
    absl::StrAppend(&out, "datanode_admission_admitted 0\n");
  } else {
    // Class names are [a-z0-9_]+ (the loader checks), safe as a label value.
    absl::StrAppend(&out, "datanode_admission_admitted{class=\"", admitted_.class_name, "\"} 1\n");
  }
  absl::StrAppend(&out,
                  "# HELP datanode_admission_rechecks_total Scheduled re-checks of the "
                  "admitted class by result.\n# TYPE datanode_admission_rechecks_total "
                  "counter\n",
                  "datanode_admission_rechecks_total{result=\"passed\"} ", rechecks_passed_,
                  "\ndatanode_admission_rechecks_total{result=\"failed\"} ", rechecks_failed_,
                  "\n");
  if (!history_.empty()) {
    absl::StrAppend(&out,
                    "# HELP datanode_admission_last_recheck_timestamp_seconds When the last "
                    "re-check started.\n# TYPE datanode_admission_last_recheck_timestamp_seconds "
                    "gauge\ndatanode_admission_last_recheck_timestamp_seconds ",
                    absl::ToUnixSeconds(history_.back().time), "\n",
                    "# HELP datanode_admission_last_recheck_passed 1 if the last re-check "
                    "passed.\n# TYPE datanode_admission_last_recheck_passed gauge\n"
                    "datanode_admission_last_recheck_passed ",
                    history_.back().passed ? 1 : 0, "\n");
  }
  return out;
}

}  // namespace datanode::node
