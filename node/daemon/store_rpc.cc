// Copyright 2026 The datanode Authors.
#include "node/daemon/store_rpc.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "datanode/ops/digest.h"
#include "datanode/ops/status_macros.h"
#include "datanode/v1/store.grpc.pb.h"
#include "node/daemon/import_rpc.h"
#include "node/daemon/node_service.h"
#include "node/daemon/rpc_convert.h"
#include "spdlog/spdlog.h"

namespace datanode::node {
namespace {

ops::ByteSpan Span(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Streams an upload into the store: each received message is appended on the
// executor, and the next read starts only after that append (bounded memory).
class PutBlobReactor final : public grpc::ServerReadReactor<v1::PutBlobRequest> {
 public:
  PutBlobReactor(RpcDeps d, v1::BlobInfo* resp, CallerLimiter::Lease lease)
      : d_(d),
        resp_(resp),
        lease_(std::move(lease)),
        start_(RpcClock::now()),
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
        auto d = DigestFromProto(req_.expected_digest(), "expected_digest");
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
    d_.metrics->RecordCall("PutBlob", s.code(), SecondsSince(start_));
    Finish(ToGrpc(s));
  }
  RpcDeps d_;
  v1::BlobInfo* resp_;
  CallerLimiter::Lease lease_;
  RpcClock::time_point start_;
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
      : d_(d), lease_(std::move(lease)), start_(RpcClock::now()) {
    d_.executor->Submit([this, digest] {
      absl::Status s = CatchAllocFailure([&]() -> absl::Status {
        ASSIGN_OR_RETURN(Sha256 dg, DigestFromProto(digest, "digest"));
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
    d_.metrics->RecordCall("GetBlob", s.code(), SecondsSince(start_));
    Finish(ToGrpc(s));
  }
  RpcDeps d_;
  CallerLimiter::Lease lease_;
  RpcClock::time_point start_;
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
      return RefuseCall<grpc::ServerReadReactor<v1::PutBlobRequest>>(d_, "PutBlob", lease.status());
    }
    return new PutBlobReactor(d_, resp, *std::move(lease));
  }

  grpc::ServerWriteReactor<v1::GetBlobResponse>* GetBlob(grpc::CallbackServerContext* ctx,
                                                         const v1::GetBlobRequest* req) override {
    auto lease = AdmitCaller(d_, ctx, false);
    if (!lease.ok()) {
      return RefuseCall<grpc::ServerWriteReactor<v1::GetBlobResponse>>(d_, "GetBlob",
                                                                       lease.status());
    }
    return new GetBlobReactor(d_, req->digest(), *std::move(lease));
  }

  grpc::ServerUnaryReactor* StatBlob(grpc::CallbackServerContext* ctx,
                                     const v1::StatBlobRequest* req, v1::BlobInfo* resp) override {
    return RunUnary(d_, ctx, "StatBlob", false, [this, req, resp]() -> absl::Status {
      ASSIGN_OR_RETURN(Sha256 d, DigestFromProto(req->digest(), "digest"));
      ASSIGN_OR_RETURN(ObjectInfo info, d_.service->store().Stat(d));
      ToProto(info, true, resp);
      return absl::OkStatus();
    });
  }

  grpc::ServerUnaryReactor* ListBlobs(grpc::CallbackServerContext* ctx, const v1::ListBlobsRequest*,
                                      v1::ListBlobsResponse* resp) override {
    return RunUnary(d_, ctx, "ListBlobs", false, [this, resp]() -> absl::Status {
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
    return RunUnary(d_, ctx, "DeleteBlob", false, [this, req]() -> absl::Status {
      ASSIGN_OR_RETURN(Sha256 d, DigestFromProto(req->digest(), "digest"));
      return d_.service->DeleteBlob(d);
    });
  }

  grpc::ServerUnaryReactor* ImportModel(grpc::CallbackServerContext* ctx,
                                        const v1::ImportModelRequest* req,
                                        v1::ModelInfo* resp) override {
    return RunUnary(d_, ctx, "ImportModel", false, [this, ctx, req, resp]() -> absl::Status {
      // A client that cancels or passes its deadline stops the import between chunks.
      ASSIGN_OR_RETURN(ImportResult r,
                       d_.service->ImportModel(req->path(), [ctx] { return ctx->IsCancelled(); }));
      spdlog::info("imported model {} from {} ({} tensors)", ops::ToHex(r.model), req->path(),
                   r.manifest.tensors.size());
      ToProto(r.model, r.manifest, true, resp);
      return absl::OkStatus();
    });
  }

  grpc::ServerWriteReactor<v1::ImportModelUpdate>* ImportModelStream(
      grpc::CallbackServerContext* ctx, const v1::ImportModelRequest* req) override {
    return StartImportModelStream(d_, ctx, *req);
  }

  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* ctx,
                                       const v1::ListModelsRequest*,
                                       v1::ListModelsResponse* resp) override {
    return RunUnary(d_, ctx, "ListModels", false, [this, resp]() -> absl::Status {
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
    return RunUnary(d_, ctx, "GetModel", false, [this, req, resp]() -> absl::Status {
      ASSIGN_OR_RETURN(Sha256 d, DigestFromProto(req->digest(), "digest"));
      ASSIGN_OR_RETURN(ModelManifest m, d_.service->models().Get(d));
      ToProto(d, m, true, resp);
      return absl::OkStatus();
    });
  }

  grpc::ServerUnaryReactor* DeleteModel(grpc::CallbackServerContext* ctx,
                                        const v1::DeleteModelRequest* req,
                                        v1::DeleteModelResponse*) override {
    return RunUnary(d_, ctx, "DeleteModel", false, [this, req]() -> absl::Status {
      ASSIGN_OR_RETURN(Sha256 d, DigestFromProto(req->digest(), "digest"));
      return d_.service->DeleteModel(d);
    });
  }

 private:
  RpcDeps d_;
};

}  // namespace

std::unique_ptr<grpc::Service> NewStoreRpc(RpcDeps deps) {
  return std::make_unique<StoreImpl>(deps);
}

}  // namespace datanode::node
