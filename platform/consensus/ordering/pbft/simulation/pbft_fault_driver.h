#ifndef PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_FAULT_DRIVER_H_
#define PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_FAULT_DRIVER_H_

#include <cstdint>
#include <map>
#include <random>

#include "platform/consensus/ordering/pbft/simulation/pbft_cluster_sim.h"
#include "platform/consensus/ordering/pbft/simulation/pbft_scenario.h"

namespace resdb {
namespace pbft {
namespace simulation {

// The fault phase of one run: decides, tick by tick and from its own PRNG, which faults of
// the scenario strike and what the clients propose. Never lets more than f replicas be
// faulty at once (down, isolated, silent, Byzantine, or armed to crash).
class PbftFaultDriver {
 public:
  // `config` and `cluster` must outlive the driver.
  PbftFaultDriver(const ScenarioConfig& config, uint64_t seed, PbftClusterSim* cluster);

  // Injects this tick's faults and proposals, then runs the tick.
  void Tick(int64_t tick);
  // Ends every temporary fault: links healed, crashed replicas restarted, armed crashes
  // cancelled. Permanent faults stay.
  void Heal();
  // New proposals for this tick at `rate`.
  void Propose(double rate);

 private:
  double Uniform();
  int64_t Between(int64_t lo, int64_t hi);
  // Replicas counted against f right now.
  size_t Faulty() const;
  void RestartDue(int64_t tick);
  void EndIsolations(int64_t tick);
  void MaybePermanentFault(int64_t tick);
  void MaybeCrash();
  void MaybeIsolate(int64_t tick);
  void ScheduleRestarts(int64_t tick);

  const ScenarioConfig& config_;
  std::mt19937_64 rng_;
  PbftClusterSim* cluster_;
  int64_t permanent_fault_tick_ = -1;
  std::map<int64_t, int64_t> restart_at_;
  std::map<int64_t, int64_t> isolated_until_;
};

}  // namespace simulation
}  // namespace pbft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_FAULT_DRIVER_H_
