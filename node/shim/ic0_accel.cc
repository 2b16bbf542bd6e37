// Copyright 2026 The datanode Authors.
//
// The C ABI (ic0_accel.h) over Shim. No C++ exception or abort crosses it: every
// path returns a code, allocation failures included.
#include "node/shim/ic0_accel.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "node/shim/agreement.h"
#include "node/shim/daemon_client.h"
#include "node/shim/shim.h"

struct ic0_accel {
  datanode::shim::Shim shim;
};

namespace {

using datanode::shim::RejectCode;

void WriteError(char* error, size_t error_len, const std::string& msg) {
  if (error == nullptr || error_len == 0) return;
  const size_t n = std::min(msg.size(), error_len - 1);
  std::memcpy(error, msg.data(), n);
  error[n] = '\0';
}

// Copies `bytes` into a malloc'ed buffer with a trailing NUL (for messages).
bool Fill(ic0_accel_result* r, const void* bytes, size_t len) {
  r->data = static_cast<uint8_t*>(std::malloc(len + 1));
  if (r->data == nullptr) return false;
  if (len > 0) std::memcpy(r->data, bytes, len);
  r->data[len] = 0;
  r->data_len = len;
  return true;
}

// Hands an Outcome to the C caller: the reply or the message, and the charge.
uint32_t Deliver(const datanode::shim::Outcome& o, ic0_accel_result* result) {
  result->reject_code = static_cast<uint32_t>(o.code);
  const bool ok = o.code == RejectCode::kNone ? Fill(result, o.reply.data(), o.reply.size())
                                              : Fill(result, o.message.data(), o.message.size());
  if (!ok) {  // out of memory: nothing to hand back, nothing charged
    *result = ic0_accel_result{};
    result->reject_code = IC0_ACCEL_SYS_TRANSIENT;
    return result->reject_code;
  }
  // The price of a reply, or the reject fee of a reject (Shim::Call).
  result->cycles_charged_low = absl::Uint128Low64(o.cycles_charged);
  result->cycles_charged_high = absl::Uint128High64(o.cycles_charged);
  return result->reject_code;
}

uint32_t NullArgument(const char* what, ic0_accel_result* result) {
  const std::string msg = std::string(what) + ": NULL handle or pointer argument";
  result->reject_code = IC0_ACCEL_SYS_FATAL;
  Fill(result, msg.data(), msg.size());
  return result->reject_code;
}

datanode::shim::Sha256 Digest(const uint8_t d[32]) {
  datanode::shim::Sha256 out;
  std::memcpy(out.data(), d, 32);
  return out;
}

}  // namespace

extern "C" {

int ic0_accel_create(const ic0_accel_config* config, ic0_accel** out, char* error,
                     size_t error_len) {
  if (out == nullptr) return -1;
  *out = nullptr;
  if (config == nullptr) {
    WriteError(error, error_len, "config is NULL");
    return -1;
  }
  // Version 3 added functions only: a version-2 config has the same layout.
  if (config->abi_version != IC0_ACCEL_ABI_VERSION && config->abi_version != 2) {
    WriteError(error, error_len,
               "abi_version " + std::to_string(config->abi_version) + ", library implements " +
                   std::to_string(IC0_ACCEL_ABI_VERSION));
    return -1;
  }
  if (config->subnet_size == 0) {
    WriteError(error, error_len, "subnet_size must be at least 1");
    return -1;
  }
  datanode::shim::ShimConfig c;
  c.subnet_size = config->subnet_size;
  if (config->max_arg_bytes != 0) c.max_arg_bytes = config->max_arg_bytes;
  if (config->max_reply_bytes != 0) c.max_reply_bytes = config->max_reply_bytes;
  if (config->required_class != nullptr) c.required_class = config->required_class;
  const std::chrono::milliseconds timeout(config->timeout_ms == 0 ? 10000 : config->timeout_ms);
  std::unique_ptr<datanode::shim::DaemonClient> daemon;
  if (config->daemon_address != nullptr && config->daemon_address[0] != '\0') {
    daemon =
        datanode::shim::NewGrpcDaemonClient(config->daemon_address, timeout, c.max_reply_bytes);
  }
  *out = new (std::nothrow) ic0_accel{datanode::shim::Shim(c, std::move(daemon))};
  if (*out == nullptr) {
    WriteError(error, error_len, "out of memory");
    return -1;
  }
  return 0;
}

void ic0_accel_destroy(ic0_accel* accel) { delete accel; }

uint32_t ic0_accel_call(const ic0_accel* accel, const char* method, size_t method_len,
                        const uint8_t* arg, size_t arg_len, uint64_t cycles_low,
                        uint64_t cycles_high, ic0_accel_result* result) {
  if (result == nullptr) return IC0_ACCEL_SYS_FATAL;
  *result = ic0_accel_result{};
  if (accel == nullptr || method == nullptr || (arg == nullptr && arg_len != 0)) {
    static const char kMsg[] = "ic0_accel_call: NULL handle, method or argument";
    result->reject_code = IC0_ACCEL_SYS_FATAL;
    Fill(result, kMsg, sizeof kMsg - 1);
    return result->reject_code;
  }
  return Deliver(accel->shim.Call(std::string_view(method, method_len), {arg, arg_len},
                                  absl::MakeUint128(cycles_high, cycles_low)),
                 result);
}

uint32_t ic0_accel_call_mode(const ic0_accel* accel, const char* method, size_t method_len,
                             const uint8_t* arg, size_t arg_len) {
  if (accel == nullptr || method == nullptr || (arg == nullptr && arg_len != 0)) {
    return IC0_ACCEL_MODE_REPLICATED;
  }
  return accel->shim.ModeOf(std::string_view(method, method_len), {arg, arg_len}) ==
                 datanode::shim::CallMode::kVerified
             ? IC0_ACCEL_MODE_VERIFIED
             : IC0_ACCEL_MODE_REPLICATED;
}

int ic0_accel_verified_pick(uint64_t beacon, const uint8_t* evicted, uint32_t n,
                            uint32_t* computing_node) {
  if (computing_node == nullptr || n == 0) return -1;
  datanode::shim::EvictedNodes record(n);
  for (uint32_t i = 0; evicted != nullptr && i < n; ++i) {
    if (evicted[i] != 0) record.Evict(i);
  }
  absl::StatusOr<uint32_t> pick = record.Pick(beacon);
  if (!pick.ok()) return -1;
  *computing_node = *pick;
  return 0;
}

uint32_t ic0_accel_verified_compute(const ic0_accel* accel, const uint8_t* arg, size_t arg_len,
                                    uint64_t cycles_low, uint64_t cycles_high,
                                    ic0_accel_result* result) {
  if (result == nullptr) return IC0_ACCEL_SYS_FATAL;
  *result = ic0_accel_result{};
  if (accel == nullptr || (arg == nullptr && arg_len != 0)) {
    return NullArgument("ic0_accel_verified_compute", result);
  }
  return Deliver(
      accel->shim.VerifiedCompute({arg, arg_len}, absl::MakeUint128(cycles_high, cycles_low)),
      result);
}

uint32_t ic0_accel_verified_check(const ic0_accel* accel, const uint8_t* arg, size_t arg_len,
                                  uint64_t cycles_low, uint64_t cycles_high,
                                  const uint8_t request_digest[32], uint32_t node,
                                  uint32_t computing_node, uint64_t epoch, const uint8_t* answer,
                                  size_t answer_len, ic0_accel_verdict* verdict,
                                  ic0_accel_result* result) {
  if (result == nullptr) return IC0_ACCEL_SYS_FATAL;
  *result = ic0_accel_result{};
  if (accel == nullptr || (arg == nullptr && arg_len != 0) || request_digest == nullptr ||
      (answer == nullptr && answer_len != 0) || verdict == nullptr) {
    return NullArgument("ic0_accel_verified_check", result);
  }
  datanode::shim::VerifierRole role;
  role.request_digest = Digest(request_digest);
  role.node = node;
  role.computing_node = computing_node;
  role.epoch = epoch;
  datanode::shim::VerifiedShare share;
  const datanode::shim::Outcome o =
      accel->shim.VerifiedCheck({arg, arg_len}, absl::MakeUint128(cycles_high, cycles_low), role,
                                {answer, answer_len}, &share);
  if (o.code == RejectCode::kNone) {
    // The reason travels as the "reply" (for logs); the verdict is the result.
    datanode::shim::Outcome reason;
    reason.reply.assign(o.message.begin(), o.message.end());
    const uint32_t code = Deliver(reason, result);
    if (code != IC0_ACCEL_REPLY) return code;
    verdict->node = share.node;
    verdict->accepted = share.accepted ? 1 : 0;
    std::memcpy(verdict->output_digest, share.output_digest.data(), 32);
    std::memcpy(verdict->signature, share.signature.data(), 64);
    return code;
  }
  return Deliver(o, result);
}

uint32_t ic0_accel_verified_combine(const ic0_accel* accel, const uint8_t* arg, size_t arg_len,
                                    uint64_t cycles_low, uint64_t cycles_high,
                                    const uint8_t request_digest[32], const uint8_t* public_keys,
                                    uint32_t n, const uint8_t* evicted, uint32_t computing_node,
                                    const uint8_t* answer, size_t answer_len,
                                    const ic0_accel_verdict* verdicts, size_t verdict_count,
                                    ic0_accel_result* result) {
  if (result == nullptr) return IC0_ACCEL_SYS_FATAL;
  *result = ic0_accel_result{};
  if (accel == nullptr || (arg == nullptr && arg_len != 0) || request_digest == nullptr ||
      (public_keys == nullptr && n != 0) || (answer == nullptr && answer_len != 0) ||
      (verdicts == nullptr && verdict_count != 0)) {
    return NullArgument("ic0_accel_verified_combine", result);
  }
  std::vector<datanode::shim::PublicKey> keys(n);
  for (uint32_t i = 0; i < n; ++i) std::memcpy(keys[i].data(), public_keys + 32 * size_t{i}, 32);
  std::optional<datanode::shim::EvictedNodes> record;
  if (evicted != nullptr) {
    record.emplace(n);
    for (uint32_t i = 0; i < n; ++i) {
      if (evicted[i] != 0) record->Evict(i);
    }
  }
  const datanode::shim::Sha256 request = Digest(request_digest);
  std::vector<datanode::shim::VerifiedShare> shares(verdict_count);
  for (size_t i = 0; i < verdict_count; ++i) {
    shares[i].node = verdicts[i].node;
    shares[i].request_digest = request;
    shares[i].accepted = verdicts[i].accepted != 0;
    std::memcpy(shares[i].output_digest.data(), verdicts[i].output_digest, 32);
    std::memcpy(shares[i].signature.data(), verdicts[i].signature, 64);
  }
  return Deliver(
      accel->shim.VerifiedCombine({arg, arg_len}, absl::MakeUint128(cycles_high, cycles_low), keys,
                                  record ? &*record : nullptr, request, computing_node,
                                  {answer, answer_len}, shares),
      result);
}

void ic0_accel_result_free(ic0_accel_result* result) {
  if (result == nullptr) return;
  std::free(result->data);
  *result = ic0_accel_result{};
}

void ic0_accel_request_digest(const char* method, size_t method_len, const uint8_t* arg,
                              size_t arg_len, uint64_t call_id, uint8_t out[32]) {
  const auto d =
      datanode::shim::RequestDigest(std::string_view(method, method_len), {arg, arg_len}, call_id);
  std::memcpy(out, d.data(), d.size());
}

void ic0_accel_result_digest(const ic0_accel_result* result, uint8_t out[32]) {
  const auto d = datanode::shim::ResultDigest(static_cast<RejectCode>(result->reject_code),
                                              {result->data, result->data_len});
  std::memcpy(out, d.data(), d.size());
}

int ic0_accel_sign_share(const uint8_t seed[32], const uint8_t request_digest[32],
                         const uint8_t result_digest[32], uint8_t public_key[32],
                         uint8_t signature[64]) {
  auto key = datanode::shim::NodeKey::FromSeed({seed, 32});
  if (!key.ok()) return -1;
  datanode::shim::Sha256 req, res;
  std::memcpy(req.data(), request_digest, 32);
  std::memcpy(res.data(), result_digest, 32);
  auto sig = key->Sign(datanode::shim::ShareMessage(req, res));
  if (!sig.ok()) return -1;
  if (public_key != nullptr) std::memcpy(public_key, key->public_key().data(), 32);
  std::memcpy(signature, sig->data(), 64);
  return 0;
}

int ic0_accel_verify_share(const uint8_t public_key[32], const uint8_t request_digest[32],
                           const uint8_t result_digest[32], const uint8_t signature[64]) {
  datanode::shim::PublicKey pk;
  datanode::shim::Sha256 req, res;
  datanode::shim::Signature sig;
  std::memcpy(pk.data(), public_key, 32);
  std::memcpy(req.data(), request_digest, 32);
  std::memcpy(res.data(), result_digest, 32);
  std::memcpy(sig.data(), signature, 64);
  return datanode::util::Ed25519Verify(pk, datanode::shim::ShareMessage(req, res), sig) ? 1 : 0;
}

}  // extern "C"
