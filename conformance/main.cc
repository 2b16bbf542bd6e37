// Copyright 2026 The datanode Authors.
//
// dn-conformance: the admission test a node operator runs, and the verifier a subnet
// admin runs. See docs/admission.md and `dn-conformance --help`.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "conformance/conformance.h"
#include "conformance/golden.h"
#include "conformance/report.h"
#include "conformance/store_view.h"
#include "datanode/ops/backend.h"
#include "datanode/util/ed25519.h"
#include "device_classes/device_class_loader.h"
#include "node/cli/flags.h"

ABSL_FLAG(std::string, class, "", "device class file or name");
ABSL_FLAG(std::string, nonce, "", "the verifier's nonce (hex)");
ABSL_FLAG(std::string, profile, "quick", "quick or full");
ABSL_FLAG(std::string, backend, "", "backend under test");
ABSL_FLAG(int32_t, threads, 0, "worker threads for CPU backends (0: all cores)");
ABSL_FLAG(std::string, key, "dn-node-key.pem", "node Ed25519 private key");
ABSL_FLAG(std::string, out, "", "output path");
ABSL_FLAG(std::string, store_dir, "",
          "weight store directory (the node's; for verify: the admin's copy of the models)");
ABSL_FLAG(bool, quiet, false, "no progress lines");
ABSL_FLAG(std::string, report, "", "report JSON");
ABSL_FLAG(std::string, pubkey, "", "the node's Ed25519 public key");
ABSL_FLAG(bool, no_recompute, false, "skip recomputing challenges and storage proofs");
ABSL_FLAG(std::string, pub, "", "public key path");
ABSL_FLAG(std::string, write, "", "golden file to write");
ABSL_FLAG(bool, check, false, "compare the golden vectors with the reference");

namespace {

namespace dn = datanode;
namespace conf = datanode::conformance;
namespace dc = datanode::device_classes;

constexpr char kUsage[] = R"(dn-conformance: standardized admission test for data nodes.

Usage:
  dn-conformance run --class <file|name> --nonce <hex> [--profile quick|full]
                     [--backend <name>] [--threads <n>] [--key <pem>] [--out <report.json>]
                     [--store-dir <dir>] [--quiet]
  dn-conformance verify --report <report.json> --class <file|name> --nonce <hex>
                        --pubkey <pem> [--store-dir <dir>] [--no-recompute]
  dn-conformance keygen --out <key.pem> [--pub <key.pub.pem>]
  dn-conformance classes [dir]
  dn-conformance golden (--write <file> | --check)
  dn-conformance <command> --help

Exit codes: 0 admitted / accepted / valid, 1 rejected / refused / invalid, 2 usage or
I/O error. Class names are looked up in $DATANODE_CLASS_DIR, /etc/datanode/device_classes
and the source tree's device_classes/.
)";

constexpr char kRunHelp[] = R"(dn-conformance run: run the admission test and write a signed report.

  --class <file|name>   device class file, or a class name (mini_pc, gpu, tpu, storage)
  --nonce <hex>         the verifier's nonce (16..128 hex digits); challenges derive from it
  --profile quick|full  quick: a sanity run (< 1 min on a small CPU); full: what admins
                        accept (default quick)
  --backend <name>      backend under test (default: cpu if compiled in)
  --threads <n>         worker threads for CPU backends (default: all cores)
  --key <pem>           node Ed25519 private key (default dn-node-key.pem; created with a
                        .pub.pem beside it when missing)
  --out <file>          report path (default admission-<class>-<nonce prefix>.json)
  --store-dir <dir>     the node's weight store (datanoded's store_root), for classes
                        with a storage section: the figures describe its filesystem and
                        the proofs read the class's expected models from it. Not while
                        datanoded runs on it (use `dnctl admission` then)
  --quiet               no progress lines on stderr
Prints every phase's disposition, the verdict and the report path. Exit 0 if admitted.
)";

constexpr char kVerifyHelp[] = R"(dn-conformance verify: check a report and decide admission.

  --report <file>       report JSON written by `run`
  --class <file|name>   the class file the admin publishes (its digest must match)
  --nonce <hex>         the nonce the admin issued for this run
  --pubkey <pem>        the node's registered Ed25519 public key
  --store-dir <dir>     a weight store holding the admin's copy of the class's expected
                        models: each proof's range and answer are recomputed from it
                        (without it, only each proof's model is checked)
  --no-recompute        skip recomputing challenges and storage proofs from the nonce
Prints ADMIT or REJECT with every reason. Exit 0 on ADMIT, 1 on REJECT.
)";

constexpr char kKeygenHelp[] = R"(dn-conformance keygen: create the node's Ed25519 key pair.

  --out <key.pem>       private key (PKCS#8 PEM, mode 0600; never overwritten)
  --pub <pub.pem>       public key (default: <out without .pem>.pub.pem)
)";

constexpr char kClassesHelp[] = R"(dn-conformance classes [dir]: list and validate class files.

Validates every *.textproto in dir (default: the class search directories) and prints
each class or every error with its file:line:column. Exit 1 if any file is invalid.
)";

constexpr char kGoldenHelp[] = R"(dn-conformance golden: maintain the golden vectors.

  --write <file>   regenerate the golden file on the reference backend (spec changes only)
  --check          regenerate in memory and compare with the compiled-in file
)";

struct Args {
  std::map<std::string, std::string> flags;
  std::vector<std::string> positional;
};

// The flags, parsed by absl (node/cli/flags.h); each command accepts its own.
std::vector<std::string_view> FlagsOf(const std::string& cmd) {
  if (cmd == "run") {
    return {"class", "nonce", "profile", "backend", "threads", "key", "out", "store_dir", "quiet"};
  }
  if (cmd == "verify") return {"report", "class", "nonce", "pubkey", "store_dir", "no_recompute"};
  if (cmd == "keygen") return {"out", "pub"};
  if (cmd == "golden") return {"write", "check"};
  return {};
}

// Fills `out` with the flags given (dashed names; booleans "1" when true) and the
// positional arguments. A usage error is printed and false returned.
bool ParseArgs(int argc, char** argv, int first, const std::string& cmd, Args* out) {
  auto line = datanode::cli::ParseCommandLine(argc, argv, first, FlagsOf(cmd));
  if (!line.ok()) {
    std::cerr << "dn-conformance " << cmd << ": " << line.status().message() << "\n";
    return false;
  }
  if (line->help) out->flags["help"] = "1";
  for (const std::string& name : line->seen) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    std::string value = flag->CurrentValue();
    if (flag->IsOfType<bool>()) {
      if (value != "true") continue;
      value = "1";
    }
    out->flags[absl::StrReplaceAll(name, {{"_", "-"}})] = value;
  }
  out->positional = std::move(line->positional);
  return true;
}

std::string Get(const Args& a, const std::string& name, const std::string& def = "") {
  auto it = a.flags.find(name);
  return it == a.flags.end() ? def : it->second;
}

bool Require(const Args& a, const std::vector<std::string>& names, const char* help) {
  for (const auto& n : names) {
    if (!a.flags.count(n)) {
      std::cerr << "missing --" << n << "\n\n" << help;
      return false;
    }
  }
  return true;
}

absl::StatusOr<dc::LoadedClass> LoadClass(const std::string& arg) {
  auto path = dc::ResolveClassPath(arg, dc::DefaultClassDirs());
  if (!path.ok()) return path.status();
  return dc::LoadClassFile(*path);
}

std::string PubPathFor(const std::string& key_path) {
  std::string base = key_path;
  if (base.size() > 4 && base.ends_with(".pem")) base.resize(base.size() - 4);
  return base + ".pub.pem";
}

int Run(const Args& a) {
  if (a.flags.count("help")) return std::cout << kRunHelp, 0;
  if (!Require(a, {"class", "nonce"}, kRunHelp)) return 2;
  auto cls = LoadClass(Get(a, "class"));
  if (!cls.ok()) return std::cerr << cls.status().message() << "\n", 2;
  std::string profile = Get(a, "profile", "quick");
  auto settings = dc::ProfileSettingsFor(cls->device_class, profile);
  if (!settings.ok()) return std::cerr << settings.status().message() << "\n", 2;
  auto compiled = dn::ops::CompiledBackends();
  std::string backend_name = Get(
      a, "backend",
      std::find(compiled.begin(), compiled.end(), "cpu") != compiled.end() ? "cpu" : "reference");
  dn::ops::BackendOptions backend_options;
  backend_options.num_threads = absl::GetFlag(FLAGS_threads);
  if (backend_options.num_threads < 0 || backend_options.num_threads > 1024) {
    return std::cerr << "--threads must be in [0, 1024]\n", 2;
  }
  std::string key = Get(a, "key", "dn-node-key.pem");
  std::error_code ec;
  if (!std::filesystem::exists(key, ec)) {
    if (auto st = dn::util::GenerateEd25519KeyFiles(key, PubPathFor(key)); !st.ok()) {
      return std::cerr << st.message() << "\n", 2;
    }
    std::cerr << "created node key " << key << " (public key " << PubPathFor(key) << ")\n";
  }
  std::string out = Get(a, "out",
                        absl::StrCat("admission-", cls->device_class.name(), "-",
                                     Get(a, "nonce").substr(0, 8), ".json"));
  conf::RunOptions options;
  options.nonce_hex = Get(a, "nonce");
  options.profile_name = profile;
  options.profile = *settings;
  options.progress = !a.flags.count("quiet");
  std::optional<conf::OpenedStore> store;
  if (a.flags.count("store-dir")) {
    auto opened = conf::OpenStoreDir(Get(a, "store-dir"));
    if (!opened.ok()) return std::cerr << opened.status().message() << "\n", 2;
    store = *std::move(opened);
    options.store = store->view.get();
  }

  dn::v1::AdmissionReport report;
  auto backend = dn::ops::CreateBackend(backend_name, backend_options);
  if (backend.ok()) {
    auto r = conf::RunAdmission(**backend, *cls, options);
    if (!r.ok()) return std::cerr << r.status().message() << "\n", 2;
    report = std::move(*r);
  } else {
    // A backend that cannot start (absent device, failed self-test) is a rejection,
    // and still gets a signed report saying why.
    report.set_class_name(cls->device_class.name());
    report.set_class_digest(cls->digest_hex);
    report.set_nonce(options.nonce_hex);
    report.set_profile(profile);
    report.set_spec_version(dn::ops::kSpecVersion);
    report.mutable_device()->set_backend(backend_name);
    auto* p = report.add_phases();
    p->set_phase(dn::v1::PHASE_INVENTORY);
    p->set_name("inventory");
    p->set_disposition(dn::v1::DISPOSITION_FAILED);
    p->set_reason(absl::StrCat("backend ", backend_name, ": ", backend.status().ToString()));
    report.add_reasons(p->reason());
  }
  if (auto st = conf::SignReport(key, &report); !st.ok())
    return std::cerr << st.message() << "\n", 2;
  auto json = conf::ReportToJson(report);
  if (!json.ok()) return std::cerr << json.status().message() << "\n", 2;
  std::ofstream(out) << *json;

  std::cout << absl::StrFormat("%-12s %-13s %8s  %s\n", "phase", "disposition", "seconds",
                               "reason");
  for (const auto& p : report.phases()) {
    std::cout << absl::StrFormat("%-12s %-13s %8.2f  %s\n", p.name(),
                                 conf::DispositionName(p.disposition()), p.seconds(), p.reason());
  }
  if (report.admitted()) {
    std::cout << "VERDICT: ADMITTED to class " << report.class_name() << "\n";
  } else {
    std::cout << "VERDICT: REJECTED from class " << report.class_name() << "\n";
    for (const auto& r : report.reasons()) std::cout << "  - " << r << "\n";
  }
  std::filesystem::path shown = std::filesystem::absolute(out, ec);
  std::cout << "report: " << (ec ? out : shown.string()) << "\n";
  return report.admitted() ? 0 : 1;
}

int Verify(const Args& a) {
  if (a.flags.count("help")) return std::cout << kVerifyHelp, 0;
  if (!Require(a, {"report", "class", "nonce", "pubkey"}, kVerifyHelp)) return 2;
  auto cls = LoadClass(Get(a, "class"));
  if (!cls.ok()) return std::cerr << cls.status().message() << "\n", 2;
  std::ifstream in(Get(a, "report"));
  if (!in) return std::cerr << "cannot read " << Get(a, "report") << "\n", 2;
  std::stringstream text;
  text << in.rdbuf();
  auto pub = dn::util::ReadEd25519PublicKey(Get(a, "pubkey"));
  if (!pub.ok()) return std::cerr << pub.status().message() << "\n", 2;
  conf::Verdict verdict;
  auto report = conf::ReportFromJson(text.str());
  if (!report.ok()) {
    verdict.reasons.push_back(std::string(report.status().message()));
  } else {
    conf::VerifyOptions options;
    options.recompute = !a.flags.count("no-recompute");
    std::optional<conf::OpenedStore> store;
    if (a.flags.count("store-dir")) {
      auto opened = conf::OpenStoreDir(Get(a, "store-dir"));
      if (!opened.ok()) return std::cerr << opened.status().message() << "\n", 2;
      store = *std::move(opened);
      options.models = store->view.get();
    }
    verdict = conf::VerifyReport(*report, *cls, Get(a, "nonce"),
                                 std::string(pub->begin(), pub->end()), options);
  }
  std::cout << (verdict.admitted ? "ADMIT" : "REJECT") << " " << cls->device_class.name() << "\n";
  for (const auto& r : verdict.reasons) std::cout << "  - " << r << "\n";
  return verdict.admitted ? 0 : 1;
}

int Keygen(const Args& a) {
  if (a.flags.count("help")) return std::cout << kKeygenHelp, 0;
  if (!Require(a, {"out"}, kKeygenHelp)) return 2;
  std::string pub = Get(a, "pub", PubPathFor(Get(a, "out")));
  if (auto st = dn::util::GenerateEd25519KeyFiles(Get(a, "out"), pub); !st.ok()) {
    return std::cerr << st.message() << "\n", 2;
  }
  std::cout << "private key: " << Get(a, "out") << "\npublic key:  " << pub << "\n";
  return 0;
}

int Classes(const Args& a) {
  if (a.flags.count("help")) return std::cout << kClassesHelp, 0;
  std::vector<std::string> dirs = a.positional.empty() ? dc::DefaultClassDirs() : a.positional;
  int files = 0, bad = 0;
  for (const auto& dir : dirs) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) continue;
    std::vector<std::string> paths;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      if (e.path().extension() == ".textproto") paths.push_back(e.path().string());
    }
    std::sort(paths.begin(), paths.end());
    for (const auto& path : paths) {
      ++files;
      auto cls = dc::LoadClassFile(path);
      if (!cls.ok()) {
        ++bad;
        std::cout << "INVALID " << path << "\n" << cls.status().message() << "\n";
        continue;
      }
      const auto& c = cls->device_class;
      std::string what = c.has_compute()
                             ? absl::StrFormat("compute >= %g GOP/s s8", c.compute().min_s8_gops())
                             : "";
      if (c.has_storage()) {
        absl::StrAppend(&what, what.empty() ? "" : ", ",
                        absl::StrFormat("storage >= %g GiB", c.storage().min_capacity_gib()));
      }
      std::cout << absl::StrFormat("ok      %-10s %-40s %s\n", c.name(), what, path);
    }
  }
  if (files == 0) return std::cerr << "no class files found\n", 2;
  return bad == 0 ? 0 : 1;
}

int Golden(const Args& a) {
  if (a.flags.count("help") || (!a.flags.count("write") && !a.flags.count("check"))) {
    return std::cout << kGoldenHelp, a.flags.count("help") ? 0 : 2;
  }
  auto text = conf::GenerateGoldenText();
  if (!text.ok()) return std::cerr << text.status().message() << "\n", 2;
  if (a.flags.count("write")) {
    std::ofstream(Get(a, "write")) << *text;
    std::cout << "wrote " << Get(a, "write") << "\n";
    return 0;
  }
  bool same = *text == conf::CompiledGoldenText();
  std::cout << (same ? "golden vectors match the reference\n"
                     : "golden vectors DIFFER from the reference\n");
  return same ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "help") {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  std::string cmd = argv[1];
  Args args;
  if (!ParseArgs(argc, argv, 2, cmd, &args)) return 2;
  if (cmd == "run") return Run(args);
  if (cmd == "verify") return Verify(args);
  if (cmd == "keygen") return Keygen(args);
  if (cmd == "classes") return Classes(args);
  if (cmd == "golden") return Golden(args);
  std::cerr << "unknown command \"" << cmd << "\"\n\n" << kUsage;
  return 2;
}
