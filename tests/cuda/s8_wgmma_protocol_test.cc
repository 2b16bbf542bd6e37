// Copyright 2026 The datanode Authors.
//
// Runs without a GPU: simulates the mbarrier protocol of the TMA wgmma kernels
// (ops/cuda/matmul_s8_wgmma_tma.cu) - per CTA one producer thread, two consumer
// warpgroups and kWgStages full/empty barriers, for clusters of 1 and 2 CTAs whose
// producers multicast their part of W into every CTA - with TMA copies, remote
// arrivals and wgmma groups completing whenever they like, under many random
// interleavings. The schedule (stages, parities, who releases what and when, the
// producer's tail) comes from the kernel's own protocol functions in
// matmul_s8_wgmma_layout.h; the mbarrier semantics (arrival count, transaction bytes
// that may arrive before the expect_tx, phase parity) are modelled here from the PTX
// ISA. Checked: no deadlock; a consumer only reads a stage that holds exactly the tile
// it expects, fully landed; no TMA copy is in flight into a stage while an MMA group
// may still read it; and no CTA exits while a copy into it, a copy it issued, or an
// arrival on its barriers is still to come.
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

struct Copy {  // one TMA box in flight into one CTA
  int issuer;  // CTA whose producer issued it
  int cta;     // destination CTA
  int stage;
  int tile;
  int64_t bytes;
};

struct Arrival {  // a consumer's remote arrive on an empty barrier, in flight
  int cta;
  int stage;
};

struct Group {  // one committed wgmma group in flight
  int stage;
  int tile;
};

struct Consumer {
  int64_t it = 0;            // next k tile to consume, in the CTA's sequence
  bool waiting_one = false;  // issued tile it-1's group, in its wait for <= 1 in flight
  bool draining = false;     // after an output tile's last k tile, in wait_group 0
  bool done = false;
  std::deque<Group> in_flight;
};

struct Stage {
  int tile = -1;    // tile whose bytes the stage holds or is receiving
  int landed = 0;   // boxes of that tile landed
  int writers = 0;  // TMA boxes in flight into the stage
};

struct Cta {
  std::vector<Mbarrier> full, empty;
  std::vector<Stage> stages;
  int producer_kt = 0;  // next producer step
  std::vector<Consumer> consumers;
  bool exited = false;
};

// The schedule under test: the kernel's functions, or a deliberately broken variant.
struct Protocol {
  bool (*producer_waits)(int64_t kt) = [](int64_t kt) { return TmaProducerWaits(kt); };
  uint32_t (*empty_parity)(int64_t kt) = [](int64_t kt) { return TmaEmptyParity(kt); };
  uint32_t (*full_parity)(int64_t kt) = [](int64_t kt) { return TmaFullParity(kt); };
  int64_t (*released_after)(int64_t kt) = [](int64_t kt) { return TmaTileReleasedAfter(kt); };
  int64_t (*producer_steps)(int64_t total) = [](int64_t total) { return TmaProducerSteps(total); };
  // Position of k tile `it` (of output tiles of k_tiles each) in the ring's sequence.
  int64_t (*sequence)(int64_t it, int k_tiles) = [](int64_t it, int) { return it; };
  int (*empty_arrivals)(int cluster) = [](int cluster) { return TmaEmptyArrivals(cluster); };
  bool release_everywhere = true;  // a consumer releases the stage in every CTA
};

// One run of the protocol in a cluster of `cluster` CTAs, each computing `items` output
// tiles (a persistent launch when > 1) of `k_tiles` k tiles; returns "" or what went
// wrong.
std::string Simulate(int cluster, int items, int k_tiles, uint64_t seed,
                     const Protocol& protocol = {}) {
  const int64_t total = static_cast<int64_t>(items) * k_tiles;
  const auto seq = [&](int64_t it) { return protocol.sequence(it, k_tiles); };
  SplitMix64 rng(seed);
  const int boxes_per_stage = 1 + cluster;  // own A + every CTA's part of W
  std::vector<Cta> ctas(cluster);
  for (Cta& cta : ctas) {
    cta.full.resize(kWgStages);
    cta.empty.resize(kWgStages);
    for (int s = 0; s < kWgStages; ++s) {
      cta.full[s].Init(kTmaFullArrivals);
      cta.empty[s].Init(protocol.empty_arrivals(cluster));
    }
    cta.stages.resize(kWgStages);
    cta.consumers.resize(kTmaConsumers);
  }
  std::vector<Copy> copies;
  std::vector<Arrival> arrivals;

  auto readers = [&](int cta, int stage) {
    int n = 0;
    for (const Consumer& c : ctas[cta].consumers) {
      for (const Group& g : c.in_flight) n += g.stage == stage;
    }
    return n;
  };
  auto where = [](int cta, int stage) {
    return "stage " + std::to_string(stage) + " of CTA " + std::to_string(cta);
  };

  for (int step = 0;; ++step) {
    if (step > 200000) return "no end after 200000 steps";
    enum Kind { kProducer, kCopyLands, kArrivalLands, kConsumerStep, kGroupRetires, kExit };
    struct Action {
      Kind kind;
      int cta;
      int index;
    };
    std::vector<Action> enabled;
    for (int i = 0; i < static_cast<int>(copies.size()); ++i) enabled.push_back({kCopyLands, 0, i});
    for (int i = 0; i < static_cast<int>(arrivals.size()); ++i) {
      enabled.push_back({kArrivalLands, 0, i});
    }
    bool all_exited = true;
    for (int r = 0; r < cluster; ++r) {
      const Cta& cta = ctas[r];
      if (cta.exited) continue;
      all_exited = false;
      const bool producer_done = cta.producer_kt == protocol.producer_steps(total);
      if (!producer_done) {
        const int64_t kt = seq(cta.producer_kt);
        if (!protocol.producer_waits(kt) ||
            cta.empty[TmaStage(kt)].TryWaitParity(protocol.empty_parity(kt))) {
          enabled.push_back({kProducer, r, 0});
        }
      }
      bool consumers_done = true;
      for (int c = 0; c < kTmaConsumers; ++c) {
        const Consumer& con = cta.consumers[c];
        consumers_done = consumers_done && con.done;
        if (!con.done) {
          if (con.waiting_one) {
            if (con.in_flight.size() <= 1) enabled.push_back({kConsumerStep, r, c});
          } else if (con.draining) {
            if (con.in_flight.empty()) enabled.push_back({kConsumerStep, r, c});  // wait_group 0
          } else if (cta.full[TmaStage(seq(con.it))].TryWaitParity(
                         protocol.full_parity(seq(con.it)))) {
            enabled.push_back({kConsumerStep, r, c});
          }
        }
        if (!con.in_flight.empty()) enabled.push_back({kGroupRetires, r, c});
      }
      // Its threads have all returned: the CTA may leave the GPU.
      if (producer_done && consumers_done) enabled.push_back({kExit, r, 0});
    }
    if (all_exited) {
      if (!copies.empty() || !arrivals.empty()) return "the kernel ended with work in flight";
      return "";
    }
    if (enabled.empty()) {
      std::string state = "deadlock: producer steps";
      for (const Cta& cta : ctas) state += " " + std::to_string(cta.producer_kt);
      state += ", consumer tiles";
      for (const Cta& cta : ctas) {
        for (const Consumer& c : cta.consumers) state += " " + std::to_string(c.it);
      }
      return state;
    }

    const Action act = enabled[rng.Next() % enabled.size()];
    switch (act.kind) {
      case kProducer: {
        Cta& cta = ctas[act.cta];
        const int64_t kt = cta.producer_kt++;
        if (!TmaProducerLoads(kt, total)) break;  // the tail: a wait only
        const int s = TmaStage(seq(kt));
        cta.full[s].ArriveExpectTx(kWgStageBytesA + kWgStageBytesB);
        // The own A box, then this CTA's part of W into every CTA of the cluster.
        std::vector<Copy> issued = {{act.cta, act.cta, s, static_cast<int>(kt), kWgStageBytesA}};
        for (int dst = 0; dst < cluster; ++dst) {
          issued.push_back(
              {act.cta, dst, s, static_cast<int>(kt), TmaWRowsPerCta(cluster) * kWgTileK});
        }
        for (const Copy& copy : issued) {
          Cta& to = ctas[copy.cta];
          if (to.exited) return "a copy targets " + where(copy.cta, s) + " after that CTA exited";
          if (readers(copy.cta, s) != 0) {
            return "tile " + std::to_string(kt) + " loads into " + where(copy.cta, s) +
                   " while an MMA group reads it";
          }
          if (to.stages[s].tile != kt) {
            to.stages[s].tile = static_cast<int>(kt);
            to.stages[s].landed = 0;
          }
          ++to.stages[s].writers;
          copies.push_back(copy);
        }
        break;
      }
      case kCopyLands: {
        const Copy copy = copies[act.index];
        copies.erase(copies.begin() + act.index);
        Cta& to = ctas[copy.cta];
        if (to.exited) return "a box lands in " + where(copy.cta, copy.stage) + " after it exited";
        if (readers(copy.cta, copy.stage) != 0) {
          return "a box of tile " + std::to_string(copy.tile) + " lands in " +
                 where(copy.cta, copy.stage) + " while an MMA group reads it";
        }
        Stage& st = to.stages[copy.stage];
        --st.writers;
        if (st.tile == copy.tile) ++st.landed;
        to.full[copy.stage].CompleteTx(copy.bytes);
        break;
      }
      case kArrivalLands: {
        const Arrival arrival = arrivals[act.index];
        arrivals.erase(arrivals.begin() + act.index);
        if (ctas[arrival.cta].exited) {
          return "an arrival on " + where(arrival.cta, arrival.stage) + " after that CTA exited";
        }
        ctas[arrival.cta].empty[arrival.stage].Arrive();
        break;
      }
      case kConsumerStep: {
        Cta& cta = ctas[act.cta];
        Consumer& con = cta.consumers[act.index];
        auto release = [&](int64_t tile) -> std::string {
          for (const Group& g : con.in_flight) {
            if (g.tile == tile) return "released a stage whose MMAs still run";
          }
          for (int dst = 0; dst < cluster; ++dst) {
            if (protocol.release_everywhere || dst == act.cta) {
              arrivals.push_back({dst, TmaStage(seq(tile))});
            }
          }
          return "";
        };
        std::string error;
        if (con.waiting_one) {
          // Wait for <= 1 group done; release the k tile before the one just issued
          // (counted within the output tile).
          con.waiting_one = false;
          const int64_t issued = con.it - 1;
          const int64_t j = issued % k_tiles;
          const int64_t released = protocol.released_after(j);
          if (released >= 0) error = release(issued - j + released);
          con.draining = j == k_tiles - 1;
        } else if (con.draining) {
          error = release(con.it - 1);  // after wait_group 0, before the epilogue
          con.draining = false;
          con.done = con.it == total;
        } else {
          const int s = TmaStage(seq(con.it));
          const Stage& st = cta.stages[s];
          if (st.tile != con.it || st.landed != boxes_per_stage || st.writers != 0) {
            return "consumer " + std::to_string(act.index) + " reads " + where(act.cta, s) +
                   " for tile " + std::to_string(con.it) + " but it holds tile " +
                   std::to_string(st.tile) + " with " + std::to_string(st.landed) +
                   " boxes landed, " + std::to_string(st.writers) + " in flight";
          }
          con.in_flight.push_back({s, static_cast<int>(con.it)});
          ++con.it;
          con.waiting_one = true;
        }
        if (!error.empty()) return error;
        break;
      }
      case kGroupRetires:
        ctas[act.cta].consumers[act.index].in_flight.pop_front();  // groups retire in order
        break;
      case kExit:
        for (const Copy& copy : copies) {
          if (copy.issuer == act.cta) {
            return "CTA " + std::to_string(act.cta) + " exits with a copy it issued in flight";
          }
        }
        ctas[act.cta].exited = true;
        break;
    }
  }
}

TEST(CudaS8WgmmaProtocol, RandomInterleavingsNeverDeadlockOrRace) {
  int runs = 0;
  for (int cluster = 1; cluster <= kTmaMaxCluster; ++cluster) {
    for (int items : {1, 3}) {
      for (int k_tiles : {1, 2, 3, 4, 5, 7, 8, 9, 13, 33}) {
        for (uint64_t seed = 0; seed < 200; ++seed) {
          ASSERT_EQ(Simulate(cluster, items, k_tiles, seed * 131 + k_tiles), "")
              << "cluster " << cluster << ", output tiles " << items << ", k_tiles " << k_tiles
              << ", seed " << seed;
          ++runs;
        }
      }
    }
  }
  EXPECT_EQ(runs, 8000);
}

// The simulation can fail: broken variants of the schedule are caught.
TEST(CudaS8WgmmaProtocol, BrokenSchedulesAreCaught) {
  // 9 k tiles wrap the ring twice (stale stages, parities); 2 leave stages unused (the
  // tail's job is visible); 3 output tiles of 3 k tiles cross tile boundaries
  // mid-ring.
  auto fails_somewhere = [](int cluster, const Protocol& protocol) {
    const int kRuns[][2] = {{1, 9}, {1, 2}, {3, 3}};  // {items, k_tiles}
    for (uint64_t seed = 0; seed < 300; ++seed) {
      for (const auto& run : kRuns) {
        if (!Simulate(cluster, run[0], run[1], seed, protocol).empty()) return true;
      }
    }
    return false;
  };
  for (int cluster = 1; cluster <= kTmaMaxCluster; ++cluster) {
    SCOPED_TRACE("cluster " + std::to_string(cluster));
    Protocol no_wait;  // the producer reloads a stage without waiting for its release
    no_wait.producer_waits = [](int64_t) { return false; };
    EXPECT_TRUE(fails_somewhere(cluster, no_wait));
    Protocol early_release;  // a consumer releases the stage its MMAs just started on
    early_release.released_after = [](int64_t kt) { return kt; };
    EXPECT_TRUE(fails_somewhere(cluster, early_release));
    Protocol stale_full;  // consumers always wait on the first round's parity
    stale_full.full_parity = [](int64_t) { return 0u; };
    EXPECT_TRUE(fails_somewhere(cluster, stale_full));
    Protocol wrong_empty;  // the producer waits on the wrong round of empty
    wrong_empty.empty_parity = [](int64_t kt) { return TmaEmptyParity(kt) ^ 1u; };
    EXPECT_TRUE(fails_somewhere(cluster, wrong_empty));
    Protocol ring_restarts;  // persistent CTAs restart the ring at each output tile
    ring_restarts.sequence = [](int64_t it, int k_tiles) { return it % k_tiles; };
    EXPECT_TRUE(fails_somewhere(cluster, ring_restarts));
  }
  // Cluster-only mistakes.
  Protocol no_tail;  // the producer leaves after its last load
  no_tail.producer_steps = [](int64_t total) { return total; };
  EXPECT_TRUE(fails_somewhere(2, no_tail));
  Protocol local_release;  // consumers release only their own CTA's stage
  local_release.release_everywhere = false;
  local_release.empty_arrivals = [](int) { return kTmaConsumers; };
  EXPECT_TRUE(fails_somewhere(2, local_release));
  Protocol cta_count;  // empty barriers count one CTA's consumers only
  cta_count.empty_arrivals = [](int) { return kTmaConsumers; };
  EXPECT_TRUE(fails_somewhere(2, cta_count));
}

}  // namespace
}  // namespace datanode::ops::cuda
