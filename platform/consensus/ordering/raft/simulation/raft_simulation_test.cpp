// Deterministic simulation of RaftNode clusters: every scenario over a range of seeds, with
// the safety invariants checked after every step and liveness checked after healing.
//
// Environment:
//   RESDB_SIM_SEEDS=N  seeds per scenario (default kDefaultSeeds), for long runs.
//   RESDB_SIM_SEED=N   run only seed N (to reproduce a failure printed by a run).

#include <chrono>
#include <cstdio>
#include <ostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "platform/consensus/ordering/raft/simulation/scenario.h"
#include "platform/consensus/ordering/raft/simulation/scenario_runner.h"
#include "platform/consensus/ordering/raft/simulation/simulated_cluster.h"
#include "platform/consensus/ordering/simulation/seed_range.h"

namespace resdb {
namespace raft {
namespace {

constexpr uint64_t kDefaultSeeds = 100;
// Failures reported per scenario before the rest of its seeds are skipped.
constexpr int kMaxReportedFailures = 3;
// Seeds a snapshot scenario needs before it must have installed a snapshot.
constexpr uint64_t kMinSeedsForSnapshotCheck = 20;
// Seeds a membership scenario needs before it must have committed changes, and a leader
// removed itself.
constexpr uint64_t kMinSeedsForMembershipCheck = 20;

struct Case {
  std::string scenario;
  int nodes = 0;       // 0: the scenario's own
  uint64_t seeds = 0;  // 0: kDefaultSeeds
};

// Membership scenarios run more nodes and ticks per seed: fewer seeds keep the test short.
constexpr uint64_t kMembershipSeeds = 30;

std::string Name(const Case& c) {
  std::string name = c.scenario;
  if (c.nodes != 0) absl::StrAppend(&name, "_", c.nodes, "nodes");
  return name;
}

std::string CaseName(const testing::TestParamInfo<Case>& info) { return Name(info.param); }

void PrintTo(const Case& c, std::ostream* os) { *os << Name(c); }

std::vector<Case> AllCases() {
  std::vector<Case> cases;
  for (const std::string& name : ScenarioNames()) {
    const bool membership = name.rfind("membership", 0) == 0;
    cases.push_back({name, 0, membership ? kMembershipSeeds : 0});
  }
  cases.push_back({"partitions", 5});
  cases.push_back({"leader_isolation", 5});
  cases.push_back({"crash_restart", 5});
  cases.push_back({"chaos", 5});
  cases.push_back({"snapshot_catch_up", 5});
  return cases;
}

class RaftSimulationTest : public testing::TestWithParam<Case> {};

TEST_P(RaftSimulationTest, SafetyAndLivenessOverSeeds) {
  absl::StatusOr<ScenarioConfig> config = ScenarioByName(GetParam().scenario);
  ASSERT_TRUE(config.ok()) << config.status();
  if (GetParam().nodes != 0) config->nodes = GetParam().nodes;

  const ::resdb::simulation::SeedRange seeds = ::resdb::simulation::SeedRangeFromEnv(
      "RESDB_SIM_SEEDS", "RESDB_SIM_SEED",
      GetParam().seeds != 0 ? GetParam().seeds : kDefaultSeeds);
  const uint64_t first = seeds.first;
  const uint64_t count = seeds.count;
  const bool single = seeds.single;

  const auto start = std::chrono::steady_clock::now();
  int failures = 0;
  uint64_t runs = 0;
  uint64_t committed = 0;
  uint64_t crashes = 0;
  uint64_t leaders = 0;
  SimulatedCluster::SnapshotCounts snapshots;
  SimulatedCluster::MembershipCounts membership;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    const RunResult result = RunScenario(*config, seed);
    ++runs;
    committed += result.committed_index;
    crashes += result.crashes;
    leaders += result.leaders_seen;
    snapshots.taken += result.snapshots.taken;
    snapshots.sent += result.snapshots.sent;
    snapshots.installed += result.snapshots.installed;
    membership.proposed += result.membership.proposed;
    membership.committed += result.membership.committed;
    membership.self_removals_committed += result.membership.self_removals_committed;
    if (single) std::printf("%s\n", result.Summary().c_str());
    if (!result.ok) {
      ADD_FAILURE() << "seed " << seed << " violated an invariant\n  " << result.violation << "\n  "
                    << result.Summary() << "\n  " << result.ReproduceHint();
      if (++failures >= kMaxReportedFailures) break;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string snapshot_counts;
  if (config->snapshot_every > 0) {
    snapshot_counts = absl::StrCat(", snapshots taken/sent/installed ", snapshots.taken, "/",
                                   snapshots.sent, "/", snapshots.installed);
  }
  if (config->spares > 0) {
    absl::StrAppend(&snapshot_counts, ", membership changes proposed/committed ",
                    membership.proposed, "/", membership.committed, ", leaders removed ",
                    membership.self_removals_committed);
  }
  std::printf(
      "%s nodes=%d: %llu seeds from %llu, %llu entries committed, %llu leaders, "
      "%llu crashes%s, %.1fs\n",
      config->name.c_str(), config->nodes, static_cast<unsigned long long>(runs),
      static_cast<unsigned long long>(first), static_cast<unsigned long long>(committed),
      static_cast<unsigned long long>(leaders), static_cast<unsigned long long>(crashes),
      snapshot_counts.c_str(), seconds);
  // A snapshot scenario that never installs a snapshot would pass without testing transfers;
  // over a range of seeds every one of them must install some. A few seeds may have no reason
  // to.
  if (config->snapshot_every > 0 && !single && count >= kMinSeedsForSnapshotCheck) {
    EXPECT_GT(snapshots.taken, 0u) << config->name << " took no snapshot";
    EXPECT_GT(snapshots.installed, 0u) << config->name << " installed no snapshot";
  }
  // Likewise a membership scenario must commit changes, leaders removing themselves among
  // them (each scenario does so in about a quarter of its seeds).
  if (config->membership_change_rate > 0 && !single && count >= kMinSeedsForMembershipCheck) {
    EXPECT_GT(membership.committed, 0u) << config->name << " committed no membership change";
    EXPECT_GT(membership.self_removals_committed, 0u)
        << config->name << ": no leader removed itself";
  }
}

INSTANTIATE_TEST_SUITE_P(Scenarios, RaftSimulationTest, testing::ValuesIn(AllCases()), CaseName);

TEST(RaftSimulationDeterminismTest, SameSeedGivesSameTrace) {
  for (const char* name :
       {"chaos", "crash_restart", "double_crash_5", "partitions", "snapshot_chaos",
        "compaction_crash", "membership_crash", "membership_snapshots"}) {
    absl::StatusOr<ScenarioConfig> config = ScenarioByName(name);
    ASSERT_TRUE(config.ok());
    for (uint64_t seed : {3u, 17u}) {
      const RunResult a = RunScenario(*config, seed);
      const RunResult b = RunScenario(*config, seed);
      EXPECT_EQ(a.trace_hash, b.trace_hash) << name << " seed " << seed;
      EXPECT_EQ(a.Summary(), b.Summary());
    }
  }
}

TEST(RaftSimulationDeterminismTest, DifferentSeedsGiveDifferentTraces) {
  absl::StatusOr<ScenarioConfig> config = ScenarioByName("chaos");
  ASSERT_TRUE(config.ok());
  std::set<uint64_t> hashes;
  for (uint64_t seed = 1; seed <= 10; ++seed) hashes.insert(RunScenario(*config, seed).trace_hash);
  EXPECT_EQ(hashes.size(), 10u);
}

// A cluster that sends before it persists (breaking the Ready contract) forgets, when it
// crashes, entries it has already acknowledged; the checks must catch the resulting safety
// violation (not just a stall) within a bounded number of seeds.
TEST(RaftSimulationSelfTest, DetectsMessagesSentBeforePersisting) {
  absl::StatusOr<ScenarioConfig> config = ScenarioByName("chaos");
  ASSERT_TRUE(config.ok());
  config->send_before_persist = true;
  config->crash_rate = 0.15;
  config->crash_points = {CrashPoint::kBeforePersist};
  config->partition_change_rate = 0;
  std::string example;
  for (uint64_t seed = 1; seed <= 400 && example.empty(); ++seed) {
    const RunResult result = RunScenario(*config, seed);
    if (!result.ok && result.violation.find("liveness") == std::string::npos) {
      example = absl::StrCat("seed ", seed, ": ", result.violation);
    }
  }
  EXPECT_FALSE(example.empty()) << "no safety violation found in 400 seeds of a broken cluster";
  std::printf("detected: %s\n", example.c_str());
}

// The same broken cluster with membership changes: a follower that acknowledges entries
// before persisting them and then crashes is counted by the leader for entries it does not
// hold, which the commit quorum check reports in the step of the commit.
TEST(RaftSimulationSelfTest, CommitQuorumCatchesAcknowledgementsNotPersisted) {
  absl::StatusOr<ScenarioConfig> config = ScenarioByName("membership_crash");
  ASSERT_TRUE(config.ok());
  config->send_before_persist = true;
  config->crash_rate = 0.15;
  config->crash_points = {CrashPoint::kBeforePersist};
  std::string example;
  for (uint64_t seed = 1; seed <= 400 && example.empty(); ++seed) {
    const RunResult result = RunScenario(*config, seed);
    if (result.violation.find("commit quorum") != std::string::npos) {
      example = absl::StrCat("seed ", seed, ": ", result.violation);
    }
  }
  EXPECT_FALSE(example.empty()) << "no commit quorum violation in 400 seeds of a broken cluster";
  std::printf("detected: %s\n", example.c_str());
}

}  // namespace
}  // namespace raft
}  // namespace resdb
