// Copyright 2026 The datanode Authors.
//
// Unit tests of the hand-written Candid codec: LEB128 edges, round trips of every
// interface struct, and hostile input (each case must be rejected with a reason, never
// crash, never allocate by a claimed length). The cross-check against an independent
// implementation is candid_crosscheck.py.
#include "node/shim/candid/candid.h"

#include <optional>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "node/shim/candid/leb128.h"
#include "node/shim/interface.h"

namespace datanode::shim {
namespace {

using candid::Op;
using candid::TypeRef;

std::vector<uint8_t> Bytes(std::initializer_list<int> b) {
  return std::vector<uint8_t>(b.begin(), b.end());
}

std::vector<uint8_t> Didl(std::initializer_list<int> rest) {
  std::vector<uint8_t> v = {'D', 'I', 'D', 'L'};
  for (int b : rest) v.push_back(static_cast<uint8_t>(b));
  return v;
}

absl::Status DecodeAs(const std::vector<uint8_t>& bytes, std::vector<TypeRef> types,
                      const candid::DecodeLimits& limits = {}) {
  return candid::Decode(bytes, types, limits).status();
}

TEST(Leb128, RoundTripsEdgeValues) {
  const absl::uint128 unsigned_cases[] = {
      0, 1, 127, 128, 255, 16383, 16384, absl::uint128(~uint64_t{0}), ~absl::uint128(0)};
  for (absl::uint128 v : unsigned_cases) {
    std::vector<uint8_t> b;
    candid::AppendLeb128(v, &b);
    candid::Reader r(b);
    auto got = r.Leb128(128);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, v);
    EXPECT_EQ(r.remaining(), 0u);
    // Shortest form: the last byte has no continuation bit and only it may be zero.
    EXPECT_EQ(b.back() & 0x80, 0);
    if (b.size() > 1) {
      EXPECT_NE(b.back(), 0);
    }
  }
  const absl::int128 signed_cases[] = {
      0, 1, -1, 63, 64, -64, -65, absl::int128(INT64_MIN), absl::Int128Max(), absl::Int128Min()};
  for (absl::int128 v : signed_cases) {
    std::vector<uint8_t> b;
    candid::AppendSleb128(v, &b);
    candid::Reader r(b);
    auto got = r.Sleb128(128);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, v);
  }
  // The classic example from the DWARF spec / Wikipedia: 624485 = e5 8e 26.
  std::vector<uint8_t> b;
  candid::AppendLeb128(624485, &b);
  EXPECT_EQ(b, Bytes({0xe5, 0x8e, 0x26}));
  b.clear();
  candid::AppendSleb128(-123456, &b);
  EXPECT_EQ(b, Bytes({0xc0, 0xbb, 0x78}));
}

TEST(Leb128, RejectsTooWideAndTruncated) {
  std::vector<uint8_t> wide(20, 0xff);
  wide.push_back(0x01);
  EXPECT_FALSE(candid::Reader(wide).Leb128(128).ok());
  EXPECT_FALSE(candid::Reader(wide).Sleb128(128).ok());
  // 2^64 does not fit a count.
  std::vector<uint8_t> two64 = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02};
  EXPECT_FALSE(candid::Reader(two64).Count().ok());
  EXPECT_FALSE(candid::Reader(Bytes({0x80, 0x80})).Leb128(128).ok());
}

MatMulArgs SampleArgs() {
  MatMulArgs a;
  a.op = ops::OpKind::kMatMulS8F32;
  a.m = 3;
  a.n = 5;
  a.k = 64;
  a.weights = {std::vector<uint8_t>(32, 0xab), "blk.0.attn_q.weight"};
  a.w_scale = "blk.0.attn_q.scale";
  a.a = std::vector<uint8_t>(3 * 64, 7);
  a.a_scale = std::vector<uint8_t>(12, 1);
  return a;
}

TEST(Interface, StructsRoundTrip) {
  const MatMulArgs a = SampleArgs();
  auto back = DecodeMatMulArgs(EncodeMatMulArgs(a));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->op, a.op);
  EXPECT_EQ(back->m, a.m);
  EXPECT_EQ(back->n, a.n);
  EXPECT_EQ(back->k, a.k);
  EXPECT_EQ(back->weights.model, a.weights.model);
  EXPECT_EQ(back->weights.tensor, a.weights.tensor);
  ASSERT_TRUE(back->w_scale.has_value());
  EXPECT_EQ(*back->w_scale, *a.w_scale);
  EXPECT_EQ(back->a, a.a);
  EXPECT_EQ(back->a_scale, a.a_scale);

  MatMulArgs no_opts = a;
  no_opts.w_scale.reset();
  no_opts.a_scale.reset();
  back = DecodeMatMulArgs(EncodeMatMulArgs(no_opts));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_FALSE(back->w_scale.has_value());
  EXPECT_FALSE(back->a_scale.has_value());

  MatMulReply r{std::vector<uint8_t>(60, 9), std::vector<uint8_t>(32, 1), 1,
                absl::MakeUint128(7, 123)};
  auto r2 = DecodeMatMulReply(EncodeMatMulReply(r));
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(r2->out, r.out);
  EXPECT_EQ(r2->cycles_charged, r.cycles_charged);

  ListModelsReply l;
  l.models.push_back({std::vector<uint8_t>(32, 2), "gguf", {{"t", "q8_0", {4, 64}, 272}}});
  auto l2 = DecodeListModelsReply(EncodeListModelsReply(l));
  ASSERT_TRUE(l2.ok()) << l2.status();
  ASSERT_EQ(l2->models.size(), 1u);
  EXPECT_EQ(l2->models[0].tensors[0].shape, (std::vector<uint64_t>{4, 64}));
  EXPECT_EQ(l2->models[0].tensors[0].bytes, 272u);

  PriceArgs p{ops::OpKind::kMatMulQ8_0Q4_1, 1, 2, 32, 999, {}};
  auto p2 = DecodePriceArgs(EncodePriceArgs(p));
  ASSERT_TRUE(p2.ok()) << p2.status();
  EXPECT_EQ(p2->op, p.op);
  EXPECT_EQ(p2->arg_bytes, 999u);
  EXPECT_FALSE(p2->mode.has_value());
}

// MatMulArgs / PriceArgs `mode : opt CallMode`: absent, replicated and verified round
// trip as sent; an argument of the type before the field existed reads as absent
// (replicated); a tag CallMode does not have is INVALID_ARGUMENT naming the variant.
TEST(Interface, CallModeRoundTripsAndOldArgumentsReadAsReplicated) {
  for (std::optional<CallMode> mode :
       {std::optional<CallMode>(), std::optional(CallMode::kReplicated),
        std::optional(CallMode::kVerified)}) {
    MatMulArgs a = SampleArgs();
    a.mode = mode;
    auto back = DecodeMatMulArgs(EncodeMatMulArgs(a));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->mode, mode);
    PriceArgs p{ops::OpKind::kMatMulS8S32, 1, 2, 8, 100, mode};
    auto p2 = DecodePriceArgs(EncodePriceArgs(p));
    ASSERT_TRUE(p2.ok()) << p2.status();
    EXPECT_EQ(p2->mode, mode);
  }
  EXPECT_EQ(ModeOf(std::nullopt), CallMode::kReplicated);

  // The same record with `mode` left out of the type (an older caller) or with a third
  // tag (a caller that knows more modes than this node).
  const TypeRef declared = InterfaceType("MatMulArgs");
  MatMulArgs a = SampleArgs();
  a.mode = CallMode::kVerified;
  auto decoded = candid::Decode(EncodeMatMulArgs(a), {&declared, 1});
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  std::vector<std::pair<std::string, TypeRef>> old_fields, wide_fields;
  std::vector<std::pair<std::string, candid::Value>> old_values, wide_values;
  for (size_t i = 0; i < declared->fields.size(); ++i) {
    const candid::Field& f = declared->fields[i];
    const candid::Value& v = (*decoded)[0].fields[i].second;
    if (f.name == "mode") {
      wide_fields.emplace_back(f.name, candid::Opt(candid::Variant({{"replicated", candid::Null()},
                                                                    {"verified", candid::Null()},
                                                                    {"fast", candid::Null()}})));
      wide_values.emplace_back(f.name, candid::MakeOpt(candid::MakeVariant("fast")));
      continue;
    }
    old_fields.emplace_back(f.name, f.type);
    old_values.emplace_back(f.name, v);
    wide_fields.emplace_back(f.name, f.type);
    wide_values.emplace_back(f.name, v);
  }
  const TypeRef old_type = candid::Record(old_fields);
  const candid::Value old_value = candid::MakeRecord(old_values);
  auto old_bytes = candid::Encode({&old_type, 1}, {&old_value, 1});
  ASSERT_TRUE(old_bytes.ok()) << old_bytes.status();
  auto old = DecodeMatMulArgs(*old_bytes);
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_FALSE(old->mode.has_value());
  EXPECT_EQ(old->a, a.a);

  const TypeRef wide_type = candid::Record(wide_fields);
  const candid::Value wide_value = candid::MakeRecord(wide_values);
  auto wide_bytes = candid::Encode({&wide_type, 1}, {&wide_value, 1});
  ASSERT_TRUE(wide_bytes.ok()) << wide_bytes.status();
  auto wide = DecodeMatMulArgs(*wide_bytes);
  ASSERT_FALSE(wide.ok());
  EXPECT_EQ(wide.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(wide.status().message().find("is not one of variant {"), std::string::npos)
      << wide.status();
}

TEST(Hostile, HeaderAndTypeTable) {
  const TypeRef nat = candid::Prim(Op::kNat);
  EXPECT_FALSE(DecodeAs({}, {nat}).ok());
  EXPECT_FALSE(DecodeAs({'D', 'I', 'D', 'X', 0, 1, 0x7d, 0}, {nat}).ok());
  EXPECT_FALSE(DecodeAs(Didl({}), {nat}).ok());  // truncated after the magic
  // 2^40 type table entries claimed.
  EXPECT_FALSE(DecodeAs(Didl({0x80, 0x80, 0x80, 0x80, 0x80, 0x20}), {nat}).ok());
  // Argument type index 5 in a table of 1.
  EXPECT_FALSE(DecodeAs(Didl({1, 0x6e, 0x7d, 1, 5, 0}), {candid::Opt(nat)}).ok());
  // Opt of an index outside the table.
  EXPECT_FALSE(DecodeAs(Didl({1, 0x6e, 3, 1, 0, 0}), {candid::Opt(nat)}).ok());
  // A table entry that is a primitive opcode (nat), not a composite type.
  EXPECT_FALSE(DecodeAs(Didl({1, 0x7d, 1, 0, 0}), {nat}).ok());
  // Record field ids not strictly increasing: {2: nat; 1: nat}.
  auto st =
      DecodeAs(Didl({1, 0x6c, 2, 2, 0x7d, 1, 0x7d, 1, 0, 0, 0}), {candid::Record({{"a", nat}})});
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("strictly increasing"), std::string::npos) << st;
  // Principal and func are not supported.
  EXPECT_FALSE(DecodeAs(Didl({0, 1, 0x68, 1, 0}), {nat}).ok());
  EXPECT_FALSE(DecodeAs(Didl({1, 0x6a, 0, 0, 0, 1, 0, 0}), {nat}).ok());
  // More arguments than allowed.
  std::vector<uint8_t> many = Didl({0, 100});
  many.insert(many.end(), 100, 0x7f);
  EXPECT_FALSE(DecodeAs(many, {}).ok());
}

TEST(Hostile, Values) {
  const TypeRef nat = candid::Prim(Op::kNat);
  // bool byte 2, opt tag 2, variant index out of range.
  EXPECT_FALSE(DecodeAs(Didl({0, 1, 0x7e, 2}), {candid::Prim(Op::kBool)}).ok());
  EXPECT_FALSE(DecodeAs(Didl({1, 0x6e, 0x7d, 1, 0, 2, 0}), {candid::Opt(nat)}).ok());
  TypeRef v = candid::Variant({{"a", nullptr}, {"b", nullptr}});
  EXPECT_FALSE(DecodeAs(Didl({1, 0x6b, 1, 0x61, 0x7f, 1, 0, 1}), {v}).ok());
  // A blob claiming 2^62 bytes.
  EXPECT_FALSE(
      DecodeAs(Didl({1, 0x6d, 0x7b, 1, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40}),
               {candid::Blob()})
          .ok());
  // Text that is not UTF-8 (a lone continuation byte, an overlong '/').
  EXPECT_FALSE(DecodeAs(Didl({0, 1, 0x71, 1, 0x80}), {candid::Prim(Op::kText)}).ok());
  EXPECT_FALSE(DecodeAs(Didl({0, 1, 0x71, 2, 0xc0, 0xaf}), {candid::Prim(Op::kText)}).ok());
  // nat wider than 128 bits.
  std::vector<uint8_t> wide = Didl({0, 1, 0x7d});
  wide.insert(wide.end(), 19, 0xff);
  wide.push_back(0x7f);
  EXPECT_FALSE(DecodeAs(wide, {nat}).ok());
  // Wrong type: nat32 on the wire where nat64 is declared; truncated nat64.
  EXPECT_FALSE(DecodeAs(Didl({0, 1, 0x79, 1, 0, 0, 0}), {candid::Prim(Op::kNat64)}).ok());
  EXPECT_FALSE(DecodeAs(Didl({0, 1, 0x78, 1, 0, 0}), {candid::Prim(Op::kNat64)}).ok());
  // Trailing bytes after the last value.
  EXPECT_FALSE(DecodeAs(Didl({0, 1, 0x7d, 5, 0}), {nat}).ok());
  // A missing required argument.
  EXPECT_FALSE(DecodeAs(Didl({0, 0}), {nat}).ok());
  // Over the size limit.
  candid::DecodeLimits small;
  small.max_input_bytes = 8;
  EXPECT_FALSE(DecodeAs(Didl({0, 1, 0x7d, 5, 0, 0, 0, 0}), {nat}, small).ok());
}

TEST(Hostile, ZeroSizedElementsAreBudgeted) {
  // vec null with 2^30 elements: zero bytes each, so only the value budget stops it,
  // both when the declared type wants it and when it is skipped as an extra argument.
  const std::vector<uint8_t> msg = Didl({1, 0x6d, 0x7f, 1, 0, 0x80, 0x80, 0x80, 0x80, 0x04});
  auto st = DecodeAs(msg, {candid::Vec(candid::Null())});
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("budget"), std::string::npos) << st;
  EXPECT_FALSE(DecodeAs(msg, {}).ok());
  // A small one is fine.
  EXPECT_TRUE(DecodeAs(Didl({1, 0x6d, 0x7f, 1, 0, 3}), {candid::Vec(candid::Null())}).ok());
}

TEST(Hostile, RecursionIsBounded) {
  // Type 0 = opt 0 with 10000 nested "some": rejected by depth, whether decoded as
  // reserved, skipped as an extra argument or decoded into a deep declared opt.
  std::vector<uint8_t> msg = Didl({1, 0x6e, 0, 1, 0});
  msg.insert(msg.end(), 10000, 1);
  msg.push_back(0);
  EXPECT_FALSE(DecodeAs(msg, {candid::Prim(Op::kReserved)}).ok());
  EXPECT_FALSE(DecodeAs(msg, {}).ok());
  TypeRef deep = candid::Prim(Op::kNull);
  for (int i = 0; i < 100; ++i) deep = candid::Opt(deep);
  EXPECT_FALSE(DecodeAs(msg, {deep}).ok());
  // Type 0 = record {0 : 0}: no finite value exists; the decoder must stop.
  EXPECT_FALSE(DecodeAs(Didl({1, 0x6c, 1, 0, 0, 1, 0}), {candid::Prim(Op::kReserved)}).ok());
}

TEST(Hostile, MutationsNeverCrashAndAcceptedInputsAreStable) {
  const std::vector<uint8_t> good = EncodeMatMulArgs(SampleArgs());
  std::mt19937_64 rng(42);
  int accepted = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::vector<uint8_t> m = good;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const size_t pos = rng() % m.size();
      switch (rng() % 4) {
        case 0:
          m[pos] ^= static_cast<uint8_t>(1u << (rng() % 8));
          break;
        case 1:
          m[pos] = static_cast<uint8_t>(rng());
          break;
        case 2:
          m.resize(pos);
          break;
        default:
          m.insert(m.begin() + pos, static_cast<uint8_t>(rng()));
          break;
      }
      if (m.empty()) break;
    }
    auto decoded = DecodeMatMulArgs(m);
    if (!decoded.ok()) {
      EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
      continue;
    }
    ++accepted;
    // Whatever is accepted re-encodes canonically to something that decodes the same.
    const std::vector<uint8_t> canon = EncodeMatMulArgs(*decoded);
    auto again = DecodeMatMulArgs(canon);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(EncodeMatMulArgs(*again), canon);
  }
  // Flipping bits inside the blob payload keeps the message valid: some must pass.
  EXPECT_GT(accepted, 0);
}

TEST(Encode, RejectsValuesThatDoNotMatch) {
  TypeRef nat8 = candid::Prim(Op::kNat8);
  candid::Value big = candid::MakeNat(Op::kNat8, 256);
  EXPECT_FALSE(candid::Encode({&nat8, 1}, {&big, 1}).ok());
  TypeRef text = candid::Prim(Op::kText);
  candid::Value bad = candid::MakeText(std::string("\xff", 1));
  EXPECT_FALSE(candid::Encode({&text, 1}, {&bad, 1}).ok());
}

}  // namespace
}  // namespace datanode::shim
