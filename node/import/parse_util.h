// Copyright 2026 The datanode Authors.
//
// Internal helpers shared by the model-file parsers: checked arithmetic and a bounded
// little-endian cursor over a ByteSource.
#ifndef DATANODE_NODE_IMPORT_PARSE_UTIL_H_
#define DATANODE_NODE_IMPORT_PARSE_UTIL_H_

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "datanode/util/hex.h"
#include "node/import/model.h"

namespace datanode::node {

inline bool CheckedMul(int64_t a, int64_t b, int64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}
inline bool CheckedAdd(int64_t a, int64_t b, int64_t* out) {
  return !__builtin_add_overflow(a, b, out);
}

// A file's first bytes for an error message: quoted when printable ("GGUG"), else hex
// (0x00ff1234).
inline std::string DescribeMagic(std::string_view magic) {
  bool printable = !magic.empty();
  for (char ch : magic) printable = printable && ch >= 0x20 && ch < 0x7f;
  if (printable) return absl::StrCat("\"", std::string(magic), "\"");
  return "0x" + util::HexEncode(magic);
}

// Sorts by name; INVALID_ARGUMENT for duplicate names, tensors outside
// [data_begin, data_end) or overlapping tensors.
absl::Status CheckTensorLayout(std::vector<TensorInfo>* tensors, int64_t data_begin,
                               int64_t data_end);

// Sequential reader with a small buffer. Refuses to move past `limit` (the header
// bound), so a hostile count can cost at most `limit` bytes of reading.
class Cursor {
 public:
  Cursor(const ByteSource& source, int64_t limit)
      : source_(source), limit_(std::min<int64_t>(limit, source.size())) {}

  int64_t pos() const { return pos_; }
  // Bytes left before the header limit (or the end of the source).
  int64_t remaining() const { return limit_ - pos_; }

  absl::Status Read(void* out, int64_t n) {
    if (n < 0 || n > limit_ - pos_) {
      return absl::InvalidArgumentError(absl::StrCat("truncated or oversized header: need ", n,
                                                     " bytes at offset ", pos_, ", header limit ",
                                                     limit_));
    }
    auto* dst = static_cast<uint8_t*>(out);
    while (n > 0) {
      if (pos_ >= buf_begin_ + static_cast<int64_t>(buf_.size()) || pos_ < buf_begin_) {
        int64_t len = std::min<int64_t>(kBuf, limit_ - pos_);
        buf_.resize(static_cast<size_t>(len));
        if (absl::Status s = source_.ReadAt(pos_, len, buf_.data()); !s.ok()) return s;
        buf_begin_ = pos_;
      }
      int64_t avail = buf_begin_ + static_cast<int64_t>(buf_.size()) - pos_;
      int64_t take = std::min(avail, n);
      std::memcpy(dst, buf_.data() + (pos_ - buf_begin_), static_cast<size_t>(take));
      dst += take;
      pos_ += take;
      n -= take;
    }
    return absl::OkStatus();
  }
  template <typename T>
  absl::Status ReadLe(T* v) {
    uint8_t b[sizeof(T)];
    if (absl::Status s = Read(b, sizeof(T)); !s.ok()) return s;
    std::memcpy(v, b, sizeof(T));  // little-endian host (x86-64, aarch64)
    return absl::OkStatus();
  }
  absl::Status Skip(int64_t n) {
    if (n < 0 || n > limit_ - pos_) {
      return absl::InvalidArgumentError(
          absl::StrCat("truncated or oversized header: skip ", n, " at offset ", pos_));
    }
    pos_ += n;
    return absl::OkStatus();
  }

 private:
  static constexpr int64_t kBuf = 1 << 16;
  const ByteSource& source_;
  int64_t limit_;
  int64_t pos_ = 0;
  int64_t buf_begin_ = 0;
  std::vector<uint8_t> buf_;
};

}  // namespace datanode::node

#endif  // DATANODE_NODE_IMPORT_PARSE_UTIL_H_
