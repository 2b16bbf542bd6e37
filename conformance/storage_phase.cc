// Copyright 2026 The datanode Authors.
//
// Phase 7, over the node's own weight store (store_view.h):
//   1. capacity and free space of the store (its filesystem, and its configured
//      capacity when smaller);
//   2. a nonce-derived test object written through the store's streaming writer, one
//      durable chunk per 1 MiB (hash, write, fsync, rename), read back with the page
//      cache dropped, then deleted: the throughput and chunk-commit figures;
//   3. proofs of storage over the models the class expects (the registry's list, not
//      the node's): each proof reads a nonce-chosen range of a nonce-chosen chunk of a
//      model's file through the store's verified read, answers SHA-256(nonce || index
//      || bytes), and is timed: a node that fetches the bytes from elsewhere misses the
//      class's latency bound. Data derived from the nonce is never challenged: it could
//      be regenerated instead of stored.
#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "conformance/nonce.h"
#include "conformance/phases.h"
#include "conformance/store_view.h"
#include "datanode/ops/digest.h"
#include "datanode/ops/random_inputs.h"

namespace datanode::conformance::internal {
namespace {

using Clock = std::chrono::steady_clock;
using node::kChunkBytes;

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Chunk `index` of the test object: nonce-derived, so new to the store on every run
// (it is written and read for the figures only; proofs never challenge it).
std::vector<uint8_t> StorageChunkContent(const std::vector<uint8_t>& nonce, uint64_t index) {
  std::vector<uint8_t> out(kChunkBytes);
  ops::SplitMix64 rng(DeriveSeed(nonce, absl::StrCat("storage/", index)));
  for (int64_t i = 0; i < kChunkBytes; i += 8) {
    uint64_t v = rng.Next();
    for (int b = 0; b < 8; ++b) out[i + b] = static_cast<uint8_t>(v >> (8 * b));
  }
  return out;
}

// Asks the kernel to drop a chunk file's cached pages (best effort), so the read-back
// figure is the disk's.
void DropCache(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

// The problems a phase found: the worst disposition (Incorrect > Failed) and the first
// few reasons, every missing model and bad chunk named.
class Problems {
 public:
  void Add(v1::Disposition d, std::string reason) {
    auto rank = [](v1::Disposition x) {
      return x == v1::DISPOSITION_INCORRECT ? 2 : x == v1::DISPOSITION_FAILED ? 1 : 0;
    };
    if (rank(d) > rank(worst_)) worst_ = d;
    if (reasons_.size() < kShown) {
      reasons_.push_back(std::move(reason));
    } else {
      ++more_;
    }
  }
  bool empty() const { return reasons_.empty(); }
  void SetOn(v1::PhaseResult* r) const {
    std::string text = absl::StrJoin(reasons_, "; ");
    if (more_ > 0) absl::StrAppend(&text, "; and ", more_, " more");
    Set(r, worst_, text);
  }

 private:
  static constexpr size_t kShown = 8;
  v1::Disposition worst_ = v1::DISPOSITION_PASSED;
  std::vector<std::string> reasons_;
  size_t more_ = 0;
};

// Steps 1 and 2. Returns false (with `r` set) when the phase cannot go on.
bool MeasureStore(PhaseContext& ctx, node::WeightStore& store, v1::PhaseResult* r) {
  auto& f = *r->mutable_figures();
  const std::string root = store.root().string();
  struct statvfs vfs;
  if (::statvfs(root.c_str(), &vfs) != 0) {
    Set(r, v1::DISPOSITION_FAILED, absl::StrCat("cannot stat the store's filesystem at ", root));
    return false;
  }
  double capacity = static_cast<double>(vfs.f_blocks) * vfs.f_frsize;
  double free = static_cast<double>(vfs.f_bavail) * vfs.f_frsize;
  if (store.capacity_bytes() > 0) {
    capacity = std::min(capacity, static_cast<double>(store.capacity_bytes()));
    free = std::min(free, static_cast<double>(store.capacity_bytes() - store.used_bytes()));
  }
  f["capacity_gib"] = capacity / (1ull << 30);
  f["free_gib"] = std::max(0.0, free) / (1ull << 30);

  const uint64_t count = ctx.profile.storage_test_mib();
  auto writer = store.NewWriter();
  std::vector<double> commit_ms;
  double write_s = 0;
  for (uint64_t i = 0; i < count; ++i) {
    if (ctx.Cancelled()) return false;  // the writer's destructor drops its chunks
    ctx.progress.Update("storage", absl::StrCat("writing test chunk ", i + 1, "/", count));
    std::vector<uint8_t> data = StorageChunkContent(ctx.nonce, i);
    auto t0 = Clock::now();
    absl::Status st = writer->Append(data);  // a full chunk: made durable before returning
    const double s = SecondsSince(t0);
    if (!st.ok()) {
      Set(r, v1::DISPOSITION_FAILED,
          absl::StrCat("writing into the store at ", root, ": ", st.ToString()));
      return false;
    }
    write_s += s;
    commit_ms.push_back(s * 1e3);
  }
  auto t0 = Clock::now();
  auto object = writer->Finish();
  write_s += SecondsSince(t0);
  if (!object.ok()) {
    Set(r, v1::DISPOSITION_FAILED,
        absl::StrCat("writing into the store at ", root, ": ", object.status().ToString()));
    return false;
  }
  const double mb = static_cast<double>(count) * kChunkBytes / 1e6;
  f["chunks_written"] = static_cast<double>(count);
  f["write_mbps"] = mb / write_s;
  f["fsync_median_ms"] = Median(commit_ms);
  f["fsync_max_ms"] = *std::max_element(commit_ms.begin(), commit_ms.end());

  for (const auto& c : object->chunks) DropCache(store.ChunkPath(c));
  double read_s = 0;
  absl::Status read = absl::OkStatus();
  {
    auto reader = store.NewReader(object->digest);
    if (!reader.ok()) read = reader.status();
    for (uint64_t i = 0; read.ok() && !ctx.Cancelled(); ++i) {
      ctx.progress.Update("storage", absl::StrCat("reading test chunk ", i + 1, "/", count));
      std::vector<uint8_t> piece;
      t0 = Clock::now();
      read = (*reader)->Next(&piece);
      read_s += SecondsSince(t0);
      if (piece.empty()) break;
    }
  }
  // The test object is no model: nothing else may hold its chunks, so it goes.
  (void)store.Delete(object->digest);
  if (ctx.Cancelled()) return false;
  if (!read.ok()) {
    Set(r,
        read.code() == absl::StatusCode::kDataLoss ? v1::DISPOSITION_INCORRECT
                                                   : v1::DISPOSITION_FAILED,
        absl::StrCat("read-back of the test object: ", read.message()));
    return false;
  }
  f["read_mbps"] = mb / read_s;
  return true;
}

}  // namespace

std::string ProofAnswer(const std::vector<uint8_t>& nonce, uint32_t index, ops::ByteSpan bytes) {
  uint8_t le[4] = {static_cast<uint8_t>(index), static_cast<uint8_t>(index >> 8),
                   static_cast<uint8_t>(index >> 16), static_cast<uint8_t>(index >> 24)};
  return ops::ToHex(ops::Sha256Of({ops::ByteSpan(nonce), ops::ByteSpan(le, 4), bytes}));
}

size_t ProofModelIndex(const std::vector<uint8_t>& nonce, uint32_t index, size_t models) {
  std::vector<size_t> order(models);
  for (size_t i = 0; i < models; ++i) order[i] = i;
  ops::SplitMix64 rng(DeriveSeed(nonce, "proof/order"));
  for (size_t i = models; i > 1; --i) {
    std::swap(order[i - 1], order[rng.Uniform(0, static_cast<int64_t>(i) - 1)]);
  }
  return order[index % models];
}

ProofTarget DeriveProofTarget(const std::vector<uint8_t>& nonce, uint32_t index,
                              int64_t object_size) {
  ops::SplitMix64 rng(DeriveSeed(nonce, absl::StrCat("proof/", index)));
  ProofTarget t;
  const int64_t chunks = (object_size + kChunkBytes - 1) / kChunkBytes;
  t.chunk_index = rng.Uniform(0, chunks - 1);
  const int64_t chunk_size = std::min(kChunkBytes, object_size - t.chunk_index * kChunkBytes);
  t.length = std::min<int64_t>(chunk_size, rng.Uniform(4096, 65536));
  t.offset = rng.Uniform(0, chunk_size - t.length);
  return t;
}

v1::PhaseResult StoragePhase(PhaseContext& ctx) {
  v1::PhaseResult r;
  const StoreView* view = ctx.options.store;
  if (view == nullptr) {
    Set(&r, v1::DISPOSITION_FAILED,
        "no weight store to test: the storage phase runs on the node's own store "
        "(dn-conformance run --store-dir DIR, or dnctl admission through the daemon)");
    return r;
  }
  if (!MeasureStore(ctx, view->store(), &r)) return r;
  auto& f = *r.mutable_figures();

  // The models the registry expects, resolved in the node's store.
  const auto& expected = ctx.device_class.storage().expected_models();
  f["expected_models"] = expected.size();
  if (expected.empty()) {
    Set(&r, v1::DISPOSITION_FAILED,
        absl::StrCat("class ", ctx.device_class.name(),
                     " lists no expected models (storage.expected_models): there is nothing "
                     "to prove"));
    return r;
  }
  Problems problems;
  std::vector<std::string> missing;
  std::vector<std::optional<node::ObjectInfo>> objects(expected.size());
  for (int i = 0; i < expected.size(); ++i) {
    auto digest = node::ParseDigestHex(expected[i]);  // the loader checked the form
    if (!digest.ok()) {
      problems.Add(v1::DISPOSITION_FAILED, std::string(digest.status().message()));
      continue;
    }
    auto object = view->ModelObject(*digest);
    if (absl::IsNotFound(object.status())) {
      missing.push_back(std::string(object.status().message()));
    } else if (!object.ok()) {
      problems.Add(object.status().code() == absl::StatusCode::kDataLoss ? v1::DISPOSITION_INCORRECT
                                                                         : v1::DISPOSITION_FAILED,
                   absl::StrCat("expected model ", expected[i], ": ", object.status().message()));
    } else if (object->size == 0) {
      problems.Add(v1::DISPOSITION_FAILED,
                   absl::StrCat("expected model ", expected[i], " is empty"));
    } else {
      objects[i] = *std::move(object);
    }
  }
  f["missing_models"] = missing.size();
  if (!missing.empty()) {
    problems.Add(v1::DISPOSITION_FAILED,
                 absl::StrCat(missing.size(), " of ", expected.size(),
                              " expected models missing: ", absl::StrJoin(missing, "; ")));
  }

  const uint32_t proofs = ctx.profile.proof_challenges();
  double max_ms = 0;
  uint32_t answered = 0;
  for (uint32_t i = 0; i < proofs; ++i) {
    if (ctx.Cancelled()) return r;  // RunAdmission discards the phase
    ctx.progress.Update("storage", absl::StrCat("proof of storage ", i + 1, "/", proofs));
    const size_t m = ProofModelIndex(ctx.nonce, i, expected.size());
    if (!objects[m]) continue;  // missing or unreadable: reported above
    const node::ObjectInfo& object = *objects[m];
    const ProofTarget t = DeriveProofTarget(ctx.nonce, i, object.size);
    const std::string chunk = ops::ToHex(object.chunks[t.chunk_index]);
    v1::ProofRecord* rec = r.add_proofs();
    rec->set_index(i);
    rec->set_model(expected[m]);
    rec->set_chunk(chunk);
    rec->set_chunk_index(t.chunk_index);
    rec->set_offset(t.offset);
    rec->set_length(t.length);
    // The prover: read through the store (every chunk verified) and answer, timed.
    std::vector<uint8_t> bytes;
    auto t0 = Clock::now();
    absl::Status st =
        view->ReadRange(object.digest, t.chunk_index * kChunkBytes + t.offset, t.length, &bytes);
    if (st.ok()) rec->set_answer(ProofAnswer(ctx.nonce, i, bytes));
    const double ms = SecondsSince(t0) * 1e3;
    rec->set_milliseconds(ms);
    max_ms = std::max(max_ms, ms);
    if (st.ok()) {
      ++answered;
      continue;
    }
    const std::string where = absl::StrCat("proof ", i, ": chunk ", chunk, " (chunk ",
                                           t.chunk_index, " of model ", expected[m], ")");
    // Where the bytes should be: the object's pack (a large imported file) or the
    // chunk's own file. Gone is a missing chunk; present but unreadable is wrong bytes.
    const std::filesystem::path file = object.packed
                                           ? view->store().PackPath(object.digest)
                                           : view->store().ChunkPath(object.chunks[t.chunk_index]);
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) {
      problems.Add(v1::DISPOSITION_FAILED, absl::StrCat(where, " is missing from the store"));
    } else {
      problems.Add(st.code() == absl::StatusCode::kDataLoss ? v1::DISPOSITION_INCORRECT
                                                            : v1::DISPOSITION_FAILED,
                   absl::StrCat(where, ": ", st.message()));
    }
  }
  f["proofs"] = proofs;
  f["proofs_answered"] = answered;
  f["proof_max_ms"] = max_ms;
  if (!problems.empty()) {
    problems.SetOn(&r);
  } else {
    Set(&r, v1::DISPOSITION_PASSED,
        absl::StrFormat("%.0f MiB written durably into the store at %s (%.0f MB/s, chunk commit "
                        "median %.2f ms) and read back (%.0f MB/s); %u proofs over %d expected "
                        "models answered from it, slowest %.2f ms",
                        f["chunks_written"], view->store().root().string(), f["write_mbps"],
                        f["fsync_median_ms"], f["read_mbps"], proofs, expected.size(), max_ms));
  }
  return r;
}

}  // namespace datanode::conformance::internal
