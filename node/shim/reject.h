// Copyright 2026 The datanode Authors.
//
// IC reject codes and the one mapping from absl / gRPC status codes to them. The
// mapping follows retry semantics (see datanode.did and docs/canister-api.md):
//   SYS_TRANSIENT    UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, CANCELLED
//   CANISTER_REJECT  INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, OUT_OF_RANGE,
//                    ALREADY_EXISTS
//   SYS_FATAL        DATA_LOSS, INTERNAL, UNKNOWN, UNIMPLEMENTED, PERMISSION_DENIED,
//                    UNAUTHENTICATED
// CANISTER_ERROR (malformed Candid) and DESTINATION_INVALID (unknown method) are
// decided by the shim itself, never derived from a daemon status.
#ifndef DATANODE_NODE_SHIM_REJECT_H_
#define DATANODE_NODE_SHIM_REJECT_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace datanode::shim {

enum class RejectCode : uint32_t {
  kNone = 0,  // not a reject: a reply
  kSysFatal = 1,
  kSysTransient = 2,
  kDestinationInvalid = 3,
  kCanisterReject = 4,
  kCanisterError = 5,
};

const char* RejectCodeName(RejectCode code);  // "SYS_FATAL", ...

// The reject code for a non-OK status from the daemon or the shim's own validation.
// kNone only for OK.
RejectCode RejectCodeForStatus(absl::StatusCode code);

}  // namespace datanode::shim

#endif  // DATANODE_NODE_SHIM_REJECT_H_
