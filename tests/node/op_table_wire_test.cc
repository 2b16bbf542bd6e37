// Copyright 2026 The datanode Authors.
//
// The op table (ops::kOpTable) is the one list of ops; every other place that names ops
// derives from it or is checked here: the proto enum of the wire API, the stored dtype a
// matmul's weights must have, and the price that the daemon reports and the shim charges.
// (The Candid variant in datanode.did is checked against the shim's types, which derive
// from the table, by tests/shim/candid_crosscheck.py.)
#include <string>

#include "absl/strings/ascii.h"
#include "datanode/ops/types.h"
#include "datanode/v1/accelerator.pb.h"
#include "gtest/gtest.h"
#include "node/daemon/node_service.h"
#include "node/import/model.h"
#include "node/shim/pricing.h"

namespace datanode::node {
namespace {

TEST(OpTableWire, ProtoEnumIsTheTablesMatmulRows) {
  for (const ops::OpInfo& info : ops::kOpTable) {
    const int value = static_cast<int>(info.kind);
    if (!info.is_matmul) {
      EXPECT_FALSE(v1::OpKind_IsValid(value)) << info.name << " is not served, yet in the proto";
      continue;
    }
    ASSERT_TRUE(v1::OpKind_IsValid(value)) << info.name << " is missing from the proto enum";
    EXPECT_EQ(v1::OpKind_Name(static_cast<v1::OpKind>(value)),
              "OP_KIND_" + absl::AsciiStrToUpper(info.name));
  }
  const google::protobuf::EnumDescriptor* proto = v1::OpKind_descriptor();
  for (int i = 0; i < proto->value_count(); ++i) {
    const int value = proto->value(i)->number();
    if (value == v1::OP_KIND_UNSPECIFIED) continue;
    EXPECT_TRUE(ops::IsMatMul(static_cast<ops::OpKind>(value)))
        << proto->value(i)->name() << " = " << value << " is not a matmul row of the op table";
  }
}

TEST(OpTableWire, WeightDtypeSizesAgreeWithTheTable) {
  for (ops::OpKind kind : ops::kMatMulOpKinds) {
    const ops::OpInfo& info = *ops::FindOpInfo(kind);
    absl::StatusOr<TensorDtype> dtype = TensorDtypeFromName(info.w_dtype);
    ASSERT_TRUE(dtype.ok()) << info.name << ": the store knows no dtype " << info.w_dtype;
    const int64_t n = 3;
    const int64_t k = 2 * info.k_multiple;
    absl::StatusOr<int64_t> stored = TensorBytes(*dtype, {n, k});
    absl::StatusOr<ops::OperandSizes> sizes = ops::ComputeOperandSizes(kind, 1, n, k);
    ASSERT_TRUE(stored.ok() && sizes.ok()) << info.name;
    EXPECT_EQ(*stored, sizes->w) << info.name << ": the store and the op disagree on |W|";
  }
}

TEST(OpTableWire, DaemonAndShimPriceTheSameCall) {
  for (ops::OpKind kind : ops::kMatMulOpKinds) {
    const ops::OpInfo& info = *ops::FindOpInfo(kind);
    const uint32_t m = 5, n = 7, k = static_cast<uint32_t>(3 * info.k_multiple);
    absl::StatusOr<uint64_t> daemon = MatMulCycles(kind, m, n, k);
    ASSERT_TRUE(daemon.ok()) << info.name << ": " << daemon.status();
    const uint64_t subnet = 13, arg_bytes = 1000;
    absl::StatusOr<shim::PriceTerms> terms = shim::MatMulPriceTerms(subnet, kind, m, n, k, arg_bytes);
    ASSERT_TRUE(terms.ok()) << info.name;
    // The canister pays the consensus and byte terms plus every node's compute share,
    // which is exactly what each daemon reports for the call.
    const absl::uint128 expected =
        (absl::uint128(3'000'000) + 60'000 * subnet) * subnet +
        (absl::uint128(400) * arg_bytes + absl::uint128(800) * m * n * 4 + *daemon) * subnet;
    EXPECT_EQ(shim::Price(*terms), expected) << info.name;
  }
}

}  // namespace
}  // namespace datanode::node
