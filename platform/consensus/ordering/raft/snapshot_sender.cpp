#include "platform/consensus/ordering/raft/snapshot_sender.h"

#include <algorithm>
#include <utility>

#include "glog/logging.h"

namespace resdb {
namespace raft {

void SnapshotSender::Tick(uint64_t term, const std::vector<int64_t>& needing,
                          Clock::time_point now) {
  for (auto it = transfers_.begin(); it != transfers_.end();) {
    const bool needed = std::find(needing.begin(), needing.end(), it->first) != needing.end();
    it = needed ? std::next(it) : transfers_.erase(it);
  }
  if (needing.empty()) return;
  const std::optional<SnapshotMetadata> current = snapshots_->Current();
  if (!current.has_value()) return;
  for (int64_t follower : needing) {
    Transfer& transfer = transfers_[follower];
    if (transfer.metadata.last_included_index() != current->last_included_index()) {
      transfer = Transfer();
      transfer.metadata = *current;
    }
    const auto patience = transfer.installing ? options_.install_patience : options_.resend;
    if (!transfer.in_flight || now - transfer.sent_at >= patience) {
      SendChunk(term, follower, transfer, now);
    }
  }
}

SnapshotSender::Outcome SnapshotSender::OnResponse(uint64_t term, int64_t from,
                                                   const InstallSnapshotResponse& response,
                                                   Clock::time_point now) {
  auto it = transfers_.find(from);
  if (it == transfers_.end() ||
      response.last_included_index() != it->second.metadata.last_included_index()) {
    return Outcome::kIgnored;
  }
  if (response.rejected() || response.done()) {
    transfers_.erase(it);
    return response.rejected() ? Outcome::kRejected : Outcome::kInstalled;
  }
  Transfer& transfer = it->second;
  transfer.offset = response.next_offset();
  if (response.next_offset() >= transfer.metadata.size()) {
    // Its answer when done (or its log's acknowledgement) moves it on; asked again only after
    // a long silence.
    transfer.installing = true;
    transfer.in_flight = true;
    transfer.sent_at = now;
    return Outcome::kAwaitingInstall;
  }
  transfer.installing = false;
  SendChunk(term, from, transfer, now);
  return Outcome::kNextChunkSent;
}

void SnapshotSender::SendChunk(uint64_t term, int64_t to, Transfer& transfer,
                               Clock::time_point now) {
  absl::StatusOr<SnapshotChunk> chunk =
      snapshots_->ReadChunk(transfer.offset, options_.chunk_bytes);
  if (!chunk.ok()) {
    LOG(WARNING) << "raft replica " << options_.self_id << ": cannot read snapshot "
                 << transfer.metadata.last_included_index() << " at " << transfer.offset
                 << " for replica " << to << ": " << chunk.status();
    transfers_.erase(to);
    return;
  }
  InstallSnapshotRequest request;
  request.set_term(term);
  request.set_leader_id(options_.self_id);
  *request.mutable_metadata() = transfer.metadata;
  *request.mutable_chunk() = *std::move(chunk);
  transfer.in_flight = true;
  transfer.sent_at = now;
  send_(to, std::move(request));
}

}  // namespace raft
}  // namespace resdb
