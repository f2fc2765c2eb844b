// The simulator's invariant checks must catch a real protocol bug. This test runs the
// simulation with RaftNodeOptions::testing_vote_ignores_log, which grants votes to
// candidates whose log is behind, and expects a safety violation (a leader missing committed
// entries, or nodes applying different entries) within a bounded number of seeds.
#include <cstdint>
#include <cstdio>
#include <string>

#include "gtest/gtest.h"
#include "platform/consensus/ordering/raft/simulation/scenario.h"
#include "platform/consensus/ordering/raft/simulation/scenario_runner.h"

namespace resdb {
namespace raft {
namespace {

TEST(VoteFaultTest, InvariantChecksCatchVotesForStaleLogs) {
  std::string example;
  for (const std::string& name : {"chaos", "partitions", "crash_restart"}) {
    absl::StatusOr<ScenarioConfig> config = ScenarioByName(name);
    ASSERT_TRUE(config.ok()) << config.status();
    // Pre-vote and leader leases would keep most second votes from ever being asked for.
    config->node_options.pre_vote = false;
    config->node_options.check_quorum = false;
    config->node_options.testing_vote_ignores_log = true;
    for (uint64_t seed = 1; seed <= 300 && example.empty(); ++seed) {
      const RunResult result = RunScenario(*config, seed);
      if (!result.ok && result.violation.find("liveness") == std::string::npos &&
          result.violation.find("cannot persist") == std::string::npos) {
        example = name + " seed " + std::to_string(seed) + ": " + result.violation;
      }
    }
    if (!example.empty()) break;
  }
  EXPECT_FALSE(example.empty()) << "votes for candidates with stale logs went unnoticed";
  std::printf("detected: %s\n", example.c_str());
}

}  // namespace
}  // namespace raft
}  // namespace resdb
