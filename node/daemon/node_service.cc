// Copyright 2026 The datanode Authors.
#include "node/daemon/node_service.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "datanode/ops/digest.h"
#include "datanode/ops/status_macros.h"
#include "datanode/ops/validate.h"
#include "node/shim/pricing.h"

namespace datanode::node {
namespace {

// The stored dtype a matmul's weights must have: the op table's w_dtype, by name.
TensorDtype WeightDtypeFor(ops::OpKind kind) {
  const ops::OpInfo* info = ops::FindOpInfo(kind);
  if (info == nullptr || !info->is_matmul) return TensorDtype::kUnspecified;
  absl::StatusOr<TensorDtype> dtype = TensorDtypeFromName(info->w_dtype);
  return dtype.ok() ? *dtype : TensorDtype::kUnspecified;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

}  // namespace

absl::StatusOr<uint64_t> MatMulCycles(ops::OpKind kind, int64_t m, int64_t n, int64_t k) {
  ASSIGN_OR_RETURN(const ops::OperandSizes sizes, ops::ComputeOperandSizes(kind, m, n, k));
  (void)sizes;  // ComputeOperandSizes bounds m, n, k far inside uint32
  ASSIGN_OR_RETURN(const shim::PriceTerms terms,
                   shim::MatMulPriceTerms(1, kind, static_cast<uint32_t>(m),
                                          static_cast<uint32_t>(n), static_cast<uint32_t>(k),
                                          /*arg_bytes=*/0));
  const absl::uint128 cycles = shim::ComputeCycles(terms);
  return cycles > absl::uint128(UINT64_MAX) ? UINT64_MAX : static_cast<uint64_t>(cycles);
}

absl::StatusOr<uint64_t> CheckCycles(ops::OpKind kind, int64_t m, int64_t n, int64_t k) {
  ASSIGN_OR_RETURN(const ops::OperandSizes sizes, ops::ComputeOperandSizes(kind, m, n, k));
  (void)sizes;
  const absl::uint128 cycles = shim::CheckCycles(static_cast<uint32_t>(m), static_cast<uint32_t>(n),
                                                 static_cast<uint32_t>(k));
  return cycles > absl::uint128(UINT64_MAX) ? UINT64_MAX : static_cast<uint64_t>(cycles);
}

void NodeService::EnableVerifiedMode(shim::NodeKey key, TestFault fault) {
  verifying_ = std::make_unique<VerifyingNode>(std::move(key), &budget_);
  fault_ = fault;
}

absl::Status NodeService::EnableVerifiedMode(const std::string& key_path,
                                             std::string_view test_fault) {
  ASSIGN_OR_RETURN(TestFault fault, ParseTestFault(test_fault));
  ASSIGN_OR_RETURN(shim::NodeKey key, shim::NodeKey::FromPemFile(key_path));
  EnableVerifiedMode(std::move(key), fault);
  return absl::OkStatus();
}

int64_t NodeService::verifier_memory_bytes() const {
  return verifying_ == nullptr ? 0 : verifying_->memory_bytes();
}

absl::StatusOr<VerifyingNode::Weights> NodeService::ReadRawWeights(const MatMulCall& call,
                                                                   MatMulTicket& ticket) {
  ASSIGN_OR_RETURN(ModelManifest manifest, models_->Get(call.model));
  int64_t bytes = 0;
  for (const std::string* name : {&call.tensor, &call.scale_tensor}) {
    if (const TensorInfo* t = manifest.Find(*name); t != nullptr) bytes += t->size;
  }
  ASSIGN_OR_RETURN(MemoryBudget::Reservation held,
                   budget_.Reserve(bytes, absl::StrCat("reading tensor '", call.tensor, "'")));
  ticket.held.push_back(std::move(held));
  VerifyingNode::Weights w;
  TensorInfo info;
  ASSIGN_OR_RETURN(w.w, models_->ReadTensor(call.model, call.tensor, &info));
  if (call.kind == ops::OpKind::kMatMulS8F32) {
    ASSIGN_OR_RETURN(w.w_scale, models_->ReadTensor(call.model, call.scale_tensor, &info));
  }
  return w;
}

absl::StatusOr<MatMulResult> NodeService::VerifyAnswer(const MatMulCall& call,
                                                       const ops::OpArgs& args,
                                                       MatMulTicket& ticket) {
  if (verifying_ == nullptr) {
    return absl::FailedPreconditionError("verified mode is not enabled on this node (no node key)");
  }
  MatMulResult result;
  ASSIGN_OR_RETURN(result.cycles, CheckCycles(call.kind, call.m, call.n, call.k));
  std::string tensor_id;
  VerifyingNode::LoadFn load;
  if (call.by_reference) {
    // The manifest checks (format, shape) and the prepared weights beside which the
    // verifier state lives. A model digest names its bytes, so (model, tensor) is the
    // tensor's content address.
    ASSIGN_OR_RETURN(std::shared_ptr<const ops::PreparedWeights> prepared,
                     LoadWeights(call, ticket));
    (void)prepared;
    tensor_id = absl::StrCat(ops::ToHex(call.model), "/", call.tensor.size(), ":", call.tensor, "/",
                             call.scale_tensor);
    load = [&]() { return ReadRawWeights(call, ticket); };
  } else {
    tensor_id = ops::ToHex(ops::Sha256Of({call.w, call.w_scale}));
    load = [&]() -> absl::StatusOr<VerifyingNode::Weights> {
      return VerifyingNode::Weights{{call.w.begin(), call.w.end()},
                                    {call.w_scale.begin(), call.w_scale.end()}};
    };
  }
  ASSIGN_OR_RETURN(result.verification,
                   verifying_->Verify(args, tensor_id, load, call.answer.out, call.answer.exact,
                                      call.answer.epoch, call.answer.request_digest,
                                      call.answer.computing_node));
  result.output_digest = ops::ToHex(result.verification->output_digest);
  return result;
}

absl::StatusOr<std::shared_ptr<const ops::PreparedWeights>> NodeService::LoadWeights(
    const MatMulCall& call, MatMulTicket& ticket) {
  std::string key = absl::StrCat(ops::ToHex(call.model), "/", static_cast<int>(call.kind), "/",
                                 call.tensor.size(), ":", call.tensor, "/", call.scale_tensor);
  if (auto hit = cache_.Get(key)) {
    if (hit->n() != call.n || hit->k() != call.k) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", call.tensor, "' has shape [", hit->n(), ",", hit->k(),
                       "], request needs [N,K]=[", call.n, ",", call.k, "]"));
    }
    return hit;
  }
  // Format, shape and size come from the manifest, so a tensor that does not fit the
  // call or the memory budget is refused before a byte of it is read.
  ASSIGN_OR_RETURN(ModelManifest manifest, models_->Get(call.model));
  auto find = [&](const std::string& name) -> absl::StatusOr<const TensorInfo*> {
    const TensorInfo* t = manifest.Find(name);
    if (t == nullptr) {
      return absl::NotFoundError(absl::StrCat("model ", ops::ToHex(call.model), " has no tensor '",
                                              name.substr(0, 256), "'"));
    }
    return t;
  };
  ASSIGN_OR_RETURN(const TensorInfo* info, find(call.tensor));
  TensorDtype want = WeightDtypeFor(call.kind);
  if (info->dtype != want) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor '", call.tensor, "' is ", TensorDtypeName(info->dtype), ", ",
                     ops::OpKindName(call.kind), " needs ", TensorDtypeName(want), " weights"));
  }
  if (info->shape != std::vector<int64_t>{call.n, call.k}) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor '", call.tensor, "' has shape ", ShapeString(info->shape),
                     ", request needs [N,K]=[", call.n, ",", call.k, "]"));
  }
  int64_t scale_bytes = 0;
  if (call.kind == ops::OpKind::kMatMulS8F32) {
    if (call.scale_tensor.empty())
      return absl::InvalidArgumentError("matmul_s8_f32 by reference needs a scale_tensor");
    ASSIGN_OR_RETURN(const TensorInfo* sinfo, find(call.scale_tensor));
    if (sinfo->dtype != TensorDtype::kF32 || sinfo->shape != std::vector<int64_t>{call.n}) {
      return absl::InvalidArgumentError(
          absl::StrCat("scale tensor '", call.scale_tensor, "' is ", TensorDtypeName(sinfo->dtype),
                       ShapeString(sinfo->shape), ", needs F32[", call.n, "]"));
    }
    scale_bytes = sinfo->size;
  } else if (!call.scale_tensor.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(ops::OpKindName(call.kind), " takes no scale_tensor"));
  }
  // The bytes read, plus the backend's prepared copy: the CPU backend's packed forms
  // take at most 2 bytes per weight (s8 panels ~1 B, Q8 quants unpacked to 1 B plus
  // per-block scales), and the raw form of the others is the bytes read again.
  const int64_t raw_bytes = info->size + scale_bytes;
  const int64_t prepared_bytes = std::max(raw_bytes, 2 * call.n * call.k + 4 * call.n);
  ASSIGN_OR_RETURN(MemoryBudget::Reservation weights,
                   budget_.Reserve(raw_bytes + prepared_bytes,
                                   absl::StrCat("loading tensor '", call.tensor, "'")));
  ticket.held.push_back(std::move(weights));
  TensorInfo read_info;
  ASSIGN_OR_RETURN(std::vector<uint8_t> w,
                   models_->ReadTensor(call.model, call.tensor, &read_info));
  std::vector<uint8_t> w_scale;
  if (call.kind == ops::OpKind::kMatMulS8F32) {
    ASSIGN_OR_RETURN(w_scale, models_->ReadTensor(call.model, call.scale_tensor, &read_info));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<ops::PreparedWeights> prepared,
                   backend_->PrepareWeights(call.kind, call.n, call.k, w, w_scale));
  std::shared_ptr<const ops::PreparedWeights> shared = std::move(prepared);
  cache_.Put(key, shared);
  return shared;
}

absl::StatusOr<MatMulTicket> NodeService::AdmitMatMul(const MatMulCall& call,
                                                      int64_t request_bytes) {
  if (!ops::IsMatMul(call.kind)) return absl::InvalidArgumentError("op is not a matmul");
  MatMulTicket ticket;
  ASSIGN_OR_RETURN(ticket.sizes, ops::ComputeOperandSizes(call.kind, call.m, call.n, call.k));
  const ops::OperandSizes& sz = ticket.sizes;
  auto check = [&](const char* operand, ops::ByteSpan got, int64_t want) -> absl::Status {
    if (static_cast<int64_t>(got.size()) == want) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat(ops::OpKindName(call.kind), ": operand ",
                                                   operand, " has ", got.size(),
                                                   " bytes, the shape needs ", want));
  };
  RETURN_IF_ERROR(check("A", call.a, sz.a));
  RETURN_IF_ERROR(check("a_scale", call.a_scale, sz.a_scale));
  if (!call.by_reference) {
    RETURN_IF_ERROR(check("W", call.w, sz.w));
    RETURN_IF_ERROR(check("w_scale", call.w_scale, sz.w_scale));
  }
  int64_t reply = sz.out;
  if (call.exact_output || call.verify) {
    if (!ops::verify::IsVerifiable(call.kind)) {
      return absl::InvalidArgumentError(
          absl::StrCat(ops::OpKindName(call.kind), " has no verified mode"));
    }
    if (call.exact_output && call.verify) {
      return absl::InvalidArgumentError("exact_output and verify exclude each other");
    }
    // The exact sums' buffer (int128 before CompactExactSums), or no output at all.
    reply = call.verify ? 0 : reply + ops::verify::ExactSumsBytes(call.kind, call.m, call.n);
  }
  if (reply > max_reply_bytes_) {
    return absl::ResourceExhaustedError(
        absl::StrCat(ops::OpKindName(call.kind), " [M,N,K]=[", call.m, ",", call.n, ",", call.k,
                     "] has an output of ", reply, " bytes, over the reply limit of ",
                     max_reply_bytes_, " (limits.max_reply_bytes); split the call by rows of A"));
  }
  ASSIGN_OR_RETURN(MemoryBudget::Reservation r,
                   budget_.Reserve(request_bytes + 2 * reply,
                                   absl::StrCat("a matmul with a ", reply, "-byte output")));
  ticket.held.push_back(std::move(r));
  return ticket;
}

absl::StatusOr<MatMulResult> NodeService::MatMul(const MatMulCall& call) {
  ASSIGN_OR_RETURN(MatMulTicket ticket, AdmitMatMul(call, 0));
  return MatMul(call, ticket);
}

absl::StatusOr<MatMulResult> NodeService::MatMul(const MatMulCall& call, MatMulTicket& ticket) {
  ops::OpArgs args;
  args.kind = call.kind;
  args.m = call.m;
  args.n = call.n;
  args.k = call.k;
  args.a = call.a;
  args.a_scale = call.a_scale;
  // Values before anything is allocated: a call with bad operands costs a scan of
  // what it sent, never an output buffer or a weight load. (RunOp checks again; the
  // scan is O(M*K + N*K) against the O(M*N*K) kernel.)
  RETURN_IF_ERROR(ops::ValidateInputValues(args));
  if (!call.by_reference) {
    RETURN_IF_ERROR(ops::ValidateWeightValues(call.kind, call.n, call.k, call.w, call.w_scale));
  }
  if (call.verify) return VerifyAnswer(call, args, ticket);
  MatMulResult result;
  ASSIGN_OR_RETURN(result.cycles, MatMulCycles(call.kind, call.m, call.n, call.k));
  std::shared_ptr<const ops::PreparedWeights> prepared;
  if (call.by_reference) {
    ASSIGN_OR_RETURN(prepared, LoadWeights(call, ticket));
  }
  // Allocated last, once everything else has been checked and reserved.
  result.out.resize(static_cast<size_t>(ticket.sizes.out));
  args.out = ops::MutableByteSpan(result.out);
  if (prepared != nullptr) {
    args.w_prepared = prepared.get();
  } else {
    args.w = call.w;
    args.w_scale = call.w_scale;
  }
  if (call.exact_output) {
    VerifyingNode::Weights raw;
    if (call.by_reference) {
      ASSIGN_OR_RETURN(raw, ReadRawWeights(call, ticket));
    }
    ASSIGN_OR_RETURN(ExactAnswer answer,
                     computing_.Answer(*backend_, args, call.by_reference ? raw.w : call.w,
                                       call.by_reference ? raw.w_scale : call.w_scale, fault_));
    result.out = std::move(answer.out);
    result.exact = std::move(answer.exact);
    args.out = ops::MutableByteSpan(result.out);
  } else {
    RETURN_IF_ERROR(ops::RunOp(*backend_, args));
  }
  result.output_digest = ops::OutputDigestHex(args);
  return result;
}

absl::Status NodeService::DeleteModel(const Sha256& model) {
  RETURN_IF_ERROR(models_->Delete(model));
  cache_.ErasePrefix(ops::ToHex(model) + "/");
  return absl::OkStatus();
}

absl::Status NodeService::DeleteBlob(const Sha256& object) {
  if (models_->References(object)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "blob ", ops::ToHex(object), " belongs to an imported model; delete the model instead"));
  }
  return store_->Delete(object);
}

absl::StatusOr<ImportResult> NodeService::ImportModel(
    const std::string& path, std::function<bool()> cancelled,
    std::function<void(int64_t bytes_done, int64_t bytes_total)> progress) {
  ImportOptions options = import_options_;
  options.cancelled = std::move(cancelled);
  options.progress = std::move(progress);
  return models_->ImportFile(path, options);
}

NodeInfo NodeService::Info() const {
  NodeInfo info;
  for (const std::string& name : ops::CompiledBackends()) {
    NodeInfo::BackendEntry e;
    e.name = name;
    e.serving = name == backend_->Name();
    if (e.serving) {
      e.description = backend_->Description();
      for (ops::OpKind k : ops::kAllOpKinds) {
        if (backend_->Supports(k)) e.supported_ops.push_back(ops::OpKindName(k));
      }
    }
    info.backends.push_back(std::move(e));
  }
  info.store_used = store_->used_bytes();
  info.store_capacity = store_->capacity_bytes();
  info.pinned = cache_.used_bytes();
  info.pin_budget = cache_.budget_bytes();
  info.verifier_bytes = verifier_memory_bytes();
  return info;
}

}  // namespace datanode::node
