// Copyright 2026 The datanode Authors.
#include "node/daemon/admission_rpc.h"

#include <optional>
#include <string>
#include <utility>

#include "datanode/ops/status_macros.h"
#include "datanode/v1/admission_service.grpc.pb.h"
#include "node/daemon/admission.h"
#include "node/daemon/admission_memory.h"
#include "node/daemon/node_service.h"
#include "node/daemon/queued_write_reactor.h"
#include "node/daemon/rpc_convert.h"
#include "spdlog/spdlog.h"

namespace datanode::node {
namespace {

// Runs one admission on the executor and streams its progress. Writes are serialized
// through a queue: gRPC allows one outstanding write, while progress arrives from the
// executor thread whenever the runner reports. Cancellation sets a flag the runner
// polls.
class RunAdmissionReactor final : public QueuedWriteReactor<v1::RunAdmissionResponse> {
 public:
  RunAdmissionReactor(RpcDeps d, AdmissionRequest request, AdmissionService::Slot slot,
                      CallerLimiter::Lease lease)
      : d_(d),
        request_(std::move(request)),
        slot_(std::move(slot)),
        lease_(std::move(lease)),
        start_(RpcClock::now()) {
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
    d_.metrics->RecordCall("RunAdmission", s.code(), SecondsSince(start_));
    EndWith(ToGrpc(s), s.ok() ? std::optional(std::move(result)) : std::nullopt);
  }

  void Progress(const std::string& phase_name, const std::string& text) {
    v1::RunAdmissionResponse m;
    m.mutable_progress()->set_phase(PhaseFromName(phase_name));
    m.mutable_progress()->set_text(text);
    m.mutable_progress()->set_elapsed_seconds(SecondsSince(start_));
    // A client that reads slowly loses the oldest progress lines, never the result.
    Push(std::move(m), kMaxQueued);
  }

  RpcDeps d_;
  const AdmissionRequest request_;
  std::optional<AdmissionService::Slot> slot_;  // released when the run ends
  CallerLimiter::Lease lease_;
  RpcClock::time_point start_;
};

class AdmissionImpl final : public v1::Admission::CallbackService {
 public:
  explicit AdmissionImpl(RpcDeps d) : d_(d) {}

  grpc::ServerWriteReactor<v1::RunAdmissionResponse>* RunAdmission(
      grpc::CallbackServerContext* ctx, const v1::RunAdmissionRequest* req) override {
    // Refusals (bad request, busy node, caller limits) end at once, before any work.
    auto refuse = [&](const absl::Status& s) {
      return RefuseCall<grpc::ServerWriteReactor<v1::RunAdmissionResponse>>(d_, "RunAdmission", s);
    };
    auto request = FromProto(*req);
    if (!request.ok()) return refuse(request.status());
    auto lease = AdmitCaller(d_, ctx, false);
    if (!lease.ok()) return refuse(lease.status());
    auto slot = d_.admission->Begin();
    if (!slot.ok()) return refuse(slot.status());
    return new RunAdmissionReactor(d_, *std::move(request), *std::move(slot), *std::move(lease));
  }

  grpc::ServerUnaryReactor* RecheckAdmission(grpc::CallbackServerContext* ctx,
                                             const v1::RecheckAdmissionRequest*,
                                             v1::RecheckAdmissionResponse* resp) override {
    return RunUnary(d_, ctx, "RecheckAdmission", false, [this, ctx, resp]() -> absl::Status {
      ASSIGN_OR_RETURN(
          RecheckRecord record,
          d_.admission->RecheckNow([ctx] { return ctx->IsCancelled(); }, RecheckTrigger::kRequest));
      *resp->mutable_recheck() = RecheckToProto(record);
      resp->set_admitted_class(d_.admission->Admitted().class_name);
      return absl::OkStatus();
    });
  }

  grpc::ServerUnaryReactor* ReportFault(grpc::CallbackServerContext* ctx,
                                        const v1::ReportFaultRequest* req,
                                        v1::ReportFaultResponse* resp) override {
    return RunUnary(d_, ctx, "ReportFault", false, [this, req, resp]() -> absl::Status {
      ASSIGN_OR_RETURN(shim::FaultEvidence evidence, FromProto(req->evidence()));
      absl::StatusOr<RecheckRecord> record = d_.admission->ReportFault(evidence);
      if (!record.ok()) {
        spdlog::warn("ReportFault refused: {}", record.status().ToString());
        return record.status();
      }
      *resp->mutable_recheck() = RecheckToProto(*record);
      resp->set_admitted_class(d_.admission->Admitted().class_name);
      return absl::OkStatus();
    });
  }

  grpc::ServerUnaryReactor* GetAdmissionHistory(grpc::CallbackServerContext* ctx,
                                                const v1::GetAdmissionHistoryRequest*,
                                                v1::AdmissionHistory* resp) override {
    return RunUnary(d_, ctx, "GetAdmissionHistory", false, [this, resp] {
      for (const RecheckRecord& r : d_.admission->RecheckHistory()) {
        *resp->add_rechecks() = RecheckToProto(r);
      }
      return absl::OkStatus();
    });
  }

 private:
  RpcDeps d_;
};

}  // namespace

std::unique_ptr<grpc::Service> NewAdmissionRpc(RpcDeps deps) {
  return std::make_unique<AdmissionImpl>(deps);
}

}  // namespace datanode::node
