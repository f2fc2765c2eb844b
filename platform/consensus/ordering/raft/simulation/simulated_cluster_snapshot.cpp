// SimulatedCluster: snapshots, log compaction and snapshot transfer (see the class comment).

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "platform/consensus/ordering/raft/simulation/simulated_cluster.h"

namespace resdb {
namespace raft {
namespace {

// Trace markers, so that the trace hash tells snapshot events apart from other values.
constexpr uint64_t kTraceSnapshotTaken = 0x5A4B5A4B;
constexpr uint64_t kTraceSnapshotInstalled = 0x1A57A11;

// A state machine as snapshot data: each entry serialized, preceded by its size (4 bytes,
// little-endian).
std::string EncodeState(const std::vector<Entry>& state) {
  std::string out;
  for (const Entry& e : state) {
    const std::string bytes = e.SerializeAsString();
    const uint32_t size = static_cast<uint32_t>(bytes.size());
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((size >> (8 * i)) & 0xFF));
    out += bytes;
  }
  return out;
}

// The inverse of EncodeState; nullopt if `data` is not such an encoding.
std::optional<std::vector<Entry>> DecodeState(absl::string_view data) {
  std::vector<Entry> state;
  while (!data.empty()) {
    if (data.size() < 4) return std::nullopt;
    uint32_t size = 0;
    for (int i = 0; i < 4; ++i)
      size |= static_cast<uint32_t>(static_cast<uint8_t>(data[i])) << (8 * i);
    data.remove_prefix(4);
    if (data.size() < size) return std::nullopt;
    Entry e;
    if (!e.ParseFromArray(data.data(), static_cast<int>(size))) return std::nullopt;
    data.remove_prefix(size);
    state.push_back(std::move(e));
  }
  return state;
}

// Why `state` cannot be the state machine described by `metadata`, or "" if it can: it
// must hold exactly the entries 1..last_included_index, the last one of last_included_term.
std::string StateMismatch(const SnapshotMetadata& metadata, const std::vector<Entry>& state) {
  if (state.size() != metadata.last_included_index()) {
    return absl::StrCat("holds ", state.size(), " entries for last_included_index ",
                        metadata.last_included_index());
  }
  for (size_t i = 0; i < state.size(); ++i) {
    if (state[i].index() != i + 1) {
      return absl::StrCat("holds index ", state[i].index(), " at position ", i + 1);
    }
  }
  if (!state.empty() && state.back().term() != metadata.last_included_term()) {
    return absl::StrCat("ends with term ", state.back().term(), " for last_included_term ",
                        metadata.last_included_term());
  }
  return "";
}

}  // namespace

// ---------------------------------------------------------------------------
// Taking snapshots and compacting

bool SimulatedCluster::MaybeTakeSnapshot(SimNode& node) {
  if (options_.snapshot_every <= 0 || node.process == nullptr) return true;
  const uint64_t last =
      node.snapshot.has_value() ? node.snapshot->metadata.last_included_index() : 0;
  const uint64_t index = node.applied.size();
  if (index < last + static_cast<uint64_t>(options_.snapshot_every)) return true;

  // The snapshot goes to disk before anything it covers is compacted away.
  StoredSnapshot snapshot;
  snapshot.metadata.set_last_included_index(index);
  snapshot.metadata.set_last_included_term(node.applied.back().term());
  // The configuration travels with the snapshot: the log that recorded it is compacted away.
  *snapshot.metadata.mutable_membership() = node.process->raft->MembershipAt(index);
  snapshot.state = node.applied;
  node.snapshot = std::move(snapshot);
  ++snapshots_.taken;
  Trace(kTraceSnapshotTaken);
  Trace(static_cast<uint64_t>(node.id));
  Trace(index);
  Log(absl::StrCat("  node ", node.id, " stored a snapshot at index ", index));
  if (CrashHere(node, CrashPoint::kAfterSnapshotSave)) return false;

  // Keeping a tail of entries lets followers that are only a little behind catch up from the
  // log instead of needing the whole snapshot. RaftNode compacts only what it has applied.
  const uint64_t tail = static_cast<uint64_t>(options_.snapshot_tail);
  if (index <= tail) return true;
  const uint64_t compact_to = std::min(index - tail, node.process->raft->applied_index());
  return CompactLogs(node, compact_to);
}

bool SimulatedCluster::CompactLogs(SimNode& node, uint64_t index) {
  Process& p = *node.process;
  auto compact_durable = [&] {
    if (index < p.log->FirstIndex()) return true;
    const absl::StatusOr<uint64_t> term = p.log->Term(index);
    absl::Status s = term.ok() ? p.log->CompactTo(index, *term) : term.status();
    if (!s.ok()) {
      Fail(absl::StrCat("node ", node.id, " cannot compact its durable log to ", index, ": ",
                        s.ToString()));
      return false;
    }
    checker_.OnDurableCompact(node.id, index, *term);
    return true;
  };
  auto compact_raft = [&] {
    absl::Status s = p.raft->CompactTo(index);
    if (!s.ok()) {
      Fail(absl::StrCat("node ", node.id, " RaftNode::CompactTo(", index, "): ", s.ToString()));
      return false;
    }
    return true;
  };
  // Both orders are safe: RaftNode's log is lost in a crash anyway, and the stored snapshot
  // covers whatever the durable log dropped. Alternate them so that a crash in between
  // (kBetweenCompactions) strikes after each.
  const bool durable_first = snapshots_.taken % 2 == 1;
  if (!(durable_first ? compact_durable() : compact_raft())) return false;
  if (CrashHere(node, CrashPoint::kBetweenCompactions)) return false;
  if (!(durable_first ? compact_raft() : compact_durable())) return false;
  Log(absl::StrCat("  node ", node.id, " compacted its log to ", index));
  return true;
}

bool SimulatedCluster::CheckReadySnapshot(SimNode& node, const SnapshotMetadata& metadata) {
  const uint64_t index = metadata.last_included_index();
  if (!node.snapshot.has_value() || node.snapshot->metadata.last_included_index() != index ||
      node.snapshot->metadata.last_included_term() != metadata.last_included_term()) {
    Fail(absl::StrCat("node ", node.id, " got Ready::snapshot at index ", index,
                      ", which is not the snapshot it stored"));
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Transfer: leader side

void SimulatedCluster::ServeSnapshots() {
  for (int64_t id : ids_) {
    SimNode& n = Get(id);
    if (n.process == nullptr) continue;
    Process& p = *n.process;
    RaftNode& raft = *p.raft;
    if (raft.role() != Role::kLeader) {
      p.transfers.clear();
      continue;
    }
    for (auto it = p.transfers.begin(); it != p.transfers.end();) {
      if (it->second.term != raft.term()) {
        it = p.transfers.erase(it);  // sent in an earlier leadership: its progress is gone
      } else if (ticks_ >= it->second.deadline_tick) {
        // Lost, or its answer was: a failure sends the follower back among
        // FollowersNeedingSnapshot(), for a new attempt with the then newest snapshot.
        ++snapshots_.timed_out;
        Log(absl::StrCat("  node ", id, " gave up the snapshot transfer to ", it->first));
        raft.ReportSnapshot(it->first, false);
        it = p.transfers.erase(it);
      } else {
        ++it;
      }
    }
    for (int64_t follower : raft.FollowersNeedingSnapshot()) {
      if (p.transfers.count(follower) == 0) SendSnapshot(n, follower);
    }
    ProcessReady(n);
  }
}

void SimulatedCluster::SendSnapshot(SimNode& leader, int64_t follower) {
  RaftNode& raft = *leader.process->raft;
  if (!leader.snapshot.has_value() ||
      leader.snapshot->metadata.last_included_index() + 1 < raft.first_index()) {
    Fail(absl::StrCat("leader ", leader.id, " compacted its log to ", raft.first_index() - 1,
                      " but stored no snapshot covering it"));
    return;
  }
  const StoredSnapshot& snapshot = *leader.snapshot;
  InstallSnapshotRequest req;
  req.set_term(raft.term());
  req.set_leader_id(leader.id);
  *req.mutable_metadata() = snapshot.metadata;
  // The whole snapshot in one chunk.
  SnapshotChunk* chunk = req.mutable_chunk();
  chunk->set_offset(0);
  chunk->set_data(EncodeState(snapshot.state));
  chunk->set_done(true);
  req.mutable_metadata()->set_size(chunk->data().size());
  network_.Send(RaftMessage::Make(leader.id, follower, std::move(req)), now_);
  Process::Transfer& transfer = leader.process->transfers[follower];
  transfer.term = raft.term();
  transfer.index = snapshot.metadata.last_included_index();
  transfer.deadline_tick = ticks_ + options_.snapshot_timeout_ticks;
  ++snapshots_.sent;
  Log(absl::StrCat("  node ", leader.id, " sends node ", follower, " its snapshot at index ",
                   transfer.index));
}

void SimulatedCluster::OnSnapshotResponse(SimNode& node, const RaftMessage& message) {
  if (node.process == nullptr) return;
  Process& p = *node.process;
  RaftNode& raft = *p.raft;
  const auto& resp = std::get<InstallSnapshotResponse>(message.payload);
  auto it = p.transfers.find(message.from);
  // Answers to transfers that were given up, or that belong to an earlier leadership, or
  // duplicates of an answer already handled, change nothing.
  if (raft.role() != Role::kLeader || it == p.transfers.end() || it->second.term != raft.term() ||
      it->second.index != resp.last_included_index()) {
    return;
  }
  p.transfers.erase(it);
  raft.ReportSnapshot(message.from, !resp.rejected());
  ProcessReady(node);
}

// ---------------------------------------------------------------------------
// Transfer: follower side

void SimulatedCluster::OnInstallSnapshot(SimNode& node, const RaftMessage& message) {
  const auto& req = std::get<InstallSnapshotRequest>(message.payload);
  const SnapshotMetadata& metadata = req.metadata();
  RaftNode& raft = *node.process->raft;
  bool accepted = true;
  if (req.term() != raft.term() || raft.role() == Role::kLeader) {
    // Only the leader of this node's own term may replace its state. A node behind in term
    // learns the new one from the next heartbeat, and the leader then tries again.
    ++snapshots_.refused;
    accepted = false;
  } else if (metadata.last_included_index() <= raft.commit_index()) {
    // A duplicate, or overtaken by the log: this node already has everything it covers.
    ++snapshots_.stale;
  } else {
    const std::string& data = req.chunk().data();
    std::optional<std::vector<Entry>> state = DecodeState(data);
    std::string problem = !state.has_value()               ? "does not decode"
                          : metadata.size() != data.size() ? "has the wrong size"
                                                           : StateMismatch(metadata, *state);
    if (req.chunk().offset() != 0 || !req.chunk().done()) problem = "is not one whole chunk";
    if (!problem.empty()) {
      Fail(absl::StrCat("node ", message.from, " sent node ", node.id, " a snapshot at index ",
                        metadata.last_included_index(), " that ", problem));
      return;
    }
    if (!InstallSnapshot(node, metadata, std::move(*state))) return;
  }
  InstallSnapshotResponse resp;
  resp.set_term(node.process->raft->term());
  resp.set_follower_id(node.id);
  resp.set_last_included_index(metadata.last_included_index());
  resp.set_next_offset(req.chunk().data().size());
  resp.set_done(true);
  resp.set_rejected(!accepted);
  network_.Send(RaftMessage::Make(node.id, message.from, std::move(resp)), now_);
}

bool SimulatedCluster::InstallSnapshot(SimNode& node, const SnapshotMetadata& metadata,
                                       std::vector<Entry> state) {
  const uint64_t index = metadata.last_included_index();
  const size_t applied_before = node.applied.size();
  // State machine and stored snapshot are replaced together (no crash point in between):
  // the snapshot's state is the node's applied prefix from now on.
  node.snapshot = StoredSnapshot{metadata, state};
  node.applied = std::move(state);
  if (options_.durable_state_machine) {
    absl::Status s = node.process->state->SetLastApplied(index);
    if (!s.ok()) {
      Fail(absl::StrCat("node ", node.id, " SetLastApplied: ", s.ToString()));
      return false;
    }
  }
  checker_.OnInstall(node.id, node.process->raft->term(), node.applied);
  ++snapshots_.installed;
  Trace(kTraceSnapshotInstalled);
  Trace(static_cast<uint64_t>(node.id));
  Trace(index);
  Log(absl::StrCat("  node ", node.id, " installed a snapshot at index ", index));
  if (CrashHere(node, CrashPoint::kAfterSnapshotInstall)) return false;

  absl::Status s = node.process->raft->RestoreSnapshot(metadata);
  if (!s.ok()) {
    Fail(absl::StrCat("node ", node.id, " RestoreSnapshot(", index, "): ", s.ToString()));
    return false;
  }
  if (CrashHere(node, CrashPoint::kAfterRestoreSnapshot)) return false;
  ProcessReady(node);
  if (node.process == nullptr) return false;
  // The clients learn the fate of this instance's proposals the snapshot brought in (after
  // the Ready reported those it dropped).
  for (size_t i = applied_before; i < index; ++i) {
    const std::string problem = tracker_.OnApplied(node.id, node.incarnation, node.applied[i]);
    if (!problem.empty()) Fail(problem);
  }
  return true;
}

}  // namespace raft
}  // namespace resdb
