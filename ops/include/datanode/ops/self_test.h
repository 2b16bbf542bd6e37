// Copyright 2026 The datanode Authors.
//
// The start-up golden self-test: every op a backend supports is run on fixed seeded
// inputs (odd shapes, block boundaries, extreme values) and its output compared byte
// for byte with the reference backend's. CreateBackend() refuses a backend that
// fails; the daemon and the admission test report the result.
#ifndef DATANODE_OPS_SELF_TEST_H_
#define DATANODE_OPS_SELF_TEST_H_

#include "absl/status/status.h"
#include "datanode/ops/backend.h"

namespace datanode::ops {

// OK, or FAILED_PRECONDITION naming the op, shape and seed of the first mismatch
// (or the backend's own error). Takes well under a second on the reference.
absl::Status RunGoldenSelfTest(Backend& backend);

}  // namespace datanode::ops

#endif  // DATANODE_OPS_SELF_TEST_H_
