#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_RAFT_PERSISTENT_STATE_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_RAFT_PERSISTENT_STATE_H_

#include <cstdint>
#include <memory>
#include <mutex>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "platform/consensus/ordering/raft/proto/raft.pb.h"
#include "platform/storage/storage.h"

namespace resdb {
namespace raft {

// voted_for when the node has not voted in the current term (node ids start at 1).
inline constexpr int64_t kNoVote = 0;

// The part of a RAFT node's HardState kept apart from its log: current term, vote and last
// applied index (the commit index lives in the RaftLog, next to the entries it covers, and
// snapshot metadata with the snapshots in RaftSnapshotManager). Kept in a Storage view
// (normally the kRaftStatePrefix view) under the key "hard_state", with a CRC-32C.
//
// Every setter changes the stored record and the in-memory copy together: on error neither
// changes. Thread-safe.
class RaftPersistentState {
 public:
  // Loads the state stored in `storage`, or a zero state (term 0, no vote) if none
  // is stored. DataLossError naming the key if a record is damaged or does not parse.
  //
  // When `sync` is true, SetTermAndVote is on stable storage when it returns; SetLastApplied never
  // syncs (it is re-derived after a crash that loses it). `storage` must outlive the state.
  static absl::StatusOr<std::unique_ptr<RaftPersistentState>> Open(Storage* storage,
                                                                   bool sync = true);

  RaftPersistentState(const RaftPersistentState&) = delete;
  RaftPersistentState& operator=(const RaftPersistentState&) = delete;

  // Sets the current term and the vote in it (kNoVote for none). Durable before it returns, so
  // that no message depending on it leaves the node first. FailedPreconditionError if `term`
  // is below current_term(), or if it equals current_term() and the node already voted for
  // another candidate in it.
  absl::Status SetTermAndVote(uint64_t term, int64_t voted_for);

  // Raises the last applied index; a lower value than the stored one is ignored.
  absl::Status SetLastApplied(uint64_t last_applied);

  HardState hard_state() const;
  uint64_t current_term() const;
  int64_t voted_for() const;
  uint64_t last_applied() const;

 private:
  RaftPersistentState(Storage* storage, bool sync, HardState hard_state);

  // Writes `hard_state` and on success makes it current.
  absl::Status WriteHardStateLocked(const HardState& hard_state, bool sync);

  Storage* const storage_;
  const bool sync_;
  mutable std::mutex mu_;
  HardState hard_state_;
};

}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_RAFT_PERSISTENT_STATE_H_
