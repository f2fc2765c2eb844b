#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_RAFT_METRICS_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_RAFT_METRICS_H_

#include <vector>

#include "platform/statistic/stats.h"

namespace resdb {
namespace raft {

// The counters and gauges a RAFT replica exports (Prometheus names "raft_*"), looked up once.
struct RaftMetrics {
  explicit RaftMetrics(Stats* stats);

  // The counters a replica's status reports, by name.
  static const std::vector<const char*>& StatusCounters();

  Counter* log_fsyncs;
  Counter* committed_entries;
  Counter* proposed_requests;
  Counter* proposals;
  Counter* forwarded_requests;
  Counter* forward_dropped;
  Counter* queue_dropped;
  Counter* malformed_messages;
  Counter* rejected_messages;
  Counter* reads_served;
  Counter* stale_reads;
  Counter* request_timeouts;
  Counter* snapshots_taken;
  Counter* snapshots_sent;
  Counter* snapshots_installed;
  Counter* snapshot_installs_awaited;
  Gauge* term;
  Gauge* leader;
  Gauge* commit_index;
  Gauge* applied_index;
  Gauge* pending_requests;
};

}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_RAFT_METRICS_H_
