// Copyright 2026 The datanode Authors.
#include "node/shim/shim.h"

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "datanode/ops/digest.h"
#include "datanode/ops/status_macros.h"
#include "node/shim/pricing.h"

namespace datanode::shim {
namespace {

constexpr size_t kMaxTensorName = 1024;

Outcome Reject(RejectCode code, std::string message) {
  Outcome o;
  o.code = code;
  o.message = std::move(message);
  return o;
}

Outcome FromStatus(const absl::Status& s, std::string_view context) {
  return Reject(RejectCodeForStatus(s.code()),
                absl::StrCat(std::string(context), ": ", std::string(s.message())));
}

// The shim's Candid limits: arguments are small records with blobs, so a modest value
// budget and depth suffice; a larger message is rejected before decoding.
candid::DecodeLimits ArgLimits(const ShimConfig& c) {
  candid::DecodeLimits l;
  l.max_input_bytes = c.max_arg_bytes;
  l.max_type_entries = 64;
  l.max_fields = 64;
  l.max_depth = 16;
  l.max_values = 4096;
  return l;
}

std::string U128(absl::uint128 v) {
  std::string s;
  do {
    s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  } while (v != 0);
  return s;
}

}  // namespace

absl::Status ValidateMatMulArgs(const MatMulArgs& a) {
  if (!ops::IsMatMul(a.op)) return absl::InvalidArgumentError("op is not a matmul");
  ASSIGN_OR_RETURN(ops::OperandSizes sizes, ops::ComputeOperandSizes(a.op, a.m, a.n, a.k));
  if (a.weights.model.size() != 32) {
    return absl::InvalidArgumentError(absl::StrCat("weights.model must be a 32-byte SHA-256, got ",
                                                   a.weights.model.size(), " bytes"));
  }
  if (a.weights.tensor.empty() || a.weights.tensor.size() > kMaxTensorName) {
    return absl::InvalidArgumentError("weights.tensor must be 1 to 1024 bytes");
  }
  if (static_cast<int64_t>(a.a.size()) != sizes.a) {
    return absl::InvalidArgumentError(absl::StrCat("a has ", a.a.size(), " bytes; ",
                                                   ops::OpKindName(a.op), " [", a.m, ", ", a.k,
                                                   "] needs ", sizes.a));
  }
  const bool scaled = a.op == ops::OpKind::kMatMulS8F32;
  if (scaled != a.a_scale.has_value() || scaled != a.w_scale.has_value()) {
    return absl::InvalidArgumentError(
        scaled ? "matmul_s8_f32 needs a_scale and w_scale"
               : absl::StrCat(ops::OpKindName(a.op), " takes no a_scale or w_scale"));
  }
  if (scaled) {
    if (static_cast<int64_t>(a.a_scale->size()) != sizes.a_scale) {
      return absl::InvalidArgumentError(
          absl::StrCat("a_scale has ", a.a_scale->size(), " bytes; needs ", sizes.a_scale));
    }
    if (a.w_scale->empty() || a.w_scale->size() > kMaxTensorName) {
      return absl::InvalidArgumentError("w_scale must name a tensor (1 to 1024 bytes)");
    }
  }
  // s8 activations are symmetric: -128 is invalid input (docs/determinism.md).
  if ((a.op == ops::OpKind::kMatMulS8S32 || scaled) &&
      std::memchr(a.a.data(), 0x80, a.a.size()) != nullptr) {
    return absl::InvalidArgumentError("a contains the int8 value -128");
  }
  return absl::OkStatus();
}

Shim::Shim(ShimConfig config, std::unique_ptr<DaemonClient> daemon)
    : config_(config), daemon_(std::move(daemon)) {}

Outcome Shim::Call(std::string_view method, std::span<const uint8_t> arg,
                   absl::uint128 cycles_available) const {
  Outcome o = Dispatch(method, arg, cycles_available);
  // accel_matmul is an update call: one its caller got wrong was still carried through
  // consensus and checked on every replica, so it pays the reject fee (pricing.h), never
  // more than was attached. Queries are free; SYS_* and DESTINATION_INVALID are not the
  // caller's doing.
  if (method == kMethodMatMul &&
      (o.code == RejectCode::kCanisterReject || o.code == RejectCode::kCanisterError)) {
    const absl::uint128 fee = RejectFee(config_.subnet_size, arg.size());
    o.cycles_charged = cycles_available < fee ? cycles_available : fee;
    absl::StrAppend(&o.message, " (reject fee: ", U128(o.cycles_charged), " cycles charged)");
  }
  return o;
}

Outcome Shim::Dispatch(std::string_view method, std::span<const uint8_t> arg,
                       absl::uint128 cycles_available) const {
  if (arg.size() > config_.max_arg_bytes) {
    return Reject(RejectCode::kCanisterError,
                  absl::StrCat(std::string(method), ": argument of ", arg.size(),
                               " bytes exceeds the limit of ", config_.max_arg_bytes));
  }
  if (method == kMethodMatMul) return MatMul(arg, cycles_available);
  if (method == kMethodListModels) return ListModels(arg);
  if (method == kMethodPrice) return Price(arg);
  return Reject(RejectCode::kDestinationInvalid,
                absl::StrCat("no method '", std::string(method), "' on the data node interface"));
}

Outcome Shim::MatMul(std::span<const uint8_t> arg, absl::uint128 cycles_available) const {
  absl::StatusOr<MatMulArgs> args = DecodeMatMulArgs(arg, ArgLimits(config_));
  if (!args.ok()) {
    return Reject(RejectCode::kCanisterError,
                  absl::StrCat("accel_matmul: ", std::string(args.status().message())));
  }
  if (absl::Status s = ValidateMatMulArgs(*args); !s.ok()) return FromStatus(s, "accel_matmul");
  absl::StatusOr<PriceTerms> terms =
      MatMulPriceTerms(config_.subnet_size, args->op, args->m, args->n, args->k, arg.size());
  if (!terms.ok()) return FromStatus(terms.status(), "accel_matmul");
  const absl::uint128 price = shim::Price(*terms);
  // The reply's size follows from the shape, so a reply over the limit is refused here,
  // before the daemon computes anything.
  MatMulReply sized;
  sized.out_digest.resize(32);
  sized.spec_version = ops::kSpecVersion;
  sized.cycles_charged = price;
  const uint64_t reply_bytes = MatMulReplyBytes(sized, terms->out_bytes);
  if (reply_bytes > config_.max_reply_bytes) {
    return Reject(
        RejectCode::kCanisterReject,
        absl::StrCat("accel_matmul: reply of ", reply_bytes, " bytes would exceed the limit of ",
                     config_.max_reply_bytes, "; split the call by rows of A"));
  }
  if (cycles_available < price) {
    return Reject(RejectCode::kCanisterReject,
                  absl::StrCat("accel_matmul sent with ", U128(cycles_available), " cycles, but ",
                               U128(price), " cycles are required"));
  }
  if (!daemon_) {
    return Reject(RejectCode::kDestinationInvalid, "accel_matmul: this subnet has no data node");
  }
  absl::StatusOr<DaemonMatMulResult> r = daemon_->MatMul(*args);
  if (!r.ok()) return FromStatus(r.status(), "accel_matmul: data node");
  // Never sign what the daemon did not get right: size, digest and spec version are
  // checked here, and a mismatch is this node's fault (SYS_FATAL), not the caller's.
  const ops::Sha256 digest = ops::Sha256Of({r->out});
  if (static_cast<uint64_t>(r->out.size()) != terms->out_bytes ||
      ops::ToHex(digest) != r->output_digest_hex) {
    return Reject(RejectCode::kSysFatal,
                  "accel_matmul: the data node returned an output whose size or digest is wrong");
  }
  if (r->spec_version != ops::kSpecVersion) {
    return Reject(RejectCode::kSysFatal,
                  absl::StrCat("accel_matmul: data node follows spec version ", r->spec_version,
                               ", the shim ", ops::kSpecVersion));
  }
  MatMulReply reply;
  reply.out = std::move(r->out);
  reply.out_digest.assign(digest.begin(), digest.end());
  reply.spec_version = ops::kSpecVersion;
  reply.cycles_charged = price;
  Outcome o;
  o.reply = EncodeMatMulReply(reply);
  o.cycles_charged = price;
  return o;
}

Outcome Shim::ListModels(std::span<const uint8_t> arg) const {
  absl::StatusOr<ListModelsArgs> args = DecodeListModelsArgs(arg, ArgLimits(config_));
  if (!args.ok()) {
    return Reject(RejectCode::kCanisterError,
                  absl::StrCat("accel_list_models: ", std::string(args.status().message())));
  }
  if (args->model && args->model->size() != 32) {
    return Reject(RejectCode::kCanisterReject,
                  "accel_list_models: model must be a 32-byte SHA-256");
  }
  if (!daemon_) {
    return Reject(RejectCode::kDestinationInvalid,
                  "accel_list_models: this subnet has no data node");
  }
  absl::StatusOr<std::vector<ModelInfo>> models = daemon_->ListModels(args->model);
  if (!models.ok()) return FromStatus(models.status(), "accel_list_models: data node");
  Outcome o;
  o.reply = EncodeListModelsReply(ListModelsReply{*std::move(models)});
  if (o.reply.size() > config_.max_reply_bytes) {
    return Reject(RejectCode::kCanisterReject,
                  "accel_list_models: the list exceeds the reply limit; ask for one model");
  }
  return o;
}

Outcome Shim::Price(std::span<const uint8_t> arg) const {
  absl::StatusOr<PriceArgs> args = DecodePriceArgs(arg, ArgLimits(config_));
  if (!args.ok()) {
    return Reject(RejectCode::kCanisterError,
                  absl::StrCat("accel_price: ", std::string(args.status().message())));
  }
  absl::StatusOr<PriceTerms> terms =
      MatMulPriceTerms(config_.subnet_size, args->op, args->m, args->n, args->k, args->arg_bytes);
  if (!terms.ok()) return FromStatus(terms.status(), "accel_price");
  Outcome o;
  o.reply = EncodePriceReply(PriceReply{shim::Price(*terms)});
  return o;
}

}  // namespace datanode::shim
