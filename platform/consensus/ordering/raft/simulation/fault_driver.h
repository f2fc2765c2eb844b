#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_SIMULATION_FAULT_DRIVER_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_SIMULATION_FAULT_DRIVER_H_

#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include "platform/consensus/ordering/raft/simulation/membership_driver.h"
#include "platform/consensus/ordering/raft/simulation/scenario.h"
#include "platform/consensus/ordering/raft/simulation/simulated_cluster.h"

namespace resdb {
namespace raft {

// Drives the fault phase of one run: decides, tick by tick and from its own PRNG, which
// faults of the scenario strike and what the clients submit.
class FaultDriver {
 public:
  // `config` and `cluster` must outlive the driver.
  FaultDriver(const ScenarioConfig& config, uint64_t seed, SimulatedCluster* cluster);

  // Injects this tick's faults and proposals, then runs the tick.
  void Tick(int64_t tick);

 private:
  // Uniform in [0, 1) and in [lo, max(lo, hi)].
  double Uniform();
  int64_t Between(int64_t lo, int64_t hi);
  const std::vector<int64_t>& ids() const;

  // Restarts the nodes whose downtime is over.
  void RestartDue(int64_t tick);
  // Calls off crashes armed at a snapshot point that has not come within max_down_ticks: a
  // node may never install a snapshot, and an armed node counts as down for max_down.
  void DisarmDue(int64_t tick);
  // Nodes that went down (at once or inside a Ready) get a restart time.
  void ScheduleRestarts(int64_t tick);
  // Each draws whether its fault strikes this tick (ScenarioConfig says how often).
  void MaybeCrash(int64_t tick);
  // Points only a node that installs a snapshot reaches.
  static bool IsInstallPoint(CrashPoint point);
  // `id`, or a node among `candidates` that the leader must send a snapshot (so that a crash
  // armed at an install point has a chance to strike); the node not taken stays a candidate.
  int64_t PreferNeedingSnapshot(int64_t id, std::vector<int64_t>* candidates);
  void MaybeRepartition();
  void MaybeIsolateLeader(int64_t tick);
  void MaybeTransfer();
  // Submits this tick's proposals and reads.
  void Propose();
  void Read();

  const ScenarioConfig& config_;
  std::mt19937_64 rng_;
  SimulatedCluster* cluster_;
  // Down node -> tick at which it restarts.
  std::map<int64_t, int64_t> restart_at_;
  // Node armed to crash at a snapshot point -> tick at which the crash is called off.
  std::map<int64_t, int64_t> disarm_at_;
  int64_t isolation_ends_at_ = -1;
  MembershipDriver membership_;
};

}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_SIMULATION_FAULT_DRIVER_H_
