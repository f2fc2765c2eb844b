// ConsensusManagerRaft: driving SnapshotTaker, SnapshotSender and SnapshotReceiver from the
// raft thread, compacting the log, and installing a received snapshot.

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "platform/consensus/execution/state_image.h"
#include "platform/consensus/ordering/raft/consensus_manager_raft.h"

namespace resdb {

std::vector<std::string> ConsensusManagerRaft::StatePrefixes() {
  std::vector<std::string> prefixes = {std::string(kUserDataPrefix)};
  for (const std::string& key : AppliedRequestTable::KeyPrefixes()) {
    prefixes.push_back(absl::StrCat(kRaftStatePrefix, key));
  }
  prefixes.push_back(absl::StrCat(kRaftStatePrefix, StateDigest::kKey));
  return prefixes;
}

void ConsensusManagerRaft::OpenSnapshots(const raft::SnapshotSender::Options& sender) {
  raft::RaftSnapshotManager* snapshots = &store_->snapshots();
  snapshot_sender_ = std::make_unique<raft::SnapshotSender>(
      sender, snapshots, [this](int64_t to, raft::InstallSnapshotRequest request) {
        rpc_->Send(raft::RaftMessage::Make(self_id_, to, std::move(request)));
      });
  snapshot_receiver_ = std::make_unique<raft::SnapshotReceiver>(self_id_, snapshots);
  const RaftConfig& rc = config().GetRaftConfig();
  snapshot_taker_ = std::make_unique<raft::SnapshotTaker>(
      snapshots, StatePrefixes(),
      static_cast<uint64_t>(std::max<int64_t>(0, rc.snapshot_threshold())),
      static_cast<uint64_t>(std::max<int64_t>(0, rc.log_tail_after_snapshot())));
  if (std::optional<raft::SnapshotMetadata> current = snapshots->Current()) {
    published_.SetSnapshot(current->last_included_index());
  }
}

bool ConsensusManagerRaft::HandleSnapshotMessage(const raft::RaftMessage& message) {
  if (const auto* install = std::get_if<raft::InstallSnapshotRequest>(&message.payload)) {
    HandleInstallSnapshotRequest(message.from, *install);
    return true;
  }
  if (!node_->Step(message).ok()) metrics_.rejected_messages->Increment();
  if (const auto* answer = std::get_if<raft::InstallSnapshotResponse>(&message.payload)) {
    HandleInstallSnapshotResponse(message.from, *answer);
  }
  return false;
}

void ConsensusManagerRaft::MaybeTakeSnapshot(uint64_t applied) {
  if (!snapshot_taker_->Due(applied, published_.snapshot_index())) return;
  Work work;
  work.kind = Work::kSnapshotTaken;
  work.index = applied;
  work.snapshot = storage_->NewSnapshot();
  if (!Enqueue(std::move(work))) snapshot_taker_->Finished();
}

void ConsensusManagerRaft::OnSnapshotTaken(Work& work) {
  const std::optional<uint64_t> term = node_->TermAt(work.index);
  if (!term.has_value() || thread_.stopping()) {
    snapshot_taker_->Finished();
    return;
  }
  snapshot_taker_->Save(std::move(work.snapshot), work.index, *term,
                        node_->MembershipAt(work.index),
                        [this](raft::SnapshotTaker::Result result) {
                          Work saved;
                          saved.kind = Work::kSnapshotSaved;
                          saved.index = result.index;
                          saved.term = result.term;
                          saved.saved = result.saved;
                          if (!Enqueue(std::move(saved))) snapshot_taker_->Finished();
                        });
}

void ConsensusManagerRaft::OnSnapshotSaved(const Work& work) {
  snapshot_taker_->Finished();
  if (!work.saved) return;
  published_.SetSnapshot(work.index);
  metrics_.snapshots_taken->Increment();
  const uint64_t compact_to = snapshot_taker_->CompactionPoint(work.index);
  if (compact_to == 0 || compact_to < store_->log().FirstIndex()) return;
  const std::optional<uint64_t> term = node_->TermAt(compact_to);
  if (!term.has_value()) return;
  absl::Status compacted = store_->log().CompactTo(compact_to, *term);
  if (compacted.ok()) compacted = node_->CompactTo(compact_to);
  LOG_IF(ERROR, !compacted.ok()) << "raft replica " << self_id_ << ": cannot compact the log to "
                                 << compact_to << ": " << compacted;
}

void ConsensusManagerRaft::SendSnapshots(Clock::time_point now) {
  if (node_->role() != raft::Role::kLeader) {
    snapshot_sender_->Clear();
    return;
  }
  snapshot_sender_->Tick(node_->term(), node_->FollowersNeedingSnapshot(), now);
}

void ConsensusManagerRaft::HandleInstallSnapshotResponse(
    int64_t from, const raft::InstallSnapshotResponse& resp) {
  if (node_->role() != raft::Role::kLeader) return;
  switch (snapshot_sender_->OnResponse(node_->term(), from, resp, Clock::now())) {
    case raft::SnapshotSender::Outcome::kInstalled:
      node_->ReportSnapshot(from, true);
      metrics_.snapshots_sent->Increment();
      break;
    case raft::SnapshotSender::Outcome::kRejected:
      node_->ReportSnapshot(from, false);
      break;
    case raft::SnapshotSender::Outcome::kAwaitingInstall:
      metrics_.snapshot_installs_awaited->Increment();
      break;
    case raft::SnapshotSender::Outcome::kIgnored:
    case raft::SnapshotSender::Outcome::kNextChunkSent:
      break;
  }
}

void ConsensusManagerRaft::HandleInstallSnapshotRequest(int64_t from,
                                                        const raft::InstallSnapshotRequest& req) {
  raft::SnapshotReceiver::NodeView view;
  view.term = node_->term();
  view.leader_id = node_->leader_id();
  view.leading = node_->role() == raft::Role::kLeader;
  view.commit_index = node_->commit_index();
  const raft::SnapshotReceiver::Step step = snapshot_receiver_->OnChunk(from, req, view);
  rpc_->Send(raft::RaftMessage::Make(self_id_, from, step.answer));
  if (!step.install) return;
  // An own snapshot still being saved would replace the one installed now.
  snapshot_taker_->Wait();
  absl::Status installed = store_->snapshots().FinishIncoming();
  if (installed.ok()) installed = InstallSnapshot(req.metadata());
  if (!installed.ok()) {
    LOG(ERROR) << "raft replica " << self_id_ << ": cannot install snapshot "
               << req.metadata().last_included_index() << ": " << installed;
  }
  const raft::InstallSnapshotResponse done =
      raft::SnapshotReceiver::AfterInstall(step.answer, node_->term(), installed.ok());
  rpc_->Send(raft::RaftMessage::Make(self_id_, from, done));
}

absl::Status ConsensusManagerRaft::InstallSnapshot(const raft::SnapshotMetadata& metadata) {
  const uint64_t index = metadata.last_included_index();
  // What the executor was handed is older than the snapshot; let it finish first, since the
  // state is replaced under it.
  if (!executor_->WaitForExecuted(node_->applied_index(), client_timeout_)) {
    return absl::UnavailableError(
        absl::StrCat("the executor did not reach index ", node_->applied_index(), " in time"));
  }
  absl::StatusOr<std::string> image = store_->snapshots().ReadAll();
  if (!image.ok()) return image.status();
  absl::Status status = InstallStateImage(storage_, StatePrefixes(), *image, /*sync=*/true);
  if (!status.ok()) return status;
  status = recorder_->Load();
  if (!status.ok()) return status;
  executor_->SkipTo(index + 1);
  published_.SetApplied(index);
  metrics_.applied_index->Set(static_cast<int64_t>(index));
  published_.SetSnapshot(index);
  status = node_->RestoreSnapshot(metadata);
  if (!status.ok()) return status;
  metrics_.snapshots_installed->Increment();
  LOG(INFO) << "raft replica " << self_id_ << ": installed snapshot " << index << " (term "
            << metadata.last_included_term() << ", " << image->size() << " bytes)";
  reads_->SetApplied(index);
  return absl::OkStatus();
}

}  // namespace resdb
