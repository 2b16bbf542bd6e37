// Copyright 2026 The datanode Authors.
#include "tests/shim/subnet_sim_verified.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "datanode/ops/backend.h"
#include "datanode/ops/digest.h"
#include "datanode/v1/accelerator.grpc.pb.h"
#include "node/shim/interface.h"
#include "node/shim/pricing.h"

namespace datanode::shim {
namespace {

constexpr uint32_t kQ8N = 16, kQ8K = 64;  // the inline Q8_0 weights

// Normal f16 scales (1.0, 0.5, ~0.1, 2.0): never zero, so no weight or activation
// block is zero and a changed value always changes the exact sums.
constexpr uint16_t kF16Scales[] = {0x3C00, 0x3800, 0x2E66, 0x4000};

int8_t NonZeroS8(std::mt19937_64& rng) {
  const int v = static_cast<int>(rng() % 254);  // 0..253 -> -127..-1, 1..127
  return static_cast<int8_t>(v < 127 ? v - 127 : v - 126);
}

// Q8_0 blocks (f16 d, 32 x s8) for `rows` x `k` values.
std::vector<uint8_t> Q8Blocks(uint32_t rows, uint32_t k, std::mt19937_64& rng) {
  std::vector<uint8_t> b;
  for (uint32_t i = 0; i < rows * (k / 32); ++i) {
    const uint16_t d = kF16Scales[rng() % 4];
    b.push_back(static_cast<uint8_t>(d & 0xFF));
    b.push_back(static_cast<uint8_t>(d >> 8));
    for (int j = 0; j < 32; ++j) b.push_back(static_cast<uint8_t>(NonZeroS8(rng)));
  }
  return b;
}

struct Call {
  v1::MatMulRequest request;  // the computing node's request (exact_output set)
  ops::OpArgs args;           // the same for the reference here
  std::vector<uint8_t> a, a_scale, w, w_scale;
};

void PrintVerifiedStats(const char* phase, const VerifiedSimStats& st) {
  std::printf(
      "verified mode, %s: %lld calls in %.1f s (%.2f ms per call of 1 compute + 12 checks)\n",
      phase, static_cast<long long>(st.calls), st.seconds,
      st.calls ? 1000 * st.seconds / static_cast<double>(st.calls) : 0.0);
  if (st.honest_calls > 0) {
    std::printf("  honest answers: %lld calls, %lld checks, %lld rejected\n",
                static_cast<long long>(st.honest_calls), static_cast<long long>(st.honest_checks),
                static_cast<long long>(st.honest_rejected));
  }
  PrintFaultTallies(st.faults, st.unexpected);
}

int64_t Get(const std::map<std::string, int64_t>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? 0 : it->second;
}

}  // namespace

uint32_t Beacon(uint64_t seed, uint64_t draw, uint32_t n) {
  uint8_t in[16];
  std::memcpy(in, &seed, 8);
  std::memcpy(in + 8, &draw, 8);
  const ops::Sha256 d = ops::Sha256Of({ops::ByteSpan(in, 16)});
  uint64_t x;
  std::memcpy(&x, d.data(), 8);
  return static_cast<uint32_t>(x % n);
}

void FaultTallies::Add(const std::string& fault, bool caught_by_all, bool node_named,
                       const std::string& check) {
  ++trials[fault];
  if (caught_by_all) ++caught[fault];
  if (node_named) ++named[fault];
  ++caught_by_check[absl::StrCat(fault, "/", check)];
}

bool FaultTallies::AllCaught(const std::vector<std::string>& faults, int64_t min_trials) const {
  for (const std::string& f : faults) {
    const int64_t t = Get(trials, f);
    if (t < min_trials || Get(caught, f) != t || Get(named, f) != t) return false;
  }
  return true;
}

void PrintFaultTallies(const FaultTallies& tallies, int64_t unexpected) {
  for (const auto& [fault, trials] : tallies.trials) {
    std::printf(
        "  fault %-16s %5lld trials, caught (no agreement, 12 of 12 rejected) %5lld, "
        "computing node named %5lld\n",
        fault.c_str(), static_cast<long long>(trials),
        static_cast<long long>(Get(tallies.caught, fault)),
        static_cast<long long>(Get(tallies.named, fault)));
  }
  std::string by_check;
  for (const auto& [key, count] : tallies.caught_by_check)
    absl::StrAppend(&by_check, " ", key, "=", count);
  if (!by_check.empty()) std::printf("  first failed check per trial:%s\n", by_check.c_str());
  std::printf("  unexpected: %lld\n\n", static_cast<long long>(unexpected));
}

VerifiedSimStats RunVerifiedCalls(const std::vector<VerifiedSimNode>& nodes,
                                  const std::string& model_digest_hex, uint32_t n_w, uint32_t k_w,
                                  const std::vector<int8_t>& w_s8,
                                  const std::vector<float>& w_scale, int64_t min_trials,
                                  int64_t min_honest_checks, int64_t max_calls,
                                  uint64_t beacon_seed, uint64_t first_call, uint64_t epoch) {
  VerifiedSimStats st;
  const auto start = std::chrono::steady_clock::now();
  const uint32_t n = static_cast<uint32_t>(nodes.size());
  std::vector<PublicKey> keys;
  std::vector<std::unique_ptr<v1::Accelerator::Stub>> stubs;
  std::map<std::string, int> fault_nodes;
  for (const VerifiedSimNode& node : nodes) {
    keys.push_back(node.key);
    stubs.push_back(v1::Accelerator::NewStub(
        grpc::CreateChannel("unix:" + node.socket, grpc::InsecureChannelCredentials())));
    if (!node.fault.empty()) ++fault_nodes[node.fault];
  }
  const bool any_honest = fault_nodes.size() == 0 || [&] {
    for (const auto& node : nodes) {
      if (node.fault.empty()) return true;
    }
    return false;
  }();
  auto reference = ops::CreateBackend("reference");
  if (!reference.ok()) {
    ++st.unexpected;
    return st;
  }
  std::mt19937_64 wrng(7);
  const std::vector<uint8_t> q8_w = Q8Blocks(kQ8N, kQ8K, wrng);
  auto done = [&] {
    if (any_honest && st.honest_checks < min_honest_checks) return false;
    for (const auto& [fault, count] : fault_nodes) {
      if (st.faults.trials[fault] < min_trials) return false;
    }
    return true;
  };
  auto bad = [&](uint64_t c, const std::string& what) {
    ++st.unexpected;
    if (st.unexpected <= 10)
      std::printf("  call %llu: UNEXPECTED %s\n", (unsigned long long)c, what.c_str());
  };

  for (uint64_t c = first_call; !done() && st.calls < max_calls; ++c) {
    ++st.calls;
    std::mt19937_64 rng(c * 0x9E3779B97F4A7C15ull + 1);
    Call call;
    v1::MatMulRequest& req = call.request;
    const uint32_t m = 1 + static_cast<uint32_t>(c % 3);
    if (c % 2 == 0) {  // matmul_s8_f32, weights stored on every node
      req.set_op(v1::OP_KIND_MATMUL_S8_F32);
      req.set_n(n_w);
      req.set_k(k_w);
      for (uint32_t i = 0; i < m * k_w; ++i) call.a.push_back(static_cast<uint8_t>(NonZeroS8(rng)));
      for (uint32_t i = 0; i < m; ++i) {
        const float s = 0.0123f * static_cast<float>(1 + rng() % 5);
        const uint8_t* p = reinterpret_cast<const uint8_t*>(&s);
        call.a_scale.insert(call.a_scale.end(), p, p + 4);
      }
      req.mutable_weight_ref()->set_model_digest(model_digest_hex);
      req.mutable_weight_ref()->set_tensor("w");
      req.mutable_weight_ref()->set_scale_tensor("s");
      call.w.assign(reinterpret_cast<const uint8_t*>(w_s8.data()),
                    reinterpret_cast<const uint8_t*>(w_s8.data()) + w_s8.size());
      call.w_scale.assign(reinterpret_cast<const uint8_t*>(w_scale.data()),
                          reinterpret_cast<const uint8_t*>(w_scale.data()) + 4 * w_scale.size());
    } else {  // matmul_q8_0_q8_0, inline weights
      req.set_op(v1::OP_KIND_MATMUL_Q8_0_Q8_0);
      req.set_n(kQ8N);
      req.set_k(kQ8K);
      call.a = Q8Blocks(m, kQ8K, rng);
      call.w = q8_w;
      req.mutable_inline_weights()->set_w(call.w.data(), call.w.size());
    }
    req.set_m(m);
    req.set_a(call.a.data(), call.a.size());
    req.set_a_scale(call.a_scale.data(), call.a_scale.size());
    req.set_exact_output(true);
    const ops::OpKind kind = static_cast<ops::OpKind>(req.op());

    // The reference answer, computed here.
    auto sizes = ops::ComputeOperandSizes(kind, m, req.n(), req.k());
    std::vector<uint8_t> expected(static_cast<size_t>(sizes->out));
    ops::OpArgs args;
    args.kind = kind;
    args.m = m;
    args.n = req.n();
    args.k = req.k();
    args.a = call.a;
    args.a_scale = call.a_scale;
    args.w = call.w;
    args.w_scale = call.w_scale;
    args.out = ops::MutableByteSpan(expected);
    if (!ops::RunOp(**reference, args).ok()) {
      bad(c, "reference RunOp failed");
      continue;
    }
    const ops::Sha256 expected_digest = ops::Sha256Of({expected});

    const uint32_t computing = Beacon(beacon_seed, c, n);
    const std::string& fault = nodes[computing].fault;
    const std::string serialized = req.SerializeAsString();
    const Sha256 request = RequestDigest(
        kMethodMatMul, {reinterpret_cast<const uint8_t*>(serialized.data()), serialized.size()}, c);

    v1::MatMulResponse answer;
    {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      grpc::Status s = stubs[computing]->MatMul(&ctx, req, &answer);
      if (!s.ok()) {
        bad(c, absl::StrCat("computing node ", computing, ": ", s.error_message()));
        continue;
      }
    }
    const ops::Sha256 d = ops::Sha256Of({ops::ByteSpan(
        reinterpret_cast<const uint8_t*>(answer.out().data()), answer.out().size())});
    const uint64_t compute_cycles = absl::Uint128Low64(ComputeCycles(*MatMulPriceTerms(
        1, kind, m, static_cast<uint32_t>(req.n()), static_cast<uint32_t>(req.k()), 0)));
    const uint64_t check_cycles = absl::Uint128Low64(
        CheckCycles(m, static_cast<uint32_t>(req.n()), static_cast<uint32_t>(req.k())));
    if (answer.cycles() != compute_cycles) bad(c, "computing node's cycles differ from the shim's");

    // Every other node verifies (in parallel, as separate replicas would).
    v1::MatMulRequest vreq = req;
    vreq.set_exact_output(false);
    v1::VerifyAnswer* va = vreq.mutable_verify();
    va->set_out(answer.out());
    va->set_exact_sums(answer.exact_sums());
    va->set_epoch(epoch);
    va->set_request_digest(request.data(), request.size());
    va->set_computing_node(computing);
    std::vector<v1::MatMulResponse> verdicts(n);
    std::vector<grpc::Status> statuses(n);
    std::vector<std::thread> threads;
    for (uint32_t v = 0; v < n; ++v) {
      if (v == computing) continue;
      threads.emplace_back([&, v] {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
        statuses[v] = stubs[v]->MatMul(&ctx, vreq, &verdicts[v]);
      });
    }
    for (auto& t : threads) t.join();
    std::vector<VerifiedShare> shares;
    std::string check_name;
    for (uint32_t v = 0; v < n; ++v) {
      if (v == computing) continue;
      if (!statuses[v].ok()) {
        bad(c, absl::StrCat("verifier ", v, ": ", statuses[v].error_message()));
        continue;
      }
      const v1::VerifyResult& r = verdicts[v].verification();
      if (verdicts[v].cycles() != check_cycles) bad(c, "verifier's cycles differ from the shim's");
      VerifiedShare share;
      share.node = v;
      share.request_digest = request;
      share.accepted = r.accepted();
      share.reason = r.reason();
      if (r.output_digest().size() == 32)
        std::memcpy(share.output_digest.data(), r.output_digest().data(), 32);
      if (r.signature().size() == 64) std::memcpy(share.signature.data(), r.signature().data(), 64);
      if (!r.accepted()) {
        check_name = r.check();
        if (r.reason().find(absl::StrCat("computing node ", computing, " ")) == std::string::npos)
          bad(c, absl::StrCat("verifier ", v,
                              "'s reason does not name the computing node: ", r.reason()));
      }
      shares.push_back(std::move(share));
    }
    const VerifiedAgreement ag = CombineVerified(keys, request, computing, d, shares);
    if (fault.empty()) {
      ++st.honest_calls;
      st.honest_checks += static_cast<int64_t>(ag.accepting.size() + ag.rejecting.size());
      st.honest_rejected += static_cast<int64_t>(ag.rejecting.size());
      if (!ag.agreed || ag.accepting.size() != n - 1 || d != expected_digest) {
        bad(c, absl::StrCat("honest answer of node ", computing,
                            " not accepted as the reference's: ", ag.message));
      }
    } else {
      const bool named = ag.message.find(absl::StrCat("computing node ", computing,
                                                      " answered wrongly")) != std::string::npos;
      st.faults.Add(fault, !ag.agreed && ag.computing_node_faulty && ag.rejecting.size() == n - 1,
                    named, check_name);
      if (ag.agreed || !named || ag.reject != RejectCode::kSysTransient) {
        bad(c, absl::StrCat("fault ", fault, " of node ", computing, ": ", ag.message));
      }
      if (ag.agreed && d != expected_digest) bad(c, "A WRONG RESULT WAS ACCEPTED");
    }
  }
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return st;
}

int RunVerifiedMode(const RestartSubnet& restart, const std::string& model_digest_hex, uint32_t n_w,
                    uint32_t k_w, const std::vector<int8_t>& w, const std::vector<float>& w_scale,
                    int64_t trials, int64_t checks) {
  static const char* kFaults[] = {"flip_output_bit", "flip_exact_bit", "wrong_weights", "replay"};
  auto start_all = [&](bool faulty) {
    return restart([faulty](int i) -> std::string { return faulty ? kFaults[i % 4] : ""; });
  };
  int failures = 0;
  // Honest: every node restarted without a fault (the crash scenario killed one).
  std::vector<VerifiedSimNode> honest = start_all(false);
  if (honest.empty()) return 1;
  const VerifiedSimStats a =
      RunVerifiedCalls(honest, model_digest_hex, n_w, k_w, w, w_scale,
                       /*min_trials=*/0, checks, /*max_calls=*/1'000'000,
                       /*beacon_seed=*/2026, /*first_call=*/1000, /*epoch=*/1);
  PrintVerifiedStats("13 honest daemons", a);
  failures += (a.unexpected > 0 || a.honest_rejected > 0 || a.honest_checks < checks) ? 1 : 0;
  if (trials > 0) {
    // Faulty: node i commits kFaults[i % 4] whenever the beacon makes it compute; as a
    // verifier it is honest.
    std::vector<VerifiedSimNode> faulty = start_all(true);
    if (faulty.empty()) return failures + 1;
    const VerifiedSimStats b = RunVerifiedCalls(faulty, model_digest_hex, n_w, k_w, w, w_scale,
                                                trials, 0, 1'000'000, 2027, 1'000'000, /*epoch=*/2);
    PrintVerifiedStats("13 daemons with faults on the computing node", b);
    const bool ok =
        b.unexpected == 0 && b.faults.AllCaught({std::begin(kFaults), std::end(kFaults)}, trials);
    failures += ok ? 0 : 1;
  }
  std::printf("verified mode: %s\n\n", failures == 0 ? "as expected" : "UNEXPECTED");
  return failures;
}

}  // namespace datanode::shim
