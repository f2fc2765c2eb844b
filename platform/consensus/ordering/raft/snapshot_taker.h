#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_SNAPSHOT_TAKER_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_SNAPSHOT_TAKER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "platform/consensus/ordering/raft/proto/raft.pb.h"
#include "platform/consensus/ordering/raft/raft_snapshot_manager.h"
#include "platform/storage/storage.h"

namespace resdb {
namespace raft {

// Takes this replica's own snapshots, one at a time. When the log has grown `threshold`
// entries past the last snapshot, the state is captured between two applies (a storage
// snapshot, cheap, so it is exactly the state after that index); reading and saving it takes
// long and runs on a thread of its own while execution goes on.
class SnapshotTaker {
 public:
  struct Result {
    uint64_t index = 0;
    uint64_t term = 0;
    bool saved = false;
  };
  // Runs on the saving thread once the snapshot is stored (or could not be).
  using DoneFn = std::function<void(Result)>;

  // `state_prefixes`: the key prefixes of the storage a snapshot carries. threshold 0: never.
  // `log_tail`: entries kept before a snapshot's index when the log is compacted.
  // `snapshots` must outlive the taker.
  SnapshotTaker(RaftSnapshotManager* snapshots, std::vector<std::string> state_prefixes,
                uint64_t threshold, uint64_t log_tail = 0)
      : snapshots_(snapshots),
        prefixes_(std::move(state_prefixes)),
        threshold_(threshold),
        log_tail_(log_tail) {}
  // Waits for the snapshot being saved.
  ~SnapshotTaker() { Wait(); }

  SnapshotTaker(const SnapshotTaker&) = delete;
  SnapshotTaker& operator=(const SnapshotTaker&) = delete;

  // After applying `applied` (executor thread): true if a snapshot is due now and none is under
  // way; the taker is then busy until Finished().
  bool Due(uint64_t applied, uint64_t last_snapshot_index);

  // Encodes `state`, the storage as of applied index `index`, and saves it as the snapshot
  // (index, term, membership) on the saving thread, unless a newer one is current by then.
  void Save(std::shared_ptr<StorageSnapshot> state, uint64_t index, uint64_t term,
            Membership membership, DoneFn done);

  // Where to compact the log once a snapshot at `index` is saved: a tail of entries stays so
  // that a follower a little behind catches up from the log. 0: nothing to compact.
  uint64_t CompactionPoint(uint64_t index) const {
    return index > log_tail_ ? index - log_tail_ : 0;
  }

  // The due snapshot was saved, dropped or failed: the next one may start.
  void Finished() { busy_.store(false); }

  // Waits for the snapshot being saved, if any (before an install replaces the state).
  void Wait();

 private:
  RaftSnapshotManager* const snapshots_;
  const std::vector<std::string> prefixes_;
  const uint64_t threshold_;
  const uint64_t log_tail_;
  std::atomic<bool> busy_{false};
  std::mutex thread_mu_;
  std::thread thread_;  // guarded by thread_mu_
};

}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_SNAPSHOT_TAKER_H_
