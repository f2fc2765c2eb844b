#ifndef PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_SIM_NETWORK_H_
#define PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_SIM_NETWORK_H_

#include <cstdint>
#include <memory>

#include "platform/consensus/ordering/pbft/pbft.pb.h"
#include "platform/consensus/ordering/simulation/simulated_network.h"
#include "platform/proto/resdb.pb.h"

namespace resdb {
namespace pbft {
namespace simulation {

// A message in flight. The copies of one broadcast share their Request and its signed form
// (the bytes and the sender's signature the transport would deliver with it).
struct Envelope {
  int64_t from = 0;
  int64_t to = 0;
  std::shared_ptr<const Request> message;
  std::shared_ptr<const SignedMessage> signed_message;
};

// The shared simulated network carrying Envelopes; times are in PbftClusterSim units (see
// PbftClusterSim::kUnitsPerTick).
using NetworkOptions = ::resdb::simulation::NetworkOptions;
using NetworkStats = ::resdb::simulation::NetworkStats;
using PbftSimNetwork = ::resdb::simulation::SimulatedNetwork<Envelope>;

}  // namespace simulation
}  // namespace pbft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_SIM_NETWORK_H_
