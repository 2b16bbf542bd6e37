// Copyright 2026 The datanode Authors.
//
// The memory an admission run of a class sent as text (AdmissionRequest::class_text)
// allocates at once, reserved from the daemon's memory budget for the whole run so a
// caller's class cannot make the node allocate beyond it: the performance phase's A, W
// and C of the class's canonical shape for three inputs (fresh, repeated, warm-up), each
// on the host and as resident buffers, plus three more C (read-back, poison, first
// repeat), and the profile's memory test. Class files from the operator's directories
// (class_name) are trusted and not sized. Thread-safe (MemoryBudget is).
#ifndef DATANODE_NODE_DAEMON_ADMISSION_MEMORY_H_
#define DATANODE_NODE_DAEMON_ADMISSION_MEMORY_H_

#include "absl/status/statusor.h"
#include "node/daemon/admission.h"
#include "node/daemon/caller_limits.h"

namespace datanode::node {

// An empty reservation for a class_name request. INVALID_ARGUMENT for a class text that
// does not parse (as the run itself would say); RESOURCE_EXHAUSTED at once when the run
// does not fit the budget now.
absl::StatusOr<MemoryBudget::Reservation> ReserveForAdmission(MemoryBudget& budget,
                                                              const AdmissionRequest& r);

}  // namespace datanode::node

#endif  // DATANODE_NODE_DAEMON_ADMISSION_MEMORY_H_
