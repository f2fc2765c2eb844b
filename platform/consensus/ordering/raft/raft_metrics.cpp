#include "platform/consensus/ordering/raft/raft_metrics.h"

namespace resdb {
namespace raft {

RaftMetrics::RaftMetrics(Stats* stats)
    : log_fsyncs(stats->GetCounter("raft_log_fsyncs")),
      committed_entries(stats->GetCounter("raft_committed_entries")),
      proposed_requests(stats->GetCounter("raft_proposed_requests")),
      proposals(stats->GetCounter("raft_proposals")),
      forwarded_requests(stats->GetCounter("raft_forwarded_requests")),
      forward_dropped(stats->GetCounter("raft_forward_dropped")),
      queue_dropped(stats->GetCounter("raft_queue_dropped")),
      malformed_messages(stats->GetCounter("raft_malformed_messages")),
      rejected_messages(stats->GetCounter("raft_rejected_messages")),
      reads_served(stats->GetCounter("raft_linearizable_reads")),
      stale_reads(stats->GetCounter("raft_stale_reads")),
      request_timeouts(stats->GetCounter("raft_request_timeouts")),
      snapshots_taken(stats->GetCounter("raft_snapshots_taken")),
      snapshots_sent(stats->GetCounter("raft_snapshots_sent")),
      snapshots_installed(stats->GetCounter("raft_snapshots_installed")),
      snapshot_installs_awaited(stats->GetCounter("raft_snapshot_installs_awaited")),
      term(stats->GetGauge("raft_term")),
      leader(stats->GetGauge("raft_leader_id")),
      commit_index(stats->GetGauge("raft_commit_index")),
      applied_index(stats->GetGauge("raft_applied_index")),
      pending_requests(stats->GetGauge("raft_pending_requests")) {}

const std::vector<const char*>& RaftMetrics::StatusCounters() {
  static const std::vector<const char*> names = {
      "raft_log_fsyncs",          "raft_committed_entries",
      "raft_proposed_requests",   "raft_proposals",
      "raft_forwarded_requests",  "raft_forward_dropped",
      "raft_queue_dropped",       "executor_duplicate_requests",
      "raft_linearizable_reads",  "raft_stale_reads",
      "raft_request_timeouts",    "raft_malformed_messages",
      "raft_snapshots_taken",     "raft_snapshots_sent",
      "raft_snapshots_installed", "raft_snapshot_installs_awaited"};
  return names;
}

}  // namespace raft
}  // namespace resdb
