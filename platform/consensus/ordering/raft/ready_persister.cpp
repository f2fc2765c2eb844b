#include "platform/consensus/ordering/raft/ready_persister.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace resdb {
namespace raft {
namespace {

absl::Status Named(const absl::Status& status, absl::string_view what) {
  return absl::Status(status.code(), absl::StrCat(what, ": ", status.message()));
}

}  // namespace

absl::StatusOr<bool> ReadyPersister::Persist(const Ready& ready, Observer* observer) {
  auto go_on = [&](Step step) { return observer == nullptr || observer->AfterStep(step, ready); };

  if (ready.hard_state.has_value() && (ready.hard_state->current_term() != state_->current_term() ||
                                       ready.hard_state->voted_for() != state_->voted_for())) {
    absl::Status s =
        state_->SetTermAndVote(ready.hard_state->current_term(), ready.hard_state->voted_for());
    if (!s.ok()) return Named(s, "cannot persist term and vote");
  }
  if (!go_on(Step::kHardState)) return false;

  if (ready.snapshot.has_value()) {
    absl::Status s = log_->CompactTo(ready.snapshot->last_included_index(),
                                     ready.snapshot->last_included_term());
    if (!s.ok()) {
      return Named(s, absl::StrCat("cannot move the log past snapshot ",
                                   ready.snapshot->last_included_index()));
    }
    if (!go_on(Step::kSnapshotBoundary)) return false;
  }
  if (ready.truncate_from != 0) {
    absl::Status s = log_->Truncate(ready.truncate_from);
    if (!s.ok()) {
      return Named(s, absl::StrCat("cannot truncate the log from ", ready.truncate_from));
    }
    if (!go_on(Step::kTruncated)) return false;
  }
  if (!ready.entries.empty()) {
    absl::Status s = log_->Append(ready.entries);
    if (!s.ok()) {
      return Named(s, absl::StrCat("cannot append ", ready.entries.size(), " entries from index ",
                                   ready.entries.front().index()));
    }
    if (!go_on(Step::kAppended)) return false;
  }

  if (ready.hard_state.has_value()) {
    const uint64_t commit = std::min(ready.hard_state->commit_index(), log_->LastLogIndex());
    if (commit > log_->CommitIndex()) {
      absl::Status s = log_->CommitTo(commit);
      if (!s.ok()) return Named(s, absl::StrCat("cannot record commit index ", commit));
    }
  }
  return go_on(Step::kCommitIndex);
}

}  // namespace raft
}  // namespace resdb
