// Copyright 2026 The datanode Authors.
//
// Verified delegation of the matmul ops (docs/verification.md): one node computes a
// matmul and returns, beside the rounded output, the exact values the spec defines before
// the single rounding; every other node checks that answer with Freivalds' algorithm
// against a secret random vector in O(M * (N + K)), where recomputing costs O(M * N * K),
// and re-derives the rounding itself, so an accepted output is the spec's bytes.
//
// Every matmul kind is verifiable:
//   kind                 exact values E[m, n] (the computing node's extra answer)
//   kMatMulS8S32         none: the s32 output is exact (ExactSumsBytes = 0)
//   kMatMulS8F32         s32 isum = sum_k A * W                        (4 bytes each)
//   kMatMulQ8_0Q8_0/     int128 little-endian two's complement, the exact sum of
//   Q4_0 / Q4_1 /        docs/determinism.md 3.3 (3.4 for the K-quants) in units of
//   Q4_K / Q6_K          2^-48                                          (16 bytes each)
//                        or, when every value of the answer fits, the same as int64
//                        ("compact", 8 bytes each); the byte count says which
// row-major [M, N] like the output.
//
// Thread safety: every function is pure; a Verifier is immutable after Prepare and may
// be shared by concurrent Verify calls.
#ifndef DATANODE_OPS_VERIFY_H_
#define DATANODE_OPS_VERIFY_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "datanode/ops/types.h"

namespace datanode::ops {
class Backend;
}  // namespace datanode::ops

namespace datanode::ops::verify {

// Whether `kind` has a verified mode (every matmul above).
bool IsVerifiable(OpKind kind);

// Bytes of the exact values for an [m, n] output of `kind`: 0, 4 * m * n or 16 * m * n
// (table above; the Q8_0 family's compact encoding is half of that); 0 for kinds that are
// not verifiable.
int64_t ExactSumsBytes(OpKind kind, int64_t m, int64_t n);

// The computing node's side: writes the exact values of C = A * W^T into `exact`
// (ExactSumsBytes(kind, m, n) bytes). s8_f32: the reference s8 -> s32 matmul; the Q8_0
// family: reference::Q8_0DotFixedPoint's terms from blocks decoded once per row (O(M * N * K)
// scalar, a few times faster than the reference).
// INVALID_ARGUMENT for an invalid shape, a wrong buffer size or invalid values (the
// checks of ValidateInputValues / ValidateWeightValues); nothing is written then.
absl::Status ComputeExactSums(OpKind kind, int64_t m, int64_t n, int64_t k, ByteSpan a, ByteSpan w,
                              MutableByteSpan exact);

// The Q8_0 family's compact encoding: if every int128 value of `exact` (as ComputeExactSums
// wrote it, 16 * count bytes) fits in an int64, rewrites its first 8 * count bytes as those
// int64 (little-endian) and returns 8 * count, the size of the answer to send; otherwise
// leaves it and returns 16 * count. Realistic sums (LLM activations and weights) stay far
// below 2^63 (the spec's bound is 2^112), so the compact form is the usual one: half the
// bytes to send and to read. Other kinds: returns exact.size() unchanged.
int64_t CompactExactSums(OpKind kind, MutableByteSpan exact);

// The computing node's whole verified-mode answer ("exact output"): runs `args` on
// `backend` (RunOp: validation, then the backend's kernels write args.out) and returns the
// exact values for that output, in the compact encoding when it applies (CompactExactSums).
// Where backend.WritesExactSums(kind) (the CPU and Vulkan backends: s8_f32, the Q8_0
// family, the K-quants) the same Run writes them (OpArgs::exact, backend.h): a few percent
// on top of the matmul (docs/verification.md §8). Otherwise RunOp is followed by ComputeExactSums
// (O(M * N * K) scalar sums) on `w_raw`, W in the op's weight format as the request gave it
// (args.w for inline weights; for prepared weights the caller passes the tensor's stored
// bytes), which the hook path does not read. INVALID_ARGUMENT for a kind without verified
// mode, plus RunOp's and ComputeExactSums' errors. Thread-safe like RunOp.
absl::StatusOr<std::vector<uint8_t>> RunOpWithExactSums(Backend& backend, const OpArgs& args,
                                                        ByteSpan w_raw);

// The verifying node's secret for one epoch: 32 bytes from OpenSSL's CSPRNG, kept in this
// process, never sent and never derived from anything public (in particular not from the
// subnet's random beacon, which the computing node sees too).
struct EpochSecret {
  std::array<uint8_t, 32> bytes{};
};
// UNAVAILABLE if OpenSSL's RAND_bytes fails.
absl::StatusOr<EpochSecret> NewEpochSecret();

// Which check an answer failed.
enum class Check : uint8_t {
  kNone = 0,        // accepted
  kAnswerSize = 1,  // output or exact values of the wrong byte count
  kExactRange = 2,  // an exact sum outside the spec's range (Q8_0 family: |E| >= 2^112)
  kRounding = 3,    // output != round_f32(exact value) (s8_f32, Q8_0 family)
  kFreivalds = 4,   // exact values != A * W^T: C r != A (W^T r) in the field
};
const char* CheckName(Check check);

struct Verdict {
  bool accepted = false;
  Check failed = Check::kNone;
  int64_t row = -1;  // first failing row (kExactRange, kRounding, kFreivalds)
  int64_t col = -1;  // first failing column (kExactRange, kRounding)
  std::string reason;
};

// One weight tensor's verifier state for one epoch: the secret vector r (N values, each
// uniform in [0, 2^52)) and v = W^T r over the field (K values: F_p for the s8 kinds, F_q
// for the Q8_0 family, where W is the dequantized weight in units of 2^-24, i.e. v carries
// each block's scale), plus w_scale for kMatMulS8F32.
class Verifier {
 public:
  // Computes r from SHA-256(domain, secret, kind, n, k, tensor_id) (SpecRng, counter mode)
  // and v = W^T r in O(N * K). `tensor_id` names the tensor (e.g. its content digest), so
  // each tensor of an epoch gets an independent r. W (and w_scale for kMatMulS8F32) are
  // validated like PrepareWeights does. INVALID_ARGUMENT for a kind that is not verifiable
  // or invalid weights.
  static absl::StatusOr<Verifier> Prepare(const EpochSecret& secret, std::string_view tensor_id,
                                          OpKind kind, int64_t n, int64_t k, ByteSpan w,
                                          ByteSpan w_scale);

  // Checks a computing node's answer for activations `a` (and `a_scale` for
  // kMatMulS8F32) of `m` rows: `out` the rounded output, `exact` the exact values (empty
  // for kMatMulS8S32; either encoding for the Q8_0 family). Accepts iff the exact values are in
  // range, every output element is the spec's rounding of its exact value, and C r = A (W^T r)
  // holds row by row in the field. An honest answer is always accepted; a wrong one from a node
  // that does not know r is rejected except with probability <= 2^-52 (docs/verification.md).
  // INVALID_ARGUMENT when the request itself (m, a, a_scale) is invalid: that is not the computing
  // node's fault. A wrong-sized answer is a rejection (Check::kAnswerSize), not an error. O(M * (N
  // + K)).
  absl::StatusOr<Verdict> Verify(int64_t m, ByteSpan a, ByteSpan a_scale, ByteSpan exact,
                                 ByteSpan out) const;

  OpKind kind() const { return kind_; }
  int64_t n() const { return n_; }
  int64_t k() const { return k_; }
  // Bytes of verifier state held for this tensor (r, v, w_scale): the memory cost of
  // verified mode beside the prepared weights.
  int64_t MemoryBytes() const;

 private:
  Verifier() = default;

  OpKind kind_ = OpKind::kMatMulS8S32;
  int64_t n_ = 0;
  int64_t k_ = 0;
  std::vector<uint64_t> r_;          // [N], each < 2^52
  std::vector<uint64_t> v61_;        // [K], s8 kinds: residues mod 2^61 - 1
  std::vector<uint8_t> v61_planes_;  // [8][K], the same as byte planes (for VNNI)
  // [16 K], Q8_0 family: residues mod 2^127 - 1 as 16 interleaved byte planes (for VNNI;
  // layout: ops/verify/kernels.h Q8Tables).
  std::vector<uint8_t> v127_planes_;
  unsigned __int128 r_bias_ = 0;  // Q8_0 family: internal::RBias(r_)
  std::vector<int32_t> ws_mant_;  // [N], kMatMulS8F32: w_scale = ws_mant * 2^ws_exp
  std::vector<int16_t> ws_exp_;   // [N]
  int64_t w24_max_ = 0;           // K-quants: max |W| in units of 2^-24

  // K-quants: FAILED_PRECONDITION when a row of A could give exact sums beyond the check's
  // range (|E| < 2^112) with these weights; OK for every other kind.
  absl::Status CheckKQuantRange(int64_t m, ByteSpan a, int64_t blocks) const;
};

}  // namespace datanode::ops::verify

#endif  // DATANODE_OPS_VERIFY_H_
