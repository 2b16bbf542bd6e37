// Copyright 2026 The datanode Authors.
//
// In process: the memory budget, the config fields that set it, the
// allocation-failure boundary, and NodeService's admission of a MatMul before anything
// is allocated. (The same limits on the real daemon over its socket:
// limits_py_test.py.)
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <new>
#include <thread>
#include <vector>

#include "datanode/ops/backend.h"
#include "gtest/gtest.h"
#include "node/daemon/caller_limits.h"
#include "node/daemon/config.h"
#include "node/daemon/executor.h"
#include "node/daemon/node_service.h"

namespace datanode::node {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;

TEST(MemoryBudgetTest, ReservesReleasesAndRefusesWhatDoesNotFit) {
  MemoryBudget budget(100);
  auto a = budget.Reserve(60, "a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(budget.used_bytes(), 60);
  auto b = budget.Reserve(41, "call b");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(b.status().message().find("call b needs 41 bytes"), std::string::npos);
  EXPECT_NE(b.status().message().find("40 free"), std::string::npos);
  auto c = budget.Reserve(40, "c");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(budget.used_bytes(), 100);
  {
    MemoryBudget::Reservation moved = *std::move(a);
    EXPECT_EQ(moved.bytes(), 60);
    EXPECT_EQ(budget.used_bytes(), 100);  // a move keeps the bytes reserved
  }
  EXPECT_EQ(budget.used_bytes(), 40);
  *c = MemoryBudget::Reservation();  // assigning releases what was held
  EXPECT_EQ(budget.used_bytes(), 0);
}

TEST(MemoryBudgetTest, NeverOversubscribedUnderContention) {
  MemoryBudget budget(10 * kMiB);
  std::atomic<int64_t> peak{0}, granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        auto r = budget.Reserve(3 * kMiB, "x");
        if (!r.ok()) continue;
        ++granted;
        int64_t used = budget.used_bytes();
        int64_t p = peak.load();
        while (used > p && !peak.compare_exchange_weak(p, used)) {
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(peak.load(), 10 * kMiB);
  EXPECT_GT(granted.load(), 0);
  EXPECT_EQ(budget.used_bytes(), 0);
}

TEST(AllocationFailureTest, BadAllocBecomesResourceExhausted) {
  absl::Status s = CatchAllocFailure([]() -> absl::Status { throw std::bad_alloc(); });
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(CatchAllocFailure([] { return absl::NotFoundError("x"); }).code(),
            absl::StatusCode::kNotFound);
}

TEST(LimitsConfigTest, DefaultsAndRanges) {
  auto c = ConfigFromText("");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->max_reply_bytes, 64 * kMiB);
  EXPECT_EQ(c->memory_budget_bytes, 1024 * kMiB);
  c = ConfigFromText("limits { max_reply_bytes: 1048576 memory_budget_bytes: 33554432 }");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->max_reply_bytes, kMiB);
  EXPECT_EQ(c->memory_budget_bytes, 32 * kMiB);
  for (const char* bad :
       {"limits { max_reply_bytes: 1023 }", "limits { max_reply_bytes: 2147483648 }",
        "limits { memory_budget_bytes: 1048576 }"}) {
    auto r = ConfigFromText(bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

class AdmitMatMulTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = std::move(*ops::CreateBackend("reference"));
    root_ =
        std::filesystem::temp_directory_path() / ("dn_limits_test_" + std::to_string(::getpid()));
    store_ = std::move(*WeightStore::Open({root_, 0, false}));
    models_ = std::move(*ModelRegistry::Open(store_.get()));
    service_ = std::make_unique<NodeService>(backend_.get(), store_.get(), models_.get(), kMiB,
                                             MatMulLimits{4 * kMiB, 16 * kMiB});
  }
  void TearDown() override {
    service_.reset();
    models_.reset();
    store_.reset();
    std::filesystem::remove_all(root_);
  }
  MatMulCall S8(int64_t m, int64_t n, int64_t k) {
    a_.assign(static_cast<size_t>(m * k), 1);
    w_.assign(static_cast<size_t>(n * k), 1);
    MatMulCall c;
    c.kind = ops::OpKind::kMatMulS8S32;
    c.m = m;
    c.n = n;
    c.k = k;
    c.a = a_;
    c.w = w_;
    return c;
  }

  std::unique_ptr<ops::Backend> backend_;
  std::filesystem::path root_;
  std::unique_ptr<WeightStore> store_;
  std::unique_ptr<ModelRegistry> models_;
  std::unique_ptr<NodeService> service_;
  std::vector<uint8_t> a_, w_;
};

TEST_F(AdmitMatMulTest, SizesAreCheckedBeforeAnythingIsReserved) {
  MatMulCall empty = S8(1 << 20, 4096, 1);
  empty.a = {};
  auto t = service_->AdmitMatMul(empty, 40);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(t.status().message().find("operand A has 0 bytes"), std::string::npos);
  t = service_->AdmitMatMul(S8(1025, 1024, 1), 0);  // 4 MiB + 4 KiB output
  EXPECT_EQ(t.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(t.status().message().find("over the reply limit of 4194304"), std::string::npos);
  EXPECT_EQ(service_->memory_budget().used_bytes(), 0);
}

TEST_F(AdmitMatMulTest, TicketHoldsRequestAndTwiceTheOutputUntilDestroyed) {
  MatMulCall call = S8(1024, 1024, 1);  // 4 MiB output: 8 MiB + the request
  {
    auto t = service_->AdmitMatMul(call, 1000);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(service_->memory_budget().used_bytes(), 1000 + 8 * kMiB);
    // A second one does not fit the 16 MiB budget beside it.
    auto again = service_->AdmitMatMul(call, 1000);
    EXPECT_EQ(again.status().code(), absl::StatusCode::kResourceExhausted);
    auto r = service_->MatMul(call, *t);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->out.size(), size_t{4 * kMiB});
  }
  EXPECT_EQ(service_->memory_budget().used_bytes(), 0);
}

TEST_F(AdmitMatMulTest, InvalidValuesFailBeforeTheOutputIsAllocated) {
  MatMulCall call = S8(2, 3, 4);
  a_[5] = 0x80;  // -128
  auto r = service_->MatMul(call);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(service_->memory_budget().used_bytes(), 0);
}

}  // namespace
}  // namespace datanode::node
