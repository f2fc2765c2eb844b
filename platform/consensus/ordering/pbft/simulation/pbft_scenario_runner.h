#ifndef PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_SCENARIO_RUNNER_H_
#define PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_SCENARIO_RUNNER_H_

#include <cstdint>
#include <functional>
#include <string>

#include "platform/consensus/ordering/pbft/simulation/pbft_scenario.h"
#include "platform/consensus/ordering/pbft/simulation/pbft_sim_network.h"

namespace resdb {
namespace pbft {
namespace simulation {

struct RunResult {
  std::string scenario;
  uint64_t seed = 0;
  int nodes = 0;
  int fault_ticks = 0;
  bool ok = true;
  std::string violation;
  uint64_t trace_hash = 0;
  int64_t ticks = 0;
  uint64_t steps = 0;
  uint64_t crashes = 0;
  uint64_t max_view = 0;
  uint64_t released = 0;
  uint64_t noop_batches = 0;
  uint64_t proposals = 0;
  uint64_t retries = 0;
  uint64_t refused = 0;
  uint64_t equivocations = 0;
  uint64_t forgeries = 0;
  uint64_t forged_requests = 0;
  uint64_t unsigned_refused = 0;
  uint64_t fetched_batches = 0;
  int64_t heal_to_converged_ticks = -1;
  NetworkStats network;

  // One line: what happened in the run.
  std::string Summary() const;
  // How to run this seed again.
  std::string ReproduceHint() const;
};

// Runs `config` with `seed`; the same config and seed give the same result, trace hash
// included. `log`, if set, receives a readable line per step.
RunResult RunScenario(const ScenarioConfig& config, uint64_t seed,
                      std::function<void(const std::string&)> log = nullptr);

}  // namespace simulation
}  // namespace pbft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_SCENARIO_RUNNER_H_
