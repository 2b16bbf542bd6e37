// Copyright 2026 The datanode Authors.
//
// Verifier::Prepare (r and v = W^T r) and Verifier::Verify (docs/verification.md).
#include <openssl/rand.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "datanode/ops/digest.h"
#include "datanode/ops/exact_float.h"
#include "datanode/ops/kquant.h"
#include "datanode/ops/llm.h"
#include "datanode/ops/status_macros.h"
#include "datanode/ops/validate.h"
#include "datanode/ops/verify.h"
#include "ops/verify/field.h"
#include "ops/verify/kernels.h"
#include "ops/verify/kquant_weights.h"

namespace datanode::ops::verify {
namespace {

// The kinds checked over F_q with exact sums in units of 2^-48: A in Q8_0, W in the Q8_0
// family or a K-quant (whose weights are per-value integers in units of 2^-24 too).
bool IsQ8Family(OpKind kind) {
  return kind == OpKind::kMatMulQ8_0Q8_0 || kind == OpKind::kMatMulQ8_0Q4_0 ||
         kind == OpKind::kMatMulQ8_0Q4_1 || IsKQuantMatMul(kind);
}

// Bit length of a positive magnitude.
int BitLength(uint128 x) {
  int bits = 0;
  while (x != 0) {
    ++bits;
    x >>= 1;
  }
  return bits;
}

void AppendLe64(std::vector<uint8_t>* out, uint64_t x) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<uint8_t>(x >> (8 * i)));
}

// The seed of r: SHA-256 over a domain tag, the epoch secret, the kind and shape and the
// length-prefixed tensor id (so no two (tensor, shape) pairs share a seed).
Sha256 RSeed(const EpochSecret& secret, std::string_view tensor_id, OpKind kind, int64_t n,
             int64_t k) {
  static constexpr char kDomain[] = "datanode verify r v1";
  std::vector<uint8_t> header;
  AppendLe64(&header, static_cast<uint64_t>(kind));
  AppendLe64(&header, static_cast<uint64_t>(n));
  AppendLe64(&header, static_cast<uint64_t>(k));
  AppendLe64(&header, tensor_id.size());
  return Sha256Of({ByteSpan(reinterpret_cast<const uint8_t*>(kDomain), sizeof(kDomain) - 1),
                   ByteSpan(secret.bytes), ByteSpan(header),
                   ByteSpan(reinterpret_cast<const uint8_t*>(tensor_id.data()), tensor_id.size())});
}

// Weight quant j (0..31) of one block of the Q8_0-family weight formats, as an integer,
// and the block's scale and (Q4_1) min times 2^24.
struct WeightBlock {
  int64_t d24 = 0;
  int64_t m24 = 0;
  int q[32] = {};
};
WeightBlock DecodeWeightBlock(OpKind kind, const uint8_t* block) {
  WeightBlock wb;
  wb.d24 = F16Times2To24(LoadU16(block));
  switch (kind) {
    case OpKind::kMatMulQ8_0Q4_0:
      for (int j = 0; j < 16; ++j) {
        wb.q[j] = (block[2 + j] & 0x0F) - 8;
        wb.q[j + 16] = (block[2 + j] >> 4) - 8;
      }
      break;
    case OpKind::kMatMulQ8_0Q4_1:
      wb.m24 = F16Times2To24(LoadU16(block + 2));
      for (int j = 0; j < 16; ++j) {
        wb.q[j] = block[4 + j] & 0x0F;
        wb.q[j + 16] = block[4 + j] >> 4;
      }
      break;
    default:
      for (int j = 0; j < 32; ++j) wb.q[j] = static_cast<int8_t>(block[2 + j]);
      break;
  }
  return wb;
}

int64_t WeightBlockBytes(OpKind kind) {
  if (kind == OpKind::kMatMulQ8_0Q4_0) return kQ4_0BlockBytes;
  if (kind == OpKind::kMatMulQ8_0Q4_1) return kQ4_1BlockBytes;
  return kQ8_0BlockBytes;
}

Verdict Reject(Check check, int64_t row, int64_t col, std::string reason) {
  Verdict v;
  v.accepted = false;
  v.failed = check;
  v.row = row;
  v.col = col;
  v.reason = std::move(reason);
  return v;
}

}  // namespace

const char* CheckName(Check check) {
  switch (check) {
    case Check::kNone:
      return "none";
    case Check::kAnswerSize:
      return "answer_size";
    case Check::kExactRange:
      return "exact_range";
    case Check::kRounding:
      return "rounding";
    case Check::kFreivalds:
      return "freivalds";
  }
  return "unknown";
}

absl::StatusOr<EpochSecret> NewEpochSecret() {
  EpochSecret secret;
  if (RAND_bytes(secret.bytes.data(), static_cast<int>(secret.bytes.size())) != 1) {
    return absl::UnavailableError("RAND_bytes failed: no epoch secret");
  }
  return secret;
}

absl::StatusOr<Verifier> Verifier::Prepare(const EpochSecret& secret, std::string_view tensor_id,
                                           OpKind kind, int64_t n, int64_t k, ByteSpan w,
                                           ByteSpan w_scale) {
  if (!IsVerifiable(kind)) {
    return absl::InvalidArgumentError(absl::StrCat(OpKindName(kind), " has no verified mode"));
  }
  RETURN_IF_ERROR(ValidateWeightValues(kind, n, k, w, w_scale));
  Verifier ver;
  ver.kind_ = kind;
  ver.n_ = n;
  ver.k_ = k;
  const Sha256 seed = RSeed(secret, tensor_id, kind, n, k);
  llm::SpecRng rng(seed);
  ver.r_.resize(n);
  for (uint64_t& r : ver.r_) r = rng.Next() >> 12;  // uniform in [0, 2^52)

  // v[k] = sum_n W[n, k] r[n], exactly in int128 (s8: |.| < 2^7 * 2^52 * 2^24 = 2^83;
  // Q8_0 family with W in units of 2^-24: |W| < 2^47, so |.| < 2^123), then reduced.
  std::vector<int128> acc(k, 0);
  if (!IsQ8Family(kind)) {
    for (int64_t row = 0; row < n; ++row) {
      const int64_t r = static_cast<int64_t>(ver.r_[row]);
      const int8_t* wr = reinterpret_cast<const int8_t*>(&w[row * k]);
      for (int64_t col = 0; col < k; ++col) acc[col] += wr[col] * r;  // |.| < 2^59 each
    }
    ver.v61_.resize(k);
    ver.v61_planes_.resize(8 * k);
    for (int64_t col = 0; col < k; ++col) {
      const uint64_t v = M61::FromInt128(acc[col]);
      ver.v61_[col] = v;
      for (int i = 0; i < 8; ++i) ver.v61_planes_[i * k + col] = static_cast<uint8_t>(v >> (8 * i));
    }
    if (kind == OpKind::kMatMulS8F32) {
      ver.ws_mant_.resize(n);
      ver.ws_exp_.resize(n);
      for (int64_t row = 0; row < n; ++row) {
        const ExactValue s = DecodeF32Bits(LoadU32(&w_scale[4 * row]));
        ver.ws_mant_[row] = static_cast<int32_t>(s.mantissa);
        ver.ws_exp_[row] = static_cast<int16_t>(s.exponent);
      }
    }
    return ver;
  }
  const int64_t blocks = k / kQBlockSize;
  if (IsKQuantMatMul(kind)) {
    // Each value w24 < 2^52 (kquant_weights.h) times r < 2^52: < 2^104 per term, so
    // N < 2^22 rows keep the int128 column sums exact.
    if (n >= (int64_t{1} << 22)) {
      return absl::InvalidArgumentError(
          absl::StrCat(OpKindName(kind), " verify: N = ", n, " is beyond 2^22 rows"));
    }
    const int64_t row_bytes = blocks / kKQuantSlices * FindOpInfo(kind)->w_block_bytes;
    std::vector<int64_t> w24(static_cast<size_t>(k));
    for (int64_t row = 0; row < n; ++row) {
      DecodeKQuantRow24(kind, &w[row * row_bytes], k, w24.data());
      const int64_t r = static_cast<int64_t>(ver.r_[row]);
      for (int64_t col = 0; col < k; ++col) {
        const int64_t x = w24[static_cast<size_t>(col)];
        acc[col] += static_cast<int128>(x) * r;
        ver.w24_max_ = std::max<int64_t>(ver.w24_max_, x < 0 ? -x : x);
      }
    }
  }
  const int64_t block_bytes = WeightBlockBytes(kind);
  for (int64_t row = 0; !IsKQuantMatMul(kind) && row < n; ++row) {
    const int64_t r = static_cast<int64_t>(ver.r_[row]);
    for (int64_t b = 0; b < blocks; ++b) {
      const WeightBlock wb = DecodeWeightBlock(kind, &w[(row * blocks + b) * block_bytes]);
      int128* dst = &acc[b * kQBlockSize];
      for (int j = 0; j < 32; ++j) {
        const int64_t w24 = wb.d24 * wb.q[j] + wb.m24;  // |.| < 2^47
        dst[j] += static_cast<int128>(w24) * r;
      }
    }
  }
  ver.r_bias_ = internal::RBias(ver.r_.data(), n);
  ver.v127_planes_.resize(static_cast<size_t>(internal::kQ8VBytesPerColumn * k));
  for (int64_t col = 0; col < k; ++col) {
    internal::StoreQ8V(ver.v127_planes_.data(), col, M127::FromInt128(acc[col]));
  }
  return ver;
}

absl::Status Verifier::CheckKQuantRange(int64_t m, ByteSpan a, int64_t blocks) const {
  // The check kernels hold exact sums in (-2^112, 2^112), the Q8_0 family's range by its
  // spec. A K-quant sum is |sum_k a_k w_k| <= max|w| * sum_k |a_k|: if that bound is below
  // 2^112 for every row, an honest sum is in range. The bound for any A (|a24| < 2^47) is
  // tried first; only weights with extreme scales need the per-row sum. A row beyond it is
  // outside verified mode: the caller gets an error, and no node is blamed.
  if (!IsKQuantMatMul(kind_) || w24_max_ == 0) return absl::OkStatus();
  if (BitLength(static_cast<uint128>(w24_max_)) + BitLength(static_cast<uint128>(k_)) + 47 <= 112) {
    return absl::OkStatus();
  }
  for (int64_t i = 0; i < m; ++i) {
    uint128 abs_sum = 0;  // sum_k |a24_k| < 2^47 * K
    for (int64_t b = 0; b < blocks; ++b) {
      const uint8_t* block = &a[(i * blocks + b) * kQ8_0BlockBytes];
      int64_t q_abs = 0;  // <= 32 * 127
      for (int j = 0; j < kQBlockSize; ++j) {
        q_abs += std::abs(int{static_cast<int8_t>(block[2 + j])});
      }
      const int64_t d24 = std::abs(F16Times2To24(LoadU16(block)));  // < 2^40
      abs_sum += static_cast<uint128>(d24 * q_abs);
    }
    if (BitLength(abs_sum) + BitLength(static_cast<uint128>(w24_max_)) > 112) {
      return absl::FailedPreconditionError(absl::StrCat(
          OpKindName(kind_), " verify: row ", i,
          " of A with these weights may have exact sums beyond 2^112, outside verified mode"));
    }
  }
  return absl::OkStatus();
}

int64_t Verifier::MemoryBytes() const {
  return static_cast<int64_t>(sizeof(Verifier) + r_.size() * 8 + v61_.size() * 8 +
                              v61_planes_.size() + v127_planes_.size() + ws_mant_.size() * 4 +
                              ws_exp_.size() * 2);
}

absl::StatusOr<Verdict> Verifier::Verify(int64_t m, ByteSpan a, ByteSpan a_scale, ByteSpan exact,
                                         ByteSpan out) const {
  // The request: its shape and values are the caller's, checked like RunOp checks them.
  ASSIGN_OR_RETURN(const OperandSizes sizes, ComputeOperandSizes(kind_, m, n_, k_));
  if (static_cast<int64_t>(a.size()) != sizes.a ||
      static_cast<int64_t>(a_scale.size()) != sizes.a_scale) {
    return absl::InvalidArgumentError(
        absl::StrCat(OpKindName(kind_), " verify: A or a_scale has the wrong size (want ", sizes.a,
                     ", ", sizes.a_scale, " bytes)"));
  }
  OpArgs args;
  args.kind = kind_;
  args.m = m;
  args.n = n_;
  args.k = k_;
  args.a = a;
  args.a_scale = a_scale;
  // The Q8_0 family's A is validated by the kernel that reads it (below); on a flag the
  // shared validation produces the message.
  if (!IsQ8Family(kind_)) RETURN_IF_ERROR(ValidateInputValues(args));

  // The answer: anything wrong with it is the computing node's fault.
  const int64_t exact_bytes = ExactSumsBytes(kind_, m, n_);
  // The Q8_0 family's compact encoding (int64 per element) has half the bytes.
  const bool compact = IsQ8Family(kind_) && static_cast<int64_t>(exact.size()) == exact_bytes / 2;
  if (static_cast<int64_t>(out.size()) != sizes.out ||
      (static_cast<int64_t>(exact.size()) != exact_bytes && !compact)) {
    return Reject(Check::kAnswerSize, -1, -1,
                  absl::StrFormat("answer has %d output and %d exact bytes, want %d and %d",
                                  out.size(), exact.size(), sizes.out, exact_bytes));
  }
  const internal::Kernels& kern = internal::ActiveKernels();

  if (!IsQ8Family(kind_)) {
    // s8 kinds over F_p: the exact values are s32 (the output itself for s8_s32).
    const internal::S8Tables s8_tables{v61_.data(), v61_planes_.data()};
    const ByteSpan c = kind_ == OpKind::kMatMulS8S32 ? out : exact;
    if (kind_ == OpKind::kMatMulS8F32) {
      for (int64_t i = 0; i < m; ++i) {
        const ExactValue sa = DecodeF32Bits(LoadU32(&a_scale[4 * i]));
        const int64_t j =
            kern.first_bad_s8f32_row(&c[4 * i * n_], &out[4 * i * n_], sa.mantissa, sa.exponent,
                                     ws_mant_.data(), ws_exp_.data(), n_);
        if (j >= 0) {
          return Reject(Check::kRounding, i, j,
                        absl::StrFormat("C[%d, %d] is not round_f32 of its exact value", i, j));
        }
      }
    }
    for (int64_t i0 = 0; i0 < m; i0 += internal::kMaxRows) {
      const int rows = static_cast<int>(std::min<int64_t>(internal::kMaxRows, m - i0));
      int128 lhs[internal::kMaxRows];
      int128 rhs[internal::kMaxRows];
      kern.dot_s32_r(&c[4 * i0 * n_], 4 * n_, r_.data(), n_, rows, lhs);
      kern.dot_s8_v(&a[i0 * k_], k_, s8_tables, k_, rows, rhs);
      for (int j = 0; j < rows; ++j) {
        if (M61::FromInt128(lhs[j]) != M61::FromInt128(rhs[j])) {
          return Reject(Check::kFreivalds, i0 + j, -1,
                        absl::StrFormat("row %d: C r != A (W^T r) mod 2^61 - 1", i0 + j));
        }
      }
    }
  } else {
    // Q8_0 family over F_q: exact sums with LSB 2^-48 (int128, or int64 when compact). A's
    // side first for all rows (it also validates A), then row by row: range and rounding of
    // every element, and the row's Freivalds identity.
    const internal::Q8Tables q8_tables{v127_planes_.data()};
    const int64_t blocks = k_ / kQBlockSize;
    std::vector<uint128> rhs(m);
    const int64_t a_row_bytes = blocks * kQ8_0BlockBytes;
    for (int64_t i0 = 0; i0 < m; i0 += internal::kMaxRows) {
      const int rows = static_cast<int>(std::min<int64_t>(internal::kMaxRows, m - i0));
      bool valid = true;
      kern.dot_q8_v(&a[i0 * a_row_bytes], a_row_bytes, q8_tables, blocks, rows, &rhs[i0], &valid);
      if (!valid) {
        RETURN_IF_ERROR(ValidateInputValues(args));
        return absl::InternalError("verify kernel flagged a row of A that validates");
      }
    }
    RETURN_IF_ERROR(CheckKQuantRange(m, a, blocks));  // A is valid now
    for (int64_t i = 0; i < m; ++i) {
      int64_t j = -1;
      bool out_of_range = false;
      const uint128 lhs = compact ? kern.check_q8_row64(&exact[8 * i * n_], &out[4 * i * n_],
                                                        r_.data(), n_, r_bias_, &j)
                                  : kern.check_q8_row(&exact[16 * i * n_], &out[4 * i * n_],
                                                      r_.data(), n_, &j, &out_of_range);
      if (j >= 0) {
        return out_of_range
                   ? Reject(Check::kExactRange, i, j,
                            absl::StrFormat("exact sum [%d, %d] is outside (-2^112, 2^112)", i, j))
                   : Reject(Check::kRounding, i, j,
                            absl::StrFormat("C[%d, %d] is not round_f32 of its exact sum", i, j));
      }
      if (lhs != rhs[i]) {
        return Reject(Check::kFreivalds, i, -1,
                      absl::StrFormat("row %d: E r != A (W^T r) mod 2^127 - 1", i));
      }
    }
  }
  Verdict ok;
  ok.accepted = true;
  return ok;
}

}  // namespace datanode::ops::verify
