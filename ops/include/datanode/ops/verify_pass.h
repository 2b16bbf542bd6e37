// Copyright 2026 The datanode Authors.
//
// Verified delegation of a whole forward pass (docs/verification.md §9): the computing
// node's answer for one pass and a verifier's verdict on it, independent of any model
// code. The model side (which matmuls a pass has, in what order, and the elementwise ops
// between them) is node/inference/verified_forward.h.
//
// A pass answer carries, for every matmul of the pass in pass order, the rounded output
// and the exact sums (verify.h's encoding for that matmul's kind), plus a digest of the
// residual stream after the embedding and after each layer. A verifier recomputes every
// elementwise op itself from outputs it has checked, so the answer needs no other
// activations; the residual digests let it name the first layer where the computing
// node's pass parted from the spec's.
//
// Thread safety: plain values; VerifierSet is immutable after its Adds.
#ifndef DATANODE_OPS_VERIFY_PASS_H_
#define DATANODE_OPS_VERIFY_PASS_H_

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "datanode/ops/types.h"
#include "datanode/ops/verify.h"
#include "datanode/util/sha256.h"

namespace datanode::ops::verify {

// One matmul of a pass: where it sits (layer, -1 for a model's output head; site, the
// model's numbering of the matmuls within a layer), its rounded output C[m, n] (f32
// little-endian) and its exact sums E[m, n].
struct MatMulAnswer {
  int32_t layer = 0;
  uint8_t site = 0;
  std::vector<uint8_t> out;
  std::vector<uint8_t> exact;
};

struct PassAnswer {
  std::vector<MatMulAnswer> matmuls;           // pass order
  std::vector<util::Sha256> residual_digests;  // after the embedding, then after each layer
  // Bytes of the answer (outputs, exact sums and digests): what the computing node sends.
  int64_t PayloadBytes() const;
};

// The digest of a residual stream x[m, d] (f32 little-endian rows) after `layer`:
// SHA-256("datanode residual v1" || i32 layer || x).
util::Sha256 ResidualDigest(int32_t layer, std::span<const float> x);

// A self-delimiting encoding of a pass answer for the wire: "DNPASS1\0", u32 count, per
// matmul i32 layer, u8 site, u64 len + C, u64 len + E; u32 count, 32-byte digests; all
// little-endian. Decode: INVALID_ARGUMENT on any truncation, trailing byte or length
// beyond the input (a malformed answer, which a verifier rejects as kStructure).
std::vector<uint8_t> EncodePassAnswer(const PassAnswer& answer);
absl::StatusOr<PassAnswer> DecodePassAnswer(ByteSpan bytes);

// Which check a pass answer failed.
enum class PassCheck : uint8_t {
  kNone = 0,       // accepted
  kStructure = 1,  // a matmul missing, extra or out of order, or the wrong number of digests
  kMatMul = 2,     // a matmul's answer failed Verifier::Verify (Verdict::failed says how)
  kResidual = 3,   // a residual digest differs from the stream the checked pass gives
  kPassFails = 4,  // the spec's pass fails (e.g. an activation out of range) where the
                   // computing node answered
};
const char* PassCheckName(PassCheck check);

struct PassVerdict {
  bool accepted = false;
  PassCheck failed = PassCheck::kNone;
  Check matmul_check = Check::kNone;  // for kMatMul
  int32_t layer = -2;                 // where (-1: embedding or output head; -2: none)
  int32_t site = -1;                  // the matmul's site (kMatMul, kStructure)
  int64_t row = -1, col = -1;         // from the matmul's Verdict
  std::string reason;
};

// The verifiers of one model's weight tensors for one epoch, by tensor name.
class VerifierSet {
 public:
  // INVALID_ARGUMENT if `name` is already present.
  absl::Status Add(std::string name, Verifier verifier);
  // nullptr when absent.
  const Verifier* Find(std::string_view name) const;
  int64_t size() const { return static_cast<int64_t>(verifiers_.size()); }
  // Sum of the verifiers' MemoryBytes(): the verifier state of the model for one epoch.
  int64_t MemoryBytes() const;

 private:
  std::map<std::string, Verifier, std::less<>> verifiers_;
};

}  // namespace datanode::ops::verify

#endif  // DATANODE_OPS_VERIFY_PASS_H_
