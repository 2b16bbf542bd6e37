// Copyright 2026 The datanode Authors.
//
// RunAdmission: phase 1 (inventory) and the orchestration of phases 2 to 7.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "conformance/golden.h"
#include "conformance/nonce.h"
#include "conformance/phases.h"
#include "datanode/ops/digest.h"

#ifndef DATANODE_VERSION
#define DATANODE_VERSION "unknown"
#endif

namespace datanode::conformance {
namespace internal {

void Progress::Update(const std::string& phase, const std::string& text, bool force) {
  if (!enabled_ && !sink_) return;
  auto now = std::chrono::steady_clock::now();
  if (!force && now - last_ < std::chrono::seconds(1)) return;
  last_ = now;
  if (enabled_) std::cerr << "[" << phase << "] " << text << std::endl;
  if (sink_) sink_(phase, text);
}

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace internal

namespace {

using internal::PhaseContext;

const char* PhaseName(v1::Phase p) {
  switch (p) {
    case v1::PHASE_INVENTORY:
      return "inventory";
    case v1::PHASE_GOLDEN:
      return "golden";
    case v1::PHASE_CHALLENGE:
      return "challenge";
    case v1::PHASE_STABILITY:
      return "stability";
    case v1::PHASE_MEMORY:
      return "memory";
    case v1::PHASE_PERFORMANCE:
      return "performance";
    case v1::PHASE_STORAGE:
      return "storage";
    default:
      return "unknown";
  }
}

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "unknown";
}

std::string BinaryDigest() {
  std::ifstream in("/proc/self/exe", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return ops::ToHex(
      ops::Sha256Of({ops::ByteSpan(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size())}));
}

v1::PhaseResult InventoryPhase(PhaseContext& ctx, v1::DeviceInfo* info) {
  v1::PhaseResult r;
  info->set_backend(ctx.backend.Name());
  info->set_description(ctx.backend.Description());
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  info->set_host(host);
  info->set_cpu_model(CpuModel());
  info->set_cpu_count(static_cast<uint32_t>(::sysconf(_SC_NPROCESSORS_ONLN)));
  uint64_t mem_mib = static_cast<uint64_t>(::sysconf(_SC_PHYS_PAGES)) *
                         static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)) >>
                     20;
  info->set_memory_mib(mem_mib);
  for (ops::OpKind k : ops::kAllOpKinds) {
    if (ctx.backend.Supports(k)) info->add_supported_ops(ops::OpKindName(k));
  }
  for (const auto& b : ops::CompiledBackends()) info->add_compiled_backends(b);
  std::vector<std::string> problems;
  if (ctx.device_class.has_compute()) {
    const auto& c = ctx.device_class.compute();
    std::string backend = ctx.backend.Name();
    if (std::find(c.allowed_backends().begin(), c.allowed_backends().end(), backend) ==
        c.allowed_backends().end()) {
      problems.push_back(absl::StrCat("backend ", backend, " is not allowed (",
                                      absl::StrJoin(c.allowed_backends(), ", "), ")"));
    }
    for (ops::OpKind k : ctx.required_ops) {
      if (!ctx.backend.Supports(k))
        problems.push_back(absl::StrCat("missing op ", ops::OpKindName(k)));
    }
    // Device memory as the backend reports it (host RAM for CPU backends; device-local
    // heaps / global memory for GPUs). The memory phase then exercises it.
    const int64_t device_mib = ctx.backend.DeviceMemoryBytes() >> 20;
    if (device_mib > 0) {
      (*r.mutable_figures())["memory_mib"] = static_cast<double>(device_mib);
    } else {
      problems.push_back("the backend does not report its device memory");
    }
  }
  (*r.mutable_figures())["cpu_count"] = info->cpu_count();
  if (!problems.empty()) {
    r.set_disposition(v1::DISPOSITION_FAILED);
    r.set_reason(absl::StrJoin(problems, "; "));
  } else {
    r.set_disposition(v1::DISPOSITION_PASSED);
    r.set_reason(absl::StrCat(ctx.backend.Name(), ": ", ctx.backend.Description()));
  }
  return r;
}

std::string NowRfc3339() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

}  // namespace

const char* DispositionName(v1::Disposition d) {
  switch (d) {
    case v1::DISPOSITION_PASSED:
      return "Passed";
    case v1::DISPOSITION_FAILED:
      return "Failed";
    case v1::DISPOSITION_INCORRECT:
      return "Incorrect";
    case v1::DISPOSITION_NOT_SUPPORTED:
      return "NotSupported";
    case v1::DISPOSITION_NOT_RUN:
      return "NotRun";
    default:
      return "Unspecified";
  }
}

std::vector<ops::OpKind> RequiredOps(const v1::DeviceClass& device_class) {
  std::vector<ops::OpKind> out;
  for (const auto& name : device_class.compute().required_ops()) {
    if (auto k = ops::OpKindFromName(name); k.ok()) out.push_back(*k);
  }
  return out;
}

std::vector<ChallengeCase> ChallengeCases(const v1::ComputeRequirements& compute,
                                          const std::vector<ops::OpKind>& ops, uint32_t count,
                                          const std::vector<uint8_t>& nonce) {
  std::vector<ChallengeCase> out;
  const auto& s = compute.canonical_shape();
  const int64_t cap[3] = {std::min<int64_t>(s.m(), 256), std::min<int64_t>(s.n(), 256),
                          std::min<int64_t>(s.k(), 512)};
  constexpr size_t kProfiles = std::size(kAllChallengeProfiles);
  const size_t first_profile = DeriveSeed(nonce, "profiles") % kProfiles;
  for (size_t op_index = 0; op_index < ops.size(); ++op_index) {
    const ops::OpKind kind = ops[op_index];
    std::string op = ops::OpKindName(kind);
    ops::SplitMix64 shape_rng(DeriveSeed(nonce, absl::StrCat("shape/", op)));
    int64_t dim[3];
    for (int d = 0; d < 3; ++d)
      dim[d] = shape_rng.Uniform(std::max<int64_t>(1, cap[d] / 2), cap[d]);
    bool blocks = kind != ops::OpKind::kMatMulS8S32 && kind != ops::OpKind::kMatMulS8F32 &&
                  kind != ops::OpKind::kQuantizeS8Row;
    if (blocks) dim[2] = (dim[2] + ops::kQBlockSize - 1) / ops::kQBlockSize * ops::kQBlockSize;
    if (ops::IsQuantize(kind)) dim[1] = 0;
    for (uint32_t i = 0; i < count; ++i) {
      ChallengeCase c;
      c.label = absl::StrCat("challenge/", op, "/", i);
      c.kind = kind;
      c.m = dim[0];
      c.n = dim[1];
      c.k = dim[2];
      c.seed = DeriveSeed(nonce, c.label);
      c.profile = kAllChallengeProfiles[(first_profile + op_index + i) % kProfiles];
      out.push_back(std::move(c));
    }
  }
  return out;
}

absl::StatusOr<v1::AdmissionReport> RunAdmission(ops::Backend& backend,
                                                 const device_classes::LoadedClass& loaded,
                                                 const RunOptions& options) {
  auto nonce = ParseNonceHex(options.nonce_hex);
  if (!nonce.ok()) return nonce.status();
  const v1::DeviceClass& cls = loaded.device_class;
  const RunOptions& opts = options;

  v1::AdmissionReport report;
  report.set_report_version(kReportVersion);
  report.set_software_version(absl::StrCat("datanode ", DATANODE_VERSION));
  report.set_spec_version(ops::kSpecVersion);
  report.set_binary_digest(BinaryDigest());
  report.set_golden_digest(CompiledGoldenDigest());
  report.set_class_name(cls.name());
  report.set_class_digest(loaded.digest_hex);
  report.set_profile(opts.profile_name);
  report.set_nonce(opts.nonce_hex);
  report.set_started_at(NowRfc3339());

  internal::Progress progress(opts.progress, opts.on_progress);
  PhaseContext ctx{backend, cls, opts.profile, *nonce, opts, progress, RequiredOps(cls)};
  auto start = std::chrono::steady_clock::now();
  using PhaseFn = v1::PhaseResult (*)(PhaseContext&);
  struct Step {
    v1::Phase phase;
    PhaseFn fn;
    bool needed;
  };
  const Step steps[] = {
      {v1::PHASE_GOLDEN, internal::GoldenPhase, cls.has_compute()},
      {v1::PHASE_CHALLENGE, internal::ChallengePhase, cls.has_compute()},
      {v1::PHASE_STABILITY, internal::StabilityPhase, cls.has_compute()},
      {v1::PHASE_MEMORY, internal::MemoryPhase, cls.has_compute()},
      {v1::PHASE_PERFORMANCE, internal::PerformancePhase, cls.has_compute()},
      {v1::PHASE_STORAGE, internal::StoragePhase, cls.has_storage()},
  };
  auto finish = [&](v1::PhaseResult r, v1::Phase phase, std::chrono::steady_clock::time_point t0) {
    r.set_phase(phase);
    r.set_name(PhaseName(phase));
    r.set_seconds(internal::SecondsSince(t0));
    if (r.disposition() == v1::DISPOSITION_PASSED) {
      auto violations = internal::ThresholdViolations(cls, r);
      if (!violations.empty()) {
        r.set_disposition(v1::DISPOSITION_FAILED);
        r.set_reason(absl::StrJoin(violations, "; "));
      }
    }
    progress.Update(r.name(), absl::StrCat(DispositionName(r.disposition()), ": ", r.reason()),
                    true);
    *report.add_phases() = std::move(r);
  };
  auto t0 = std::chrono::steady_clock::now();
  finish(InventoryPhase(ctx, report.mutable_device()), v1::PHASE_INVENTORY, t0);
  for (const Step& step : steps) {
    t0 = std::chrono::steady_clock::now();
    v1::PhaseResult r;
    if (step.needed) {
      progress.Update(PhaseName(step.phase), "starting", true);
      r = step.fn(ctx);
      // A phase cut short by cancellation has meaningless figures: no report at all.
      if (ctx.Cancelled()) {
        return absl::CancelledError(
            absl::StrCat("admission cancelled during the ", PhaseName(step.phase), " phase"));
      }
    } else {
      r.set_disposition(v1::DISPOSITION_NOT_SUPPORTED);
      r.set_reason(absl::StrCat("class ", cls.name(), " does not require this phase"));
    }
    finish(std::move(r), step.phase, t0);
  }
  report.set_total_seconds(internal::SecondsSince(start));
  Verdict verdict = EvaluateReport(cls, report);
  report.set_admitted(verdict.admitted);
  for (auto& reason : verdict.reasons) report.add_reasons(reason);
  return report;
}

}  // namespace datanode::conformance
