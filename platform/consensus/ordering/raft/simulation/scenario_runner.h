#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_SIMULATION_SCENARIO_RUNNER_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_SIMULATION_SCENARIO_RUNNER_H_

#include <cstdint>
#include <functional>
#include <string>

#include "platform/consensus/ordering/raft/simulation/proposal_tracker.h"
#include "platform/consensus/ordering/raft/simulation/scenario.h"
#include "platform/consensus/ordering/raft/simulation/simulated_cluster.h"
#include "platform/consensus/ordering/raft/simulation/simulated_network.h"

namespace resdb {
namespace raft {

struct RunResult {
  std::string scenario;
  uint64_t seed = 0;
  int nodes = 0;
  int fault_ticks = 0;
  // raft_simulator flags for the settings that differ from the named scenario's.
  std::string extra_flags;
  bool ok = true;
  std::string violation;
  uint64_t trace_hash = 0;
  int64_t ticks = 0;
  uint64_t steps = 0;
  uint64_t crashes = 0;
  size_t leaders_seen = 0;
  uint64_t max_term = 0;
  uint64_t committed_index = 0;
  bool durable_state_machine = false;
  int64_t heal_to_leader_ticks = -1;
  int64_t heal_to_converged_ticks = -1;
  ProposalTracker::Counts proposals;
  NetworkStats network;
  uint64_t reads_issued = 0;
  uint64_t reads_served = 0;
  uint64_t reads_dropped = 0;
  // Snapshot activity (all zero unless the scenario takes snapshots).
  bool snapshots_enabled = false;
  SimulatedCluster::SnapshotCounts snapshots;
  // Membership changes (all zero unless the scenario has spares or changes).
  bool membership_enabled = false;
  SimulatedCluster::MembershipCounts membership;

  // One line: what happened in the run.
  std::string Summary() const;
  // How to run this seed again.
  std::string ReproduceHint() const;
};

// Runs `config` with `seed`. Deterministic: the same config and seed give the same result,
// trace hash included.
// `log`, if set, receives a readable line per step (see ClusterOptions::log).
RunResult RunScenario(const ScenarioConfig& config, uint64_t seed,
                      std::function<void(const std::string&)> log = nullptr);

}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_SIMULATION_SCENARIO_RUNNER_H_
