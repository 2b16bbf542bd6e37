// Copyright 2026 The datanode Authors.
//
// Report serialization and Ed25519 signing (keys: datanode/util/ed25519.h).
//
// The signed bytes are the deterministic protobuf serialization of the report with
// `signature` cleared (public_key set). JSON is only a view: verify parses the JSON
// back into the proto and re-serializes, which reproduces those bytes because every
// field survives a JSON round trip (doubles are printed round-trip exact).
#ifndef DATANODE_CONFORMANCE_REPORT_H_
#define DATANODE_CONFORMANCE_REPORT_H_

#include <string>

#include "absl/status/statusor.h"
#include "datanode/v1/admission.pb.h"

namespace datanode::conformance {

// Bytes that the signature covers.
std::string CanonicalBytes(const v1::AdmissionReport& report);

// Sets public_key and signature using the private key in `private_pem_path` (PEM, as
// util::GenerateEd25519KeyFiles writes it).
absl::Status SignReport(const std::string& private_pem_path, v1::AdmissionReport* report);

// OK if `report.signature` is a valid signature by `raw_public_key` (32 bytes) over
// CanonicalBytes(report) and report.public_key equals it; UNAUTHENTICATED otherwise.
absl::Status VerifyReportSignature(const v1::AdmissionReport& report,
                                   const std::string& raw_public_key);

absl::StatusOr<std::string> ReportToJson(const v1::AdmissionReport& report);
absl::StatusOr<v1::AdmissionReport> ReportFromJson(const std::string& json);

}  // namespace datanode::conformance

#endif  // DATANODE_CONFORMANCE_REPORT_H_
