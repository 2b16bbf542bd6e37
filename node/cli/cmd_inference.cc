// Copyright 2026 The datanode Authors.
//
// dnctl generate and tokenize: the Inference service with an imported GGUF model.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_join.h"
#include "datanode/v1/inference.grpc.pb.h"
#include "node/cli/dnctl_command.h"

ABSL_FLAG(std::string, prompt, "", "generate, tokenize: the prompt text");
ABSL_FLAG(int32_t, max_tokens, 64, "generate: most tokens to generate");
ABSL_FLAG(float, temperature, 0, "generate: 0 = greedy, else in (0, 100]");
ABSL_FLAG(int32_t, top_k, 0, "generate: keep the K most likely tokens (0 = all)");
ABSL_FLAG(float, top_p, 1, "generate: nucleus cut in (0, 1]");
ABSL_FLAG(bool, chat, false,
          "generate: wrap the prompt in a ChatML user turn (SmolLM2's chat template)");
ABSL_FLAG(bool, add_special, true, "tokenize: match special tokens and add BOS if the model does");

namespace datanode::node::dnctl {
namespace {

constexpr char kGenerateHelp[] =
    R"(usage: dnctl generate --model DIGEST --prompt TEXT [--max-tokens N] [--seed S]
                      [--temperature T] [--top-k K] [--top-p P] [--chat]

Generates text with an imported llama-architecture GGUF model (Inference.Generate, a
one-call session). The text streams to stdout as tokens arrive (raw bytes: a UTF-8
character may span tokens; control tokens such as <|im_end|> are not printed). Then
stderr gets the token counts, prefill and decode speed (tok/s), the stop reason, the
digest of the token ids (SHA-256 of the ids as little-endian int32, equal on every
node), the final logits digest and the cycles.

  --model DIGEST     the model's manifest digest (dnctl import prints it)
  --prompt TEXT      the prompt (tokenized by the node, special tokens matched)
  --chat             wrap the prompt in a ChatML user turn and open the assistant's
  --max-tokens N     most tokens to generate (default 64; the node caps it)
  --temperature T    0 (default) = greedy; else in (0, 100], with --seed
  --top-k K, --top-p P   sampling cuts (default none)
  --seed S           the sampling seed (8 bytes little-endian); a canister takes 32 bytes
                     from the random beacon
--json prints the final GenerateDone message as JSON instead of the summary.
)";

int Generate(const Invocation& in) {
  if (!in.seen.count("model")) return Usage("generate needs --model DIGEST");
  if (!in.seen.count("prompt")) return Usage("generate needs --prompt TEXT");
  std::unique_ptr<v1::Inference::Stub> inference = v1::Inference::NewStub(in.channel);
  grpc::ClientContext ctx;
  v1::GenerateRequest req;
  req.set_model_digest(absl::GetFlag(FLAGS_model));
  req.set_text(absl::GetFlag(FLAGS_prompt));
  req.set_chat(absl::GetFlag(FLAGS_chat));
  req.set_max_tokens(absl::GetFlag(FLAGS_max_tokens));
  v1::SamplingParams* sp = req.mutable_sampling();
  sp->set_temperature(absl::GetFlag(FLAGS_temperature));
  sp->set_top_k(absl::GetFlag(FLAGS_top_k));
  sp->set_top_p(absl::GetFlag(FLAGS_top_p));
  if (in.seen.count("seed")) {
    std::string seed(8, '\0');
    const uint64_t v = absl::GetFlag(FLAGS_seed);
    for (int i = 0; i < 8; ++i) seed[i] = static_cast<char>(v >> (8 * i));
    sp->set_seed(seed);
  }
  std::unique_ptr<grpc::ClientReader<v1::GenerateResponse>> reader = inference->Generate(&ctx, req);
  v1::GenerateResponse m;
  v1::GenerateDone done;
  bool have_done = false;
  while (reader->Read(&m)) {
    if (m.has_token()) {
      if (!in.json && !m.token().control()) {
        std::fwrite(m.token().piece().data(), 1, m.token().piece().size(), stdout);
        std::fflush(stdout);
      }
    } else if (m.has_done()) {
      done = m.done();
      have_done = true;
    }
  }
  grpc::Status st = reader->Finish();
  if (!in.json) std::fputc('\n', stdout);
  std::fflush(stdout);
  if (!st.ok()) return FailRpc(st);
  if (!have_done) return Fail("the stream ended without GenerateDone");
  if (in.json) return PrintJson(done), 0;
  auto rate = [](double tokens, double seconds) { return seconds > 0 ? tokens / seconds : 0.0; };
  // The first token is sampled from the prefill's logits; each later one costs a pass.
  const int decoded = std::max(done.generated_tokens() - 1, 0);
  std::fprintf(stderr,
               "prefill: %d tokens in %.3f s = %.1f tok/s\n"
               "decode:  %d tokens in %.3f s = %.1f tok/s (%d generated, stop: %s)\n"
               "tokens digest:       %s\nfinal logits digest: %s\n"
               "cycles: %llu (one node)  backend: %s  spec version %d\n",
               done.prompt_tokens(), done.prefill_seconds(),
               rate(done.prompt_tokens(), done.prefill_seconds()), decoded, done.decode_seconds(),
               rate(decoded, done.decode_seconds()), done.generated_tokens(),
               v1::StopReason_Name(done.stop_reason()).c_str(), done.tokens_digest().c_str(),
               done.final_logits_digest().c_str(), (unsigned long long)done.cycles(),
               done.backend().c_str(), done.spec_version());
  return 0;
}

int Tokenize(const Invocation& in) {
  if (!in.seen.count("model")) return Usage("tokenize needs --model DIGEST");
  std::unique_ptr<v1::Inference::Stub> inference = v1::Inference::NewStub(in.channel);
  grpc::ClientContext ctx;
  v1::TokenizeRequest req;
  req.set_model_digest(absl::GetFlag(FLAGS_model));
  req.set_text(absl::GetFlag(FLAGS_prompt));
  req.set_add_special(absl::GetFlag(FLAGS_add_special));
  v1::TokenizeResponse r;
  grpc::Status st = inference->Tokenize(&ctx, req, &r);
  if (!st.ok()) return FailRpc(st);
  if (in.json) return PrintJson(r), 0;
  std::printf("%s\n", absl::StrJoin(r.token_ids(), " ").c_str());
  return 0;
}

}  // namespace

std::vector<Command> InferenceCommands() {
  return {
      {"generate",
       "",
       0,
       "generate text with a GGUF model; streams it, then prints tok/s and the tokens digest",
       {"model", "prompt", "max_tokens", "seed", "temperature", "top_k", "top_p", "chat"},
       true,
       Generate,
       kGenerateHelp},
      {"tokenize",
       "",
       0,
       "a GGUF model's token ids for --prompt (--model DIGEST)",
       {"model", "prompt", "add_special"},
       true,
       Tokenize},
  };
}

}  // namespace datanode::node::dnctl
