// Copyright 2026 The datanode Authors.
//
// Thresholds (shared by the runner and verify) and report verification.
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "conformance/golden.h"
#include "conformance/llm_challenges.h"
#include "conformance/nonce.h"
#include "conformance/phases.h"
#include "conformance/report.h"
#include "conformance/store_view.h"
#include "datanode/ops/digest.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/reference.h"

namespace datanode::conformance {
namespace internal {
namespace {

// Appends a violation unless figure `name` satisfies `ok(value)`.
template <typename Pred>
void Need(const v1::PhaseResult& p, const char* name, Pred ok, const std::string& rule,
          std::vector<std::string>* out) {
  auto it = p.figures().find(name);
  if (it == p.figures().end()) {
    out->push_back(absl::StrCat(p.name(), ": figure ", name, " is missing"));
  } else if (!ok(it->second)) {
    out->push_back(
        absl::StrFormat("%s: %s = %.4g, class requires %s", p.name(), name, it->second, rule));
  }
}

}  // namespace

std::vector<std::string> ThresholdViolations(const v1::DeviceClass& cls, const v1::PhaseResult& p) {
  std::vector<std::string> out;
  const auto& c = cls.compute();
  const auto& s = cls.storage();
  auto at_least = [&](const char* name, double min) {
    Need(
        p, name, [min](double v) { return v >= min; }, absl::StrFormat(">= %g", min), &out);
  };
  auto at_most = [&](const char* name, double max) {
    Need(
        p, name, [max](double v) { return v <= max; }, absl::StrFormat("<= %g", max), &out);
  };
  switch (p.phase()) {
    case v1::PHASE_INVENTORY:
      if (cls.has_compute()) at_least("memory_mib", static_cast<double>(c.min_device_memory_mib()));
      break;
    case v1::PHASE_CHALLENGE:
      at_most("max_challenge_seconds", c.max_challenge_seconds());
      break;
    case v1::PHASE_MEMORY:
      at_least("bandwidth_gbps", c.min_memory_bandwidth_gbps());
      break;
    case v1::PHASE_PERFORMANCE:
      at_least("s8_gops", c.min_s8_gops());
      at_most("repeat_speedup", c.max_repeat_speedup());
      break;
    case v1::PHASE_STORAGE:
      at_least("capacity_gib", s.min_capacity_gib());
      at_least("write_mbps", s.min_seq_write_mbps());
      at_least("read_mbps", s.min_seq_read_mbps());
      at_most("fsync_median_ms", s.max_fsync_latency_ms());
      at_most("proof_max_ms", s.max_proof_response_ms());
      break;
    default:
      break;
  }
  return out;
}

}  // namespace internal

Verdict EvaluateReport(const v1::DeviceClass& cls, const v1::AdmissionReport& report) {
  Verdict v;
  std::vector<v1::Phase> required = {v1::PHASE_INVENTORY};
  if (cls.has_compute()) {
    for (auto p : {v1::PHASE_GOLDEN, v1::PHASE_CHALLENGE, v1::PHASE_STABILITY, v1::PHASE_MEMORY,
                   v1::PHASE_PERFORMANCE}) {
      required.push_back(p);
    }
  }
  if (cls.has_storage()) required.push_back(v1::PHASE_STORAGE);
  std::map<int, const v1::PhaseResult*> by_phase;
  for (const auto& p : report.phases()) by_phase[p.phase()] = &p;
  for (v1::Phase phase : required) {
    auto it = by_phase.find(phase);
    if (it == by_phase.end()) {
      v.reasons.push_back(absl::StrCat("phase ", v1::Phase_Name(phase), " is missing"));
      continue;
    }
    const v1::PhaseResult& p = *it->second;
    if (p.disposition() != v1::DISPOSITION_PASSED) {
      v.reasons.push_back(
          absl::StrCat(p.name(), ": ", DispositionName(p.disposition()), ": ", p.reason()));
      continue;
    }
    for (auto& violation : internal::ThresholdViolations(cls, p)) v.reasons.push_back(violation);
  }
  if (cls.has_compute()) {
    const auto& allowed = cls.compute().allowed_backends();
    if (std::find(allowed.begin(), allowed.end(), report.device().backend()) == allowed.end()) {
      v.reasons.push_back(
          absl::StrCat("backend \"", report.device().backend(), "\" is not allowed"));
    }
    const auto& have = report.device().supported_ops();
    for (const auto& op : cls.compute().required_ops()) {
      if (std::find(have.begin(), have.end(), op) == have.end()) {
        v.reasons.push_back(absl::StrCat("required op ", op, " is not supported"));
      }
    }
  }
  if (report.spec_version() != cls.spec_version()) {
    v.reasons.push_back(absl::StrCat("spec version ", report.spec_version(), ", class requires ",
                                     cls.spec_version()));
  }
  v.admitted = v.reasons.empty();
  return v;
}

namespace {

// Recomputes every challenge the class demands from the nonce alone and compares the
// report's output digests. Returns reasons (empty = all match).
std::vector<std::string> RecomputeChallenges(const v1::AdmissionReport& report,
                                             const v1::DeviceClass& cls,
                                             const std::vector<uint8_t>& nonce) {
  std::vector<std::string> out;
  const v1::PhaseResult* phase = nullptr;
  for (const auto& p : report.phases()) {
    if (p.phase() == v1::PHASE_CHALLENGE) phase = &p;
  }
  if (phase == nullptr) return {"no challenge phase to recompute"};
  std::map<std::string, const v1::ChallengeRecord*> records;
  for (const auto& c : phase->challenges()) records[c.label()] = &c;
  // The report's record of a challenge the nonce demands, at the demanded shape; nullptr
  // (with the reason in `out`) when it is missing or ran at another shape.
  auto record_of = [&](const std::string& label, int64_t m, int64_t n,
                       int64_t k) -> const v1::ChallengeRecord* {
    auto it = records.find(label);
    if (it == records.end()) {
      out.push_back(absl::StrCat("challenge ", label, " is missing from the report"));
      return nullptr;
    }
    const v1::ChallengeRecord& rec = *it->second;
    if (rec.m() != m || rec.n() != n || rec.k() != k) {
      out.push_back(
          absl::StrCat("challenge ", label, " ran at another shape than the nonce demands"));
      return nullptr;
    }
    return &rec;
  };
  // The verifier's own trusted backends: the CPU backend where it supports the op (it
  // passed its golden self-test on creation), else the reference.
  std::unique_ptr<ops::Backend> reference = ops::reference::CreateReferenceBackend();
  std::unique_ptr<ops::Backend> cpu;
  if (auto b = ops::CreateBackend("cpu"); b.ok()) cpu = std::move(*b);
  // Which profile ran is not trusted: the challenge count must be at least the
  // quick profile's.
  uint32_t count = cls.quick().challenge_count();
  if (report.profile() == "full") count = cls.full().challenge_count();
  for (const ChallengeCase& c : ChallengeCases(cls.compute(), RequiredOps(cls), count, nonce)) {
    const v1::ChallengeRecord* found = record_of(c.label, c.m, c.n, c.k);
    if (found == nullptr) continue;
    const v1::ChallengeRecord& rec = *found;
    auto in = MakeChallengeInputs(c.kind, c.m, c.n, c.k, c.seed, c.profile);
    if (!in.ok()) {
      out.push_back(std::string(in.status().message()));
      continue;
    }
    ops::OpArgs args = in->Args();
    ops::Backend& backend = cpu != nullptr && cpu->Supports(c.kind) ? *cpu : *reference;
    if (!ops::RunOp(backend, args).ok() || ops::OutputDigestHex(args) != rec.output_digest()) {
      out.push_back(absl::StrCat("challenge ", c.label, ": reported output digest is wrong"));
    }
  }
  const ops::llm::Kernels& kernels =
      cpu != nullptr ? cpu->LlmKernels() : ops::llm::ReferenceKernels();
  for (const LlmChallenge& c : LlmChallengeCases(count, nonce)) {
    const v1::ChallengeRecord* found = record_of(c.label, c.m, c.n, c.k);
    if (found == nullptr) continue;
    const v1::ChallengeRecord& rec = *found;
    absl::StatusOr<std::string> want = RunLlmChallenge(kernels, c);
    if (!want.ok() || LlmChallengeDigest(*want) != rec.output_digest()) {
      out.push_back(absl::StrCat("challenge ", c.label, ": reported output digest is wrong"));
    }
  }
  return out;
}

// Rechecks the proofs of storage: each must challenge the model, chunk and range the
// nonce chose (ProofModelIndex, DeriveProofTarget), every index once and, for a passed
// phase, all `proof_challenges` of the profile. With `models` (the verifier's copy of
// the expected models) the targets are re-derived from its objects and the answers
// recomputed from its bytes; without it only the model of each proof is checked.
std::vector<std::string> RecheckProofs(const v1::AdmissionReport& report,
                                       const v1::DeviceClass& cls,
                                       const std::vector<uint8_t>& nonce, const StoreView* models) {
  std::vector<std::string> out;
  const auto& expected = cls.storage().expected_models();
  for (const auto& p : report.phases()) {
    if (p.phase() != v1::PHASE_STORAGE) continue;
    auto settings = device_classes::ProfileSettingsFor(cls, report.profile());
    if (settings.ok() && p.disposition() == v1::DISPOSITION_PASSED &&
        static_cast<uint32_t>(p.proofs_size()) != settings->proof_challenges()) {
      out.push_back(absl::StrCat("storage: ", p.proofs_size(), " proofs, the profile asks for ",
                                 settings->proof_challenges()));
    }
    std::set<uint32_t> seen;
    for (const auto& proof : p.proofs()) {
      const std::string tag = absl::StrCat("proof ", proof.index());
      if (!seen.insert(proof.index()).second) {
        out.push_back(absl::StrCat(tag, " appears twice"));
        continue;
      }
      if (expected.empty()) {
        out.push_back(absl::StrCat(tag, ": the class expects no models"));
        continue;
      }
      const std::string& model =
          expected[internal::ProofModelIndex(nonce, proof.index(), expected.size())];
      if (proof.model() != model) {
        out.push_back(
            absl::StrCat(tag, " challenges model ", proof.model(), ", the nonce chose ", model));
        continue;
      }
      if (models == nullptr) continue;
      auto digest = node::ParseDigestHex(model);
      auto object = digest.ok() ? models->ModelObject(*digest) : digest.status();
      if (!object.ok()) {
        out.push_back(absl::StrCat(tag, ": the verifier's copy: ", object.status().message()));
        continue;
      }
      const internal::ProofTarget t =
          internal::DeriveProofTarget(nonce, proof.index(), object->size);
      if (proof.chunk_index() != static_cast<uint64_t>(t.chunk_index) ||
          proof.offset() != static_cast<uint64_t>(t.offset) ||
          proof.length() != static_cast<uint64_t>(t.length) ||
          proof.chunk() != ops::ToHex(object->chunks[t.chunk_index])) {
        out.push_back(absl::StrCat(tag, " challenges another range than the nonce chose"));
        continue;
      }
      std::vector<uint8_t> bytes;
      absl::Status st = models->ReadRange(
          object->digest, t.chunk_index * node::kChunkBytes + t.offset, t.length, &bytes);
      if (!st.ok()) {
        out.push_back(absl::StrCat(tag, ": the verifier's copy: ", st.message()));
      } else if (internal::ProofAnswer(nonce, proof.index(), bytes) != proof.answer()) {
        out.push_back(absl::StrCat(tag, ": answer is wrong (chunk ", proof.chunk(), " of model ",
                                   model, ")"));
      }
    }
  }
  return out;
}

}  // namespace

Verdict VerifyReport(const v1::AdmissionReport& report, const device_classes::LoadedClass& loaded,
                     const std::string& nonce_hex, const std::string& raw_public_key,
                     const VerifyOptions& options) {
  Verdict v;
  if (absl::Status st = VerifyReportSignature(report, raw_public_key); !st.ok()) {
    v.reasons.push_back(std::string(st.message()));
    return v;  // nothing else in an unauthenticated report is worth reading
  }
  auto nonce = ParseNonceHex(nonce_hex);
  if (!nonce.ok()) {
    v.reasons.push_back(std::string(nonce.status().message()));
    return v;
  }
  if (report.nonce() != nonce_hex) {
    v.reasons.push_back(absl::StrCat("report answers nonce ", report.nonce(), ", not ", nonce_hex));
    return v;
  }
  const v1::DeviceClass& cls = loaded.device_class;
  if (report.class_name() != cls.name()) {
    v.reasons.push_back(
        absl::StrCat("report is for class ", report.class_name(), ", not ", cls.name()));
  }
  if (report.class_digest() != loaded.digest_hex) {
    v.reasons.push_back("report was produced against another version of the class file");
  }
  if (report.golden_digest() != CompiledGoldenDigest()) {
    v.reasons.push_back("report ran other golden vectors than this build's");
  }
  if (report.profile() != "quick" && report.profile() != "full") {
    v.reasons.push_back(absl::StrCat("profile \"", report.profile(), "\" is not quick or full"));
  }
  Verdict eval = EvaluateReport(cls, report);
  v.reasons.insert(v.reasons.end(), eval.reasons.begin(), eval.reasons.end());
  if (options.recompute && cls.has_compute()) {
    auto r = RecomputeChallenges(report, cls, *nonce);
    v.reasons.insert(v.reasons.end(), r.begin(), r.end());
  }
  if (options.recompute && cls.has_storage()) {
    auto r = RecheckProofs(report, cls, *nonce, options.models);
    v.reasons.insert(v.reasons.end(), r.begin(), r.end());
  }
  v.admitted = v.reasons.empty();
  return v;
}

}  // namespace datanode::conformance
