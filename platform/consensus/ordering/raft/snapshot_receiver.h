#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_SNAPSHOT_RECEIVER_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_SNAPSHOT_RECEIVER_H_

#include <cstdint>

#include "platform/consensus/ordering/raft/proto/raft.pb.h"
#include "platform/consensus/ordering/raft/raft_snapshot_manager.h"

namespace resdb {
namespace raft {

// The follower's side of snapshot transfer: checks each InstallSnapshot chunk against what the
// follower knows, stores it, and says what to answer. The caller installs a complete snapshot
// (it replaces the state under the executor) and then answers with AfterInstall().
// Raft thread only.
class SnapshotReceiver {
 public:
  // What the follower's RaftNode knows when the chunk arrives.
  struct NodeView {
    uint64_t term = 0;
    int64_t leader_id = 0;
    bool leading = false;
    uint64_t commit_index = 0;
  };

  struct Step {
    // Send at once: the leader then waits for the install rather than sending chunks again.
    InstallSnapshotResponse answer;
    // Every chunk is stored and checked: install the snapshot now.
    bool install = false;
  };

  // `snapshots` must outlive the receiver.
  SnapshotReceiver(int64_t self_id, RaftSnapshotManager* snapshots)
      : self_id_(self_id), snapshots_(snapshots) {}

  Step OnChunk(int64_t from, const InstallSnapshotRequest& request, const NodeView& node);

  // The answer once the install ended (`term`: the follower's term then): done, or rejected.
  static InstallSnapshotResponse AfterInstall(const InstallSnapshotResponse& answer, uint64_t term,
                                              bool installed);

 private:
  const int64_t self_id_;
  RaftSnapshotManager* const snapshots_;
};

}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_SNAPSHOT_RECEIVER_H_
