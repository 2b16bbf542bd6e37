// Copyright 2026 The datanode Authors.
//
// What the verified-mode benchmarks (bench_verify, bench_exact_output) share: exiting on a
// setup error, seconds from clocks, and the fastest / median of a cell's samples.
#ifndef DATANODE_BENCH_VERIFY_BENCH_TIMING_H_
#define DATANODE_BENCH_VERIFY_BENCH_TIMING_H_

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "absl/status/status.h"

namespace datanode::bench {

[[noreturn]] inline void Die(const absl::Status& st, const char* what) {
  std::fprintf(stderr, "%s: %s\n", what, st.ToString().c_str());
  std::exit(1);
}

// A POSIX CPU-time clock (CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID) in seconds.
inline double CpuSeconds(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

inline double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// The fastest and the median of a cell's samples (at least one).
struct Timing {
  double best = 0;
  double median = 0;
};
inline Timing Summarize(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  return {samples.front(), samples[samples.size() / 2]};
}

}  // namespace datanode::bench

#endif  // DATANODE_BENCH_VERIFY_BENCH_TIMING_H_
