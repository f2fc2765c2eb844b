#include "platform/consensus/ordering/raft/raft_store.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "platform/consensus/execution/log_record.h"

namespace resdb {
namespace raft {
namespace {

// Entries read per call when the log is loaded at start.
constexpr uint64_t kRestoreChunkBytes = 64 << 20;

absl::Status Named(const absl::Status& status, absl::string_view what) {
  return absl::Status(status.code(), absl::StrCat(what, ": ", status.message()));
}

}  // namespace

RaftStore::RaftStore(std::unique_ptr<Storage> log_view, std::unique_ptr<Storage> state_view,
                     std::unique_ptr<Storage> snapshot_view, std::unique_ptr<RaftLog> log,
                     std::unique_ptr<RaftPersistentState> state,
                     std::unique_ptr<RaftSnapshotManager> snapshots)
    : log_view_(std::move(log_view)),
      state_view_(std::move(state_view)),
      snapshot_view_(std::move(snapshot_view)),
      log_(std::move(log)),
      state_(std::move(state)),
      snapshots_(std::move(snapshots)),
      persister_(log_.get(), state_.get()) {}

absl::StatusOr<std::unique_ptr<RaftStore>> RaftStore::Open(Storage* storage,
                                                           PrefixAllocator* prefixes, bool sync,
                                                           uint64_t snapshot_chunk_bytes) {
  auto log_view = prefixes->Allocate(storage, kRaftLogPrefix, "raft log");
  if (!log_view.ok()) return log_view.status();
  auto state_view = prefixes->Allocate(storage, kRaftStatePrefix, "raft state");
  if (!state_view.ok()) return state_view.status();
  auto snapshot_view = prefixes->Allocate(storage, kRaftSnapshotPrefix, "raft snapshots");
  if (!snapshot_view.ok()) return snapshot_view.status();
  auto snapshots = RaftSnapshotManager::Open(snapshot_view->get(), snapshot_chunk_bytes);
  if (!snapshots.ok()) return Named(snapshots.status(), "raft snapshots");
  auto log = RaftLog::Open(log_view->get(), sync);
  if (!log.ok()) return Named(log.status(), "raft log");
  auto state = RaftPersistentState::Open(state_view->get(), sync);
  if (!state.ok()) return Named(state.status(), "raft state");
  return std::unique_ptr<RaftStore>(new RaftStore(std::move(*log_view), std::move(*state_view),
                                                  std::move(*snapshot_view), std::move(*log),
                                                  std::move(*state), std::move(*snapshots)));
}

absl::StatusOr<RaftRestoredState> RaftStore::Restore(uint64_t applied) const {
  if (applied > log_->LastLogIndex()) {
    return absl::DataLossError(absl::StrCat("raft state: applied index ", applied,
                                            " is beyond the last log index ",
                                            log_->LastLogIndex()));
  }
  RaftRestoredState restored;
  restored.hard_state = state_->hard_state();
  const uint64_t boundary = log_->FirstIndex() - 1;
  restored.snapshot.set_last_included_index(boundary);
  absl::StatusOr<uint64_t> boundary_term = log_->Term(boundary);
  if (!boundary_term.ok()) return Named(boundary_term.status(), "raft log");
  restored.snapshot.set_last_included_term(*boundary_term);
  for (uint64_t lo = log_->FirstIndex(); lo <= log_->LastLogIndex();) {
    auto entries = log_->Entries(lo, log_->LastLogIndex() + 1, kRestoreChunkBytes);
    if (!entries.ok()) return Named(entries.status(), "raft log");
    lo += entries->size();
    for (Entry& entry : *entries) restored.entries.push_back(std::move(entry));
  }
  restored.hard_state.set_last_applied(applied);
  restored.hard_state.set_commit_index(std::max(log_->CommitIndex(), applied));
  // The membership of the latest snapshot holds until CONFIG entries after it say otherwise.
  if (std::optional<SnapshotMetadata> current = snapshots_->Current();
      current.has_value() && current->has_membership()) {
    restored.membership = current->membership();
    restored.membership_index = current->last_included_index();
  }
  return restored;
}

absl::StatusOr<LogQueryResult> RaftStore::Query(const LogQuery& query) const {
  LogQueryResult result;
  result.set_commit_index(log_->CommitIndex());
  const uint64_t first = log_->FirstIndex();
  const uint64_t last = log_->LastLogIndex();
  result.set_first_index(first);
  result.set_last_index(last);
  const uint64_t from = std::max(first, query.first());
  if (from <= last) {
    const uint64_t to = std::min<uint64_t>(last, from + LogQueryLimit(query) - 1);
    absl::StatusOr<std::vector<Entry>> entries =
        log_->Entries(from, to + 1, std::numeric_limits<uint64_t>::max());
    if (!entries.ok()) return absl::UnavailableError(entries.status().message());
    for (const Entry& entry : *entries) {
      const char* kind = entry.type() == Entry::NOOP     ? "noop"
                         : entry.type() == Entry::CONFIG ? "config"
                                                         : "normal";
      *result.add_records() = DescribeBatch(entry.index(), entry.term(), kind, entry.data());
    }
  }
  if (std::optional<SnapshotMetadata> snapshot = snapshots_->Current()) {
    result.set_snapshot_index(snapshot->last_included_index());
    result.set_snapshot_term(snapshot->last_included_term());
    result.set_snapshot_bytes(snapshot->size());
  }
  return result;
}

}  // namespace raft
}  // namespace resdb
