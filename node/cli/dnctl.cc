// Copyright 2026 The datanode Authors.
//
// dnctl: the operator CLI for datanoded. Run `dnctl --help`.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "conformance/conformance.h"
#include "conformance/report.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/v1/accelerator.grpc.pb.h"
#include "datanode/v1/admission_service.grpc.pb.h"
#include "datanode/v1/inference.grpc.pb.h"
#include "datanode/v1/store.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "node/cli/flags.h"
#include "node/cli/npy.h"

ABSL_FLAG(std::string, socket, "",
          "datanoded's Unix socket (default $DATANODE_SOCKET, else run/datanoded.sock)");
ABSL_FLAG(bool, json, false, "print responses as JSON");
ABSL_FLAG(std::string, expect, "", "put: the digest the blob must have");
ABSL_FLAG(std::string, op, "matmul_s8_s32", "matmul: the op");
ABSL_FLAG(std::string, a, "", "matmul: A as .npy (int8 [M,K] for s8 ops, float32 for Q8 ops)");
ABSL_FLAG(std::string, a_scale, "", "matmul: A's scales as .npy");
ABSL_FLAG(std::string, w, "", "matmul: inline weights W as .npy [N,K]");
ABSL_FLAG(std::string, w_scale, "", "matmul: inline weight scales as .npy");
ABSL_FLAG(std::string, model, "",
          "matmul: weights by reference: the model digest; generate, tokenize: the model");
ABSL_FLAG(std::string, tensor, "", "matmul: weights by reference: the tensor name");
ABSL_FLAG(std::string, scale_tensor, "", "matmul: by reference: the scale tensor name");
ABSL_FLAG(std::string, out, "",
          "matmul: write C as .npy; admission: the report path (default "
          "admission-<class>-<first 8 nonce digits>.json)");
ABSL_FLAG(std::string, metrics_socket, "",
          "metrics: the metrics socket (default datanoded-metrics.sock beside --socket)");
ABSL_FLAG(int64_t, n, 64, "gen-model: rows N of w [N,K]");
ABSL_FLAG(int64_t, k, 64, "gen-model: columns K of w [N,K]");
ABSL_FLAG(uint64_t, seed, 0,
          "gen-model, gen-npy: random seed (default 1 and 2); generate: the sampling seed, "
          "sent as 8 bytes little-endian (default: no seed bytes)");
ABSL_FLAG(std::string, prompt, "", "generate, tokenize: the prompt text");
ABSL_FLAG(int32_t, max_tokens, 64, "generate: most tokens to generate");
ABSL_FLAG(float, temperature, 0, "generate: 0 = greedy, else in (0, 100]");
ABSL_FLAG(int32_t, top_k, 0, "generate: keep the K most likely tokens (0 = all)");
ABSL_FLAG(float, top_p, 1, "generate: nucleus cut in (0, 1]");
ABSL_FLAG(bool, chat, false,
          "generate: wrap the prompt in a ChatML user turn (SmolLM2's chat template)");
ABSL_FLAG(bool, add_special, true, "tokenize: match special tokens and add BOS if the model does");
ABSL_FLAG(std::string, shape, "4,64", "gen-npy: the shape, comma-separated");
ABSL_FLAG(std::string, dtype, "int8", "gen-npy: int8 or float32");
ABSL_FLAG(std::string, class, "", "admission: class name or local class file");
ABSL_FLAG(std::string, nonce, "", "admission: the verifier's nonce, 16..128 hex digits");
ABSL_FLAG(std::string, profile, "quick", "admission: quick or full");
ABSL_FLAG(std::string, backend, "", "admission: backend under test (default: the serving one)");

namespace datanode::node {
namespace {

constexpr char kUsage[] = R"(usage: dnctl [--socket PATH] [--json] COMMAND [ARGS] [FLAGS]

Talks to datanoded over its Unix socket (default run/datanoded.sock, or $DATANODE_SOCKET).
--json prints the raw response as JSON. `dnctl COMMAND --help` shows a command's flags.
Exit codes: 0 success, 1 the command failed (RPC or I/O error), 2 usage error.

Commands:
)";

constexpr char kMatMulHelp[] =
    R"(usage: dnctl matmul --op OP --a A.npy (--w W.npy | --model DIGEST --tensor NAME)
                    [--a-scale S.npy] [--w-scale S.npy] [--scale-tensor NAME] [--out C.npy]

OP: a matmul op of docs/determinism.md, matmul_s8_s32 by default (an unknown OP prints
the list). A is int8 [M,K] for s8 ops, float32 [M,K] for Q8 ops (quantized here with the
spec's quantize_q8_0). Weights are inline (--w, [N,K]) or by reference to an
imported model's tensor (N from its shape). Prints the output digest and cycles charged;
--out writes C as .npy.
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

constexpr char kGenerateHelp[] =
    R"(usage: dnctl generate --model DIGEST --prompt TEXT [--max-tokens N] [--seed S]
                      [--temperature T] [--top-k K] [--top-p P] [--chat]

Generates text with an imported llama-architecture GGUF model (Inference.Generate, a
one-call session). The text streams to stdout as tokens arrive (raw bytes: a UTF-8
character may span tokens; control tokens such as <|im_end|> are not printed). Then
stderr gets the token counts, prefill and decode speed (tok/s), the stop reason, the
digest of the token ids (SHA-256 of the ids as little-endian int32, equal on every
node), the final logits digest and the cycles.

  --model DIGEST     the model's manifest digest (dnctl import prints it)
  --prompt TEXT      the prompt (tokenized by the node, special tokens matched)
  --chat             wrap the prompt in a ChatML user turn and open the assistant's
  --max-tokens N     most tokens to generate (default 64; the node caps it)
  --temperature T    0 (default) = greedy; else in (0, 100], with --seed
  --top-k K, --top-p P   sampling cuts (default none)
  --seed S           the sampling seed (8 bytes little-endian); a canister takes 32 bytes
                     from the random beacon
--json prints the final GenerateDone message as JSON instead of the summary.
)";

bool g_json = false;

int Fail(const std::string& what) {
  std::fprintf(stderr, "dnctl: %s\n", what.c_str());
  return 1;
}

// A usage error: the message and exit status 2.
int Usage(std::string_view why) {
  std::fprintf(stderr, "dnctl: %s\n", std::string(why).c_str());
  return 2;
}
int Usage(const absl::Status& s) { return Usage(std::string(s.message())); }

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

int ScrapeMetrics(const std::string& path) {
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

// `path` made absolute (the daemon resolves paths from its own directory), or as
// given if the working directory is unknown.
std::string Absolute(const std::string& path) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(path, ec);
  return ec ? path : p.string();
}

// What a command gets: its positional arguments (after the command name), the flags
// given, and the daemon's channel (made only for commands that talk to it).
struct Invocation {
  std::vector<std::string> args;
  std::set<std::string> seen;
  std::string socket;
  std::shared_ptr<grpc::Channel> channel;
};

int GenModel(const Invocation& in) {
  const int64_t n = absl::GetFlag(FLAGS_n), k = absl::GetFlag(FLAGS_k);
  if (absl::Status s = cli::CheckRange("n", n, 1, int64_t{1} << 20); !s.ok()) return Usage(s);
  if (absl::Status s = cli::CheckRange("k", k, 1, int64_t{1} << 20); !s.ok()) return Usage(s);
  if (n * k > (int64_t{1} << 31)) return Usage("--n times --k must be at most 2^31");
  ops::SplitMix64 rng(in.seen.count("seed") ? absl::GetFlag(FLAGS_seed) : 1);
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
  const std::string& path = in.args[0];
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(&len), 8);
  f << header << w << scale;
  if (!f) return Fail("cannot write " + path);
  std::printf("wrote %s: w I8 [%lld,%lld], w.scale F32 [%lld]\n", path.c_str(), (long long)n,
              (long long)k, (long long)n);
  return 0;
}

int GenNpy(const Invocation& in) {
  NpyArray arr;
  auto shape = cli::ParseIntList("shape", absl::GetFlag(FLAGS_shape), 1, int64_t{1} << 31);
  if (!shape.ok()) return Usage(shape.status());
  int64_t count = 1;
  for (int64_t d : *shape) {
    if (count > (int64_t{1} << 31) / d) return Usage("--shape has more than 2^31 elements");
    count *= d;
  }
  arr.shape = *shape;
  const std::string dtype = absl::GetFlag(FLAGS_dtype);
  if (dtype != "int8" && dtype != "float32") return Usage("--dtype must be int8 or float32");
  ops::SplitMix64 rng(in.seen.count("seed") ? absl::GetFlag(FLAGS_seed) : 2);
  if (dtype == "float32") {
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
  absl::Status s = WriteNpy(in.args[0], arr);
  return s.ok() ? 0 : Fail(std::string(s.message()));
}

int MatMul(const Invocation& in) {
  v1::Accelerator::Stub acc(in.channel);
  v1::Store::Stub store(in.channel);
  auto kind = ops::OpKindFromName(absl::GetFlag(FLAGS_op));
  if (!kind.ok() || !ops::IsMatMul(*kind)) {
    std::vector<std::string> names;
    for (ops::OpKind k : ops::kMatMulOpKinds) names.push_back(ops::OpKindName(k));
    return Fail(absl::StrCat("unknown --op ", absl::GetFlag(FLAGS_op),
                             " (matmul ops: ", absl::StrJoin(names, ", "), ")"));
  }
  auto A = ReadNpy(absl::GetFlag(FLAGS_a));
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
  if (!absl::GetFlag(FLAGS_a_scale).empty()) {
    auto s = ReadNpy(absl::GetFlag(FLAGS_a_scale));
    if (!s.ok()) return Fail(std::string(s.status().message()));
    req.set_a_scale(s->data);
  }
  if (!absl::GetFlag(FLAGS_w).empty()) {
    auto W = ReadNpy(absl::GetFlag(FLAGS_w));
    if (!W.ok()) return Fail(std::string(W.status().message()));
    if (W->shape.empty()) return Fail("W must be [N, ...]");
    n = W->shape[0];
    req.mutable_inline_weights()->set_w(W->data);
    if (!absl::GetFlag(FLAGS_w_scale).empty()) {
      auto s = ReadNpy(absl::GetFlag(FLAGS_w_scale));
      if (!s.ok()) return Fail(std::string(s.status().message()));
      req.mutable_inline_weights()->set_w_scale(s->data);
    }
  } else {
    std::string model = absl::GetFlag(FLAGS_model), tensor = absl::GetFlag(FLAGS_tensor);
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
    req.mutable_weight_ref()->set_scale_tensor(absl::GetFlag(FLAGS_scale_tensor));
  }
  req.set_n(n);
  grpc::ClientContext ctx;
  v1::MatMulResponse resp;
  grpc::Status st = acc.MatMul(&ctx, req, &resp);
  if (!st.ok()) return FailRpc(st);
  if (!absl::GetFlag(FLAGS_out).empty()) {
    NpyArray out;
    out.descr = *kind == ops::OpKind::kMatMulS8S32 ? "<i4" : "<f4";
    out.shape = {m, n};
    out.data = resp.out();
    if (absl::Status s = WriteNpy(absl::GetFlag(FLAGS_out), out); !s.ok())
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
    if (result.custom_class()) {
      std::printf("custom class: not the operator's class file of that name, so the node's "
                  "admitted class is unchanged\n");
    }
    std::printf("report_digest %s\nreport: %s\n", result.report_digest().c_str(),
                Absolute(out).c_str());
  }
  return result.admitted() ? 0 : 1;
}

int Metrics(const Invocation& in) {
  std::string path = absl::GetFlag(FLAGS_metrics_socket);
  if (path.empty()) {
    path = (std::filesystem::path(in.socket).parent_path() / "datanoded-metrics.sock").string();
  }
  return ScrapeMetrics(path);
}

int Info(const Invocation& in) {
  v1::Accelerator::Stub acc(in.channel);
  grpc::ClientContext ctx;
  v1::GetNodeInfoResponse r;
  grpc::Status st = acc.GetNodeInfo(&ctx, {}, &r);
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

int Put(const Invocation& in) {
  v1::Store::Stub store(in.channel);
  const std::string& path = in.args[0];
  std::ifstream f(path, std::ios::binary);
  if (!f) return Fail("cannot read " + path);
  grpc::ClientContext ctx;
  v1::BlobInfo info;
  auto writer = store.PutBlob(&ctx, &info);
  v1::PutBlobRequest req;
  req.set_expected_digest(absl::GetFlag(FLAGS_expect));
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
  grpc::Status st = writer->Finish();
  if (!st.ok()) return FailRpc(st);
  if (g_json) return Print(info), 0;
  std::printf("%s %lld\n", info.digest().c_str(), (long long)info.size());
  return 0;
}

int Get(const Invocation& in) {
  v1::Store::Stub store(in.channel);
  const std::string &digest = in.args[0], &out = in.args[1];
  grpc::ClientContext ctx;
  v1::GetBlobRequest req;
  req.set_digest(digest);
  auto reader = store.GetBlob(&ctx, req);
  const std::string tmp = out + ".partial";
  std::ofstream f(tmp, std::ios::binary);
  if (!f) return Fail("cannot write " + tmp);
  v1::GetBlobResponse piece;
  int64_t total = 0;
  while (reader->Read(&piece)) {
    f.write(piece.data().data(), static_cast<std::streamsize>(piece.data().size()));
    total += static_cast<int64_t>(piece.data().size());
  }
  f.close();
  grpc::Status st = reader->Finish();
  std::error_code ec;
  if (!st.ok() || !f) {
    std::filesystem::remove(tmp, ec);  // never leave unverified bytes behind
    return st.ok() ? Fail("cannot write " + tmp) : FailRpc(st);
  }
  std::filesystem::rename(tmp, out, ec);
  if (ec) return Fail(absl::StrCat("cannot write ", out, ": ", ec.message()));
  std::printf("%s %lld bytes -> %s\n", digest.c_str(), (long long)total, out.c_str());
  return 0;
}

int Stat(const Invocation& in) {
  v1::Store::Stub store(in.channel);
  grpc::ClientContext ctx;
  v1::StatBlobRequest req;
  req.set_digest(in.args[0]);
  v1::BlobInfo info;
  grpc::Status st = store.StatBlob(&ctx, req, &info);
  if (!st.ok()) return FailRpc(st);
  if (g_json) return Print(info), 0;
  std::printf("%s %lld bytes, %d chunks\n", info.digest().c_str(), (long long)info.size(),
              info.chunks_size());
  return 0;
}

int List(const Invocation& in) {
  v1::Store::Stub store(in.channel);
  grpc::ClientContext ctx;
  v1::ListBlobsResponse r;
  grpc::Status st = store.ListBlobs(&ctx, {}, &r);
  if (!st.ok()) return FailRpc(st);
  if (g_json) return Print(r), 0;
  for (const auto& b : r.blobs()) std::printf("%s %lld\n", b.digest().c_str(), (long long)b.size());
  return 0;
}

int Delete(const Invocation& in) {
  v1::Store::Stub store(in.channel);
  grpc::ClientContext ctx;
  v1::DeleteBlobRequest req;
  req.set_digest(in.args[0]);
  v1::DeleteBlobResponse r;
  grpc::Status st = store.DeleteBlob(&ctx, req, &r);
  return st.ok() ? (std::printf("deleted %s\n", in.args[0].c_str()), 0) : FailRpc(st);
}

int Import(const Invocation& in) {
  if (in.args[0].empty()) return Usage("import: PATH must not be empty");
  v1::Store::Stub store(in.channel);
  grpc::ClientContext ctx;
  v1::ImportModelRequest req;
  req.set_path(Absolute(in.args[0]));
  // Progress (bytes stored and MB/s) only to a terminal; the result is the last message.
  const bool show = !g_json && ::isatty(STDERR_FILENO);
  const auto start = std::chrono::steady_clock::now();
  auto reader = store.ImportModelStream(&ctx, req);
  v1::ImportModelUpdate update;
  v1::ModelInfo info;
  while (reader->Read(&update)) {
    if (update.has_model()) info = update.model();
    if (!show) continue;
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "\rimporting: %.1f / %.1f MB, %.0f MB/s   ",
                 static_cast<double>(update.bytes_done()) / 1e6,
                 static_cast<double>(update.bytes_total()) / 1e6,
                 s > 0 ? static_cast<double>(update.bytes_done()) / 1e6 / s : 0.0);
  }
  if (show) std::fprintf(stderr, "\n");
  grpc::Status st = reader->Finish();
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

int Models(const Invocation& in) {
  v1::Store::Stub store(in.channel);
  grpc::ClientContext ctx;
  v1::ListModelsResponse r;
  grpc::Status st = store.ListModels(&ctx, {}, &r);
  if (!st.ok()) return FailRpc(st);
  if (g_json) return Print(r), 0;
  for (const auto& m : r.models()) {
    std::printf("%s %s %lld\n", m.digest().c_str(), v1::ModelFormat_Name(m.format()).c_str(),
                (long long)m.source_size());
  }
  return 0;
}

int Model(const Invocation& in) {
  v1::Store::Stub store(in.channel);
  grpc::ClientContext ctx;
  v1::GetModelRequest req;
  req.set_digest(in.args[0]);
  v1::ModelInfo info;
  grpc::Status st = store.GetModel(&ctx, req, &info);
  if (!st.ok()) return FailRpc(st);
  return Print(info), 0;
}

int DeleteModel(const Invocation& in) {
  v1::Store::Stub store(in.channel);
  grpc::ClientContext ctx;
  v1::DeleteModelRequest req;
  req.set_digest(in.args[0]);
  v1::DeleteModelResponse r;
  grpc::Status st = store.DeleteModel(&ctx, req, &r);
  return st.ok() ? (std::printf("deleted model %s\n", in.args[0].c_str()), 0) : FailRpc(st);
}

int Tokenize(const Invocation& in) {
  if (!in.seen.count("model")) return Usage("tokenize needs --model DIGEST");
  std::unique_ptr<v1::Inference::Stub> inference = v1::Inference::NewStub(in.channel);
  grpc::ClientContext ctx;
  v1::TokenizeRequest req;
  req.set_model_digest(absl::GetFlag(FLAGS_model));
  req.set_text(absl::GetFlag(FLAGS_prompt));
  req.set_add_special(absl::GetFlag(FLAGS_add_special));
  v1::TokenizeResponse r;
  grpc::Status st = inference->Tokenize(&ctx, req, &r);
  if (!st.ok()) return FailRpc(st);
  if (g_json) return Print(r), 0;
  std::printf("%s\n", absl::StrJoin(r.token_ids(), " ").c_str());
  return 0;
}

int Generate(const Invocation& in) {
  if (!in.seen.count("model")) return Usage("generate needs --model DIGEST");
  if (!in.seen.count("prompt")) return Usage("generate needs --prompt TEXT");
  std::unique_ptr<v1::Inference::Stub> inference = v1::Inference::NewStub(in.channel);
  grpc::ClientContext ctx;
  v1::GenerateRequest req;
  req.set_model_digest(absl::GetFlag(FLAGS_model));
  req.set_text(absl::GetFlag(FLAGS_prompt));
  req.set_chat(absl::GetFlag(FLAGS_chat));
  req.set_max_tokens(absl::GetFlag(FLAGS_max_tokens));
  v1::SamplingParams* sp = req.mutable_sampling();
  sp->set_temperature(absl::GetFlag(FLAGS_temperature));
  sp->set_top_k(absl::GetFlag(FLAGS_top_k));
  sp->set_top_p(absl::GetFlag(FLAGS_top_p));
  if (in.seen.count("seed")) {
    std::string seed(8, '\0');
    const uint64_t v = absl::GetFlag(FLAGS_seed);
    for (int i = 0; i < 8; ++i) seed[i] = static_cast<char>(v >> (8 * i));
    sp->set_seed(seed);
  }
  std::unique_ptr<grpc::ClientReader<v1::GenerateResponse>> reader = inference->Generate(&ctx, req);
  v1::GenerateResponse m;
  v1::GenerateDone done;
  bool have_done = false;
  while (reader->Read(&m)) {
    if (m.has_token()) {
      if (!g_json && !m.token().control()) {
        std::fwrite(m.token().piece().data(), 1, m.token().piece().size(), stdout);
        std::fflush(stdout);
      }
    } else if (m.has_done()) {
      done = m.done();
      have_done = true;
    }
  }
  grpc::Status st = reader->Finish();
  if (!g_json) std::fputc('\n', stdout);
  std::fflush(stdout);
  if (!st.ok()) return FailRpc(st);
  if (!have_done) return Fail("the stream ended without GenerateDone");
  if (g_json) return Print(done), 0;
  auto rate = [](double tokens, double seconds) { return seconds > 0 ? tokens / seconds : 0.0; };
  // The first token is sampled from the prefill's logits; each later one costs a pass.
  const int decoded = std::max(done.generated_tokens() - 1, 0);
  std::fprintf(stderr,
               "prefill: %d tokens in %.3f s = %.1f tok/s\n"
               "decode:  %d tokens in %.3f s = %.1f tok/s (%d generated, stop: %s)\n"
               "tokens digest:       %s\nfinal logits digest: %s\n"
               "cycles: %llu (one node)  backend: %s  spec version %d\n",
               done.prompt_tokens(), done.prefill_seconds(),
               rate(done.prompt_tokens(), done.prefill_seconds()), decoded, done.decode_seconds(),
               rate(decoded, done.decode_seconds()), done.generated_tokens(),
               v1::StopReason_Name(done.stop_reason()).c_str(), done.tokens_digest().c_str(),
               done.final_logits_digest().c_str(), (unsigned long long)done.cycles(),
               done.backend().c_str(), done.spec_version());
  return 0;
}

// The subcommands. A new one is a function and a row here.
struct Command {
  const char* name;
  const char* args;  // positional arguments, for the usage line
  int nargs;         // how many positional arguments it takes
  const char* summary;
  std::vector<std::string_view> flags;  // besides the global --socket and --json
  bool daemon;                          // talks to datanoded (needs the channel)
  int (*run)(const Invocation&);
  const char* help = nullptr;  // a longer --help text, if any
};

const std::vector<Command>& Commands() {
  static const std::vector<Command> kCommands = {
      {"info",
       "",
       0,
       "node info: backends, spec version, store, pinning, admitted class",
       {},
       true,
       Info},
      {"put", "FILE", 1, "upload a blob (streamed), print its digest", {"expect"}, true, Put},
      {"get", "DIGEST OUT", 2, "download a blob (verified) to OUT", {}, true, Get},
      {"stat", "DIGEST", 1, "a blob's size and chunks", {}, true, Stat},
      {"list", "", 0, "list blobs", {}, true, List},
      {"delete", "DIGEST", 1, "delete a blob", {}, true, Delete},
      {"import",
       "PATH",
       1,
       "import a safetensors / GGUF file on the node's disk",
       {},
       true,
       Import},
      {"models", "", 0, "list models", {}, true, Models},
      {"model", "DIGEST", 1, "a model's manifest", {}, true, Model},
      {"delete-model", "DIGEST", 1, "delete a model", {}, true, DeleteModel},
      {"matmul",
       "",
       0,
       "run a MatMul; prints the output digest and cycles charged",
       {"op", "a", "a_scale", "w", "w_scale", "model", "tensor", "scale_tensor", "out"},
       true,
       MatMul,
       kMatMulHelp},
      {"metrics", "", 0, "print the Prometheus metrics", {"metrics_socket"}, false, Metrics},
      {"gen-model",
       "OUT.safetensors",
       1,
       "write a small model: \"w\" I8 [N,K], \"w.scale\" F32 [N]",
       {"n", "k", "seed"},
       false,
       GenModel},
      {"gen-npy",
       "OUT.npy",
       1,
       "write a random .npy array",
       {"shape", "dtype", "seed"},
       false,
       GenNpy},
      {"admission",
       "",
       0,
       "run the admission test on the node",
       {"class", "nonce", "profile", "backend", "out"},
       true,
       Admission,
       kAdmissionHelp},
      {"generate",
       "",
       0,
       "generate text with a GGUF model; streams it, then prints tok/s and the tokens digest",
       {"model", "prompt", "max_tokens", "seed", "temperature", "top_k", "top_p", "chat"},
       true,
       Generate,
       kGenerateHelp},
      {"tokenize",
       "",
       0,
       "a GGUF model's token ids for --prompt (--model DIGEST)",
       {"model", "prompt", "add_special"},
       true,
       Tokenize},
  };
  return kCommands;
}

const std::vector<std::string_view> kGlobalFlags = {"socket", "json"};

std::string UsageText() {
  std::string out = kUsage;
  for (const Command& c : Commands()) {
    absl::StrAppend(&out, "  ", c.name, *c.args ? " " : "", c.args, "\n      ", c.summary, "\n");
  }
  absl::StrAppend(&out, "\nGlobal flags:\n", cli::DescribeFlags(kGlobalFlags));
  return out;
}

int Run(int argc, char** argv) {
  // The command is the first positional argument; the flags it accepts are known only
  // once it is, so find it first (global flags may come before it).
  const Command* cmd = nullptr;
  for (int i = 1; i < argc && cmd == nullptr; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg.size() > 2 && arg.substr(0, 2) == "--") {
      // A global flag's separate value is not the command.
      std::string name(arg.substr(2));
      if ((name == "socket") && i + 1 < argc) ++i;
      continue;
    }
    if (arg == "-h") continue;
    for (const Command& c : Commands()) {
      if (arg == c.name) cmd = &c;
    }
    if (cmd == nullptr) {
      return Usage(
          absl::StrCat("unknown command '", std::string(arg), "' (dnctl --help lists them)"));
    }
  }
  std::vector<std::string_view> allowed = kGlobalFlags;
  if (cmd != nullptr) allowed.insert(allowed.end(), cmd->flags.begin(), cmd->flags.end());
  auto line = cli::ParseCommandLine(argc, argv, 1, allowed);
  if (!line.ok()) {
    return Usage(absl::StrCat(line.status().message(),
                              cmd ? absl::StrCat(" (dnctl ", cmd->name, " --help)") : ""));
  }
  if (line->help) {
    if (cmd == nullptr) {
      std::fputs(UsageText().c_str(), stdout);
    } else if (cmd->help != nullptr) {
      std::fputs(cmd->help, stdout);
    } else {
      std::printf("usage: dnctl %s%s%s [FLAGS]\n\n%s\n", cmd->name, *cmd->args ? " " : "",
                  cmd->args, cmd->summary);
      std::vector<std::string_view> names = kGlobalFlags;
      names.insert(names.end(), cmd->flags.begin(), cmd->flags.end());
      std::printf("\nFlags:\n%s", cli::DescribeFlags(names).c_str());
    }
    return 0;
  }
  if (cmd == nullptr) {
    std::fputs(UsageText().c_str(), stderr);
    return 2;
  }
  Invocation in;
  in.args.assign(line->positional.begin() + 1, line->positional.end());
  if (static_cast<int>(in.args.size()) != cmd->nargs) {
    return Usage(absl::StrCat(cmd->name, " takes ", cmd->nargs == 0 ? "no" : cmd->args,
                              cmd->nargs == 0 ? " arguments" : "", ", got ", in.args.size(),
                              " (dnctl ", cmd->name, " --help)"));
  }
  in.seen = line->seen;
  g_json = absl::GetFlag(FLAGS_json);
  in.socket = absl::GetFlag(FLAGS_socket);
  if (in.socket.empty()) {
    const char* env_socket = std::getenv("DATANODE_SOCKET");
    in.socket = env_socket ? env_socket : "run/datanoded.sock";
  }
  if (cmd->daemon) {
    grpc::ChannelArguments chargs;
    chargs.SetMaxReceiveMessageSize(-1);
    chargs.SetMaxSendMessageSize(-1);
    in.channel =
        grpc::CreateCustomChannel("unix:" + in.socket, grpc::InsecureChannelCredentials(), chargs);
  }
  return cmd->run(in);
}

}  // namespace
}  // namespace datanode::node

int main(int argc, char** argv) { return datanode::node::Run(argc, argv); }
