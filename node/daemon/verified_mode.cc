// Copyright 2026 The datanode Authors.
#include "node/daemon/verified_mode.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "datanode/ops/status_macros.h"

namespace datanode::node {
namespace {

namespace verify = ops::verify;

// An s8 value moved by one, staying inside [-127, 127].
uint8_t Nudge(uint8_t byte) {
  const int8_t v = static_cast<int8_t>(byte);
  return static_cast<uint8_t>(v == 127 ? int8_t{126} : static_cast<int8_t>(v + 1));
}

// Offset of the first quant byte of a block, and the block's bytes, for W's format;
// {0, 1} for the s8 kinds (every byte is a value).
std::pair<size_t, size_t> WeightBlock(ops::OpKind kind) {
  switch (kind) {
    case ops::OpKind::kMatMulQ8_0Q8_0:
      return {2, 34};  // f16 d, 32 x s8
    case ops::OpKind::kMatMulQ8_0Q4_0:
      return {2, 18};  // f16 d, 16 bytes of nibbles
    case ops::OpKind::kMatMulQ8_0Q4_1:
      return {4, 20};  // f16 d, f16 m, 16 bytes of nibbles
    default:
      return {0, 1};
  }
}

// One value of a weight row (s8 or Q8_0 quant nudged, a nibble's low bit flipped): the
// weights are still valid, and the answer computed from them is consistent but wrong
// wherever the matching activation is not zero.
void ChangeOneWeight(ops::OpKind kind, int64_t n, uint64_t which, std::vector<uint8_t>& w) {
  const size_t row_bytes = w.size() / static_cast<size_t>(n);
  const auto [first, block] = WeightBlock(kind);
  uint8_t& b = w[(which % static_cast<uint64_t>(n)) * row_bytes + first];
  const bool nibbles = kind == ops::OpKind::kMatMulQ8_0Q4_0 || kind == ops::OpKind::kMatMulQ8_0Q4_1;
  b = nibbles ? static_cast<uint8_t>(b ^ 1) : Nudge(b);
  (void)block;
}

// A with its first value moved (s8: byte 0; Q8_0 activations: the first quant).
std::vector<uint8_t> OtherActivations(ops::OpKind kind, ops::ByteSpan a) {
  std::vector<uint8_t> other(a.begin(), a.end());
  const bool q8 = kind == ops::OpKind::kMatMulQ8_0Q8_0 || kind == ops::OpKind::kMatMulQ8_0Q4_0 ||
                  kind == ops::OpKind::kMatMulQ8_0Q4_1;
  if (!other.empty()) other[q8 ? 2 : 0] = Nudge(other[q8 ? 2 : 0]);
  return other;
}

void FlipBit(std::vector<uint8_t>& bytes, uint64_t which) {
  if (bytes.empty()) return;
  const uint64_t bit = (which * 0x9E3779B97F4A7C15ull >> 17) % (bytes.size() * 8);
  bytes[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
}

}  // namespace

absl::StatusOr<TestFault> ParseTestFault(std::string_view name) {
  TestFault fault;
  if (name.empty()) return TestFault::kNone;
  if (name == "flip_output_bit") {
    fault = TestFault::kFlipOutputBit;
  } else if (name == "flip_exact_bit") {
    fault = TestFault::kFlipExactBit;
  } else if (name == "wrong_weights") {
    fault = TestFault::kWrongWeights;
  } else if (name == "replay") {
    fault = TestFault::kReplay;
  } else if (name == "skip_layer") {
    fault = TestFault::kSkipLayer;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "test_fault '", std::string(name),
        "' is not one of flip_output_bit, flip_exact_bit, wrong_weights, replay, skip_layer"));
  }
  const char* allowed = std::getenv(kAllowTestFaultsEnv);
  if (allowed == nullptr || std::string_view(allowed) != "1") {
    return absl::FailedPreconditionError(
        absl::StrCat("test_fault makes this node answer wrongly on purpose; it is for the subnet "
                     "simulation only and needs ",
                     kAllowTestFaultsEnv, "=1 in the environment"));
  }
  return fault;
}

const char* TestFaultName(TestFault fault) {
  switch (fault) {
    case TestFault::kFlipOutputBit:
      return "flip_output_bit";
    case TestFault::kFlipExactBit:
      return "flip_exact_bit";
    case TestFault::kWrongWeights:
      return "wrong_weights";
    case TestFault::kReplay:
      return "replay";
    case TestFault::kSkipLayer:
      return "skip_layer";
    default:
      return "none";
  }
}

absl::StatusOr<ExactAnswer> ComputingNode::Answer(ops::Backend& backend, const ops::OpArgs& args,
                                                  ops::ByteSpan w_raw, ops::ByteSpan w_scale_raw,
                                                  TestFault fault) {
  auto run = [&](const ops::OpArgs& in, ops::ByteSpan w) -> absl::StatusOr<ExactAnswer> {
    ExactAnswer answer;
    answer.out.resize(in.out.size());
    ops::OpArgs call = in;
    call.out = ops::MutableByteSpan(answer.out);
    ASSIGN_OR_RETURN(answer.exact, verify::RunOpWithExactSums(backend, call, w));
    return answer;
  };
  ASSIGN_OR_RETURN(ExactAnswer honest, run(args, w_raw));
  if (fault == TestFault::kNone) return honest;

  uint64_t which;
  {
    std::lock_guard<std::mutex> lock(mu_);
    which = ++calls_;
  }
  switch (fault) {
    case TestFault::kFlipOutputBit:
      FlipBit(honest.out, which);
      return honest;
    case TestFault::kFlipExactBit:
      FlipBit(honest.exact.empty() ? honest.out : honest.exact, which);
      return honest;
    case TestFault::kWrongWeights: {
      std::vector<uint8_t> w(w_raw.begin(), w_raw.end());
      ChangeOneWeight(args.kind, args.n, which, w);
      ops::OpArgs other = args;
      other.w_prepared = nullptr;
      other.w = w;
      other.w_scale = w_scale_raw;
      return run(other, w);
    }
    case TestFault::kReplay: {
      const std::string key =
          absl::StrCat(static_cast<int>(args.kind), "/", args.m, "/", args.n, "/", args.k);
      const ops::Sha256 a_digest = ops::Sha256Of({args.a, args.a_scale});
      std::optional<ExactAnswer> replayed;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = previous_.find(key);
        if (it != previous_.end() && it->second.a_digest != a_digest) {
          replayed = std::move(it->second.answer);
        }
        previous_[key] = Previous{a_digest, honest};
      }
      if (replayed) return *std::move(replayed);
      const std::vector<uint8_t> a = OtherActivations(args.kind, args.a);
      ops::OpArgs other = args;
      other.a = a;
      return run(other, w_raw);
    }
    case TestFault::kSkipLayer:  // no work: zero output and zero exact sums
      std::fill(honest.out.begin(), honest.out.end(), 0);
      std::fill(honest.exact.begin(), honest.exact.end(), 0);
      return honest;
    default:
      return honest;
  }
}

absl::Status VerifyingNode::RotateLocked(uint64_t epoch) {
  ASSIGN_OR_RETURN(verify::EpochSecret secret, verify::NewEpochSecret());
  if (secret_.has_value()) ++rotations_;
  secret_ = secret;
  epoch_ = epoch;
  ++generation_;
  verifiers_.clear();  // releases their memory
  pass_verifiers_.clear();
  memory_ = 0;
  return absl::OkStatus();
}

absl::Status VerifyingNode::EpochLocked(uint64_t epoch) {
  if (!secret_.has_value() || epoch > epoch_) return RotateLocked(epoch);
  if (epoch < epoch_) {
    return absl::FailedPreconditionError(
        absl::StrCat("epoch ", epoch, " is older than this node's current epoch ", epoch_));
  }
  return absl::OkStatus();
}

ops::Sha256 PassOutputDigest(const verify::PassAnswer& answer) {
  const verify::MatMulAnswer* head = nullptr;
  for (const verify::MatMulAnswer& a : answer.matmuls) {
    if (a.layer == -1) head = &a;
  }
  return head != nullptr ? ops::Sha256Of({head->out}) : ops::Sha256Of({});
}

absl::StatusOr<PassVerification> VerifyingNode::VerifyPass(
    const inference::Model& model, const std::string& model_id, const PassLoadFn& load,
    std::span<const inference::ForwardRow> rows, const verify::PassAnswer& answer,
    std::span<float> logits, uint64_t epoch, const ops::Sha256& request_digest,
    uint32_t computing_node) {
  std::shared_ptr<const inference::PassVerifier> verifier;
  uint64_t generation = 0, used_epoch = 0;
  // As in Verify: a rotation while preparing makes the prepared state stale.
  for (int attempt = 0; verifier == nullptr; ++attempt) {
    if (attempt == 3) return absl::UnavailableError("verifier secret rotating; retry");
    verify::EpochSecret secret;
    {
      std::lock_guard<std::mutex> lock(mu_);
      RETURN_IF_ERROR(EpochLocked(epoch));
      generation = generation_;
      used_epoch = epoch_;
      if (auto it = pass_verifiers_.find(model_id); it != pass_verifiers_.end()) {
        verifier = it->second.verifier;
        break;
      }
      secret = *secret_;
    }
    ASSIGN_OR_RETURN(const inference::LinearWeights weights, load());
    absl::StatusOr<inference::PassVerifier> prepared =
        inference::PassVerifier::Prepare(model, weights, secret, model_id);
    secret = {};
    if (!prepared.ok()) return prepared.status();
    auto made = std::make_shared<const inference::PassVerifier>(*std::move(prepared));
    std::lock_guard<std::mutex> lock(mu_);
    if (generation != generation_) continue;
    ASSIGN_OR_RETURN(MemoryBudget::Reservation held,
                     budget_->Reserve(made->MemoryBytes(), "verifier state of a model"));
    memory_ += made->MemoryBytes();
    pass_verifiers_[model_id] = PassEntry{made, std::move(held)};
    verifier = std::move(made);
  }

  ASSIGN_OR_RETURN(const verify::PassVerdict verdict,
                   verifier->Verify(model, rows, answer, logits));
  PassVerification v;
  v.accepted = verdict.accepted;
  v.check = verdict.failed;
  v.matmul_check = verdict.matmul_check;
  v.layer = verdict.layer;
  v.site = verdict.site;
  v.output_digest = PassOutputDigest(answer);
  v.public_key = key_.public_key();
  v.epoch = used_epoch;
  v.verifier_bytes = verifier->MemoryBytes();
  if (!verdict.accepted) {
    v.reason = absl::StrCat("computing node ", computing_node,
                            " answered wrongly: ", verify::PassCheckName(verdict.failed),
                            " check failed: ", verdict.reason);
    spdlog::warn("verified mode: request {}: {}; output digest {}; drawing a new epoch secret",
                 ops::ToHex(request_digest), v.reason, ops::ToHex(v.output_digest));
    std::lock_guard<std::mutex> lock(mu_);
    if (generation == generation_) RETURN_IF_ERROR(RotateLocked(epoch_));
  }
  ASSIGN_OR_RETURN(v.signature, key_.Sign(shim::VerifiedShareMessage(request_digest,
                                                                     v.output_digest, v.accepted)));
  return v;
}

absl::StatusOr<Verification> VerifyingNode::Verify(const ops::OpArgs& args,
                                                   const std::string& tensor_id, const LoadFn& load,
                                                   ops::ByteSpan out, ops::ByteSpan exact,
                                                   uint64_t epoch,
                                                   const ops::Sha256& request_digest,
                                                   uint32_t computing_node) {
  if (!verify::IsVerifiable(args.kind)) {
    return absl::InvalidArgumentError(
        absl::StrCat(ops::OpKindName(args.kind), " has no verified mode"));
  }
  const std::string key =
      absl::StrCat(tensor_id, "/", static_cast<int>(args.kind), "/", args.n, "/", args.k);
  std::shared_ptr<const verify::Verifier> verifier;
  uint64_t generation = 0, used_epoch = 0;
  // A rotation between preparing a Verifier and storing it (another call's rejection)
  // makes that Verifier stale: prepare again under the new secret.
  for (int attempt = 0; verifier == nullptr; ++attempt) {
    if (attempt == 3) return absl::UnavailableError("verifier secret rotating; retry");
    verify::EpochSecret secret;
    {
      std::lock_guard<std::mutex> lock(mu_);
      RETURN_IF_ERROR(EpochLocked(epoch));
      generation = generation_;
      used_epoch = epoch_;
      if (auto it = verifiers_.find(key); it != verifiers_.end()) {
        verifier = it->second.verifier;
        break;
      }
      secret = *secret_;
    }
    ASSIGN_OR_RETURN(Weights w, load());
    absl::StatusOr<verify::Verifier> prepared =
        verify::Verifier::Prepare(secret, tensor_id, args.kind, args.n, args.k, w.w, w.w_scale);
    secret = {};
    if (!prepared.ok()) return prepared.status();
    auto made = std::make_shared<const verify::Verifier>(*std::move(prepared));
    std::lock_guard<std::mutex> lock(mu_);
    if (generation != generation_) continue;
    absl::StatusOr<MemoryBudget::Reservation> held =
        budget_->Reserve(made->MemoryBytes(), "verifier state (r, v = W^T r)");
    if (!held.ok() && !verifiers_.empty()) {  // make room: drop the other tensors' state
      verifiers_.clear();
      memory_ = 0;
      held = budget_->Reserve(made->MemoryBytes(), "verifier state (r, v = W^T r)");
    }
    if (!held.ok()) return held.status();
    memory_ += made->MemoryBytes();
    verifiers_[key] = Entry{made, *std::move(held)};
    verifier = std::move(made);
  }

  ASSIGN_OR_RETURN(const verify::Verdict verdict,
                   verifier->Verify(args.m, args.a, args.a_scale, exact, out));
  Verification v;
  v.accepted = verdict.accepted;
  v.check = verdict.failed;
  v.row = verdict.row;
  v.col = verdict.col;
  v.output_digest = ops::Sha256Of({out});
  v.public_key = key_.public_key();
  v.epoch = used_epoch;
  v.verifier_bytes = verifier->MemoryBytes();
  if (!verdict.accepted) {
    v.reason = absl::StrCat("computing node ", computing_node,
                            " answered wrongly: ", verify::CheckName(verdict.failed),
                            " check failed: ", verdict.reason);
    spdlog::warn("verified mode: request {}: {}; output digest {}; drawing a new epoch secret",
                 ops::ToHex(request_digest), v.reason, ops::ToHex(v.output_digest));
    std::lock_guard<std::mutex> lock(mu_);
    if (generation == generation_) RETURN_IF_ERROR(RotateLocked(epoch_));
  }
  ASSIGN_OR_RETURN(v.signature, key_.Sign(shim::VerifiedShareMessage(request_digest,
                                                                     v.output_digest, v.accepted)));
  return v;
}

uint64_t VerifyingNode::epoch() const {
  std::lock_guard<std::mutex> lock(mu_);
  return epoch_;
}

int64_t VerifyingNode::memory_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return memory_;
}

int64_t VerifyingNode::rotations() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rotations_;
}

}  // namespace datanode::node
