// Copyright 2026 The datanode Authors.
//
// The partition of the work must never change a byte:
//   - batch invariance: row i computed alone (or in any sub-batch) equals row i of
//     the full batch, for every op (a request's answer cannot depend on who else was
//     batched with it);
//   - thread-count invariance: 1, 2, 3 and 7 worker threads give identical bytes
//     (and the reference's);
//   - concurrent Run() calls on one backend, sharing prepared weights, give the
//     bytes of serial runs.
// Checked on every compiled backend that can be created, and on the CPU backend for
// every kernel family this machine has.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "datanode/ops/backend.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/types.h"
#include "tests/ops/test_util.h"

namespace datanode::ops {
namespace {

using testing::CaseInfo;
using testing::CompareOutputs;
using testing::CreateCpuWithIsa;
using testing::Describe;
using testing::SliceRows;

struct Shape {
  int64_t m, n, k;
};

// Shapes with M large enough for several row tiles plus a remainder, N with column
// tile remainders, and K with a partial last block of 32 / 64 where it may have one.
Shape ShapeFor(OpKind kind, int variant) {
  // The block formats' K is a multiple of their block b: 32, or 256 for the K-quants.
  const int64_t b = FindOpInfo(kind)->k_multiple;
  const bool blocked = b > 1;
  const int64_t n_scale = IsMatMul(kind) ? 1 : 0;
  switch (variant) {
    case 0:
      return {37, 67 * n_scale, blocked ? (544 + b - 1) / b * b : 545};
    case 1:
      return {19, 257 * n_scale, blocked ? 4096 + b : 4099};
    default:
      return {66, 33 * n_scale, blocked ? std::max<int64_t>(64, b) : 97};
  }
}

using Subject = testing::BackendUnderTest;
using testing::AllBackendsUnderTest;

// Runs `in` on `backend`, optionally with prepared weights; ADD_FAILUREs on error.
bool RunOn(Backend& backend, OpInputs& in, const PreparedWeights* prepared,
           const std::string& what) {
  OpArgs args = in.Args();
  if (prepared != nullptr) {
    args.w_prepared = prepared;
    args.w = {};
    args.w_scale = {};
  }
  const absl::Status st = RunOp(backend, args);
  EXPECT_TRUE(st.ok()) << what << ": " << st;
  return st.ok();
}

TEST(BatchInvariance, RowAloneAndSubBatchesEqualTheFullBatch) {
  int checked = 0;
  for (Subject& subject : AllBackendsUnderTest(2)) {
    for (OpKind kind : kAllOpKinds) {
      if (!subject.backend->Supports(kind)) continue;  // not this test's concern
      for (int variant = 0; variant < 3; ++variant) {
        const Shape s = ShapeFor(kind, variant);
        const InputProfile profile = testing::kAllProfiles[variant];
        const CaseInfo info{
            kind,    s.m, s.n,           s.k,  0xBA7C4 + static_cast<uint64_t>(variant),
            profile, 2,   subject.label, false};
        absl::StatusOr<OpInputs> in = MakeRandomInputs(kind, s.m, s.n, s.k, info.seed, profile);
        ASSERT_TRUE(in.ok()) << in.status();
        OpInputs full = *in;
        ASSERT_TRUE(RunOn(*subject.backend, full, nullptr, Describe(info)));
        std::unique_ptr<PreparedWeights> prepared;
        if (IsMatMul(kind)) {
          auto p = subject.backend->PrepareWeights(kind, s.n, s.k, in->w, in->w_scale);
          ASSERT_TRUE(p.ok()) << p.status();
          prepared = *std::move(p);
        }
        // Every row alone, then sub-batches of irregular sizes (1, 2, 3, 5, 8, ...)
        // starting at irregular offsets.
        std::vector<std::pair<int64_t, int64_t>> ranges;
        for (int64_t r = 0; r < s.m; ++r) ranges.push_back({r, r + 1});
        int64_t size = 1, prev = 1;
        for (int64_t begin = 0; begin < s.m;) {
          const int64_t end = std::min(s.m, begin + size);
          ranges.push_back({begin, end});
          begin = end;
          const int64_t next = size + prev;
          prev = size;
          size = next;
        }
        for (auto [begin, end] : ranges) {
          OpInputs part = SliceRows(*in, begin, end);
          // Alternate raw and prepared weights: both must give the batch's bytes.
          const bool use_prepared = prepared != nullptr && (begin + end) % 2 == 1;
          const std::string what = Describe(info) + " backend " + subject.label + " rows [" +
                                   std::to_string(begin) + ", " + std::to_string(end) + ")" +
                                   (use_prepared ? " prepared" : " raw");
          ASSERT_TRUE(RunOn(*subject.backend, part, use_prepared ? prepared.get() : nullptr, what));
          // SliceRows zeroes outputs: copy the batch's rows in for the comparison.
          OpInputs want = part;
          const size_t out_row = full.out.size() / full.m;
          want.out.assign(full.out.begin() + begin * out_row, full.out.begin() + end * out_row);
          if (!full.out_scale.empty()) {
            want.out_scale.assign(full.out_scale.begin() + begin * 4,
                                  full.out_scale.begin() + end * 4);
          }
          const std::string diff = CompareOutputs(want, part);
          ASSERT_EQ(diff, "") << what << " differs from the same rows in the batch";
          ++checked;
        }
      }
    }
  }
  std::printf("%d row ranges checked against their batch\n", checked);
  EXPECT_GT(checked, 0);
}

TEST(ThreadCountInvariance, OneTwoThreeSevenThreadsGiveIdenticalBytes) {
  std::unique_ptr<Backend> reference = *CreateBackend("reference");
  std::vector<std::vector<Subject>> by_threads;
  const int kThreadCounts[] = {1, 2, 3, 7};
  for (int t : kThreadCounts) by_threads.push_back(AllBackendsUnderTest(t));
  int checked = 0;
  for (OpKind kind : kAllOpKinds) {
    for (int variant = 0; variant < 3; ++variant) {
      Shape s = ShapeFor(kind, variant);
      if (variant == 2 && IsMatMul(kind)) s = {1, 301, s.k};  // decode: one row, many columns
      const InputProfile profile = testing::kAllProfiles[(variant + 1) % 3];
      const uint64_t seed = 0x7EAD5 + static_cast<uint64_t>(variant);
      absl::StatusOr<OpInputs> in = MakeRandomInputs(kind, s.m, s.n, s.k, seed, profile);
      ASSERT_TRUE(in.ok()) << in.status();
      OpInputs expected = *in;
      ASSERT_TRUE(RunOp(*reference, expected.Args()).ok());
      for (size_t t = 0; t < by_threads.size(); ++t) {
        for (Subject& subject : by_threads[t]) {
          if (!subject.backend->Supports(kind)) continue;
          const CaseInfo info{kind,          s.m,  s.n, s.k, seed, profile, kThreadCounts[t],
                              subject.label, false};
          OpInputs actual = *in;
          ASSERT_TRUE(RunOn(*subject.backend, actual, nullptr, Describe(info)));
          ASSERT_EQ(CompareOutputs(expected, actual), "") << Describe(info);
          ++checked;
        }
      }
    }
  }
  std::printf("%d (op, shape, backend, thread count) runs equal to the reference\n", checked);
  EXPECT_GT(checked, 0);
}

TEST(ConcurrentRuns, ManyCallersOnOneBackendGetSerialBytes) {
  for (Subject& subject : AllBackendsUnderTest(2)) {
    SCOPED_TRACE("backend " + subject.label);
    // One input set per op (two for the matmuls: raw and prepared weights), computed
    // serially first.
    struct Job {
      OpInputs in;
      OpInputs expected;
      std::unique_ptr<PreparedWeights> prepared;
      CaseInfo info;
    };
    std::vector<Job> jobs;
    for (OpKind kind : kAllOpKinds) {
      if (!subject.backend->Supports(kind)) continue;
      for (int prepared = 0; prepared < (IsMatMul(kind) ? 2 : 1); ++prepared) {
        const Shape s = ShapeFor(kind, prepared);
        Job job;
        job.info = {
            kind, s.m,           s.n,          s.k, 0xC0C0 + jobs.size(), InputProfile::kWide,
            2,    subject.label, prepared == 1};
        auto in = MakeRandomInputs(kind, s.m, s.n, s.k, job.info.seed, job.info.profile);
        ASSERT_TRUE(in.ok()) << in.status();
        job.in = *std::move(in);
        if (prepared == 1) {
          auto p = subject.backend->PrepareWeights(kind, s.n, s.k, job.in.w, job.in.w_scale);
          ASSERT_TRUE(p.ok()) << p.status();
          job.prepared = *std::move(p);
        }
        job.expected = job.in;
        ASSERT_TRUE(RunOn(*subject.backend, job.expected, job.prepared.get(), "serial"));
        jobs.push_back(std::move(job));
      }
    }
    constexpr int kCallers = 4;
    constexpr int kRounds = 3;
    std::vector<std::string> errors(kCallers);
    std::vector<std::thread> callers;
    for (int c = 0; c < kCallers; ++c) {
      callers.emplace_back([&, c] {
        for (int round = 0; round < kRounds; ++round) {
          for (size_t j = 0; j < jobs.size(); ++j) {
            // Each caller walks the jobs from a different starting point.
            const Job& job = jobs[(j + c * 3) % jobs.size()];
            OpInputs mine = job.in;
            OpArgs args = mine.Args();
            if (job.prepared) {
              args.w_prepared = job.prepared.get();
              args.w = {};
              args.w_scale = {};
            }
            const absl::Status st = RunOp(*subject.backend, args);
            std::string diff = st.ok() ? CompareOutputs(job.expected, mine) : st.ToString();
            if (!diff.empty() && errors[c].empty()) {
              errors[c] = Describe(job.info) + " caller " + std::to_string(c) + ": " + diff;
            }
          }
        }
      });
    }
    for (std::thread& t : callers) t.join();
    for (int c = 0; c < kCallers; ++c) EXPECT_EQ(errors[c], "");
  }
}

}  // namespace
}  // namespace datanode::ops
