// Deterministic simulation of PbftReplica clusters: every scenario over a range of seeds,
// safety checked after every step and liveness after healing.
//
// Environment:
//   RESDB_PBFT_SIM_SEEDS=N  seeds per scenario (default kDefaultSeeds), for long sweeps.
//   RESDB_PBFT_SIM_SEED=N   run only seed N (to reproduce a failure printed by a run).

#include <chrono>
#include <cstdio>
#include <functional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "platform/consensus/ordering/pbft/simulation/pbft_scenario.h"
#include "platform/consensus/ordering/pbft/simulation/pbft_scenario_runner.h"
#include "platform/consensus/ordering/simulation/seed_range.h"

namespace resdb {
namespace pbft {
namespace simulation {
namespace {

constexpr uint64_t kDefaultSeeds = 100;
// Failures reported per scenario before the rest of its seeds are skipped.
constexpr int kMaxReportedFailures = 3;

struct Case {
  std::string scenario;
  int nodes = 0;  // 0: the scenario's own
};

std::string Name(const Case& c) {
  return c.nodes == 0 ? c.scenario : absl::StrCat(c.scenario, "_", c.nodes, "nodes");
}

std::string CaseName(const testing::TestParamInfo<Case>& info) { return Name(info.param); }

void PrintTo(const Case& c, std::ostream* os) { *os << Name(c); }

std::vector<Case> AllCases() {
  std::vector<Case> cases;
  for (const std::string& name : ScenarioNames()) cases.push_back({name, 0});
  for (const char* name :
       {"lossy", "primary_crash", "crash_restart", "equivocating_primary", "chaos"}) {
    cases.push_back({name, 7});
  }
  return cases;
}

class PbftSimulationTest : public testing::TestWithParam<Case> {};

TEST_P(PbftSimulationTest, SafetyAndLivenessOverSeeds) {
  absl::StatusOr<ScenarioConfig> config = ScenarioByName(GetParam().scenario);
  ASSERT_TRUE(config.ok()) << config.status();
  if (GetParam().nodes != 0) config->nodes = GetParam().nodes;

  const ::resdb::simulation::SeedRange seeds = ::resdb::simulation::SeedRangeFromEnv(
      "RESDB_PBFT_SIM_SEEDS", "RESDB_PBFT_SIM_SEED", kDefaultSeeds);
  const uint64_t first = seeds.first;
  const uint64_t count = seeds.count;
  const bool single = seeds.single;

  const auto start = std::chrono::steady_clock::now();
  int failures = 0;
  uint64_t runs = 0;
  uint64_t released = 0;
  uint64_t views = 0;
  uint64_t crashes = 0;
  uint64_t fetched = 0;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    const RunResult result = RunScenario(*config, seed);
    ++runs;
    released += result.released;
    views += result.max_view;
    crashes += result.crashes;
    fetched += result.fetched_batches;
    if (single) std::printf("%s\n", result.Summary().c_str());
    if (result.ok) continue;
    ADD_FAILURE() << "seed " << seed << " violated an invariant\n  " << result.violation << "\n  "
                  << result.Summary() << "\n  " << result.ReproduceHint();
    if (++failures >= kMaxReportedFailures) break;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "%s nodes=%d: %llu seeds from %llu, %llu seqs released, %llu views reached, %llu crashes, "
      "%llu batches fetched, %d failing, %.1fs\n",
      config->name.c_str(), config->nodes, static_cast<unsigned long long>(runs),
      static_cast<unsigned long long>(first), static_cast<unsigned long long>(released),
      static_cast<unsigned long long>(views), static_cast<unsigned long long>(crashes),
      static_cast<unsigned long long>(fetched), failures, seconds);
}

INSTANTIATE_TEST_SUITE_P(Scenarios, PbftSimulationTest, testing::ValuesIn(AllCases()), CaseName);

// Seeds that once broke agreement or liveness (README.md, "Regression seeds"), beyond the
// seeds the sweep above runs by default.
TEST(PbftSimulationRegressionTest, SeedsThatOnceFailedPass) {
  struct Regression {
    std::string scenario;
    std::vector<uint64_t> seeds;
  };
  const std::vector<Regression> regressions = {
      {"mass_crash_restart", {2, 10, 60, 63, 66, 69, 307, 308, 332, 464, 626, 1270, 1446}},
      {"chaos", {940, 1527}},
      {"tight_window", {12, 84, 548, 755}},
  };
  for (const Regression& regression : regressions) {
    absl::StatusOr<ScenarioConfig> config = ScenarioByName(regression.scenario);
    ASSERT_TRUE(config.ok()) << config.status();
    for (uint64_t seed : regression.seeds) {
      const RunResult result = RunScenario(*config, seed);
      EXPECT_TRUE(result.ok) << regression.scenario << " seed " << seed << ": " << result.violation
                             << "\n  " << result.ReproduceHint();
    }
  }
}

// The faults of each scenario really strike: a scenario whose fault never happens would
// pass for the wrong reason.
TEST(PbftSimulationCoverageTest, FaultsStrike) {
  struct Expectation {
    std::string scenario;
    std::function<bool(const RunResult&)> struck;
    std::string what;
  };
  const std::vector<Expectation> expectations = {
      {"lossy", [](const RunResult& r) { return r.network.dropped > 0 && r.fetched_batches > 0; },
       "messages lost and batches fetched"},
      {"primary_crash", [](const RunResult& r) { return r.crashes == 1 && r.max_view >= 1; },
       "the primary crashed and the view changed"},
      {"silent_primary", [](const RunResult& r) { return r.max_view >= 1; }, "the view changed"},
      {"primary_crash_idle", [](const RunResult& r) { return r.crashes == 1 && r.max_view >= 1; },
       "the primary crashed and the view changed"},
      {"crash_restart", [](const RunResult& r) { return r.crashes >= 2; }, "replicas crashed"},
      {"mass_crash_restart", [](const RunResult& r) { return r.crashes >= 5; }, "replicas crashed"},
      {"partition_catchup", [](const RunResult& r) { return r.fetched_batches >= 40; },
       "a replica caught up through FETCH"},
      {"equivocating_primary",
       [](const RunResult& r) { return r.equivocations > 0 && r.max_view >= 1; },
       "the primary equivocated and was replaced"},
      {"forged_evidence", [](const RunResult& r) { return r.forgeries > 0 && r.max_view >= 2; },
       "a backup forged prepared certificates while views changed"},
      {"forged_requests",
       [](const RunResult& r) {
         return r.forged_requests > 0 && r.unsigned_refused > 0 && r.max_view >= 2;
       },
       "a primary forged client requests, the backups refused them and replaced it"},
  };
  for (const Expectation& e : expectations) {
    absl::StatusOr<ScenarioConfig> config = ScenarioByName(e.scenario);
    ASSERT_TRUE(config.ok());
    int struck = 0;
    for (uint64_t seed = 1; seed <= 10; ++seed) struck += e.struck(RunScenario(*config, seed));
    EXPECT_GE(struck, 8) << e.scenario << ": " << e.what << " in only " << struck << " of 10 seeds";
  }
}

TEST(PbftSimulationDeterminismTest, SameSeedGivesSameTrace) {
  for (const char* name : {"chaos", "crash_restart", "equivocating_primary"}) {
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

TEST(PbftSimulationDeterminismTest, DifferentSeedsGiveDifferentTraces) {
  absl::StatusOr<ScenarioConfig> config = ScenarioByName("lossy");
  ASSERT_TRUE(config.ok());
  std::set<uint64_t> hashes;
  for (uint64_t seed = 1; seed <= 10; ++seed) hashes.insert(RunScenario(*config, seed).trace_hash);
  EXPECT_EQ(hashes.size(), 10u);
}

}  // namespace
}  // namespace simulation
}  // namespace pbft
}  // namespace resdb
