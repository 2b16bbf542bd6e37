// Copyright 2026 The datanode Authors.
//
// dnctl matmul: one MatMul call with operands from .npy files.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "datanode/ops/backend.h"
#include "datanode/v1/accelerator.grpc.pb.h"
#include "datanode/v1/store.grpc.pb.h"
#include "node/cli/dnctl_command.h"
#include "node/cli/npy.h"

ABSL_FLAG(std::string, op, "matmul_s8_s32", "matmul: the op");
ABSL_FLAG(std::string, a, "", "matmul: A as .npy (int8 [M,K] for s8 ops, float32 for Q8 ops)");
ABSL_FLAG(std::string, a_scale, "", "matmul: A's scales as .npy");
ABSL_FLAG(std::string, w, "", "matmul: inline weights W as .npy [N,K]");
ABSL_FLAG(std::string, w_scale, "", "matmul: inline weight scales as .npy");
ABSL_FLAG(std::string, tensor, "", "matmul: weights by reference: the tensor name");
ABSL_FLAG(std::string, scale_tensor, "", "matmul: by reference: the scale tensor name");

namespace datanode::node::dnctl {
namespace {

constexpr char kMatMulHelp[] =
    R"(usage: dnctl matmul --op OP --a A.npy (--w W.npy | --model DIGEST --tensor NAME)
                    [--a-scale S.npy] [--w-scale S.npy] [--scale-tensor NAME] [--out C.npy]

OP: a matmul op of docs/determinism.md, matmul_s8_s32 by default (an unknown OP prints
the list). A is int8 [M,K] for s8 ops, float32 [M,K] for Q8 ops (quantized here with the
spec's quantize_q8_0). Weights are inline (--w, [N,K]) or by reference to an
imported model's tensor (N from its shape). Prints the output digest and cycles charged;
--out writes C as .npy.
)";

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
  if (!A.ok()) return Fail(A.status());
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
    if (!ref.ok()) return Fail(ref.status());
    auto sizes = ops::ComputeOperandSizes(ops::OpKind::kQuantizeQ8_0, m, 0, k);
    if (!sizes.ok()) return Fail(sizes.status());
    std::string q(static_cast<size_t>(sizes->out), '\0');
    ops::OpArgs qa;
    qa.kind = ops::OpKind::kQuantizeQ8_0;
    qa.m = m;
    qa.k = k;
    qa.a = {reinterpret_cast<const uint8_t*>(A->data.data()), A->data.size()};
    qa.out = {reinterpret_cast<uint8_t*>(q.data()), q.size()};
    if (absl::Status s = ops::RunOp(**ref, qa); !s.ok()) return Fail(s);
    req.set_a(q);
  }
  if (!absl::GetFlag(FLAGS_a_scale).empty()) {
    auto s = ReadNpy(absl::GetFlag(FLAGS_a_scale));
    if (!s.ok()) return Fail(s.status());
    req.set_a_scale(s->data);
  }
  if (!absl::GetFlag(FLAGS_w).empty()) {
    auto W = ReadNpy(absl::GetFlag(FLAGS_w));
    if (!W.ok()) return Fail(W.status());
    if (W->shape.empty()) return Fail("W must be [N, ...]");
    n = W->shape[0];
    req.mutable_inline_weights()->set_w(W->data);
    if (!absl::GetFlag(FLAGS_w_scale).empty()) {
      auto s = ReadNpy(absl::GetFlag(FLAGS_w_scale));
      if (!s.ok()) return Fail(s.status());
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
    if (absl::Status s = WriteNpy(absl::GetFlag(FLAGS_out), out); !s.ok()) return Fail(s);
  }
  if (in.json) {
    resp.clear_out();
    PrintJson(resp);
  } else {
    std::printf("op %s M=%lld N=%lld K=%lld backend %s spec v%d\noutput_digest %s\ncycles %llu\n",
                ops::OpKindName(*kind), (long long)m, (long long)n, (long long)k,
                resp.backend().c_str(), resp.spec_version(), resp.output_digest().c_str(),
                (unsigned long long)resp.cycles());
  }
  return 0;
}

}  // namespace

std::vector<Command> MatMulCommands() {
  return {
      {"matmul",
       "",
       0,
       "run a MatMul; prints the output digest and cycles charged",
       {"op", "a", "a_scale", "w", "w_scale", "model", "tensor", "scale_tensor", "out"},
       true,
       MatMul,
       kMatMulHelp},
  };
}

}  // namespace datanode::node::dnctl
