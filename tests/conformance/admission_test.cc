// Copyright 2026 The datanode Authors.
//
// End-to-end admission runs on injected backends, and report verification.
#include <fstream>
#include <sstream>
#include <thread>

#include "conformance/golden.h"
#include "conformance/llm_challenges.h"
#include "conformance/nonce.h"
#include "conformance/phases.h"
#include "conformance/report.h"
#include "datanode/ops/golden.h"
#include "datanode/ops/random_inputs.h"
#include "datanode/util/ed25519.h"
#include "test_support.h"

namespace datanode::conformance {
namespace {

using testing::PhaseOf;

class AdmissionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cls_ = testing::WriteAndLoadClass(dir_.path(), testing::kTestClass, "test_pc");
    key_ = dir_.path() + "/node.pem";
    pub_ = dir_.path() + "/node.pub.pem";
    ASSERT_TRUE(util::GenerateEd25519KeyFiles(key_, pub_).ok());
  }

  v1::AdmissionReport RunOn(ops::Backend& backend) {
    auto report = RunAdmission(backend, cls_, testing::QuickOptions(cls_));
    EXPECT_TRUE(report.ok()) << report.status();
    return *report;
  }

  // Asserts rejection, and that `phase` is the one named with `disposition`.
  void ExpectRejectedAt(const v1::AdmissionReport& r, v1::Phase phase, v1::Disposition d) {
    EXPECT_FALSE(r.admitted());
    const v1::PhaseResult& p = PhaseOf(r, phase);
    EXPECT_EQ(p.disposition(), d) << p.name() << ": " << p.reason();
    bool named = false;
    for (const auto& reason : r.reasons()) named |= reason.rfind(p.name() + ":", 0) == 0;
    EXPECT_TRUE(named) << "no reason names phase " << p.name();
  }

  // The performance phase alone, as RunAdmission runs it, with the class's thresholds
  // not applied (the caller compares the figures).
  v1::PhaseResult RunPerformancePhase(ops::Backend& backend) {
    RunOptions o = testing::QuickOptions(cls_);
    auto nonce = ParseNonceHex(o.nonce_hex);
    EXPECT_TRUE(nonce.ok());
    internal::Progress progress(false, nullptr);
    internal::PhaseContext ctx{
        backend, cls_.device_class, o.profile, *nonce, o, progress, RequiredOps(cls_.device_class)};
    return internal::PerformancePhase(ctx);
  }

  testing::TempDir dir_;
  device_classes::LoadedClass cls_;
  std::string key_, pub_;
};

// The binary runs, and its reports name, exactly the checked-in golden file (which
// ops_golden_test checks against the reference and every backend).
TEST_F(AdmissionTest, CompiledGoldenTextIsTheCheckedInFile) {
  std::ifstream in(DATANODE_SOURCE_DIR "/ops/golden/golden_vectors.txt");
  ASSERT_TRUE(in.is_open());
  std::stringstream file;
  file << in.rdbuf();
  EXPECT_EQ(CompiledGoldenText(), file.str()) << "re-run cmake: the compiled-in copy is stale";
  auto golden = ops::ParseGoldenFile(CompiledGoldenText());
  ASSERT_TRUE(golden.ok()) << golden.status();
  EXPECT_EQ(golden->spec_version, ops::kSpecVersion);
  EXPECT_EQ(golden->cases.size(), ops::GoldenCaseList().size());
}

TEST_F(AdmissionTest, HonestCpuIsAdmittedAndVerified) {
  auto cpu = testing::Cpu();
  v1::AdmissionReport r = RunOn(*cpu);
  ASSERT_TRUE(r.admitted()) << (r.reasons().empty() ? "" : r.reasons(0));
  for (const auto& p : r.phases()) {
    if (p.phase() == v1::PHASE_STORAGE) {
      EXPECT_EQ(p.disposition(), v1::DISPOSITION_NOT_SUPPORTED);
    } else {
      EXPECT_EQ(p.disposition(), v1::DISPOSITION_PASSED) << p.name() << ": " << p.reason();
    }
  }
  EXPECT_EQ(PhaseOf(r, v1::PHASE_CHALLENGE).challenges_size(),
            3 * 7 + 3 * static_cast<int>(LlmChallengeOps().size()));
  ASSERT_TRUE(SignReport(key_, &r).ok());
  auto pk = util::ReadEd25519PublicKey(pub_);
  ASSERT_TRUE(pk.ok());
  const std::string raw(pk->begin(), pk->end());
  // Through JSON, as an admin receives it.
  auto json = ReportToJson(r);
  ASSERT_TRUE(json.ok());
  auto parsed = ReportFromJson(*json);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  Verdict v = VerifyReport(*parsed, cls_, testing::kNonce, raw);
  EXPECT_TRUE(v.admitted) << (v.reasons.empty() ? "" : v.reasons[0]);

  // Refusals: tampered figure, another nonce, another key, a forged challenge answer.
  v1::AdmissionReport tampered = *parsed;
  for (auto& p : *tampered.mutable_phases()) {
    if (p.phase() == v1::PHASE_PERFORMANCE) (*p.mutable_figures())["s8_gops"] *= 2;
  }
  Verdict vt = VerifyReport(tampered, cls_, testing::kNonce, raw);
  EXPECT_FALSE(vt.admitted);
  ASSERT_FALSE(vt.reasons.empty());
  EXPECT_NE(vt.reasons[0].find("signature"), std::string::npos) << vt.reasons[0];

  Verdict vn = VerifyReport(*parsed, cls_, "00000000000000000000000000000001", raw);
  EXPECT_FALSE(vn.admitted);
  ASSERT_FALSE(vn.reasons.empty());
  EXPECT_NE(vn.reasons[0].find("nonce"), std::string::npos) << vn.reasons[0];

  std::string other_key = dir_.path() + "/other.pem", other_pub = dir_.path() + "/other.pub.pem";
  ASSERT_TRUE(util::GenerateEd25519KeyFiles(other_key, other_pub).ok());
  v1::AdmissionReport resigned = *parsed;
  ASSERT_TRUE(SignReport(other_key, &resigned).ok());
  Verdict vk = VerifyReport(resigned, cls_, testing::kNonce, raw);
  EXPECT_FALSE(vk.admitted);
  ASSERT_FALSE(vk.reasons.empty());
  EXPECT_NE(vk.reasons[0].find("another key"), std::string::npos) << vk.reasons[0];

  // A node that signs a report with a forged challenge digest is caught by the
  // verifier's recomputation even though the signature is valid.
  v1::AdmissionReport forged = *parsed;
  for (auto& p : *forged.mutable_phases()) {
    if (p.phase() == v1::PHASE_CHALLENGE) {
      p.mutable_challenges(4)->set_output_digest(std::string(64, '0'));
    }
  }
  ASSERT_TRUE(SignReport(key_, &forged).ok());
  Verdict vf = VerifyReport(forged, cls_, testing::kNonce, raw);
  EXPECT_FALSE(vf.admitted);
  ASSERT_FALSE(vf.reasons.empty());
  EXPECT_NE(vf.reasons[0].find("output digest is wrong"), std::string::npos) << vf.reasons[0];
}

TEST_F(AdmissionTest, BitFlipEveryMillionOutputsIsRejected) {
  testing::BitFlipBackend backend(testing::Cpu());
  v1::AdmissionReport r = RunOn(backend);
  EXPECT_GT(backend.flips(), 0);
  EXPECT_FALSE(r.admitted());
  // The first phase that produces a millionth output catches it: which one depends
  // on output counts, but it must be an exactness verdict, and it must be named.
  int incorrect = 0;
  for (const auto& p : r.phases()) {
    if (p.disposition() == v1::DISPOSITION_INCORRECT) {
      ++incorrect;
      bool named = false;
      for (const auto& reason : r.reasons()) named |= reason.rfind(p.name() + ":", 0) == 0;
      EXPECT_TRUE(named) << p.name();
    }
  }
  EXPECT_GE(incorrect, 1);
}

// The inference ops are challenged too: one wrong bit in SwiGLU's output is Incorrect
// at the challenge phase, naming the op; and a report whose LLM challenge digest was
// forged (validly signed) is refused by the verifier's recomputation.
TEST_F(AdmissionTest, WrongLlmKernelIsCaughtByChallengesAndAForgedLlmDigestByVerify) {
  testing::FaultyLlmKernelsBackend backend(testing::Cpu());
  v1::AdmissionReport r = RunOn(backend);
  ExpectRejectedAt(r, v1::PHASE_CHALLENGE, v1::DISPOSITION_INCORRECT);
  EXPECT_NE(PhaseOf(r, v1::PHASE_CHALLENGE).reason().find("challenge/llm_silu_mul/"),
            std::string::npos)
      << PhaseOf(r, v1::PHASE_CHALLENGE).reason();

  auto cpu = testing::Cpu();
  v1::AdmissionReport honest = RunOn(*cpu);
  ASSERT_TRUE(honest.admitted());
  bool forged = false;
  for (auto& p : *honest.mutable_phases()) {
    for (auto& c : *p.mutable_challenges()) {
      if (!forged && c.label().starts_with("challenge/llm_attend/")) {
        c.set_output_digest(std::string(64, '0'));
        forged = true;
      }
    }
  }
  ASSERT_TRUE(forged);
  ASSERT_TRUE(SignReport(key_, &honest).ok());
  auto pk = util::ReadEd25519PublicKey(pub_);
  ASSERT_TRUE(pk.ok());
  Verdict v = VerifyReport(honest, cls_, testing::kNonce, std::string(pk->begin(), pk->end()));
  EXPECT_FALSE(v.admitted);
  ASSERT_FALSE(v.reasons.empty());
  EXPECT_NE(v.reasons[0].find("challenge/llm_attend/"), std::string::npos) << v.reasons[0];
  EXPECT_NE(v.reasons[0].find("output digest is wrong"), std::string::npos) << v.reasons[0];
}

TEST_F(AdmissionTest, ShapeCachingBackendIsCaughtByChallenges) {
  testing::ShapeCachingBackend backend(testing::Cpu());
  v1::AdmissionReport r = RunOn(backend);
  ExpectRejectedAt(r, v1::PHASE_CHALLENGE, v1::DISPOSITION_INCORRECT);
  EXPECT_NE(PhaseOf(r, v1::PHASE_CHALLENGE).reason().find("challenge/"), std::string::npos);
}

TEST_F(AdmissionTest, MemoizingBackendIsCaughtByRepeatTiming) {
  testing::MemoizingBackend backend(testing::Cpu());
  v1::AdmissionReport r = RunOn(backend);
  // Its answers are all correct; only the timing of repeated inputs gives it away.
  EXPECT_EQ(PhaseOf(r, v1::PHASE_CHALLENGE).disposition(), v1::DISPOSITION_PASSED);
  ExpectRejectedAt(r, v1::PHASE_PERFORMANCE, v1::DISPOSITION_FAILED);
  EXPECT_NE(PhaseOf(r, v1::PHASE_PERFORMANCE).reason().find("repeat_speedup"), std::string::npos)
      << PhaseOf(r, v1::PHASE_PERFORMANCE).reason();
}

// A backend that skips writing the output of a repeated input leaves the poison the
// runner wrote there: the stability phase sees it first, and the performance phase
// catches it on its own too.
TEST_F(AdmissionTest, WriteNothingOnRepeatBackendIsCaught) {
  testing::WriteNothingOnRepeatBackend backend(testing::Cpu());
  v1::AdmissionReport r = RunOn(backend);
  EXPECT_GT(backend.skipped(), 0);
  ExpectRejectedAt(r, v1::PHASE_STABILITY, v1::DISPOSITION_INCORRECT);
  EXPECT_EQ(PhaseOf(r, v1::PHASE_CHALLENGE).disposition(), v1::DISPOSITION_PASSED);

  testing::WriteNothingOnRepeatBackend fresh_backend(testing::Cpu());  // has seen nothing
  v1::PhaseResult perf = RunPerformancePhase(fresh_backend);
  EXPECT_EQ(perf.disposition(), v1::DISPOSITION_INCORRECT) << perf.reason();
  EXPECT_NE(perf.reason().find("did not write"), std::string::npos) << perf.reason();
}

// MEASURED_SPEEDUP. The limit max_repeat_speedup = 1.5 (kTestClass, mini_pc) against
// what the performance phase measures (2-core shared build VM, 2026-12-07; "load" =
// two threads running 256x512x512 matmuls on another CPU backend throughout, as
// below, while other helpers were building):
//   honest CPU, alone:      repeat_speedup 0.98 .. 1.08 (60 runs)
//   honest CPU, under load: repeat_speedup 0.94 .. 1.31 (60 runs; load average 6 to 7)
//   memoizing backend:      repeat_speedup 16 .. 103 alone, 50 .. 445 under load (60 each)
// so 1.5 leaves the honest CPU a margin of 0.19 over the worst of 120 runs and the
// memoizer none: it would need a speedup under 1.5 while skipping the computation.
// (Three runs of DISABLED_RepeatSpeedupDistribution, 20 per line each; the median over
// at least 64 pairs, see PerformancePhase. "alone" still shared the VM with builds.)
// The old statistic (median fresh time / median repeat time, the repeat always run
// second) gave an honest CPU up to 2.46 under `ctest -j2`: without the warm-up run,
// the first run of a pair measured 1.3 to 1.8x slower than the second here.
class LoadThreads {
 public:
  explicit LoadThreads(int n) {
    for (int i = 0; i < n; ++i) {
      threads_.emplace_back([this, i] {
        auto cpu = testing::Cpu();
        auto in = ops::MakeRandomInputs(ops::OpKind::kMatMulS8S32, 256, 512, 512, 99 + i);
        ops::OpArgs args = in->Args();
        while (!stop_.load()) (void)ops::RunOp(*cpu, args);
      });
    }
  }
  ~LoadThreads() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

TEST_F(AdmissionTest, RepeatCheckPassesHonestCpuAndCatchesMemoizingUnderParallelLoad) {
  LoadThreads load(2);
  auto cpu = testing::Cpu();
  v1::PhaseResult honest = RunPerformancePhase(*cpu);
  ASSERT_EQ(honest.disposition(), v1::DISPOSITION_PASSED) << honest.reason();
  EXPECT_LE(honest.figures().at("repeat_speedup"), cls_.device_class.compute().max_repeat_speedup())
      << honest.reason();
  testing::MemoizingBackend memo(testing::Cpu());
  v1::PhaseResult cheat = RunPerformancePhase(memo);
  ASSERT_EQ(cheat.disposition(), v1::DISPOSITION_PASSED) << cheat.reason();
  EXPECT_GT(cheat.figures().at("repeat_speedup"), cls_.device_class.compute().max_repeat_speedup())
      << cheat.reason();
}

// Whole admission runs with a result cache, alone and while two other threads load
// both CPUs: the verdict is a rejection naming the performance phase, on the repeat
// speedup, while every answer the cache gives is right (challenges pass). Two caches:
// one keyed by operand bytes (through Run), one on resident buffers the host has not
// rewritten (RunResident), as a GPU could keep one.
TEST_F(AdmissionTest, CachingBackendsAreRejectedAtPerformanceAloneAndUnderParallelLoad) {
  for (bool loaded : {false, true}) {
    SCOPED_TRACE(loaded ? "under load" : "alone");
    std::unique_ptr<LoadThreads> load;
    if (loaded) load = std::make_unique<LoadThreads>(2);
    testing::MemoizingBackend memo(testing::Cpu());
    testing::ResidentCachingBackend resident(testing::Cpu());
    for (ops::Backend* b : std::initializer_list<ops::Backend*>{&memo, &resident}) {
      v1::AdmissionReport r = RunOn(*b);
      EXPECT_EQ(PhaseOf(r, v1::PHASE_CHALLENGE).disposition(), v1::DISPOSITION_PASSED);
      ExpectRejectedAt(r, v1::PHASE_PERFORMANCE, v1::DISPOSITION_FAILED);
      const v1::PhaseResult& perf = PhaseOf(r, v1::PHASE_PERFORMANCE);
      EXPECT_NE(perf.reason().find("repeat_speedup"), std::string::npos) << perf.reason();
      EXPECT_GT(perf.figures().at("repeat_speedup"),
                cls_.device_class.compute().max_repeat_speedup());
    }
    EXPECT_GT(resident.skipped(), 0) << "the resident cache never answered from memory";
  }
}

// The test class catches caches with the limit a shipped class uses, not a looser one
// (it was once raised to 4.0 to let an honest CPU pass under load).
TEST_F(AdmissionTest, TestClassesUseTheShippedRepeatLimit) {
  auto mini_pc =
      device_classes::LoadClassFile(DATANODE_SOURCE_DIR "/device_classes/mini_pc.textproto");
  ASSERT_TRUE(mini_pc.ok()) << mini_pc.status();
  const double shipped = mini_pc->device_class.compute().max_repeat_speedup();
  EXPECT_EQ(shipped, 1.5);
  EXPECT_EQ(cls_.device_class.compute().max_repeat_speedup(), shipped);
  auto vulkan = device_classes::ParseClassText(testing::kVulkanTestClass, "test_vulkan");
  ASSERT_TRUE(vulkan.ok()) << vulkan.status();
  EXPECT_LE(vulkan->device_class.compute().max_repeat_speedup(), shipped);
}

TEST_F(AdmissionTest, DISABLED_RepeatSpeedupDistribution) {
  for (bool loaded : {false, true}) {
    std::unique_ptr<LoadThreads> load;
    if (loaded) load = std::make_unique<LoadThreads>(2);
    for (bool memoizing : {false, true}) {
      double lo = 1e9, hi = 0;
      for (int i = 0; i < 20; ++i) {
        std::unique_ptr<ops::Backend> b = testing::Cpu();
        if (memoizing) b = std::make_unique<testing::MemoizingBackend>(std::move(b));
        v1::PhaseResult p = RunPerformancePhase(*b);
        double x = p.figures().at("repeat_speedup");
        lo = std::min(lo, x);
        hi = std::max(hi, x);
      }
      std::printf("%s, %s: repeat_speedup %.2f .. %.2f (20 runs)\n",
                  memoizing ? "memoizing" : "honest cpu", loaded ? "under load" : "alone", lo, hi);
    }
  }
}

// The Vulkan backend on whatever device the loader offers (Mesa lavapipe in CI) is
// admitted to a Vulkan class, and an admin's verify (recomputing every challenge on
// the CPU backend) accepts the report.
TEST_F(AdmissionTest, VulkanDeviceIsAdmittedToTheVulkanTestClass) {
  auto vulkan = ops::CreateBackend("vulkan");
  if (!vulkan.ok()) GTEST_SKIP() << "no Vulkan device: " << vulkan.status();
  auto cls = testing::WriteAndLoadClass(dir_.path(), testing::kVulkanTestClass, "test_vulkan");
  auto r = RunAdmission(**vulkan, cls, testing::QuickOptions(cls));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->admitted()) << (r->reasons().empty() ? "" : r->reasons(0));
  EXPECT_EQ(r->device().backend(), "vulkan");
  // Device-side timing where the API has it: lavapipe has timestamp queries, so both
  // the memory test and the resident matmuls are timed on the device, not the host.
  if ((*vulkan)->Description().find("llvmpipe") != std::string::npos) {
    EXPECT_EQ(PhaseOf(*r, v1::PHASE_MEMORY).figures().at("device_timed"), 1);
    EXPECT_EQ(PhaseOf(*r, v1::PHASE_PERFORMANCE).figures().at("device_timed"), 1);
  }
  ASSERT_TRUE(SignReport(key_, &*r).ok());
  auto pk = util::ReadEd25519PublicKey(pub_);
  ASSERT_TRUE(pk.ok());
  const std::string raw(pk->begin(), pk->end());
  Verdict v = VerifyReport(*r, cls, testing::kNonce, raw);
  EXPECT_TRUE(v.admitted) << (v.reasons.empty() ? "" : v.reasons[0]);
  // The CPU backend is not a Vulkan device: rejected at inventory.
  auto cpu = testing::Cpu();
  auto rc = RunAdmission(*cpu, cls, testing::QuickOptions(cls));
  ASSERT_TRUE(rc.ok());
  ExpectRejectedAt(*rc, v1::PHASE_INVENTORY, v1::DISPOSITION_FAILED);
}

TEST_F(AdmissionTest, CorruptOrSlowDeviceMemoryIsRejectedAtMemory) {
  testing::BadMemoryBackend corrupt(testing::Cpu(), /*corrupt=*/true);
  v1::AdmissionReport r = RunOn(corrupt);
  ExpectRejectedAt(r, v1::PHASE_MEMORY, v1::DISPOSITION_INCORRECT);
  EXPECT_NE(PhaseOf(r, v1::PHASE_MEMORY).reason().find("3 words read back differently"),
            std::string::npos)
      << PhaseOf(r, v1::PHASE_MEMORY).reason();
  testing::BadMemoryBackend slow(testing::Cpu(), /*corrupt=*/false);
  v1::AdmissionReport s = RunOn(slow);
  ExpectRejectedAt(s, v1::PHASE_MEMORY, v1::DISPOSITION_FAILED);
  EXPECT_NE(PhaseOf(s, v1::PHASE_MEMORY).reason().find("bandwidth_gbps"), std::string::npos)
      << PhaseOf(s, v1::PHASE_MEMORY).reason();
}

// A device whose memory has a stuck bit where only large buffers reach: every earlier
// phase passes, and the memory phase's patterns through the backend's own kernels find
// it (Incorrect, the phase and the element named).
TEST_F(AdmissionTest, StuckBitHighInDeviceMemoryIsIncorrectAtMemory) {
  testing::StuckBitBackend backend(testing::Cpu());
  v1::AdmissionReport r = RunOn(backend);
  EXPECT_GT(backend.hits(), 0);
  for (v1::Phase earlier :
       {v1::PHASE_INVENTORY, v1::PHASE_GOLDEN, v1::PHASE_CHALLENGE, v1::PHASE_STABILITY}) {
    EXPECT_EQ(PhaseOf(r, earlier).disposition(), v1::DISPOSITION_PASSED)
        << PhaseOf(r, earlier).name() << ": " << PhaseOf(r, earlier).reason();
  }
  ExpectRejectedAt(r, v1::PHASE_MEMORY, v1::DISPOSITION_INCORRECT);
  EXPECT_NE(PhaseOf(r, v1::PHASE_MEMORY).reason().find("came back changed"), std::string::npos)
      << PhaseOf(r, v1::PHASE_MEMORY).reason();
}

// The default memory test on host RAM, and the Vulkan one on the device, both find
// the patterns intact on a healthy machine and report what they measured.
TEST(DeviceMemoryTest, HostAndVulkanPatternTestsPassOnHealthyMemory) {
  auto cpu = testing::Cpu();
  auto host = cpu->TestDeviceMemory(8 << 20, 42);
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_EQ(host->errors, 0);
  EXPECT_EQ(host->bytes_tested, 8 << 20);
  EXPECT_EQ(host->bytes_moved, 2 * 5 * (8 << 20));
  EXPECT_FALSE(host->device_timed);
  EXPECT_GT(host->seconds, 0);
  auto vulkan = ops::CreateBackend("vulkan");
  if (!vulkan.ok()) GTEST_SKIP() << "no Vulkan device: " << vulkan.status();
  // 2.5 MiB + 8: a partial block, so the rotation and the slab rounding are exercised.
  auto dev = (*vulkan)->TestDeviceMemory((5 << 19) + 8, 42);
  ASSERT_TRUE(dev.ok()) << dev.status();
  EXPECT_EQ(dev->errors, 0) << dev->method;
  EXPECT_GT(dev->bytes_tested, 0);
  EXPECT_GT(dev->seconds, 0);
  EXPECT_NE(dev->method.find("Vulkan device memory"), std::string::npos) << dev->method;
  std::printf("host: %s, %.2f GB/s; vulkan: %s, %.2f GB/s (%s timing)\n", host->method.c_str(),
              host->bytes_moved / host->seconds / 1e9, dev->method.c_str(),
              dev->bytes_moved / dev->seconds / 1e9, dev->device_timed ? "device" : "host");
}

// Resident buffers: on the CPU (host defaults), on Vulkan and on CUDA (device memory,
// packed at PrepareResident; each where present) a poisoned output is overwritten with
// the reference's bytes, and the GPU backends refuse to run operands they were not
// given to prepare.
TEST(ResidentBufferTest, ResidentMatMulEqualsTheReferenceOnEveryBackend) {
  auto in = ops::MakeRandomInputs(ops::OpKind::kMatMulS8S32, 70, 90, 200, 5);
  ASSERT_TRUE(in.ok());
  ops::OpInputs want = *in;
  auto reference = ops::CreateBackend("reference");
  ASSERT_TRUE(reference.ok());
  ops::OpArgs want_args = want.Args();
  ASSERT_TRUE(ops::RunOp(**reference, want_args).ok());
  for (const char* name : {"cpu", "vulkan", "cuda"}) {
    auto b = ops::CreateBackend(name);
    if (!b.ok()) continue;  // vulkan or cuda absent
    auto a = (*b)->AllocateBuffer(in->a.size());
    auto w = (*b)->AllocateBuffer(in->w.size());
    auto out = (*b)->AllocateBuffer(in->out.size());
    ASSERT_TRUE(a.ok() && w.ok() && out.ok()) << name;
    ASSERT_TRUE((*b)->WriteBuffer(**a, 0, in->a).ok());
    ASSERT_TRUE((*b)->WriteBuffer(**w, 0, in->w).ok());
    std::vector<uint8_t> got(in->out.size(), 0xA5);
    ASSERT_TRUE((*b)->WriteBuffer(**out, 0, got).ok());
    ops::ResidentOpArgs args{ops::OpKind::kMatMulS8S32, 70, 90, 200, a->get(), nullptr,
                             w->get(), nullptr, out->get(), nullptr};
    if (std::string(name) != "cpu") {  // the device copies are made by PrepareResident
      EXPECT_EQ((*b)->RunResident(args, nullptr).code(), absl::StatusCode::kFailedPrecondition);
    }
    ASSERT_TRUE((*b)->PrepareResident(args).ok()) << name;
    for (int run = 0; run < 2; ++run) {  // the second run re-poisons the output
      double device_seconds = 0;
      absl::Status st = (*b)->RunResident(args, &device_seconds);
      ASSERT_TRUE(st.ok()) << name << ": " << st;
      ASSERT_TRUE((*b)->ReadBuffer(**out, 0, got).ok());
      EXPECT_EQ(got, want.out) << name << " run " << run;
      std::fill(got.begin(), got.end(), 0x5A);
      ASSERT_TRUE((*b)->WriteBuffer(**out, 0, got).ok());
      ASSERT_TRUE((*b)->PrepareResident(args).ok());
    }
    // Sizes are checked against the shape.
    ops::ResidentOpArgs wrong = args;
    wrong.m = 71;
    EXPECT_FALSE((*b)->RunResident(wrong, nullptr).ok()) << name;
  }
}

TEST_F(AdmissionTest, SlowBackendIsRejectedOnThroughput) {
  testing::SlowBackend backend(testing::Cpu());
  v1::AdmissionReport r = RunOn(backend);
  EXPECT_EQ(PhaseOf(r, v1::PHASE_CHALLENGE).disposition(), v1::DISPOSITION_PASSED);
  ExpectRejectedAt(r, v1::PHASE_PERFORMANCE, v1::DISPOSITION_FAILED);
  EXPECT_NE(PhaseOf(r, v1::PHASE_PERFORMANCE).reason().find("s8_gops"), std::string::npos)
      << PhaseOf(r, v1::PHASE_PERFORMANCE).reason();
}

TEST_F(AdmissionTest, BackendNotAllowedByClassIsRejectedAtInventory) {
  const std::string text = std::string(testing::kTestClass);
  std::string strict = text;
  const std::string from = "\"reference\"";
  strict.replace(strict.find(from), from.size(), "\"vulkan\"");  // only GPU backends
  strict.replace(strict.find("\"cpu\""), 5, "\"cuda\"");
  auto cls = testing::WriteAndLoadClass(dir_.path(), strict.c_str(), "strict");
  auto cpu = testing::Cpu();
  RunOptions o = testing::QuickOptions(cls);
  auto r = RunAdmission(*cpu, cls, o);
  ASSERT_TRUE(r.ok());
  ExpectRejectedAt(*r, v1::PHASE_INVENTORY, v1::DISPOSITION_FAILED);
}

TEST_F(AdmissionTest, BadNonceIsAnError) {
  auto cpu = testing::Cpu();
  RunOptions o = testing::QuickOptions(cls_);
  o.nonce_hex = "xyz";
  EXPECT_EQ(RunAdmission(*cpu, cls_, o).status().code(), absl::StatusCode::kInvalidArgument);
}

// The embedding hooks the daemon's RunAdmission RPC uses: progress lines reach
// on_progress, and cancellation mid-performance ends the run with CANCELLED well
// before the phase's duration, without a report.
TEST_F(AdmissionTest, ProgressHookSeesPhasesAndCancellationStopsTheRun) {
  auto cpu = testing::Cpu();
  RunOptions o = testing::QuickOptions(cls_);
  o.profile.set_performance_seconds(60);
  std::vector<std::string> phases;
  std::atomic<bool> cancel{false};
  o.on_progress = [&](const std::string& phase, const std::string&) {
    phases.push_back(phase);
    if (phase == "performance") cancel = true;
  };
  o.cancelled = [&] { return cancel.load(); };
  auto t0 = std::chrono::steady_clock::now();
  auto r = RunAdmission(*cpu, cls_, o);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled) << r.status();
  EXPECT_NE(r.status().message().find("performance"), std::string::npos) << r.status();
  EXPECT_LT(seconds, 20);
  ASSERT_FALSE(phases.empty());
  EXPECT_EQ(phases.front(), "inventory");
  EXPECT_NE(std::find(phases.begin(), phases.end(), "golden"), phases.end());
}

}  // namespace
}  // namespace datanode::conformance
