// Copyright 2026 The datanode Authors.
//
// dn-conformance: the admission test a node operator runs, and the verifier a subnet
// admin runs. See docs/admission.md and `dn-conformance --help`.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "conformance/conformance.h"
#include "conformance/golden.h"
#include "conformance/report.h"
#include "conformance/store_view.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/golden.h"
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

  --write <file>   regenerate ops/golden/golden_vectors.txt on the reference backend
                   (spec changes only: refuses to change a digest at the same spec version)
  --check          regenerate in memory and compare with the compiled-in file
)";

using datanode::cli::CommandLine;

// Flags are read with absl::GetFlag; `seen` says which were given (absl names).
bool Given(const CommandLine& line, const char* flag) { return line.seen.count(flag) > 0; }

// A usage error of `cmd`: one line naming the problem, exit status 2.
int Usage(std::string_view cmd, std::string_view why) {
  std::cerr << "dn-conformance " << cmd << ": " << why << " (dn-conformance " << cmd
            << " --help)\n";
  return 2;
}

// The first of `flags` (absl names) not given, as a usage error; 0 if all were.
int Require(const CommandLine& line, std::string_view cmd, const std::vector<const char*>& flags) {
  for (const char* flag : flags) {
    if (!Given(line, flag)) return Usage(cmd, absl::StrCat("missing --", flag));
  }
  return 0;
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

int Run(const CommandLine& line) {
  if (int rc = Require(line, "run", {"class", "nonce"}); rc != 0) return rc;
  const std::string nonce = absl::GetFlag(FLAGS_nonce);
  auto cls = LoadClass(absl::GetFlag(FLAGS_class));
  if (!cls.ok()) return std::cerr << cls.status().message() << "\n", 2;
  const std::string profile = absl::GetFlag(FLAGS_profile);
  auto settings = dc::ProfileSettingsFor(cls->device_class, profile);
  if (!settings.ok()) return std::cerr << settings.status().message() << "\n", 2;
  auto compiled = dn::ops::CompiledBackends();
  std::string backend_name = absl::GetFlag(FLAGS_backend);
  if (backend_name.empty()) {
    backend_name =
        std::find(compiled.begin(), compiled.end(), "cpu") != compiled.end() ? "cpu" : "reference";
  }
  dn::ops::BackendOptions backend_options;
  backend_options.num_threads = absl::GetFlag(FLAGS_threads);
  if (absl::Status s = dn::cli::CheckRange("threads", backend_options.num_threads, 0, 1024);
      !s.ok()) {
    return Usage("run", std::string(s.message()));
  }
  const std::string key = absl::GetFlag(FLAGS_key);
  std::error_code ec;
  if (!std::filesystem::exists(key, ec)) {
    if (auto st = dn::util::GenerateEd25519KeyFiles(key, PubPathFor(key)); !st.ok()) {
      return std::cerr << st.message() << "\n", 2;
    }
    std::cerr << "created node key " << key << " (public key " << PubPathFor(key) << ")\n";
  }
  std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) {
    out = absl::StrCat("admission-", cls->device_class.name(), "-", nonce.substr(0, 8), ".json");
  }
  conf::RunOptions options;
  options.nonce_hex = nonce;
  options.profile_name = profile;
  options.profile = *settings;
  options.progress = !absl::GetFlag(FLAGS_quiet);
  std::optional<conf::OpenedStore> store;
  if (Given(line, "store_dir")) {
    auto opened = conf::OpenStoreDir(absl::GetFlag(FLAGS_store_dir));
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

int Verify(const CommandLine& line) {
  if (int rc = Require(line, "verify", {"report", "class", "nonce", "pubkey"}); rc != 0) return rc;
  auto cls = LoadClass(absl::GetFlag(FLAGS_class));
  if (!cls.ok()) return std::cerr << cls.status().message() << "\n", 2;
  const std::string report_path = absl::GetFlag(FLAGS_report);
  std::ifstream in(report_path);
  if (!in) return std::cerr << "cannot read " << report_path << "\n", 2;
  std::stringstream text;
  text << in.rdbuf();
  auto pub = dn::util::ReadEd25519PublicKey(absl::GetFlag(FLAGS_pubkey));
  if (!pub.ok()) return std::cerr << pub.status().message() << "\n", 2;
  conf::Verdict verdict;
  auto report = conf::ReportFromJson(text.str());
  if (!report.ok()) {
    verdict.reasons.push_back(std::string(report.status().message()));
  } else {
    conf::VerifyOptions options;
    options.recompute = !absl::GetFlag(FLAGS_no_recompute);
    std::optional<conf::OpenedStore> store;
    if (Given(line, "store_dir")) {
      auto opened = conf::OpenStoreDir(absl::GetFlag(FLAGS_store_dir));
      if (!opened.ok()) return std::cerr << opened.status().message() << "\n", 2;
      store = *std::move(opened);
      options.models = store->view.get();
    }
    verdict = conf::VerifyReport(*report, *cls, absl::GetFlag(FLAGS_nonce),
                                 std::string(pub->begin(), pub->end()), options);
  }
  std::cout << (verdict.admitted ? "ADMIT" : "REJECT") << " " << cls->device_class.name() << "\n";
  for (const auto& r : verdict.reasons) std::cout << "  - " << r << "\n";
  return verdict.admitted ? 0 : 1;
}

int Keygen(const CommandLine& line) {
  if (int rc = Require(line, "keygen", {"out"}); rc != 0) return rc;
  const std::string out = absl::GetFlag(FLAGS_out);
  std::string pub = absl::GetFlag(FLAGS_pub);
  if (pub.empty()) pub = PubPathFor(out);
  if (auto st = dn::util::GenerateEd25519KeyFiles(out, pub); !st.ok()) {
    return std::cerr << st.message() << "\n", 2;
  }
  std::cout << "private key: " << out << "\npublic key:  " << pub << "\n";
  return 0;
}

int Classes(const CommandLine& line) {
  std::vector<std::string> dirs =
      line.positional.empty() ? dc::DefaultClassDirs() : line.positional;
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

int Golden(const CommandLine& line) {
  const std::string write = absl::GetFlag(FLAGS_write);
  if (Given(line, "write") == absl::GetFlag(FLAGS_check)) {
    return Usage("golden", "give one of --write FILE and --check");
  }
  if (Given(line, "write") && write.empty()) return Usage("golden", "--write needs a file");
  if (!write.empty()) {
    // Guarded like ops_golden_regen: a changed digest needs a spec version bump.
    std::stringstream old_text;
    if (std::ifstream old(write); old) old_text << old.rdbuf();
    auto text = dn::ops::RegenerateGoldenText(old_text.str(), /*force_same_version=*/false);
    if (!text.ok()) return std::cerr << text.status().message() << "\n", 2;
    std::ofstream out(write, std::ios::trunc);
    out << *text;
    out.close();
    if (!out) return std::cerr << "cannot write " << write << "\n", 2;
    std::cout << "wrote " << write << "\n";
    return 0;
  }
  auto text = dn::ops::GenerateGoldenText();
  if (!text.ok()) return std::cerr << text.status().message() << "\n", 2;
  bool same = *text == conf::CompiledGoldenText();
  std::cout << (same ? "golden vectors match the reference\n"
                     : "golden vectors DIFFER from the reference\n");
  return same ? 0 : 1;
}

// The commands. Each accepts only its own flags; only `classes` takes arguments.
struct Command {
  const char* name;
  std::vector<std::string_view> flags;  // absl names
  bool takes_arguments;
  const char* help;
  int (*run)(const CommandLine&);
};

const Command kCommands[] = {
    {"run",
     {"class", "nonce", "profile", "backend", "threads", "key", "out", "store_dir", "quiet"},
     false,
     kRunHelp,
     Run},
    {"verify",
     {"report", "class", "nonce", "pubkey", "store_dir", "no_recompute"},
     false,
     kVerifyHelp,
     Verify},
    {"keygen", {"out", "pub"}, false, kKeygenHelp, Keygen},
    {"classes", {}, true, kClassesHelp, Classes},
    {"golden", {"write", "check"}, false, kGoldenHelp, Golden},
};

int Main(int argc, char** argv) {
  if (argc < 2) return std::cerr << kUsage, 2;
  const std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") return std::cout << kUsage, 0;
  const Command* cmd = nullptr;
  for (const Command& c : kCommands) {
    if (name == c.name) cmd = &c;
  }
  if (cmd == nullptr) {
    std::cerr << "dn-conformance: unknown command \"" << name << "\" (dn-conformance --help)\n";
    return 2;
  }
  auto line = dn::cli::ParseCommandLine(argc, argv, 2, cmd->flags);
  if (!line.ok()) return Usage(cmd->name, std::string(line.status().message()));
  if (line->help) return std::cout << cmd->help, 0;
  if (!cmd->takes_arguments && !line->positional.empty()) {
    return Usage(cmd->name, absl::StrCat("unexpected argument '", line->positional[0], "'"));
  }
  return cmd->run(*line);
}

}  // namespace

int main(int argc, char** argv) { return Main(argc, argv); }
