#include "platform/consensus/ordering/raft/snapshot_receiver.h"

#include "glog/logging.h"

namespace resdb {
namespace raft {

SnapshotReceiver::Step SnapshotReceiver::OnChunk(int64_t from,
                                                 const InstallSnapshotRequest& request,
                                                 const NodeView& node) {
  const SnapshotMetadata& metadata = request.metadata();
  Step step;
  InstallSnapshotResponse& answer = step.answer;
  answer.set_follower_id(self_id_);
  answer.set_last_included_index(metadata.last_included_index());
  answer.set_term(node.term);
  // Only from the leader this replica follows in this term; a new leader's heartbeats come
  // first and the leader sends again. A snapshot from a later term than its sender's is
  // forged: RaftNode would refuse it only after its data replaced the state.
  if (request.term() != node.term || node.leader_id != from || node.leading ||
      metadata.last_included_term() > request.term()) {
    answer.set_rejected(true);
    return step;
  }
  if (metadata.last_included_index() <= node.commit_index) {
    answer.set_next_offset(metadata.size());
    answer.set_done(true);
    return step;
  }
  const std::optional<SnapshotMetadata> incoming = snapshots_->Incoming();
  if (!incoming.has_value() || incoming->SerializeAsString() != metadata.SerializeAsString()) {
    absl::Status begun = snapshots_->BeginIncoming(metadata);
    if (!begun.ok()) {
      LOG(WARNING) << "raft replica " << self_id_ << ": refused snapshot "
                   << metadata.last_included_index() << " from " << from << ": " << begun;
      answer.set_rejected(true);
      return step;
    }
  }
  absl::StatusOr<uint64_t> received = snapshots_->WriteChunk(request.chunk());
  if (!received.ok()) {
    if (absl::IsFailedPrecondition(received.status())) {
      // Out of order (a resent or lost chunk): resume where this replica is.
      answer.set_next_offset(snapshots_->IncomingOffset());
      return step;
    }
    LOG(WARNING) << "raft replica " << self_id_ << ": bad snapshot chunk from " << from << ": "
                 << received.status();
    snapshots_->AbortIncoming();
    answer.set_rejected(true);
    return step;
  }
  answer.set_next_offset(*received);
  step.install = *received >= metadata.size();
  return step;
}

InstallSnapshotResponse SnapshotReceiver::AfterInstall(const InstallSnapshotResponse& answer,
                                                       uint64_t term, bool installed) {
  InstallSnapshotResponse final_answer = answer;
  final_answer.set_term(term);
  if (installed) {
    final_answer.set_done(true);
  } else {
    final_answer.set_rejected(true);
  }
  return final_answer;
}

}  // namespace raft
}  // namespace resdb
