// Copyright 2026 The datanode Authors.
#include "tests/shim/subnet_sim_generation.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "datanode/ops/digest.h"
#include "datanode/ops/llm.h"
#include "datanode/v1/verified_inference.grpc.pb.h"
#include "node/inference/session.h"
#include "node/shim/interface.h"

namespace datanode::shim {
namespace {

using Stub = v1::VerifiedInference::Stub;

Sha256 Digest32(const std::string& bytes) {
  Sha256 d{};
  if (bytes.size() == d.size()) std::memcpy(d.data(), bytes.data(), d.size());
  return d;
}

std::unique_ptr<grpc::ClientContext> Context(int seconds) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

}  // namespace

GenerationSimStats RunVerifiedGenerations(const std::vector<VerifiedSimNode>& nodes,
                                          const GenerationSimOptions& o) {
  GenerationSimStats st;
  const auto start = std::chrono::steady_clock::now();
  const uint32_t n = static_cast<uint32_t>(nodes.size());
  std::vector<PublicKey> keys;
  std::vector<std::unique_ptr<Stub>> stubs;
  std::map<std::string, int> fault_nodes;
  for (const VerifiedSimNode& node : nodes) {
    keys.push_back(node.key);
    // A prompt's answer is tens of MiB for SmolLM2 (the daemons' own limits apply).
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);
    args.SetMaxSendMessageSize(-1);
    stubs.push_back(v1::VerifiedInference::NewStub(grpc::CreateCustomChannel(
        "unix:" + node.socket, grpc::InsecureChannelCredentials(), args)));
    if (!node.fault.empty()) ++fault_nodes[node.fault];
  }
  auto bad = [&](const std::string& what) {
    ++st.unexpected;
    if (st.unexpected <= 10) std::printf("  UNEXPECTED %s\n", what.c_str());
  };
  auto done = [&] {
    if (st.generations < o.min_generations) return false;
    for (const auto& [fault, count] : fault_nodes) {
      if (st.faults.trials[fault] < o.min_trials) return false;
    }
    return true;
  };
  uint64_t draw = 0;
  for (int64_t g = 0; !done() && g < o.max_generations && st.unexpected == 0; ++g) {
    ++st.generations;
    // Every other generation samples (temperature, top-k, top-p) with a seed of its own:
    // step t draws word t of that seed's stream (GenerationStep.draw).
    const bool sampled = g % 2 == 1;
    v1::SamplingParams sampling;
    ops::llm::SamplingParams sampling_params;  // greedy unless sampled
    if (sampled) {
      ++st.sampled_generations;
      sampling_params = {0.8f, 40, 0.95f};
      sampling.set_temperature(sampling_params.temperature);
      sampling.set_top_k(sampling_params.top_k);
      sampling.set_top_p(sampling_params.top_p);
      sampling.set_seed(absl::StrCat("beacon ", o.beacon_seed, " generation ", g));
    }
    const std::vector<uint8_t> seed(sampling.seed().begin(), sampling.seed().end());
    std::vector<int32_t> tokens = o.prompt(g);
    const int64_t context = static_cast<int64_t>(tokens.size()) + o.tokens;
    // A verified session on every node, and the plain pass here.
    std::vector<std::string> sessions(n);
    for (uint32_t i = 0; i < n; ++i) {
      v1::OpenVerifiedSessionRequest req;
      req.set_model_digest(o.model_digest_hex);
      req.set_context_length(static_cast<int32_t>(context));
      v1::OpenVerifiedSessionResponse resp;
      grpc::Status s = stubs[i]->OpenSession(Context(o.deadline_seconds).get(), req, &resp);
      if (!s.ok()) bad(absl::StrCat("node ", i, " OpenSession: ", s.error_message()));
      sessions[i] = resp.session_id();
    }
    auto local = node::inference::Session::Create(o.local, {context});
    if (!local.ok() || st.unexpected > 0) {
      bad("no sessions");
      break;
    }
    std::vector<int32_t> generated;
    int64_t position = 0;
    for (int32_t t = 0; t < o.tokens && st.unexpected == 0; ++t) {
      absl::StatusOr<std::vector<float>> logits = (*local)->Evaluate(tokens);
      if (!logits.ok()) {
        bad(absl::StrCat("local pass: ", logits.status().ToString()));
        break;
      }
      const Sha256 expected = ops::Sha256Of({ops::ByteSpan(
          reinterpret_cast<const uint8_t*>(logits->data()), logits->size() * sizeof(float))});
      ops::llm::SpecRng rng(seed);
      rng.Seek(static_cast<uint64_t>(t));
      const absl::StatusOr<int32_t> sampled_next =
          ops::llm::SampleToken(*logits, sampling_params, rng);
      if (!sampled_next.ok()) {
        bad(absl::StrCat("local sampling: ", sampled_next.status().ToString()));
        break;
      }
      const int32_t expected_next = *sampled_next;
      bool accepted = false;
      for (int attempt = 0; !accepted && attempt < 64 && st.unexpected == 0; ++attempt) {
        ++st.attempts;
        const uint32_t computing = Beacon(o.beacon_seed, ++draw, n);
        const std::string& fault = nodes[computing].fault;
        auto step = [&](uint32_t i) {
          v1::GenerationStep s;
          s.set_session_id(sessions[i]);
          s.set_position(static_cast<int32_t>(position));
          for (int32_t id : tokens) s.add_token_ids(id);
          if (sampled) *s.mutable_sampling() = sampling;
          s.set_draw(static_cast<uint64_t>(t));
          return s;
        };
        v1::ComputeStepRequest creq;
        *creq.mutable_step() = step(computing);
        v1::ComputeStepResponse answer;
        grpc::Status cs =
            stubs[computing]->ComputeStep(Context(o.deadline_seconds).get(), creq, &answer);
        if (!cs.ok()) {
          bad(absl::StrCat("computing node ", computing, ": ", cs.error_message()));
          break;
        }
        st.max_answer_bytes = std::max<int64_t>(st.max_answer_bytes,
                                                static_cast<int64_t>(answer.pass_answer().size()));
        // The step's request digest: what the call is (model, position, tokens, sampling
        // and draw) and which attempt, so no share of one attempt counts for another.
        const std::string what = absl::StrCat(
            o.model_digest_hex, "/", position, "/", absl::StrJoin(tokens, ","), "/",
            sampling.SerializeAsString(), "/", t);
        const Sha256 request =
            RequestDigest("verified_generation_step",
                          {reinterpret_cast<const uint8_t*>(what.data()), what.size()}, draw);
        std::vector<v1::VerifyStepResponse> verdicts(n);
        std::vector<grpc::Status> statuses(n);
        std::vector<std::thread> threads;
        for (uint32_t v = 0; v < n; ++v) {
          if (v == computing) continue;
          threads.emplace_back([&, v] {
            v1::VerifyStepRequest req;
            *req.mutable_step() = step(v);
            req.set_pass_answer(answer.pass_answer());
            req.set_epoch(o.epoch);
            req.set_request_digest(request.data(), request.size());
            req.set_computing_node(computing);
            statuses[v] =
                stubs[v]->VerifyStep(Context(o.deadline_seconds).get(), req, &verdicts[v]);
          });
        }
        for (auto& th : threads) th.join();
        std::vector<VerifiedShare> shares;
        std::string check;
        std::set<int32_t> next_tokens;
        std::set<uint64_t> check_cycles;
        for (uint32_t v = 0; v < n; ++v) {
          if (v == computing) continue;
          if (!statuses[v].ok()) {
            bad(absl::StrCat("verifier ", v, ": ", statuses[v].error_message()));
            continue;
          }
          const v1::VerifyStepResponse& r = verdicts[v];
          VerifiedShare share;
          share.node = v;
          share.request_digest = request;
          share.accepted = r.accepted();
          share.reason = r.reason();
          share.output_digest = Digest32(r.output_digest());
          if (r.signature().size() == 64)
            std::memcpy(share.signature.data(), r.signature().data(), 64);
          if (r.accepted()) {
            next_tokens.insert(r.next_token());
          } else {
            check = r.check() == "matmul" ? absl::StrCat("matmul/", r.matmul_check()) : r.check();
            if (r.reason().find(absl::StrCat("computing node ", computing, " ")) ==
                std::string::npos) {
              bad(absl::StrCat("verifier ", v, "'s reason does not name node ", computing, ": ",
                               r.reason()));
            }
          }
          check_cycles.insert(r.cycles());
          shares.push_back(std::move(share));
        }
        const Sha256 d = Digest32(answer.output_digest());
        const VerifiedAgreement ag = CombineVerified(keys, request, computing, d, shares);
        if (check_cycles.size() != 1 || *check_cycles.begin() == 0 ||
            *check_cycles.begin() >= answer.cycles()) {
          bad("verifiers' charges differ, are zero or are not below the computing node's");
        }
        if (fault.empty()) {
          ++st.honest_attempts;
          st.honest_checks += static_cast<int64_t>(ag.accepting.size() + ag.rejecting.size());
          st.honest_rejected += static_cast<int64_t>(ag.rejecting.size());
          if (!ag.agreed || ag.accepting.size() != n - 1 || d != expected ||
              next_tokens != std::set<int32_t>{expected_next} ||
              answer.next_token() != expected_next) {
            bad(absl::StrCat("honest step of node ", computing, " at position ", position,
                             " not accepted as the plain pass's: ", ag.message));
          }
        } else {
          const bool named =
              ag.message.find(absl::StrCat("computing node ", computing, " answered wrongly")) !=
              std::string::npos;
          st.faults.Add(fault,
                        !ag.agreed && ag.computing_node_faulty && ag.rejecting.size() == n - 1,
                        named, check);
          if (ag.agreed || !named || ag.reject != RejectCode::kSysTransient) {
            bad(absl::StrCat("fault ", fault, " of node ", computing, ": ", ag.message));
          }
          if (ag.agreed && d != expected) bad("A WRONG STEP WAS ACCEPTED");
        }
        if (ag.agreed) {
          accepted = true;
          ++st.steps;
          position += static_cast<int64_t>(tokens.size());
          tokens = {answer.next_token()};
          generated.push_back(answer.next_token());
        }
      }
      if (!accepted) bad(absl::StrCat("no accepted answer for position ", position));
    }
    st.tokens += static_cast<int64_t>(generated.size());
    st.text = absl::StrJoin(generated, " ");
    for (uint32_t i = 0; i < n; ++i) {
      v1::CloseVerifiedSessionRequest req;
      req.set_session_id(sessions[i]);
      v1::CloseVerifiedSessionResponse resp;
      stubs[i]->CloseSession(Context(o.deadline_seconds).get(), req, &resp);
    }
  }
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return st;
}

void PrintGenerationStats(const std::string& phase, const GenerationSimStats& st) {
  std::printf(
      "verified generation, %s: %lld generations, %lld tokens, %lld steps accepted of %lld "
      "attempts in %.1f s (%.1f ms per attempt of 1 compute + 12 checks; answers up to %lld "
      "bytes)\n",
      phase.c_str(), static_cast<long long>(st.generations), static_cast<long long>(st.tokens),
      static_cast<long long>(st.steps), static_cast<long long>(st.attempts), st.seconds,
      st.attempts ? 1000 * st.seconds / static_cast<double>(st.attempts) : 0.0,
      static_cast<long long>(st.max_answer_bytes));
  std::printf("  honest answers: %lld attempts, %lld checks, %lld rejected; last tokens [%s]\n",
              static_cast<long long>(st.honest_attempts), static_cast<long long>(st.honest_checks),
              static_cast<long long>(st.honest_rejected), st.text.c_str());
  std::printf("  %lld of the generations sampled (temperature 0.8, top-k 40, top-p 0.95, a seed "
              "each; every accepted token equal to the plain pass's sampler)\n",
              static_cast<long long>(st.sampled_generations));
  PrintFaultTallies(st.faults, st.unexpected);
}

}  // namespace datanode::shim
