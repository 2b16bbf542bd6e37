// Copyright 2026 The datanode Authors.
//
// dnctl: the operator CLI for datanoded. Run `dnctl --help`.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "conformance/conformance.h"
#include "conformance/report.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/v1/accelerator.grpc.pb.h"
#include "datanode/v1/admission_service.grpc.pb.h"
#include "datanode/v1/store.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "node/cli/npy.h"

namespace datanode::node {
namespace {

constexpr char kUsage[] = R"(usage: dnctl [--socket PATH] [--json] COMMAND [ARGS]

Talks to datanoded over its Unix socket (default run/datanoded.sock, or $DATANODE_SOCKET).
--json prints the raw response as JSON.

Commands:
  info                              node info: backends, spec version, store, pinning,
                                    admitted class
  put FILE [--expect DIGEST]        upload a blob (streamed), print its digest
  get DIGEST OUT                    download a blob (verified) to OUT
  stat DIGEST | list | delete DIGEST
  import PATH                       import a safetensors / GGUF file on the node's disk
  models | model DIGEST | delete-model DIGEST
  matmul --op OP --a A.npy (--w W.npy | --model DIGEST --tensor NAME)
         [--a-scale S.npy] [--w-scale S.npy] [--scale-tensor NAME] [--out C.npy]
                                    OP: matmul_s8_s32, matmul_s8_f32, matmul_q8_0_q8_0,
                                    matmul_q8_0_q4_0, matmul_q8_0_q4_1. A is int8 [M,K]
                                    for s8 ops, float32 [M,K] for Q8 ops (quantized
                                    here with the spec's quantize_q8_0). Prints the
                                    output digest and cycles charged.
  metrics [--metrics-socket PATH]   print the Prometheus metrics
  gen-model OUT.safetensors [--n N] [--k K] [--seed S]
                                    write a small model: "w" I8 [N,K], "w.scale" F32 [N]
  gen-npy OUT.npy --shape M,K [--dtype int8|float32] [--seed S]
  admission --class NAME|FILE --nonce HEX [--profile quick|full] [--backend NAME]
            [--out REPORT.json]     run the admission test on the node (dnctl admission --help)
)";

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

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags;
  std::string Flag(const std::string& name, const std::string& def = "") const {
    auto it = flags.find(name);
    return it == flags.end() ? def : it->second;
  }
};

bool g_json = false;

int Fail(const std::string& what) {
  std::fprintf(stderr, "dnctl: %s\n", what.c_str());
  return 1;
}

int FailRpc(const grpc::Status& s) {
  static const char* kNames[] = {"OK",
                                 "CANCELLED",
                                 "UNKNOWN",
                                 "INVALID_ARGUMENT",
                                 "DEADLINE_EXCEEDED",
                                 "NOT_FOUND",
                                 "ALREADY_EXISTS",
                                 "PERMISSION_DENIED",
                                 "RESOURCE_EXHAUSTED",
                                 "FAILED_PRECONDITION",
                                 "ABORTED",
                                 "OUT_OF_RANGE",
                                 "UNIMPLEMENTED",
                                 "INTERNAL",
                                 "UNAVAILABLE",
                                 "DATA_LOSS",
                                 "UNAUTHENTICATED"};
  int c = s.error_code();
  return Fail(absl::StrCat(c >= 0 && c <= 16 ? kNames[c] : "?", ": ", s.error_message()));
}

void Print(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions opts;
  opts.add_whitespace = true;
  opts.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, opts);
  std::fputs(out.c_str(), stdout);
}

std::string ShapeOf(const v1::TensorEntry& t) {
  return absl::StrCat("[", absl::StrJoin(t.shape(), ","), "]");
}

int Metrics(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return Fail(
        absl::StrCat("cannot connect to metrics socket ", path, ": ", std::strerror(errno)));
  }
  const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
  (void)!::write(fd, req, sizeof(req) - 1);
  std::string resp;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) resp.append(buf, static_cast<size_t>(n));
  ::close(fd);
  size_t body = resp.find("\r\n\r\n");
  std::fputs(body == std::string::npos ? resp.c_str() : resp.c_str() + body + 4, stdout);
  return 0;
}

int GenModel(const Args& a) {
  if (a.positional.size() < 2) return Fail("gen-model needs OUT");
  int64_t n = std::stoll(a.Flag("n", "64")), k = std::stoll(a.Flag("k", "64"));
  ops::SplitMix64 rng(std::stoull(a.Flag("seed", "1")));
  std::string w(static_cast<size_t>(n * k), '\0');
  for (auto& c : w) c = static_cast<char>(rng.Uniform(-127, 127));
  std::string scale(static_cast<size_t>(n * 4), '\0');
  for (int64_t i = 0; i < n; ++i) {
    float f = static_cast<float>(rng.Uniform(1, 1024)) / 65536.0f;  // exact in f32
    std::memcpy(&scale[static_cast<size_t>(i * 4)], &f, 4);
  }
  std::string header = absl::StrCat(
      R"({"__metadata__":{"writer":"dnctl gen-model"},"w":{"dtype":"I8","shape":[)", n, ",", k,
      R"(],"data_offsets":[0,)", w.size(), R"(]},"w.scale":{"dtype":"F32","shape":[)", n,
      R"(],"data_offsets":[)", w.size(), ",", w.size() + scale.size(), "]}}");
  while (header.size() % 8) header.push_back(' ');
  uint64_t len = header.size();
  std::ofstream f(a.positional[1], std::ios::binary);
  f.write(reinterpret_cast<const char*>(&len), 8);
  f << header << w << scale;
  if (!f) return Fail("cannot write " + a.positional[1]);
  std::printf("wrote %s: w I8 [%lld,%lld], w.scale F32 [%lld]\n", a.positional[1].c_str(),
              (long long)n, (long long)k, (long long)n);
  return 0;
}

int GenNpy(const Args& a) {
  if (a.positional.size() < 2) return Fail("gen-npy needs OUT");
  NpyArray arr;
  std::string shape = a.Flag("shape", "4,64");
  int64_t count = 1;
  for (size_t p = 0; p < shape.size();) {
    size_t c = shape.find(',', p);
    if (c == std::string::npos) c = shape.size();
    arr.shape.push_back(std::stoll(shape.substr(p, c - p)));
    count *= arr.shape.back();
    p = c + 1;
  }
  ops::SplitMix64 rng(std::stoull(a.Flag("seed", "2")));
  if (a.Flag("dtype", "int8") == "float32") {
    arr.descr = "<f4";
    arr.data.resize(static_cast<size_t>(count * 4));
    for (int64_t i = 0; i < count; ++i) {
      float f = static_cast<float>(rng.Uniform(-4096, 4096)) / 1024.0f;
      std::memcpy(&arr.data[static_cast<size_t>(i * 4)], &f, 4);
    }
  } else {
    arr.descr = "|i1";
    arr.data.resize(static_cast<size_t>(count));
    for (auto& c : arr.data) c = static_cast<char>(rng.Uniform(-127, 127));
  }
  absl::Status s = WriteNpy(a.positional[1], arr);
  return s.ok() ? 0 : Fail(std::string(s.message()));
}

int MatMul(v1::Accelerator::Stub& acc, v1::Store::Stub& store, const Args& a) {
  auto kind = ops::OpKindFromName(a.Flag("op", "matmul_s8_s32"));
  if (!kind.ok() || !ops::IsMatMul(*kind)) return Fail("unknown --op " + a.Flag("op"));
  auto A = ReadNpy(a.Flag("a"));
  if (!A.ok()) return Fail(std::string(A.status().message()));
  if (A->shape.size() != 2) return Fail("A must be 2-D [M,K]");
  v1::MatMulRequest req;
  req.set_op(static_cast<v1::OpKind>(*kind));
  int64_t m = A->shape[0], k = A->shape[1], n = 0;
  req.set_m(m);
  req.set_k(k);
  bool s8 = *kind == ops::OpKind::kMatMulS8S32 || *kind == ops::OpKind::kMatMulS8F32;
  if (s8) {
    if (A->descr != "|i1" && A->descr != "<i1") return Fail("A must be int8 for s8 ops");
    req.set_a(A->data);
  } else {
    if (A->descr != "<f4") return Fail("A must be float32 for Q8 ops (quantized here to Q8_0)");
    auto ref = ops::CreateBackend("reference");
    if (!ref.ok()) return Fail(std::string(ref.status().message()));
    auto sizes = ops::ComputeOperandSizes(ops::OpKind::kQuantizeQ8_0, m, 0, k);
    if (!sizes.ok()) return Fail(std::string(sizes.status().message()));
    std::string q(static_cast<size_t>(sizes->out), '\0');
    ops::OpArgs qa;
    qa.kind = ops::OpKind::kQuantizeQ8_0;
    qa.m = m;
    qa.k = k;
    qa.a = {reinterpret_cast<const uint8_t*>(A->data.data()), A->data.size()};
    qa.out = {reinterpret_cast<uint8_t*>(q.data()), q.size()};
    if (absl::Status s = ops::RunOp(**ref, qa); !s.ok()) return Fail(std::string(s.message()));
    req.set_a(q);
  }
  if (!a.Flag("a-scale").empty()) {
    auto s = ReadNpy(a.Flag("a-scale"));
    if (!s.ok()) return Fail(std::string(s.status().message()));
    req.set_a_scale(s->data);
  }
  if (!a.Flag("w").empty()) {
    auto W = ReadNpy(a.Flag("w"));
    if (!W.ok()) return Fail(std::string(W.status().message()));
    if (W->shape.empty()) return Fail("W must be [N, ...]");
    n = W->shape[0];
    req.mutable_inline_weights()->set_w(W->data);
    if (!a.Flag("w-scale").empty()) {
      auto s = ReadNpy(a.Flag("w-scale"));
      if (!s.ok()) return Fail(std::string(s.status().message()));
      req.mutable_inline_weights()->set_w_scale(s->data);
    }
  } else {
    std::string model = a.Flag("model"), tensor = a.Flag("tensor");
    if (model.empty() || tensor.empty()) return Fail("matmul needs --w or --model and --tensor");
    // N comes from the stored tensor's shape [N, K].
    grpc::ClientContext ctx;
    v1::GetModelRequest mreq;
    mreq.set_digest(model);
    v1::ModelInfo info;
    grpc::Status st = store.GetModel(&ctx, mreq, &info);
    if (!st.ok()) return FailRpc(st);
    for (const auto& t : info.tensors()) {
      if (t.name() == tensor && !t.shape().empty()) n = t.shape(0);
    }
    if (n == 0) return Fail(absl::StrCat("model has no tensor '", tensor, "' with a shape"));
    req.mutable_weight_ref()->set_model_digest(model);
    req.mutable_weight_ref()->set_tensor(tensor);
    req.mutable_weight_ref()->set_scale_tensor(a.Flag("scale-tensor"));
  }
  req.set_n(n);
  grpc::ClientContext ctx;
  v1::MatMulResponse resp;
  grpc::Status st = acc.MatMul(&ctx, req, &resp);
  if (!st.ok()) return FailRpc(st);
  if (!a.Flag("out").empty()) {
    NpyArray out;
    out.descr = *kind == ops::OpKind::kMatMulS8S32 ? "<i4" : "<f4";
    out.shape = {m, n};
    out.data = resp.out();
    if (absl::Status s = WriteNpy(a.Flag("out"), out); !s.ok())
      return Fail(std::string(s.message()));
  }
  if (g_json) {
    resp.clear_out();
    Print(resp);
  } else {
    std::printf("op %s M=%lld N=%lld K=%lld backend %s spec v%d\noutput_digest %s\ncycles %llu\n",
                ops::OpKindName(*kind), (long long)m, (long long)n, (long long)k,
                resp.backend().c_str(), resp.spec_version(), resp.output_digest().c_str(),
                (unsigned long long)resp.cycles());
  }
  return 0;
}

// Reads a local class file for --class given as a path; NOT a name.
bool IsClassPath(const std::string& arg) {
  return arg.find('/') != std::string::npos || arg.ends_with(".textproto");
}

int Admission(v1::Admission::Stub& stub, const Args& a) {
  auto usage = [](const std::string& why) {
    std::fprintf(stderr, "dnctl admission: %s\n\n%s", why.c_str(), kAdmissionHelp);
    return 2;
  };
  const std::string cls = a.Flag("class"), nonce = a.Flag("nonce");
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
  const std::string profile = a.Flag("profile", "quick");
  if (profile == "quick") {
    req.set_profile(v1::ADMISSION_PROFILE_QUICK);
  } else if (profile == "full") {
    req.set_profile(v1::ADMISSION_PROFILE_FULL);
  } else {
    return usage("--profile must be quick or full");
  }
  req.set_backend(a.Flag("backend"));
  const std::string out =
      a.Flag("out", absl::StrCat("admission-", class_label, "-", nonce.substr(0, 8), ".json"));

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
  if (!json.ok()) return Fail(std::string(json.status().message())), 2;
  const std::string tmp = out + ".partial";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << *json;
    if (!f.flush()) return Fail("cannot write " + tmp), 2;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, out, ec);
  if (ec) return Fail(absl::StrCat("cannot write ", out, ": ", ec.message())), 2;

  if (g_json) {
    result.clear_report();
    Print(result);
  } else {
    for (const auto& p : result.report().phases()) {
      std::printf("%-12s %-13s %8.2f  %s\n", p.name().c_str(),
                  conformance::DispositionName(p.disposition()), p.seconds(), p.reason().c_str());
    }
    std::printf("VERDICT: %s class %s\n", result.admitted() ? "ADMITTED to" : "REJECTED from",
                result.report().class_name().c_str());
    for (const auto& r : result.reasons()) std::printf("  - %s\n", r.c_str());
    std::printf("report_digest %s\nreport: %s\n", result.report_digest().c_str(),
                std::filesystem::absolute(out).string().c_str());
  }
  return result.admitted() ? 0 : 1;
}

int Run(int argc, char** argv) {
  Args a;
  const char* env_socket = std::getenv("DATANODE_SOCKET");
  std::string socket = env_socket ? env_socket : "run/datanoded.sock";
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    if (s == "--help" || s == "-h") {
      bool admission = !a.positional.empty() && a.positional[0] == "admission";
      std::fputs(admission ? kAdmissionHelp : kUsage, stdout);
      return 0;
    }
    if (s == "--json") {
      g_json = true;
    } else if (s.rfind("--", 0) == 0) {
      if (i + 1 >= argc) return Fail(s + " needs a value");
      a.flags[s.substr(2)] = argv[++i];
    } else {
      a.positional.push_back(s);
    }
  }
  if (a.flags.count("socket")) socket = a.flags["socket"];
  if (a.positional.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string& cmd = a.positional[0];
  if (cmd == "gen-model") return GenModel(a);
  if (cmd == "gen-npy") return GenNpy(a);
  if (cmd == "metrics") {
    std::string def =
        (std::filesystem::path(socket).parent_path() / "datanoded-metrics.sock").string();
    return Metrics(a.Flag("metrics-socket", def));
  }
  grpc::ChannelArguments chargs;
  chargs.SetMaxReceiveMessageSize(-1);
  chargs.SetMaxSendMessageSize(-1);
  auto channel =
      grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(), chargs);
  v1::Accelerator::Stub acc(channel);
  v1::Store::Stub store(channel);
  auto need = [&](size_t n) { return a.positional.size() >= n + 1; };
  grpc::ClientContext ctx;
  grpc::Status st;
  if (cmd == "info") {
    v1::GetNodeInfoResponse r;
    st = acc.GetNodeInfo(&ctx, {}, &r);
    if (!st.ok()) return FailRpc(st);
    if (g_json) return Print(r), 0;
    std::printf("datanoded %s, spec version %d\n", r.daemon_version().c_str(), r.spec_version());
    for (const auto& b : r.backends()) {
      std::printf("  backend %-10s %s %s %s\n", b.name().c_str(),
                  b.serving() ? "[serving]" : "[compiled]", b.description().c_str(),
                  absl::StrJoin(b.supported_ops(), ",").c_str());
    }
    std::printf("store %lld bytes used (capacity %lld), pinned %lld of %lld bytes\n",
                (long long)r.store_used_bytes(), (long long)r.store_capacity_bytes(),
                (long long)r.pinned_bytes(), (long long)r.pin_budget_bytes());
    if (r.admitted_class().empty()) {
      std::printf("admitted class: none (dnctl admission --help)\n");
    } else {
      std::printf("admitted class: %s (report %s)\n", r.admitted_class().c_str(),
                  r.admission_report_digest().c_str());
    }
    return 0;
  }
  if (cmd == "put" && need(1)) {
    std::ifstream f(a.positional[1], std::ios::binary);
    if (!f) return Fail("cannot read " + a.positional[1]);
    v1::BlobInfo info;
    auto writer = store.PutBlob(&ctx, &info);
    v1::PutBlobRequest req;
    req.set_expected_digest(a.Flag("expect"));
    std::vector<char> buf(1 << 20);
    bool ok = true;
    while (ok) {
      f.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      req.set_data(buf.data(), static_cast<size_t>(f.gcount()));
      req.set_last(!f || f.peek() == std::char_traits<char>::eof());
      ok = writer->Write(req) && !req.last();
      req.clear_expected_digest();
    }
    writer->WritesDone();
    st = writer->Finish();
    if (!st.ok()) return FailRpc(st);
    if (g_json) return Print(info), 0;
    std::printf("%s %lld\n", info.digest().c_str(), (long long)info.size());
    return 0;
  }
  if (cmd == "get" && need(2)) {
    v1::GetBlobRequest req;
    req.set_digest(a.positional[1]);
    auto reader = store.GetBlob(&ctx, req);
    std::string tmp = a.positional[2] + ".partial";
    std::ofstream f(tmp, std::ios::binary);
    v1::GetBlobResponse piece;
    int64_t total = 0;
    while (reader->Read(&piece)) {
      f.write(piece.data().data(), static_cast<std::streamsize>(piece.data().size()));
      total += static_cast<int64_t>(piece.data().size());
    }
    f.close();
    st = reader->Finish();
    if (!st.ok()) {
      std::filesystem::remove(tmp);  // never leave unverified bytes behind
      return FailRpc(st);
    }
    std::filesystem::rename(tmp, a.positional[2]);
    std::printf("%s %lld bytes -> %s\n", a.positional[1].c_str(), (long long)total,
                a.positional[2].c_str());
    return 0;
  }
  if (cmd == "stat" && need(1)) {
    v1::StatBlobRequest req;
    req.set_digest(a.positional[1]);
    v1::BlobInfo info;
    st = store.StatBlob(&ctx, req, &info);
    if (!st.ok()) return FailRpc(st);
    if (g_json) return Print(info), 0;
    std::printf("%s %lld bytes, %d chunks\n", info.digest().c_str(), (long long)info.size(),
                info.chunks_size());
    return 0;
  }
  if (cmd == "list") {
    v1::ListBlobsResponse r;
    st = store.ListBlobs(&ctx, {}, &r);
    if (!st.ok()) return FailRpc(st);
    if (g_json) return Print(r), 0;
    for (const auto& b : r.blobs())
      std::printf("%s %lld\n", b.digest().c_str(), (long long)b.size());
    return 0;
  }
  if (cmd == "delete" && need(1)) {
    v1::DeleteBlobRequest req;
    req.set_digest(a.positional[1]);
    v1::DeleteBlobResponse r;
    st = store.DeleteBlob(&ctx, req, &r);
    return st.ok() ? (std::printf("deleted %s\n", a.positional[1].c_str()), 0) : FailRpc(st);
  }
  if (cmd == "import" && need(1)) {
    v1::ImportModelRequest req;
    req.set_path(std::filesystem::absolute(a.positional[1]).string());
    v1::ModelInfo info;
    st = store.ImportModel(&ctx, req, &info);
    if (!st.ok()) return FailRpc(st);
    if (g_json) return Print(info), 0;
    std::printf("model %s (%s, %d tensors)\n", info.digest().c_str(),
                v1::ModelFormat_Name(info.format()).c_str(), info.tensors_size());
    for (const auto& t : info.tensors()) {
      std::printf("  %-24s %-6s %s\n", t.name().c_str(),
                  v1::TensorDtype_Name(t.dtype()).substr(13).c_str(), ShapeOf(t).c_str());
    }
    return 0;
  }
  if (cmd == "models") {
    v1::ListModelsResponse r;
    st = store.ListModels(&ctx, {}, &r);
    if (!st.ok()) return FailRpc(st);
    if (g_json) return Print(r), 0;
    for (const auto& m : r.models()) {
      std::printf("%s %s %lld\n", m.digest().c_str(), v1::ModelFormat_Name(m.format()).c_str(),
                  (long long)m.source_size());
    }
    return 0;
  }
  if (cmd == "model" && need(1)) {
    v1::GetModelRequest req;
    req.set_digest(a.positional[1]);
    v1::ModelInfo info;
    st = store.GetModel(&ctx, req, &info);
    if (!st.ok()) return FailRpc(st);
    return Print(info), 0;
  }
  if (cmd == "delete-model" && need(1)) {
    v1::DeleteModelRequest req;
    req.set_digest(a.positional[1]);
    v1::DeleteModelResponse r;
    st = store.DeleteModel(&ctx, req, &r);
    return st.ok() ? (std::printf("deleted model %s\n", a.positional[1].c_str()), 0) : FailRpc(st);
  }
  if (cmd == "matmul") return MatMul(acc, store, a);
  if (cmd == "admission") {
    v1::Admission::Stub admission(channel);
    return Admission(admission, a);
  }
  std::fputs(kUsage, stderr);
  return 2;
}

}  // namespace
}  // namespace datanode::node

int main(int argc, char** argv) { return datanode::node::Run(argc, argv); }
