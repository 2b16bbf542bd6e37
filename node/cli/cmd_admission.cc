// Copyright 2026 The datanode Authors.
//
// dnctl admission: the admission test run inside the daemon (RunAdmission RPC).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "conformance/conformance.h"
#include "conformance/report.h"
#include "datanode/v1/admission_service.grpc.pb.h"
#include "node/cli/dnctl_command.h"

ABSL_FLAG(std::string, class, "", "admission: class name or local class file");
ABSL_FLAG(std::string, nonce, "", "admission: the verifier's nonce, 16..128 hex digits");
ABSL_FLAG(std::string, profile, "quick", "admission: quick or full");
ABSL_FLAG(std::string, backend, "", "admission: backend under test (default: the serving one)");

namespace datanode::node::dnctl {
namespace {

constexpr char kAdmissionHelp[] =
    R"(usage: dnctl [--socket PATH] [--json] admission --class NAME|FILE --nonce HEX
                   [--profile quick|full] [--backend NAME] [--out REPORT.json]

Runs the standardized admission test inside datanoded (RunAdmission RPC) and writes the
report, signed with the node's key (datanoded's node_key_path), as JSON.

  --class NAME|FILE  a class name (mini_pc, gpu, tpu, storage) looked up in the daemon's
                     class directories, or a class file on this machine (a path, or a name
                     ending in .textproto), sent to the daemon as text
  --nonce HEX        the verifier's nonce, 16..128 hex digits
  --profile P        quick (default; under a minute on a small CPU) or full
  --backend NAME     backend under test (default: the one the daemon serves with)
  --out FILE         report path (default admission-<class>-<first 8 nonce digits>.json)

Progress goes to stderr; the verdict, the report digest and the report path to stdout
(--json: the result without the report as JSON). One admission runs at a time per
daemon (RESOURCE_EXHAUSTED otherwise); Ctrl-C cancels it. Check the report with
`dn-conformance verify --report FILE --class ... --nonce HEX --pubkey <node key>.pub.pem`.
Exit codes: 0 admitted, 1 rejected, 2 usage or errors (RPC, I/O).
)";

// Reads a local class file for --class given as a path; NOT a name.
bool IsClassPath(const std::string& arg) {
  return arg.find('/') != std::string::npos || arg.ends_with(".textproto");
}

int Admission(const Invocation& in) {
  v1::Admission::Stub stub(in.channel);
  auto usage = [](const std::string& why) {
    std::fprintf(stderr, "dnctl admission: %s\n\n%s", why.c_str(), kAdmissionHelp);
    return 2;
  };
  const std::string cls = absl::GetFlag(FLAGS_class), nonce = absl::GetFlag(FLAGS_nonce);
  if (cls.empty()) return usage("--class is required");
  if (nonce.empty()) return usage("--nonce is required");
  v1::RunAdmissionRequest req;
  std::string class_label = cls;
  if (IsClassPath(cls)) {
    std::ifstream f(cls, std::ios::binary);
    if (!f) return Fail("cannot read class file " + cls), 2;
    req.set_class_text(std::string(std::istreambuf_iterator<char>(f), {}));
    class_label = std::filesystem::path(cls).stem().string();
  } else {
    req.set_class_name(cls);
  }
  req.set_nonce_hex(nonce);
  const std::string profile = absl::GetFlag(FLAGS_profile);
  if (profile == "quick") {
    req.set_profile(v1::ADMISSION_PROFILE_QUICK);
  } else if (profile == "full") {
    req.set_profile(v1::ADMISSION_PROFILE_FULL);
  } else {
    return usage("--profile must be quick or full");
  }
  req.set_backend(absl::GetFlag(FLAGS_backend));
  const std::string out =
      absl::GetFlag(FLAGS_out).empty()
          ? absl::StrCat("admission-", class_label, "-", nonce.substr(0, 8), ".json")
          : absl::GetFlag(FLAGS_out);

  // No deadline: a full profile runs for minutes. Ctrl-C closes the connection, which
  // the daemon sees as a cancellation and stops the run.
  grpc::ClientContext ctx;
  auto reader = stub.RunAdmission(&ctx, req);
  v1::RunAdmissionResponse msg;
  v1::AdmissionResult result;
  bool have_result = false;
  while (reader->Read(&msg)) {
    if (msg.has_progress()) {
      const auto& p = msg.progress();
      std::string phase = p.phase() == v1::PHASE_UNSPECIFIED
                              ? "admission"
                              : absl::AsciiStrToLower(v1::Phase_Name(p.phase()).substr(6));
      std::fprintf(stderr, "[%6.1f s] [%s] %s\n", p.elapsed_seconds(), phase.c_str(),
                   p.text().c_str());
    } else if (msg.has_result()) {
      result = std::move(*msg.mutable_result());
      have_result = true;
    }
  }
  grpc::Status st = reader->Finish();
  if (!st.ok()) return FailRpc(st), 2;
  if (!have_result) return Fail("the daemon ended the call without a result"), 2;

  auto json = conformance::ReportToJson(result.report());
  if (!json.ok()) return Fail(json.status()), 2;
  const std::string tmp = out + ".partial";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << *json;
    if (!f.flush()) return Fail("cannot write " + tmp), 2;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, out, ec);
  if (ec) return Fail(absl::StrCat("cannot write ", out, ": ", ec.message())), 2;

  if (in.json) {
    result.clear_report();
    PrintJson(result);
  } else {
    for (const auto& p : result.report().phases()) {
      std::printf("%-12s %-13s %8.2f  %s\n", p.name().c_str(),
                  conformance::DispositionName(p.disposition()), p.seconds(), p.reason().c_str());
    }
    std::printf("VERDICT: %s class %s\n", result.admitted() ? "ADMITTED to" : "REJECTED from",
                result.report().class_name().c_str());
    for (const auto& r : result.reasons()) std::printf("  - %s\n", r.c_str());
    if (result.custom_class()) {
      std::printf(
          "custom class: not the operator's class file of that name, so the node's "
          "admitted class is unchanged\n");
    }
    std::printf("report_digest %s\nreport: %s\n", result.report_digest().c_str(),
                Absolute(out).c_str());
  }
  return result.admitted() ? 0 : 1;
}

// One history line: time (UTC), class, verdict, trigger, nonce, detail.
void PrintRecheck(const v1::AdmissionRecheck& r) {
  std::printf("%s  %-12s %-7s %-8s nonce %s  %s\n",
              absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(r.time_unix_ms()),
                               absl::UTCTimeZone())
                  .c_str(),
              r.class_name().c_str(), r.passed() ? "passed" : "FAILED",
              r.trigger() == v1::RECHECK_TRIGGER_REQUEST ? "request" : "schedule",
              r.nonce_hex().c_str(), r.detail().c_str());
}

int Recheck(const Invocation& in) {
  v1::Admission::Stub stub(in.channel);
  grpc::ClientContext ctx;  // no deadline: the quick profile of the admitted class
  v1::RecheckAdmissionResponse resp;
  grpc::Status st = stub.RecheckAdmission(&ctx, {}, &resp);
  if (!st.ok()) return FailRpc(st), 2;
  if (in.json) {
    PrintJson(resp);
  } else {
    PrintRecheck(resp.recheck());
    std::printf("admitted_class %s\n",
                resp.admitted_class().empty() ? "(none)" : resp.admitted_class().c_str());
  }
  return resp.recheck().passed() ? 0 : 1;
}

int History(const Invocation& in) {
  v1::Admission::Stub stub(in.channel);
  grpc::ClientContext ctx;
  v1::AdmissionHistory history;
  grpc::Status st = stub.GetAdmissionHistory(&ctx, {}, &history);
  if (!st.ok()) return FailRpc(st), 2;
  if (in.json) {
    PrintJson(history);
  } else {
    for (const auto& r : history.rechecks()) PrintRecheck(r);
  }
  return 0;
}

}  // namespace

std::vector<Command> AdmissionCommands() {
  return {
      {"admission",
       "",
       0,
       "run the admission test on the node",
       {"class", "nonce", "profile", "backend", "out"},
       true,
       Admission,
       kAdmissionHelp},
      {"admission-recheck",
       "",
       0,
       "re-check the admitted class now (fresh nonce; a failure evicts the node); exit 0 "
       "passed, 1 failed",
       {},
       true,
       Recheck},
      {"admission-history",
       "",
       0,
       "the kept re-checks of the admitted class, oldest first",
       {},
       true,
       History},
  };
}

}  // namespace datanode::node::dnctl
