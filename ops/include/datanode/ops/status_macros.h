// Copyright 2026 The datanode Authors.
//
// RETURN_IF_ERROR / ASSIGN_OR_RETURN for absl::Status and absl::StatusOr.
// Written by hand because Debian 12's abseil (20220623) does not ship
// absl/status/status_macros.h.
#ifndef DATANODE_OPS_STATUS_MACROS_H_
#define DATANODE_OPS_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define DN_STATUS_CONCAT_INNER_(a, b) a##b
#define DN_STATUS_CONCAT_(a, b) DN_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status); returns it from the enclosing function if not OK.
#define RETURN_IF_ERROR(expr)                                     \
  do {                                                            \
    if (::absl::Status dn_status_ = (expr); !dn_status_.ok()) {   \
      return dn_status_;                                          \
    }                                                             \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, MakeX());` evaluates a StatusOr, returns its status on
// error, otherwise move-assigns the value to the left-hand side.
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  DN_ASSIGN_OR_RETURN_IMPL_(DN_STATUS_CONCAT_(dn_statusor_, __LINE__), lhs, rexpr)

#define DN_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                              \
  if (!statusor.ok()) {                                 \
    return std::move(statusor).status();                \
  }                                                     \
  lhs = std::move(statusor).value()

#endif  // DATANODE_OPS_STATUS_MACROS_H_
