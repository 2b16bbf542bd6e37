// Copyright 2026 The datanode Authors.
//
// The Candid types of datanode.did in C++, and conversions between Candid values and
// the plain structs the shim works with. datanode.did is the source of truth; the
// cross-check test (tests/shim/candid_crosscheck.py) parses it with an independent
// Candid implementation and decodes this file's encodings with the types it declares,
// so the two cannot drift apart silently.
#ifndef DATANODE_NODE_SHIM_INTERFACE_H_
#define DATANODE_NODE_SHIM_INTERFACE_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/status/statusor.h"
#include "datanode/ops/types.h"
#include "node/shim/candid/candid.h"

namespace datanode::shim {

// Method names of the service.
inline constexpr std::string_view kMethodMatMul = "accel_matmul";
inline constexpr std::string_view kMethodListModels = "accel_list_models";
inline constexpr std::string_view kMethodPrice = "accel_price";
inline constexpr std::string_view kMethodGenerate = "accel_generate";

// How a call is run (datanode.did CallMode; absent = kReplicated): every replica computes
// it, or one computing node answers and the others check it (docs/canister-api.md
// "Verified mode").
enum class CallMode : uint8_t { kReplicated, kVerified };

struct TensorRef {
  std::vector<uint8_t> model;  // 32-byte manifest digest
  std::string tensor;
};

struct MatMulArgs {
  ops::OpKind op = ops::OpKind::kMatMulS8S32;
  uint32_t m = 0;
  uint32_t n = 0;
  uint32_t k = 0;
  TensorRef weights;
  std::optional<std::string> w_scale;  // scale tensor of the same model
  std::vector<uint8_t> a;
  std::optional<std::vector<uint8_t>> a_scale;
  std::optional<CallMode> mode;  // absent = replicated
};

// The mode a call asks for (absent = replicated).
inline CallMode ModeOf(const std::optional<CallMode>& mode) {
  return mode.value_or(CallMode::kReplicated);
}

struct MatMulReply {
  std::vector<uint8_t> out;
  std::vector<uint8_t> out_digest;
  uint32_t spec_version = 0;
  absl::uint128 cycles_charged = 0;
};

struct ListModelsArgs {
  std::optional<std::vector<uint8_t>> model;
};

struct TensorInfo {
  std::string name;
  std::string format;
  std::vector<uint64_t> shape;
  uint64_t bytes = 0;
};

struct ModelInfo {
  std::vector<uint8_t> digest;
  std::string format;
  std::vector<TensorInfo> tensors;
};

struct ListModelsReply {
  std::vector<ModelInfo> models;
};

struct PriceArgs {
  ops::OpKind op = ops::OpKind::kMatMulS8S32;
  uint32_t m = 0;
  uint32_t n = 0;
  uint32_t k = 0;
  uint64_t arg_bytes = 0;
  std::optional<CallMode> mode;  // absent = replicated; verified: VerifiedPrice
};

struct PriceReply {
  absl::uint128 cycles = 0;
};

struct Sampling {
  uint32_t temperature_milli = 0;
  uint32_t top_k = 0;
  uint32_t top_p_milli = 0;
  std::vector<uint8_t> seed;
};

struct Prompt {
  enum class Kind : uint8_t { kText, kChat, kTokenIds };
  Kind kind = Kind::kTokenIds;
  std::string text;                 // kText, kChat
  std::vector<uint32_t> token_ids;  // kTokenIds
};

struct GenerateArgs {
  std::vector<uint8_t> model;  // 32-byte manifest digest
  Prompt prompt;
  uint32_t max_tokens = 0;
  Sampling sampling;
  std::vector<uint32_t> stop_token_ids;
  // Absent = replicated. Verified is read and refused (DESTINATION_INVALID, nothing
  // charged): verified generation is not offered through the shim yet.
  std::optional<CallMode> mode;
};

enum class StopReason : uint8_t { kEndOfGeneration, kMaxTokens, kContextFull };

struct GenerateReply {
  std::vector<uint32_t> token_ids;
  std::vector<uint8_t> text;
  StopReason stop_reason = StopReason::kMaxTokens;
  uint32_t prompt_tokens = 0;
  std::vector<uint8_t> tokens_digest;
  std::vector<uint8_t> final_logits_digest;
  uint32_t spec_version = 0;
  absl::uint128 cycles_charged = 0;
};

// The declared Candid types, by their .did name ("OpKind", "CallMode", "TensorRef", "MatMulArgs",
// "MatMulReply", "ListModelsArgs", "TensorInfo", "ModelInfo", "ListModelsReply",
// "PriceArgs", "PriceReply", "Sampling", "Prompt", "GenerateArgs", "StopReason",
// "GenerateReply"); nullptr for other names.
candid::TypeRef InterfaceType(std::string_view name);
// Every name InterfaceType knows, in .did order.
std::vector<std::string> InterfaceTypeNames();

// Encode a struct as a one-value Candid message of its type.
std::vector<uint8_t> EncodeMatMulArgs(const MatMulArgs& v);
std::vector<uint8_t> EncodeMatMulReply(const MatMulReply& v);
std::vector<uint8_t> EncodeListModelsArgs(const ListModelsArgs& v);
std::vector<uint8_t> EncodeListModelsReply(const ListModelsReply& v);
std::vector<uint8_t> EncodePriceArgs(const PriceArgs& v);
std::vector<uint8_t> EncodePriceReply(const PriceReply& v);
std::vector<uint8_t> EncodeGenerateArgs(const GenerateArgs& v);
std::vector<uint8_t> EncodeGenerateReply(const GenerateReply& v);

// An upper bound on the size of EncodeGenerateReply for a reply of at most `max_tokens`
// tokens whose pieces are at most `max_piece_bytes` long each, with 32-byte digests and
// cycles_charged at most `max_cycles`; so a reply over the limit can be refused before
// anything is generated.
uint64_t GenerateReplyBytesBound(uint64_t max_tokens, uint64_t max_piece_bytes,
                                 absl::uint128 max_cycles);

// The exact size of EncodeMatMulReply(reply) once reply.out holds `out_bytes` bytes,
// computed without the output (reply.out is ignored), so a reply over the limit can be
// refused before anything is computed.
uint64_t MatMulReplyBytes(const MatMulReply& reply, uint64_t out_bytes);

// Decode a Candid message whose first argument has the struct's type.
// INVALID_ARGUMENT (with the reason) for anything that is not.
absl::StatusOr<MatMulArgs> DecodeMatMulArgs(std::span<const uint8_t> bytes,
                                            const candid::DecodeLimits& limits = {});
absl::StatusOr<MatMulReply> DecodeMatMulReply(std::span<const uint8_t> bytes);
absl::StatusOr<ListModelsArgs> DecodeListModelsArgs(std::span<const uint8_t> bytes,
                                                    const candid::DecodeLimits& limits = {});
absl::StatusOr<ListModelsReply> DecodeListModelsReply(std::span<const uint8_t> bytes);
absl::StatusOr<PriceArgs> DecodePriceArgs(std::span<const uint8_t> bytes,
                                          const candid::DecodeLimits& limits = {});
absl::StatusOr<PriceReply> DecodePriceReply(std::span<const uint8_t> bytes);
absl::StatusOr<GenerateArgs> DecodeGenerateArgs(std::span<const uint8_t> bytes,
                                                const candid::DecodeLimits& limits = {});
absl::StatusOr<GenerateReply> DecodeGenerateReply(std::span<const uint8_t> bytes);

}  // namespace datanode::shim

#endif  // DATANODE_NODE_SHIM_INTERFACE_H_
