#ifndef PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_SCENARIO_H_
#define PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_SCENARIO_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "platform/consensus/ordering/pbft/pbft_replica.h"
#include "platform/consensus/ordering/pbft/simulation/pbft_cluster_sim.h"
#include "platform/consensus/ordering/pbft/simulation/pbft_sim_network.h"

namespace resdb {
namespace pbft {
namespace simulation {

// One kind of simulated run, in two phases:
//  1. faults, for `fault_ticks` ticks: clients propose at `proposal_rate` while the faults
//     of the scenario strike;
//  2. healing: every link restored, no loss, crashed replicas restarted, except the
//     permanently faulty ones (at most f). Clients keep proposing for `heal_traffic_ticks`
//     (traffic is what makes a lagging replica notice it is behind), then only retry.
//     Within `converge_bound_ticks` after that every proposal must have executed on every
//     correct replica, and all correct replicas must have the same last executed seq and
//     state digest.
struct ScenarioConfig {
  std::string name;
  int nodes = 4;
  int fault_ticks = 200;
  int heal_traffic_ticks = 40;
  int converge_bound_ticks = 600;
  // Expected new proposals per tick, each of 1..max_requests requests.
  double proposal_rate = 0.5;
  int max_requests = 3;
  int64_t client_retry_ticks = 40;

  NetworkOptions fault_network;
  NetworkOptions healed_network;
  PbftReplicaOptions replica;

  // Permanent faults of the primary, once, at a tick drawn from
  // [fault_ticks / 5, fault_ticks / 2]. Crash and silence strike while the primary
  // broadcasts a PRE_PREPARE, which reaches a random number (0..n-1) of backups: some may
  // commit it without the primary, others see it stall, or nobody saw it and only the
  // clients' requests (Tick(requests_waiting)) reveal that the primary is gone.
  bool crash_primary = false;
  bool silence_primary = false;
  // The primary crashes for good between two steps, whatever it is doing.
  bool crash_primary_idle = false;
  // Replica 1, the first primary, equivocates whenever it is primary.
  bool equivocating_primary = false;
  // The last replica forges the prepared certificates of its VIEWCHANGEs (see
  // PbftClusterSim::MakeForger).
  bool forging_backup = false;
  // Replica 2 forges client requests in the batches it proposes as primary (see
  // PbftClusterSim::MakeRequestForger).
  bool forging_requests = false;

  // Per tick: probability that an up replica crashes (the primary with probability
  // `crash_primary_bias`) at a random point of its next Actions (one of `crash_points`, all
  // if empty) and restarts after [min_down_ticks, max_down_ticks]. A replica that restarts
  // from its durable records is not a Byzantine fault: up to `max_down` replicas (at most
  // n - 1) may be down at once; -1: f, so that the cluster stays live during the faults.
  double crash_rate = 0.0;
  int max_down = -1;
  std::vector<StrikePoint> crash_points;
  double crash_primary_bias = 0.3;
  int min_down_ticks = 5;
  int max_down_ticks = 60;
  // Per tick: probability that a replica (a backup unless `isolate_any`) is cut off in both
  // directions for [min_isolation_ticks, max_isolation_ticks], within the fault budget.
  double isolation_rate = 0.0;
  bool isolate_any = false;
  int min_isolation_ticks = 20;
  int max_isolation_ticks = 60;
  // The run must show a replica catching up through FETCH (some replica released batches
  // from FETCH replies).
  bool expect_fetch = false;
};

// The named scenarios, in the order the test runs them.
std::vector<std::string> ScenarioNames();
// NotFound for an unknown name.
absl::StatusOr<ScenarioConfig> ScenarioByName(const std::string& name);

}  // namespace simulation
}  // namespace pbft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_SCENARIO_H_
