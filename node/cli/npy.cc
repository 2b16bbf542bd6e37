// Copyright 2026 The datanode Authors.
#include "node/cli/npy.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace datanode::node {
namespace {

int64_t ItemSize(const std::string& descr) {
  if (descr == "|i1" || descr == "<i1" || descr == "|u1" || descr == "<u1") return 1;
  if (descr == "<i4" || descr == "<f4") return 4;
  return -1;
}

// Value of 'key' in the header dict, up to the next ',' or ')' as written by numpy.
std::string DictValue(const std::string& header, const std::string& key) {
  size_t p = header.find("'" + key + "'");
  if (p == std::string::npos) return "";
  p = header.find(':', p);
  if (p == std::string::npos) return "";
  ++p;
  while (p < header.size() && header[p] == ' ') ++p;
  if (p < header.size() && header[p] == '(')
    return header.substr(p + 1, header.find(')', p) - p - 1);
  size_t end = header.find_first_of(",}", p);
  std::string v = header.substr(p, end - p);
  if (!v.empty() && v.front() == '\'') v = v.substr(1, v.size() - 2);
  return v;
}

}  // namespace

absl::StatusOr<NpyArray> ReadNpy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << f.rdbuf();
  std::string bytes = ss.str();
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a .npy file"));
  }
  int major = static_cast<uint8_t>(bytes[6]);
  size_t header_len, header_start;
  if (major == 1) {
    header_len = static_cast<uint8_t>(bytes[8]) | (static_cast<uint8_t>(bytes[9]) << 8);
    header_start = 10;
  } else {
    if (bytes.size() < 12) return absl::InvalidArgumentError("truncated .npy");
    header_len = static_cast<uint32_t>(
        static_cast<uint8_t>(bytes[8]) | (static_cast<uint8_t>(bytes[9]) << 8) |
        (static_cast<uint8_t>(bytes[10]) << 16) |
        (static_cast<uint32_t>(static_cast<uint8_t>(bytes[11])) << 24));
    header_start = 12;
  }
  if (header_start + header_len > bytes.size())
    return absl::InvalidArgumentError("truncated .npy header");
  std::string header = bytes.substr(header_start, header_len);
  NpyArray a;
  a.descr = DictValue(header, "descr");
  if (ItemSize(a.descr) < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": unsupported dtype ", a.descr, " (int8, uint8, int32, float32)"));
  }
  if (DictValue(header, "fortran_order") != "False")
    return absl::InvalidArgumentError("Fortran-order .npy");
  int64_t count = 1;
  std::stringstream shape(DictValue(header, "shape"));
  std::string dim;
  while (std::getline(shape, dim, ',')) {
    if (dim.find_first_not_of(' ') == std::string::npos) continue;
    int64_t d = 0;
    // Bounded so that the element count cannot overflow (2^40 elements at most).
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(dim), &d) || d < 0 || d > (int64_t{1} << 40) ||
        (d > 0 && count > (int64_t{1} << 40) / d)) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": bad shape entry '", dim, "'"));
    }
    a.shape.push_back(d);
    count *= d;
  }
  a.data = bytes.substr(header_start + header_len);
  if (static_cast<int64_t>(a.data.size()) != count * ItemSize(a.descr)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": data size does not match shape"));
  }
  return a;
}

absl::Status WriteNpy(const std::string& path, const NpyArray& a) {
  std::string shape = absl::StrJoin(a.shape, ", ");
  if (a.shape.size() == 1) shape += ",";
  std::string header =
      absl::StrCat("{'descr': '", a.descr, "', 'fortran_order': False, 'shape': (", shape, "), }");
  while ((10 + header.size() + 1) % 64 != 0) header.push_back(' ');
  header.push_back('\n');
  std::string out = "\x93NUMPY\x01";
  out.push_back('\0');
  out.push_back(static_cast<char>(header.size() & 0xff));
  out.push_back(static_cast<char>(header.size() >> 8));
  out += header;
  out += a.data;
  std::ofstream f(path, std::ios::binary);
  f.write(out.data(), static_cast<std::streamsize>(out.size()));
  if (!f) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace datanode::node
