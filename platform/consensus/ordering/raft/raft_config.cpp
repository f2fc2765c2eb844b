#include "platform/consensus/ordering/raft/raft_config.h"

#include <algorithm>

#include "platform/networkstrate/network_address.h"

namespace resdb {
namespace raft {

std::chrono::milliseconds Tick(const ResDBConfig& config) {
  return std::chrono::milliseconds(std::max(1, config.GetRaftConfig().heartbeat_interval_ms()));
}

RaftNodeOptions NodeOptionsFrom(const ResDBConfig& config, uint64_t seed) {
  const RaftConfig& rc = config.GetRaftConfig();
  RaftNodeOptions options;
  options.id = config.GetSelfId();
  // The log overrides the config file's replicas once it records a membership change.
  if (!rc.join_existing_cluster()) {
    for (const ReplicaInfo& replica : config.GetReplicaInfos()) {
      options.voters.push_back(replica.id());
    }
  }
  const int tick_ms = static_cast<int>(Tick(config).count());
  options.election_ticks_min = std::max(2, rc.election_timeout_min_ms() / tick_ms);
  options.election_ticks_max =
      std::max(options.election_ticks_min, rc.election_timeout_max_ms() / tick_ms);
  options.heartbeat_ticks = 1;
  options.max_entries_per_append = static_cast<uint64_t>(rc.max_entries_per_append());
  options.max_bytes_per_append = static_cast<uint64_t>(rc.max_bytes_per_append());
  options.max_inflight_appends = rc.max_inflight_appends();
  options.pre_vote = rc.enable_pre_vote();
  options.check_quorum = rc.enable_check_quorum();
  options.seed = seed;
  return options;
}

SnapshotSender::Options SenderOptionsFrom(const ResDBConfig& config) {
  const RaftConfig& rc = config.GetRaftConfig();
  SnapshotSender::Options options;
  options.self_id = config.GetSelfId();
  options.chunk_bytes = static_cast<uint64_t>(std::max<int64_t>(1, rc.snapshot_chunk_bytes()));
  options.resend = std::chrono::milliseconds(std::max(100, rc.election_timeout_max_ms()));
  options.install_patience = std::max(std::chrono::milliseconds(10000), 10 * options.resend);
  return options;
}

MembershipCoordinator::Options MembershipOptionsFrom(const ResDBConfig& config) {
  MembershipCoordinator::Options options;
  options.self_id = config.GetSelfId();
  options.default_timeout = std::chrono::milliseconds(std::max(1, config.GetClientTimeoutMs()));
  options.catch_up_slack =
      static_cast<uint64_t>(std::max(1, config.GetRaftConfig().max_entries_per_append()));
  options.require_signatures = config.GetConfigData().require_signatures();
  for (const ReplicaInfo& replica : config.GetReplicaInfos()) {
    options.configured[replica.id()] = HostPort(replica.ip(), replica.port());
  }
  return options;
}

std::chrono::milliseconds ForwardRetry(const ResDBConfig& config) {
  return std::chrono::milliseconds(
      std::max(1000, 2 * config.GetRaftConfig().election_timeout_max_ms()));
}

std::chrono::milliseconds TransferTimeout(const ResDBConfig& config) {
  return std::chrono::milliseconds(
      std::max(1000, 3 * config.GetRaftConfig().election_timeout_max_ms()));
}

}  // namespace raft
}  // namespace resdb
