// Copyright 2026 The datanode Authors.
//
// Minimal .npy (NumPy format 1.0 / 2.0) reading and writing for dnctl: C-order
// little-endian arrays of int8, uint8, int32 and float32 only.
#ifndef DATANODE_NODE_CLI_NPY_H_
#define DATANODE_NODE_CLI_NPY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace datanode::node {

struct NpyArray {
  std::string descr;  // "<i1"/"|i1", "|u1", "<i4", "<f4"
  std::vector<int64_t> shape;
  std::string data;  // raw bytes
};

absl::StatusOr<NpyArray> ReadNpy(const std::string& path);
absl::Status WriteNpy(const std::string& path, const NpyArray& array);

}  // namespace datanode::node

#endif  // DATANODE_NODE_CLI_NPY_H_
