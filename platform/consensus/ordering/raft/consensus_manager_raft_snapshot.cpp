// ConsensusManagerRaft: taking snapshots, compacting the log, and sending and installing
// snapshots for followers whose entries were compacted away.

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "platform/consensus/ordering/raft/consensus_manager_raft.h"
#include "platform/consensus/recovery/state_image.h"

namespace resdb {

std::vector<std::string> ConsensusManagerRaft::StatePrefixes() {
  std::vector<std::string> prefixes = {std::string(kUserDataPrefix)};
  for (const std::string& key : AppliedRequestTable::KeyPrefixes()) {
    prefixes.push_back(absl::StrCat(kRaftStatePrefix, key));
  }
  prefixes.push_back(absl::StrCat(kRaftStatePrefix, StateDigest::kKey));
  return prefixes;
}

void ConsensusManagerRaft::MaybeTakeSnapshot(uint64_t applied) {
  if (snapshot_threshold_ == 0 || applied < snapshot_index_.load() + snapshot_threshold_) return;
  if (snapshot_busy_.exchange(true)) return;
  // Taken here, between two applies, the view is the state after `applied` exactly; reading
  // it takes long, so that happens elsewhere while execution goes on.
  Work work;
  work.kind = Work::kSnapshotTaken;
  work.index = applied;
  work.snapshot = storage_->NewSnapshot();
  if (!Enqueue(std::move(work))) snapshot_busy_.store(false);
}

void ConsensusManagerRaft::OnSnapshotTaken(Work& work) {
  const std::optional<uint64_t> term = node_->TermAt(work.index);
  if (!term.has_value() || stopping_flag_.load()) {
    snapshot_busy_.store(false);
    return;
  }
  if (snapshot_thread_.joinable()) snapshot_thread_.join();  // the previous one is done
  // The membership as of the snapshot's index travels with it: the log that recorded it
  // may be compacted away.
  snapshot_thread_ = std::thread([this, snapshot = std::move(work.snapshot), index = work.index,
                                  term = *term, membership = node_->MembershipAt(work.index)] {
    Work saved;
    saved.kind = Work::kSnapshotSaved;
    saved.index = index;
    saved.term = term;
    absl::StatusOr<std::string> image = EncodeStateImage(*snapshot, StatePrefixes());
    const std::optional<raft::SnapshotMetadata> current = snapshots_->Current();
    if (current.has_value() && current->last_included_index() >= index) {
      // A snapshot installed from the leader meanwhile is newer: keep it.
    } else if (image.ok()) {
      raft::SnapshotMetadata metadata;
      metadata.set_last_included_index(index);
      metadata.set_last_included_term(term);
      *metadata.mutable_membership() = membership;
      absl::Status stored = snapshots_->Save(metadata, *image);
      saved.saved = stored.ok();
      LOG_IF(ERROR, !stored.ok()) << "raft replica " << self_id_ << ": cannot store snapshot "
                                  << index << ": " << stored;
    } else {
      LOG(ERROR) << "raft replica " << self_id_ << ": cannot read the state for snapshot " << index
                 << ": " << image.status();
    }
    if (!Enqueue(std::move(saved))) snapshot_busy_.store(false);
  });
}

void ConsensusManagerRaft::OnSnapshotSaved(const Work& work) {
  snapshot_busy_.store(false);
  if (!work.saved) return;
  snapshot_index_.store(std::max(snapshot_index_.load(), work.index));
  snapshots_taken_->Increment();
  // Keep a tail of entries so that a follower a little behind catches up from the log.
  if (work.index <= log_tail_) return;
  const uint64_t compact_to = work.index - log_tail_;
  if (compact_to < log_->FirstIndex()) return;
  const std::optional<uint64_t> term = node_->TermAt(compact_to);
  if (!term.has_value()) return;
  absl::Status compacted = log_->CompactTo(compact_to, *term);
  if (compacted.ok()) compacted = node_->CompactTo(compact_to);
  LOG_IF(ERROR, !compacted.ok()) << "raft replica " << self_id_ << ": cannot compact the log to "
                                 << compact_to << ": " << compacted;
}

void ConsensusManagerRaft::SendSnapshots(Clock::time_point now) {
  if (node_->role() != raft::Role::kLeader) {
    outgoing_snapshots_.clear();
    return;
  }
  const std::vector<int64_t> needing = node_->FollowersNeedingSnapshot();
  for (auto it = outgoing_snapshots_.begin(); it != outgoing_snapshots_.end();) {
    const bool needed = std::find(needing.begin(), needing.end(), it->first) != needing.end();
    it = needed ? std::next(it) : outgoing_snapshots_.erase(it);
  }
  if (needing.empty()) return;
  const std::optional<raft::SnapshotMetadata> current = snapshots_->Current();
  if (!current.has_value()) return;
  for (int64_t follower : needing) {
    OutgoingSnapshot& outgoing = outgoing_snapshots_[follower];
    if (outgoing.metadata.last_included_index() != current->last_included_index()) {
      outgoing = OutgoingSnapshot();
      outgoing.metadata = *current;
    }
    // One chunk in flight per follower: the transfer paces itself by the follower's answers
    // and leaves room for normal replication.
    const auto patience = outgoing.installing ? snapshot_install_patience_ : snapshot_resend_;
    if (!outgoing.in_flight || now - outgoing.sent_at >= patience) {
      SendChunk(follower, outgoing, now);
    }
  }
}

void ConsensusManagerRaft::SendChunk(int64_t to, OutgoingSnapshot& outgoing,
                                     Clock::time_point now) {
  absl::StatusOr<raft::SnapshotChunk> chunk =
      snapshots_->ReadChunk(outgoing.offset, snapshot_chunk_bytes_);
  if (!chunk.ok()) {
    // Replaced meanwhile by a newer snapshot, which the next round sends from the start.
    LOG(WARNING) << "raft replica " << self_id_ << ": cannot read snapshot "
                 << outgoing.metadata.last_included_index() << " at " << outgoing.offset
                 << " for replica " << to << ": " << chunk.status();
    outgoing_snapshots_.erase(to);
    return;
  }
  raft::InstallSnapshotRequest request;
  request.set_term(node_->term());
  request.set_leader_id(self_id_);
  *request.mutable_metadata() = outgoing.metadata;
  *request.mutable_chunk() = *std::move(chunk);
  rpc_->Send(raft::RaftMessage::Make(self_id_, to, std::move(request)));
  outgoing.in_flight = true;
  outgoing.sent_at = now;
}

void ConsensusManagerRaft::HandleInstallSnapshotResponse(
    int64_t from, const raft::InstallSnapshotResponse& resp) {
  if (node_->role() != raft::Role::kLeader) return;
  auto it = outgoing_snapshots_.find(from);
  if (it == outgoing_snapshots_.end() ||
      resp.last_included_index() != it->second.metadata.last_included_index()) {
    return;
  }
  if (resp.rejected() || resp.done()) {
    node_->ReportSnapshot(from, resp.done() && !resp.rejected());
    if (resp.done()) snapshots_sent_->Increment();
    outgoing_snapshots_.erase(it);
    return;
  }
  it->second.offset = resp.next_offset();
  if (resp.next_offset() >= it->second.metadata.size()) {
    // Every chunk arrived and the follower is installing them; its answer when done (or its
    // log's acknowledgement) moves it on. Asked again only after a long silence.
    it->second.installing = true;
    it->second.in_flight = true;
    it->second.sent_at = Clock::now();
    snapshot_installs_awaited_->Increment();
    return;
  }
  it->second.installing = false;
  SendChunk(from, it->second, Clock::now());
}

void ConsensusManagerRaft::HandleInstallSnapshotRequest(int64_t from,
                                                        const raft::InstallSnapshotRequest& req) {
  const raft::SnapshotMetadata& metadata = req.metadata();
  raft::InstallSnapshotResponse resp;
  resp.set_follower_id(self_id_);
  resp.set_last_included_index(metadata.last_included_index());
  auto answer = [&](bool rejected) {
    resp.set_term(node_->term());
    resp.set_rejected(rejected);
    rpc_->Send(raft::RaftMessage::Make(self_id_, from, resp));
  };
  // Only from the leader this replica follows in this term; a new leader's heartbeats come
  // first and the leader sends again. A snapshot from a later term than its sender's is
  // forged: RaftNode would refuse it only after its data replaced the state.
  if (req.term() != node_->term() || node_->leader_id() != from ||
      node_->role() == raft::Role::kLeader || metadata.last_included_term() > req.term()) {
    answer(true);
    return;
  }
  if (metadata.last_included_index() <= node_->commit_index()) {
    resp.set_next_offset(metadata.size());
    resp.set_done(true);
    answer(false);
    return;
  }
  const std::optional<raft::SnapshotMetadata> incoming = snapshots_->Incoming();
  if (!incoming.has_value() || incoming->SerializeAsString() != metadata.SerializeAsString()) {
    absl::Status begun = snapshots_->BeginIncoming(metadata);
    if (!begun.ok()) {
      LOG(WARNING) << "raft replica " << self_id_ << ": refused snapshot "
                   << metadata.last_included_index() << " from " << from << ": " << begun;
      answer(true);
      return;
    }
  }
  absl::StatusOr<uint64_t> received = snapshots_->WriteChunk(req.chunk());
  if (!received.ok()) {
    if (absl::IsFailedPrecondition(received.status())) {
      // Out of order (a resent or lost chunk): resume where this replica is.
      resp.set_next_offset(snapshots_->IncomingOffset());
      answer(false);
      return;
    }
    LOG(WARNING) << "raft replica " << self_id_ << ": bad snapshot chunk from " << from << ": "
                 << received.status();
    snapshots_->AbortIncoming();
    answer(true);
    return;
  }
  resp.set_next_offset(*received);
  // Installing may take longer than the leader waits for an answer: the receipt is
  // acknowledged first, so that it waits for the install rather than sending chunks again.
  answer(false);
  if (*received < metadata.size()) return;
  // An own snapshot still being saved would replace the one installed now.
  if (snapshot_thread_.joinable()) snapshot_thread_.join();
  absl::Status installed = snapshots_->FinishIncoming();
  if (installed.ok()) installed = InstallSnapshot(metadata);
  if (!installed.ok()) {
    LOG(ERROR) << "raft replica " << self_id_ << ": cannot install snapshot "
               << metadata.last_included_index() << ": " << installed;
    answer(true);
    return;
  }
  resp.set_done(true);
  answer(false);
}

absl::Status ConsensusManagerRaft::InstallSnapshot(const raft::SnapshotMetadata& metadata) {
  const uint64_t index = metadata.last_included_index();
  // What the executor was handed is older than the snapshot; let it finish first, since the
  // state is replaced under it.
  if (!executor_->WaitForExecuted(node_->applied_index(), client_timeout_)) {
    return absl::UnavailableError(
        absl::StrCat("the executor did not reach index ", node_->applied_index(), " in time"));
  }
  absl::StatusOr<std::string> image = snapshots_->ReadAll();
  if (!image.ok()) return image.status();
  absl::Status status = InstallStateImage(storage_, StatePrefixes(), *image, /*sync=*/true);
  if (!status.ok()) return status;
  status = recorder_->Load();
  if (!status.ok()) return status;
  executor_->SkipTo(index + 1);
  applied_index_.store(index);
  applied_gauge_->Set(static_cast<int64_t>(index));
  snapshot_index_.store(index);
  status = node_->RestoreSnapshot(metadata);
  if (!status.ok()) return status;
  snapshots_installed_->Increment();
  LOG(INFO) << "raft replica " << self_id_ << ": installed snapshot " << index << " (term "
            << metadata.last_included_term() << ", " << image->size() << " bytes)";
  ServeReadsUpTo(index);
  return absl::OkStatus();
}

}  // namespace resdb
