// Copyright 2026 The datanode Authors.
//
// Phase 7: nonce-derived chunks written durably, read back and hashed; throughput and
// fsync latency; then proof-of-storage challenges over the admission chunks and the
// chunks the store's MANIFEST says the node holds (its weights).
#include <sys/statvfs.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "conformance/chunk_store.h"
#include "conformance/nonce.h"
#include "conformance/phases.h"
#include "datanode/ops/digest.h"
#include "datanode/ops/random_inputs.h"

namespace datanode::conformance::internal {
namespace {

using Clock = std::chrono::steady_clock;

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

std::vector<uint8_t> StorageChunkContent(const std::vector<uint8_t>& nonce, uint64_t index) {
  std::vector<uint8_t> out(kChunkBytes);
  ops::SplitMix64 rng(DeriveSeed(nonce, absl::StrCat("storage/", index)));
  for (int64_t i = 0; i < kChunkBytes; i += 8) {
    uint64_t v = rng.Next();
    for (int b = 0; b < 8; ++b) out[i + b] = static_cast<uint8_t>(v >> (8 * b));
  }
  return out;
}

std::string ProofAnswer(const std::vector<uint8_t>& nonce, uint32_t index, ops::ByteSpan bytes) {
  uint8_t le[4] = {static_cast<uint8_t>(index), static_cast<uint8_t>(index >> 8),
                   static_cast<uint8_t>(index >> 16), static_cast<uint8_t>(index >> 24)};
  return ops::ToHex(ops::Sha256Of({ops::ByteSpan(nonce), ops::ByteSpan(le, 4), bytes}));
}

v1::PhaseResult StoragePhase(PhaseContext& ctx) {
  v1::PhaseResult r;
  auto& f = *r.mutable_figures();
  ChunkStore store(ctx.options.store_dir);
  struct statvfs vfs;
  if (::statvfs(store.root().c_str(), &vfs) != 0) {
    Set(&r, v1::DISPOSITION_FAILED, absl::StrCat("cannot stat the store directory ", store.root()));
    return r;
  }
  f["capacity_gib"] = static_cast<double>(vfs.f_blocks) * vfs.f_frsize / (1ull << 30);
  f["free_gib"] = static_cast<double>(vfs.f_bavail) * vfs.f_frsize / (1ull << 30);

  // 1. Write nonce-derived chunks durably (write + fsync + rename + dir fsync).
  const uint64_t count = ctx.profile.storage_test_mib();
  std::vector<std::string> names;
  std::vector<double> fsync_ms;
  double write_s = 0;
  for (uint64_t i = 0; i < count; ++i) {
    if (ctx.Cancelled()) {  // RunAdmission discards the phase; leave the store as found
      for (const auto& n : names) (void)store.Remove(n);
      return r;
    }
    ctx.progress.Update("storage", absl::StrCat("writing chunk ", i + 1, "/", count));
    std::vector<uint8_t> data = StorageChunkContent(ctx.nonce, i);
    double ms = 0;
    auto t0 = Clock::now();
    auto name = store.Put(data, &ms);
    write_s += SecondsSince(t0);
    if (!name.ok()) {
      Set(&r, v1::DISPOSITION_FAILED, absl::StrCat("write: ", name.status().ToString()));
      return r;
    }
    names.push_back(*name);
    fsync_ms.push_back(ms);
  }
  const double mb = static_cast<double>(count) * kChunkBytes / 1e6;
  f["chunks_written"] = static_cast<double>(count);
  f["write_mbps"] = mb / write_s;
  f["fsync_median_ms"] = Median(fsync_ms);
  f["fsync_max_ms"] = *std::max_element(fsync_ms.begin(), fsync_ms.end());
  if (ctx.options.after_storage_write) ctx.options.after_storage_write(store.root());

  auto cleanup = [&] {
    for (const auto& n : names) (void)store.Remove(n);
  };
  // 2. Read back (page cache dropped first where the kernel allows) and hash.
  double read_s = 0;
  for (uint64_t i = 0; i < count; ++i) {
    ctx.progress.Update("storage", absl::StrCat("reading chunk ", i + 1, "/", count));
    store.DropCache(names[i]);
    auto t0 = Clock::now();
    auto data = store.Get(names[i]);
    read_s += SecondsSince(t0);
    if (!data.ok()) {
      cleanup();
      Set(&r,
          data.status().code() == absl::StatusCode::kDataLoss ? v1::DISPOSITION_INCORRECT
                                                              : v1::DISPOSITION_FAILED,
          absl::StrCat("read-back of admission chunk ", i, ": ", data.status().message()));
      return r;
    }
  }
  f["read_mbps"] = mb / read_s;

  // 3. Proof of storage: each challenge names a chunk and a range chosen from the
  // nonce; the answer hashes the range salted with the nonce. Chunks are visited in
  // a nonce-shuffled order, so with at least as many challenges as chunks every
  // chunk is challenged once. The local checker knows admission chunks' contents
  // (regenerated from the nonce) and verifies weight chunks against their names.
  auto manifest = store.Manifest();
  if (!manifest.ok()) {
    cleanup();
    Set(&r, v1::DISPOSITION_INCORRECT, std::string(manifest.status().message()));
    return r;
  }
  std::vector<std::pair<std::string, int64_t>> targets;  // name, admission index or -1
  for (uint64_t i = 0; i < count; ++i) targets.emplace_back(names[i], static_cast<int64_t>(i));
  for (const auto& n : *manifest) targets.emplace_back(n, -1);
  ops::SplitMix64 order(DeriveSeed(ctx.nonce, "proof/order"));
  for (size_t i = targets.size(); i > 1; --i) {
    std::swap(targets[i - 1], targets[order.Uniform(0, static_cast<int64_t>(i) - 1)]);
  }
  double max_ms = 0;
  std::string failure;
  v1::Disposition bad = v1::DISPOSITION_PASSED;
  const uint32_t proofs = ctx.profile.proof_challenges();
  for (uint32_t i = 0; i < proofs; ++i) {
    if (ctx.Cancelled()) break;  // RunAdmission discards the phase; cleanup below runs
    ctx.progress.Update("storage", absl::StrCat("proof of storage ", i + 1, "/", proofs));
    const auto& [name, admission_index] = targets[i % targets.size()];
    v1::ProofRecord* rec = r.add_proofs();
    rec->set_index(i);
    rec->set_chunk(name);
    rec->set_nonce_derived(admission_index >= 0);
    // The prover: stat, read the range, answer; all timed.
    auto t0 = Clock::now();
    auto size = store.Size(name);
    if (!size.ok()) {
      if (bad == v1::DISPOSITION_PASSED)
        failure = absl::StrCat("proof ", i, ": ", size.status().message());
      bad = v1::DISPOSITION_FAILED;
      continue;
    }
    ops::SplitMix64 rng(DeriveSeed(ctx.nonce, absl::StrCat("proof/", i)));
    uint64_t length = std::min<uint64_t>(*size, rng.Uniform(4096, 65536));
    uint64_t offset = *size > length ? rng.Uniform(0, static_cast<int64_t>(*size - length)) : 0;
    auto bytes = store.ReadRange(name, offset, length);
    std::string answer = bytes.ok() ? ProofAnswer(ctx.nonce, i, *bytes) : "";
    double ms = SecondsSince(t0) * 1e3;
    max_ms = std::max(max_ms, ms);
    rec->set_offset(offset);
    rec->set_length(length);
    rec->set_answer(answer);
    rec->set_milliseconds(ms);
    // The checker (untimed).
    std::vector<uint8_t> truth;
    if (admission_index >= 0) {
      truth = StorageChunkContent(ctx.nonce, admission_index);
    } else {
      auto whole = store.Get(name);
      if (!whole.ok()) {
        if (bad != v1::DISPOSITION_INCORRECT)
          failure = absl::StrCat("proof ", i, ": ", whole.status().message());
        bad = whole.status().code() == absl::StatusCode::kDataLoss ? v1::DISPOSITION_INCORRECT
                                                                   : v1::DISPOSITION_FAILED;
        continue;
      }
      truth = std::move(*whole);
    }
    if (offset + length > truth.size() ||
        answer != ProofAnswer(ctx.nonce, i, ops::ByteSpan(truth).subspan(offset, length))) {
      if (bad != v1::DISPOSITION_INCORRECT) {
        failure = absl::StrCat("proof ", i, ": wrong answer for chunk ", name, " [", offset, ", +",
                               length, ")");
      }
      bad = v1::DISPOSITION_INCORRECT;
    }
  }
  cleanup();
  f["proofs"] = proofs;
  f["proof_max_ms"] = max_ms;
  f["manifest_chunks"] = static_cast<double>(manifest->size());
  if (bad != v1::DISPOSITION_PASSED) {
    Set(&r, bad, failure);
  } else {
    Set(&r, v1::DISPOSITION_PASSED,
        absl::StrFormat("%d chunks written (%.0f MB/s) and read back (%.0f MB/s) intact; %u proofs "
                        "over %zu chunks answered, slowest %.2f ms",
                        count, f["write_mbps"], f["read_mbps"], proofs, targets.size(), max_ms));
  }
  return r;
}

}  // namespace datanode::conformance::internal
