#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_IN_MEMORY_LOG_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_IN_MEMORY_LOG_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "platform/consensus/ordering/raft/proto/raft.pb.h"

namespace resdb {
namespace raft {

// RaftNode's copy of its log: the entries after the last snapshot (or compaction point),
// plus a record of which of them have already been handed to the application to persist.
//
// Indices start at 1. The entry at snapshot_index() is gone, but its term is kept so that
// the consistency check at that index still works. Entries in the log are contiguous:
// first_index() .. last_index(), with first_index() == snapshot_index() + 1.
class InMemoryLog {
 public:
  InMemoryLog() = default;

  // Replaces the whole log with a snapshot point and the durable entries after it. Entries
  // are taken while their indices continue snapshot_index + 1, +2, ...; the first gap ends
  // the log. Everything restored counts as already persisted.
  void Restore(uint64_t snapshot_index, uint64_t snapshot_term, std::vector<Entry> entries);

  uint64_t snapshot_index() const { return snapshot_index_; }
  uint64_t snapshot_term() const { return snapshot_term_; }
  uint64_t first_index() const { return snapshot_index_ + 1; }
  uint64_t last_index() const { return snapshot_index_ + entries_.size(); }
  uint64_t last_term() const;

  // Term of the entry at `index`: known for snapshot_index() .. last_index() (index 0 has
  // term 0); nullopt for compacted or missing indices.
  std::optional<uint64_t> Term(uint64_t index) const;
  bool MatchTerm(uint64_t index, uint64_t term) const;
  // Election restriction (Raft 5.4.1): a log ending at (last_index, last_term) is at least
  // as up to date as this one.
  bool IsUpToDate(uint64_t last_index, uint64_t last_term) const;

  // The entry at `index`; requires first_index() <= index <= last_index().
  const Entry& At(uint64_t index) const;

  // Entries [lo, hi] (clamped to the log), at most `max_count` of them and stopping before
  // `max_bytes` would be exceeded, but always at least one when the range is non-empty.
  std::vector<Entry> Slice(uint64_t lo, uint64_t hi, uint64_t max_count, uint64_t max_bytes) const;

  // Appends `entry`, whose index must be last_index() + 1 (returns false otherwise).
  bool Append(Entry entry);
  // Removes entries >= index; requires index > snapshot_index(). If any of them had been
  // handed out for persistence, the next TakeUnpersisted() reports a truncation.
  void TruncateFrom(uint64_t index);
  // Drops entries <= index, keeping index's term; requires index <= last_index().
  void CompactTo(uint64_t index);

  // Fast back-off helpers (Raft 5.3 optimisation).
  // The first index of the run of entries sharing the term at `index`, searching back no
  // further than first_index() (or snapshot_index() if that also has the term).
  uint64_t FirstIndexOfTermAt(uint64_t index) const;
  // The last index holding an entry of `term`, or 0 if the log has none.
  uint64_t LastIndexOfTerm(uint64_t term) const;

  // True if there is something TakeUnpersisted() would return.
  bool HasUnpersisted() const;
  // Hands out what the durable log must do: delete entries >= *truncate_from (0: nothing),
  // then append *entries. Afterwards everything counts as handed out.
  void TakeUnpersisted(uint64_t* truncate_from, std::vector<Entry>* entries);

  // Serialized size used for batching and flow control.
  static uint64_t EntryBytes(const Entry& entry);

 private:
  uint64_t snapshot_index_ = 0;
  uint64_t snapshot_term_ = 0;
  std::deque<Entry> entries_;
  // Entries <= handed_out_ have been given to the application to persist.
  uint64_t handed_out_ = 0;
  uint64_t pending_truncate_ = 0;
};

}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_IN_MEMORY_LOG_H_
