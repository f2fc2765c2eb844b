#include "platform/consensus/ordering/raft/snapshot_taker.h"

#include <utility>

#include "glog/logging.h"
#include "platform/consensus/execution/state_image.h"

namespace resdb {
namespace raft {

bool SnapshotTaker::Due(uint64_t applied, uint64_t last_snapshot_index) {
  if (threshold_ == 0 || applied < last_snapshot_index + threshold_) return false;
  return !busy_.exchange(true);
}

void SnapshotTaker::Save(std::shared_ptr<StorageSnapshot> state, uint64_t index, uint64_t term,
                         Membership membership, DoneFn done) {
  std::lock_guard<std::mutex> lock(thread_mu_);
  if (thread_.joinable()) thread_.join();  // the previous one is done
  thread_ = std::thread([this, state = std::move(state), index, term,
                         membership = std::move(membership), done = std::move(done)] {
    Result result;
    result.index = index;
    result.term = term;
    absl::StatusOr<std::string> image = EncodeStateImage(*state, prefixes_);
    const std::optional<SnapshotMetadata> current = snapshots_->Current();
    if (current.has_value() && current->last_included_index() >= index) {
      // A snapshot installed from the leader meanwhile is newer: keep it.
    } else if (image.ok()) {
      SnapshotMetadata metadata;
      metadata.set_last_included_index(index);
      metadata.set_last_included_term(term);
      // The membership as of the snapshot travels with it: the log that recorded it may be
      // compacted away.
      *metadata.mutable_membership() = membership;
      absl::Status stored = snapshots_->Save(metadata, *image);
      result.saved = stored.ok();
      LOG_IF(ERROR, !stored.ok()) << "cannot store snapshot " << index << ": " << stored;
    } else {
      LOG(ERROR) << "cannot read the state for snapshot " << index << ": " << image.status();
    }
    done(result);
  });
}

void SnapshotTaker::Wait() {
  std::lock_guard<std::mutex> lock(thread_mu_);
  if (thread_.joinable()) thread_.join();
}

}  // namespace raft
}  // namespace resdb
