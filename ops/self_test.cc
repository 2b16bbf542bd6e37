// Copyright 2026 The datanode Authors.
#include "datanode/ops/self_test.h"

#include "absl/strings/str_cat.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/reference.h"
#include "datanode/ops/status_macros.h"

namespace datanode::ops {
namespace {

struct Case {
  int64_t m, n, k;
  InputProfile profile;
};

constexpr Case kMatMulCases[] = {
    {1, 1, 32, InputProfile::kExtreme},   {3, 17, 64, InputProfile::kWide},
    {7, 33, 96, InputProfile::kRealistic}, {16, 64, 256, InputProfile::kExtreme},
    {5, 129, 160, InputProfile::kWide},
};
constexpr Case kQuantizeCases[] = {
    {1, 0, 32, InputProfile::kExtreme}, {5, 0, 96, InputProfile::kWide},
    {3, 0, 64, InputProfile::kRealistic},
};

}  // namespace

absl::Status RunGoldenSelfTest(Backend& backend) {
  std::unique_ptr<Backend> reference = reference::CreateReferenceBackend();
  uint64_t seed = 0x5e1f7e57;
  for (OpKind kind : kAllOpKinds) {
    if (!backend.Supports(kind)) continue;
    const auto cases = IsMatMul(kind) ? std::span<const Case>(kMatMulCases)
                                      : std::span<const Case>(kQuantizeCases);
    // K rounded up to the op's block (256 for the K-quants; the other ops take every case).
    const int64_t unit = FindOpInfo(kind)->k_multiple;
    for (const Case& c : cases) {
      ++seed;
      const int64_t k = (c.k + unit - 1) / unit * unit;
      ASSIGN_OR_RETURN(OpInputs expected, MakeRandomInputs(kind, c.m, c.n, k, seed, c.profile));
      OpInputs actual = expected;
      RETURN_IF_ERROR(RunOp(*reference, expected.Args()));
      if (absl::Status st = RunOp(backend, actual.Args()); !st.ok()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "self-test of backend ", backend.Name(), " failed on ", OpKindName(kind), " [", c.m,
            ",", c.n, ",", k, "] seed ", seed, ": ", st.message()));
      }
      if (actual.out != expected.out || actual.out_scale != expected.out_scale) {
        return absl::FailedPreconditionError(absl::StrCat(
            "self-test of backend ", backend.Name(), ": ", OpKindName(kind), " [", c.m, ",", c.n,
            ",", k, "] seed ", seed, " differs from the reference"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace datanode::ops
