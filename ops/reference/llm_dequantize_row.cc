// Copyright 2026 The datanode Authors.
//
// Spec §8.5 (embedding lookup): value j of a row is the exact value of the block
// format of §1 or §3.4 (F32 as is, F16 widened exactly, Q8_0 d*q, Q4_0 d*(nib-8), Q4_1
// d*nib + m, Q4_K d*sc*nib - dmin*min, Q6_K d*sc*q), rounded once to f32. Only the Q4_1
// and Q4_K sums can be inexact; every other value is representable. Non-finite stored
// values are invalid input.
#include "absl/strings/str_cat.h"
#include "datanode/ops/exact_float.h"
#include "datanode/ops/kquant.h"
#include "datanode/ops/llm.h"

namespace datanode::ops::llm {
namespace {

struct FormatInfo {
  const char* name;
  int64_t block_values;
  int64_t block_bytes;
};

FormatInfo Info(RowFormat format) {
  switch (format) {
    case RowFormat::kF32:
      return {"F32", 1, 4};
    case RowFormat::kF16:
      return {"F16", 1, 2};
    case RowFormat::kQ8_0:
      return {"Q8_0", kQBlockSize, kQ8_0BlockBytes};
    case RowFormat::kQ4_0:
      return {"Q4_0", kQBlockSize, kQ4_0BlockBytes};
    case RowFormat::kQ4_1:
      return {"Q4_1", kQBlockSize, kQ4_1BlockBytes};
    case RowFormat::kQ4_K:
      return {"Q4_K", kQKSuperBlockSize, kQ4_KBlockBytes};
    case RowFormat::kQ6_K:
      return {"Q6_K", kQKSuperBlockSize, kQ6_KBlockBytes};
  }
  return {nullptr, 0, 0};
}

absl::Status NotFinite(const char* what, int64_t index) {
  return absl::InvalidArgumentError(
      absl::StrCat("DequantizeRow: ", what, " of value ", index, " is not finite"));
}

// Q4_K / Q6_K rows: validates every super-block's f16 scales, then writes each 32-value
// slice. Value = d * sc * q - dmin * min (min = 0 for Q6_K), both terms multiples of
// 2^-24 below 2^50 in those units: one rounding of the exact int64 sum.
absl::Status DequantizeKQuantRow(RowFormat format, const uint8_t* p, std::span<float> out) {
  const bool q4 = format == RowFormat::kQ4_K;
  const int64_t block_bytes = Info(format).block_bytes;
  const int64_t blocks = static_cast<int64_t>(out.size()) / kQKSuperBlockSize;
  for (int64_t s = 0; s < blocks; ++s) {
    const uint8_t* block = p + s * block_bytes;
    if (!IsFiniteF16Bits(LoadU16(block + (q4 ? 0 : kQ6_KBlockBytes - 2)))) {
      return NotFinite("super-block scale d", s * kQKSuperBlockSize);
    }
    if (q4 && !IsFiniteF16Bits(LoadU16(block + 2))) {
      return NotFinite("super-block min scale dmin", s * kQKSuperBlockSize);
    }
  }
  KQuantSlice slice;
  for (int64_t s = 0; s < blocks; ++s) {
    for (int b = 0; b < kKQuantSlices; ++b) {
      if (q4) {
        DecodeQ4_KSlice(p + s * block_bytes, b, &slice);
      } else {
        DecodeQ6_KSlice(p + s * block_bytes, b, &slice);
      }
      const ExactValue d = DecodeF16Bits(slice.d_bits);
      const ExactValue dmin = DecodeF16Bits(slice.dmin_bits);
      const int64_t min_units = (dmin.mantissa * slice.min) << (dmin.exponent + 24);
      float* o = &out[static_cast<size_t>(s * kQKSuperBlockSize + b * kQBlockSize)];
      for (int j = 0; j < kQBlockSize; ++j) {
        const int64_t units = (d.mantissa * slice.scale[j / 16] * slice.q[j]) << (d.exponent + 24);
        o[j] = BitsToF32(RoundToF32Bits(units - min_units, -24));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

const char* RowFormatName(RowFormat format) { return Info(format).name; }

absl::StatusOr<int64_t> RowBytes(RowFormat format, int64_t d) {
  const FormatInfo info = Info(format);
  if (info.name == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("RowBytes: unknown row format ", static_cast<int>(format)));
  }
  if (d <= 0 || d > (int64_t{1} << 32)) {
    return absl::InvalidArgumentError(absl::StrCat("RowBytes: row length ", d, " out of range"));
  }
  if (d % info.block_values != 0) {
    return absl::InvalidArgumentError(absl::StrCat("RowBytes: ", info.name, " row length ", d,
                                                   " is not a multiple of ", info.block_values));
  }
  return d / info.block_values * info.block_bytes;
}

absl::Status DequantizeRow(RowFormat format, ByteSpan row, std::span<float> out) {
  const auto bytes = RowBytes(format, static_cast<int64_t>(out.size()));
  if (!bytes.ok()) return bytes.status();
  if (static_cast<int64_t>(row.size()) != *bytes) {
    return absl::InvalidArgumentError(absl::StrCat("DequantizeRow: row has ", row.size(),
                                                   " bytes, ", out.size(), " values of ",
                                                   Info(format).name, " need ", *bytes));
  }
  const int64_t d = static_cast<int64_t>(out.size());
  const uint8_t* p = row.data();
  if (format == RowFormat::kQ4_K || format == RowFormat::kQ6_K) {
    return DequantizeKQuantRow(format, p, out);
  }
  // Validate first so that an invalid row writes nothing.
  for (int64_t i = 0; i < d; ++i) {
    switch (format) {
      case RowFormat::kF32:
        if (!IsFiniteF32Bits(LoadU32(p + 4 * i))) return NotFinite("f32", i);
        break;
      case RowFormat::kF16:
        if (!IsFiniteF16Bits(LoadU16(p + 2 * i))) return NotFinite("f16", i);
        break;
      case RowFormat::kQ8_0:
      case RowFormat::kQ4_0:
      case RowFormat::kQ4_1: {
        if (i % kQBlockSize != 0) break;
        const uint8_t* block = p + (i / kQBlockSize) * Info(format).block_bytes;
        if (!IsFiniteF16Bits(LoadU16(block))) return NotFinite("block scale d", i);
        if (format == RowFormat::kQ4_1 && !IsFiniteF16Bits(LoadU16(block + 2))) {
          return NotFinite("block min m", i);
        }
        if (format == RowFormat::kQ8_0) {
          for (int j = 0; j < kQBlockSize; ++j) {
            if (block[2 + j] == 0x80) {
              return absl::InvalidArgumentError(absl::StrCat(
                  "DequantizeRow: Q8_0 quant of value ", i + j, " is -128 (outside [-127, 127])"));
            }
          }
        }
        break;
      }
      case RowFormat::kQ4_K:
      case RowFormat::kQ6_K:
        break;  // DequantizeKQuantRow
    }
  }
  for (int64_t i = 0; i < d; ++i) {
    uint32_t bits = 0;
    switch (format) {
      case RowFormat::kF32:
        bits = LoadU32(p + 4 * i);
        break;
      case RowFormat::kF16: {
        const ExactValue v = DecodeF16Bits(LoadU16(p + 2 * i));
        bits = RoundToF32Bits(v.mantissa, v.exponent);  // exact
        break;
      }
      case RowFormat::kQ8_0: {
        const uint8_t* block = p + (i / kQBlockSize) * kQ8_0BlockBytes;
        const ExactValue dv = DecodeF16Bits(LoadU16(block));
        const int64_t q = static_cast<int8_t>(block[2 + i % kQBlockSize]);
        bits = RoundToF32Bits(dv.mantissa * q, dv.exponent);  // exact: 18 bits
        break;
      }
      case RowFormat::kQ4_0:
      case RowFormat::kQ4_1: {
        const bool q4_1 = format == RowFormat::kQ4_1;
        const uint8_t* block = p + (i / kQBlockSize) * (q4_1 ? kQ4_1BlockBytes : kQ4_0BlockBytes);
        const uint8_t* qs = block + (q4_1 ? 4 : 2);
        const int j = static_cast<int>(i % kQBlockSize);
        const int64_t nib = j < 16 ? (qs[j] & 0x0F) : (qs[j - 16] >> 4);
        const ExactValue dv = DecodeF16Bits(LoadU16(block));
        if (!q4_1) {
          bits = RoundToF32Bits(dv.mantissa * (nib - 8), dv.exponent);  // exact
        } else {
          // d * nib + m, both exact multiples of 2^-24: one rounding of the sum.
          const ExactValue mv = DecodeF16Bits(LoadU16(block + 2));
          const int64_t sum =
              ((dv.mantissa * nib) << (dv.exponent + 24)) + (mv.mantissa << (mv.exponent + 24));
          bits = RoundToF32Bits(sum, -24);
        }
        break;
      }
      case RowFormat::kQ4_K:
      case RowFormat::kQ6_K:
        break;  // DequantizeKQuantRow
    }
    out[i] = BitsToF32(bits);
  }
  return absl::OkStatus();
}

}  // namespace datanode::ops::llm
