// Copyright 2026 The datanode Authors.
//
// The shim's limits and reject fee: a reply over max_reply_bytes is refused
// before the daemon is called, the reply size is known exactly from the shape, and a
// rejected accel_matmul the caller got wrong pays RejectFee (never more than attached),
// while node-side rejects and queries pay nothing. The daemon is a fake that counts calls.
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "datanode/ops/digest.h"
#include "gtest/gtest.h"
#include "node/shim/interface.h"
#include "node/shim/pricing.h"
#include "node/shim/shim.h"

namespace datanode::shim {
namespace {

// Answers every MatMul with `status` or, when OK, an all-zero output of the right size.
class FakeDaemon final : public DaemonClient {
 public:
  explicit FakeDaemon(absl::Status status, std::atomic<int>* calls)
      : status_(std::move(status)), calls_(calls) {}
  absl::StatusOr<DaemonMatMulResult> MatMul(const MatMulArgs& args) override {
    ++*calls_;
    if (!status_.ok()) return status_;
    DaemonMatMulResult r;
    r.out.assign(size_t{args.m} * args.n * 4, 0);
    r.output_digest_hex = ops::ToHex(ops::Sha256Of({r.out}));
    r.spec_version = ops::kSpecVersion;
    return r;
  }
  absl::StatusOr<std::vector<ModelInfo>> ListModels(
      const std::optional<std::vector<uint8_t>>&) override {
    ++*calls_;
    return status_;
  }

 private:
  absl::Status status_;
  std::atomic<int>* calls_;
};

MatMulArgs Args(uint32_t m, uint32_t n, uint32_t k) {
  MatMulArgs a;
  a.op = ops::OpKind::kMatMulS8S32;
  a.m = m;
  a.n = n;
  a.k = k;
  a.weights = {std::vector<uint8_t>(32, 1), "w"};
  a.a = std::vector<uint8_t>(size_t{m} * k, 1);
  return a;
}

constexpr uint64_t kPlenty = uint64_t{1} << 60;
constexpr uint32_t kSubnet = 13;

struct Fixture {
  explicit Fixture(absl::Status daemon_status = absl::OkStatus(), size_t max_reply = 2 << 20) {
    ShimConfig c;
    c.subnet_size = kSubnet;
    c.max_reply_bytes = max_reply;
    shim = std::make_unique<Shim>(c, std::make_unique<FakeDaemon>(daemon_status, &calls));
  }
  std::atomic<int> calls{0};
  std::unique_ptr<Shim> shim;
};

absl::uint128 PriceOf(const MatMulArgs& a, size_t arg_bytes) {
  auto t = MatMulPriceTerms(kSubnet, a.op, a.m, a.n, a.k, arg_bytes);
  EXPECT_TRUE(t.ok()) << t.status();
  return Price(*t);
}

TEST(ShimLimits, ReplyBytesIsExact) {
  for (uint64_t out :
       {0ull, 1ull, 127ull, 128ull, 16383ull, 16384ull, 2097151ull, 2097152ull, 4000004ull}) {
    for (absl::uint128 cycles :
         {absl::uint128(0), absl::uint128(127), absl::uint128(kPlenty), absl::MakeUint128(1, 0)}) {
      MatMulReply r;
      r.out.assign(out, 7);
      r.out_digest.assign(32, 1);
      r.spec_version = ops::kSpecVersion;
      r.cycles_charged = cycles;
      EXPECT_EQ(MatMulReplyBytes(r, out), EncodeMatMulReply(r).size()) << "out " << out;
    }
  }
}

TEST(ShimLimits, OversizedReplyIsRefusedBeforeTheDaemon) {
  Fixture f;  // max_reply_bytes = 2 MiB
  const std::vector<uint8_t> arg = EncodeMatMulArgs(Args(1024, 1024, 1));  // 4 MiB output
  const Outcome o = f.shim->Call(kMethodMatMul, arg, kPlenty);
  EXPECT_EQ(o.code, RejectCode::kCanisterReject) << o.message;
  EXPECT_NE(o.message.find("would exceed the limit"), std::string::npos) << o.message;
  EXPECT_EQ(f.calls.load(), 0) << "the daemon must not compute a reply that cannot be sent";
  EXPECT_EQ(o.cycles_charged, RejectFee(kSubnet, arg.size()));
}

TEST(ShimLimits, ReplyExactlyAtTheLimitIsServed) {
  const MatMulArgs a = Args(16, 64, 8);
  const std::vector<uint8_t> arg = EncodeMatMulArgs(a);
  MatMulReply sized;
  sized.out_digest.resize(32);
  sized.spec_version = ops::kSpecVersion;
  sized.cycles_charged = PriceOf(a, arg.size());
  const uint64_t limit = MatMulReplyBytes(sized, uint64_t{16} * 64 * 4);
  {
    Fixture f(absl::OkStatus(), limit);
    const Outcome o = f.shim->Call(kMethodMatMul, arg, kPlenty);
    EXPECT_EQ(o.code, RejectCode::kNone) << o.message;
    EXPECT_EQ(o.reply.size(), limit);
    EXPECT_EQ(o.cycles_charged, PriceOf(a, arg.size()));
    EXPECT_EQ(f.calls.load(), 1);
  }
  {
    Fixture f(absl::OkStatus(), limit - 1);
    const Outcome o = f.shim->Call(kMethodMatMul, arg, kPlenty);
    EXPECT_EQ(o.code, RejectCode::kCanisterReject) << o.message;
    EXPECT_EQ(f.calls.load(), 0);
  }
}

TEST(ShimLimits, RejectFeeIsThePriceOfACallThatComputedNothing) {
  // (3_000_000 + 60_000 * 13) * 13 + 400 * 700 * 13 = 49_140_000 + 3_640_000.
  EXPECT_EQ(RejectFee(13, 700), absl::uint128(52'780'000));
  PriceTerms t;
  t.subnet_size = 34;
  t.arg_bytes = 123'456;
  EXPECT_EQ(RejectFee(34, 123'456), Price(t));
  // Always below the price of the same call had it run.
  const MatMulArgs a = Args(1, 1, 1);
  EXPECT_LT(RejectFee(kSubnet, 100), PriceOf(a, 100));
}

TEST(ShimLimits, CallerFaultRejectsPayTheFee) {
  MatMulArgs minus128 = Args(2, 3, 8);
  minus128.a[5] = 0x80;
  const std::vector<uint8_t> bad_values = EncodeMatMulArgs(minus128);
  const std::vector<uint8_t> valid = EncodeMatMulArgs(Args(2, 3, 8));
  const std::vector<uint8_t> garbage = {'D', 'I', 'D', 'L', 0xff};
  {
    Fixture f;
    const Outcome o = f.shim->Call(kMethodMatMul, bad_values, kPlenty);
    EXPECT_EQ(o.code, RejectCode::kCanisterReject) << o.message;
    EXPECT_EQ(o.cycles_charged, RejectFee(kSubnet, bad_values.size()));
    EXPECT_NE(o.message.find("reject fee"), std::string::npos) << o.message;
    EXPECT_EQ(f.calls.load(), 0);
  }
  {
    Fixture f;
    const Outcome o = f.shim->Call(kMethodMatMul, garbage, kPlenty);
    EXPECT_EQ(o.code, RejectCode::kCanisterError) << o.message;
    EXPECT_EQ(o.cycles_charged, RejectFee(kSubnet, garbage.size()));
  }
  {
    // Too few cycles: the fee, but never more than was attached.
    Fixture f;
    const Outcome o = f.shim->Call(kMethodMatMul, valid, 1000);
    EXPECT_EQ(o.code, RejectCode::kCanisterReject) << o.message;
    EXPECT_EQ(o.cycles_charged, absl::uint128(1000));
    const absl::uint128 fee = RejectFee(kSubnet, valid.size());
    const Outcome o2 = f.shim->Call(kMethodMatMul, valid, PriceOf(Args(2, 3, 8), valid.size()) - 1);
    EXPECT_EQ(o2.code, RejectCode::kCanisterReject) << o2.message;
    EXPECT_EQ(o2.cycles_charged, fee);
  }
  {
    // The daemon refuses (unknown tensor): the caller's fault, after the node's work.
    Fixture f(absl::NotFoundError("model has no tensor 'w'"));
    const Outcome o = f.shim->Call(kMethodMatMul, valid, kPlenty);
    EXPECT_EQ(o.code, RejectCode::kCanisterReject) << o.message;
    EXPECT_EQ(o.cycles_charged, RejectFee(kSubnet, valid.size()));
    EXPECT_EQ(f.calls.load(), 1);
  }
}

TEST(ShimLimits, NodeFaultRejectsAndQueriesAreFree) {
  const std::vector<uint8_t> valid = EncodeMatMulArgs(Args(2, 3, 8));
  for (const absl::Status& s : {absl::UnavailableError("down"), absl::DataLossError("corrupt"),
                                absl::ResourceExhaustedError("busy")}) {
    Fixture f(s);
    const Outcome o = f.shim->Call(kMethodMatMul, valid, kPlenty);
    EXPECT_NE(o.code, RejectCode::kNone);
    EXPECT_NE(o.code, RejectCode::kCanisterReject);
    EXPECT_EQ(o.cycles_charged, absl::uint128(0)) << s;
  }
  Fixture f;
  const Outcome unknown = f.shim->Call("accel_train", valid, kPlenty);
  EXPECT_EQ(unknown.code, RejectCode::kDestinationInvalid);
  EXPECT_EQ(unknown.cycles_charged, absl::uint128(0));
  const Outcome price = f.shim->Call(kMethodPrice, {valid.data(), 3}, kPlenty);
  EXPECT_EQ(price.code, RejectCode::kCanisterError);
  EXPECT_EQ(price.cycles_charged, absl::uint128(0)) << "queries are free, even rejected";
}

}  // namespace
}  // namespace datanode::shim
