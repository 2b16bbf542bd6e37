// Copyright 2026 The datanode Authors.
#include "node/daemon/admission_memory.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "datanode/ops/status_macros.h"
#include "datanode/ops/types.h"
#include "device_classes/device_class_loader.h"

namespace datanode::node {

absl::StatusOr<MemoryBudget::Reservation> ReserveForAdmission(MemoryBudget& budget,
                                                              const AdmissionRequest& r) {
  if (r.class_text.empty()) return MemoryBudget::Reservation();
  ASSIGN_OR_RETURN(device_classes::LoadedClass loaded,
                   device_classes::ParseClassText(r.class_text, "class_text"));
  const v1::DeviceClass& c = loaded.device_class;
  int64_t bytes = 0;
  if (c.has_compute()) {
    const auto& s = c.compute().canonical_shape();
    ASSIGN_OR_RETURN(ops::OperandSizes sz,
                     ops::ComputeOperandSizes(ops::OpKind::kMatMulS8S32, s.m(), s.n(), s.k()));
    bytes += 6 * (sz.a + sz.w + sz.out) + 3 * sz.out;
  }
  const v1::ProfileSettings& p = r.profile == "full" ? c.full() : c.quick();
  // Capped at 2^40 MiB so the sum cannot overflow; anything near it is refused anyway.
  bytes += static_cast<int64_t>(std::min<uint64_t>(p.memory_test_mib(), uint64_t{1} << 40)) << 20;
  return budget.Reserve(bytes, absl::StrCat("the admission test of class '", c.name(), "'"));
}

}  // namespace datanode::node
