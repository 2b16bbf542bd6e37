// Copyright 2026 The datanode Authors.
//
// The storage phase over the node's real weight store (node/store + node/import):
// model files imported into a store on disk, a class expecting them. An honest store
// is admitted and its proofs recheck against the verifier's own copy; a flipped byte in
// a challenged chunk, a deleted chunk, a missing model and a store that answers from
// elsewhere (the real store behind a delay) are each rejected with the phase and the
// culprit named.
#include <sys/statvfs.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "conformance/report.h"
#include "conformance/store_view.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/reference.h"
#include "datanode/util/ed25519.h"
#include "test_support.h"

namespace datanode::conformance {
namespace {

using testing::PhaseOf;

// A safetensors file holding one U8 tensor of `bytes` seeded random bytes.
void WriteSafetensors(const std::string& path, size_t bytes, uint64_t seed) {
  std::string header = absl::StrCat(R"({"w":{"dtype":"U8","shape":[)", bytes,
                                    R"(],"data_offsets":[0,)", bytes, "]}}");
  header.append((8 - header.size() % 8) % 8, ' ');
  std::ofstream f(path, std::ios::binary);
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) f.put(static_cast<char>(n >> (8 * i)));
  f << header;
  ops::SplitMix64 rng(seed);
  std::vector<char> data(bytes);
  for (auto& b : data) b = static_cast<char>(rng.Next());
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// A storage class expecting `models`; `proofs` proofs must answer within `max_proof_ms`.
std::string StorageClass(const std::vector<std::string>& models, int max_proof_ms, int proofs) {
  std::string list;
  for (const auto& m : models) absl::StrAppend(&list, "  expected_models: \"", m, "\"\n");
  return absl::StrCat(
      R"pb(name: "test_storage"
           spec_version: 2
           storage { min_capacity_gib: 0.01 min_seq_write_mbps: 0.5 min_seq_read_mbps: 0.5
                     max_fsync_latency_ms: 5000
                     max_proof_response_ms:)pb",
      max_proof_ms, "\n", list, R"pb(}
                                     quick { storage_test_mib: 2 proof_challenges: )pb",
      proofs, R"pb(}
                   full { storage_test_mib: 2 proof_challenges: )pb",
      proofs, " }\n");
}

// The real store behind a fixed delay on every proof read: a node that keeps no copy
// and fetches challenged bytes from elsewhere.
class DelayedStoreView : public StoreView {
 public:
  DelayedStoreView(const OpenedStore& s, std::chrono::milliseconds delay)
      : StoreView(s.store.get(), s.models.get()), delay_(delay) {}
  absl::Status ReadRange(const ops::Sha256& object, int64_t offset, int64_t length,
                         std::vector<uint8_t>* out) const override {
    std::this_thread::sleep_for(delay_);
    return StoreView::ReadRange(object, offset, length, out);
  }

 private:
  std::chrono::milliseconds delay_;
};

class StorageTest : public ::testing::Test {
 protected:
  // Two model files (3 chunks and 1 chunk) imported into the node's store.
  void SetUp() override {
    WriteSafetensors(dir_.path() + "/big.safetensors", 2 * node::kChunkBytes + 300000, 1);
    WriteSafetensors(dir_.path() + "/small.safetensors", 100000, 2);
    store_ = Import(dir_.path() + "/store");
  }

  // With packed_, the big file is stored as one pack file (as imports of files from
  // 64 MiB are), the small one as chunk files either way.
  OpenedStore Import(const std::string& root) {
    std::filesystem::create_directories(root);
    auto s = OpenStoreDir(root);
    EXPECT_TRUE(s.ok()) << s.status();
    models_.clear();
    node::ImportOptions options;
    if (packed_) options.copy.pack_min_bytes = node::kChunkBytes;
    for (const char* f : {"big", "small"}) {
      auto m = s->models->ImportFile(dir_.path() + "/" + f + ".safetensors", options);
      EXPECT_TRUE(m.ok()) << m.status();
      models_.push_back(ops::ToHex(m->model));
    }
    return *std::move(s);
  }

  // An honest read (a 1 MiB chunk read and hashed) takes milliseconds: 400 ms leaves a
  // loaded 2-core machine a wide margin.
  device_classes::LoadedClass Class(const std::vector<std::string>& models, int max_proof_ms = 400,
                                    int proofs = 8) {
    return testing::WriteAndLoadClass(
        dir_.path(), StorageClass(models, max_proof_ms, proofs).c_str(), "test_storage");
  }

  v1::AdmissionReport Run(const device_classes::LoadedClass& cls, const StoreView* view) {
    auto backend = ops::reference::CreateReferenceBackend();
    RunOptions o = testing::QuickOptions(cls);
    o.store = view;
    auto r = RunAdmission(*backend, cls, o);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : v1::AdmissionReport();
  }

  // The file holding a proof's chunk and the chunk's offset in it.
  std::pair<std::filesystem::path, int64_t> ChunkFile(const v1::ProofRecord& proof) {
    auto model = node::ParseDigestHex(proof.model());
    auto chunk = node::ParseDigestHex(proof.chunk());
    EXPECT_TRUE(model.ok() && chunk.ok());
    auto object = store_.view->ModelObject(*model);
    EXPECT_TRUE(object.ok()) << object.status();
    if (object->packed) {
      return {store_.store->PackPath(object->digest),
              static_cast<int64_t>(proof.chunk_index()) * node::kChunkBytes};
    }
    return {store_.store->ChunkPath(*chunk), 0};
  }

  // Flips one byte inside the range proof `index` of `report` challenged.
  void FlipChallengedByte(const v1::AdmissionReport& report, int index) {
    const auto& proof = PhaseOf(report, v1::PHASE_STORAGE).proofs(index);
    const auto [path, base] = ChunkFile(proof);
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good()) << path;
    const auto at = static_cast<std::streamoff>(base + proof.offset() + proof.length() / 2);
    f.seekg(at);
    const char c = static_cast<char>(f.get() ^ 0x20);
    f.seekp(at);
    f.put(c);
  }

  bool packed_ = false;
  testing::TempDir dir_;
  OpenedStore store_;
  std::vector<std::string> models_;
};

// The same checks on chunk files (false) and on a pack file (true).
class StorageLayoutTest : public StorageTest, public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override {
    packed_ = GetParam();
    StorageTest::SetUp();
  }
};
INSTANTIATE_TEST_SUITE_P(ChunkFilesAndPack, StorageLayoutTest, ::testing::Bool());

TEST_P(StorageLayoutTest, HonestStoreIsAdmittedAndItsProofsRecheckAgainstTheVerifiersCopy) {
  const auto cls = Class(models_);
  const auto objects_before = store_.store->List();
  v1::AdmissionReport r = Run(cls, store_.view.get());
  const auto& p = PhaseOf(r, v1::PHASE_STORAGE);
  ASSERT_TRUE(r.admitted()) << p.reason();
  ASSERT_EQ(p.proofs_size(), 8);
  // Every expected model was challenged, inside a chunk, and no proof touched data
  // derived from the nonce.
  std::set<std::string> challenged;
  for (const auto& proof : p.proofs()) {
    challenged.insert(proof.model());
    EXPECT_FALSE(proof.nonce_derived());
    EXPECT_GE(proof.length(), 4096u);
    EXPECT_LE(proof.offset() + proof.length(), static_cast<uint64_t>(node::kChunkBytes));
    EXPECT_EQ(proof.answer().size(), 64u);
  }
  EXPECT_EQ(challenged, std::set<std::string>(models_.begin(), models_.end()));
  auto big = store_.view->ModelObject(*node::ParseDigestHex(models_[0]));
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->packed, packed_);
  // The figures describe the store's filesystem, and the test object is gone again.
  struct statvfs vfs;
  ASSERT_EQ(::statvfs(store_.store->root().c_str(), &vfs), 0);
  EXPECT_NEAR(p.figures().at("capacity_gib"),
              static_cast<double>(vfs.f_blocks) * vfs.f_frsize / (1ull << 30), 1e-6);
  EXPECT_EQ(p.figures().at("chunks_written"), 2);
  EXPECT_GT(p.figures().at("write_mbps"), 0);
  EXPECT_GT(p.figures().at("read_mbps"), 0);
  EXPECT_EQ(store_.store->List(), objects_before);
  EXPECT_NE(p.reason().find(store_.store->root().string()), std::string::npos) << p.reason();

  // The admin imports the same files into its own store and rechecks every answer.
  OpenedStore admin = Import(dir_.path() + "/admin_store");
  std::string key = dir_.path() + "/k.pem", pub = dir_.path() + "/k.pub.pem";
  ASSERT_TRUE(util::GenerateEd25519KeyFiles(key, pub).ok());
  ASSERT_TRUE(SignReport(key, &r).ok());
  auto pk = util::ReadEd25519PublicKey(pub);
  ASSERT_TRUE(pk.ok());
  const std::string raw(pk->begin(), pk->end());
  VerifyOptions with_copy;
  with_copy.models = admin.view.get();
  Verdict v = VerifyReport(r, cls, testing::kNonce, raw, with_copy);
  EXPECT_TRUE(v.admitted) << (v.reasons.empty() ? "" : v.reasons[0]);

  // A forged answer is caught by the recheck, and a proof moved to another range too.
  v1::AdmissionReport forged = r;
  for (auto& ph : *forged.mutable_phases()) {
    if (ph.phase() == v1::PHASE_STORAGE) ph.mutable_proofs(3)->set_answer(std::string(64, 'a'));
  }
  ASSERT_TRUE(SignReport(key, &forged).ok());
  Verdict vf = VerifyReport(forged, cls, testing::kNonce, raw, with_copy);
  ASSERT_FALSE(vf.admitted);
  EXPECT_NE(vf.reasons[0].find("proof 3: answer is wrong"), std::string::npos) << vf.reasons[0];
  v1::AdmissionReport moved = r;
  for (auto& ph : *moved.mutable_phases()) {
    if (ph.phase() == v1::PHASE_STORAGE) {
      ph.mutable_proofs(5)->set_offset(ph.proofs(5).offset() == 0 ? 1 : 0);
    }
  }
  ASSERT_TRUE(SignReport(key, &moved).ok());
  Verdict vm = VerifyReport(moved, cls, testing::kNonce, raw, with_copy);
  ASSERT_FALSE(vm.admitted);
  EXPECT_NE(vm.reasons[0].find("another range"), std::string::npos) << vm.reasons[0];
  // Without a copy of the models, verify still checks which model each proof read.
  Verdict v_nocopy = VerifyReport(r, cls, testing::kNonce, raw);
  EXPECT_TRUE(v_nocopy.admitted) << (v_nocopy.reasons.empty() ? "" : v_nocopy.reasons[0]);
}

TEST_P(StorageLayoutTest, FlippedByteInAChallengedChunkIsIncorrectAndNamesTheChunk) {
  const auto cls = Class(models_);
  const v1::AdmissionReport honest = Run(cls, store_.view.get());
  ASSERT_TRUE(honest.admitted());
  FlipChallengedByte(honest, 2);
  const std::string chunk = PhaseOf(honest, v1::PHASE_STORAGE).proofs(2).chunk();
  v1::AdmissionReport r = Run(cls, store_.view.get());  // same nonce: same ranges
  EXPECT_FALSE(r.admitted());
  const auto& p = PhaseOf(r, v1::PHASE_STORAGE);
  EXPECT_EQ(p.disposition(), v1::DISPOSITION_INCORRECT) << p.reason();
  EXPECT_NE(p.reason().find(chunk), std::string::npos) << p.reason();
  EXPECT_NE(p.reason().find("corrupt"), std::string::npos) << p.reason();
}

TEST_P(StorageLayoutTest, DeletedChunkFailsAndNamesTheChunk) {
  const auto cls = Class(models_);
  const v1::AdmissionReport honest = Run(cls, store_.view.get());
  ASSERT_TRUE(honest.admitted());
  const auto& proof = PhaseOf(honest, v1::PHASE_STORAGE).proofs(0);
  ASSERT_TRUE(std::filesystem::remove(ChunkFile(proof).first));
  v1::AdmissionReport r = Run(cls, store_.view.get());
  EXPECT_FALSE(r.admitted());
  const auto& p = PhaseOf(r, v1::PHASE_STORAGE);
  EXPECT_EQ(p.disposition(), v1::DISPOSITION_FAILED) << p.reason();
  EXPECT_NE(
      p.reason().find(absl::StrCat("chunk ", proof.chunk(), " (chunk ", proof.chunk_index(),
                                   " of model ", proof.model(), ") is missing from the store")),
      std::string::npos)
      << p.reason();
}

TEST_F(StorageTest, MissingModelFailsNamingItsDigest) {
  const std::string absent = ops::ToHex(ops::Sha256Of({}));
  const auto cls = Class({models_[0], absent, models_[1]});
  v1::AdmissionReport r = Run(cls, store_.view.get());
  EXPECT_FALSE(r.admitted());
  const auto& p = PhaseOf(r, v1::PHASE_STORAGE);
  EXPECT_EQ(p.disposition(), v1::DISPOSITION_FAILED) << p.reason();
  EXPECT_NE(p.reason().find(absl::StrCat("model ", absent, " is not in the store")),
            std::string::npos)
      << p.reason();
  EXPECT_EQ(p.figures().at("missing_models"), 1);
  // The models it holds were still challenged, and answered.
  EXPECT_GT(p.proofs_size(), 0);
  for (const auto& proof : p.proofs()) EXPECT_NE(proof.model(), absent);
}

TEST_F(StorageTest, StoreThatFetchesFromElsewhereMissesTheLatencyBound) {
  const auto cls = Class(models_, /*max_proof_ms=*/250, /*proofs=*/4);
  DelayedStoreView remote(store_, std::chrono::milliseconds(300));
  v1::AdmissionReport r = Run(cls, &remote);
  EXPECT_FALSE(r.admitted());
  const auto& p = PhaseOf(r, v1::PHASE_STORAGE);
  EXPECT_EQ(p.disposition(), v1::DISPOSITION_FAILED) << p.reason();
  EXPECT_NE(p.reason().find("proof_max_ms"), std::string::npos) << p.reason();
  EXPECT_GE(p.figures().at("proof_max_ms"), 300);
  // The bytes were right: only the time gave it away.
  EXPECT_EQ(p.figures().at("proofs_answered"), 4);
}

TEST_F(StorageTest, ClassWithoutAStoreOrWithoutModelsFailsClearly) {
  v1::AdmissionReport r = Run(Class(models_), nullptr);
  EXPECT_FALSE(r.admitted());
  EXPECT_NE(PhaseOf(r, v1::PHASE_STORAGE).reason().find("no weight store to test"),
            std::string::npos)
      << PhaseOf(r, v1::PHASE_STORAGE).reason();
  r = Run(Class({}), store_.view.get());
  EXPECT_FALSE(r.admitted());
  EXPECT_NE(PhaseOf(r, v1::PHASE_STORAGE).reason().find("lists no expected models"),
            std::string::npos)
      << PhaseOf(r, v1::PHASE_STORAGE).reason();
}

// The standalone binary: `run --store-dir` on the node's store, `verify --store-dir`
// against the admin's copy, and a store directory that does not exist.
TEST_F(StorageTest, DnConformanceRunsOnTheStoreDirAndVerifiesAgainstACopy) {
  std::ofstream(dir_.path() + "/cls.textproto") << StorageClass(models_, 400, 8);
  OpenedStore admin = Import(dir_.path() + "/admin_store");
  admin = OpenedStore();
  store_ = OpenedStore();  // a standalone run opens the store itself
  const std::string bin = DN_CONFORMANCE_PATH;
  const std::string common =
      absl::StrCat(" --class ", dir_.path(), "/cls.textproto --nonce ", testing::kNonce);
  const std::string report = dir_.path() + "/report.json";
  auto sh = [](const std::string& cmd) {
    int rc = std::system((cmd + " >/dev/null 2>&1").c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  };
  EXPECT_EQ(sh(absl::StrCat(bin, " run", common, " --store-dir ", dir_.path(), "/store --key ",
                            dir_.path(), "/k.pem --out ", report, " --quiet")),
            0);
  std::ifstream in(report);
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = ReportFromJson(text.str());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const auto& p = PhaseOf(*parsed, v1::PHASE_STORAGE);
  EXPECT_EQ(p.disposition(), v1::DISPOSITION_PASSED) << p.reason();
  EXPECT_EQ(p.proofs_size(), 8);
  const std::string verify = absl::StrCat(bin, " verify", common, " --report ", report,
                                          " --pubkey ", dir_.path(), "/k.pub.pem");
  EXPECT_EQ(sh(absl::StrCat(verify, " --store-dir ", dir_.path(), "/admin_store")), 0);
  EXPECT_EQ(sh(verify), 0);
  EXPECT_EQ(sh(absl::StrCat(bin, " run", common, " --store-dir ", dir_.path(), "/nowhere --key ",
                            dir_.path(), "/k.pem --out ", report, " --quiet")),
            2);
}

}  // namespace
}  // namespace datanode::conformance
