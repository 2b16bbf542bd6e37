// Copyright 2026 The datanode Authors.
#include "datanode/ops/random_inputs.h"

#include "absl/strings/str_cat.h"
#include "datanode/ops/exact_float.h"
#include "datanode/ops/status_macros.h"

namespace datanode::ops {
namespace {

int8_t RandomQ8(SplitMix64& rng, InputProfile profile) {
  if (profile == InputProfile::kExtreme) {
    const uint64_t r = rng.Next() % 8;
    if (r < 3) return 127;
    if (r < 6) return -127;
    if (r == 6) return 0;
  }
  return static_cast<int8_t>(rng.Uniform(-127, 127));
}

uint8_t RandomNibbles(SplitMix64& rng, InputProfile profile) {
  if (profile == InputProfile::kExtreme) {
    static constexpr uint8_t kEdges[] = {0x00, 0xFF, 0x0F, 0xF0, 0x88, 0x08, 0x80, 0x77};
    if (rng.Next() % 4 != 0) return kEdges[rng.Next() % 8];
  }
  return static_cast<uint8_t>(rng.Next() & 0xFF);
}

// A random finite f16 scale.
uint16_t RandomF16Scale(SplitMix64& rng, InputProfile profile) {
  const uint16_t sign = (rng.Next() % 4 == 0) ? 0x8000 : 0;  // mostly positive, as in GGUF
  const uint16_t frac = static_cast<uint16_t>(rng.Next() & 0x3FF);
  int biased;
  switch (profile) {
    case InputProfile::kRealistic:
      return static_cast<uint16_t>(((rng.Uniform(15 - 9, 15 - 6)) << 10) | frac);  // [2^-9,2^-5)
    case InputProfile::kExtreme: {
      const uint64_t r = rng.Next() % 6;
      if (r == 0) return sign;                         // zero
      if (r == 1) return sign | 0x7BFF;                // 65504
      if (r == 2) return sign | (frac == 0 ? 1 : frac);  // subnormal
      biased = static_cast<int>(rng.Uniform(1, 30));
      break;
    }
    default:
      biased = static_cast<int>(rng.Uniform(0, 30));
      break;
  }
  return static_cast<uint16_t>(sign | (biased << 10) | frac);
}

uint32_t RandomF32Scale(SplitMix64& rng, InputProfile profile) {
  const uint32_t sign = (rng.Next() % 4 == 0) ? 0x80000000u : 0;
  const uint32_t frac = static_cast<uint32_t>(rng.Next() & 0x7FFFFF);
  int64_t biased;
  switch (profile) {
    case InputProfile::kRealistic:
      return (static_cast<uint32_t>(rng.Uniform(127 - 10, 127 - 5)) << 23) | frac;
    case InputProfile::kExtreme: {
      const uint64_t r = rng.Next() % 5;
      if (r == 0) return sign | (frac == 0 ? 1u : frac);  // subnormal
      if (r == 1) return sign | (static_cast<uint32_t>(rng.Uniform(1, 20)) << 23) | frac;
      if (r == 2) return sign | (static_cast<uint32_t>(rng.Uniform(235, 254)) << 23) | frac;
      if (r == 3) return sign;  // zero
      biased = rng.Uniform(1, 254);
      break;
    }
    default:
      biased = rng.Uniform(1, 254);
      break;
  }
  return sign | (static_cast<uint32_t>(biased) << 23) | frac;
}

// A random finite f32 quantize input; Q8_0 inputs stay below the Q8_0 limit.
uint32_t RandomF32Input(SplitMix64& rng, InputProfile profile, bool q8_0) {
  const uint32_t sign = (rng.Next() & 1) ? 0x80000000u : 0;
  const uint32_t frac = static_cast<uint32_t>(rng.Next() & 0x7FFFFF);
  const int64_t max_biased = q8_0 ? 127 + 21 : 254;  // below 2^22 < 8321040
  int64_t biased;
  switch (profile) {
    case InputProfile::kRealistic:
      biased = rng.Uniform(127 - 8, 127 + 3);
      break;
    case InputProfile::kExtreme: {
      const uint64_t r = rng.Next() % 5;
      if (r == 0) return sign | (frac == 0 ? 1u : frac);
      if (r == 1) return sign;
      biased = r == 2 ? max_biased : rng.Uniform(1, max_biased);
      break;
    }
    default:
      biased = rng.Uniform(0, max_biased);
      break;
  }
  return sign | (static_cast<uint32_t>(biased) << 23) | frac;
}

void FillQ8_0Blocks(SplitMix64& rng, InputProfile profile, std::vector<uint8_t>& buf) {
  for (size_t off = 0; off < buf.size(); off += kQ8_0BlockBytes) {
    StoreU16(&buf[off], RandomF16Scale(rng, profile));
    for (int j = 0; j < kQBlockSize; ++j) {
      buf[off + 2 + j] = static_cast<uint8_t>(RandomQ8(rng, profile));
    }
  }
}

}  // namespace

const char* InputProfileName(InputProfile profile) {
  switch (profile) {
    case InputProfile::kWide:
      return "wide";
    case InputProfile::kExtreme:
      return "extreme";
    case InputProfile::kRealistic:
      return "realistic";
  }
  return "unknown_profile";
}

absl::StatusOr<InputProfile> InputProfileFromName(std::string_view name) {
  for (InputProfile profile : kAllInputProfiles) {
    if (name == InputProfileName(profile)) return profile;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown input profile '", std::string(name), "'"));
}

OpArgs OpInputs::Args() {
  OpArgs args;
  args.kind = kind;
  args.m = m;
  args.n = n;
  args.k = k;
  args.a = a;
  args.a_scale = a_scale;
  args.w = w;
  args.w_scale = w_scale;
  args.out = out;
  args.out_scale = out_scale;
  return args;
}

absl::StatusOr<OpInputs> MakeRandomInputs(OpKind kind, int64_t m, int64_t n, int64_t k,
                                          uint64_t seed, InputProfile profile) {
  ASSIGN_OR_RETURN(const OperandSizes sizes, ComputeOperandSizes(kind, m, n, k));
  OpInputs in;
  in.kind = kind;
  in.m = m;
  in.n = n;
  in.k = k;
  in.a.resize(sizes.a);
  in.a_scale.resize(sizes.a_scale);
  in.w.resize(sizes.w);
  in.w_scale.resize(sizes.w_scale);
  in.out.assign(sizes.out, 0);
  in.out_scale.assign(sizes.out_scale, 0);
  SplitMix64 rng(seed ^ (uint64_t{static_cast<uint8_t>(kind)} << 56));
  switch (kind) {
    case OpKind::kMatMulS8S32:
    case OpKind::kMatMulS8F32:
      for (auto& v : in.a) v = static_cast<uint8_t>(RandomQ8(rng, profile));
      for (auto& v : in.w) v = static_cast<uint8_t>(RandomQ8(rng, profile));
      for (size_t i = 0; i < in.a_scale.size(); i += 4) {
        StoreU32(&in.a_scale[i], RandomF32Scale(rng, profile));
      }
      for (size_t i = 0; i < in.w_scale.size(); i += 4) {
        StoreU32(&in.w_scale[i], RandomF32Scale(rng, profile));
      }
      break;
    case OpKind::kMatMulQ8_0Q8_0:
      FillQ8_0Blocks(rng, profile, in.a);
      FillQ8_0Blocks(rng, profile, in.w);
      break;
    case OpKind::kMatMulQ8_0Q4_0:
    case OpKind::kMatMulQ8_0Q4_1: {
      FillQ8_0Blocks(rng, profile, in.a);
      const bool has_min = kind == OpKind::kMatMulQ8_0Q4_1;
      const int64_t block_bytes = has_min ? kQ4_1BlockBytes : kQ4_0BlockBytes;
      for (size_t off = 0; off < in.w.size(); off += block_bytes) {
        StoreU16(&in.w[off], RandomF16Scale(rng, profile));
        if (has_min) StoreU16(&in.w[off + 2], RandomF16Scale(rng, profile) ^ 0x8000);
        for (int j = 0; j < 16; ++j) in.w[off + (has_min ? 4 : 2) + j] = RandomNibbles(rng, profile);
      }
      break;
    }
    case OpKind::kMatMulQ8_0Q4_K:
      // f16 d and dmin, then 12 bytes of 6-bit scales / mins (every bit pattern is a valid
      // pair set) and 128 bytes of nibbles.
      FillQ8_0Blocks(rng, profile, in.a);
      for (size_t off = 0; off < in.w.size(); off += kQ4_KBlockBytes) {
        StoreU16(&in.w[off], RandomF16Scale(rng, profile));
        StoreU16(&in.w[off + 2], RandomF16Scale(rng, profile));
        for (int j = 4; j < 16; ++j) in.w[off + j] = static_cast<uint8_t>(rng.Next() & 0xFF);
        for (int j = 16; j < kQ4_KBlockBytes; ++j) in.w[off + j] = RandomNibbles(rng, profile);
      }
      break;
    case OpKind::kMatMulQ8_0Q6_K:
      // 192 bytes of quant bits, 16 int8 scales (-128 included: GGUF allows it), f16 d.
      FillQ8_0Blocks(rng, profile, in.a);
      for (size_t off = 0; off < in.w.size(); off += kQ6_KBlockBytes) {
        for (int j = 0; j < 192; ++j) in.w[off + j] = RandomNibbles(rng, profile);
        for (int j = 192; j < 208; ++j) {
          in.w[off + j] = profile == InputProfile::kExtreme && rng.Next() % 4 == 0
                              ? uint8_t{0x80}
                              : static_cast<uint8_t>(rng.Next() & 0xFF);
        }
        StoreU16(&in.w[off + 208], RandomF16Scale(rng, profile));
      }
      break;
    case OpKind::kQuantizeS8Row:
    case OpKind::kQuantizeQ8_0:
      for (size_t i = 0; i < in.a.size(); i += 4) {
        StoreU32(&in.a[i], RandomF32Input(rng, profile, kind == OpKind::kQuantizeQ8_0));
      }
      break;
  }
  return in;
}

}  // namespace datanode::ops
