#include "platform/consensus/ordering/raft/simulation/simulated_cluster.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "platform/storage/memory_storage.h"

namespace resdb {
namespace raft {
namespace {

// Upper bound of consecutive Ready rounds a node may produce without new input; more means
// HasReady() never turns false.
constexpr int kMaxReadyRounds = 1000;

const char* MessageName(int user_type) {
  switch (user_type) {
    case RAFT_APPEND_ENTRIES:
      return "AppendEntries";
    case RAFT_APPEND_ENTRIES_RESPONSE:
      return "AppendEntriesResponse";
    case RAFT_REQUEST_VOTE:
      return "RequestVote";
    case RAFT_REQUEST_VOTE_RESPONSE:
      return "RequestVoteResponse";
    case RAFT_INSTALL_SNAPSHOT:
      return "InstallSnapshot";
    case RAFT_INSTALL_SNAPSHOT_RESPONSE:
      return "InstallSnapshotResponse";
    case RAFT_TIMEOUT_NOW:
      return "TimeoutNow";
    case RAFT_READ_INDEX:
      return "ReadIndex";
    case RAFT_READ_INDEX_RESPONSE:
      return "ReadIndexResponse";
  }
  return "unknown";
}

}  // namespace

const char* CrashPointName(CrashPoint point) {
  switch (point) {
    case CrashPoint::kNow:
      return "between-steps";
    case CrashPoint::kBeforePersist:
      return "before-persist";
    case CrashPoint::kAfterHardState:
      return "after-hard-state";
    case CrashPoint::kAfterLogWrite:
      return "after-log-write-before-send";
    case CrashPoint::kAfterSend:
      return "after-send-before-apply";
    case CrashPoint::kAfterApply:
      return "after-apply-before-advance";
    case CrashPoint::kAfterSnapshotSave:
      return "after-snapshot-save-before-compaction";
    case CrashPoint::kBetweenCompactions:
      return "between-log-and-raft-compaction";
    case CrashPoint::kAfterSnapshotInstall:
      return "after-snapshot-install-before-restore";
    case CrashPoint::kAfterRestoreSnapshot:
      return "after-restore-snapshot-before-ready";
    case CrashPoint::kAfterSnapshotCompaction:
      return "after-ready-snapshot-before-log-write";
  }
  return "unknown";
}

SimulatedCluster::SimulatedCluster(ClusterOptions options)
    : options_(std::move(options)),
      network_(options_.seed * 0x9E3779B97F4A7C15ULL + 1),
      client_rng_(options_.seed * 0xC2B2AE3D27D4EB4FULL + 2),
      fault_rng_(options_.seed * 0x165667B19E3779F9ULL + 4),
      crash_on_truncate_rate_(options_.crash_on_truncate_rate) {
  for (int i = 1; i <= options_.num_nodes + options_.spares; ++i) ids_.push_back(i);
  for (int64_t id : ids_) {
    auto node = std::make_unique<SimNode>();
    node->id = id;
    node->storage = NewMemoryStorage();
    nodes_.emplace(id, std::move(node));
  }
  for (int64_t id : ids_) Restart(id);
}

SimulatedCluster::~SimulatedCluster() = default;

SimulatedCluster::SimNode& SimulatedCluster::Get(int64_t id) { return *nodes_.at(id); }
const SimulatedCluster::SimNode& SimulatedCluster::Get(int64_t id) const { return *nodes_.at(id); }

bool SimulatedCluster::IsUp(int64_t id) const { return Get(id).process != nullptr; }
bool SimulatedCluster::IsCrashArmed(int64_t id) const { return Get(id).crash_armed; }

const RaftNode* SimulatedCluster::node(int64_t id) const {
  const SimNode& n = Get(id);
  return n.process == nullptr ? nullptr : n.process->raft.get();
}

const std::vector<Entry>& SimulatedCluster::applied(int64_t id) const { return Get(id).applied; }

int64_t SimulatedCluster::Leader() const {
  int64_t leader = 0;
  uint64_t term = 0;
  for (int64_t id : ids_) {
    const RaftNode* n = node(id);
    if (n != nullptr && n->role() == Role::kLeader && (leader == 0 || n->term() > term)) {
      leader = id;
      term = n->term();
    }
  }
  return leader;
}

uint64_t SimulatedCluster::MaxTerm() const {
  uint64_t term = 0;
  for (int64_t id : ids_) {
    const RaftNode* n = node(id);
    if (n != nullptr) term = std::max(term, n->term());
  }
  return term;
}

void SimulatedCluster::Fail(const std::string& description) { checker_.Fail(description); }

std::string SimulatedCluster::violation() const {
  if (checker_.ok()) return "";
  // A violation found outside any step (by the caller) is placed after the last step.
  const std::string where = failed_step_.empty() ? absl::StrCat("after step ", steps_, " (tick ",
                                                                ticks_, ", time ", now_, ")")
                                                 : failed_step_;
  return absl::StrCat(where, ": ", checker_.violation());
}

void SimulatedCluster::EndStep(const std::string& what) {
  ++steps_;
  std::map<int64_t, const RaftNode*> live;
  for (int64_t id : ids_) {
    const RaftNode* n = node(id);
    if (n == nullptr) continue;
    live.emplace(id, n);
    SimNode& sim = Get(id);
    if (n->term() < sim.seen_term || n->commit_index() < sim.seen_commit) {
      checker_.Fail(absl::StrCat("node ", id, " went back from term ", sim.seen_term, ", commit ",
                                 sim.seen_commit, " to term ", n->term(), ", commit ",
                                 n->commit_index()));
    }
    sim.seen_term = n->term();
    sim.seen_commit = n->commit_index();
  }
  checker_.CheckNodes(live);
  if (options_.log) {
    std::string line = absl::StrCat("step ", steps_, " t=", now_, " ", what, " |");
    for (int64_t id : ids_) {
      const RaftNode* n = node(id);
      if (n == nullptr) {
        absl::StrAppend(&line, " ", id, ":down");
      } else {
        absl::StrAppend(&line, " ", id, ":", RoleName(n->role()), "/t", n->term(), "/l",
                        n->last_index(), "/c", n->commit_index());
      }
    }
    Log(line);
  }
  if (!checker_.ok() && failed_step_.empty()) {
    failed_step_ =
        absl::StrCat("step ", steps_, " (tick ", ticks_, ", time ", now_, ", ", what, ")");
  }
}

// ---------------------------------------------------------------------------
// Time and messages

void SimulatedCluster::RunTick() {
  const int64_t tick_end = (ticks_ + 1) * kUnitsPerTick;
  while (auto due = network_.PopDue(tick_end - 1)) {
    now_ = std::max(now_, due->first);
    Deliver(due->first, due->second);
  }
  now_ = tick_end;
  ++ticks_;
  Trace(static_cast<uint64_t>(ticks_));
  for (int64_t id : ids_) {
    SimNode& n = Get(id);
    if (n.process == nullptr) continue;
    n.process->raft->Tick();
    ProcessReady(n);
  }
  ServeSnapshots();
  EndStep(absl::StrCat("tick ", ticks_));
}

void SimulatedCluster::Deliver(int64_t at, const RaftMessage& message) {
  SimNode& n = Get(message.to);
  const std::string what =
      absl::StrCat("deliver ", MessageName(message.user_type), " ", message.from, "->", message.to);
  if (n.process == nullptr) {
    EndStep(absl::StrCat(what, " (receiver down)"));
    return;
  }
  // Through the bytes, as the transport carries them.
  const std::string bytes = message.SerializePayload();
  Trace(static_cast<uint64_t>(at));
  Trace(static_cast<uint64_t>(message.from));
  Trace(static_cast<uint64_t>(message.to));
  Trace(static_cast<uint64_t>(message.user_type));
  trace_hash_ = HashBytes(trace_hash_, bytes.data(), bytes.size());
  absl::StatusOr<RaftMessage> parsed =
      RaftMessage::Parse(message.from, message.to, message.user_type, bytes);
  if (!parsed.ok()) {
    Fail(absl::StrCat("message does not parse back: ", parsed.status().ToString()));
  } else if (parsed->user_type == RAFT_INSTALL_SNAPSHOT) {
    // Snapshot transfer is the caller's business, not Step's.
    OnInstallSnapshot(n, *parsed);
  } else {
    absl::Status s = n.process->raft->Step(*parsed);
    if (!s.ok()) {
      Fail(absl::StrCat("Step refused a well-formed message: ", s.ToString()));
    }
    ProcessReady(n);
    if (parsed->user_type == RAFT_INSTALL_SNAPSHOT_RESPONSE) OnSnapshotResponse(n, *parsed);
  }
  EndStep(what);
}

// ---------------------------------------------------------------------------
// The Ready contract

bool SimulatedCluster::CrashDue(const SimNode& node, CrashPoint point) {
  return node.crash_armed && node.crash_point == point;
}

bool SimulatedCluster::CrashHere(SimNode& node, CrashPoint point) {
  if (!CrashDue(node, point)) return false;
  DoCrash(node);
  return true;
}

bool SimulatedCluster::StepObserver::AfterStep(ReadyPersister::Step step, const Ready& ready) {
  using Step = ReadyPersister::Step;
  SimulatedCluster& c = *cluster_;
  SimNode& node = *node_;
  switch (step) {
    case Step::kHardState:
      return !c.CrashDue(node, CrashPoint::kAfterHardState);
    case Step::kSnapshotBoundary: {
      const uint64_t index = ready.snapshot->last_included_index();
      c.checker_.OnDurableCompact(node.id, index, ready.snapshot->last_included_term());
      c.Log(absl::StrCat("  node ", node.id, " durable log now starts after snapshot ", index));
      return !c.CrashDue(node, CrashPoint::kAfterSnapshotCompaction);
    }
    case Step::kTruncated:
      c.checker_.OnDurableTruncate(node.id, ready.truncate_from);
      c.Log(absl::StrCat("  node ", node.id, " truncated its log from ", ready.truncate_from));
      return true;
    case Step::kAppended:
      c.checker_.OnDurableAppend(node.id, ready.entries);
      return true;
    case Step::kCommitIndex:
      return !c.CrashDue(node, CrashPoint::kAfterLogWrite);
  }
  return true;
}

void SimulatedCluster::ProcessReady(SimNode& node) {
  for (int round = 0; node.process != nullptr && node.process->raft->HasReady(); ++round) {
    if (round == kMaxReadyRounds) {
      Fail(absl::StrCat("node ", node.id, " still HasReady() after ", kMaxReadyRounds,
                        " rounds without input"));
      return;
    }
    Process& p = *node.process;
    RaftNode& raft = *p.raft;
    const Ready rd = raft.GetReady();
    if (options_.send_before_persist && !Send(node, rd.messages)) return;
    if (CrashHere(node, CrashPoint::kBeforePersist)) return;
    if (crash_on_truncate_rate_ > 0 && rd.truncate_from != 0 && rd.hard_state.has_value() &&
        std::uniform_real_distribution<double>(0.0, 1.0)(fault_rng_) < crash_on_truncate_rate_) {
      node.crash_armed = true;
      node.crash_point = CrashPoint::kAfterHardState;
    }

    // 1-2. Term and vote, the log, then the commit index: the replica's own ReadyPersister,
    //      with a crash wherever one is armed between its steps.
    if (rd.snapshot.has_value() && !CheckReadySnapshot(node, *rd.snapshot)) return;
    StepObserver observer(this, &node);
    const absl::StatusOr<bool> persisted = p.persister->Persist(rd, &observer);
    if (!persisted.ok()) {
      Fail(absl::StrCat("node ", node.id,
                        " cannot persist its Ready: ", persisted.status().ToString()));
      return;
    }
    if (!*persisted) {
      DoCrash(node);
      return;
    }

    // 3. Messages.
    if (!options_.send_before_persist && !Send(node, rd.messages)) return;
    if (CrashHere(node, CrashPoint::kAfterSend)) return;

    // 4. The state machine. Overwritten proposals are answered first: a Ready may report a
    // proposal dropped and carry the entry that replaced it.
    for (const auto& [id, reason] : rd.dropped_proposals) {
      Log(absl::StrCat("  node ", node.id, " dropped proposal ", id, ": ", reason));
      const std::string problem =
          tracker_.OnDropped(node.id, node.incarnation, id, reason, rd.snapshot.has_value());
      if (!problem.empty()) Fail(problem);
    }
    for (const Entry& e : rd.committed_entries) {
      if (e.index() != node.applied.size() + 1) {
        Fail(absl::StrCat("node ", node.id, " was handed entry ", e.index(),
                          " to apply after applying ", node.applied.size()));
        return;
      }
      const absl::StatusOr<uint64_t> durable_term = p.log->Term(e.index());
      if (!durable_term.ok() || *durable_term != e.term()) {
        Fail(absl::StrCat("node ", node.id, " was handed entry (index ", e.index(), ", term ",
                          e.term(), ") to apply that its durable log does not hold"));
        return;
      }
      node.applied.push_back(e);
      Trace(static_cast<uint64_t>(node.id));
      Trace(e.index());
      Trace(e.term());
      checker_.OnApply(node.id, raft.term(), e);
      if (e.type() == Entry::CONFIG) OnConfigApplied(e);
      const std::string problem = tracker_.OnApplied(node.id, node.incarnation, e);
      if (!problem.empty()) Fail(problem);
    }
    if (options_.durable_state_machine && !rd.committed_entries.empty()) {
      absl::Status s = p.state->SetLastApplied(node.applied.size());
      if (!s.ok()) Fail(absl::StrCat("node ", node.id, " SetLastApplied: ", s.ToString()));
    }
    for (const ReadState& read : rd.read_states) OnReadState(node, read);
    for (uint64_t context : rd.dropped_reads) OnDroppedRead(node, context);
    if (CrashHere(node, CrashPoint::kAfterApply)) return;

    raft.Advance(rd);
    if (!MaybeTakeSnapshot(node)) return;
  }
}

bool SimulatedCluster::Send(const SimNode& node, const std::vector<RaftMessage>& messages) {
  for (const RaftMessage& m : messages) {
    if (m.from != node.id || m.to == node.id ||
        std::find(ids_.begin(), ids_.end(), m.to) == ids_.end()) {
      Fail(absl::StrCat("node ", node.id, " sent a message from ", m.from, " to ", m.to));
      return false;
    }
    network_.Send(m, now_);
  }
  return true;
}

// ---------------------------------------------------------------------------
// Clients

void SimulatedCluster::Propose() {
  std::vector<int64_t> leaders;
  for (int64_t id : ids_) {
    const RaftNode* n = node(id);
    if (n != nullptr && n->role() == Role::kLeader) leaders.push_back(id);
  }
  if (leaders.empty()) {
    tracker_.OnNoLeader();
    return;
  }
  const int64_t id =
      leaders[std::uniform_int_distribution<size_t>(0, leaders.size() - 1)(client_rng_)];
  SimNode& n = Get(id);
  const std::string payload = tracker_.NextPayload();
  absl::StatusOr<uint64_t> index = n.process->raft->Propose(payload);
  if (index.ok()) {
    tracker_.OnAccepted(payload, id, n.incarnation, *index, n.process->raft->term());
    Trace(*index);
  } else {
    tracker_.OnRejected();
  }
  ProcessReady(n);
  EndStep(absl::StrCat("propose ", payload, " to node ", id));
}

SimulatedCluster::ReadOutcome SimulatedCluster::read_outcome(uint64_t context) const {
  auto it = read_outcomes_.find(context);
  return it == read_outcomes_.end() ? ReadOutcome::kLost : it->second;
}

uint64_t SimulatedCluster::Read(int64_t id) {
  if (id == 0) {
    std::vector<int64_t> up;
    for (int64_t i : ids_) {
      if (IsUp(i)) up.push_back(i);
    }
    if (up.empty()) return 0;
    id = up[std::uniform_int_distribution<size_t>(0, up.size() - 1)(client_rng_)];
  }
  SimNode& n = Get(id);
  if (n.process == nullptr) return 0;
  const uint64_t context = next_read_context_++;
  ++reads_.issued;
  absl::Status s = n.process->raft->ReadIndex(context);
  Log(absl::StrCat("  node ", id, " ReadIndex(", context, "): ", s.ToString()));
  if (s.ok()) {
    pending_reads_[context] = PendingRead{id, n.incarnation, tracker_.max_acked_index()};
    read_outcomes_[context] = ReadOutcome::kPending;
  } else {
    ++reads_.refused;
    read_outcomes_[context] = ReadOutcome::kRefused;
  }
  ProcessReady(n);
  EndStep(absl::StrCat("read ", context, " at node ", id));
  return context;
}

void SimulatedCluster::OnReadState(const SimNode& node, const ReadState& read) {
  auto it = pending_reads_.find(read.context);
  if (it == pending_reads_.end() || it->second.node != node.id ||
      it->second.incarnation != node.incarnation) {
    Fail(absl::StrCat("node ", node.id, " produced a ReadState for read ", read.context,
                      " that is not waiting there"));
    return;
  }
  if (read.index < it->second.min_index) {
    Fail(absl::StrCat("linearizability: read ", read.context, " at node ", node.id,
                      " got read index ", read.index, " although index ", it->second.min_index,
                      " was acknowledged before the read started"));
  }
  Trace(read.context);
  Trace(read.index);
  Log(absl::StrCat("  node ", node.id, " read ", read.context, " served at index ", read.index));
  ++reads_.served;
  read_outcomes_[read.context] = ReadOutcome::kServed;
  pending_reads_.erase(it);
}

void SimulatedCluster::OnDroppedRead(const SimNode& node, uint64_t context) {
  auto it = pending_reads_.find(context);
  if (it == pending_reads_.end() || it->second.node != node.id ||
      it->second.incarnation != node.incarnation) {
    Fail(absl::StrCat("node ", node.id, " dropped read ", context, " that is not waiting there"));
    return;
  }
  ++reads_.dropped;
  read_outcomes_[context] = ReadOutcome::kDropped;
  Log(absl::StrCat("  node ", node.id, " read ", context, " dropped"));
  pending_reads_.erase(it);
}

void SimulatedCluster::TransferLeadership(int64_t id, int64_t to) {
  SimNode& n = Get(id);
  if (n.process == nullptr) return;
  n.process->raft->TransferLeadership(to).IgnoreError();
  ProcessReady(n);
  EndStep(absl::StrCat("transfer leadership ", id, "->", to));
}

absl::StatusOr<uint64_t> SimulatedCluster::ProposeMembership(int64_t id, MembershipChange change,
                                                             int64_t node) {
  SimNode& n = Get(id);
  if (n.process == nullptr) return absl::FailedPreconditionError("down");
  RaftNode& raft = *n.process->raft;
  // No address: Membership keeps addresses in a protobuf map, whose serialization (the CONFIG
  // entry's data) is not byte-for-byte deterministic, and the trace hashes message bytes.
  const absl::StatusOr<uint64_t> index = raft.ProposeMembership(change, node, "");
  const bool self_removal = change == MembershipChange::kRemove && node == id;
  Log(absl::StrCat("  node ", id, " ProposeMembership(", MembershipChangeName(change), " ", node,
                   "): ", index.ok() ? absl::StrCat("index ", *index) : index.status().ToString()));
  if (index.ok()) {
    ++membership_.proposed;
    if (self_removal) ++membership_.self_removals;
    config_proposals_[{*index, raft.term()}] = self_removal;
    Trace(*index);
  } else {
    ++membership_.refused;
  }
  ProcessReady(n);
  EndStep(
      absl::StrCat("membership change ", MembershipChangeName(change), " ", node, " at node ", id));
  return index;
}

void SimulatedCluster::OnConfigApplied(const Entry& entry) {
  if (!applied_configs_.insert(entry.index()).second) return;
  ++membership_.committed;
  auto it = config_proposals_.find({entry.index(), entry.term()});
  if (it != config_proposals_.end() && it->second) ++membership_.self_removals_committed;
}

// ---------------------------------------------------------------------------
// Crashes and restarts

void SimulatedCluster::Crash(int64_t id, CrashPoint point) {
  SimNode& n = Get(id);
  if (n.process == nullptr) return;
  if (point == CrashPoint::kNow) {
    DoCrash(n);
    EndStep(absl::StrCat("crash node ", id));
    return;
  }
  n.crash_armed = true;
  n.crash_point = point;
  Log(absl::StrCat("  node ", id, " will crash at ", CrashPointName(point)));
}

void SimulatedCluster::DisarmCrashes() {
  for (auto& [id, n] : nodes_) n->crash_armed = false;
  crash_on_truncate_rate_ = 0;
}

void SimulatedCluster::DisarmCrash(int64_t id) { Get(id).crash_armed = false; }

void SimulatedCluster::DoCrash(SimNode& node) {
  ++crashes_;
  Log(absl::StrCat("  node ", node.id, " crashed",
                   node.crash_armed ? absl::StrCat(" ", CrashPointName(node.crash_point)) : ""));
  Trace(0xC0DEC0DE);
  Trace(static_cast<uint64_t>(node.id));
  tracker_.OnCrash(node.id, node.incarnation);
  // Reads waiting at the crashed instance are lost (their clients time out).
  for (auto it = pending_reads_.begin(); it != pending_reads_.end();) {
    if (it->second.node == node.id && it->second.incarnation == node.incarnation) {
      read_outcomes_[it->first] = ReadOutcome::kLost;
      it = pending_reads_.erase(it);
    } else {
      ++it;
    }
  }
  checker_.OnCrash(node.id, *node.process->raft);
  node.process.reset();
  node.crash_armed = false;
  if (!options_.durable_state_machine) node.applied.clear();
}

void SimulatedCluster::Restart(int64_t id) {
  SimNode& n = Get(id);
  if (n.process != nullptr) return;
  auto p = std::make_unique<Process>();
  auto fail = [&](const std::string& what, const absl::Status& s) {
    Fail(absl::StrCat("node ", id, " cannot restart: ", what, ": ", s.ToString()));
  };
  auto log_view = p->allocator.Allocate(n.storage.get(), kRaftLogPrefix, "raft_log");
  auto state_view = p->allocator.Allocate(n.storage.get(), kRaftStatePrefix, "raft_state");
  if (!log_view.ok() || !state_view.ok()) {
    return fail("prefix allocation", log_view.ok() ? state_view.status() : log_view.status());
  }
  p->log_view = std::move(*log_view);
  p->state_view = std::move(*state_view);
  auto log = RaftLog::Open(p->log_view.get());
  if (!log.ok()) return fail("RaftLog::Open", log.status());
  p->log = std::move(*log);
  auto state = RaftPersistentState::Open(p->state_view.get());
  if (!state.ok()) return fail("RaftPersistentState::Open", state.status());
  p->state = std::move(*state);
  p->persister = std::make_unique<ReadyPersister>(p->log.get(), p->state.get());

  RaftRestoredState restored;
  if (!RestoreFromDisk(n, *p, &restored)) return;

  RaftNodeOptions node_options = options_.node_options;
  node_options.id = id;
  // The initial configuration, which the log and the snapshot override. A spare joins with
  // none and learns it from a leader that added it.
  node_options.voters.clear();
  if (!IsSpare(id)) {
    for (int64_t voter : ids_) {
      if (!IsSpare(voter)) node_options.voters.push_back(voter);
    }
  }
  const uint64_t membership_floor = restored.membership.has_value() ? restored.membership_index : 0;
  node_options.seed = options_.seed * 1000003ULL + n.incarnation * 7919ULL + 1;
  p->raft = std::make_unique<RaftNode>(std::move(node_options), std::move(restored));
  n.process = std::move(p);
  checker_.OnRestart(id, membership_floor);
  n.seen_term = 0;
  n.seen_commit = 0;
  ++n.incarnation;
  Trace(0x5EED);
  Trace(static_cast<uint64_t>(id));
  ProcessReady(n);
  EndStep(absl::StrCat("restart node ", id));
}

bool SimulatedCluster::RestoreFromDisk(SimNode& node, Process& p, RaftRestoredState* restored) {
  auto fail = [&](const std::string& what, const absl::Status& s) {
    Fail(absl::StrCat("node ", node.id, " cannot restart: ", what, ": ", s.ToString()));
    return false;
  };
  if (node.snapshot.has_value()) {
    // The stored snapshot is committed state. A crash after storing it may have left the
    // durable log behind it (not yet compacted, or still holding entries that conflict with
    // it): finish what its Ready would have done, and raise the commit index to it.
    const SnapshotMetadata& meta = node.snapshot->metadata;
    const uint64_t index = meta.last_included_index();
    if (index + 1 < p.log->FirstIndex()) {
      Fail(absl::StrCat("node ", node.id, " compacted its log to ", p.log->FirstIndex() - 1,
                        " past its stored snapshot at ", index));
      return false;
    }
    const absl::StatusOr<uint64_t> term = p.log->Term(index);
    if (!term.ok() || *term != meta.last_included_term()) {
      absl::Status s = p.log->CompactTo(index, meta.last_included_term());
      if (!s.ok()) return fail("RaftLog::CompactTo", s);
      checker_.OnDurableCompact(node.id, index, meta.last_included_term());
    }
    absl::Status s = p.log->CommitTo(index);
    if (!s.ok()) return fail("commit index of the snapshot", s);
  }
  restored->hard_state = p.state->hard_state();
  restored->hard_state.set_commit_index(p.log->CommitIndex());
  // RaftNode's log starts where the durable log does.
  const uint64_t boundary = p.log->FirstIndex() - 1;
  const absl::StatusOr<uint64_t> boundary_term = p.log->Term(boundary);
  if (!boundary_term.ok()) return fail("RaftLog::Term of the boundary", boundary_term.status());
  restored->snapshot.set_last_included_index(boundary);
  restored->snapshot.set_last_included_term(*boundary_term);
  if (p.log->LastLogIndex() >= p.log->FirstIndex()) {
    auto entries = p.log->Entries(p.log->FirstIndex(), p.log->LastLogIndex() + 1,
                                  std::numeric_limits<uint64_t>::max());
    if (!entries.ok()) return fail("RaftLog::Entries", entries.status());
    restored->entries = std::move(*entries);
  }
  checker_.CheckRestoredLog(node.id, p.log->FirstIndex(), restored->entries);
  if (node.snapshot.has_value() && node.snapshot->metadata.has_membership()) {
    // The log may still hold entries the snapshot covers; the snapshot's configuration
    // stands as of its index.
    restored->membership = node.snapshot->metadata.membership();
    restored->membership_index = node.snapshot->metadata.last_included_index();
  }

  const uint64_t snapshot_index =
      node.snapshot.has_value() ? node.snapshot->metadata.last_included_index() : 0;
  if (options_.durable_state_machine) {
    if (restored->hard_state.last_applied() != node.applied.size() ||
        node.applied.size() < snapshot_index) {
      Fail(absl::StrCat("node ", node.id, " persisted last_applied ",
                        restored->hard_state.last_applied(), " and a snapshot at ", snapshot_index,
                        " but its state machine applied ", node.applied.size()));
    }
  } else if (node.snapshot.has_value()) {
    // The volatile state machine starts from the snapshot; the log after it is replayed.
    node.applied = node.snapshot->state;
  } else {
    node.applied.clear();
  }
  restored->hard_state.set_last_applied(node.applied.size());
  return true;
}

}  // namespace raft
}  // namespace resdb
