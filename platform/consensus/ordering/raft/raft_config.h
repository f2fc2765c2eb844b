#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_RAFT_CONFIG_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_RAFT_CONFIG_H_

#include <chrono>
#include <cstdint>

#include "platform/config/resdb_config.h"
#include "platform/consensus/ordering/raft/membership_coordinator.h"
#include "platform/consensus/ordering/raft/raft_node.h"
#include "platform/consensus/ordering/raft/snapshot_sender.h"

namespace resdb {
namespace raft {

// The raft thread's clock: one tick per heartbeat interval.
std::chrono::milliseconds Tick(const ResDBConfig& config);

// The node's options from raft_config, in ticks of Tick(config). A replica that joins an
// existing cluster starts with no voters: it learns the membership from the leader. `seed`
// spreads the replicas' election timeouts.
RaftNodeOptions NodeOptionsFrom(const ResDBConfig& config, uint64_t seed);

// One chunk in flight per follower, resent after an election timeout without an answer, and
// ten times that (at least 10 s) while the follower installs.
SnapshotSender::Options SenderOptionsFrom(const ResDBConfig& config);

// Membership changes against the config file's replicas and keys.
MembershipCoordinator::Options MembershipOptionsFrom(const ResDBConfig& config);

// How long a forwarded write waits before it is forwarded again: twice the largest election
// timeout, at least 1 s.
std::chrono::milliseconds ForwardRetry(const ResDBConfig& config);

// How long a leadership transfer may take: the node gives up after an election timeout; the
// new leader then needs its first heartbeat to be known.
std::chrono::milliseconds TransferTimeout(const ResDBConfig& config);

}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_RAFT_CONFIG_H_
