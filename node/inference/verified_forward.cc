// Copyright 2026 The datanode Authors.
//
// Verified delegation of a forward pass (verified_forward.h): the computing node's hooks
// (run each matmul, keep its output and exact sums and the residual digests, commit the
// test faults) and the verifier's hooks (hand over each claimed output only after its
// Freivalds check against the verifier's own activations).
#include "node/inference/verified_forward.h"

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/status_macros.h"
#include "node/import/model_registry.h"

namespace datanode::node::inference {
namespace {

namespace verify = ops::verify;

ops::ByteSpan AsBytes(std::span<const float> f) {
  return {reinterpret_cast<const uint8_t*>(f.data()), f.size() * sizeof(float)};
}

std::string Where(int layer, MatMulSite site) {
  if (layer < 0) return MatMulSiteName(site);
  return absl::StrCat("layer ", layer, " ", MatMulSiteName(site));
}

// Changes one byte of stored weight bytes so they stay valid: an int8 quant keeps within
// [-127, 127], a nibble byte stays two nibbles.
void ChangeWeightByte(std::vector<uint8_t>& w, int64_t at) {
  uint8_t& b = w[static_cast<size_t>(at) % w.size()];
  b ^= 0x01;
  if (b == 0x80) b = 0x00;  // -128 is not a valid Q8_0 quant
}

class ComputingHooks : public ForwardHooks {
 public:
  ComputingHooks(const Model& model, const LinearWeights& weights, const ComputeFault& fault,
                 verify::PassAnswer* answer)
      : model_(model), weights_(weights), fault_(fault), answer_(answer) {}

  absl::Status MatMul(int layer, MatMulSite site, const Linear& w, int64_t m, ops::ByteSpan a_q8,
                      std::span<float> out) override {
    ops::ByteSpan raw = weights_.Get(w.name);
    if (raw.empty()) {
      return absl::FailedPreconditionError(absl::StrCat("no stored bytes for '", w.name, "'"));
    }
    verify::MatMulAnswer& answer = answer_->matmuls.emplace_back();
    answer.layer = layer;
    answer.site = static_cast<uint8_t>(site);
    answer.exact.resize(static_cast<size_t>(verify::ExactSumsBytes(w.kind, m, w.n)));
    std::vector<uint8_t> wrong;
    if (layer == fault_.skip_layer && fault_.skip_as_zeros) {
      std::fill(out.begin(), out.end(), 0.0f);
      std::fill(answer.exact.begin(), answer.exact.end(), 0);
    } else {
      // The backend's exact-output hook where it has one (the E of the same Run as the
      // output, backend.h); else ComputeExactSums after the matmul.
      ops::Backend& backend = model_.backend();
      const bool hook = !answer.exact.empty() && backend.WritesExactSums(w.kind);
      const ops::MutableByteSpan exact =
          hook ? ops::MutableByteSpan(answer.exact) : ops::MutableByteSpan();
      if (layer == fault_.wrong_weights_layer && site == fault_.wrong_weights_site) {
        wrong.assign(raw.begin(), raw.end());
        ChangeWeightByte(wrong, fault_.wrong_weights_byte);
        raw = wrong;
        ops::OpArgs args;
        args.kind = w.kind;
        args.m = m;
        args.n = w.n;
        args.k = w.k;
        args.a = a_q8;
        args.w = raw;
        args.out = {reinterpret_cast<uint8_t*>(out.data()), out.size() * sizeof(float)};
        args.exact = exact;
        RETURN_IF_ERROR(ops::RunOp(backend, args));
      } else {
        RETURN_IF_ERROR(RunLinear(backend, w, m, a_q8, out, exact));
      }
      if (!hook) {
        RETURN_IF_ERROR(verify::ComputeExactSums(w.kind, m, w.n, w.k, a_q8, raw, answer.exact));
      }
    }
    answer.exact.resize(static_cast<size_t>(verify::CompactExactSums(w.kind, answer.exact)));
    const ops::ByteSpan out_bytes = AsBytes(out);
    answer.out.assign(out_bytes.begin(), out_bytes.end());
    return absl::OkStatus();
  }

  absl::Status Residual(int layer, int64_t m, std::span<float> x) override {
    if (layer == fault_.skip_layer) {
      std::copy(previous_.begin(), previous_.end(), x.begin());
    } else if (layer + 1 == fault_.skip_layer) {
      previous_.assign(x.begin(), x.end());
    }
    answer_->residual_digests.push_back(verify::ResidualDigest(layer, x));
    return absl::OkStatus();
  }

 private:
  const Model& model_;
  const LinearWeights& weights_;
  const ComputeFault& fault_;
  verify::PassAnswer* answer_;
  std::vector<float> previous_;  // the skipped layer's input
};

// Ends the pass at the first failed check; Verify tells a rejection from an error by
// verdict().failed.
class CheckingHooks : public ForwardHooks {
 public:
  CheckingHooks(const verify::VerifierSet& verifiers, const verify::PassAnswer& answer)
      : verifiers_(verifiers), answer_(answer) {}

  absl::Status MatMul(int layer, MatMulSite site, const Linear& w, int64_t m, ops::ByteSpan a_q8,
                      std::span<float> out) override {
    if (next_ >= answer_.matmuls.size()) {
      return Reject(verify::PassCheck::kStructure, layer, site,
                    absl::StrCat("the answer has no ", Where(layer, site), " matmul"));
    }
    const verify::MatMulAnswer& a = answer_.matmuls[next_++];
    if (a.layer != layer || a.site != static_cast<uint8_t>(site)) {
      return Reject(verify::PassCheck::kStructure, layer, site,
                    absl::StrCat("matmul ", next_ - 1, " of the answer is layer ", a.layer,
                                 " site ", int{a.site}, ", the pass's is ", Where(layer, site)));
    }
    const verify::Verifier* v = verifiers_.Find(w.name);
    if (v == nullptr || v->kind() != w.kind || v->n() != w.n || v->k() != w.k) {
      return absl::FailedPreconditionError(
          absl::StrCat("no verifier prepared for '", w.name, "' of this model"));
    }
    ASSIGN_OR_RETURN(const verify::Verdict vd, v->Verify(m, a_q8, {}, a.exact, a.out));
    if (!vd.accepted) {
      verdict_.matmul_check = vd.failed;
      verdict_.row = vd.row;
      verdict_.col = vd.col;
      return Reject(verify::PassCheck::kMatMul, layer, site,
                    absl::StrCat(Where(layer, site), ": ", vd.reason));
    }
    std::memcpy(out.data(), a.out.data(), a.out.size());  // Verify checked the size
    return absl::OkStatus();
  }

  absl::Status Residual(int layer, int64_t m, std::span<float> x) override {
    const size_t at = static_cast<size_t>(layer + 1);
    if (at >= answer_.residual_digests.size()) {
      return Reject(verify::PassCheck::kStructure, layer, -1,
                    absl::StrCat("the answer has no residual digest after layer ", layer));
    }
    if (verify::ResidualDigest(layer, x) != answer_.residual_digests[at]) {
      return Reject(verify::PassCheck::kResidual, layer, -1,
                    layer < 0
                        ? std::string("the embedding's residual digest differs")
                        : absl::StrCat("the residual digest after layer ", layer, " differs"));
    }
    return absl::OkStatus();
  }

  // After a complete pass: nothing of the answer may be left over.
  void CheckComplete(int n_layers) {
    if (next_ != answer_.matmuls.size()) {
      Reject(verify::PassCheck::kStructure, -2, -1,
             absl::StrCat("the answer has ", answer_.matmuls.size(), " matmuls, the pass ", next_))
          .IgnoreError();
    } else if (answer_.residual_digests.size() != static_cast<size_t>(n_layers) + 1) {
      Reject(verify::PassCheck::kStructure, -2, -1,
             absl::StrCat("the answer has ", answer_.residual_digests.size(),
                          " residual digests, the pass ", n_layers + 1))
          .IgnoreError();
    }
  }

  verify::PassVerdict& verdict() { return verdict_; }

 private:
  absl::Status Reject(verify::PassCheck check, int layer, int site_or_none, std::string reason) {
    verdict_.accepted = false;
    verdict_.failed = check;
    verdict_.layer = layer;
    verdict_.site = site_or_none;
    verdict_.reason = std::move(reason);
    return absl::AbortedError(absl::StrCat("rejected: ", verdict_.reason));
  }
  absl::Status Reject(verify::PassCheck check, int layer, MatMulSite site, std::string reason) {
    return Reject(check, layer, static_cast<int>(site), std::move(reason));
  }

  const verify::VerifierSet& verifiers_;
  const verify::PassAnswer& answer_;
  size_t next_ = 0;
  verify::PassVerdict verdict_;
};

}  // namespace

absl::StatusOr<LinearWeights> LinearWeights::FromModel(const Model& model) {
  LinearWeights out;
  for (const Linear* w : model.linears()) {
    if (out.bytes_.contains(w->name)) continue;
    ASSIGN_OR_RETURN(const ops::OperandSizes sizes,
                     ops::ComputeOperandSizes(w->kind, 1, w->n, w->k));
    const int64_t row_bytes = sizes.w / w->n;
    std::vector<uint8_t> bytes(static_cast<size_t>(sizes.w));
    for (int64_t n = 0; n < w->n; ++n) {
      RETURN_IF_ERROR(w->weights->ReadRow(
          n, std::span<uint8_t>(bytes).subspan(static_cast<size_t>(n * row_bytes),
                                               static_cast<size_t>(row_bytes))));
    }
    out.bytes_.emplace(w->name, std::move(bytes));
  }
  return out;
}

absl::StatusOr<LinearWeights> LinearWeights::FromStore(const Model& model,
                                                       const ModelRegistry& registry,
                                                       const ops::Sha256& digest) {
  LinearWeights out;
  for (const Linear* w : model.linears()) {
    if (out.bytes_.contains(w->name)) continue;
    ASSIGN_OR_RETURN(const ops::OperandSizes sizes,
                     ops::ComputeOperandSizes(w->kind, 1, w->n, w->k));
    TensorInfo info;
    ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, registry.ReadTensor(digest, w->name, &info));
    if (static_cast<int64_t>(bytes.size()) != sizes.w) {
      return absl::InternalError(absl::StrCat("tensor '", w->name, "' holds ", bytes.size(),
                                              " bytes; its matmul needs ", sizes.w));
    }
    out.bytes_.emplace(w->name, std::move(bytes));
  }
  return out;
}

ops::ByteSpan LinearWeights::Get(std::string_view name) const {
  auto it = bytes_.find(name);
  return it == bytes_.end() ? ops::ByteSpan() : ops::ByteSpan(it->second);
}

int64_t LinearWeights::SizeBytes() const {
  int64_t bytes = 0;
  for (const auto& [name, b] : bytes_) bytes += static_cast<int64_t>(b.size());
  return bytes;
}

absl::StatusOr<verify::PassAnswer> ComputeVerifiedPass(const Model& model,
                                                       const LinearWeights& weights,
                                                       std::span<const ForwardRow> rows,
                                                       std::span<float> logits,
                                                       const ComputeFault& fault) {
  verify::PassAnswer answer;
  ComputingHooks hooks(model, weights, fault, &answer);
  RETURN_IF_ERROR(model.Forward(rows, logits, &hooks));
  return answer;
}

absl::StatusOr<PassVerifier> PassVerifier::Prepare(const Model& model, const LinearWeights& weights,
                                                   const verify::EpochSecret& secret,
                                                   std::string_view model_id) {
  PassVerifier out;
  for (const Linear* w : model.linears()) {
    if (out.verifiers_.Find(w->name) != nullptr) continue;  // a tied weight, listed once
    const ops::ByteSpan bytes = weights.Get(w->name);
    if (bytes.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("no stored bytes for '", w->name, "'"));
    }
    absl::StatusOr<verify::Verifier> v = verify::Verifier::Prepare(
        secret, std::string(model_id) + "/" + w->name, w->kind, w->n, w->k, bytes, {});
    if (!v.ok()) {
      return absl::Status(v.status().code(), absl::StrCat("preparing the verifier of '", w->name,
                                                          "': ", v.status().message()));
    }
    RETURN_IF_ERROR(out.verifiers_.Add(w->name, *std::move(v)));
  }
  return out;
}

absl::StatusOr<verify::PassVerdict> PassVerifier::Verify(const Model& model,
                                                         std::span<const ForwardRow> rows,
                                                         const verify::PassAnswer& answer,
                                                         std::span<float> logits) const {
  CheckingHooks hooks(verifiers_, answer);
  const absl::Status s = model.Forward(rows, logits, &hooks);
  verify::PassVerdict& verdict = hooks.verdict();
  if (verdict.failed != verify::PassCheck::kNone) return verdict;
  if (s.code() == absl::StatusCode::kOutOfRange) {
    // Every value the pass ran on was checked, so this is the spec's pass failing: an
    // honest node would have answered with this error, not with a result.
    verdict.failed = verify::PassCheck::kPassFails;
    verdict.reason = absl::StrCat("the spec's pass fails: ", s.message());
    return verdict;
  }
  RETURN_IF_ERROR(s);
  hooks.CheckComplete(model.config().n_layers);
  if (verdict.failed != verify::PassCheck::kNone) return verdict;
  verdict.accepted = true;
  return verdict;
}

}  // namespace datanode::node::inference
