#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_SIMULATION_SIMULATED_NETWORK_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_SIMULATION_SIMULATED_NETWORK_H_

#include "platform/consensus/ordering/raft/raft_node.h"
#include "platform/consensus/ordering/simulation/simulated_network.h"

namespace resdb {
namespace raft {

// The shared simulated network carrying RaftMessages; times are in SimulatedCluster units
// (see SimulatedCluster::kUnitsPerTick).
using NetworkOptions = ::resdb::simulation::NetworkOptions;
using NetworkStats = ::resdb::simulation::NetworkStats;
using SimulatedNetwork = ::resdb::simulation::SimulatedNetwork<RaftMessage>;

}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_SIMULATION_SIMULATED_NETWORK_H_
