// Copyright 2026 The datanode Authors.
#include "node/shim/reject.h"

namespace datanode::shim {

const char* RejectCodeName(RejectCode code) {
  switch (code) {
    case RejectCode::kNone:
      return "NONE";
    case RejectCode::kSysFatal:
      return "SYS_FATAL";
    case RejectCode::kSysTransient:
      return "SYS_TRANSIENT";
    case RejectCode::kDestinationInvalid:
      return "DESTINATION_INVALID";
    case RejectCode::kCanisterReject:
      return "CANISTER_REJECT";
    case RejectCode::kCanisterError:
      return "CANISTER_ERROR";
  }
  return "UNKNOWN_REJECT";
}

RejectCode RejectCodeForStatus(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return RejectCode::kNone;
    // Retrying later may succeed: the daemon is down, busy, slow or restarting.
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kCancelled:
      return RejectCode::kSysTransient;
    // The call's values are wrong: the canister must change them.
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kAlreadyExists:
      return RejectCode::kCanisterReject;
    // The node is broken or misconfigured; the same call will fail the same way.
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kUnimplemented:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
    default:
      return RejectCode::kSysFatal;
  }
}

}  // namespace datanode::shim
