#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_PUBLISHED_STATE_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_PUBLISHED_STATE_H_

#include <atomic>
#include <cstdint>

#include "platform/consensus/ordering/raft/raft_node.h"
#include "platform/proto/resdb.pb.h"

namespace resdb {
namespace raft {

// What the raft and executor threads publish about the replica for the other threads: the
// transport (who leads), client answers (the leader to ask next) and status. Thread-safe.
class PublishedState {
 public:
  // Raft thread: the node's leader, term, role and log bounds.
  void Publish(const RaftNode& node);
  void SetLeader(int64_t leader);
  // The state machine holds the entries up to `index` (executor thread, or an install).
  void SetApplied(uint64_t index) { applied_index_.store(index); }
  // The current snapshot (taken or installed) covers up to `index`; it never goes back.
  void SetSnapshot(uint64_t index);

  int64_t leader() const { return leader_.load(); }
  // The leader, or while there is none the last one known (a hint for clients).
  int64_t leader_hint() const;
  uint64_t term() const { return term_.load(); }
  uint64_t applied_index() const { return applied_index_.load(); }
  uint64_t snapshot_index() const { return snapshot_index_.load(); }
  // Role and indexes into a status answer.
  void Fill(ReplicaStatus* status) const;

 private:
  std::atomic<int64_t> leader_{0};
  std::atomic<int64_t> last_known_leader_{0};
  std::atomic<uint64_t> term_{0};
  std::atomic<int> role_{0};
  std::atomic<uint64_t> commit_index_{0};
  std::atomic<uint64_t> first_index_{1};
  std::atomic<uint64_t> last_index_{0};
  std::atomic<uint64_t> applied_index_{0};
  std::atomic<uint64_t> snapshot_index_{0};
};

}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_PUBLISHED_STATE_H_
