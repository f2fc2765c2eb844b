#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_READY_PERSISTER_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_READY_PERSISTER_H_

#include "absl/status/statusor.h"
#include "platform/consensus/ordering/raft/raft_log.h"
#include "platform/consensus/ordering/raft/raft_node.h"
#include "platform/consensus/ordering/raft/raft_persistent_state.h"

namespace resdb {
namespace raft {

// Makes durable what a Ready asks to keep, in the order RAFT's safety depends on:
//   1. term and vote (before any message that depends on them leaves);
//   2. the log: the boundary of a restored snapshot, the truncation, the new entries;
//   3. the commit index, recorded once, in the log, and only after the log holds the entries
//      it covers: recorded earlier, a crash in between would restart the node with a commit
//      index over the stale entries the Ready was replacing, and it would apply them.
// Messages, committed entries and reads are the caller's, after Persist returns.
//
// The replica's manager and the RAFT simulator both persist through this class, so the
// simulator's crashes between steps test the order the replica runs.
class ReadyPersister {
 public:
  // The points between the steps, in order.
  enum class Step {
    kHardState,         // after 1 (reported for every Ready)
    kSnapshotBoundary,  // after the snapshot boundary (only for a Ready with a snapshot)
    kTruncated,         // after the truncation (only for a Ready that truncates)
    kAppended,          // after the new entries (only for a Ready with entries)
    kCommitIndex,       // after 3 (reported for every Ready)
  };

  // Sees each step right after it is durable. Returning false stops Persist there, as a crash
  // would: the simulator's way to crash a node between two steps.
  class Observer {
   public:
    virtual ~Observer() = default;
    virtual bool AfterStep(Step step, const Ready& ready) = 0;
  };

  // `log` and `state` must outlive the persister.
  ReadyPersister(RaftLog* log, RaftPersistentState* state) : log_(log), state_(state) {}

  // True once every step is durable; false if `observer` stopped it. An error names the step
  // that failed; the steps before it are durable, none after it is.
  absl::StatusOr<bool> Persist(const Ready& ready, Observer* observer = nullptr);

 private:
  RaftLog* const log_;
  RaftPersistentState* const state_;
};

}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_READY_PERSISTER_H_
