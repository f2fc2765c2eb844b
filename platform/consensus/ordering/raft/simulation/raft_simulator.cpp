// Runs simulated RAFT clusters from the command line, e.g.
//   raft_simulator --scenario=chaos --seeds=1000
//   raft_simulator --scenario=crash_restart --seed=42 --nodes=5 --steps=600
// Prints one summary line per run (or only violations with --quiet) and exits non-zero if
// any run broke an invariant.

#include <gflags/gflags.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "platform/consensus/ordering/raft/simulation/scenario.h"
#include "platform/consensus/ordering/raft/simulation/scenario_runner.h"

DEFINE_string(scenario, "chaos", "scenario name, or 'all'");
DEFINE_uint64(seed, 1, "first seed");
DEFINE_uint64(seeds, 1, "number of consecutive seeds to run from --seed");
DEFINE_int32(nodes, 0, "cluster size (0: the scenario's own)");
DEFINE_int32(steps, 0, "ticks of the fault phase (0: the scenario's own)");
DEFINE_bool(quiet, false, "print only violations and the totals");
DEFINE_bool(send_before_persist, false,
            "break the Ready contract on purpose (send before persisting), to see the checks "
            "catch it");
DEFINE_double(crash_rate, -1, "per-tick crash probability (negative: the scenario's own)");
DEFINE_int32(pre_vote, -1, "RaftNodeOptions::pre_vote: 0 or 1 (-1: the scenario's own)");
DEFINE_int32(check_quorum, -1, "RaftNodeOptions::check_quorum: 0 or 1 (-1: the scenario's own)");
DEFINE_int32(snapshot_every, -1,
             "snapshot every N applied entries, 0 for never (-1: the scenario's own)");
DEFINE_int32(snapshot_tail, -1,
             "entries kept before a snapshot's index when compacting (-1: the scenario's own)");
DEFINE_bool(verbose, false, "print every step of every run (use with one seed)");
DEFINE_bool(list, false, "list the scenarios and exit");

int main(int argc, char** argv) {
  gflags::SetUsageMessage("deterministic RAFT cluster simulation");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  using resdb::raft::RunResult;
  using resdb::raft::ScenarioConfig;

  if (FLAGS_list) {
    for (const std::string& name : resdb::raft::ScenarioNames()) std::printf("%s\n", name.c_str());
    return 0;
  }
  std::vector<std::string> names;
  if (FLAGS_scenario == "all") {
    names = resdb::raft::ScenarioNames();
  } else {
    names.push_back(FLAGS_scenario);
  }

  const auto start = std::chrono::steady_clock::now();
  int runs = 0;
  int failures = 0;
  for (const std::string& name : names) {
    auto config = resdb::raft::ScenarioByName(name);
    if (!config.ok()) {
      std::fprintf(stderr, "%s\n", config.status().ToString().c_str());
      return 2;
    }
    if (FLAGS_nodes > 0) config->nodes = FLAGS_nodes;
    if (FLAGS_steps > 0) config->fault_ticks = FLAGS_steps;
    if (FLAGS_crash_rate >= 0) config->crash_rate = FLAGS_crash_rate;
    config->send_before_persist = FLAGS_send_before_persist;
    if (FLAGS_pre_vote >= 0) config->node_options.pre_vote = FLAGS_pre_vote == 1;
    if (FLAGS_check_quorum >= 0) config->node_options.check_quorum = FLAGS_check_quorum == 1;
    if (FLAGS_snapshot_every >= 0) config->snapshot_every = FLAGS_snapshot_every;
    if (FLAGS_snapshot_tail >= 0) config->snapshot_tail = FLAGS_snapshot_tail;
    for (uint64_t seed = FLAGS_seed; seed < FLAGS_seed + FLAGS_seeds; ++seed) {
      std::function<void(const std::string&)> log;
      if (FLAGS_verbose) log = [](const std::string& line) { std::printf("%s\n", line.c_str()); };
      const RunResult result = resdb::raft::RunScenario(*config, seed, log);
      ++runs;
      if (!FLAGS_quiet || !result.ok) std::printf("%s\n", result.Summary().c_str());
      if (!result.ok) {
        ++failures;
        std::printf("  violation: %s\n  %s\n", result.violation.c_str(),
                    result.ReproduceHint().c_str());
      }
      std::fflush(stdout);
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%d runs, %d with violations, %.1fs\n", runs, failures, seconds);
  return failures == 0 ? 0 : 1;
}
