#include "platform/consensus/ordering/raft/raft_node.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "platform/consensus/ordering/raft/quorum.h"

namespace resdb {
namespace raft {
namespace {

uint64_t TermOf(const RaftMessage::Payload& payload) {
  return std::visit(
      [](const auto& p) -> uint64_t {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return 0;
        } else {
          return p.term();
        }
      },
      payload);
}

template <typename T>
absl::StatusOr<RaftMessage> ParseAs(int64_t from, int64_t to, absl::string_view data) {
  T proto;
  if (!proto.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
    return absl::InvalidArgumentError(absl::StrCat("cannot parse ", T::descriptor()->name()));
  }
  return RaftMessage::Make(from, to, std::move(proto));
}

Membership OptionsMembership(const RaftNodeOptions& options) {
  Membership m;
  for (int64_t voter : options.voters) {
    if (voter != 0 && !IsVoterOf(m, voter)) m.add_voters(voter);
  }
  for (int64_t learner : options.learners) {
    if (learner != 0 && !IsVoterOf(m, learner) && !IsLearnerOf(m, learner)) {
      m.add_learners(learner);
    }
  }
  std::sort(m.mutable_voters()->begin(), m.mutable_voters()->end());
  std::sort(m.mutable_learners()->begin(), m.mutable_learners()->end());
  return m;
}

// The configuration as of the restored log's start, and the index it is in effect at.
MembershipHistory RestoredMembership(const RaftNodeOptions& options,
                                     const RaftRestoredState& restored) {
  if (restored.membership.has_value()) {
    return MembershipHistory(*restored.membership, restored.membership_index);
  }
  if (restored.snapshot.has_membership()) {
    return MembershipHistory(restored.snapshot.membership(),
                             restored.snapshot.last_included_index());
  }
  return MembershipHistory(OptionsMembership(options), 0);
}

std::optional<Membership> ParseConfig(const Entry& entry) {
  if (entry.type() != Entry::CONFIG) return std::nullopt;
  Membership m;
  if (!m.ParseFromString(entry.data())) return std::nullopt;
  return m;
}

}  // namespace

const char* RoleName(Role role) {
  switch (role) {
    case Role::kFollower:
      return "follower";
    case Role::kPreCandidate:
      return "pre-candidate";
    case Role::kCandidate:
      return "candidate";
    case Role::kLeader:
      return "leader";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------
// RaftMessage

int RaftMessage::UserTypeOf(const Payload& payload) {
  return std::visit(
      [](const auto& p) -> int {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, AppendEntriesRequest>) return RAFT_APPEND_ENTRIES;
        if constexpr (std::is_same_v<T, AppendEntriesResponse>) {
          return RAFT_APPEND_ENTRIES_RESPONSE;
        }
        if constexpr (std::is_same_v<T, RequestVoteRequest>) return RAFT_REQUEST_VOTE;
        if constexpr (std::is_same_v<T, RequestVoteResponse>) {
          return RAFT_REQUEST_VOTE_RESPONSE;
        }
        if constexpr (std::is_same_v<T, InstallSnapshotRequest>) {
          return RAFT_INSTALL_SNAPSHOT;
        }
        if constexpr (std::is_same_v<T, InstallSnapshotResponse>) {
          return RAFT_INSTALL_SNAPSHOT_RESPONSE;
        }
        if constexpr (std::is_same_v<T, TimeoutNow>) return RAFT_TIMEOUT_NOW;
        if constexpr (std::is_same_v<T, ReadIndexRequest>) return RAFT_READ_INDEX;
        if constexpr (std::is_same_v<T, ReadIndexResponse>) {
          return RAFT_READ_INDEX_RESPONSE;
        }
        return 0;
      },
      payload);
}

const google::protobuf::Message* RaftMessage::proto() const {
  return std::visit(
      [](const auto& p) -> const google::protobuf::Message* {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return nullptr;
        } else {
          return &p;
        }
      },
      payload);
}

std::string RaftMessage::SerializePayload() const {
  const google::protobuf::Message* message = proto();
  return message == nullptr ? std::string() : message->SerializeAsString();
}

absl::StatusOr<RaftMessage> RaftMessage::Parse(int64_t from, int64_t to, int user_type,
                                               absl::string_view data) {
  switch (user_type) {
    case RAFT_APPEND_ENTRIES:
      return ParseAs<AppendEntriesRequest>(from, to, data);
    case RAFT_APPEND_ENTRIES_RESPONSE:
      return ParseAs<AppendEntriesResponse>(from, to, data);
    case RAFT_REQUEST_VOTE:
      return ParseAs<RequestVoteRequest>(from, to, data);
    case RAFT_REQUEST_VOTE_RESPONSE:
      return ParseAs<RequestVoteResponse>(from, to, data);
    case RAFT_INSTALL_SNAPSHOT:
      return ParseAs<InstallSnapshotRequest>(from, to, data);
    case RAFT_INSTALL_SNAPSHOT_RESPONSE:
      return ParseAs<InstallSnapshotResponse>(from, to, data);
    case RAFT_TIMEOUT_NOW:
      return ParseAs<TimeoutNow>(from, to, data);
    case RAFT_READ_INDEX:
      return ParseAs<ReadIndexRequest>(from, to, data);
    case RAFT_READ_INDEX_RESPONSE:
      return ParseAs<ReadIndexResponse>(from, to, data);
    default:
      return absl::InvalidArgumentError(absl::StrCat("unknown raft user_type ", user_type));
  }
}

// ---------------------------------------------------------------------------
// Construction and role changes

RaftNode::RaftNode(RaftNodeOptions options, RaftRestoredState restored)
    : options_(std::move(options)),
      id_(options_.id),
      membership_(RestoredMembership(options_, restored)),
      rng_(options_.seed ^ (static_cast<uint64_t>(options_.id) * 0x9E3779B97F4A7C15ULL)) {
  const SnapshotMetadata& snapshot = restored.snapshot;
  log_.Restore(snapshot.last_included_index(), snapshot.last_included_term(),
               std::move(restored.entries));
  for (uint64_t i = log_.first_index(); i <= log_.last_index(); ++i) {
    if (std::optional<Membership> config = ParseConfig(log_.At(i))) {
      membership_.Append(i, std::move(*config));
    }
  }
  RefreshMembership();
  const HardState& hs = restored.hard_state;
  term_ = hs.current_term();
  vote_ = hs.voted_for();
  commit_ = std::min(std::max(hs.commit_index(), log_.snapshot_index()), log_.last_index());
  applied_ = std::min(std::max(hs.last_applied(), log_.snapshot_index()), commit_);
  apply_emitted_ = applied_;
  last_hard_state_ = hs;
  BecomeFollower(term_, 0);
}

void RaftNode::Reset(uint64_t term) {
  // Reads awaiting this node's leadership or its leader's answer cannot complete now.
  DropReads(read_only_.Reset());
  DropReads(deferred_reads_);
  deferred_reads_.clear();
  DropForwardedReads();
  pending_read_heartbeat_ = false;

  if (term_ != term) {
    term_ = term;
    vote_ = 0;
  }
  lead_ = 0;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  ResetRandomizedElectionTimeout();
  AbortLeaderTransfer();
  votes_.clear();
  progress_.clear();
  uncommitted_bytes_ = 0;
}

void RaftNode::ResetRandomizedElectionTimeout() {
  const int lo = std::max(1, options_.election_ticks_min);
  const int hi = std::max(lo, options_.election_ticks_max);
  randomized_election_timeout_ = std::uniform_int_distribution<int>(lo, hi)(rng_);
}

void RaftNode::BecomeFollower(uint64_t term, int64_t lead) {
  Reset(term);
  lead_ = lead;
  role_ = Role::kFollower;
}

void RaftNode::BecomePreCandidate() {
  // A pre-candidate changes neither its term nor its vote (Raft thesis 9.6).
  DropForwardedReads();
  votes_.clear();
  lead_ = 0;
  election_elapsed_ = 0;
  ResetRandomizedElectionTimeout();
  role_ = Role::kPreCandidate;
}

void RaftNode::BecomeCandidate() {
  Reset(term_ + 1);
  vote_ = id_;
  role_ = Role::kCandidate;
}

void RaftNode::BecomeLeader() {
  Reset(term_);
  lead_ = id_;
  role_ = Role::kLeader;
  RefreshMembership();
  for (uint64_t i = commit_ + 1; i <= log_.last_index(); ++i) {
    uncommitted_bytes_ += log_.At(i).data().size();
  }
  // A leader may only count replicas for entries of its own term (Raft 5.4.2), so it
  // starts its term with an entry of that term.
  AppendEntry(Entry::NOOP, std::string());
  MaybeCommit();
}

// ---------------------------------------------------------------------------
// Timers

void RaftNode::Tick() {
  if (role_ == Role::kLeader) {
    TickHeartbeat();
  } else {
    TickElection();
  }
}

void RaftNode::TickElection() {
  ++election_elapsed_;
  if (Promotable() && election_elapsed_ >= randomized_election_timeout_) {
    election_elapsed_ = 0;
    CampaignAs(options_.pre_vote ? CampaignType::kPreElection : CampaignType::kElection);
  }
}

void RaftNode::TickHeartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= options_.election_ticks_min) {
    election_elapsed_ = 0;
    if (options_.check_quorum && !QuorumActive()) {
      // CheckQuorum: without a majority in contact this leader may be deposed unknowingly.
      BecomeFollower(term_, 0);
      return;
    }
    if (lead_transferee_ != 0) AbortLeaderTransfer();
  }
  if (heartbeat_elapsed_ >= std::max(1, options_.heartbeat_ticks)) {
    heartbeat_elapsed_ = 0;
    BroadcastHeartbeat();
  }
}

bool RaftNode::QuorumActive() {
  size_t active = IsVoter(id_) ? 1 : 0;
  for (auto& [peer, pr] : progress_) {
    if (pr.recent_active && IsVoter(peer)) ++active;
    pr.recent_active = false;
  }
  return active >= MajoritySize(voters_.size());
}

// ---------------------------------------------------------------------------
// Step

absl::Status RaftNode::Step(const RaftMessage& m) {
  if (m.from == 0 || m.from == id_) {
    return absl::InvalidArgumentError(absl::StrCat("message from unknown node ", m.from));
  }
  const int payload_type = RaftMessage::UserTypeOf(m.payload);
  if (payload_type == 0 || payload_type != m.user_type) {
    return absl::InvalidArgumentError(
        absl::StrCat("user_type ", m.user_type, " does not match the payload"));
  }
  const uint64_t mterm = TermOf(m.payload);
  if (mterm > kMaxTerm) {
    // Taken up, such a term would wrap to 0 at the next election and undo every vote.
    return absl::InvalidArgumentError(
        absl::StrCat("term ", mterm, " is beyond the largest term ", kMaxTerm));
  }
  const auto* vote_req = std::get_if<RequestVoteRequest>(&m.payload);
  const auto* vote_resp = std::get_if<RequestVoteResponse>(&m.payload);

  if (mterm > term_) {
    if (vote_req != nullptr) {
      // Leader lease: a node that heard from a leader within the minimum election timeout
      // does not help depose it (Raft thesis 4.2.3), unless the leader itself asked.
      const bool lease_applies = options_.check_quorum || vote_req->pre_vote();
      const bool in_lease = lead_ != 0 && election_elapsed_ < options_.election_ticks_min;
      if (lease_applies && in_lease && !vote_req->leadership_transfer()) {
        return absl::OkStatus();
      }
    }
    if (vote_req != nullptr && vote_req->pre_vote()) {
      // A pre-vote never changes anyone's term.
    } else if (vote_resp != nullptr && vote_resp->pre_vote() && vote_resp->vote_granted()) {
      // Granted pre-votes carry the term the pre-candidate would campaign in.
    } else {
      const bool from_leader = std::holds_alternative<AppendEntriesRequest>(m.payload) ||
                               std::holds_alternative<InstallSnapshotRequest>(m.payload) ||
                               std::holds_alternative<TimeoutNow>(m.payload);
      BecomeFollower(mterm, from_leader ? m.from : 0);
    }
  } else if (mterm < term_) {
    if (std::holds_alternative<AppendEntriesRequest>(m.payload)) {
      // A deposed leader learns the new term from this answer. Without it, a leader whose
      // only path to the newer term is this node would never step down: with PreVote and
      // CheckQuorum off, a node left in an old configuration campaigns only among old
      // members, and the current leader's appends to it are its only contact.
      AppendEntriesResponse resp;
      resp.set_term(term_);
      resp.set_follower_id(id_);
      resp.set_success(false);
      resp.set_last_log_index(log_.last_index());
      Send(RaftMessage::Make(id_, m.from, std::move(resp)));
    } else if (vote_req != nullptr && vote_req->pre_vote()) {
      RequestVoteResponse resp;
      resp.set_term(term_);
      resp.set_voter_id(id_);
      resp.set_vote_granted(false);
      resp.set_pre_vote(true);
      Send(RaftMessage::Make(id_, m.from, std::move(resp)));
    }
    return absl::OkStatus();
  }

  if (vote_req != nullptr) {
    HandleRequestVote(m, *vote_req);
    return absl::OkStatus();
  }
  switch (role_) {
    case Role::kLeader:
      return StepLeader(m);
    case Role::kPreCandidate:
    case Role::kCandidate:
      return StepCandidate(m);
    case Role::kFollower:
      return StepFollower(m);
  }
  return absl::OkStatus();
}

void RaftNode::HandleRequestVote(const RaftMessage& m, const RequestVoteRequest& req) {
  // Grant if this node has not voted for someone else in this term (or the request is a
  // pre-vote for a later term) and the candidate's log is at least as up to date.
  const bool can_vote =
      vote_ == m.from || (vote_ == 0 && lead_ == 0) || (req.pre_vote() && req.term() > term_);
  const bool log_ok = options_.testing_vote_ignores_log ||
                      log_.IsUpToDate(req.last_log_index(), req.last_log_term());
  RequestVoteResponse resp;
  resp.set_voter_id(id_);
  resp.set_pre_vote(req.pre_vote());
  if (can_vote && log_ok) {
    resp.set_term(req.term());
    resp.set_vote_granted(true);
    if (!req.pre_vote()) {
      // Persisted through Ready::hard_state before this response is sent.
      election_elapsed_ = 0;
      vote_ = m.from;
    }
  } else {
    resp.set_term(term_);
    resp.set_vote_granted(false);
  }
  Send(RaftMessage::Make(id_, m.from, std::move(resp)));
}

absl::Status RaftNode::StepLeader(const RaftMessage& m) {
  if (const auto* resp = std::get_if<AppendEntriesResponse>(&m.payload)) {
    HandleAppendResponse(m, *resp);
  } else if (const auto* req = std::get_if<ReadIndexRequest>(&m.payload)) {
    auto it = progress_.find(m.from);
    if (it != progress_.end()) it->second.recent_active = true;
    HandleReadIndexRequest(m.from, req->context());
  } else if (std::holds_alternative<InstallSnapshotResponse>(m.payload)) {
    auto it = progress_.find(m.from);
    if (it != progress_.end()) it->second.recent_active = true;
  }
  // Vote answers after winning, and anything else at this term, need nothing.
  return absl::OkStatus();
}

absl::Status RaftNode::StepCandidate(const RaftMessage& m) {
  if (const auto* req = std::get_if<AppendEntriesRequest>(&m.payload)) {
    // Someone won the election of this term.
    BecomeFollower(term_, m.from);
    HandleAppendEntries(m, *req);
  } else if (std::holds_alternative<InstallSnapshotRequest>(m.payload)) {
    BecomeFollower(term_, m.from);
    return StepFollower(m);
  } else if (const auto* resp = std::get_if<RequestVoteResponse>(&m.payload)) {
    HandleVoteResponse(m, *resp);
  } else if (const auto* req = std::get_if<ReadIndexRequest>(&m.payload)) {
    ReadIndexResponse resp;
    resp.set_term(term_);
    resp.set_context(req->context());
    resp.set_success(false);
    Send(RaftMessage::Make(id_, m.from, std::move(resp)));
  }
  return absl::OkStatus();
}

absl::Status RaftNode::StepFollower(const RaftMessage& m) {
  if (const auto* req = std::get_if<AppendEntriesRequest>(&m.payload)) {
    election_elapsed_ = 0;
    lead_ = m.from;
    HandleAppendEntries(m, *req);
  } else if (const auto* req = std::get_if<InstallSnapshotRequest>(&m.payload)) {
    election_elapsed_ = 0;
    lead_ = m.from;
    // The caller transfers and installs snapshots (see RestoreSnapshot); a request that
    // reaches this node was not handled there, so refuse it rather than leave the leader
    // waiting.
    InstallSnapshotResponse resp;
    resp.set_term(term_);
    resp.set_follower_id(id_);
    resp.set_last_included_index(req->metadata().last_included_index());
    resp.set_rejected(true);
    Send(RaftMessage::Make(id_, m.from, std::move(resp)));
  } else if (std::holds_alternative<TimeoutNow>(m.payload)) {
    // Leadership transfer (Raft thesis 3.10): campaign at once, skipping the pre-vote.
    if (Promotable()) CampaignAs(CampaignType::kTransfer);
  } else if (const auto* req = std::get_if<ReadIndexRequest>(&m.payload)) {
    ReadIndexResponse resp;
    resp.set_term(term_);
    resp.set_context(req->context());
    resp.set_success(false);
    resp.set_leader_id(lead_);
    Send(RaftMessage::Make(id_, m.from, std::move(resp)));
  } else if (const auto* resp = std::get_if<ReadIndexResponse>(&m.payload)) {
    HandleReadIndexResponse(*resp);
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Elections

absl::Status RaftNode::Campaign() {
  if (role_ == Role::kLeader) return absl::FailedPreconditionError("already leader");
  if (!Promotable()) return absl::FailedPreconditionError("not a voter");
  CampaignAs(options_.pre_vote ? CampaignType::kPreElection : CampaignType::kElection);
  return absl::OkStatus();
}

void RaftNode::CampaignAs(CampaignType type) {
  if (!Promotable()) return;
  uint64_t vote_term;
  if (type == CampaignType::kPreElection) {
    BecomePreCandidate();
    vote_term = term_ + 1;
  } else {
    BecomeCandidate();
    vote_term = term_;
  }
  votes_[id_] = true;
  if (TallyVotes(voters_, votes_) == VoteResult::kWon) {
    // A single-voter cluster wins at once.
    if (type == CampaignType::kPreElection) {
      CampaignAs(CampaignType::kElection);
    } else {
      BecomeLeader();
    }
    return;
  }
  for (int64_t voter : voters_) {
    if (voter == id_) continue;
    RequestVoteRequest req;
    req.set_term(vote_term);
    req.set_candidate_id(id_);
    req.set_last_log_index(log_.last_index());
    req.set_last_log_term(log_.last_term());
    req.set_pre_vote(type == CampaignType::kPreElection);
    req.set_leadership_transfer(type == CampaignType::kTransfer);
    Send(RaftMessage::Make(id_, voter, std::move(req)));
  }
}

void RaftNode::HandleVoteResponse(const RaftMessage& m, const RequestVoteResponse& resp) {
  const bool pre = role_ == Role::kPreCandidate;
  if (resp.pre_vote() != pre) return;  // an answer to an earlier campaign
  votes_.emplace(m.from, resp.vote_granted());
  switch (TallyVotes(voters_, votes_)) {
    case VoteResult::kWon:
      if (pre) {
        CampaignAs(CampaignType::kElection);
      } else {
        BecomeLeader();
      }
      break;
    case VoteResult::kLost:
      BecomeFollower(term_, 0);
      break;
    case VoteResult::kPending:
      break;
  }
}

// ---------------------------------------------------------------------------
// Log replication: follower side

void RaftNode::HandleAppendEntries(const RaftMessage& m, const AppendEntriesRequest& req) {
  AppendEntriesResponse resp;
  resp.set_term(term_);
  resp.set_follower_id(id_);
  resp.set_sequence(req.sequence());
  resp.set_read_context(req.read_context());

  // Malformed unless the entries continue prev_log_index, and their terms never decrease from
  // prev_log_term and stay within the leader's term, as in any leader's log. Anything else
  // would poison this log: the durable log refuses such entries, and a later leader's own
  // entries would fall below their terms.
  uint64_t previous_term = req.prev_log_term();
  for (int i = 0; i < req.entries_size(); ++i) {
    const Entry& entry = req.entries(i);
    if (entry.index() != req.prev_log_index() + 1 + i) return;
    if (entry.term() < previous_term || entry.term() > req.term()) return;
    previous_term = entry.term();
  }

  uint64_t prev = req.prev_log_index();
  uint64_t prev_term = req.prev_log_term();
  int skip = 0;
  if (prev < commit_) {
    // Entries up to commit_ are committed, hence identical to the leader's: check and
    // append only what lies beyond.
    const uint64_t known = commit_ - prev;
    if (known >= static_cast<uint64_t>(req.entries_size())) {
      resp.set_success(true);
      resp.set_match_index(commit_);
      resp.set_last_log_index(log_.last_index());
      Send(RaftMessage::Make(id_, m.from, std::move(resp)));
      return;
    }
    skip = static_cast<int>(known);
    prev = commit_;
    prev_term = req.entries(skip - 1).term();
  }

  if (log_.MatchTerm(prev, prev_term)) {
    const uint64_t last_new = req.prev_log_index() + req.entries_size();
    int first_new = req.entries_size();
    for (int i = skip; i < req.entries_size(); ++i) {
      const Entry& e = req.entries(i);
      if (!log_.MatchTerm(e.index(), e.term())) {
        first_new = i;
        break;
      }
    }
    if (first_new < req.entries_size()) {
      const uint64_t conflict = req.entries(first_new).index();
      if (conflict <= log_.last_index()) {
        // Log Matching: drop the conflicting suffix, which cannot be committed.
        TruncateLogFrom(conflict);
        DropOwnProposalsFrom(
            conflict, absl::StrCat("overwritten by leader ", m.from, " in term ", req.term()));
      }
      for (int i = first_new; i < req.entries_size(); ++i) AppendToLog(req.entries(i));
    }
    CommitTo(std::min(req.leader_commit(), last_new));
    resp.set_success(true);
    resp.set_match_index(last_new);
  } else {
    resp.set_success(false);
    if (prev > log_.last_index()) {
      resp.set_conflict_term(0);
      resp.set_conflict_index(log_.last_index() + 1);
    } else {
      const uint64_t term = log_.Term(prev).value_or(0);
      resp.set_conflict_term(term);
      resp.set_conflict_index(std::max(log_.FirstIndexOfTermAt(prev), commit_ + 1));
    }
  }
  resp.set_last_log_index(log_.last_index());
  Send(RaftMessage::Make(id_, m.from, std::move(resp)));
}

void RaftNode::CommitTo(uint64_t index) {
  index = std::min(index, log_.last_index());
  if (index <= commit_) return;
  if (role_ == Role::kLeader) {
    for (uint64_t i = commit_ + 1; i <= index; ++i) {
      const uint64_t size = log_.At(i).data().size();
      uncommitted_bytes_ -= std::min(uncommitted_bytes_, size);
    }
  }
  commit_ = index;
  own_proposals_.erase(own_proposals_.begin(), own_proposals_.upper_bound(commit_));
}

void RaftNode::DropOwnProposalsFrom(uint64_t index, const std::string& reason) {
  auto it = own_proposals_.lower_bound(index);
  for (auto i = it; i != own_proposals_.end(); ++i) {
    dropped_proposals_.emplace_back(i->first, reason);
  }
  own_proposals_.erase(it, own_proposals_.end());
}

// ---------------------------------------------------------------------------
// Log replication: leader side

absl::StatusOr<uint64_t> RaftNode::Propose(std::string data) {
  if (role_ != Role::kLeader) return absl::FailedPreconditionError("not leader");
  if (lead_transferee_ != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("leadership transfer to ", lead_transferee_, " in progress"));
  }
  if (options_.max_uncommitted_bytes > 0 && uncommitted_bytes_ > 0 &&
      uncommitted_bytes_ + data.size() > options_.max_uncommitted_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("too many uncommitted bytes: ", uncommitted_bytes_));
  }
  AppendEntry(Entry::NORMAL, std::move(data));
  const uint64_t index = log_.last_index();
  own_proposals_[index] = term_;
  MaybeCommit();
  return index;
}

void RaftNode::AppendEntry(Entry::Type type, std::string data) {
  Entry entry;
  entry.set_term(term_);
  entry.set_index(log_.last_index() + 1);
  entry.set_type(type);
  uncommitted_bytes_ += data.size();
  entry.set_data(std::move(data));
  AppendToLog(std::move(entry));
}

void RaftNode::AppendToLog(Entry entry) {
  const uint64_t index = entry.index();
  std::optional<Membership> config = ParseConfig(entry);
  log_.Append(std::move(entry));
  if (config.has_value()) {
    membership_.Append(index, std::move(*config));
    RefreshMembership();
  }
}

void RaftNode::TruncateLogFrom(uint64_t index) {
  log_.TruncateFrom(index);
  if (membership_.CurrentIndex() >= index) {
    membership_.TruncateFrom(index);
    RefreshMembership();
  }
}

void RaftNode::RefreshMembership() {
  ++membership_version_;
  const Membership& current = membership_.Current();
  voters_.assign(current.voters().begin(), current.voters().end());
  learners_.assign(current.learners().begin(), current.learners().end());
  if (role_ != Role::kLeader) return;
  // Replicate to current members and, until the change commits, to members it removes: a
  // removed node that never receives its removal would keep campaigning.
  std::vector<int64_t> targets = voters_;
  targets.insert(targets.end(), learners_.begin(), learners_.end());
  if (membership_.CurrentIndex() > commit_ && membership_.CurrentIndex() > 0) {
    const Membership& previous = membership_.At(membership_.CurrentIndex() - 1);
    targets.insert(targets.end(), previous.voters().begin(), previous.voters().end());
    targets.insert(targets.end(), previous.learners().begin(), previous.learners().end());
  }
  for (auto it = progress_.begin(); it != progress_.end();) {
    if (std::find(targets.begin(), targets.end(), it->first) != targets.end()) {
      ++it;
    } else {
      it = progress_.erase(it);
    }
  }
  for (int64_t member : targets) {
    if (member == id_) continue;
    progress_.emplace(member, Progress(log_.last_index() + 1, options_.max_inflight_appends,
                                       options_.max_inflight_bytes));
  }
  if (lead_transferee_ != 0 && !IsVoter(lead_transferee_)) AbortLeaderTransfer();
}

absl::StatusOr<uint64_t> RaftNode::ProposeMembership(MembershipChange change, int64_t node,
                                                     const std::string& address) {
  if (role_ != Role::kLeader) return absl::FailedPreconditionError("not leader");
  if (lead_transferee_ != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("leadership transfer to ", lead_transferee_, " in progress"));
  }
  if (!CommittedEntryInCurrentTerm()) {
    // A change proposed before this leader knows the latest committed configuration could
    // overlap with an uncommitted one of a previous leader (Raft thesis 4.1, the
    // single-server change bug).
    return absl::FailedPreconditionError("leader has not committed an entry of its term yet");
  }
  if (membership_.CurrentIndex() > commit_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the membership change at index ", membership_.CurrentIndex(), " is not committed yet"));
  }
  auto next = ChangeMembership(membership_.Current(), change, node, address);
  if (!next.ok()) return next.status();
  AppendEntry(Entry::CONFIG, SerializeMembership(*next));
  const uint64_t index = log_.last_index();
  // Removing a voter may leave a majority that already holds everything.
  MaybeCommit();
  return index;
}

bool RaftNode::MaybeCommit() {
  std::vector<uint64_t> acked;
  acked.reserve(voters_.size());
  for (int64_t voter : voters_) {
    if (voter == id_) {
      acked.push_back(log_.last_index());
    } else {
      auto it = progress_.find(voter);
      acked.push_back(it == progress_.end() ? 0 : it->second.match());
    }
  }
  const uint64_t index = MajorityIndex(acked);
  // Only entries of the current term are committed by counting replicas (Raft 5.4.2).
  if (index <= commit_ || log_.Term(index) != term_) return false;
  const bool change_pending = membership_.CurrentIndex() > commit_;
  CommitTo(index);
  ReleaseDeferredReads();
  if (change_pending && commit_ >= membership_.CurrentIndex()) {
    // Removed members got their removal; they need nothing more.
    RefreshMembership();
    StepDownIfRemoved();
  }
  return true;
}

void RaftNode::StepDownIfRemoved() {
  if (role_ != Role::kLeader || IsVoter(id_) || commit_ < membership_.CurrentIndex()) return;
  // The configuration without this node is committed: the remaining voters elect a leader.
  // Telling the most up-to-date of them to campaign at once saves an election timeout.
  int64_t successor = 0;
  uint64_t best = 0;
  for (int64_t voter : voters_) {
    auto it = progress_.find(voter);
    if (it != progress_.end() && it->second.match() > best) {
      best = it->second.match();
      successor = voter;
    }
  }
  if (successor != 0 && best == log_.last_index()) SendTimeoutNow(successor);
  BecomeFollower(term_, 0);
}

bool RaftNode::CommittedEntryInCurrentTerm() const { return log_.Term(commit_) == term_; }

bool RaftNode::SendAppend(int64_t to, bool send_if_empty) {
  auto it = progress_.find(to);
  if (it == progress_.end()) return false;
  Progress& pr = it->second;
  if (pr.IsPaused()) return false;
  const uint64_t prev = pr.next() - 1;
  const std::optional<uint64_t> prev_term = log_.Term(prev);
  if (!prev_term.has_value() || prev < log_.snapshot_index()) {
    // The entries this follower needs were compacted away.
    pr.BecomeSnapshot(log_.snapshot_index());
    return false;
  }
  std::vector<Entry> entries;
  if (pr.next() <= log_.last_index()) {
    entries = log_.Slice(pr.next(), log_.last_index(),
                         std::max<uint64_t>(1, options_.max_entries_per_append),
                         options_.max_bytes_per_append);
  }
  if (entries.empty() && !send_if_empty) return false;

  AppendEntriesRequest req;
  req.set_term(term_);
  req.set_leader_id(id_);
  req.set_prev_log_index(prev);
  req.set_prev_log_term(*prev_term);
  req.set_leader_commit(commit_);
  const uint64_t sequence = next_sequence_++;
  req.set_sequence(sequence);
  uint64_t bytes = 0;
  for (Entry& e : entries) {
    bytes += InMemoryLog::EntryBytes(e);
    *req.add_entries() = std::move(e);
  }
  const uint64_t last_sent = prev + req.entries_size();
  pr.SentAppend(sequence, prev, last_sent, bytes);
  pr.sent_commit = std::max(pr.sent_commit, std::min(commit_, last_sent));
  Send(RaftMessage::Make(id_, to, std::move(req)));
  return true;
}

void RaftNode::FlushAppends() {
  if (role_ != Role::kLeader) return;
  for (auto& [peer, pr] : progress_) {
    bool sent = false;
    while (SendAppend(peer, /*send_if_empty=*/false)) sent = true;
    if (!sent && pr.sent_commit < commit_) SendAppend(peer, /*send_if_empty=*/true);
  }
}

bool RaftNode::HasAppendToSend() const {
  if (role_ != Role::kLeader) return false;
  for (const auto& [peer, pr] : progress_) {
    if (pr.IsPaused()) continue;
    if (pr.next() <= log_.last_index() || pr.sent_commit < commit_) return true;
  }
  return false;
}

void RaftNode::HandleAppendResponse(const RaftMessage& m, const AppendEntriesResponse& resp) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  if (resp.read_context() != 0) {
    ReleaseReads(read_only_.Ack(m.from, resp.read_context(), voters_, id_));
  }
  const bool heartbeat = resp.sequence() == 0;
  if (heartbeat) pr.OnHeartbeatResponse();

  if (resp.success()) {
    if (resp.match_index() > log_.last_index()) return;  // not an answer to this leader
    const bool updated = pr.MaybeUpdate(resp.match_index());
    if (updated || (pr.state() == ProgressState::kProbe && pr.match() == resp.match_index())) {
      switch (pr.state()) {
        case ProgressState::kProbe:
          pr.BecomeReplicate();
          break;
        case ProgressState::kSnapshot:
          if (pr.match() >= pr.pending_snapshot()) pr.BecomeProbe();
          break;
        case ProgressState::kReplicate:
          break;
      }
      MaybeCommit();
      // A commit can end this leadership (a removed leader steps down) or drop this follower
      // (its removal committed), and `pr` with it.
      if (role_ != Role::kLeader || progress_.count(m.from) == 0) return;
      if (m.from == lead_transferee_ && pr.match() == log_.last_index()) {
        SendTimeoutNow(m.from);
      }
    }
    if (pr.state() == ProgressState::kReplicate) {
      if (heartbeat && !updated && pr.inflights().count() > 0) {
        // Appends in flight but no progress over several heartbeats: they were probably
        // lost. Probing again from match is always safe.
        if (++pr.stalled_heartbeats >= 3) pr.BecomeProbe();
      }
    }
    return;
  }

  if (heartbeat) return;
  const std::optional<uint64_t> rejected = pr.InflightPrevIndex(resp.sequence());
  if (!rejected.has_value()) return;  // an answer to an append already superseded
  // Fast back-off (Raft 5.3): skip the follower's whole conflicting term at once.
  uint64_t hint;
  if (resp.conflict_term() != 0) {
    const uint64_t last_of_term = log_.LastIndexOfTerm(resp.conflict_term());
    hint = last_of_term != 0 ? last_of_term + 1 : resp.conflict_index();
  } else {
    hint = resp.conflict_index() != 0 ? resp.conflict_index() : resp.last_log_index() + 1;
  }
  pr.MaybeDecrTo(*rejected, hint);
}

void RaftNode::BroadcastHeartbeat() {
  pending_read_heartbeat_ = false;
  const uint64_t round = read_only_.last_pending_round();
  for (const auto& [peer, pr] : progress_) SendHeartbeat(peer, round);
}

void RaftNode::SendHeartbeat(int64_t to, uint64_t read_round) {
  Progress& pr = progress_.at(to);
  // An empty append at the follower's known match: it always passes the consistency
  // check, and the commit index it carries never exceeds what the follower holds.
  uint64_t prev = pr.match();
  std::optional<uint64_t> prev_term = log_.Term(prev);
  if (!prev_term.has_value()) {
    prev = 0;
    prev_term = 0;
  }
  const uint64_t commit = std::min(commit_, prev);
  AppendEntriesRequest req;
  req.set_term(term_);
  req.set_leader_id(id_);
  req.set_prev_log_index(prev);
  req.set_prev_log_term(*prev_term);
  req.set_leader_commit(commit);
  req.set_sequence(0);
  req.set_read_context(read_round);
  pr.sent_commit = std::max(pr.sent_commit, commit);
  Send(RaftMessage::Make(id_, to, std::move(req)));
}

// ---------------------------------------------------------------------------
// ReadIndex

absl::Status RaftNode::ReadIndex(uint64_t context) {
  if (role_ == Role::kLeader) {
    HandleReadIndexRequest(id_, context);
    return absl::OkStatus();
  }
  if (lead_ == 0) return absl::FailedPreconditionError("no leader");
  forwarded_reads_.push_back(context);
  ReadIndexRequest req;
  req.set_term(term_);
  req.set_from_id(id_);
  req.set_context(context);
  Send(RaftMessage::Make(id_, lead_, std::move(req)));
  return absl::OkStatus();
}

void RaftNode::HandleReadIndexRequest(int64_t from, uint64_t context) {
  if (!CommittedEntryInCurrentTerm()) {
    // Until it commits an entry of its term, a new leader does not know the latest commit
    // index (Raft thesis 6.4, step 1).
    deferred_reads_.push_back(ReadRequest{from, context, 0});
    return;
  }
  StartReadRound(from, context);
}

void RaftNode::StartReadRound(int64_t from, uint64_t context) {
  if (voters_.size() == 1 && IsVoter(id_)) {
    ReleaseReads({ReadRequest{from, context, commit_}});
    return;
  }
  read_only_.Add(from, context, commit_);
  pending_read_heartbeat_ = true;
}

void RaftNode::ReleaseDeferredReads() {
  if (deferred_reads_.empty() || !CommittedEntryInCurrentTerm()) return;
  std::vector<ReadRequest> reads;
  reads.swap(deferred_reads_);
  for (const ReadRequest& r : reads) StartReadRound(r.from, r.context);
}

void RaftNode::ReleaseReads(const std::vector<ReadRequest>& reads) {
  for (const ReadRequest& r : reads) {
    if (r.from == id_) {
      read_states_.push_back(ReadState{r.context, r.index});
      continue;
    }
    ReadIndexResponse resp;
    resp.set_term(term_);
    resp.set_context(r.context);
    resp.set_read_index(r.index);
    resp.set_success(true);
    resp.set_leader_id(id_);
    Send(RaftMessage::Make(id_, r.from, std::move(resp)));
  }
}

void RaftNode::DropReads(const std::vector<ReadRequest>& reads) {
  for (const ReadRequest& r : reads) {
    if (r.from == id_) {
      dropped_reads_.push_back(r.context);
      continue;
    }
    ReadIndexResponse resp;
    resp.set_term(term_);
    resp.set_context(r.context);
    resp.set_success(false);
    Send(RaftMessage::Make(id_, r.from, std::move(resp)));
  }
}

void RaftNode::DropForwardedReads() {
  dropped_reads_.insert(dropped_reads_.end(), forwarded_reads_.begin(), forwarded_reads_.end());
  forwarded_reads_.clear();
}

void RaftNode::HandleReadIndexResponse(const ReadIndexResponse& resp) {
  auto it = std::find(forwarded_reads_.begin(), forwarded_reads_.end(), resp.context());
  if (it == forwarded_reads_.end()) return;
  forwarded_reads_.erase(it);
  if (resp.success()) {
    read_states_.push_back(ReadState{resp.context(), resp.read_index()});
  } else {
    dropped_reads_.push_back(resp.context());
  }
}

// ---------------------------------------------------------------------------
// Leadership transfer

absl::Status RaftNode::TransferLeadership(int64_t to) {
  if (role_ != Role::kLeader) return absl::FailedPreconditionError("not leader");
  if (to == id_ || !IsVoter(to)) {
    return absl::InvalidArgumentError(absl::StrCat("cannot transfer leadership to ", to));
  }
  if (lead_transferee_ == to) return absl::OkStatus();
  AbortLeaderTransfer();
  lead_transferee_ = to;
  // The transfer must finish within one election timeout.
  election_elapsed_ = 0;
  if (progress_.at(to).match() == log_.last_index()) SendTimeoutNow(to);
  // Otherwise FlushAppends() catches the target up and its answer triggers TimeoutNow.
  return absl::OkStatus();
}

void RaftNode::SendTimeoutNow(int64_t to) {
  TimeoutNow msg;
  msg.set_term(term_);
  msg.set_leader_id(id_);
  Send(RaftMessage::Make(id_, to, std::move(msg)));
}

void RaftNode::AbortLeaderTransfer() { lead_transferee_ = 0; }

// ---------------------------------------------------------------------------
// Ready

HardState RaftNode::CurrentHardState() const {
  HardState hs;
  hs.set_current_term(term_);
  hs.set_voted_for(vote_);
  hs.set_commit_index(commit_);
  hs.set_last_applied(applied_);
  return hs;
}

bool RaftNode::HasReady() const {
  if (term_ != last_hard_state_.current_term() || vote_ != last_hard_state_.voted_for() ||
      commit_ != last_hard_state_.commit_index()) {
    return true;
  }
  if (log_.HasUnpersisted() || !msgs_.empty() || commit_ > apply_emitted_) return true;
  if (restored_snapshot_.has_value()) return true;
  if (!read_states_.empty() || !dropped_reads_.empty() || !dropped_proposals_.empty()) {
    return true;
  }
  return role_ == Role::kLeader && (pending_read_heartbeat_ || HasAppendToSend());
}

Ready RaftNode::GetReady() {
  if (role_ == Role::kLeader) {
    FlushAppends();
    if (pending_read_heartbeat_) BroadcastHeartbeat();
  }
  Ready rd;
  if (term_ != last_hard_state_.current_term() || vote_ != last_hard_state_.voted_for() ||
      commit_ != last_hard_state_.commit_index()) {
    rd.hard_state = CurrentHardState();
    last_hard_state_ = *rd.hard_state;
  }
  if (log_.HasUnpersisted()) log_.TakeUnpersisted(&rd.truncate_from, &rd.entries);
  if (restored_snapshot_.has_value()) {
    const uint64_t index = restored_snapshot_->last_included_index();
    // Durable entries after a dropped log, or after a truncation point the snapshot
    // covers, are stale.
    if (snapshot_dropped_log_ || (rd.truncate_from != 0 && rd.truncate_from <= index)) {
      rd.truncate_from = index + 1;
    }
    rd.snapshot = std::move(restored_snapshot_);
    restored_snapshot_.reset();
    snapshot_dropped_log_ = false;
  }
  rd.messages.swap(msgs_);
  for (uint64_t i = std::max(apply_emitted_ + 1, log_.first_index()); i <= commit_; ++i) {
    rd.committed_entries.push_back(log_.At(i));
  }
  apply_emitted_ = std::max(apply_emitted_, commit_);
  rd.read_states.swap(read_states_);
  rd.dropped_reads.swap(dropped_reads_);
  rd.dropped_proposals.swap(dropped_proposals_);
  return rd;
}

void RaftNode::Advance(const Ready& ready) {
  if (!ready.committed_entries.empty()) {
    applied_ = std::max(applied_, ready.committed_entries.back().index());
  }
}

absl::Status RaftNode::CompactTo(uint64_t index) {
  if (index > applied_) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot compact to ", index, ": applied only to ", applied_));
  }
  if (index <= log_.snapshot_index()) return absl::OkStatus();
  log_.CompactTo(index);
  membership_.CompactTo(index);
  return absl::OkStatus();
}

std::vector<int64_t> RaftNode::FollowersNeedingSnapshot() const {
  std::vector<int64_t> out;
  if (role_ != Role::kLeader) return out;
  for (const auto& [peer, pr] : progress_) {
    if (pr.state() == ProgressState::kSnapshot || pr.next() - 1 < log_.snapshot_index()) {
      out.push_back(peer);
    }
  }
  return out;
}

void RaftNode::ReportSnapshot(int64_t follower, bool success) {
  if (role_ != Role::kLeader) return;
  auto it = progress_.find(follower);
  if (it == progress_.end()) return;
  it->second.SnapshotDone(success);
}

absl::Status RaftNode::RestoreSnapshot(const SnapshotMetadata& metadata) {
  if (role_ == Role::kLeader) {
    return absl::FailedPreconditionError("a leader does not restore snapshots");
  }
  const uint64_t index = metadata.last_included_index();
  const uint64_t term = metadata.last_included_term();
  if (term > term_) {
    // No leader this node knows can hold it; taken, it would sit above every entry the
    // leaders of the terms before it send.
    return absl::InvalidArgumentError(absl::StrCat("snapshot at index ", index, " has term ", term,
                                                   ", above the current term ", term_));
  }
  if (index <= commit_) return absl::OkStatus();
  // The snapshot is committed state, wherever it came from; a campaign started on the log
  // it replaces is abandoned.
  if (role_ != Role::kFollower) BecomeFollower(term_, 0);

  // A snapshot from an older version may lack the membership: the log's is the best known.
  Membership membership = metadata.has_membership() ? metadata.membership() : membership_.At(index);
  membership_.ResetBase(std::move(membership), index);
  if (log_.MatchTerm(index, term)) {
    // Log Matching: everything up to `index` is the committed prefix; what follows may
    // still be committed on top of it.
    log_.CompactTo(index);
    own_proposals_.erase(own_proposals_.begin(), own_proposals_.upper_bound(index));
  } else {
    // The log disagrees with committed state at `index`, so nothing after commit_ in it
    // is known to be committed: proposals there have an unknown outcome.
    DropOwnProposalsFrom(commit_ + 1,
                         absl::StrCat("replaced by snapshot at ", index, " term ", term));
    log_.Restore(index, term, {});
    membership_.TruncateFrom(index + 1);
    snapshot_dropped_log_ = true;
  }
  RefreshMembership();
  commit_ = index;
  applied_ = index;
  apply_emitted_ = index;
  restored_snapshot_ = metadata;

  if (lead_ != 0) {
    AppendEntriesResponse resp;
    resp.set_term(term_);
    resp.set_follower_id(id_);
    resp.set_success(true);
    resp.set_match_index(index);
    resp.set_last_log_index(log_.last_index());
    Send(RaftMessage::Make(id_, lead_, std::move(resp)));
  }
  return absl::OkStatus();
}

const Progress* RaftNode::progress(int64_t follower) const {
  auto it = progress_.find(follower);
  return it == progress_.end() ? nullptr : &it->second;
}

void RaftNode::Send(RaftMessage message) {
  message.from = id_;
  msgs_.push_back(std::move(message));
}

bool RaftNode::IsVoter(int64_t id) const {
  return std::find(voters_.begin(), voters_.end(), id) != voters_.end();
}

bool RaftNode::IsLearner(int64_t id) const {
  return std::find(learners_.begin(), learners_.end(), id) != learners_.end();
}

}  // namespace raft
}  // namespace resdb
