#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_SIMULATION_MEMBERSHIP_DRIVER_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_SIMULATION_MEMBERSHIP_DRIVER_H_

#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "platform/consensus/ordering/raft/membership.h"
#include "platform/consensus/ordering/raft/raft_node.h"
#include "platform/consensus/ordering/raft/simulation/scenario.h"
#include "platform/consensus/ordering/raft/simulation/simulated_cluster.h"

namespace resdb {
namespace raft {

// Drives membership changes during the fault phase, from its own PRNG (so that scenarios
// without changes draw exactly what they drew before). At random ticks the current leader
// is asked for one change: add a spare as learner, promote a learner that caught up, remove
// a voter (sometimes the leader itself) or a learner. Voters are removed only while the
// leader's configuration keeps more than ScenarioConfig::min_voters of them, so that every
// configuration, committed or not, leaves enough voters to make progress once the faults
// heal. A removed node is never added back: its old state would have to be wiped first.
// It may also crash leaders in the middle of a change and leaders that removed themselves.
class MembershipDriver {
 public:
  // `config` and `cluster` must outlive the driver.
  MembershipDriver(const ScenarioConfig& config, uint64_t seed, SimulatedCluster* cluster);

  // This tick's membership change and crash, if any.
  void Tick(int64_t tick);

 private:
  struct Choice {
    MembershipChange change = MembershipChange::kAddLearner;
    int64_t node = 0;
  };

  double Uniform();
  // Uniform in [0, size).
  size_t Pick(size_t size);

  void MaybeChange();
  // The changes that make sense for `leader` now, grouped by kind (empty kinds left out).
  std::vector<std::vector<Choice>> Choices(int64_t leader, const RaftNode& raft) const;
  // A voter to remove: the leader itself with probability self_removal_bias.
  Choice PickVoterToRemove(int64_t leader, const RaftNode& raft);

  void MaybeCrashChanging(int64_t tick);
  // Leaders with an uncommitted change, and up nodes that removed themselves as leaders.
  std::vector<int64_t> CrashCandidates() const;
  int DownCount() const;
  // Calls off crashes armed here that did not strike within max_down_ticks (an idle removed
  // node may have no Ready to crash in).
  void DisarmDue(int64_t tick);

  const ScenarioConfig& config_;
  std::mt19937_64 rng_;
  SimulatedCluster* cluster_;
  // Nodes whose removal a leader accepted: not added again.
  std::set<int64_t> retired_;
  // Leaders that proposed their own removal.
  std::set<int64_t> removed_leaders_;
  std::map<int64_t, int64_t> disarm_at_;
};

}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_SIMULATION_MEMBERSHIP_DRIVER_H_
