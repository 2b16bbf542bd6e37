// Copyright 2026 The datanode Authors.
#include "node/daemon/rpc_convert.h"

#include <cctype>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/digest.h"
#include "datanode/ops/status_macros.h"
#include "datanode/util/hex.h"

namespace datanode::node {
namespace {

ops::ByteSpan Span(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

v1::StopReason ToProto(inference::StopReason r) {
  switch (r) {
    case inference::StopReason::kEndOfGeneration:
      return v1::STOP_REASON_END_OF_GENERATION;
    case inference::StopReason::kMaxTokens:
      return v1::STOP_REASON_MAX_TOKENS;
    case inference::StopReason::kContextFull:
      return v1::STOP_REASON_CONTEXT_FULL;
    default:
      return v1::STOP_REASON_UNSPECIFIED;
  }
}

}  // namespace

absl::StatusOr<Sha256> DigestFromProto(const std::string& hex, const char* field) {
  auto d = ParseDigestHex(hex);
  if (!d.ok()) return absl::InvalidArgumentError(absl::StrCat(field, ": ", d.status().message()));
  return d;
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
      ASSIGN_OR_RETURN(c.model,
                       DigestFromProto(r.weight_ref().model_digest(), "weight_ref.model_digest"));
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

void ToProto(const MatMulResult& result, const std::string& backend, v1::MatMulResponse* out) {
  out->set_out(result.out.data(), result.out.size());
  out->set_exact_sums(result.exact.data(), result.exact.size());
  if (result.verification.has_value()) {
    const Verification& v = *result.verification;
    v1::VerifyResult* pb = out->mutable_verification();
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
  out->set_output_digest(result.output_digest);
  out->set_cycles(result.cycles);
  out->set_backend(backend);
  out->set_spec_version(ops::kSpecVersion);
}

void ToProto(const NodeInfo& info, const AdmittedState& admitted, v1::GetNodeInfoResponse* out) {
  out->set_daemon_version(DATANODE_VERSION);
  out->set_spec_version(ops::kSpecVersion);
  for (const auto& b : info.backends) {
    v1::BackendInfo* pb = out->add_backends();
    pb->set_name(b.name);
    pb->set_description(b.description);
    pb->set_serving(b.serving);
    for (const auto& op : b.supported_ops) pb->add_supported_ops(op);
  }
  out->set_store_used_bytes(info.store_used);
  out->set_store_capacity_bytes(info.store_capacity);
  out->set_pinned_bytes(info.pinned);
  out->set_pin_budget_bytes(info.pin_budget);
  out->set_verifier_bytes(info.verifier_bytes);
  out->set_admitted_class(admitted.class_name);
  out->set_admission_report_digest(admitted.report_digest);
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
      out.nonce_hex = util::HexEncode(r.nonce_bytes());
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
  RETURN_IF_ERROR(AdmissionService::Validate(out));
  return out;
}

void ToProto(const AdmissionOutcome& o, v1::AdmissionResult* out) {
  *out->mutable_report() = o.report;
  out->set_admitted(o.admitted);
  for (const auto& r : o.reasons) out->add_reasons(r);
  out->set_report_digest(o.report_digest);
  out->set_custom_class(o.custom_class);
}

absl::StatusOr<shim::FaultEvidence> FromProto(const v1::FaultEvidence& e) {
  // More shares than any subnet has nodes is not evidence, only work for the checker.
  constexpr int kMaxRejections = 1024;
  shim::FaultEvidence out;
  if (e.request_digest().size() != 32 || e.output_digest().size() != 32) {
    return absl::InvalidArgumentError(
        "fault evidence: request_digest and output_digest must be 32 bytes each");
  }
  if (e.rejections().empty() || e.rejections_size() > kMaxRejections) {
    return absl::InvalidArgumentError(absl::StrCat("fault evidence: ", e.rejections_size(),
                                                   " rejections (1 to ", kMaxRejections, ")"));
  }
  std::memcpy(out.request_digest.data(), e.request_digest().data(), 32);
  std::memcpy(out.output_digest.data(), e.output_digest().data(), 32);
  out.computing_node = e.computing_node();
  for (int i = 0; i < e.rejections_size(); ++i) {
    const v1::FaultRejection& r = e.rejections(i);
    if (r.signature().size() != 64) {
      return absl::InvalidArgumentError(
          absl::StrCat("fault evidence: rejection ", i, "'s signature is not 64 bytes"));
    }
    shim::VerifiedShare share;
    share.node = r.node();
    share.request_digest = out.request_digest;
    share.output_digest = out.output_digest;
    share.accepted = false;
    std::memcpy(share.signature.data(), r.signature().data(), 64);
    share.reason = r.reason();
    out.rejections.push_back(std::move(share));
  }
  return out;
}

v1::Phase PhaseFromName(const std::string& phase_name) {
  std::string upper = "PHASE_";
  for (char c : phase_name) upper.push_back(static_cast<char>(std::toupper(c)));
  v1::Phase phase = v1::PHASE_UNSPECIFIED;
  if (!v1::Phase_Parse(upper, &phase)) phase = v1::PHASE_UNSPECIFIED;
  return phase;
}

absl::Status SamplingFromProto(const v1::SamplingParams& s, ops::llm::SamplingParams* params,
                               std::vector<uint8_t>* seed) {
  params->temperature = s.temperature();
  params->top_k = s.top_k();
  params->top_p = s.top_p() == 0 ? 1.0f : s.top_p();
  // Checked before the seed is copied: its length comes from the request.
  RETURN_IF_ERROR(inference::CheckSampling(
      *params, {reinterpret_cast<const uint8_t*>(s.seed().data()), s.seed().size()}));
  seed->assign(s.seed().begin(), s.seed().end());
  return absl::OkStatus();
}

absl::StatusOr<GenerateCall> FromProto(const v1::GenerateRequest& r) {
  GenerateCall c;
  switch (r.target_case()) {
    case v1::GenerateRequest::kSessionId:
      if (r.session_id().empty()) return absl::InvalidArgumentError("session_id is empty");
      c.session_id = r.session_id();
      break;
    case v1::GenerateRequest::kModelDigest: {
      ASSIGN_OR_RETURN(c.model, DigestFromProto(r.model_digest(), "model_digest"));
      break;
    }
    default:
      return absl::InvalidArgumentError("request has neither session_id nor model_digest");
  }
  switch (r.prompt_case()) {
    case v1::GenerateRequest::kText:
      c.prompt = r.text();
      break;
    case v1::GenerateRequest::kTokenIds:
      c.prompt = std::vector<int32_t>(r.token_ids().ids().begin(), r.token_ids().ids().end());
      break;
    default:
      return absl::InvalidArgumentError("request has neither text nor token_ids");
  }
  c.chat = r.chat();
  inference::GenerateParams& p = c.params;
  p.max_tokens = r.max_tokens();
  RETURN_IF_ERROR(SamplingFromProto(r.sampling(), &p.sampling, &p.seed));
  p.stop_tokens.assign(r.stop_token_ids().begin(), r.stop_token_ids().end());
  return c;
}

void ToProto(const GenerateOutcome& o, v1::GenerateDone* out) {
  const inference::GenerateResult& r = o.result;
  out->set_stop_reason(ToProto(r.stop_reason));
  out->set_prompt_tokens(static_cast<int32_t>(r.prompt_tokens));
  out->set_generated_tokens(static_cast<int32_t>(r.tokens.size()));
  out->set_tokens_digest(ops::ToHex(r.tokens_digest));
  out->set_final_logits_digest(ops::ToHex(r.final_logits_digest));
  out->set_cycles(o.cycles);
  out->set_backend(o.backend);
  out->set_spec_version(ops::kSpecVersion);
  out->set_prefill_seconds(r.prefill_seconds);
  out->set_decode_seconds(r.decode_seconds);
}

}  // namespace datanode::node
