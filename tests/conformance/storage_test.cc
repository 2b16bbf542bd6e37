// Copyright 2026 The datanode Authors.
//
// Storage class: a healthy store is admitted; an altered or deleted chunk (of the
// stored weights, or of the admission data itself) is rejected.
#include <fstream>

#include "conformance/chunk_store.h"
#include "conformance/report.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/ops/reference.h"
#include "datanode/util/ed25519.h"
#include "test_support.h"

namespace datanode::conformance {
namespace {

using testing::PhaseOf;

class StorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cls_ = testing::WriteAndLoadClass(dir_.path(), testing::kTestStorageClass, "test_storage");
    store_dir_ = dir_.path() + "/store";
    ChunkStore store(store_dir_);
    ops::SplitMix64 rng(5);
    for (int i = 0; i < 3; ++i) {  // the "weights" this node claims to hold
      std::vector<uint8_t> data(100000 + i * 1000);
      for (auto& b : data) b = static_cast<uint8_t>(rng.Next());
      auto name = store.Put(data);
      ASSERT_TRUE(name.ok()) << name.status();
      weights_.push_back(*name);
    }
    ASSERT_TRUE(store.AddToManifest(weights_).ok());
  }

  v1::AdmissionReport Run(std::function<void(const std::string&)> hook = nullptr) {
    auto backend = ops::reference::CreateReferenceBackend();
    RunOptions o = testing::QuickOptions(cls_);
    o.store_dir = store_dir_;
    o.after_storage_write = std::move(hook);
    auto r = RunAdmission(*backend, cls_, o);
    EXPECT_TRUE(r.ok()) << r.status();
    return *r;
  }

  testing::TempDir dir_;
  device_classes::LoadedClass cls_;
  std::string store_dir_;
  std::vector<std::string> weights_;
};

TEST_F(StorageTest, HealthyStoreIsAdmittedAndVerified) {
  v1::AdmissionReport r = Run();
  const auto& p = PhaseOf(r, v1::PHASE_STORAGE);
  ASSERT_TRUE(r.admitted()) << p.reason();
  EXPECT_EQ(p.proofs_size(), 24);
  // Every weight chunk was challenged (24 proofs >= 4 admission + 3 weight chunks).
  for (const auto& w : weights_) {
    bool seen = false;
    for (const auto& proof : p.proofs()) seen |= proof.chunk() == w;
    EXPECT_TRUE(seen) << w;
  }
  EXPECT_GT(p.figures().at("write_mbps"), 0);
  // Admission chunks are cleaned up; weights stay.
  ChunkStore store(store_dir_);
  EXPECT_TRUE(store.Get(weights_[0]).ok());

  std::string key = dir_.path() + "/k.pem", pub = dir_.path() + "/k.pub.pem";
  ASSERT_TRUE(util::GenerateEd25519KeyFiles(key, pub).ok());
  ASSERT_TRUE(SignReport(key, &r).ok());
  auto pk = util::ReadEd25519PublicKey(pub);
  ASSERT_TRUE(pk.ok());
  const std::string raw(pk->begin(), pk->end());
  Verdict v = VerifyReport(r, cls_, testing::kNonce, raw);
  EXPECT_TRUE(v.admitted) << (v.reasons.empty() ? "" : v.reasons[0]);

  // A forged proof answer over nonce-derived data is caught by verify's recheck.
  for (auto& ph : *r.mutable_phases()) {
    for (auto& proof : *ph.mutable_proofs()) {
      if (proof.nonce_derived()) {
        proof.set_answer(std::string(64, 'a'));
        break;
      }
    }
  }
  ASSERT_TRUE(SignReport(key, &r).ok());
  Verdict vf = VerifyReport(r, cls_, testing::kNonce, raw);
  EXPECT_FALSE(vf.admitted);
}

TEST_F(StorageTest, AlteredWeightChunkIsRejected) {
  ChunkStore store(store_dir_);
  {
    std::fstream f(store.ChunkPath(weights_[1]), std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(777);
    char c = static_cast<char>(f.get() ^ 0x80);
    f.seekp(777);
    f.put(c);
  }
  v1::AdmissionReport r = Run();
  EXPECT_FALSE(r.admitted());
  const auto& p = PhaseOf(r, v1::PHASE_STORAGE);
  EXPECT_EQ(p.disposition(), v1::DISPOSITION_INCORRECT) << p.reason();
  EXPECT_NE(p.reason().find(weights_[1]), std::string::npos) << p.reason();
}

TEST_F(StorageTest, DeletedWeightChunkIsRejected) {
  ChunkStore store(store_dir_);
  ASSERT_TRUE(store.Remove(weights_[2]).ok());
  v1::AdmissionReport r = Run();
  EXPECT_FALSE(r.admitted());
  const auto& p = PhaseOf(r, v1::PHASE_STORAGE);
  EXPECT_EQ(p.disposition(), v1::DISPOSITION_FAILED) << p.reason();
  EXPECT_NE(p.reason().find("missing"), std::string::npos) << p.reason();
}

TEST_F(StorageTest, AdmissionChunkAlteredAfterWriteIsRejected) {
  v1::AdmissionReport r = Run([](const std::string& root) {
    // Corrupt one byte of the first admission chunk file found.
    for (const auto& e : std::filesystem::recursive_directory_iterator(root + "/chunks")) {
      if (!e.is_regular_file()) continue;
      if (std::filesystem::file_size(e.path()) != static_cast<uintmax_t>(kChunkBytes)) continue;
      std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
      f.seekg(12345);
      char c = static_cast<char>(f.get() ^ 0x01);
      f.seekp(12345);
      f.put(c);
      return;
    }
  });
  EXPECT_FALSE(r.admitted());
  EXPECT_EQ(PhaseOf(r, v1::PHASE_STORAGE).disposition(), v1::DISPOSITION_INCORRECT)
      << PhaseOf(r, v1::PHASE_STORAGE).reason();
}

}  // namespace
}  // namespace datanode::conformance
