// Copyright 2026 The datanode Authors.
#include "node/shim/shim.h"

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "datanode/ops/digest.h"
#include "datanode/ops/status_macros.h"
#include "datanode/util/hex.h"
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

// accel_matmul's reply (replicated or verified): the output C, its digest and the charge.
Outcome MatMulOutcome(std::vector<uint8_t> out, const ops::Sha256& digest, absl::uint128 price) {
  MatMulReply reply;
  reply.out = std::move(out);
  reply.out_digest.assign(digest.begin(), digest.end());
  reply.spec_version = ops::kSpecVersion;
  reply.cycles_charged = price;
  Outcome o;
  o.reply = EncodeMatMulReply(reply);
  o.cycles_charged = price;
  return o;
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

absl::Status ValidateGenerateArgs(const GenerateArgs& a) {
  if (a.model.size() != 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("model must be a 32-byte SHA-256, got ", a.model.size(), " bytes"));
  }
  if (a.max_tokens < 1) return absl::InvalidArgumentError("max_tokens must be at least 1");
  if (a.sampling.temperature_milli > 100'000) {
    return absl::InvalidArgumentError("sampling.temperature_milli must be at most 100000");
  }
  if (a.sampling.top_p_milli > 1000) {
    return absl::InvalidArgumentError("sampling.top_p_milli must be at most 1000");
  }
  if (a.sampling.top_k > (1u << 22)) {
    return absl::InvalidArgumentError("sampling.top_k must be at most 2^22");
  }
  if (a.sampling.seed.size() > 64) {
    return absl::InvalidArgumentError("sampling.seed must be at most 64 bytes");
  }
  auto ids_ok = [](const std::vector<uint32_t>& ids) {
    for (uint32_t id : ids) {
      if (id > INT32_MAX) return false;
    }
    return true;
  };
  if (!ids_ok(a.prompt.token_ids) || !ids_ok(a.stop_token_ids)) {
    return absl::InvalidArgumentError("token ids must be below 2^31");
  }
  if (a.prompt.kind == Prompt::Kind::kTokenIds && a.prompt.token_ids.empty()) {
    return absl::InvalidArgumentError("the prompt is empty");
  }
  return absl::OkStatus();
}

absl::StatusOr<DaemonTokens> DaemonClient::Tokenize(const std::vector<uint8_t>&, const std::string&,
                                                    bool) {
  return absl::UnimplementedError("this data node client has no Tokenize");
}

absl::StatusOr<DaemonGenerateResult> DaemonClient::Generate(const DaemonGenerateCall&) {
  return absl::UnimplementedError("this data node client has no Generate");
}

absl::StatusOr<std::string> DaemonClient::AdmittedClass() {
  return absl::UnimplementedError("this data node client cannot tell its admitted class");
}

absl::StatusOr<DaemonExactResult> DaemonClient::MatMulExact(const MatMulArgs&) {
  return absl::UnimplementedError("this data node client has no verified mode");
}

absl::StatusOr<DaemonVerdict> DaemonClient::MatMulVerify(const MatMulArgs&,
                                                         const DaemonVerifyCall&) {
  return absl::UnimplementedError("this data node client has no verified mode");
}

namespace {
constexpr uint8_t kAnswerMagic[8] = {'D', 'N', 'V', 'A', 'N', 'S', '1', 0};
}  // namespace

std::vector<uint8_t> EncodeVerifiedAnswer(std::span<const uint8_t> out,
                                          std::span<const uint8_t> exact_sums) {
  std::vector<uint8_t> a(std::begin(kAnswerMagic), std::end(kAnswerMagic));
  a.reserve(a.size() + out.size() + exact_sums.size());
  a.insert(a.end(), out.begin(), out.end());
  a.insert(a.end(), exact_sums.begin(), exact_sums.end());
  return a;
}

absl::StatusOr<VerifiedAnswerView> ParseVerifiedAnswer(std::span<const uint8_t> answer,
                                                       uint64_t out_bytes) {
  if (answer.size() < sizeof kAnswerMagic ||
      std::memcmp(answer.data(), kAnswerMagic, sizeof kAnswerMagic) != 0) {
    return absl::InvalidArgumentError("the answer does not start with \"DNVANS1\\0\"");
  }
  const std::span<const uint8_t> rest = answer.subspan(sizeof kAnswerMagic);
  if (rest.size() < out_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("the answer holds ", rest.size(),
                                                   " bytes after its magic; the output alone is ",
                                                   out_bytes));
  }
  return VerifiedAnswerView{rest.first(static_cast<size_t>(out_bytes)),
                            rest.subspan(static_cast<size_t>(out_bytes))};
}

std::optional<Outcome> Shim::RefuseUnlessAdmitted(std::string_view method) const {
  if (config_.required_class.empty()) return std::nullopt;
  absl::StatusOr<std::string> held = daemon_->AdmittedClass();
  if (!held.ok()) {
    return FromStatus(held.status(),
                      absl::StrCat(std::string(method), ": data node (admitted class)"));
  }
  if (*held == config_.required_class) return std::nullopt;
  // Not the caller's doing, and it passes once the node does: transient, no fee.
  return Reject(
      RejectCode::kSysTransient,
      absl::StrCat(std::string(method), ": this data node is not admitted to device class '",
                   config_.required_class, "' (it holds ",
                   held->empty() ? "no class" : absl::StrCat("'", *held, "'"),
                   "): it failed, or has not yet passed, its admission test or a re-check "
                   "of it, and serves again once it passes"));
}

Shim::Shim(ShimConfig config, std::unique_ptr<DaemonClient> daemon)
    : config_(config), daemon_(std::move(daemon)) {}

Outcome Shim::ChargeRejectFee(Outcome o, size_t arg_bytes, absl::uint128 cycles_available) const {
  if (o.code == RejectCode::kCanisterReject || o.code == RejectCode::kCanisterError) {
    const absl::uint128 fee = RejectFee(config_.subnet_size, arg_bytes);
    o.cycles_charged = cycles_available < fee ? cycles_available : fee;
    absl::StrAppend(&o.message, " (reject fee: ", U128(o.cycles_charged), " cycles charged)");
  }
  return o;
}

Outcome Shim::Call(std::string_view method, std::span<const uint8_t> arg,
                   absl::uint128 cycles_available) const {
  Outcome o = Dispatch(method, arg, cycles_available);
  // accel_matmul and accel_generate are update calls: one its caller got wrong was still carried
  // through consensus and checked on every replica, so it pays the reject fee (pricing.h), never
  // more than was attached. Queries are free; SYS_* and DESTINATION_INVALID are not the
  // caller's doing.
  if (method == kMethodMatMul || method == kMethodGenerate) {
    return ChargeRejectFee(std::move(o), arg.size(), cycles_available);
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
  if (method == kMethodGenerate) return Generate(arg, cycles_available);
  return Reject(RejectCode::kDestinationInvalid,
                absl::StrCat("no method '", std::string(method), "' on the data node interface"));
}

std::optional<Outcome> Shim::PrepareMatMul(std::span<const uint8_t> arg,
                                           absl::uint128 cycles_available, const char* what,
                                           PreparedMatMul* p) const {
  if (arg.size() > config_.max_arg_bytes) {
    return Reject(RejectCode::kCanisterError,
                  absl::StrCat(what, ": argument of ", arg.size(), " bytes exceeds the limit of ",
                               config_.max_arg_bytes));
  }
  absl::StatusOr<MatMulArgs> args = DecodeMatMulArgs(arg, ArgLimits(config_));
  if (!args.ok()) {
    return Reject(RejectCode::kCanisterError,
                  absl::StrCat(what, ": ", std::string(args.status().message())));
  }
  if (absl::Status s = ValidateMatMulArgs(*args); !s.ok()) return FromStatus(s, what);
  absl::StatusOr<PriceTerms> terms =
      MatMulPriceTerms(config_.subnet_size, args->op, args->m, args->n, args->k, arg.size());
  if (!terms.ok()) return FromStatus(terms.status(), what);
  const bool verified = shim::ModeOf(args->mode) == CallMode::kVerified;
  const absl::uint128 price =
      verified ? VerifiedPrice(*terms, args->m, args->n, args->k) : shim::Price(*terms);
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
        absl::StrCat(what, ": reply of ", reply_bytes, " bytes would exceed the limit of ",
                     config_.max_reply_bytes, "; split the call by rows of A"));
  }
  if (cycles_available < price) {
    return Reject(
        RejectCode::kCanisterReject,
        absl::StrCat(what, " sent with ", U128(cycles_available), " cycles, but ", U128(price),
                     " cycles are required", verified ? " (verified mode)" : ""));
  }
  if (!daemon_) {
    return Reject(RejectCode::kDestinationInvalid,
                  absl::StrCat(what, ": this subnet has no data node"));
  }
  p->args = *std::move(args);
  p->terms = *terms;
  p->price = price;
  return std::nullopt;
}

Outcome Shim::MatMul(std::span<const uint8_t> arg, absl::uint128 cycles_available) const {
  PreparedMatMul p;
  if (std::optional<Outcome> refused = PrepareMatMul(arg, cycles_available, "accel_matmul", &p)) {
    return *refused;
  }
  if (shim::ModeOf(p.args.mode) == CallMode::kVerified) {
    // Only the replica can run the verified protocol (ic0_accel_verified_*): this one
    // called the replicated entry point, so the mode is not offered here. Nothing ran.
    return Reject(RejectCode::kDestinationInvalid,
                  "accel_matmul: verified mode is not offered by this replica (it ran the call "
                  "as a replicated one); send mode = null or replicated");
  }
  if (std::optional<Outcome> refused = RefuseUnlessAdmitted(kMethodMatMul)) return *refused;
  absl::StatusOr<DaemonMatMulResult> r = daemon_->MatMul(p.args);
  if (!r.ok()) return FromStatus(r.status(), "accel_matmul: data node");
  // Never sign what the daemon did not get right: size, digest and spec version are
  // checked here, and a mismatch is this node's fault (SYS_FATAL), not the caller's.
  const ops::Sha256 digest = ops::Sha256Of({r->out});
  if (static_cast<uint64_t>(r->out.size()) != p.terms.out_bytes ||
      ops::ToHex(digest) != r->output_digest_hex) {
    return Reject(RejectCode::kSysFatal,
                  "accel_matmul: the data node returned an output whose size or digest is wrong");
  }
  if (r->spec_version != ops::kSpecVersion) {
    return Reject(RejectCode::kSysFatal,
                  absl::StrCat("accel_matmul: data node follows spec version ", r->spec_version,
                               ", the shim ", ops::kSpecVersion));
  }
  return MatMulOutcome(std::move(r->out), digest, p.price);
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
  o.reply = EncodePriceReply(PriceReply{shim::ModeOf(args->mode) == CallMode::kVerified
                                            ? VerifiedPrice(*terms, args->m, args->n, args->k)
                                            : shim::Price(*terms)});
  return o;
}

Outcome Shim::Generate(std::span<const uint8_t> arg, absl::uint128 cycles_available) const {
  constexpr const char* kWhat = "accel_generate";
  absl::StatusOr<GenerateArgs> args = DecodeGenerateArgs(arg, ArgLimits(config_));
  if (!args.ok()) {
    return Reject(RejectCode::kCanisterError,
                  absl::StrCat(kWhat, ": ", std::string(args.status().message())));
  }
  if (absl::Status s = ValidateGenerateArgs(*args); !s.ok()) return FromStatus(s, kWhat);
  if (shim::ModeOf(args->mode) == CallMode::kVerified) {
    // Verified generation runs between data nodes (the VerifiedInference service) but is
    // not offered through the shim yet; refused rather than run replicated. Nothing ran.
    return Reject(RejectCode::kDestinationInvalid,
                  "accel_generate: verified mode is not offered for generations yet; send "
                  "mode = null or replicated");
  }
  if (!daemon_) {
    return Reject(RejectCode::kDestinationInvalid, "accel_generate: this subnet has no data node");
  }
  if (std::optional<Outcome> refused = RefuseUnlessAdmitted(kMethodGenerate)) return *refused;
  // The price terms come from the model's tensor list (ModelCostFromTensors), the prompt's
  // length from the node's tokenizer.
  absl::StatusOr<std::vector<ModelInfo>> models = daemon_->ListModels(args->model);
  if (!models.ok()) return FromStatus(models.status(), "accel_generate: data node");
  if (models->size() != 1) {
    return Reject(RejectCode::kSysFatal, "accel_generate: the data node listed no such model");
  }
  std::vector<std::vector<int64_t>> shapes;
  std::vector<PricedTensor> priced;
  shapes.reserve(models->front().tensors.size());
  for (const TensorInfo& t : models->front().tensors) {
    shapes.emplace_back(t.shape.begin(), t.shape.end());
    priced.push_back({t.name, shapes.back(), t.bytes});
  }
  const ModelCost cost = ModelCostFromTensors(priced);
  const bool text = args->prompt.kind != Prompt::Kind::kTokenIds;
  absl::StatusOr<DaemonTokens> tokens = daemon_->Tokenize(
      args->model, text ? args->prompt.text : "", args->prompt.kind == Prompt::Kind::kChat);
  if (!tokens.ok()) return FromStatus(tokens.status(), "accel_generate: data node");
  DaemonGenerateCall call;
  call.model = args->model;
  if (text) {
    call.prompt = std::move(tokens->ids);
  } else {
    call.prompt.assign(args->prompt.token_ids.begin(), args->prompt.token_ids.end());
  }
  if (call.prompt.empty())
    return Reject(RejectCode::kCanisterReject, "accel_generate: the prompt is empty");
  const uint64_t max_piece = static_cast<uint64_t>(std::max(tokens->max_piece_bytes, 0));
  // The most this call can cost: max_tokens tokens of the longest piece.
  absl::StatusOr<PriceTerms> most =
      GeneratePriceTerms(config_.subnet_size, cost, call.prompt.size(), args->max_tokens,
                         arg.size(), uint64_t{args->max_tokens} * (4 + max_piece));
  if (!most.ok()) return FromStatus(most.status(), kWhat);
  const absl::uint128 max_price = shim::Price(*most);
  const uint64_t reply_bound = GenerateReplyBytesBound(args->max_tokens, max_piece, max_price);
  if (reply_bound > config_.max_reply_bytes) {
    return Reject(RejectCode::kCanisterReject,
                  absl::StrCat("accel_generate: a reply of ", args->max_tokens, " tokens may take ",
                               reply_bound, " bytes, over the limit of ", config_.max_reply_bytes,
                               "; ask for fewer tokens"));
  }
  if (cycles_available < max_price) {
    return Reject(
        RejectCode::kCanisterReject,
        absl::StrCat("accel_generate sent with ", U128(cycles_available), " cycles, but up to ",
                     U128(max_price), " cycles are required for max_tokens = ", args->max_tokens));
  }
  call.max_tokens = args->max_tokens;
  // Exact: both are integers below 2^24 and the division is correctly rounded.
  call.temperature = static_cast<float>(args->sampling.temperature_milli) / 1000.0f;
  call.top_p = args->sampling.top_p_milli == 0
                   ? 1.0f
                   : static_cast<float>(args->sampling.top_p_milli) / 1000.0f;
  call.top_k = args->sampling.top_k;
  call.seed = args->sampling.seed;
  call.stop_token_ids.assign(args->stop_token_ids.begin(), args->stop_token_ids.end());
  absl::StatusOr<DaemonGenerateResult> r = daemon_->Generate(call);
  if (!r.ok()) return FromStatus(r.status(), "accel_generate: data node");

  // Never sign what the daemon did not get right (this node's fault: SYS_FATAL).
  std::vector<uint8_t> le;
  le.reserve(r->ids.size() * 4);
  for (int32_t id : r->ids) {
    for (int i = 0; i < 4; ++i)
      le.push_back(static_cast<uint8_t>(static_cast<uint32_t>(id) >> (8 * i)));
  }
  const ops::Sha256 tokens_digest = ops::Sha256Of({le});
  absl::StatusOr<PriceTerms> node_terms =
      GeneratePriceTerms(1, cost, call.prompt.size(), r->ids.size(), 0, 0);
  // Lower case only: the node sends the digest exactly as the spec spells it.
  absl::StatusOr<std::vector<uint8_t>> logits_digest =
      util::HexDecodeBytes(r->final_logits_digest_hex, util::HexCase::kLower);
  if (r->ids.size() > args->max_tokens || r->text.size() > r->ids.size() * max_piece ||
      ops::ToHex(tokens_digest) != r->tokens_digest_hex || !logits_digest.ok() ||
      logits_digest->size() != 32 || r->prompt_tokens != call.prompt.size() || !node_terms.ok() ||
      absl::uint128(r->cycles) != ComputeCycles(*node_terms)) {
    return Reject(RejectCode::kSysFatal,
                  "accel_generate: the data node's result is inconsistent (ids, digest, sizes or "
                  "cycles)");
  }
  if (r->spec_version != ops::kSpecVersion) {
    return Reject(RejectCode::kSysFatal,
                  absl::StrCat("accel_generate: data node follows spec version ", r->spec_version,
                               ", the shim ", ops::kSpecVersion));
  }
  absl::StatusOr<PriceTerms> terms =
      GeneratePriceTerms(config_.subnet_size, cost, call.prompt.size(), r->ids.size(), arg.size(),
                         r->ids.size() * 4 + r->text.size());
  if (!terms.ok()) return FromStatus(terms.status(), kWhat);
  GenerateReply reply;
  reply.token_ids.assign(r->ids.begin(), r->ids.end());
  reply.text = std::move(r->text);
  reply.stop_reason = r->stop_reason;
  reply.prompt_tokens = r->prompt_tokens;
  reply.tokens_digest.assign(tokens_digest.begin(), tokens_digest.end());
  reply.final_logits_digest = *std::move(logits_digest);
  reply.spec_version = ops::kSpecVersion;
  reply.cycles_charged = shim::Price(*terms);
  Outcome o;
  o.reply = EncodeGenerateReply(reply);
  o.cycles_charged = reply.cycles_charged;
  return o;
}

CallMode Shim::ModeOf(std::string_view method, std::span<const uint8_t> arg) const {
  if (method != kMethodMatMul || arg.size() > config_.max_arg_bytes) return CallMode::kReplicated;
  absl::StatusOr<MatMulArgs> args = DecodeMatMulArgs(arg, ArgLimits(config_));
  return args.ok() ? shim::ModeOf(args->mode) : CallMode::kReplicated;
}

namespace {
constexpr const char* kVerifiedWhat = "accel_matmul (verified)";

Outcome NotVerified() {
  return Reject(RejectCode::kSysFatal,
                "accel_matmul: the call is in replicated mode; the replica runs it with "
                "ic0_accel_call, not the verified entry points");
}
}  // namespace

Outcome Shim::VerifiedCompute(std::span<const uint8_t> arg, absl::uint128 cycles_available) const {
  PreparedMatMul p;
  if (std::optional<Outcome> refused = PrepareMatMul(arg, cycles_available, kVerifiedWhat, &p)) {
    return ChargeRejectFee(*std::move(refused), arg.size(), cycles_available);
  }
  if (shim::ModeOf(p.args.mode) != CallMode::kVerified) return NotVerified();
  if (std::optional<Outcome> refused = RefuseUnlessAdmitted(kMethodMatMul)) return *refused;
  absl::StatusOr<DaemonExactResult> r = daemon_->MatMulExact(p.args);
  if (!r.ok()) {
    return ChargeRejectFee(FromStatus(r.status(), "accel_matmul (verified): data node"), arg.size(),
                           cycles_available);
  }
  // As for a replicated call, never hand on what the daemon did not get right: the
  // answer's size, digest and spec version are this node's to check (SYS_FATAL).
  const ops::Sha256 digest = ops::Sha256Of({r->out});
  if (static_cast<uint64_t>(r->out.size()) != p.terms.out_bytes ||
      ops::ToHex(digest) != r->output_digest_hex) {
    return Reject(RejectCode::kSysFatal,
                  "accel_matmul (verified): the data node returned an output whose size or digest "
                  "is wrong");
  }
  if (r->spec_version != ops::kSpecVersion) {
    return Reject(RejectCode::kSysFatal,
                  absl::StrCat("accel_matmul (verified): data node follows spec version ",
                               r->spec_version, ", the shim ", ops::kSpecVersion));
  }
  Outcome o;
  o.reply = EncodeVerifiedAnswer(r->out, r->exact_sums);
  return o;
}

Outcome Shim::VerifiedCheck(std::span<const uint8_t> arg, absl::uint128 cycles_available,
                            const VerifierRole& role, std::span<const uint8_t> answer,
                            VerifiedShare* share) const {
  PreparedMatMul p;
  if (std::optional<Outcome> refused = PrepareMatMul(arg, cycles_available, kVerifiedWhat, &p)) {
    return ChargeRejectFee(*std::move(refused), arg.size(), cycles_available);
  }
  if (shim::ModeOf(p.args.mode) != CallMode::kVerified) return NotVerified();
  if (role.node == role.computing_node) {
    return Reject(RejectCode::kSysFatal,
                  absl::StrCat("accel_matmul (verified): node ", role.node,
                               " is the computing node and cannot check its own answer"));
  }
  absl::StatusOr<VerifiedAnswerView> view = ParseVerifiedAnswer(answer, p.terms.out_bytes);
  if (!view.ok()) {
    return Reject(
        RejectCode::kSysTransient,
        absl::StrCat("accel_matmul (verified): the answer of computing node ", role.computing_node,
                     " is malformed: ", std::string(view.status().message())));
  }
  if (std::optional<Outcome> refused = RefuseUnlessAdmitted(kMethodMatMul)) return *refused;
  DaemonVerifyCall call;
  call.out = view->out;
  call.exact_sums = view->exact_sums;
  call.epoch = role.epoch;
  call.request_digest = role.request_digest;
  call.computing_node = role.computing_node;
  absl::StatusOr<DaemonVerdict> v = daemon_->MatMulVerify(p.args, call);
  if (!v.ok()) {
    return ChargeRejectFee(FromStatus(v.status(), "accel_matmul (verified): data node"), arg.size(),
                           cycles_available);
  }
  const ops::Sha256 d = ops::Sha256Of({view->out});
  if (v->output_digest.size() != d.size() ||
      !std::equal(d.begin(), d.end(), v->output_digest.begin()) || v->signature.size() != 64) {
    return Reject(RejectCode::kSysFatal,
                  "accel_matmul (verified): the data node's verdict names another output digest "
                  "or is not signed");
  }
  share->node = role.node;
  share->request_digest = role.request_digest;
  share->output_digest = d;
  share->accepted = v->accepted;
  std::memcpy(share->signature.data(), v->signature.data(), 64);
  share->reason = v->reason;
  Outcome o;
  o.message = v->reason;
  return o;
}

Outcome Shim::VerifiedCombine(std::span<const uint8_t> arg, absl::uint128 cycles_available,
                              std::span<const PublicKey> keys, const EvictedNodes* evicted,
                              const Sha256& request_digest, uint32_t computing_node,
                              std::span<const uint8_t> answer,
                              std::span<const VerifiedShare> shares) const {
  PreparedMatMul p;
  if (std::optional<Outcome> refused = PrepareMatMul(arg, cycles_available, kVerifiedWhat, &p)) {
    return ChargeRejectFee(*std::move(refused), arg.size(), cycles_available);
  }
  if (shim::ModeOf(p.args.mode) != CallMode::kVerified) return NotVerified();
  if (keys.size() != config_.subnet_size || computing_node >= keys.size() ||
      (evicted != nullptr && evicted->size() != keys.size())) {
    return Reject(RejectCode::kSysFatal,
                  absl::StrCat("accel_matmul (verified): ", keys.size(), " keys for a subnet of ",
                               config_.subnet_size, ", computing node ", computing_node,
                               evicted != nullptr && evicted->size() != keys.size()
                                   ? ", and an eviction record of another size"
                                   : ""));
  }
  if (answer.empty()) {
    return Reject(RejectCode::kSysTransient,
                  absl::StrCat("accel_matmul (verified): computing node ", computing_node,
                               " gave no answer; retry (the next call draws again)"));
  }
  absl::StatusOr<VerifiedAnswerView> view = ParseVerifiedAnswer(answer, p.terms.out_bytes);
  if (!view.ok()) {
    return Reject(
        RejectCode::kSysTransient,
        absl::StrCat("accel_matmul (verified): the answer of computing node ", computing_node,
                     " is malformed: ", std::string(view.status().message())));
  }
  const ops::Sha256 d = ops::Sha256Of({view->out});
  const VerifiedAgreement ag =
      CombineVerified(keys, request_digest, computing_node, d, shares, evicted);
  if (!ag.agreed) {
    return Reject(ag.reject == RejectCode::kNone ? RejectCode::kSysTransient : ag.reject,
                  absl::StrCat("accel_matmul (verified): ", ag.message));
  }
  return MatMulOutcome(std::vector<uint8_t>(view->out.begin(), view->out.end()), d, p.price);
}

}  // namespace datanode::shim
