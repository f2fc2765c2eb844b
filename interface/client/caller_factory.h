#ifndef INTERFACE_CLIENT_CALLER_FACTORY_H_
#define INTERFACE_CLIENT_CALLER_FACTORY_H_

#include <memory>

#include "interface/client/replica_caller.h"
#include "platform/config/resdb_config.h"

namespace resdb {

// The caller for the config's consensus_protocol: PbftCaller for PBFT (also a config without
// consensus_protocol), RaftCaller otherwise. The client library's only choice by protocol.
std::unique_ptr<ReplicaCaller> NewReplicaCaller(const ResDBConfig& config);

}  // namespace resdb

#endif  // INTERFACE_CLIENT_CALLER_FACTORY_H_
