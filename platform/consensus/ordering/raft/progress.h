#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_PROGRESS_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_PROGRESS_H_

#include <cstdint>
#include <deque>
#include <optional>

namespace resdb {
namespace raft {

// The AppendEntries a leader has sent to one follower and not yet seen acknowledged.
// Bounded both by count and by bytes; when either bound is reached the window is full and
// the leader stops sending entries to that follower until acknowledgements free it.
class Inflights {
 public:
  Inflights(int max_count, uint64_t max_bytes);

  // Records an append identified by `sequence` carrying entries (prev_index, last_index].
  void Add(uint64_t sequence, uint64_t prev_index, uint64_t last_index, uint64_t bytes);
  // Frees every append whose last entry is <= index (acknowledgements are cumulative).
  void FreeLE(uint64_t index);
  // The prev_index of the append `sequence`, if it is still in the window.
  std::optional<uint64_t> PrevIndexOf(uint64_t sequence) const;
  void Reset();

  bool Full() const;
  int count() const { return static_cast<int>(items_.size()); }
  uint64_t bytes() const { return bytes_; }

 private:
  struct Item {
    uint64_t sequence;
    uint64_t prev_index;
    uint64_t last_index;
    uint64_t bytes;
  };
  int max_count_;
  uint64_t max_bytes_;
  uint64_t bytes_ = 0;
  std::deque<Item> items_;
};

// How the leader replicates to a follower.
//   kProbe:     the follower's log position is unknown; one append at a time until one is
//               accepted (rejections move `next` back using the follower's hints).
//   kReplicate: the position is known; appends are pipelined optimistically (`next` moves
//               ahead as they are sent), within the Inflights window.
//   kSnapshot:  the entries the follower needs were compacted away; nothing is sent until
//               the follower has caught up by other means (InstallSnapshot).
enum class ProgressState { kProbe, kReplicate, kSnapshot };

const char* ProgressStateName(ProgressState state);

// The leader's view of one follower (etcd's tracker.Progress).
class Progress {
 public:
  Progress(uint64_t next, int max_inflight, uint64_t max_inflight_bytes);

  uint64_t match() const { return match_; }
  uint64_t next() const { return next_; }
  ProgressState state() const { return state_; }
  uint64_t pending_snapshot() const { return pending_snapshot_; }
  const Inflights& inflights() const { return inflights_; }

  // Heard from since the last CheckQuorum round.
  bool recent_active = false;
  // Highest commit index already sent to this follower.
  uint64_t sent_commit = 0;
  // Consecutive heartbeat answers that found entries in flight but `match` unchanged.
  int stalled_heartbeats = 0;

  // kReplicate -> kProbe restarts at match + 1; kSnapshot -> kProbe right after the
  // snapshot.
  void BecomeProbe();
  void BecomeReplicate();
  void BecomeSnapshot(uint64_t snapshot_index);
  // The snapshot this follower was being sent got installed (`success`) or was abandoned:
  // back to kProbe, after a success right past the snapshot, after a failure at match + 1,
  // where the next append attempt finds its entries compacted and asks for a snapshot of
  // the then current compaction point. Either way nothing is sent until the follower
  // answers an append or a heartbeat: after a success its answer tells where its log now
  // ends, after a failure this spaces the attempts by a heartbeat. No-op unless kSnapshot.
  void SnapshotDone(bool success);

  // The follower acknowledged entries up to `index` (acknowledged appends leave the
  // window). Returns true if `match` advanced.
  bool MaybeUpdate(uint64_t index);

  // The follower rejected the append whose prev index was `rejected`; `hint_next` is where
  // the follower's hints say the logs may agree. Returns false if the rejection is stale
  // (and changes nothing). On success `next` lies in [match + 1, rejected] and a follower
  // in kReplicate falls back to kProbe.
  bool MaybeDecrTo(uint64_t rejected, uint64_t hint_next);

  // Records that an append with entries (prev_index, last_index] was sent. In kReplicate a
  // non-empty append enters the window and moves `next` past it; in kProbe any append
  // pauses the follower until an answer arrives.
  void SentAppend(uint64_t sequence, uint64_t prev_index, uint64_t last_index, uint64_t bytes);

  // The prev_index of the append `sequence` still awaiting an answer, if any.
  std::optional<uint64_t> InflightPrevIndex(uint64_t sequence) const;

  // An answer to a heartbeat arrived: a paused probe may send again.
  void OnHeartbeatResponse() { probe_sent_ = false; }

  // True if no append may be sent now.
  bool IsPaused() const;

 private:
  uint64_t match_ = 0;
  uint64_t next_;
  ProgressState state_ = ProgressState::kProbe;
  bool probe_sent_ = false;
  uint64_t probe_sequence_ = 0;
  uint64_t probe_prev_index_ = 0;
  uint64_t pending_snapshot_ = 0;
  Inflights inflights_;
};

}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_PROGRESS_H_
