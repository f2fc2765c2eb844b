#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_SIMULATION_SCENARIO_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_SIMULATION_SCENARIO_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "platform/consensus/ordering/raft/raft_node.h"
#include "platform/consensus/ordering/raft/simulation/simulated_cluster.h"
#include "platform/consensus/ordering/raft/simulation/simulated_network.h"

namespace resdb {
namespace raft {

// One kind of simulated run. A run has two phases:
//  1. faults, for `fault_ticks` ticks: clients propose at `proposal_rate` while the
//     configured faults strike at random;
//  2. healing: every link restored, no drops or duplicates, every node restarted. A leader
//     must then be elected within `election_bound_ticks`, and within `converge_bound_ticks`
//     every proposal must be resolved (committed, or reported dropped or orphaned by a
//     crash) and every node must have applied the same sequence as the leader's whole log.
//     While a proposal is unresolved, filler proposals keep the leader's log growing so
//     that stale uncommitted entries are either committed or overwritten. Finally a read
//     started at every node must be served within `read_bound_ticks`.
struct ScenarioConfig {
  std::string name;
  int nodes = 3;
  int fault_ticks = 300;
  int election_bound_ticks = 200;
  int converge_bound_ticks = 800;
  // Expected proposals and linearizable reads per tick.
  double proposal_rate = 0.3;
  double read_rate = 0.2;
  // After convergence every node serves one read within this many ticks.
  int read_bound_ticks = 100;

  NetworkOptions fault_network;
  NetworkOptions healed_network;

  // Per tick: probability of a new partition layout (random groups, asymmetric cuts, one
  // isolated node, or healed).
  double partition_change_rate = 0.0;
  bool asymmetric_partitions = false;
  // Every `leader_isolation_period` ticks (0: never) the current leader is cut off for
  // `leader_isolation_ticks` ticks: in both directions, or only its outgoing or only its
  // incoming links.
  int leader_isolation_period = 0;
  int leader_isolation_ticks = 40;
  // Per tick: probability that `crashes_at_once` up nodes crash (the leader with
  // probability `crash_leader_bias`), each staying down for [min, max] down ticks. No crash
  // takes more than `max_down` nodes down at once.
  double crash_rate = 0.0;
  int crashes_at_once = 1;
  int max_down = 1;
  double crash_leader_bias = 0.5;
  int min_down_ticks = 5;
  int max_down_ticks = 60;
  // Where crashes strike, drawn uniformly (see CrashPoint); empty: every point.
  std::vector<CrashPoint> crash_points;
  // See ClusterOptions::crash_on_truncate_rate.
  double crash_on_truncate_rate = 0.0;
  // Per tick: probability that the leader is asked to transfer leadership.
  double transfer_rate = 0.0;
  // -1: decided by the seed; 0: volatile; 1: durable (see ClusterOptions).
  int durable_state_machine = -1;
  // Snapshots and log compaction (see ClusterOptions::snapshot_every). With snapshots on,
  // crashes also strike around taking, compacting and installing them.
  int snapshot_every = 0;
  int snapshot_tail = 0;
  int snapshot_timeout_ticks = 30;

  // Membership changes (see MembershipDriver): `spares` joining nodes besides the `nodes`
  // initial voters; per tick, the probability that the leader is asked for a change. Voters
  // are removed only while more than `min_voters` remain, the leader itself with probability
  // `self_removal_bias`. Per tick, the probability that a leader with an uncommitted change,
  // or a node that removed itself as leader, crashes (at a point drawn as for other
  // crashes, within max_down).
  int spares = 0;
  double membership_change_rate = 0.0;
  int min_voters = 3;
  double self_removal_bias = 0.3;
  double change_crash_rate = 0.0;

  RaftNodeOptions node_options;
  // See ClusterOptions::send_before_persist (for testing the checks only).
  bool send_before_persist = false;
};

// The named scenarios, in the order the test runs them.
std::vector<std::string> ScenarioNames();
// NotFound for an unknown name.
absl::StatusOr<ScenarioConfig> ScenarioByName(const std::string& name);

}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_SIMULATION_SCENARIO_H_
