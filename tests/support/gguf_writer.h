// Copyright 2026 The datanode Authors.
//
// Test support, not product code: writes GGUF v3 files in memory for the tests that need one
// (tests/node/gguf_test.cc and import_test.cc, tests/inference/tokenizer_test.cc, the
// synthetic models of tests/inference/engine_test_util.h). Two levels:
// - GgufBytes appends GGUF's little-endian pieces exactly as told (counts, types, lengths and
//   offsets included), so a test can write a malformed or hostile file byte by byte;
// - GgufWriter makes a well-formed file: typed key-values (counted for the header), tensors
//   (info, offsets and 32-byte aligned data) and Finish().
// Header-only, no dependency on the parser under test: the type ids are GGUF's numbers.
// Not thread-safe (plain values; copy one to branch off variants of a file).
#ifndef DATANODE_TESTS_SUPPORT_GGUF_WRITER_H_
#define DATANODE_TESTS_SUPPORT_GGUF_WRITER_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace datanode::test_support {

// GGUF's byte pieces, appended to `b` as they are given.
struct GgufBytes {
  std::string b;

  // v's bytes (x86-64: little-endian, as GGUF stores them).
  template <typename T>
  GgufBytes& Le(T v) {
    b.append(reinterpret_cast<const char*>(&v), sizeof(T));
    return *this;
  }
  // A GGUF string: u64 length, then the bytes.
  GgufBytes& Str(std::string_view s) {
    Le<uint64_t>(s.size());
    b.append(s);
    return *this;
  }
  // Starts over with "GGUF", the version and the two counts (whatever they are).
  GgufBytes& Header(uint64_t tensors, uint64_t kvs, uint32_t version = 3) {
    b = "GGUF";
    return Le<uint32_t>(version).Le<uint64_t>(tensors).Le<uint64_t>(kvs);
  }
  // A key and its value type (a GGUF type id or an enum of them); the value follows.
  template <typename Type>
  GgufBytes& Key(std::string_view key, Type type) {
    return Str(key).Le<uint32_t>(static_cast<uint32_t>(type));
  }
  // An array key's head (type 9, element type, length); the n elements follow.
  template <typename Type>
  GgufBytes& ArrayOf(std::string_view key, Type elem, uint64_t n) {
    return Key(key, uint32_t{9}).Le<uint32_t>(static_cast<uint32_t>(elem)).Le<uint64_t>(n);
  }
  // A tensor info: name, rank, ne (innermost first, as GGUF stores it), type, data offset.
  GgufBytes& TensorInfo(std::string_view name, const std::vector<uint64_t>& ne, uint32_t type,
                        uint64_t offset) {
    Str(name).Le<uint32_t>(static_cast<uint32_t>(ne.size()));
    for (uint64_t d : ne) Le<uint64_t>(d);
    return Le<uint32_t>(type).Le<uint64_t>(offset);
  }
  // Zero bytes up to a multiple of `align`.
  GgufBytes& Align(size_t align = 32) {
    b.resize((b.size() + align - 1) / align * align, '\0');
    return *this;
  }
  // Aligns, then appends data_bytes bytes of 0x01 (a tensor data section of that size).
  GgufBytes& PadData(size_t data_bytes, size_t align = 32) {
    Align(align);
    b.append(data_bytes, '\x01');
    return *this;
  }
};

// A well-formed GGUF v3 file: key-values in the order added, then tensors.
class GgufWriter {
 public:
  // ggml tensor type ids.
  static constexpr uint32_t kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ8_0 = 8, kQ4_K = 12,
                            kQ6_K = 14;

  GgufWriter& String(std::string_view key, std::string_view value) {
    Kv(key, kTypeString).Str(value);
    return *this;
  }
  GgufWriter& U32(std::string_view key, uint32_t value) {
    Kv(key, kTypeU32).Le<uint32_t>(value);
    return *this;
  }
  GgufWriter& F32(std::string_view key, float value) {
    Kv(key, kTypeF32).Le<float>(value);
    return *this;
  }
  GgufWriter& Bool(std::string_view key, bool value) {
    Kv(key, kTypeBool).Le<uint8_t>(value ? 1 : 0);
    return *this;
  }
  GgufWriter& Strings(std::string_view key, const std::vector<std::string>& values) {
    ++n_kv_;
    kv_.ArrayOf(key, kTypeString, values.size());
    for (const std::string& s : values) kv_.Str(s);
    return *this;
  }
  GgufWriter& I32s(std::string_view key, const std::vector<int32_t>& values) {
    ++n_kv_;
    kv_.ArrayOf(key, kTypeI32, values.size());
    for (int32_t v : values) kv_.Le<int32_t>(v);
    return *this;
  }
  // shape: row-major, outermost first (as the engine sees it); written innermost first.
  // bytes: the tensor's data as the file holds it.
  GgufWriter& Tensor(std::string_view name, uint32_t type, std::vector<int64_t> shape,
                     std::string bytes) {
    tensors_.push_back({std::string(name), type, std::move(shape), std::move(bytes)});
    return *this;
  }

  // The whole file: header, key-values, tensor infos, then each tensor's data 32-byte aligned.
  std::string Finish() const {
    GgufBytes out;
    out.Header(tensors_.size(), n_kv_);
    out.b += kv_.b;
    uint64_t offset = 0;
    for (const TensorData& t : tensors_) {
      std::vector<uint64_t> ne(t.shape.rbegin(), t.shape.rend());
      out.TensorInfo(t.name, ne, t.type, offset);
      offset += (t.bytes.size() + 31) / 32 * 32;
    }
    out.Align();
    for (const TensorData& t : tensors_) {
      out.b += t.bytes;
      out.Align();
    }
    return std::move(out.b);
  }

 private:
  // GGUF metadata value type ids.
  static constexpr uint32_t kTypeU32 = 4, kTypeI32 = 5, kTypeF32 = 6, kTypeBool = 7,
                            kTypeString = 8;
  struct TensorData {
    std::string name;
    uint32_t type;
    std::vector<int64_t> shape;
    std::string bytes;
  };
  GgufBytes& Kv(std::string_view key, uint32_t type) {
    ++n_kv_;
    return kv_.Key(key, type);
  }

  GgufBytes kv_;
  uint64_t n_kv_ = 0;
  std::vector<TensorData> tensors_;
};

}  // namespace datanode::test_support

#endif  // DATANODE_TESTS_SUPPORT_GGUF_WRITER_H_
