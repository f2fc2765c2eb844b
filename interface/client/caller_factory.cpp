#include "interface/client/caller_factory.h"

#include "interface/client/pbft_caller.h"
#include "interface/client/raft_caller.h"

namespace resdb {

std::unique_ptr<ReplicaCaller> NewReplicaCaller(const ResDBConfig& config) {
  if (config.GetConsensusProtocol() == kProtocolPbft) return std::make_unique<PbftCaller>(config);
  return std::make_unique<RaftCaller>(config);
}

}  // namespace resdb
