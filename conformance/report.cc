// Copyright 2026 The datanode Authors.
#include "conformance/report.h"

#include <algorithm>
#include <span>

#include "absl/strings/str_cat.h"
#include "datanode/util/ed25519.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/json_util.h"

namespace datanode::conformance {
std::string CanonicalBytes(const v1::AdmissionReport& report) {
  v1::AdmissionReport copy = report;
  copy.clear_signature();
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);  // map fields in key order
    copy.SerializeToCodedStream(&coded);
  }
  return out;
}

absl::Status SignReport(const std::string& private_pem_path, v1::AdmissionReport* report) {
  absl::StatusOr<util::Ed25519Key> key = util::Ed25519Key::FromPemFile(private_pem_path);
  if (!key.ok()) return key.status();
  const util::Ed25519PublicKey& pub = key->public_key();
  report->set_public_key(std::string(pub.begin(), pub.end()));
  const std::string msg = CanonicalBytes(*report);
  absl::StatusOr<util::Ed25519Signature> sig =
      key->Sign(std::span(reinterpret_cast<const uint8_t*>(msg.data()), msg.size()));
  if (!sig.ok()) return sig.status();
  report->set_signature(std::string(sig->begin(), sig->end()));
  return absl::OkStatus();
}

absl::Status VerifyReportSignature(const v1::AdmissionReport& report,
                                   const std::string& raw_public_key) {
  if (report.public_key() != raw_public_key) {
    return absl::UnauthenticatedError("report was signed by another key than the one given");
  }
  util::Ed25519PublicKey key{};
  if (raw_public_key.size() != key.size()) {
    return absl::InvalidArgumentError("invalid Ed25519 public key");
  }
  std::copy(raw_public_key.begin(), raw_public_key.end(), key.begin());
  const std::string msg = CanonicalBytes(report);
  const std::string& sig = report.signature();
  if (!util::Ed25519Verify(key, std::span(reinterpret_cast<const uint8_t*>(msg.data()), msg.size()),
                           std::span(reinterpret_cast<const uint8_t*>(sig.data()), sig.size()))) {
    return absl::UnauthenticatedError("signature does not match the report's contents");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReportToJson(const v1::AdmissionReport& report) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string out;
  auto st = google::protobuf::util::MessageToJsonString(report, &out, options);
  if (!st.ok()) return absl::InternalError(std::string(st.message()));
  return out;
}

absl::StatusOr<v1::AdmissionReport> ReportFromJson(const std::string& json) {
  v1::AdmissionReport report;
  google::protobuf::util::JsonParseOptions options;
  auto st = google::protobuf::util::JsonStringToMessage(json, &report, options);
  if (!st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("report is not valid JSON of AdmissionReport: ", std::string(st.message())));
  }
  return report;
}

}  // namespace datanode::conformance
