// Runs simulated PBFT clusters from the command line, e.g.
//   pbft_simulator --scenario=chaos --seeds=1000 --quiet
//   pbft_simulator --scenario=crash_restart --seed=42 --nodes=7 --verbose
// Prints one summary line per run (or only violations with --quiet) and exits non-zero if
// any run broke an invariant.

#include <gflags/gflags.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "platform/consensus/ordering/pbft/simulation/pbft_scenario.h"
#include "platform/consensus/ordering/pbft/simulation/pbft_scenario_runner.h"

DEFINE_string(scenario, "chaos", "scenario name, or 'all'");
DEFINE_uint64(seed, 1, "first seed");
DEFINE_uint64(seeds, 1, "number of consecutive seeds to run from --seed");
DEFINE_int32(nodes, 0, "cluster size (0: the scenario's own)");
DEFINE_int32(steps, 0, "ticks of the fault phase (0: the scenario's own)");
DEFINE_bool(quiet, false, "print only violations and the totals");
DEFINE_double(crash_rate, -1, "per-tick crash probability (negative: the scenario's own)");
DEFINE_bool(verbose, false, "print every step of every run (use with one seed)");
DEFINE_bool(list, false, "list the scenarios and exit");

int main(int argc, char** argv) {
  gflags::SetUsageMessage("deterministic PBFT cluster simulation");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  namespace sim = resdb::pbft::simulation;

  if (FLAGS_list) {
    for (const std::string& name : sim::ScenarioNames()) std::printf("%s\n", name.c_str());
    return 0;
  }
  std::vector<std::string> names;
  if (FLAGS_scenario == "all") {
    names = sim::ScenarioNames();
  } else {
    names.push_back(FLAGS_scenario);
  }

  const auto start = std::chrono::steady_clock::now();
  int runs = 0;
  int failures = 0;
  for (const std::string& name : names) {
    auto config = sim::ScenarioByName(name);
    if (!config.ok()) {
      std::fprintf(stderr, "%s\n", config.status().ToString().c_str());
      return 2;
    }
    if (FLAGS_nodes > 0) config->nodes = FLAGS_nodes;
    if (FLAGS_steps > 0) config->fault_ticks = FLAGS_steps;
    if (FLAGS_crash_rate >= 0) config->crash_rate = FLAGS_crash_rate;
    for (uint64_t seed = FLAGS_seed; seed < FLAGS_seed + FLAGS_seeds; ++seed) {
      std::function<void(const std::string&)> log;
      if (FLAGS_verbose) log = [](const std::string& line) { std::printf("%s\n", line.c_str()); };
      const sim::RunResult result = sim::RunScenario(*config, seed, log);
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
