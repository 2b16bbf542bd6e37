// Copyright 2026 The datanode Authors.
//
// The C ABI as a replica uses it, without a daemon: every documented reject for
// malformed Candid, wrong types, oversized arguments, bad values, too few cycles, an
// unknown method, no data node configured, and an absent daemon. (The same ABI against
// real daemons: subnet_sim.)
#include "ic0_accel.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "node/shim/interface.h"
#include "node/shim/pricing.h"

namespace datanode::shim {
namespace {

struct Handle {
  explicit Handle(const char* address, uint64_t max_arg = 0) {
    ic0_accel_config c{};
    c.abi_version = IC0_ACCEL_ABI_VERSION;
    c.daemon_address = address;
    c.subnet_size = 13;
    c.timeout_ms = 2000;
    c.max_arg_bytes = max_arg;
    char err[256];
    EXPECT_EQ(ic0_accel_create(&c, &h, err, sizeof err), 0) << err;
  }
  ~Handle() { ic0_accel_destroy(h); }
  ic0_accel* h = nullptr;
};

struct Result {
  ~Result() { ic0_accel_result_free(&r); }
  std::string text() const { return std::string(reinterpret_cast<char*>(r.data), r.data_len); }
  ic0_accel_result r{};
};

uint32_t Call(const Handle& h, const std::string& method, const std::vector<uint8_t>& arg,
              uint64_t cycles, Result* out) {
  return ic0_accel_call(h.h, method.data(), method.size(), arg.data(), arg.size(), cycles, 0,
                        &out->r);
}

MatMulArgs Valid() {
  MatMulArgs a;
  a.op = ops::OpKind::kMatMulS8S32;
  a.m = 2;
  a.n = 3;
  a.k = 8;
  a.weights = {std::vector<uint8_t>(32, 1), "w"};
  a.a = std::vector<uint8_t>(16, 5);
  return a;
}

constexpr uint64_t kPlenty = uint64_t{1} << 60;

TEST(Ic0Accel, CreateRejectsBadConfig) {
  ic0_accel_config c{};
  c.abi_version = 99;
  c.subnet_size = 13;
  ic0_accel* h = nullptr;
  char err[128];
  EXPECT_EQ(ic0_accel_create(&c, &h, err, sizeof err), -1);
  EXPECT_EQ(h, nullptr);
  EXPECT_NE(std::string(err).find("abi_version"), std::string::npos);
  c.abi_version = IC0_ACCEL_ABI_VERSION;
  c.subnet_size = 0;
  EXPECT_EQ(ic0_accel_create(&c, &h, err, sizeof err), -1);
}

TEST(Ic0Accel, PriceNeedsNoDaemonAndMatchesTheFormula) {
  Handle h(nullptr);
  PriceArgs p{ops::OpKind::kMatMulQ8_0Q4_0, 16, 576, 1536, 30000, {}};
  Result r;
  ASSERT_EQ(Call(h, "accel_price", EncodePriceArgs(p), 0, &r), IC0_ACCEL_REPLY) << r.text();
  auto reply = DecodePriceReply({r.r.data, r.r.data_len});
  ASSERT_TRUE(reply.ok()) << reply.status();
  auto terms = MatMulPriceTerms(13, p.op, p.m, p.n, p.k, p.arg_bytes);
  ASSERT_TRUE(terms.ok());
  EXPECT_EQ(reply->cycles, Price(*terms));
  EXPECT_EQ(r.r.cycles_charged_low, 0u);  // price queries are free
}

TEST(Ic0Accel, DocumentedRejects) {
  Handle none(nullptr);
  Handle small("unix:/nonexistent/socket", 1024);
  const std::vector<uint8_t> valid = EncodeMatMulArgs(Valid());
  struct Case {
    const char* name;
    const Handle* h;
    std::string method;
    std::vector<uint8_t> arg;
    uint64_t cycles;
    uint32_t code;
    const char* needle;
  };
  std::vector<uint8_t> truncated(valid.begin(), valid.begin() + valid.size() / 2);
  MatMulArgs bad_shape = Valid();
  bad_shape.k = 9;  // a has 16 bytes, [2, 9] needs 18
  MatMulArgs minus128 = Valid();
  minus128.a[3] = 0x80;
  MatMulArgs short_digest = Valid();
  short_digest.weights.model.resize(31);
  MatMulArgs scales = Valid();
  scales.a_scale = std::vector<uint8_t>(8, 0);
  MatMulArgs huge = Valid();
  huge.a.resize(4096);
  const Case cases[] = {
      {"not Candid",
       &none,
       "accel_matmul",
       {1, 2, 3},
       kPlenty,
       IC0_ACCEL_CANISTER_ERROR,
       "invalid Candid"},
      {"truncated", &none, "accel_matmul", truncated, kPlenty, IC0_ACCEL_CANISTER_ERROR,
       "invalid Candid"},
      {"wrong type", &none, "accel_matmul", EncodePriceArgs({}), kPlenty, IC0_ACCEL_CANISTER_ERROR,
       "missing"},
      {"oversized", &small, "accel_matmul", EncodeMatMulArgs(huge), kPlenty,
       IC0_ACCEL_CANISTER_ERROR, "exceeds the limit"},
      {"bad shape", &none, "accel_matmul", EncodeMatMulArgs(bad_shape), kPlenty,
       IC0_ACCEL_CANISTER_REJECT, "needs 18"},
      {"-128", &none, "accel_matmul", EncodeMatMulArgs(minus128), kPlenty,
       IC0_ACCEL_CANISTER_REJECT, "-128"},
      {"digest size", &none, "accel_matmul", EncodeMatMulArgs(short_digest), kPlenty,
       IC0_ACCEL_CANISTER_REJECT, "32-byte"},
      {"stray scale", &none, "accel_matmul", EncodeMatMulArgs(scales), kPlenty,
       IC0_ACCEL_CANISTER_REJECT, "a_scale"},
      {"too few cycles", &none, "accel_matmul", valid, 1000, IC0_ACCEL_CANISTER_REJECT,
       "cycles are required"},
      {"unknown method", &none, "accel_train", valid, kPlenty, IC0_ACCEL_DESTINATION_INVALID,
       "accel_train"},
      {"no data node", &none, "accel_matmul", valid, kPlenty, IC0_ACCEL_DESTINATION_INVALID,
       "no data node"},
      {"no data node (list)", &none, "accel_list_models", EncodeListModelsArgs({}), 0,
       IC0_ACCEL_DESTINATION_INVALID, "no data node"},
      {"daemon absent", &small, "accel_matmul", valid, kPlenty, IC0_ACCEL_SYS_TRANSIENT,
       "unavailable"},
  };
  for (const Case& c : cases) {
    Result r;
    const auto start = std::chrono::steady_clock::now();
    const uint32_t code = Call(*c.h, c.method, c.arg, c.cycles, &r);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    EXPECT_EQ(code, c.code) << c.name << ": " << r.text();
    EXPECT_EQ(r.r.reject_code, c.code) << c.name;
    EXPECT_NE(r.text().find(c.needle), std::string::npos) << c.name << ": " << r.text();
    EXPECT_EQ(r.r.data[r.r.data_len], 0) << c.name << ": message is NUL-terminated";
    // A rejected accel_matmul the caller got wrong pays the reject fee (at most what
    // was attached); every other reject is free.
    uint64_t fee = 0;
    if (c.method == "accel_matmul" &&
        (c.code == IC0_ACCEL_CANISTER_REJECT || c.code == IC0_ACCEL_CANISTER_ERROR)) {
      fee = absl::Uint128Low64(std::min(RejectFee(13, c.arg.size()), absl::uint128(c.cycles)));
    }
    EXPECT_EQ(r.r.cycles_charged_low, fee) << c.name;
    EXPECT_EQ(r.r.cycles_charged_high, 0u) << c.name;
    EXPECT_LT(ms, 2000) << c.name << ": a reject must not wait for the timeout";
  }
}

TEST(Ic0Accel, NullArgumentsAndFreeAreSafe) {
  Result r;
  EXPECT_EQ(ic0_accel_call(nullptr, "accel_price", 11, nullptr, 0, 0, 0, &r.r),
            IC0_ACCEL_SYS_FATAL);
  EXPECT_EQ(ic0_accel_call(nullptr, "x", 1, nullptr, 0, 0, 0, nullptr), IC0_ACCEL_SYS_FATAL);
  ic0_accel_result_free(&r.r);
  ic0_accel_result_free(&r.r);  // a freed result is zeroed: freeing again is a no-op
  ic0_accel_result_free(nullptr);
  ic0_accel_destroy(nullptr);
}

TEST(Ic0Accel, SharesThroughTheAbi) {
  uint8_t seed[32] = {7};
  uint8_t req[32], res[32], pk[32], sig[64];
  const std::vector<uint8_t> arg = {'D', 'I', 'D', 'L'};
  ic0_accel_request_digest("accel_matmul", 12, arg.data(), arg.size(), 42, req);
  Result r;
  Handle none(nullptr);
  Call(none, "accel_price", EncodePriceArgs({ops::OpKind::kMatMulS8S32, 1, 1, 1, 1, {}}), 0, &r);
  ic0_accel_result_digest(&r.r, res);
  ASSERT_EQ(ic0_accel_sign_share(seed, req, res, pk, sig), 0);
  EXPECT_EQ(ic0_accel_verify_share(pk, req, res, sig), 1);
  res[0] ^= 1;
  EXPECT_EQ(ic0_accel_verify_share(pk, req, res, sig), 0);
}

// Verified mode's entry points without a daemon (with real daemons: verified_call_test).
TEST(Ic0Accel, VerifiedModeWithoutADaemon) {
  // A replica built against ABI 2 (same config layout) still creates handles.
  ic0_accel_config c{};
  c.abi_version = 2;
  c.subnet_size = 13;
  ic0_accel* old = nullptr;
  ASSERT_EQ(ic0_accel_create(&c, &old, nullptr, 0), 0);
  ic0_accel_destroy(old);

  Handle none(nullptr);
  MatMulArgs v = Valid();
  v.mode = CallMode::kVerified;
  const std::vector<uint8_t> arg = EncodeMatMulArgs(v);
  EXPECT_EQ(ic0_accel_call_mode(none.h, "accel_matmul", 12, arg.data(), arg.size()),
            static_cast<uint32_t>(IC0_ACCEL_MODE_VERIFIED));
  const std::vector<uint8_t> plain = EncodeMatMulArgs(Valid());
  EXPECT_EQ(ic0_accel_call_mode(none.h, "accel_matmul", 12, plain.data(), plain.size()),
            static_cast<uint32_t>(IC0_ACCEL_MODE_REPLICATED));
  EXPECT_EQ(ic0_accel_call_mode(none.h, "accel_price", 11, arg.data(), arg.size()),
            static_cast<uint32_t>(IC0_ACCEL_MODE_REPLICATED));
  EXPECT_EQ(ic0_accel_call_mode(nullptr, "accel_matmul", 12, arg.data(), arg.size()),
            static_cast<uint32_t>(IC0_ACCEL_MODE_REPLICATED));

  // The price query in verified mode answers VerifiedPrice.
  PriceArgs p{ops::OpKind::kMatMulQ8_0Q4_0, 16, 576, 1536, 30000, CallMode::kVerified};
  Result r;
  ASSERT_EQ(Call(none, "accel_price", EncodePriceArgs(p), 0, &r), IC0_ACCEL_REPLY) << r.text();
  auto terms = MatMulPriceTerms(13, p.op, p.m, p.n, p.k, p.arg_bytes);
  EXPECT_EQ(DecodePriceReply({r.r.data, r.r.data_len})->cycles,
            VerifiedPrice(*terms, p.m, p.n, p.k));

  // The caller's faults are the same rejects, with the fee, in every role.
  MatMulArgs bad = v;
  bad.k = 9;
  const std::vector<uint8_t> bad_arg = EncodeMatMulArgs(bad);
  const uint64_t fee = absl::Uint128Low64(RejectFee(13, bad_arg.size()));
  uint8_t req[32] = {};
  std::vector<uint8_t> keys(13 * 32, 1);
  Result compute, check, combine;
  ic0_accel_verdict verdict{};
  EXPECT_EQ(
      ic0_accel_verified_compute(none.h, bad_arg.data(), bad_arg.size(), kPlenty, 0, &compute.r),
      static_cast<uint32_t>(IC0_ACCEL_CANISTER_REJECT));
  EXPECT_EQ(ic0_accel_verified_check(none.h, bad_arg.data(), bad_arg.size(), kPlenty, 0, req, 1, 0,
                                     1, nullptr, 0, &verdict, &check.r),
            static_cast<uint32_t>(IC0_ACCEL_CANISTER_REJECT));
  EXPECT_EQ(
      ic0_accel_verified_combine(none.h, bad_arg.data(), bad_arg.size(), kPlenty, 0, req,
                                 keys.data(), 13, nullptr, 0, nullptr, 0, nullptr, 0, &combine.r),
      static_cast<uint32_t>(IC0_ACCEL_CANISTER_REJECT));
  for (const Result* x : {&compute, &check, &combine}) {
    EXPECT_NE(x->text().find("needs 18"), std::string::npos) << x->text();
    EXPECT_EQ(x->r.cycles_charged_low, fee);
  }

  // The draw: deterministic, skips evicted nodes, refuses when none is left.
  uint32_t node = 99;
  std::vector<uint8_t> evicted(4, 0);
  ASSERT_EQ(ic0_accel_verified_pick(6, evicted.data(), 4, &node), 0);
  EXPECT_EQ(node, 2u);
  evicted[2] = 1;
  ASSERT_EQ(ic0_accel_verified_pick(6, evicted.data(), 4, &node), 0);
  EXPECT_EQ(node, 0u);  // the (6 mod 3)-th of nodes 0, 1, 3
  EXPECT_EQ(ic0_accel_verified_pick(6, nullptr, 0, &node), -1);
  std::fill(evicted.begin(), evicted.end(), 1);
  EXPECT_EQ(ic0_accel_verified_pick(6, evicted.data(), 4, &node), -1);

  // NULL pointers are SYS_FATAL, never a crash.
  Result null_check;
  EXPECT_EQ(ic0_accel_verified_check(none.h, arg.data(), arg.size(), kPlenty, 0, nullptr, 1, 0, 1,
                                     nullptr, 0, &verdict, &null_check.r),
            static_cast<uint32_t>(IC0_ACCEL_SYS_FATAL));
  EXPECT_EQ(ic0_accel_verified_compute(none.h, arg.data(), arg.size(), 0, 0, nullptr),
            static_cast<uint32_t>(IC0_ACCEL_SYS_FATAL));
}

// A verified accel_generate is not offered yet: ic0_accel_call_mode keeps it on
// ic0_accel_call, which refuses it (DESTINATION_INVALID, nothing charged) rather than run
// it replicated, daemon or not.
TEST(Ic0Accel, VerifiedGenerationIsRefused) {
  Handle none(nullptr);
  GenerateArgs g;
  g.model.assign(32, 7);
  g.prompt.token_ids = {1, 2, 3};
  g.max_tokens = 4;
  g.mode = CallMode::kVerified;
  const std::vector<uint8_t> arg = EncodeGenerateArgs(g);
  EXPECT_EQ(ic0_accel_call_mode(none.h, "accel_generate", 14, arg.data(), arg.size()),
            static_cast<uint32_t>(IC0_ACCEL_MODE_REPLICATED));
  Result r;
  EXPECT_EQ(Call(none, "accel_generate", arg, kPlenty, &r),
            static_cast<uint32_t>(IC0_ACCEL_DESTINATION_INVALID));
  EXPECT_NE(r.text().find("verified mode is not offered for generations"), std::string::npos)
      << r.text();
  EXPECT_EQ(r.r.cycles_charged_low, 0u);
  EXPECT_EQ(r.r.cycles_charged_high, 0u);
}

}  // namespace
}  // namespace datanode::shim
