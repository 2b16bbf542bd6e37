// Copyright 2026 The datanode Authors.
#include "node/shim/interface.h"

#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "datanode/ops/status_macros.h"

namespace datanode::shim {
namespace {

using candid::Op;
using candid::Prim;
using candid::TypeRef;
using candid::Value;

// The Candid OpKind variant: the matmul rows of the op table, by name.
constexpr auto& kMatMulKinds = ops::kMatMulOpKinds;

struct Types {
  std::vector<std::pair<std::string, TypeRef>> by_name;

  Types() {
    std::vector<std::pair<std::string, TypeRef>> tags;
    for (ops::OpKind k : kMatMulKinds) tags.emplace_back(ops::OpKindName(k), nullptr);
    TypeRef op_kind = candid::Variant(tags);
    TypeRef call_mode =
        candid::Variant({{"replicated", candid::Null()}, {"verified", candid::Null()}});
    TypeRef tensor_ref = candid::Record({{"model", candid::Blob()}, {"tensor", Prim(Op::kText)}});
    TypeRef nat32 = Prim(Op::kNat32);
    TypeRef matmul_args = candid::Record({{"op", op_kind},
                                          {"m", nat32},
                                          {"n", nat32},
                                          {"k", nat32},
                                          {"weights", tensor_ref},
                                          {"w_scale", candid::Opt(Prim(Op::kText))},
                                          {"a", candid::Blob()},
                                          {"a_scale", candid::Opt(candid::Blob())},
                                          {"mode", candid::Opt(call_mode)}});
    TypeRef matmul_reply = candid::Record({{"out", candid::Blob()},
                                           {"out_digest", candid::Blob()},
                                           {"spec_version", nat32},
                                           {"cycles_charged", Prim(Op::kNat)}});
    TypeRef list_args = candid::Record({{"model", candid::Opt(candid::Blob())}});
    TypeRef tensor_info = candid::Record({{"name", Prim(Op::kText)},
                                          {"format", Prim(Op::kText)},
                                          {"shape", candid::Vec(Prim(Op::kNat64))},
                                          {"bytes", Prim(Op::kNat64)}});
    TypeRef model_info = candid::Record({{"digest", candid::Blob()},
                                         {"format", Prim(Op::kText)},
                                         {"tensors", candid::Vec(tensor_info)}});
    TypeRef list_reply = candid::Record({{"models", candid::Vec(model_info)}});
    TypeRef price_args = candid::Record({{"op", op_kind},
                                         {"m", nat32},
                                         {"n", nat32},
                                         {"k", nat32},
                                         {"arg_bytes", Prim(Op::kNat64)},
                                         {"mode", candid::Opt(call_mode)}});
    TypeRef price_reply = candid::Record({{"cycles", Prim(Op::kNat)}});
    TypeRef sampling = candid::Record({{"temperature_milli", nat32},
                                       {"top_k", nat32},
                                       {"top_p_milli", nat32},
                                       {"seed", candid::Blob()}});
    TypeRef prompt = candid::Variant(
        {{"text", Prim(Op::kText)}, {"chat", Prim(Op::kText)}, {"token_ids", candid::Vec(nat32)}});
    TypeRef generate_args = candid::Record({{"model", candid::Blob()},
                                            {"prompt", prompt},
                                            {"max_tokens", nat32},
                                            {"sampling", sampling},
                                            {"stop_token_ids", candid::Vec(nat32)},
                                            {"mode", candid::Opt(call_mode)}});
    TypeRef stop_reason = candid::Variant({{"end_of_generation", candid::Null()},
                                           {"max_tokens", candid::Null()},
                                           {"context_full", candid::Null()}});
    TypeRef generate_reply = candid::Record({{"token_ids", candid::Vec(nat32)},
                                             {"text", candid::Blob()},
                                             {"stop_reason", stop_reason},
                                             {"prompt_tokens", nat32},
                                             {"tokens_digest", candid::Blob()},
                                             {"final_logits_digest", candid::Blob()},
                                             {"spec_version", nat32},
                                             {"cycles_charged", Prim(Op::kNat)}});
    by_name = {{"OpKind", op_kind},
               {"CallMode", call_mode},
               {"TensorRef", tensor_ref},
               {"MatMulArgs", matmul_args},
               {"MatMulReply", matmul_reply},
               {"ListModelsArgs", list_args},
               {"TensorInfo", tensor_info},
               {"ModelInfo", model_info},
               {"ListModelsReply", list_reply},
               {"PriceArgs", price_args},
               {"PriceReply", price_reply},
               {"Sampling", sampling},
               {"Prompt", prompt},
               {"GenerateArgs", generate_args},
               {"StopReason", stop_reason},
               {"GenerateReply", generate_reply}};
  }
};

const Types& AllTypes() {
  static const Types* types = new Types();
  return *types;
}

TypeRef T(std::string_view name) { return InterfaceType(name); }

std::vector<uint8_t> EncodeOne(std::string_view type, Value v) {
  TypeRef t = T(type);
  absl::StatusOr<std::vector<uint8_t>> bytes = candid::Encode({&t, 1}, {&v, 1});
  // Values built from the structs always match their types; a failure is a bug here.
  if (!bytes.ok()) std::abort();
  return *std::move(bytes);
}

absl::StatusOr<Value> DecodeOne(std::string_view type, std::span<const uint8_t> bytes,
                                const candid::DecodeLimits& limits) {
  TypeRef t = T(type);
  ASSIGN_OR_RETURN(std::vector<Value> values, candid::Decode(bytes, {&t, 1}, limits));
  return std::move(values[0]);
}

// Accessors for decoded values: Decode guarantees every declared field is present
// with the declared kind, so these only pick members.
const Value& F(const Value& record, std::string_view name) { return *record.Get(name); }
uint32_t U32(const Value& v) { return static_cast<uint32_t>(absl::Uint128Low64(v.nat)); }
uint64_t U64(const Value& v) { return absl::Uint128Low64(v.nat); }

Value OpKindValue(ops::OpKind k) { return candid::MakeVariant(ops::OpKindName(k)); }

absl::StatusOr<ops::OpKind> OpKindOf(const Value& v) {
  for (ops::OpKind k : kMatMulKinds) {
    if (candid::IdlHash(ops::OpKindName(k)) == v.fields[0].first) return k;
  }
  return absl::InvalidArgumentError("unknown op kind");  // unreachable after Decode
}

Value ModeValue(const std::optional<CallMode>& mode) {
  if (!mode) return candid::MakeOpt(std::nullopt);
  return candid::MakeOpt(
      candid::MakeVariant(*mode == CallMode::kVerified ? "verified" : "replicated"));
}

// Decode has already refused any tag but these two.
std::optional<CallMode> CallModeOf(const Value& opt) {
  if (opt.items.empty()) return std::nullopt;
  return opt.items[0].Get("verified") != nullptr ? CallMode::kVerified : CallMode::kReplicated;
}

Value TensorRefValue(const TensorRef& r) {
  return candid::MakeRecord(
      {{"model", candid::MakeBlob(r.model)}, {"tensor", candid::MakeText(r.tensor)}});
}

TensorRef TensorRefOf(const Value& v) {
  return TensorRef{F(v, "model").bytes, F(v, "tensor").text};
}

Value Nat32Vec(const std::vector<uint32_t>& v) {
  std::vector<Value> items;
  items.reserve(v.size());
  for (uint32_t x : v) items.push_back(candid::MakeNat(Op::kNat32, x));
  return candid::MakeVec(std::move(items));
}

std::vector<uint32_t> Nat32s(const Value& v) {
  std::vector<uint32_t> out;
  out.reserve(v.items.size());
  for (const Value& x : v.items) out.push_back(U32(x));
  return out;
}

constexpr std::pair<StopReason, const char*> kStopReasons[] = {
    {StopReason::kEndOfGeneration, "end_of_generation"},
    {StopReason::kMaxTokens, "max_tokens"},
    {StopReason::kContextFull, "context_full"}};

}  // namespace

candid::TypeRef InterfaceType(std::string_view name) {
  for (const auto& [n, t] : AllTypes().by_name) {
    if (n == name) return t;
  }
  return nullptr;
}

std::vector<std::string> InterfaceTypeNames() {
  std::vector<std::string> names;
  for (const auto& [n, t] : AllTypes().by_name) names.push_back(n);
  return names;
}

std::vector<uint8_t> EncodeMatMulArgs(const MatMulArgs& v) {
  std::optional<Value> w_scale;
  if (v.w_scale) w_scale = candid::MakeText(*v.w_scale);
  std::optional<Value> a_scale;
  if (v.a_scale) a_scale = candid::MakeBlob(*v.a_scale);
  return EncodeOne("MatMulArgs",
                   candid::MakeRecord({{"op", OpKindValue(v.op)},
                                       {"m", candid::MakeNat(Op::kNat32, v.m)},
                                       {"n", candid::MakeNat(Op::kNat32, v.n)},
                                       {"k", candid::MakeNat(Op::kNat32, v.k)},
                                       {"weights", TensorRefValue(v.weights)},
                                       {"w_scale", candid::MakeOpt(std::move(w_scale))},
                                       {"a", candid::MakeBlob(v.a)},
                                       {"a_scale", candid::MakeOpt(std::move(a_scale))},
                                       {"mode", ModeValue(v.mode)}}));
}

std::vector<uint8_t> EncodeMatMulReply(const MatMulReply& v) {
  return EncodeOne(
      "MatMulReply",
      candid::MakeRecord({{"out", candid::MakeBlob(v.out)},
                          {"out_digest", candid::MakeBlob(v.out_digest)},
                          {"spec_version", candid::MakeNat(Op::kNat32, v.spec_version)},
                          {"cycles_charged", candid::MakeNat(Op::kNat, v.cycles_charged)}}));
}

uint64_t MatMulReplyBytes(const MatMulReply& reply, uint64_t out_bytes) {
  // `out` is a blob: its ULEB128 length, then its bytes. Encode everything else with
  // an empty blob (a one-byte length) and add the difference.
  MatMulReply empty;
  empty.out_digest = reply.out_digest;
  empty.spec_version = reply.spec_version;
  empty.cycles_charged = reply.cycles_charged;
  uint64_t leb_bytes = 1;
  for (uint64_t v = out_bytes; v >= 0x80; v >>= 7) ++leb_bytes;
  return EncodeMatMulReply(empty).size() - 1 + leb_bytes + out_bytes;
}

std::vector<uint8_t> EncodeListModelsArgs(const ListModelsArgs& v) {
  std::optional<Value> model;
  if (v.model) model = candid::MakeBlob(*v.model);
  return EncodeOne("ListModelsArgs",
                   candid::MakeRecord({{"model", candid::MakeOpt(std::move(model))}}));
}

std::vector<uint8_t> EncodeListModelsReply(const ListModelsReply& v) {
  std::vector<Value> models;
  for (const ModelInfo& m : v.models) {
    std::vector<Value> tensors;
    for (const TensorInfo& t : m.tensors) {
      std::vector<Value> shape;
      for (uint64_t d : t.shape) shape.push_back(candid::MakeNat(Op::kNat64, d));
      tensors.push_back(candid::MakeRecord({{"name", candid::MakeText(t.name)},
                                            {"format", candid::MakeText(t.format)},
                                            {"shape", candid::MakeVec(std::move(shape))},
                                            {"bytes", candid::MakeNat(Op::kNat64, t.bytes)}}));
    }
    models.push_back(candid::MakeRecord({{"digest", candid::MakeBlob(m.digest)},
                                         {"format", candid::MakeText(m.format)},
                                         {"tensors", candid::MakeVec(std::move(tensors))}}));
  }
  return EncodeOne("ListModelsReply",
                   candid::MakeRecord({{"models", candid::MakeVec(std::move(models))}}));
}

std::vector<uint8_t> EncodePriceArgs(const PriceArgs& v) {
  return EncodeOne("PriceArgs",
                   candid::MakeRecord({{"op", OpKindValue(v.op)},
                                       {"m", candid::MakeNat(Op::kNat32, v.m)},
                                       {"n", candid::MakeNat(Op::kNat32, v.n)},
                                       {"k", candid::MakeNat(Op::kNat32, v.k)},
                                       {"arg_bytes", candid::MakeNat(Op::kNat64, v.arg_bytes)},
                                       {"mode", ModeValue(v.mode)}}));
}

std::vector<uint8_t> EncodePriceReply(const PriceReply& v) {
  return EncodeOne("PriceReply",
                   candid::MakeRecord({{"cycles", candid::MakeNat(Op::kNat, v.cycles)}}));
}

absl::StatusOr<MatMulArgs> DecodeMatMulArgs(std::span<const uint8_t> bytes,
                                            const candid::DecodeLimits& limits) {
  ASSIGN_OR_RETURN(Value v, DecodeOne("MatMulArgs", bytes, limits));
  MatMulArgs out;
  ASSIGN_OR_RETURN(out.op, OpKindOf(F(v, "op")));
  out.m = U32(F(v, "m"));
  out.n = U32(F(v, "n"));
  out.k = U32(F(v, "k"));
  out.weights = TensorRefOf(F(v, "weights"));
  if (const Value& ws = F(v, "w_scale"); !ws.items.empty()) out.w_scale = ws.items[0].text;
  out.a = F(v, "a").bytes;
  if (const Value& as = F(v, "a_scale"); !as.items.empty()) out.a_scale = as.items[0].bytes;
  out.mode = CallModeOf(F(v, "mode"));
  return out;
}

absl::StatusOr<MatMulReply> DecodeMatMulReply(std::span<const uint8_t> bytes) {
  ASSIGN_OR_RETURN(Value v, DecodeOne("MatMulReply", bytes, {}));
  MatMulReply out;
  out.out = F(v, "out").bytes;
  out.out_digest = F(v, "out_digest").bytes;
  out.spec_version = U32(F(v, "spec_version"));
  out.cycles_charged = F(v, "cycles_charged").nat;
  return out;
}

absl::StatusOr<ListModelsArgs> DecodeListModelsArgs(std::span<const uint8_t> bytes,
                                                    const candid::DecodeLimits& limits) {
  ASSIGN_OR_RETURN(Value v, DecodeOne("ListModelsArgs", bytes, limits));
  ListModelsArgs out;
  if (const Value& m = F(v, "model"); !m.items.empty()) out.model = m.items[0].bytes;
  return out;
}

absl::StatusOr<ListModelsReply> DecodeListModelsReply(std::span<const uint8_t> bytes) {
  ASSIGN_OR_RETURN(Value v, DecodeOne("ListModelsReply", bytes, {}));
  ListModelsReply out;
  for (const Value& mv : F(v, "models").items) {
    ModelInfo m;
    m.digest = F(mv, "digest").bytes;
    m.format = F(mv, "format").text;
    for (const Value& tv : F(mv, "tensors").items) {
      TensorInfo t;
      t.name = F(tv, "name").text;
      t.format = F(tv, "format").text;
      for (const Value& d : F(tv, "shape").items) t.shape.push_back(U64(d));
      t.bytes = U64(F(tv, "bytes"));
      m.tensors.push_back(std::move(t));
    }
    out.models.push_back(std::move(m));
  }
  return out;
}

absl::StatusOr<PriceArgs> DecodePriceArgs(std::span<const uint8_t> bytes,
                                          const candid::DecodeLimits& limits) {
  ASSIGN_OR_RETURN(Value v, DecodeOne("PriceArgs", bytes, limits));
  PriceArgs out;
  ASSIGN_OR_RETURN(out.op, OpKindOf(F(v, "op")));
  out.m = U32(F(v, "m"));
  out.n = U32(F(v, "n"));
  out.k = U32(F(v, "k"));
  out.arg_bytes = U64(F(v, "arg_bytes"));
  out.mode = CallModeOf(F(v, "mode"));
  return out;
}

absl::StatusOr<PriceReply> DecodePriceReply(std::span<const uint8_t> bytes) {
  ASSIGN_OR_RETURN(Value v, DecodeOne("PriceReply", bytes, {}));
  return PriceReply{F(v, "cycles").nat};
}

std::vector<uint8_t> EncodeGenerateArgs(const GenerateArgs& v) {
  Value prompt;
  switch (v.prompt.kind) {
    case Prompt::Kind::kText:
      prompt = candid::MakeVariant("text", candid::MakeText(v.prompt.text));
      break;
    case Prompt::Kind::kChat:
      prompt = candid::MakeVariant("chat", candid::MakeText(v.prompt.text));
      break;
    case Prompt::Kind::kTokenIds:
      prompt = candid::MakeVariant("token_ids", Nat32Vec(v.prompt.token_ids));
      break;
  }
  const Sampling& sp = v.sampling;
  return EncodeOne(
      "GenerateArgs",
      candid::MakeRecord(
          {{"model", candid::MakeBlob(v.model)},
           {"prompt", std::move(prompt)},
           {"max_tokens", candid::MakeNat(Op::kNat32, v.max_tokens)},
           {"sampling",
            candid::MakeRecord(
                {{"temperature_milli", candid::MakeNat(Op::kNat32, sp.temperature_milli)},
                 {"top_k", candid::MakeNat(Op::kNat32, sp.top_k)},
                 {"top_p_milli", candid::MakeNat(Op::kNat32, sp.top_p_milli)},
                 {"seed", candid::MakeBlob(sp.seed)}})},
           {"stop_token_ids", Nat32Vec(v.stop_token_ids)},
           {"mode", ModeValue(v.mode)}}));
}

std::vector<uint8_t> EncodeGenerateReply(const GenerateReply& v) {
  const char* stop = "max_tokens";
  for (const auto& [r, name] : kStopReasons) {
    if (r == v.stop_reason) stop = name;
  }
  return EncodeOne(
      "GenerateReply",
      candid::MakeRecord({{"token_ids", Nat32Vec(v.token_ids)},
                          {"text", candid::MakeBlob(v.text)},
                          {"stop_reason", candid::MakeVariant(stop)},
                          {"prompt_tokens", candid::MakeNat(Op::kNat32, v.prompt_tokens)},
                          {"tokens_digest", candid::MakeBlob(v.tokens_digest)},
                          {"final_logits_digest", candid::MakeBlob(v.final_logits_digest)},
                          {"spec_version", candid::MakeNat(Op::kNat32, v.spec_version)},
                          {"cycles_charged", candid::MakeNat(Op::kNat, v.cycles_charged)}}));
}

uint64_t GenerateReplyBytesBound(uint64_t max_tokens, uint64_t max_piece_bytes,
                                 absl::uint128 max_cycles) {
  // Everything but the two vectors' contents, encoded with empty vectors (one-byte
  // lengths), then each vector's worst case: a 10-byte length, 5 bytes per nat32 id,
  // max_piece_bytes per token of text.
  GenerateReply empty;
  empty.tokens_digest.resize(32);
  empty.final_logits_digest.resize(32);
  empty.stop_reason = StopReason::kEndOfGeneration;  // the longest tag index is one byte too
  empty.prompt_tokens = UINT32_MAX;
  empty.spec_version = UINT32_MAX;
  empty.cycles_charged = max_cycles;
  const absl::uint128 bound = absl::uint128(EncodeGenerateReply(empty).size()) - 2 + 2 * 10 +
                              absl::uint128(max_tokens) * 5 +
                              absl::uint128(max_tokens) * max_piece_bytes;
  return bound > absl::uint128(UINT64_MAX) ? UINT64_MAX : absl::Uint128Low64(bound);
}

absl::StatusOr<GenerateArgs> DecodeGenerateArgs(std::span<const uint8_t> bytes,
                                                const candid::DecodeLimits& limits) {
  ASSIGN_OR_RETURN(Value v, DecodeOne("GenerateArgs", bytes, limits));
  GenerateArgs out;
  out.model = F(v, "model").bytes;
  const Value& p = F(v, "prompt");
  if (const Value* t = p.Get("text")) {
    out.prompt.kind = Prompt::Kind::kText;
    out.prompt.text = t->text;
  } else if (const Value* c = p.Get("chat")) {
    out.prompt.kind = Prompt::Kind::kChat;
    out.prompt.text = c->text;
  } else {
    out.prompt.kind = Prompt::Kind::kTokenIds;
    out.prompt.token_ids = Nat32s(*p.Get("token_ids"));
  }
  out.max_tokens = U32(F(v, "max_tokens"));
  const Value& sp = F(v, "sampling");
  out.sampling.temperature_milli = U32(F(sp, "temperature_milli"));
  out.sampling.top_k = U32(F(sp, "top_k"));
  out.sampling.top_p_milli = U32(F(sp, "top_p_milli"));
  out.sampling.seed = F(sp, "seed").bytes;
  out.stop_token_ids = Nat32s(F(v, "stop_token_ids"));
  out.mode = CallModeOf(F(v, "mode"));
  return out;
}

absl::StatusOr<GenerateReply> DecodeGenerateReply(std::span<const uint8_t> bytes) {
  ASSIGN_OR_RETURN(Value v, DecodeOne("GenerateReply", bytes, {}));
  GenerateReply out;
  out.token_ids = Nat32s(F(v, "token_ids"));
  out.text = F(v, "text").bytes;
  const Value& stop = F(v, "stop_reason");
  for (const auto& [r, name] : kStopReasons) {
    if (stop.Get(name) != nullptr) out.stop_reason = r;
  }
  out.prompt_tokens = U32(F(v, "prompt_tokens"));
  out.tokens_digest = F(v, "tokens_digest").bytes;
  out.final_logits_digest = F(v, "final_logits_digest").bytes;
  out.spec_version = U32(F(v, "spec_version"));
  out.cycles_charged = F(v, "cycles_charged").nat;
  return out;
}

}  // namespace datanode::shim
