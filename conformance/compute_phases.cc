// Copyright 2026 The datanode Authors.
//
// Phases 2 to 6: golden vectors, challenges, stability, memory, performance.
#include <algorithm>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "conformance/freivalds.h"
#include "conformance/golden.h"
#include "conformance/nonce.h"
#include "conformance/phases.h"
#include "datanode/ops/digest.h"
#include "datanode/ops/exact_float.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/reference.h"

namespace datanode::conformance::internal {
namespace {

using Clock = std::chrono::steady_clock;

// Recomputes `rows` nonce-chosen rows of a completed op on the reference backend
// (every op is row-independent: a row computed alone equals the row in the batch).
// Returns "" or a description of the first mismatch.
std::string CheckSampledRows(ops::Backend& reference, const ops::OpInputs& in, uint32_t rows,
                             uint64_t seed) {
  auto one = ops::ComputeOperandSizes(in.kind, 1, in.n, in.k);
  if (!one.ok()) return std::string(one.status().message());
  ops::SplitMix64 rng(seed);
  std::vector<uint8_t> out(one->out), out_scale(one->out_scale);
  for (uint32_t s = 0; s < rows; ++s) {
    int64_t i = rng.Uniform(0, in.m - 1);
    ops::OpArgs args;
    args.kind = in.kind;
    args.m = 1;
    args.n = in.n;
    args.k = in.k;
    args.a = ops::ByteSpan(in.a).subspan(i * one->a, one->a);
    if (one->a_scale > 0)
      args.a_scale = ops::ByteSpan(in.a_scale).subspan(i * one->a_scale, one->a_scale);
    args.w = in.w;
    args.w_scale = in.w_scale;
    args.out = out;
    args.out_scale = out_scale;
    if (absl::Status st = ops::RunOp(reference, args); !st.ok()) {
      return absl::StrCat("reference failed on row ", i, ": ", st.ToString());
    }
    if (std::memcmp(out.data(), in.out.data() + i * one->out, one->out) != 0 ||
        (one->out_scale > 0 &&
         std::memcmp(out_scale.data(), in.out_scale.data() + i * one->out_scale, one->out_scale) !=
             0)) {
      return absl::StrCat("row ", i, " differs from the reference");
    }
  }
  return "";
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Writes, then reads back and compares, one 64-bit pattern over the buffer. The
// barrier keeps the compiler from forwarding the stores to the loads.
__attribute__((noinline)) int64_t PatternPass(uint64_t* buf, size_t words, uint64_t pattern,
                                              bool address_xor) {
  for (size_t i = 0; i < words; ++i)
    buf[i] = address_xor ? (pattern ^ (i * 0x9E3779B97F4A7C15ull)) : pattern;
  asm volatile("" ::: "memory");
  int64_t errors = 0;
  for (size_t i = 0; i < words; ++i) {
    uint64_t want = address_xor ? (pattern ^ (i * 0x9E3779B97F4A7C15ull)) : pattern;
    errors += buf[i] != want;
  }
  return errors;
}

}  // namespace

v1::PhaseResult GoldenPhase(PhaseContext& ctx) {
  v1::PhaseResult r;
  auto vectors = ParseGolden(CompiledGoldenText());
  if (!vectors.ok()) {
    Set(&r, v1::DISPOSITION_FAILED, std::string(vectors.status().message()));
    return r;
  }
  int run = 0, mismatches = 0;
  std::string first;
  for (const GoldenVector& v : *vectors) {
    if (!ctx.backend.Supports(v.kind)) continue;
    auto in = ops::MakeRandomInputs(v.kind, v.m, v.n, v.k, v.seed, v.profile);
    if (!in.ok()) {
      Set(&r, v1::DISPOSITION_FAILED, std::string(in.status().message()));
      return r;
    }
    ops::OpArgs args = in->Args();
    absl::Status st = ops::RunOp(ctx.backend, args);
    ++run;
    std::string got = st.ok() ? ops::OutputDigestHex(args) : st.ToString();
    if (got != v.digest_hex) {
      ++mismatches;
      if (first.empty()) {
        first = absl::StrCat(ops::OpKindName(v.kind), " ", v.m, "x", v.n, "x", v.k, " seed ",
                             v.seed, ": got ", got, ", want ", v.digest_hex);
      }
    }
  }
  (*r.mutable_figures())["vectors"] = run;
  (*r.mutable_figures())["mismatches"] = mismatches;
  if (mismatches > 0) {
    Set(&r, v1::DISPOSITION_INCORRECT,
        absl::StrCat(mismatches, " of ", run, " golden vectors differ; first: ", first));
  } else if (run == 0) {
    Set(&r, v1::DISPOSITION_FAILED, "the backend supports none of the golden vectors' ops");
  } else {
    Set(&r, v1::DISPOSITION_PASSED, absl::StrCat(run, " golden vectors match"));
  }
  return r;
}

v1::PhaseResult ChallengePhase(PhaseContext& ctx) {
  v1::PhaseResult r;
  auto reference = ops::reference::CreateReferenceBackend();
  auto cases = ChallengeCases(ctx.device_class.compute(), ctx.required_ops,
                              ctx.profile.challenge_count(), ctx.nonce);
  double max_seconds = 0;
  std::string failure;
  v1::Disposition bad = v1::DISPOSITION_PASSED;
  int done = 0;
  for (const ChallengeCase& c : cases) {
    if (ctx.Cancelled()) return r;  // RunAdmission discards the phase
    ctx.progress.Update("challenge", absl::StrCat(done, "/", cases.size(), " ", c.label));
    if (!ctx.backend.Supports(c.kind)) {
      if (failure.empty()) failure = absl::StrCat(c.label, ": op not supported");
      bad = v1::DISPOSITION_FAILED;
      continue;
    }
    auto in = ops::MakeRandomInputs(c.kind, c.m, c.n, c.k, c.seed, ops::InputProfile::kWide);
    if (!in.ok()) {
      Set(&r, v1::DISPOSITION_FAILED, std::string(in.status().message()));
      return r;
    }
    ops::OpArgs args = in->Args();
    auto t0 = Clock::now();
    absl::Status st = ops::RunOp(ctx.backend, args);
    double seconds = SecondsSince(t0);
    max_seconds = std::max(max_seconds, seconds);
    ++done;
    v1::ChallengeRecord* rec = r.add_challenges();
    rec->set_label(c.label);
    rec->set_op(ops::OpKindName(c.kind));
    rec->set_m(c.m);
    rec->set_n(c.n);
    rec->set_k(c.k);
    rec->set_seconds(seconds);
    if (!st.ok()) {
      if (failure.empty()) failure = absl::StrCat(c.label, ": ", st.ToString());
      if (bad == v1::DISPOSITION_PASSED) bad = v1::DISPOSITION_FAILED;
      continue;
    }
    rec->set_output_digest(ops::OutputDigestHex(args));
    std::string wrong;
    int64_t bad_row = -1;
    if (c.kind == ops::OpKind::kMatMulS8S32 &&
        !FreivaldsCheckS8S32(c.m, c.n, c.k, in->a, in->w, in->out,
                             DeriveSeed(ctx.nonce, c.label + "/freivalds"), 2, &bad_row)) {
      wrong = absl::StrCat("Freivalds check fails at row ", bad_row);
    }
    if (wrong.empty()) {
      wrong = CheckSampledRows(*reference, *in, ctx.profile.sampled_rows(),
                               DeriveSeed(ctx.nonce, c.label + "/rows"));
    }
    if (!wrong.empty()) {
      if (bad != v1::DISPOSITION_INCORRECT)
        failure = absl::StrCat(c.label, " (", c.m, "x", c.n, "x", c.k, "): ", wrong);
      bad = v1::DISPOSITION_INCORRECT;
    }
  }
  (*r.mutable_figures())["challenges"] = done;
  (*r.mutable_figures())["max_challenge_seconds"] = max_seconds;
  if (bad != v1::DISPOSITION_PASSED) {
    Set(&r, bad, failure);
  } else {
    Set(&r, v1::DISPOSITION_PASSED,
        absl::StrCat(done, " nonce-seeded challenges verified exactly (Freivalds x2 on s8->s32, ",
                     ctx.profile.sampled_rows(), " rows each recomputed on the reference)"));
  }
  return r;
}

v1::PhaseResult StabilityPhase(PhaseContext& ctx) {
  v1::PhaseResult r;
  const auto& s = ctx.device_class.compute().canonical_shape();
  auto in = ops::MakeRandomInputs(ops::OpKind::kMatMulS8S32, s.m(), s.n(), s.k(),
                                  DeriveSeed(ctx.nonce, "stability"), ops::InputProfile::kWide);
  if (!in.ok()) {
    Set(&r, v1::DISPOSITION_FAILED, std::string(in.status().message()));
    return r;
  }
  std::vector<uint8_t> first;
  uint32_t reps = ctx.profile.stability_repetitions();
  for (uint32_t i = 0; i < reps; ++i) {
    if (ctx.Cancelled()) return r;  // RunAdmission discards the phase
    ctx.progress.Update("stability", absl::StrCat(i, "/", reps, " repetitions"));
    std::fill(in->out.begin(), in->out.end(), 0);
    ops::OpArgs args = in->Args();
    if (absl::Status st = ops::RunOp(ctx.backend, args); !st.ok()) {
      Set(&r, v1::DISPOSITION_FAILED, absl::StrCat("repetition ", i, ": ", st.ToString()));
      return r;
    }
    if (i == 0) {
      first = in->out;
      int64_t bad_row = -1;
      if (!FreivaldsCheckS8S32(s.m(), s.n(), s.k(), in->a, in->w, in->out,
                               DeriveSeed(ctx.nonce, "stability/freivalds"), 1, &bad_row)) {
        Set(&r, v1::DISPOSITION_INCORRECT,
            absl::StrCat("first repetition is wrong (row ", bad_row, ")"));
        return r;
      }
    } else if (in->out != first) {
      auto diff = std::mismatch(first.begin(), first.end(), in->out.begin()).first - first.begin();
      Set(&r, v1::DISPOSITION_INCORRECT,
          absl::StrCat("repetition ", i, " differs from repetition 0 at output byte ", diff));
      (*r.mutable_figures())["repetitions"] = i + 1;
      return r;
    }
  }
  (*r.mutable_figures())["repetitions"] = reps;
  Set(&r, v1::DISPOSITION_PASSED,
      absl::StrCat(reps, " repetitions of ", s.m(), "x", s.n(), "x", s.k(),
                   " gave identical bytes"));
  return r;
}

v1::PhaseResult MemoryPhase(PhaseContext& ctx) {
  v1::PhaseResult r;
  // Host pattern test: the memory a CPU backend computes in (and, for every backend,
  // the staging memory). Bandwidth counts bytes written plus bytes read.
  const size_t bytes = ctx.profile.memory_test_mib() << 20;
  std::unique_ptr<uint64_t[]> buf(new (std::nothrow) uint64_t[bytes / 8]);
  if (!buf) {
    Set(&r, v1::DISPOSITION_FAILED,
        absl::StrCat("cannot allocate ", ctx.profile.memory_test_mib(), " MiB"));
    return r;
  }
  const uint64_t patterns[] = {0, ~0ull, 0xAAAAAAAAAAAAAAAAull, 0x5555555555555555ull,
                               DeriveSeed(ctx.nonce, "memory")};
  int64_t errors = 0;
  auto t0 = Clock::now();
  for (size_t p = 0; p < std::size(patterns); ++p) {
    ctx.progress.Update("memory", absl::StrCat("host pattern ", p + 1, "/", std::size(patterns)));
    errors += PatternPass(buf.get(), bytes / 8, patterns[p], p == std::size(patterns) - 1);
  }
  double seconds = SecondsSince(t0);
  buf.reset();
  double gbps = 2.0 * bytes * std::size(patterns) / seconds / 1e9;
  (*r.mutable_figures())["host_mib"] = static_cast<double>(ctx.profile.memory_test_mib());
  (*r.mutable_figures())["bandwidth_gbps"] = gbps;
  (*r.mutable_figures())["host_errors"] = static_cast<double>(errors);
  if (errors > 0) {
    Set(&r, v1::DISPOSITION_INCORRECT, absl::StrCat(errors, " words read back differently"));
    return r;
  }
  // Through the backend: an identity matmul (W = I, N = K = 32) copies patterned A
  // into C, so the backend's own buffers must carry every byte unchanged.
  const int64_t kDim = 32;
  const int64_t backend_bytes = std::min<int64_t>(ctx.profile.memory_test_mib(), 16) << 20;
  const int64_t rows = backend_bytes / kDim / 4;  // four patterns
  std::vector<uint8_t> w(kDim * kDim, 0), a(rows * kDim), c(rows * kDim * 4);
  for (int64_t i = 0; i < kDim; ++i) w[i * kDim + i] = 1;
  const int8_t values[] = {127, -127, 85, -86};
  for (int p = 0; p < 4; ++p) {
    ctx.progress.Update("memory", absl::StrCat("backend pattern ", p + 1, "/4"));
    ops::SplitMix64 rng(DeriveSeed(ctx.nonce, absl::StrCat("memory/backend/", p)));
    for (int64_t i = 0; i < rows * kDim; ++i) {
      a[i] = static_cast<uint8_t>(i % 3 == 0 ? static_cast<int8_t>(rng.Uniform(-127, 127))
                                             : values[p]);
    }
    ops::OpArgs args;
    args.kind = ops::OpKind::kMatMulS8S32;
    args.m = rows;
    args.n = kDim;
    args.k = kDim;
    args.a = a;
    args.w = w;
    args.out = c;
    if (absl::Status st = ops::RunOp(ctx.backend, args); !st.ok()) {
      Set(&r, v1::DISPOSITION_FAILED, absl::StrCat("backend pattern test: ", st.ToString()));
      return r;
    }
    for (int64_t i = 0; i < rows * kDim; ++i) {
      if (static_cast<int32_t>(ops::LoadU32(&c[i * 4])) != static_cast<int8_t>(a[i])) {
        Set(&r, v1::DISPOSITION_INCORRECT,
            absl::StrCat("backend pattern ", p, ": element ", i, " came back changed"));
        return r;
      }
    }
  }
  (*r.mutable_figures())["backend_pattern_mib"] = static_cast<double>(backend_bytes >> 20);
  Set(&r, v1::DISPOSITION_PASSED,
      absl::StrCat(ctx.profile.memory_test_mib(), " MiB host patterns and ", backend_bytes >> 20,
                   " MiB through the backend read back intact"));
  return r;
}

v1::PhaseResult PerformancePhase(PhaseContext& ctx) {
  v1::PhaseResult r;
  const auto& s = ctx.device_class.compute().canonical_shape();
  const double ops_per_call = 2.0 * s.m() * s.n() * s.k();
  auto make = [&](const std::string& label) {
    return ops::MakeRandomInputs(ops::OpKind::kMatMulS8S32, s.m(), s.n(), s.k(),
                                 DeriveSeed(ctx.nonce, label), ops::InputProfile::kWide);
  };
  auto repeat = make("performance/repeat");
  if (!repeat.ok()) {
    Set(&r, v1::DISPOSITION_FAILED, std::string(repeat.status().message()));
    return r;
  }
  std::vector<uint8_t> repeat_out;
  std::vector<double> fresh_s, repeat_s;
  double fresh_total = 0;
  const double duration = ctx.profile.performance_seconds();
  auto start = Clock::now();
  // Fresh and repeated inputs alternate, so both see the same machine load. Every
  // output is verified (Freivalds on fresh ones, byte equality on repeats) outside
  // the timed region: a fast wrong answer is caught, not rewarded.
  for (int64_t iter = 0; SecondsSince(start) < duration || fresh_s.size() < 3; ++iter) {
    if (ctx.Cancelled()) return r;  // RunAdmission discards the phase
    auto fresh = make(absl::StrCat("performance/fresh/", iter));
    if (!fresh.ok()) {
      Set(&r, v1::DISPOSITION_FAILED, std::string(fresh.status().message()));
      return r;
    }
    for (int pass = 0; pass < 2; ++pass) {
      ops::OpInputs& in = pass == 0 ? *fresh : *repeat;
      ops::OpArgs args = in.Args();
      auto t0 = Clock::now();
      absl::Status st = ops::RunOp(ctx.backend, args);
      double sec = SecondsSince(t0);
      if (!st.ok()) {
        Set(&r, v1::DISPOSITION_FAILED, absl::StrCat("run ", iter, ": ", st.ToString()));
        return r;
      }
      bool need_freivalds = pass == 0 || repeat_out.empty();
      if (need_freivalds) {
        int64_t bad_row = -1;
        if (!FreivaldsCheckS8S32(
                s.m(), s.n(), s.k(), in.a, in.w, in.out,
                DeriveSeed(ctx.nonce, absl::StrCat("performance/r/", iter, "/", pass)), 1,
                &bad_row)) {
          Set(&r, v1::DISPOSITION_INCORRECT,
              absl::StrCat(pass == 0 ? "fresh" : "repeated", " run ", iter,
                           " returned a wrong result (Freivalds, row ", bad_row, ")"));
          return r;
        }
        if (pass == 1) repeat_out = in.out;
      } else if (in.out != repeat_out) {
        Set(&r, v1::DISPOSITION_INCORRECT,
            absl::StrCat("repeated run ", iter, " changed its output"));
        return r;
      }
      (pass == 0 ? fresh_s : repeat_s).push_back(sec);
      if (pass == 0) fresh_total += sec;
    }
    ctx.progress.Update("performance",
                        absl::StrFormat("%.1f/%.1f s, %.2f GOP/s", SecondsSince(start), duration,
                                        ops_per_call * fresh_s.size() / fresh_total / 1e9));
  }
  double gops = ops_per_call * fresh_s.size() / fresh_total / 1e9;
  double fresh_med = Median(fresh_s), repeat_med = Median(repeat_s);
  auto& f = *r.mutable_figures();
  f["s8_gops"] = gops;
  f["fresh_runs"] = static_cast<double>(fresh_s.size());
  f["repeat_runs"] = static_cast<double>(repeat_s.size());
  f["fresh_median_ms"] = fresh_med * 1e3;
  f["repeat_median_ms"] = repeat_med * 1e3;
  f["repeat_speedup"] = repeat_med > 0 ? fresh_med / repeat_med : 1e9;
  Set(&r, v1::DISPOSITION_PASSED,
      absl::StrFormat("%.2f GOP/s sustained on matmul_s8_s32 %dx%dx%d over %zu verified runs; "
                      "repeated input %.2fx the speed of fresh ones",
                      gops, s.m(), s.n(), s.k(), fresh_s.size(), f["repeat_speedup"]));
  return r;
}

}  // namespace datanode::conformance::internal
