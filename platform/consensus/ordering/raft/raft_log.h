#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_RAFT_LOG_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_RAFT_LOG_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "platform/consensus/ordering/raft/proto/raft.pb.h"
#include "platform/storage/storage.h"

namespace resdb {
namespace raft {

// The replicated log of one RAFT node, kept in a Storage view (normally the kRaftLogPrefix view
// of the node's storage, see PrefixAllocator).
//
// The log holds the entries [FirstIndex(), LastLogIndex()]; it is empty when
// FirstIndex() == LastLogIndex() + 1. Index FirstIndex() - 1 is the compaction boundary: the
// last index covered by a snapshot (0 before any compaction). Its term stays known to Term().
//
// Keys of the view:
//   "m"                      metadata: first and last index, last term, compaction boundary
//                            (index, term) and commit index.
//   "e" + 8-byte big-endian  one serialized Entry.
// Every value carries a CRC-32C. Every change writes its entries and the metadata in one
// WriteBatch, so after a crash the stored log is exactly the state after some completed call.
//
// Thread-safe: all methods may be called concurrently; each call is atomic.
class RaftLog {
 public:
  // Opens the log stored in `storage`, or an empty log (FirstIndex() 1, LastLogIndex() 0) if
  // the view holds no log. Reads only the metadata and the first and last entry.
  // DataLossError naming the key if the metadata is damaged or inconsistent, if the first or
  // last entry is missing, damaged or holds another index than its key, if the last entry's
  // term differs from the recorded last term, or if entries exist without metadata. Other
  // storage errors are returned as they are.
  //
  // When `sync` is true every change except CommitTo is on stable storage when it returns.
  // `storage` must outlive the log.
  static absl::StatusOr<std::unique_ptr<RaftLog>> Open(Storage* storage, bool sync = true);

  RaftLog(const RaftLog&) = delete;
  RaftLog& operator=(const RaftLog&) = delete;

  // Appends `entries` (none is fine). InvalidArgumentError, naming the indexes and terms, unless
  // entries[i].index() == LastLogIndex() + 1 + i and the terms do not decrease, neither within
  // `entries` nor from LastLogTerm(). On error nothing is written.
  absl::Status Append(const std::vector<Entry>& entries);

  // Removes the entries with index >= `from_index` (none if from_index > LastLogIndex()).
  // FailedPreconditionError if from_index <= CommitIndex(): committed entries are never removed.
  // OutOfRangeError if from_index < FirstIndex().
  absl::Status Truncate(uint64_t from_index);

  // Records that a snapshot covers the log up to (`index`, `term`) and removes the entries it
  // covers. Afterwards FirstIndex() == index + 1 and Term(index) == term. If the log holds an
  // entry at `index` with term `term` and more entries after it, those are kept; otherwise
  // (index >= LastLogIndex() or a different term there) the log becomes empty with
  // LastLogIndex() == index and LastLogTerm() == term. The commit index is raised to `index`
  // if it is lower. A call with index < FirstIndex() is a no-op; InvalidArgumentError if the
  // snapshot's term is lower than the current boundary term; FailedPreconditionError if the
  // log would be discarded although entries above `index` are committed.
  absl::Status CompactTo(uint64_t index, uint64_t term);

  // The entries [lo, hi), stopping before the entry that would bring the total serialized size
  // above `max_bytes`; at least one entry is returned when lo < hi. OutOfRangeError if
  // lo < FirstIndex() (compacted) or hi > LastLogIndex() + 1; InvalidArgumentError if lo > hi.
  // DataLossError naming the key if a stored entry is missing or damaged.
  absl::StatusOr<std::vector<Entry>> Entries(uint64_t lo, uint64_t hi, uint64_t max_bytes);

  // The term of the entry at `index`: 0 for index 0, the boundary term for FirstIndex() - 1.
  // OutOfRangeError for other indexes outside [FirstIndex(), LastLogIndex()]. Recent terms are
  // answered from memory; older ones read one entry.
  absl::StatusOr<uint64_t> Term(uint64_t index);

  uint64_t FirstIndex() const;
  uint64_t LastLogIndex() const;
  uint64_t LastLogTerm() const;

  // Records that the entries up to `index` are committed. An index at or below CommitIndex() is
  // ignored; InvalidArgumentError if index > LastLogIndex(). Not synced: a crash may lose the
  // newest commit index (RAFT re-learns it), never a committed entry.
  absl::Status CommitTo(uint64_t index);
  uint64_t CommitIndex() const;

 private:
  // The persistent metadata; the log's bounds.
  struct Meta {
    uint64_t first_index = 1;
    uint64_t last_index = 0;
    uint64_t last_term = 0;
    uint64_t boundary_index = 0;
    uint64_t boundary_term = 0;
    uint64_t commit_index = 0;
  };
  // Entries [first_index, next run's first_index) have `term`.
  struct TermRun {
    uint64_t first_index;
    uint64_t term;
  };

  RaftLog(Storage* storage, bool sync, const Meta& meta);

  // Adds the metadata `meta` to `batch`, writes it and on success makes `meta` current.
  absl::Status Commit(WriteBatch* batch, const Meta& meta, bool sync);
  // Term of `index` for FirstIndex() - 1 <= index <= LastLogIndex().
  absl::StatusOr<uint64_t> TermLocked(uint64_t index);
  // Reads and checks the entry at `index`.
  absl::StatusOr<Entry> ReadEntryLocked(uint64_t index);
  void ResetTermRunsLocked();

  Storage* const storage_;
  const bool sync_;
  mutable std::mutex mu_;
  Meta meta_;
  // Cache of the terms of [term_runs_.front().first_index, meta_.last_index], ascending;
  // empty when the log is empty.
  std::vector<TermRun> term_runs_;
};

}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_RAFT_LOG_H_
