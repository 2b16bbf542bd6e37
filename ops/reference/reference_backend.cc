// Copyright 2026 The datanode Authors.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "datanode/ops/reference.h"
#include "datanode/ops/status_macros.h"

namespace datanode::ops::reference {

absl::Status Run(const Backend& backend, const OpArgs& args) {
  ByteSpan w;
  ByteSpan w_scale;
  RETURN_IF_ERROR(ResolveRawWeights(backend, args, &w, &w_scale));
  switch (args.kind) {
    case OpKind::kMatMulS8S32:
      MatMulS8S32(args, w);
      return absl::OkStatus();
    case OpKind::kMatMulS8F32:
      MatMulS8F32(args, w, w_scale);
      return absl::OkStatus();
    case OpKind::kMatMulQ8_0Q8_0:
    case OpKind::kMatMulQ8_0Q4_0:
    case OpKind::kMatMulQ8_0Q4_1:
    case OpKind::kMatMulQ8_0Q4_K:
    case OpKind::kMatMulQ8_0Q6_K:
      MatMulQ8_0(args, w);
      return absl::OkStatus();
    case OpKind::kQuantizeS8Row:
      QuantizeS8Row(args);
      return absl::OkStatus();
    case OpKind::kQuantizeQ8_0:
      QuantizeQ8_0(args);
      return absl::OkStatus();
  }
  return absl::UnimplementedError(
      absl::StrCat("reference: unknown op kind ", static_cast<int>(args.kind)));
}

namespace {

class ReferenceBackend final : public Backend {
 public:
  const char* Name() const override { return "reference"; }
  std::string Description() const override {
    return absl::StrCat("scalar reference, spec v", kSpecVersion);
  }
  bool Supports(OpKind) const override { return true; }
  absl::Status Run(const OpArgs& args) override { return reference::Run(*this, args); }
};

}  // namespace

std::unique_ptr<Backend> CreateReferenceBackend() { return std::make_unique<ReferenceBackend>(); }

}  // namespace datanode::ops::reference
