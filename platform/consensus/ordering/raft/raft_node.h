#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_RAFT_NODE_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_RAFT_NODE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "platform/consensus/ordering/raft/in_memory_log.h"
#include "platform/consensus/ordering/raft/membership.h"
#include "platform/consensus/ordering/raft/progress.h"
#include "platform/consensus/ordering/raft/proto/raft.pb.h"
#include "platform/consensus/ordering/raft/raft_message_type.h"
#include "platform/consensus/ordering/raft/read_only.h"

namespace resdb {
namespace raft {

struct RaftNodeOptions {
  int64_t id = 0;
  // The initial membership, in effect until the log or a snapshot says otherwise: voting
  // members (normally including `id`) and learners. Ids are non-zero; 0 means "nobody". A node
  // that joins a running cluster starts with none and learns the membership from its leader.
  std::vector<int64_t> voters;
  std::vector<int64_t> learners;
  // The election timeout is drawn uniformly from [min, max] ticks on every role change.
  // A follower that heard from its leader within `election_ticks_min` ticks refuses to
  // vote for anyone else (leader lease); every `election_ticks_min` ticks a leader checks
  // that it heard from a majority since the previous check and steps down if not
  // (CheckQuorum).
  int election_ticks_min = 10;
  int election_ticks_max = 20;
  int heartbeat_ticks = 1;
  // Limits of one AppendEntries (at least one entry is always sent).
  uint64_t max_entries_per_append = 512;
  uint64_t max_bytes_per_append = 1 << 20;
  // Per follower: appends sent and not yet acknowledged, by count and by bytes (0: no
  // byte limit).
  int max_inflight_appends = 64;
  uint64_t max_inflight_bytes = 16 << 20;
  // Propose() refuses with ResourceExhausted while the leader's uncommitted entries hold
  // more than this many bytes (0: no limit). A single proposal is always accepted when
  // nothing is uncommitted.
  uint64_t max_uncommitted_bytes = 64 << 20;
  bool pre_vote = true;
  bool check_quorum = true;
  // Seeds the election-timeout jitter; mixed with `id`, so nodes sharing a seed still draw
  // different timeouts.
  uint64_t seed = 1;
  // Test seam, for the simulator's self-check only (vote_fault_test): grants votes to
  // candidates whose log is behind, a deliberately broken rule under which a leader can lack
  // committed entries. No config reaches it.
  bool testing_vote_ignores_log = false;
};

// What the node was when it stopped, read back from the durable components at restart.
struct RaftRestoredState {
  HardState hard_state;
  SnapshotMetadata snapshot;
  // Entries after snapshot.last_included_index(), in index order.
  std::vector<Entry> entries;
  // The membership in effect at `membership_index` (the latest snapshot's), which CONFIG
  // entries at or below that index do not override. Unset: the snapshot's membership if it
  // has one, else the options' initial membership.
  std::optional<Membership> membership;
  uint64_t membership_index = 0;
};

// A message between nodes: the transport sends `payload` serialized as the data of a
// Request with `user_type`, and hands RaftNode::Step the parsed message with `from` set to
// the authenticated sender.
struct RaftMessage {
  using Payload =
      std::variant<std::monostate, AppendEntriesRequest, AppendEntriesResponse, RequestVoteRequest,
                   RequestVoteResponse, InstallSnapshotRequest, InstallSnapshotResponse, TimeoutNow,
                   ReadIndexRequest, ReadIndexResponse>;

  int64_t from = 0;
  int64_t to = 0;
  int user_type = 0;  // RAFT_* from raft_message_type.h, always matching `payload`
  Payload payload;

  // A message whose user_type is derived from the payload's type.
  template <typename T>
  static RaftMessage Make(int64_t from, int64_t to, T payload) {
    RaftMessage m;
    m.from = from;
    m.to = to;
    m.payload = std::move(payload);
    m.user_type = UserTypeOf(m.payload);
    return m;
  }

  // The payload as a protobuf message, or nullptr if there is none.
  const google::protobuf::Message* proto() const;
  // The payload serialized; empty if there is none.
  std::string SerializePayload() const;
  // Parses `data` as the payload of `user_type`; InvalidArgument for an unknown type or
  // bytes that do not parse.
  static absl::StatusOr<RaftMessage> Parse(int64_t from, int64_t to, int user_type,
                                           absl::string_view data);
  // RAFT_* for a payload's type; 0 for none.
  static int UserTypeOf(const Payload& payload);
};

struct ReadState {
  uint64_t context = 0;  // as given to ReadIndex()
  uint64_t index = 0;    // the read may be served once the applied index reaches this
};

// Work for the application, to be done in this order, then reported with Advance().
struct Ready {
  // Persist term and vote before sending any message. Persist the commit index only after
  // the log changes below are durable: recorded first, a crash in between would restart the
  // node with a commit index over the stale entries this Ready replaces. last_applied is the
  // applied index as of the previous Advance(); a change of it alone produces no HardState.
  std::optional<HardState> hard_state;
  // Set once after RestoreSnapshot(): the log now starts after this snapshot. Make the
  // durable log match first: record (last_included_index, last_included_term) as its
  // compaction boundary and drop all entries <= that index, or all entries if the durable
  // log does not hold that index with that term (RaftLog::CompactTo does exactly this).
  // The snapshot's data is already in the state machine; the hard_state of this Ready
  // carries the commit and applied index it brought. truncate_from is then 0 or above the
  // snapshot's index.
  std::optional<SnapshotMetadata> snapshot;
  // If non-zero, delete durable log entries >= truncate_from ...
  uint64_t truncate_from = 0;
  // ... then append these to the durable log.
  std::vector<Entry> entries;
  // Then send.
  std::vector<RaftMessage> messages;
  // Apply in order: contiguous, in index order, continuing the previous Ready's.
  std::vector<Entry> committed_entries;
  // Linearizable reads that may be served once applied >= index.
  std::vector<ReadState> read_states;
  // Contexts of ReadIndex() calls that will never produce a ReadState (leadership was
  // lost or the leader refused); the caller should retry them.
  std::vector<uint64_t> dropped_reads;
  // (proposal id, reason) of accepted proposals whose entry this node's log no longer
  // holds because a new leader overwrote it. The proposal id is the index Propose()
  // returned. The outcome is unknown, not failed: another node may still hold the entry
  // and a later leader may commit it (Raft paper, figure 8), so a client must retry with
  // the same request id and rely on idempotent apply. Proposals of a leader that steps
  // down are reported only if overwritten.
  std::vector<std::pair<uint64_t, std::string>> dropped_proposals;
};

enum class Role { kFollower, kPreCandidate, kCandidate, kLeader };
const char* RoleName(Role role);

// A deterministic RAFT state machine in the style of etcd's raft package: no threads, no
// clock, no I/O. The caller feeds it ticks, messages and proposals, and drains Ready.
// Not thread-safe: the caller serializes all calls.
// Terms above this are refused in messages: a term near 2^64 would wrap at the next election.
// At one election per millisecond it is never reached.
inline constexpr uint64_t kMaxTerm = uint64_t{1} << 62;

class RaftNode {
 public:
  // Starts as a follower of no leader in the restored term, keeping the restored vote.
  // The log is the restored entries up to their first gap; commit is clamped to the log;
  // entries after max(hard_state.last_applied, snapshot index) are applied again.
  explicit RaftNode(RaftNodeOptions options, RaftRestoredState restored = {});

  // Advances logical time by one tick: followers and candidates count toward an election
  // timeout, leaders toward the next heartbeat and CheckQuorum.
  void Tick();

  // Handles a message from a peer (`from` must be set). Stale messages are ignored and
  // return OK; a message without a sender, from this node, or whose payload does not match
  // its user_type returns InvalidArgument and changes nothing. Messages from nodes outside
  // the membership are handled: a joining node hears from a leader it does not know yet, and
  // a new member may campaign before every voter has its configuration (Raft thesis 4.1).
  // Only voters' votes and acknowledgements count.
  //
  // Snapshot transfer is not RaftNode's business: the caller streams the chunks, checks
  // and stores them, and reports the outcome with RestoreSnapshot() / ReportSnapshot().
  // InstallSnapshot messages are meant for the caller; one that reaches Step still counts
  // as a sign of a live leader, and a follower answers it with a rejection, so that a
  // leader never waits for an install nobody performs.
  absl::Status Step(const RaftMessage& message);

  // Starts an election now, as if the election timeout had elapsed (with PreVote, a
  // pre-election first). FailedPrecondition if this node is the leader or not a voter.
  absl::Status Campaign();

  // Leader only: appends `data` as a NORMAL entry and returns its index, which is also the
  // proposal's id in Ready::dropped_proposals. FailedPrecondition("not leader") on other
  // nodes (leader_id() is a hint, 0 if unknown) and while a leadership transfer runs;
  // ResourceExhausted while too many bytes are uncommitted.
  absl::StatusOr<uint64_t> Propose(std::string data);

  // Linearizable read. The leader confirms its leadership with a heartbeat round and then
  // emits ReadState{context, its commit index when the read arrived}; a leader that has
  // not yet committed an entry of its term defers the read until it has. A follower
  // forwards the read to its leader and emits the ReadState when the answer comes.
  // FailedPrecondition if no leader is known.
  absl::Status ReadIndex(uint64_t context);

  // Leader only: brings `to` up to date, then sends it TimeoutNow so that it starts an
  // election at once. Proposals are refused meanwhile; the transfer is abandoned after
  // election_ticks_min ticks. FailedPrecondition if not leader, InvalidArgument if `to` is
  // not another voter.
  absl::Status TransferLeadership(int64_t to);

  // Leader only: proposes a CONFIG entry changing one server (Raft thesis 4.1: one change at
  // a time keeps any two majorities of consecutive configurations overlapping) and returns
  // its index. The new configuration is in effect from the moment it is in the log. A leader
  // that removed itself keeps replicating until the change commits, without counting itself,
  // then hands leadership to its most up-to-date voter and steps down. A new voter should
  // first catch up as a learner: until it does, it is a voter the majority must wait for.
  // Errors: FailedPrecondition if not leader, while a transfer runs, before this leader
  // committed an entry of its term, or while an earlier change is not committed; otherwise
  // those of ChangeMembership (AlreadyExists when the change is already in effect).
  absl::StatusOr<uint64_t> ProposeMembership(MembershipChange change, int64_t node,
                                             const std::string& address);

  bool HasReady() const;
  // Everything new since the last GetReady().
  Ready GetReady();
  // The caller has persisted, sent and applied `ready`.
  void Advance(const Ready& ready);

  // After the application took a snapshot at `index`: drops entries <= index from the
  // in-memory log. FailedPrecondition if index > applied_index(); OK and no change if
  // index is already compacted.
  absl::Status CompactTo(uint64_t index);

  // Followers whose next entries were compacted away; they need a snapshot.
  std::vector<int64_t> FollowersNeedingSnapshot() const;

  // Leader: the caller finished sending its snapshot to `follower` (`success`) or gave up.
  // While a snapshot is pending the leader sends the follower no entries, so this is what
  // resumes replication. After a success the follower is probed right past the snapshot;
  // after a failure it is probed from its last known match, which finds the entries
  // compacted again and puts it back among FollowersNeedingSnapshot(), for a new attempt
  // with the then newest snapshot. Either way the next append waits for the follower's
  // next answer (the acknowledgement RestoreSnapshot() sends, or a heartbeat's), so that a
  // failed transfer is retried at most once per heartbeat. No-op if this node is not the
  // leader, `follower` is unknown, or no snapshot is pending for it (e.g. the follower's
  // acknowledgement already moved it on).
  void ReportSnapshot(int64_t follower, bool success);

  // Not on the leader (FailedPrecondition): the caller has installed the data of a complete
  // snapshot covering the log up to `metadata` into the state machine, atomically. The
  // node's log must now agree with that state. Entries after the snapshot are kept if the
  // log holds the snapshot's index with its term: by Log Matching they extend the
  // committed prefix and may yet be committed. Otherwise the log conflicts with committed
  // state there, so all of it is dropped and the log restarts after the snapshot. Commit and
  // applied index become the snapshot's index; the next Ready carries `snapshot` and the HardState
  // to persist. A candidate abandons its campaign. A follower acknowledges the new match to its
  // leader at once rather than on the next heartbeat, so that replication resumes without waiting.
  // A snapshot at or below the commit index is stale: OK, nothing changes. InvalidArgument,
  // and nothing changes, for a snapshot whose term is above the node's term.
  absl::Status RestoreSnapshot(const SnapshotMetadata& metadata);

  int64_t id() const { return id_; }
  int64_t leader_id() const { return lead_; }
  uint64_t term() const { return term_; }
  int64_t voted_for() const { return vote_; }
  Role role() const { return role_; }
  uint64_t commit_index() const { return commit_; }
  uint64_t applied_index() const { return applied_; }
  uint64_t first_index() const { return log_.first_index(); }
  uint64_t last_index() const { return log_.last_index(); }
  uint64_t last_term() const { return log_.last_term(); }
  int64_t lead_transferee() const { return lead_transferee_; }
  // The configuration in effect and the index of the entry that set it (committed once
  // commit_index() reaches it).
  const Membership& membership() const { return membership_.Current(); }
  uint64_t membership_index() const { return membership_.CurrentIndex(); }
  // Changes whenever membership() may have changed, so a caller can notice cheaply.
  uint64_t membership_version() const { return membership_version_; }
  // The configuration in effect at `index`, for a snapshot taken there. Exact from the later
  // of first_index() - 1 and the index of the membership restored at start (a snapshot's);
  // below that it answers the configuration as of that point.
  const Membership& MembershipAt(uint64_t index) const { return membership_.At(index); }
  bool IsLearner(int64_t id) const;
  // Term of the entry at `index`, if the log still holds it.
  std::optional<uint64_t> TermAt(uint64_t index) const { return log_.Term(index); }
  // Leader only: the replication state of `follower` (nullptr otherwise).
  const Progress* progress(int64_t follower) const;

 private:
  enum class CampaignType { kPreElection, kElection, kTransfer };

  void BecomeFollower(uint64_t term, int64_t lead);
  void BecomePreCandidate();
  void BecomeCandidate();
  void BecomeLeader();
  void Reset(uint64_t term);
  void ResetRandomizedElectionTimeout();

  void TickElection();
  void TickHeartbeat();

  absl::Status StepLeader(const RaftMessage& m);
  absl::Status StepCandidate(const RaftMessage& m);
  absl::Status StepFollower(const RaftMessage& m);

  void CampaignAs(CampaignType type);
  void HandleRequestVote(const RaftMessage& m, const RequestVoteRequest& req);
  void HandleVoteResponse(const RaftMessage& m, const RequestVoteResponse& resp);
  void HandleAppendEntries(const RaftMessage& m, const AppendEntriesRequest& req);
  void HandleAppendResponse(const RaftMessage& m, const AppendEntriesResponse& resp);
  void HandleReadIndexRequest(int64_t from, uint64_t context);
  void HandleReadIndexResponse(const ReadIndexResponse& resp);

  // Leader replication.
  void AppendEntry(Entry::Type type, std::string data);
  // Sends `to` whatever it can take now; with `send_if_empty`, an empty append (to carry
  // the commit index) when there are no entries to send. Returns true if anything was sent.
  bool SendAppend(int64_t to, bool send_if_empty);
  // Sends every follower what it can take now. Appends are sent here (from GetReady) rather
  // than per proposal, so proposals made between two GetReady calls share AppendEntries.
  void FlushAppends();
  bool HasAppendToSend() const;
  void BroadcastHeartbeat();
  void SendHeartbeat(int64_t to, uint64_t read_round);
  bool MaybeCommit();
  bool CommittedEntryInCurrentTerm() const;
  void ReleaseReads(const std::vector<ReadRequest>& reads);
  void StartReadRound(int64_t from, uint64_t context);
  void ReleaseDeferredReads();
  void SendTimeoutNow(int64_t to);
  void AbortLeaderTransfer();
  bool QuorumActive();
  // After the commit of a configuration without this leader.
  void StepDownIfRemoved();

  // All roles.
  // Log changes that may carry CONFIG entries.
  void AppendToLog(Entry entry);
  void TruncateLogFrom(uint64_t index);
  // Updates voters_ and learners_ from membership_ and, on a leader, the progress of members
  // that came or went.
  void RefreshMembership();
  void CommitTo(uint64_t index);
  void Send(RaftMessage message);
  bool IsVoter(int64_t id) const;
  bool Promotable() const { return IsVoter(id_); }
  HardState CurrentHardState() const;
  void DropReads(const std::vector<ReadRequest>& reads);
  void DropForwardedReads();
  void DropOwnProposalsFrom(uint64_t index, const std::string& reason);

  const RaftNodeOptions options_;
  const int64_t id_;
  MembershipHistory membership_;
  // Cached from membership_.Current().
  std::vector<int64_t> voters_;
  std::vector<int64_t> learners_;
  uint64_t membership_version_ = 0;
  std::mt19937_64 rng_;

  uint64_t term_ = 0;
  int64_t vote_ = 0;
  int64_t lead_ = 0;
  Role role_ = Role::kFollower;
  InMemoryLog log_;
  uint64_t commit_ = 0;
  uint64_t applied_ = 0;
  // Committed entries <= apply_emitted_ have been handed out in a Ready.
  uint64_t apply_emitted_ = 0;

  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_election_timeout_ = 0;

  std::map<int64_t, bool> votes_;
  std::map<int64_t, Progress> progress_;
  uint64_t next_sequence_ = 1;
  // A read round was opened since the last heartbeat broadcast.
  bool pending_read_heartbeat_ = false;
  int64_t lead_transferee_ = 0;
  uint64_t uncommitted_bytes_ = 0;

  ReadOnly read_only_;
  // Reads received before this leader committed an entry of its term.
  std::vector<ReadRequest> deferred_reads_;
  // Contexts this follower forwarded to the leader and awaits answers for.
  std::vector<uint64_t> forwarded_reads_;
  // Proposals accepted as leader and not yet committed: index -> term.
  std::map<uint64_t, uint64_t> own_proposals_;

  HardState last_hard_state_;
  // Set by RestoreSnapshot() until the next GetReady() hands it out; with
  // `snapshot_dropped_log_`, durable entries after it must go too.
  std::optional<SnapshotMetadata> restored_snapshot_;
  bool snapshot_dropped_log_ = false;
  std::vector<RaftMessage> msgs_;
  std::vector<ReadState> read_states_;
  std::vector<uint64_t> dropped_reads_;
  std::vector<std::pair<uint64_t, std::string>> dropped_proposals_;
};

}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_RAFT_NODE_H_
