// Copyright 2026 The datanode Authors.
//
// A forward pass's verified-mode answer (verify_pass.h): size, residual digests, the wire
// encoding, and the per-model set of verifiers.
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datanode/ops/verify_pass.h"

namespace datanode::ops::verify {
namespace {

constexpr char kMagic[8] = {'D', 'N', 'P', 'A', 'S', 'S', '1', '\0'};
constexpr char kResidualDomain[] = "datanode residual v1";

void PutU32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void PutU64(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void PutBytes(std::vector<uint8_t>& out, const std::vector<uint8_t>& bytes) {
  PutU64(out, bytes.size());
  out.insert(out.end(), bytes.begin(), bytes.end());
}

// Bounds-checked little-endian reader.
class Reader {
 public:
  explicit Reader(ByteSpan bytes) : bytes_(bytes) {}
  bool U32(uint32_t* v) {
    if (left() < 4) return false;
    *v = 0;
    for (int i = 0; i < 4; ++i) *v |= uint32_t{bytes_[at_ + i]} << (8 * i);
    at_ += 4;
    return true;
  }
  bool U64(uint64_t* v) {
    if (left() < 8) return false;
    *v = 0;
    for (int i = 0; i < 8; ++i) *v |= uint64_t{bytes_[at_ + i]} << (8 * i);
    at_ += 8;
    return true;
  }
  bool Take(size_t n, uint8_t* dst) {
    if (left() < n) return false;
    std::memcpy(dst, bytes_.data() + at_, n);
    at_ += n;
    return true;
  }
  bool Bytes(std::vector<uint8_t>* out) {
    uint64_t n;
    if (!U64(&n) || n > left()) return false;
    out->assign(bytes_.begin() + static_cast<std::ptrdiff_t>(at_),
                bytes_.begin() + static_cast<std::ptrdiff_t>(at_ + n));
    at_ += n;
    return true;
  }
  size_t left() const { return bytes_.size() - at_; }

 private:
  ByteSpan bytes_;
  size_t at_ = 0;
};

}  // namespace

int64_t PassAnswer::PayloadBytes() const {
  int64_t bytes = static_cast<int64_t>(residual_digests.size() * sizeof(util::Sha256));
  for (const MatMulAnswer& a : matmuls)
    bytes += static_cast<int64_t>(a.out.size() + a.exact.size());
  return bytes;
}

util::Sha256 ResidualDigest(int32_t layer, std::span<const float> x) {
  uint8_t l[4];
  for (int i = 0; i < 4; ++i) l[i] = static_cast<uint8_t>(static_cast<uint32_t>(layer) >> (8 * i));
  return util::Sha256Of(
      {ByteSpan(reinterpret_cast<const uint8_t*>(kResidualDomain), sizeof(kResidualDomain) - 1),
       ByteSpan(l, 4),
       ByteSpan(reinterpret_cast<const uint8_t*>(x.data()), x.size() * sizeof(float))});
}

std::vector<uint8_t> EncodePassAnswer(const PassAnswer& answer) {
  std::vector<uint8_t> out(kMagic, kMagic + sizeof(kMagic));
  out.reserve(static_cast<size_t>(answer.PayloadBytes()) + 64 + 32 * answer.matmuls.size());
  PutU32(out, static_cast<uint32_t>(answer.matmuls.size()));
  for (const MatMulAnswer& a : answer.matmuls) {
    PutU32(out, static_cast<uint32_t>(a.layer));
    out.push_back(a.site);
    PutBytes(out, a.out);
    PutBytes(out, a.exact);
  }
  PutU32(out, static_cast<uint32_t>(answer.residual_digests.size()));
  for (const util::Sha256& d : answer.residual_digests) out.insert(out.end(), d.begin(), d.end());
  return out;
}

absl::StatusOr<PassAnswer> DecodePassAnswer(ByteSpan bytes) {
  const auto bad = [](const char* what) {
    return absl::InvalidArgumentError(absl::StrCat("malformed pass answer: ", what));
  };
  if (bytes.size() < sizeof(kMagic) || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return bad("no DNPASS1 header");
  }
  Reader r(bytes.subspan(sizeof(kMagic)));
  PassAnswer answer;
  uint32_t count;
  // Each matmul takes at least 21 bytes, so a count beyond that is a lie, not an allocation.
  if (!r.U32(&count) || count > r.left() / 21) return bad("matmul count");
  answer.matmuls.resize(count);
  for (MatMulAnswer& a : answer.matmuls) {
    uint32_t layer;
    if (!r.U32(&layer) || !r.Take(1, &a.site) || !r.Bytes(&a.out) || !r.Bytes(&a.exact)) {
      return bad("truncated matmul");
    }
    a.layer = static_cast<int32_t>(layer);
  }
  if (!r.U32(&count) || count > r.left() / sizeof(util::Sha256)) return bad("digest count");
  answer.residual_digests.resize(count);
  for (util::Sha256& d : answer.residual_digests) r.Take(d.size(), d.data());
  if (r.left() != 0) return bad("trailing bytes");
  return answer;
}

const char* PassCheckName(PassCheck check) {
  switch (check) {
    case PassCheck::kNone:
      return "none";
    case PassCheck::kStructure:
      return "structure";
    case PassCheck::kMatMul:
      return "matmul";
    case PassCheck::kResidual:
      return "residual";
    case PassCheck::kPassFails:
      return "pass_fails";
  }
  return "unknown";
}

absl::Status VerifierSet::Add(std::string name, Verifier verifier) {
  if (verifiers_.contains(name)) {
    return absl::InvalidArgumentError(absl::StrCat("verifier for '", name, "' added twice"));
  }
  verifiers_.emplace(std::move(name), std::move(verifier));
  return absl::OkStatus();
}

const Verifier* VerifierSet::Find(std::string_view name) const {
  auto it = verifiers_.find(name);
  return it == verifiers_.end() ? nullptr : &it->second;
}

int64_t VerifierSet::MemoryBytes() const {
  int64_t bytes = 0;
  for (const auto& [name, v] : verifiers_) bytes += v.MemoryBytes();
  return bytes;
}

}  // namespace datanode::ops::verify
