// Copyright 2026 The datanode Authors.
//
// The RPC layer's conversions between the wire's protos (proto/datanode/v1) and the
// domain's types (NodeService, WeightStore, ModelRegistry, AdmissionService,
// InferenceService), for every service. Nothing here runs work or decides anything:
// a FromProto checks only what the proto's shape leaves open (a oneof left unset, a
// digest that is not 64 hex digits, an enum value out of range) and says which field is
// wrong with INVALID_ARGUMENT; the domain checks the values. Thread-safe (no state).
#ifndef DATANODE_NODE_DAEMON_RPC_CONVERT_H_
#define DATANODE_NODE_DAEMON_RPC_CONVERT_H_

#include <string>

#include "absl/status/statusor.h"
#include "datanode/ops/llm.h"
#include "datanode/v1/accelerator.pb.h"
#include "datanode/v1/admission_service.pb.h"
#include "datanode/v1/inference.pb.h"
#include "datanode/v1/store.pb.h"
#include "node/daemon/admission.h"
#include "node/daemon/inference_service.h"
#include "node/daemon/node_service.h"

namespace datanode::node {

// A digest field: 64 hex digits (ParseDigestHex); INVALID_ARGUMENT naming `field`.
absl::StatusOr<Sha256> DigestFromProto(const std::string& hex, const char* field);

// --- Accelerator ---------------------------------------------------------------------
// The proto's op must be a matmul row of the op table. The call's spans borrow the
// request's bytes: keep the request alive while the call is used.
absl::StatusOr<MatMulCall> FromProto(const v1::MatMulRequest& r);
// `backend` is the serving backend's name.
void ToProto(const MatMulResult& result, const std::string& backend, v1::MatMulResponse* out);
void ToProto(const NodeInfo& info, const AdmittedState& admitted, v1::GetNodeInfoResponse* out);

// --- Store ---------------------------------------------------------------------------
void ToProto(const ObjectInfo& info, bool with_chunks, v1::BlobInfo* out);
// The model's tensors (with their chunk ranges) only when `with_tensors`.
void ToProto(const Sha256& digest, const ModelManifest& m, bool with_tensors, v1::ModelInfo* out);

// --- Admission -----------------------------------------------------------------------
// nonce_bytes become their hex; the request is then checked by
// AdmissionService::Validate.
absl::StatusOr<AdmissionRequest> FromProto(const v1::RunAdmissionRequest& r);
void ToProto(const AdmissionOutcome& o, v1::AdmissionResult* out);
// The evidence's shape only: 32-byte digests, 64-byte signatures, at least one rejection
// and at most 1024 (INVALID_ARGUMENT). Every rejection gets the evidence's request and
// output digests and accepted = false; shim::CheckFaultEvidence checks the rest.
absl::StatusOr<shim::FaultEvidence> FromProto(const v1::FaultEvidence& e);
// The runner's phase name ("memory", "compute", ...) as the wire's enum;
// PHASE_UNSPECIFIED for a name the enum lacks.
v1::Phase PhaseFromName(const std::string& phase_name);

// --- Inference -----------------------------------------------------------------------
// Sampling parameters are checked here (ValidateSamplingParams, seed length) since the
// domain takes them as given.
absl::StatusOr<GenerateCall> FromProto(const v1::GenerateRequest& r);
// The sampling parameters and seed of a request (Generate's, a verified step's): top_p 0
// is read as 1; INVALID_ARGUMENT where inference::CheckSampling refuses them.
absl::Status SamplingFromProto(const v1::SamplingParams& s, ops::llm::SamplingParams* params,
                               std::vector<uint8_t>* seed);
void ToProto(const GenerateOutcome& o, v1::GenerateDone* out);

}  // namespace datanode::node

#endif  // DATANODE_NODE_DAEMON_RPC_CONVERT_H_
