// Copyright 2026 The datanode Authors.
#include "node/daemon/rpc_server.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <deque>
#include <optional>

#include "absl/strings/str_cat.h"
#include "datanode/ops/status_macros.h"
#include "datanode/v1/accelerator.grpc.pb.h"
#include "datanode/v1/admission_service.grpc.pb.h"
#include "datanode/v1/store.grpc.pb.h"
#include "device_classes/device_class_loader.h"
#include "grpcpp/server_posix.h"
#include "node/daemon/import_rpc.h"
#include "node/daemon/inference_rpc.h"
#include "node/daemon/queued_write_reactor.h"
#include "openssl/crypto.h"
#include "spdlog/spdlog.h"

namespace datanode::node {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

absl::StatusOr<Sha256> DigestArg(const std::string& hex, const char* field) {
  auto d = ParseDigestHex(hex);
  if (!d.ok()) return absl::InvalidArgumentError(absl::StrCat(field, ": ", d.status().message()));
  return d;
}

void ToProto(const ObjectInfo& info, bool with_chunks, v1::BlobInfo* out) {
  out->set_digest(ops::ToHex(info.digest));
  out->set_size(info.size);
  if (with_chunks) {
    for (const Sha256& c : info.chunks) out->add_chunks(ops::ToHex(c));
  }
}

void ToProto(const Sha256& digest, const ModelManifest& m, bool with_tensors, v1::ModelInfo* out) {
  out->set_digest(ops::ToHex(digest));
  out->set_format(static_cast<v1::ModelFormat>(m.format));
  out->set_source_digest(ops::ToHex(m.source));
  out->set_source_size(m.source_size);
  if (!with_tensors) return;
  for (const TensorInfo& t : m.tensors) {
    v1::TensorEntry* e = out->add_tensors();
    e->set_name(t.name);
    e->set_dtype(static_cast<v1::TensorDtype>(t.dtype));
    for (int64_t d : t.shape) e->add_shape(d);
    e->set_offset(t.offset);
    e->set_size(t.size);
    e->set_first_chunk(t.offset / kChunkBytes);
    e->set_last_chunk(t.size == 0 ? t.offset / kChunkBytes : (t.offset + t.size - 1) / kChunkBytes);
  }
}

ops::ByteSpan Span(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

absl::StatusOr<MatMulCall> FromProto(const v1::MatMulRequest& r) {
  MatMulCall c;
  const int op = static_cast<int>(r.op());
  // The proto enum mirrors the op table's matmul rows (tests/node/op_table_wire_test.cc).
  if (!v1::OpKind_IsValid(op) || !ops::IsMatMul(static_cast<ops::OpKind>(op))) {
    return absl::InvalidArgumentError(absl::StrCat("op ", op, " is not a matmul op"));
  }
  c.kind = static_cast<ops::OpKind>(op);
  c.m = r.m();
  c.n = r.n();
  c.k = r.k();
  c.a = Span(r.a());
  c.a_scale = Span(r.a_scale());
  switch (r.weights_case()) {
    case v1::MatMulRequest::kInlineWeights:
      c.w = Span(r.inline_weights().w());
      c.w_scale = Span(r.inline_weights().w_scale());
      break;
    case v1::MatMulRequest::kWeightRef: {
      c.by_reference = true;
      auto d = DigestArg(r.weight_ref().model_digest(), "weight_ref.model_digest");
      if (!d.ok()) return d.status();
      c.model = *d;
      c.tensor = r.weight_ref().tensor();
      c.scale_tensor = r.weight_ref().scale_tensor();
      break;
    }
    default:
      return absl::InvalidArgumentError("request has neither inline_weights nor weight_ref");
  }
  c.exact_output = r.exact_output();
  if (r.has_verify()) {
    const v1::VerifyAnswer& v = r.verify();
    c.verify = true;
    c.answer.out = Span(v.out());
    c.answer.exact = Span(v.exact_sums());
    c.answer.epoch = v.epoch();
    if (v.request_digest().size() != c.answer.request_digest.size()) {
      return absl::InvalidArgumentError("verify.request_digest must be 32 bytes");
    }
    std::memcpy(c.answer.request_digest.data(), v.request_digest().data(), 32);
    c.answer.computing_node = v.computing_node();
  }
  return c;
}

// Admits, runs `work` on the executor, finishes the reactor, records metrics. `work`
// may use the request and response: both live until Finish.
template <typename Work>
grpc::ServerUnaryReactor* Unary(const RpcDeps& d, grpc::CallbackServerContext* ctx,
                                const char* method, bool is_op, Work work) {
  auto* reactor = ctx->DefaultReactor();
  Clock::time_point start = Clock::now();
  auto lease = AdmitCaller(d, ctx, is_op);
  if (!lease.ok()) {
    d.metrics->RecordCall(method, lease.status().code(), Since(start));
    reactor->Finish(ToGrpc(lease.status()));
    return reactor;
  }
  d.executor->Submit(
      [d, reactor, method, start, work = std::move(work), lease = *std::move(lease)]() mutable {
        absl::Status s = CatchAllocFailure(work);
        d.metrics->RecordCall(method, s.code(), Since(start));
        if (!s.ok()) spdlog::debug("{} failed: {}", method, s.ToString());
        reactor->Finish(ToGrpc(s));
      });
  return reactor;
}

class AcceleratorImpl final : public v1::Accelerator::CallbackService {
 public:
  explicit AcceleratorImpl(RpcDeps d) : d_(d) {}

  grpc::ServerUnaryReactor* GetNodeInfo(grpc::CallbackServerContext* ctx,
                                        const v1::GetNodeInfoRequest*,
                                        v1::GetNodeInfoResponse* resp) override {
    return Unary(d_, ctx, "GetNodeInfo", false, [this, resp] {
      NodeInfo info = d_.service->Info();
      resp->set_daemon_version(DATANODE_VERSION);
      resp->set_spec_version(ops::kSpecVersion);
      for (const auto& b : info.backends) {
        v1::BackendInfo* pb = resp->add_backends();
        pb->set_name(b.name);
        pb->set_description(b.description);
        pb->set_serving(b.serving);
        for (const auto& op : b.supported_ops) pb->add_supported_ops(op);
      }
      resp->set_store_used_bytes(info.store_used);
      resp->set_store_capacity_bytes(info.store_capacity);
      resp->set_pinned_bytes(info.pinned);
      resp->set_pin_budget_bytes(info.pin_budget);
      resp->set_verifier_bytes(info.verifier_bytes);
      AdmittedState admitted = d_.admission->Admitted();
      resp->set_admitted_class(admitted.class_name);
      resp->set_admission_report_digest(admitted.report_digest);
      return absl::OkStatus();
    });
  }

  // MatMul is sized, checked and reserved on gRPC's thread (AdmitMatMul: O(1), no
  // disk), so an invalid or oversized call is answered at once, before it is queued or
  // anything is allocated for it. The ticket's memory stays reserved until gRPC is done
  // with the reply (OnDone), since the serialized reply is a second copy of the output.
  class MatMulReactor final : public grpc::ServerUnaryReactor {
   public:
    void OnDone() override { delete this; }
    CallerLimiter::Lease lease;
    MatMulCall call;
    MatMulTicket ticket;
  };

  grpc::ServerUnaryReactor* MatMul(grpc::CallbackServerContext* ctx, const v1::MatMulRequest* req,
                                   v1::MatMulResponse* resp) override {
    auto* reactor = new MatMulReactor;
    Clock::time_point start = Clock::now();
    auto finish = [this, reactor, start](const absl::Status& s) {
      d_.metrics->RecordCall("MatMul", s.code(), Since(start));
      if (!s.ok()) spdlog::debug("MatMul failed: {}", s.ToString());
      reactor->Finish(ToGrpc(s));
    };
    absl::Status admitted = CatchAllocFailure([&]() -> absl::Status {
      ASSIGN_OR_RETURN(reactor->lease, AdmitCaller(d_, ctx, true));
      ASSIGN_OR_RETURN(reactor->call, FromProto(*req));
      ASSIGN_OR_RETURN(
          reactor->ticket,
          d_.service->AdmitMatMul(reactor->call, static_cast<int64_t>(req->ByteSizeLong())));
      return absl::OkStatus();
    });
    if (!admitted.ok()) {
      finish(admitted);
      return reactor;
    }
    d_.executor->Submit([this, reactor, resp, finish] {
      finish(CatchAllocFailure([&]() -> absl::Status {
        ASSIGN_OR_RETURN(MatMulResult result, d_.service->MatMul(reactor->call, reactor->ticket));
        resp->set_out(result.out.data(), result.out.size());
        resp->set_exact_sums(result.exact.data(), result.exact.size());
        if (result.verification.has_value()) {
          const Verification& v = *result.verification;
          v1::VerifyResult* pb = resp->mutable_verification();
          pb->set_accepted(v.accepted);
          pb->set_check(ops::verify::CheckName(v.check));
          pb->set_row(v.row);
          pb->set_col(v.col);
          pb->set_reason(v.reason);
          pb->set_output_digest(v.output_digest.data(), v.output_digest.size());
          pb->set_signature(v.signature.data(), v.signature.size());
          pb->set_public_key(v.public_key.data(), v.public_key.size());
          pb->set_epoch(v.epoch);
          pb->set_verifier_bytes(v.verifier_bytes);
        }
        resp->set_output_digest(result.output_digest);
        resp->set_cycles(result.cycles);
        resp->set_backend(d_.service->backend().Name());
        resp->set_spec_version(ops::kSpecVersion);
        d_.metrics->AddCycles(result.cycles);
        return absl::OkStatus();
      }));
    });
    return reactor;
  }

 private:
  RpcDeps d_;
};

// Streams an upload into the store: each received message is appended on the
// executor, and the next read starts only after that append (bounded memory).
class PutBlobReactor final : public grpc::ServerReadReactor<v1::PutBlobRequest> {
 public:
  PutBlobReactor(RpcDeps d, v1::BlobInfo* resp, CallerLimiter::Lease lease)
      : d_(d),
        resp_(resp),
        lease_(std::move(lease)),
        start_(Clock::now()),
        writer_(d.service->store().NewWriter()) {
    StartRead(&req_);
  }
  void OnReadDone(bool ok) override {
    if (!ok) {  // the stream ended: publish only if the client marked its last message
      if (!saw_last_) {
        return Done(
            absl::AbortedError("upload ended without a message marked last; nothing was stored"));
      }
      d_.executor->Submit([this] {
        Done(CatchAllocFailure([this]() -> absl::Status {
          auto info = writer_->Finish(has_expected_ ? &expected_ : nullptr);
          if (info.ok()) ToProto(*info, true, resp_);
          return info.status();
        }));
      });
      return;
    }
    if (first_) {
      first_ = false;
      if (!req_.expected_digest().empty()) {
        auto d = DigestArg(req_.expected_digest(), "expected_digest");
        if (!d.ok()) return Done(d.status());
        expected_ = *d;
        has_expected_ = true;
      }
    }
    if (saw_last_) return Done(absl::InvalidArgumentError("message after the one marked last"));
    saw_last_ = req_.last();
    // The received message (gRPC bounds it by limits.max_request_bytes) and the
    // writer's chunk buffer count against the memory budget while they are held.
    held_ = {};
    auto held = d_.service->memory_budget().Reserve(
        static_cast<int64_t>(req_.data().size()) + kChunkBytes, "an upload message");
    if (!held.ok()) return Done(held.status());
    held_ = *std::move(held);
    d_.executor->Submit([this] {
      absl::Status s = CatchAllocFailure([this] { return writer_->Append(Span(req_.data())); });
      if (!s.ok()) return Done(s);
      StartRead(&req_);
    });
  }
  void OnDone() override {
    // Dropping an unfinished writer deletes its chunks: disk work, so on the executor.
    d_.executor->Submit([w = std::shared_ptr<ObjectWriter>(std::move(writer_))] {});
    delete this;
  }

 private:
  void Done(const absl::Status& s) {
    d_.metrics->RecordCall("PutBlob", s.code(), Since(start_));
    Finish(ToGrpc(s));
  }
  RpcDeps d_;
  v1::BlobInfo* resp_;
  CallerLimiter::Lease lease_;
  Clock::time_point start_;
  std::unique_ptr<ObjectWriter> writer_;
  MemoryBudget::Reservation held_;
  v1::PutBlobRequest req_;
  bool first_ = true;
  bool saw_last_ = false;
  bool has_expected_ = false;
  Sha256 expected_{};
};

// Streams an object out chunk by chunk; each chunk is read and verified on the
// executor. A corrupt chunk ends the stream with DATA_LOSS: the client must discard
// everything unless the call ends OK.
class GetBlobReactor final : public grpc::ServerWriteReactor<v1::GetBlobResponse> {
 public:
  GetBlobReactor(RpcDeps d, std::string digest, CallerLimiter::Lease lease)
      : d_(d), lease_(std::move(lease)), start_(Clock::now()) {
    d_.executor->Submit([this, digest] {
      absl::Status s = CatchAllocFailure([&]() -> absl::Status {
        ASSIGN_OR_RETURN(Sha256 dg, DigestArg(digest, "digest"));
        // One chunk read and verified, and its copy in the message being written.
        ASSIGN_OR_RETURN(held_,
                         d_.service->memory_budget().Reserve(2 * kChunkBytes, "a blob download"));
        ASSIGN_OR_RETURN(reader_, d_.service->store().NewReader(dg));
        return absl::OkStatus();
      });
      if (!s.ok()) return Done(s);
      Next();
    });
  }
  void OnWriteDone(bool ok) override {
    if (!ok) return Done(absl::CancelledError("client went away"));
    d_.executor->Submit([this] { Next(); });
  }
  void OnDone() override { delete this; }

 private:
  void Next() {
    absl::Status s = CatchAllocFailure([this] { return reader_->Next(&buf_); });
    if (!s.ok() || buf_.empty()) return Done(s);
    resp_.set_data(buf_.data(), buf_.size());
    StartWrite(&resp_);
  }
  void Done(const absl::Status& s) {
    d_.metrics->RecordCall("GetBlob", s.code(), Since(start_));
    Finish(ToGrpc(s));
  }
  RpcDeps d_;
  CallerLimiter::Lease lease_;
  Clock::time_point start_;
  MemoryBudget::Reservation held_;
  std::unique_ptr<ObjectReader> reader_;
  std::vector<uint8_t> buf_;
  v1::GetBlobResponse resp_;
};

class StoreImpl final : public v1::Store::CallbackService {
 public:
  explicit StoreImpl(RpcDeps d) : d_(d) {}

  grpc::ServerReadReactor<v1::PutBlobRequest>* PutBlob(grpc::CallbackServerContext* ctx,
                                                       v1::BlobInfo* resp) override {
    auto lease = AdmitCaller(d_, ctx, false);
    if (!lease.ok()) {
      // A reactor that refuses at once.
      class Refuse final : public grpc::ServerReadReactor<v1::PutBlobRequest> {
       public:
        explicit Refuse(const absl::Status& s) { Finish(ToGrpc(s)); }
        void OnDone() override { delete this; }
      };
      d_.metrics->RecordCall("PutBlob", lease.status().code(), 0);
      return new Refuse(lease.status());
    }
    return new PutBlobReactor(d_, resp, *std::move(lease));
  }

  grpc::ServerWriteReactor<v1::GetBlobResponse>* GetBlob(grpc::CallbackServerContext* ctx,
                                                         const v1::GetBlobRequest* req) override {
    auto lease = AdmitCaller(d_, ctx, false);
    if (!lease.ok()) {
      class Refuse final : public grpc::ServerWriteReactor<v1::GetBlobResponse> {
       public:
        explicit Refuse(const absl::Status& s) { Finish(ToGrpc(s)); }
        void OnDone() override { delete this; }
      };
      d_.metrics->RecordCall("GetBlob", lease.status().code(), 0);
      return new Refuse(lease.status());
    }
    return new GetBlobReactor(d_, req->digest(), *std::move(lease));
  }

  grpc::ServerUnaryReactor* StatBlob(grpc::CallbackServerContext* ctx,
                                     const v1::StatBlobRequest* req, v1::BlobInfo* resp) override {
    return Unary(d_, ctx, "StatBlob", false, [this, req, resp]() -> absl::Status {
      auto d = DigestArg(req->digest(), "digest");
      if (!d.ok()) return d.status();
      auto info = d_.service->store().Stat(*d);
      if (!info.ok()) return info.status();
      ToProto(*info, true, resp);
      return absl::OkStatus();
    });
  }

  grpc::ServerUnaryReactor* ListBlobs(grpc::CallbackServerContext* ctx, const v1::ListBlobsRequest*,
                                      v1::ListBlobsResponse* resp) override {
    return Unary(d_, ctx, "ListBlobs", false, [this, resp]() -> absl::Status {
      for (const Sha256& d : d_.service->store().List()) {
        v1::BlobInfo* b = resp->add_blobs();
        b->set_digest(ops::ToHex(d));
        auto info = d_.service->store().Stat(d);
        b->set_size(info.ok() ? info->size : -1);  // -1: manifest unreadable (see StatBlob)
      }
      return absl::OkStatus();
    });
  }

  grpc::ServerUnaryReactor* DeleteBlob(grpc::CallbackServerContext* ctx,
                                       const v1::DeleteBlobRequest* req,
                                       v1::DeleteBlobResponse*) override {
    return Unary(d_, ctx, "DeleteBlob", false, [this, req]() -> absl::Status {
      auto d = DigestArg(req->digest(), "digest");
      if (!d.ok()) return d.status();
      if (d_.service->models().References(*d)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "blob ", req->digest(), " belongs to an imported model; delete the model instead"));
      }
      return d_.service->store().Delete(*d);
    });
  }

  grpc::ServerUnaryReactor* ImportModel(grpc::CallbackServerContext* ctx,
                                        const v1::ImportModelRequest* req,
                                        v1::ModelInfo* resp) override {
    return Unary(d_, ctx, "ImportModel", false, [this, ctx, req, resp]() -> absl::Status {
      // A client that cancels or passes its deadline stops the import between chunks.
      auto r = d_.service->ImportModel(req->path(), [ctx] { return ctx->IsCancelled(); });
      if (!r.ok()) return r.status();
      spdlog::info("imported model {} from {} ({} tensors)", ops::ToHex(r->model), req->path(),
                   r->manifest.tensors.size());
      ToProto(r->model, r->manifest, true, resp);
      return absl::OkStatus();
    });
  }

  grpc::ServerWriteReactor<v1::ImportModelUpdate>* ImportModelStream(
      grpc::CallbackServerContext* ctx, const v1::ImportModelRequest* req) override {
    return StartImportModelStream(d_, ctx, *req, [](const ImportResult& r, v1::ModelInfo* out) {
      ToProto(r.model, r.manifest, true, out);
    });
  }

  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* ctx,
                                       const v1::ListModelsRequest*,
                                       v1::ListModelsResponse* resp) override {
    return Unary(d_, ctx, "ListModels", false, [this, resp]() -> absl::Status {
      for (const Sha256& d : d_.service->models().List()) {
        auto m = d_.service->models().Get(d);
        v1::ModelInfo* info = resp->add_models();
        if (m.ok()) {
          ToProto(d, *m, false, info);
        } else {
          info->set_digest(ops::ToHex(d));  // unreadable: GetModel reports why
        }
      }
      return absl::OkStatus();
    });
  }

  grpc::ServerUnaryReactor* GetModel(grpc::CallbackServerContext* ctx,
                                     const v1::GetModelRequest* req, v1::ModelInfo* resp) override {
    return Unary(d_, ctx, "GetModel", false, [this, req, resp]() -> absl::Status {
      auto d = DigestArg(req->digest(), "digest");
      if (!d.ok()) return d.status();
      auto m = d_.service->models().Get(*d);
      if (!m.ok()) return m.status();
      ToProto(*d, *m, true, resp);
      return absl::OkStatus();
    });
  }

  grpc::ServerUnaryReactor* DeleteModel(grpc::CallbackServerContext* ctx,
                                        const v1::DeleteModelRequest* req,
                                        v1::DeleteModelResponse*) override {
    return Unary(d_, ctx, "DeleteModel", false, [this, req]() -> absl::Status {
      auto d = DigestArg(req->digest(), "digest");
      if (!d.ok()) return d.status();
      return d_.service->DeleteModel(*d);
    });
  }

 private:
  RpcDeps d_;
};

absl::StatusOr<AdmissionRequest> FromProto(const v1::RunAdmissionRequest& r) {
  AdmissionRequest out;
  switch (r.device_class_case()) {
    case v1::RunAdmissionRequest::kClassName:
      out.class_name = r.class_name();
      break;
    case v1::RunAdmissionRequest::kClassText:
      out.class_text = r.class_text();
      break;
    default:
      return absl::InvalidArgumentError("request has neither class_name nor class_text");
  }
  switch (r.nonce_case()) {
    case v1::RunAdmissionRequest::kNonceHex:
      out.nonce_hex = r.nonce_hex();
      break;
    case v1::RunAdmissionRequest::kNonceBytes:
      for (unsigned char c : r.nonce_bytes()) {
        static constexpr char kHex[] = "0123456789abcdef";
        out.nonce_hex.push_back(kHex[c >> 4]);
        out.nonce_hex.push_back(kHex[c & 15]);
      }
      break;
    default:
      return absl::InvalidArgumentError("request has neither nonce_hex nor nonce_bytes");
  }
  switch (r.profile()) {
    case v1::ADMISSION_PROFILE_UNSPECIFIED:
    case v1::ADMISSION_PROFILE_QUICK:
      out.profile = "quick";
      break;
    case v1::ADMISSION_PROFILE_FULL:
      out.profile = "full";
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat("unknown profile ", r.profile()));
  }
  out.backend = r.backend();
  if (absl::Status s = AdmissionService::Validate(out); !s.ok()) return s;
  return out;
}

// What an admission run of a class sent as text allocates at once, reserved from the
// memory budget for the whole run (RESOURCE_EXHAUSTED at once when it does not fit):
// the performance phase's A, W and C of the canonical shape for three inputs (fresh,
// repeated, warm-up), each on the host and as resident buffers, plus three more C
// (read-back, poison, first repeat), and the profile's memory test. Class files from the
// operator's directories are trusted and not sized. INVALID_ARGUMENT for a class that
// does not parse, as the run itself would say.
absl::StatusOr<MemoryBudget::Reservation> ReserveForAdmission(MemoryBudget& budget,
                                                              const AdmissionRequest& r) {
  if (r.class_text.empty()) return MemoryBudget::Reservation();
  ASSIGN_OR_RETURN(device_classes::LoadedClass loaded,
                   device_classes::ParseClassText(r.class_text, "class_text"));
  const v1::DeviceClass& c = loaded.device_class;
  int64_t bytes = 0;
  if (c.has_compute()) {
    const auto& s = c.compute().canonical_shape();
    ASSIGN_OR_RETURN(ops::OperandSizes sz,
                     ops::ComputeOperandSizes(ops::OpKind::kMatMulS8S32, s.m(), s.n(), s.k()));
    bytes += 6 * (sz.a + sz.w + sz.out) + 3 * sz.out;
  }
  const v1::ProfileSettings& p = r.profile == "full" ? c.full() : c.quick();
  // Capped at 2^40 MiB so the sum cannot overflow; anything near it is refused anyway.
  bytes += static_cast<int64_t>(std::min<uint64_t>(p.memory_test_mib(), uint64_t{1} << 40)) << 20;
  return budget.Reserve(bytes, absl::StrCat("the admission test of class '", c.name(), "'"));
}

void ToProto(const AdmissionOutcome& o, v1::AdmissionResult* out) {
  *out->mutable_report() = o.report;
  out->set_admitted(o.admitted);
  for (const auto& r : o.reasons) out->add_reasons(r);
  out->set_report_digest(o.report_digest);
  out->set_custom_class(o.custom_class);
}

// Runs one admission on the executor (it blocks for the whole test) and streams its
// progress. Writes are serialized through a queue: gRPC allows one outstanding write,
// while progress arrives from the executor thread whenever the runner reports.
// Cancellation (client cancel, deadline, server shutdown, failed write) sets a flag
// the runner polls; the call then ends CANCELLED.
class RunAdmissionReactor final : public QueuedWriteReactor<v1::RunAdmissionResponse> {
 public:
  RunAdmissionReactor(RpcDeps d, AdmissionRequest request, AdmissionService::Slot slot,
                      CallerLimiter::Lease lease)
      : d_(d),
        request_(std::move(request)),
        slot_(std::move(slot)),
        lease_(std::move(lease)),
        start_(Clock::now()) {
    d_.executor->Submit([this] { Work(); });
  }
  void OnDone() override { delete this; }

 private:
  static constexpr size_t kMaxQueued = 64;

  void Work() {
    spdlog::info("admission started: class {}, profile {}, backend {}, nonce {}",
                 request_.class_name.empty() ? "(inline text)" : request_.class_name,
                 request_.profile, request_.backend.empty() ? "(serving)" : request_.backend,
                 request_.nonce_hex);
    absl::StatusOr<AdmissionOutcome> outcome = absl::InternalError("admission did not run");
    absl::Status started = CatchAllocFailure([&]() -> absl::Status {
      ASSIGN_OR_RETURN(MemoryBudget::Reservation held,
                       ReserveForAdmission(d_.service->memory_budget(), request_));
      outcome = d_.admission->Run(
          *slot_, request_,
          [this](const std::string& phase, const std::string& text) { Progress(phase, text); },
          [this] { return cancelled(); });
      return absl::OkStatus();
    });
    if (!started.ok()) outcome = started;
    slot_.reset();  // a client that saw the result may start the next run at once
    absl::Status s = outcome.status();
    v1::RunAdmissionResponse result;
    if (outcome.ok()) {
      spdlog::info("admission {}: class {}, report digest {}",
                   outcome->admitted ? "ADMITTED" : "REJECTED", outcome->report.class_name(),
                   outcome->report_digest);
      ToProto(*outcome, result.mutable_result());
    } else {
      spdlog::warn("admission ended: {}", s.ToString());
    }
    d_.metrics->RecordCall("RunAdmission", s.code(), Since(start_));
    EndWith(ToGrpc(s), s.ok() ? std::optional(std::move(result)) : std::nullopt);
  }

  void Progress(const std::string& phase_name, const std::string& text) {
    v1::RunAdmissionResponse m;
    v1::Phase phase = v1::PHASE_UNSPECIFIED;
    std::string upper = "PHASE_";
    for (char c : phase_name) upper.push_back(static_cast<char>(std::toupper(c)));
    if (!v1::Phase_Parse(upper, &phase)) phase = v1::PHASE_UNSPECIFIED;
    m.mutable_progress()->set_phase(phase);
    m.mutable_progress()->set_text(text);
    m.mutable_progress()->set_elapsed_seconds(Since(start_));
    // A client that reads slowly loses the oldest progress lines, never the result.
    Push(std::move(m), kMaxQueued);
  }

  RpcDeps d_;
  const AdmissionRequest request_;
  std::optional<AdmissionService::Slot> slot_;  // released when the run ends
  CallerLimiter::Lease lease_;
  Clock::time_point start_;
};

class AdmissionImpl final : public v1::Admission::CallbackService {
 public:
  explicit AdmissionImpl(RpcDeps d) : d_(d) {}

  grpc::ServerWriteReactor<v1::RunAdmissionResponse>* RunAdmission(
      grpc::CallbackServerContext* ctx, const v1::RunAdmissionRequest* req) override {
    // Refusals (bad request, busy node, caller limits) end at once, before any work.
    class Refuse final : public grpc::ServerWriteReactor<v1::RunAdmissionResponse> {
     public:
      explicit Refuse(const absl::Status& s) { Finish(ToGrpc(s)); }
      void OnDone() override { delete this; }
    };
    auto refuse = [&](const absl::Status& s) {
      d_.metrics->RecordCall("RunAdmission", s.code(), 0);
      return new Refuse(s);
    };
    auto request = FromProto(*req);
    if (!request.ok()) return refuse(request.status());
    auto lease = AdmitCaller(d_, ctx, false);
    if (!lease.ok()) return refuse(lease.status());
    auto slot = d_.admission->Begin();
    if (!slot.ok()) return refuse(slot.status());
    return new RunAdmissionReactor(d_, *std::move(request), *std::move(slot), *std::move(lease));
  }

 private:
  RpcDeps d_;
};

}  // namespace

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

absl::StatusOr<CallerLimiter::Lease> AdmitCaller(const RpcDeps& d,
                                                 const grpc::CallbackServerContext* ctx,
                                                 bool is_op) {
  if (absl::Status s = d.peers->Authenticate(*ctx); !s.ok()) {
    d.metrics->AddPeerRejected();
    return s;
  }
  return d.limiter->Admit(d.peers->CallerOf(ctx->peer()), is_op);
}

grpc::ServerUnaryReactor* RunUnary(const RpcDeps& d, grpc::CallbackServerContext* ctx,
                                   const char* method, bool is_op,
                                   std::function<absl::Status()> work) {
  return Unary(d, ctx, method, is_op, std::move(work));
}

absl::Status PeerTable::Authenticate(const grpc::CallbackServerContext& ctx) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (uids_.count(ctx.peer())) return absl::OkStatus();  // Unix: uid checked at accept
  }
  const auto& metadata = ctx.client_metadata();
  auto it = metadata.find("authorization");
  if (!bearer_.empty() && it != metadata.end() && it->second.size() == bearer_.size() &&
      CRYPTO_memcmp(it->second.data(), bearer_.data(), bearer_.size()) == 0) {
    return absl::OkStatus();
  }
  return absl::UnauthenticatedError(
      "TCP calls need the metadata \"authorization: Bearer <tcp_auth_token>\"");
}

std::string PeerTable::CallerOf(const std::string& peer) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = uids_.find(peer);
    if (it != uids_.end()) return absl::StrCat("uid:", it->second);
  }
  size_t colon = peer.rfind(':');
  return colon == std::string::npos ? peer : peer.substr(0, colon);
}

RpcServer::RpcServer(const Config& config, RpcDeps deps) : config_(config), deps_(deps) {}

RpcServer::~RpcServer() { Shutdown(); }

absl::Status RpcServer::Start() {
  grpc::ServerBuilder builder;
  builder.SetMaxReceiveMessageSize(static_cast<int>(config_.max_request_bytes));
  // The largest reply is a MatMul output of max_reply_bytes (checked before it is
  // computed) plus a few hundred bytes of fields; other replies are far smaller.
  builder.SetMaxSendMessageSize(static_cast<int>(config_.max_reply_bytes + (int64_t{1} << 20)));
  services_.push_back(std::make_unique<AcceleratorImpl>(deps_));
  services_.push_back(std::make_unique<StoreImpl>(deps_));
  services_.push_back(std::make_unique<AdmissionImpl>(deps_));
  if (deps_.inference != nullptr) services_.push_back(NewInferenceRpc(deps_));
  for (auto& s : services_) builder.RegisterService(s.get());
  deps_.peers->set_tcp_auth_token(config_.tcp_auth_token);
  int tcp_port = 0;
  if (!config_.tcp_address.empty()) {
    builder.AddListeningPort(config_.tcp_address, grpc::InsecureServerCredentials(), &tcp_port);
  }
  server_ = builder.BuildAndStart();
  if (server_ == nullptr) return absl::UnavailableError("gRPC server failed to start");
  if (!config_.tcp_address.empty() && tcp_port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", config_.tcp_address));
  }

  UnixListener::Options listen;
  listen.path = config_.socket_path;
  listen.allowed_uids = config_.allowed_uids;
  listen.adopt_systemd_socket = true;
  listen.name = "gRPC";
  return listener_.Start(
      std::move(listen),
      [this](int fd, uint32_t uid) {
        // gRPC names an fd channel's peer "fd:<n>"; remember whose it is.
        deps_.peers->Set(absl::StrCat("fd:", fd), uid);
        grpc::AddInsecureChannelFromFd(server_.get(), fd);
      },
      [this] { deps_.metrics->AddPeerRejected(); });
}

void RpcServer::Shutdown() {
  listener_.Stop();
  if (server_ != nullptr) {
    // Refuses new calls at once; in-flight calls may finish until the deadline.
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::seconds(config_.drain_timeout_seconds));
    server_->Wait();
  }
  server_.reset();
}

}  // namespace datanode::node
