#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_RAFT_STORE_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_RAFT_STORE_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "platform/consensus/ordering/raft/raft_log.h"
#include "platform/consensus/ordering/raft/raft_node.h"
#include "platform/consensus/ordering/raft/raft_persistent_state.h"
#include "platform/consensus/ordering/raft/raft_snapshot_manager.h"
#include "platform/consensus/ordering/raft/ready_persister.h"
#include "platform/proto/resdb.pb.h"
#include "platform/storage/prefix_allocator.h"
#include "platform/storage/storage.h"

namespace resdb {
namespace raft {

// One replica's durable RAFT state in its database: the log (kRaftLogPrefix), term and vote
// (kRaftStatePrefix) and snapshots (kRaftSnapshotPrefix); what a restart reads back from them;
// and the order Ready changes are written in (ReadyPersister).
class RaftStore {
 public:
  // Opens the three views of `storage` (registered in `prefixes`). With `sync`, what must be
  // durable is synced. Errors name the part that could not be opened (a damaged log:
  // DataLossError). `storage` and `prefixes` must outlive the store.
  static absl::StatusOr<std::unique_ptr<RaftStore>> Open(Storage* storage,
                                                         PrefixAllocator* prefixes, bool sync,
                                                         uint64_t snapshot_chunk_bytes);

  RaftStore(const RaftStore&) = delete;
  RaftStore& operator=(const RaftStore&) = delete;

  // What RaftNode restarts from: term and vote, the log after its compaction boundary, the
  // membership of the latest snapshot, and `applied` (the index the state machine holds, which
  // also counts as committed). DataLossError if `applied` is beyond the log.
  absl::StatusOr<RaftRestoredState> Restore(uint64_t applied) const;

  // ReadyPersister::Persist.
  absl::StatusOr<bool> Persist(const Ready& ready, ReadyPersister::Observer* observer = nullptr) {
    return persister_.Persist(ready, observer);
  }

  // Answers an operator's LogQuery from the log and the snapshot store (any thread).
  // UnavailableError if the range was compacted while it was read (ask again).
  absl::StatusOr<LogQueryResult> Query(const LogQuery& query) const;

  RaftLog& log() { return *log_; }
  const RaftLog& log() const { return *log_; }
  RaftSnapshotManager& snapshots() { return *snapshots_; }
  // The kRaftStatePrefix view, which the applied-request table and the applied index share.
  Storage* state_view() { return state_view_.get(); }

 private:
  RaftStore(std::unique_ptr<Storage> log_view, std::unique_ptr<Storage> state_view,
            std::unique_ptr<Storage> snapshot_view, std::unique_ptr<RaftLog> log,
            std::unique_ptr<RaftPersistentState> state,
            std::unique_ptr<RaftSnapshotManager> snapshots);

  // Declared in dependency order: destroyed in reverse.
  const std::unique_ptr<Storage> log_view_;
  const std::unique_ptr<Storage> state_view_;
  const std::unique_ptr<Storage> snapshot_view_;
  const std::unique_ptr<RaftLog> log_;
  const std::unique_ptr<RaftPersistentState> state_;
  const std::unique_ptr<RaftSnapshotManager> snapshots_;
  ReadyPersister persister_;
};

}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_RAFT_STORE_H_
