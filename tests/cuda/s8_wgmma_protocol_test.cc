// Copyright 2026 The datanode Authors.
//
// Runs without a GPU: simulates the mbarrier protocol of the TMA wgmma kernel
// (ops/cuda/matmul_s8_wgmma_tma.cu) - one producer thread, two consumer warpgroups,
// kWgStages full/empty barriers, TMA copies and wgmma groups that complete whenever they
// like - under many random interleavings. The schedule (stages, parities, who releases
// what and when) comes from the kernel's own protocol functions in
// matmul_s8_wgmma_layout.h; the mbarrier semantics (arrival count, transaction bytes,
// phase parity) are modelled here from the PTX ISA. Checked: no deadlock, a consumer
// only reads a stage that holds exactly the tile it expects, fully landed, and no TMA
// copy is in flight into a stage while an MMA group may still read it.
#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "datanode/ops/random_inputs.h"
#include "ops/cuda/matmul_s8_wgmma_layout.h"

namespace datanode::ops::cuda {
namespace {

// PTX mbarrier: a phase completes when its pending arrivals and transaction bytes
// both reach zero; try_wait.parity(p) succeeds once the phase with parity p is done,
// i.e. while the current (incomplete) phase has the other parity.
struct Mbarrier {
  int count = 0;
  int pending = 0;
  int64_t tx = 0;
  int completed_phases = 0;

  void Init(int arrivals) {
    count = arrivals;
    pending = arrivals;
  }
  void MaybeComplete() {
    if (pending == 0 && tx == 0) {
      ++completed_phases;
      pending = count;
    }
  }
  void Arrive() {
    --pending;
    MaybeComplete();
  }
  void ArriveExpectTx(int64_t bytes) {
    tx += bytes;
    Arrive();
  }
  void CompleteTx(int64_t bytes) {
    tx -= bytes;
    MaybeComplete();
  }
  bool TryWaitParity(uint32_t parity) const {
    return static_cast<uint32_t>(completed_phases & 1) != parity;
  }
};

struct Copy {  // one TMA box in flight
  int stage;
  int tile;
  int64_t bytes;
};

struct Group {  // one committed wgmma group in flight
  int stage;
  int tile;
};

struct Consumer {
  int kt = 0;                // next tile to consume
  bool waiting_one = false;  // issued tile kt-1's group, in its wait for <= 1 in flight
  bool done = false;
  std::deque<Group> in_flight;
};

struct Stage {
  int tile = -1;    // tile whose bytes the stage holds or is receiving
  int landed = 0;   // boxes of that tile landed (2 = complete)
  int writers = 0;  // TMA boxes in flight into the stage
};

// The schedule under test: the kernel's functions, or a deliberately broken variant.
struct Protocol {
  bool (*producer_waits)(int kt) = [](int kt) { return TmaProducerWaits(kt); };
  uint32_t (*empty_parity)(int kt) = [](int kt) { return TmaEmptyParity(kt); };
  uint32_t (*full_parity)(int kt) = [](int kt) { return TmaFullParity(kt); };
  int (*released_after)(int kt) = [](int kt) { return TmaTileReleasedAfter(kt); };
};

// One run of the protocol for `k_tiles` tiles; returns "" or what went wrong.
std::string Simulate(int k_tiles, uint64_t seed, const Protocol& protocol = {}) {
  SplitMix64 rng(seed);
  std::vector<Mbarrier> full(kWgStages), empty(kWgStages);
  for (int s = 0; s < kWgStages; ++s) {
    full[s].Init(kTmaFullArrivals);
    empty[s].Init(kTmaEmptyArrivals);
  }
  std::vector<Stage> stages(kWgStages);
  std::vector<Copy> copies;
  int producer_kt = 0;
  std::vector<Consumer> consumers(kTmaConsumers);

  auto readers = [&](int stage) {
    int n = 0;
    for (const Consumer& c : consumers) {
      for (const Group& g : c.in_flight) n += g.stage == stage;
    }
    return n;
  };

  for (int step = 0;; ++step) {
    if (step > 100000) return "no end after 100000 steps";
    // Collect the enabled actions: 0 = producer, 1.. = copies, then consumers, then
    // the completion of each consumer's oldest group.
    enum Kind { kProducer, kCopyLands, kConsumerStep, kGroupRetires };
    struct Action {
      Kind kind;
      int index;
    };
    std::vector<Action> enabled;
    if (producer_kt < k_tiles) {
      const int s = TmaStage(producer_kt);
      if (!protocol.producer_waits(producer_kt) ||
          empty[s].TryWaitParity(protocol.empty_parity(producer_kt))) {
        enabled.push_back({kProducer, 0});
      }
    }
    for (int i = 0; i < static_cast<int>(copies.size()); ++i) enabled.push_back({kCopyLands, i});
    for (int c = 0; c < kTmaConsumers; ++c) {
      const Consumer& con = consumers[c];
      if (!con.done) {
        if (con.waiting_one) {
          if (con.in_flight.size() <= 1) enabled.push_back({kConsumerStep, c});
        } else if (con.kt == k_tiles) {
          if (con.in_flight.empty()) enabled.push_back({kConsumerStep, c});  // wait_group 0
        } else if (full[TmaStage(con.kt)].TryWaitParity(protocol.full_parity(con.kt))) {
          enabled.push_back({kConsumerStep, c});
        }
      }
      if (!con.in_flight.empty()) enabled.push_back({kGroupRetires, c});
    }
    bool all_done = producer_kt == k_tiles && copies.empty();
    for (const Consumer& c : consumers) all_done = all_done && c.done;
    if (all_done) return "";
    if (enabled.empty()) {
      return "deadlock at producer tile " + std::to_string(producer_kt) + ", consumer tiles " +
             std::to_string(consumers[0].kt) + "/" + std::to_string(consumers[1].kt);
    }

    const Action act = enabled[rng.Next() % enabled.size()];
    switch (act.kind) {
      case kProducer: {
        const int s = TmaStage(producer_kt);
        full[s].ArriveExpectTx(kWgStageBytesA + kWgStageBytesB);
        if (readers(s) != 0) {
          return "tile " + std::to_string(producer_kt) + " loads into stage " + std::to_string(s) +
                 " while an MMA group reads it";
        }
        stages[s].tile = producer_kt;
        stages[s].landed = 0;
        stages[s].writers += 2;
        copies.push_back({s, producer_kt, kWgStageBytesA});
        copies.push_back({s, producer_kt, kWgStageBytesB});
        ++producer_kt;
        break;
      }
      case kCopyLands: {
        const Copy copy = copies[act.index];
        copies.erase(copies.begin() + act.index);
        if (readers(copy.stage) != 0) {
          return "a box of tile " + std::to_string(copy.tile) + " lands in stage " +
                 std::to_string(copy.stage) + " while an MMA group reads it";
        }
        Stage& st = stages[copy.stage];
        --st.writers;
        if (st.tile == copy.tile) ++st.landed;
        full[copy.stage].CompleteTx(copy.bytes);
        break;
      }
      case kConsumerStep: {
        Consumer& con = consumers[act.index];
        if (con.waiting_one) {
          // Wait for <= 1 group done; release the tile before the one just issued.
          con.waiting_one = false;
          const int released = protocol.released_after(con.kt - 1);
          if (released >= 0) {
            for (const Group& g : con.in_flight) {
              if (g.tile == released) return "released a stage whose MMAs still run";
            }
            empty[TmaStage(released)].Arrive();
          }
        } else if (con.kt == k_tiles) {
          con.done = true;
        } else {
          const int s = TmaStage(con.kt);
          const Stage& st = stages[s];
          if (st.tile != con.kt || st.landed != 2 || st.writers != 0) {
            return "consumer " + std::to_string(act.index) + " reads stage " + std::to_string(s) +
                   " for tile " + std::to_string(con.kt) + " but it holds tile " +
                   std::to_string(st.tile) + " with " + std::to_string(st.landed) +
                   " boxes landed, " + std::to_string(st.writers) + " in flight";
          }
          con.in_flight.push_back({s, con.kt});
          ++con.kt;
          con.waiting_one = true;
        }
        break;
      }
      case kGroupRetires:
        consumers[act.index].in_flight.pop_front();  // wgmma groups complete in order
        break;
    }
  }
}

TEST(CudaS8WgmmaProtocol, RandomInterleavingsNeverDeadlockOrRace) {
  int runs = 0;
  for (int k_tiles : {1, 2, 3, 4, 5, 7, 8, 9, 13, 33}) {
    for (uint64_t seed = 0; seed < 300; ++seed) {
      ASSERT_EQ(Simulate(k_tiles, seed * 131 + k_tiles), "")
          << "k_tiles " << k_tiles << ", seed " << seed;
      ++runs;
    }
  }
  EXPECT_EQ(runs, 3000);
}

// The simulation can fail: broken variants of the schedule are caught.
TEST(CudaS8WgmmaProtocol, BrokenSchedulesAreCaught) {
  auto fails_somewhere = [](const Protocol& protocol) {
    for (uint64_t seed = 0; seed < 300; ++seed) {
      if (!Simulate(9, seed, protocol).empty()) return true;
    }
    return false;
  };
  Protocol no_wait;  // the producer reloads a stage without waiting for its release
  no_wait.producer_waits = [](int) { return false; };
  EXPECT_TRUE(fails_somewhere(no_wait));
  Protocol early_release;  // a consumer releases the stage its MMAs just started on
  early_release.released_after = [](int kt) { return kt; };
  EXPECT_TRUE(fails_somewhere(early_release));
  Protocol stale_full;  // consumers always wait on the first round's parity
  stale_full.full_parity = [](int) { return 0u; };
  EXPECT_TRUE(fails_somewhere(stale_full));
  Protocol wrong_empty;  // the producer waits on the wrong round of empty
  wrong_empty.empty_parity = [](int kt) { return TmaEmptyParity(kt) ^ 1u; };
  EXPECT_TRUE(fails_somewhere(wrong_empty));
}

}  // namespace
}  // namespace datanode::ops::cuda
