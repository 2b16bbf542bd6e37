// Copyright 2026 The datanode Authors.
#include "node/daemon/import_rpc.h"

#include <atomic>
#include <optional>
#include <string>
#include <utility>

#include "datanode/ops/digest.h"
#include "node/daemon/node_service.h"
#include "node/daemon/queued_write_reactor.h"
#include "node/daemon/rpc_convert.h"
#include "spdlog/spdlog.h"

namespace datanode::node {
namespace {

constexpr char kMethod[] = "ImportModelStream";

// Deleted once gRPC is done with it (OnDone) and the work has returned.
class ImportReactor final : public QueuedWriteReactor<v1::ImportModelUpdate> {
 public:
  ImportReactor(RpcDeps d, std::string path, CallerLimiter::Lease lease)
      : d_(d), path_(std::move(path)), lease_(std::move(lease)), start_(RpcClock::now()) {
    d_.executor->Submit([this] { Work(); });
  }
  void OnDone() override { Unref(); }

 private:
  // Progress messages a slow client may have queued before the oldest are dropped.
  static constexpr size_t kMaxQueued = 4;

  void Unref() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }

  void Work() {
    absl::StatusOr<ImportResult> r = absl::InternalError("import did not run");
    absl::Status s = CatchAllocFailure([&]() -> absl::Status {
      r = d_.service->ImportModel(
          path_, [this] { return cancelled(); },
          [this](int64_t done, int64_t total) {
            v1::ImportModelUpdate m;
            m.set_bytes_done(done);
            m.set_bytes_total(total);
            Push(std::move(m), kMaxQueued);
          });
      return r.status();
    });
    std::optional<v1::ImportModelUpdate> last;
    if (s.ok()) {
      spdlog::info("imported model {} from {} ({} tensors, {:.1f} MB/s)", ops::ToHex(r->model),
                   path_, r->manifest.tensors.size(),
                   static_cast<double>(r->manifest.source_size) / 1e6 / SecondsSince(start_));
      last.emplace();
      last->set_bytes_done(r->manifest.source_size);
      last->set_bytes_total(r->manifest.source_size);
      ToProto(r->model, r->manifest, true, last->mutable_model());
    }
    d_.metrics->RecordCall(kMethod, s.code(), SecondsSince(start_));
    EndWith(ToGrpc(s), std::move(last));
    Unref();
  }

  RpcDeps d_;
  const std::string path_;
  CallerLimiter::Lease lease_;
  RpcClock::time_point start_;
  std::atomic<int> refs_{2};  // gRPC (until OnDone) and the work
};

}  // namespace

grpc::ServerWriteReactor<v1::ImportModelUpdate>* StartImportModelStream(
    const RpcDeps& d, grpc::CallbackServerContext* ctx, const v1::ImportModelRequest& req) {
  auto lease = AdmitCaller(d, ctx, false);
  if (!lease.ok()) {
    return RefuseCall<grpc::ServerWriteReactor<v1::ImportModelUpdate>>(d, kMethod, lease.status());
  }
  return new ImportReactor(d, req.path(), *std::move(lease));
}

}  // namespace datanode::node
