#include "platform/consensus/ordering/raft/consensus_manager_raft.h"

#include <glog/logging.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "platform/common/fail_stop.h"
#include "platform/consensus/execution/log_record.h"

namespace resdb {
namespace {

// Client writes waiting for apply, per replica.
constexpr size_t kMaxPendingWrites = 20000;
// Work items queued for the raft thread.
constexpr size_t kMaxQueuedWork = 100000;
// Client work (writes, reads, forwarded writes, operators' requests) queued for the protocol
// thread, in a lane of its own, and how much of it one round takes.
constexpr size_t kMaxQueuedClientWork = 50000;
constexpr size_t kClientWorkPerRound = 4096;
// Entries read per call when the log is loaded at start.
constexpr uint64_t kRestoreChunkBytes = 64 << 20;

std::string RoleString(raft::Role role) {
  switch (role) {
    case raft::Role::kFollower:
      return "follower";
    case raft::Role::kPreCandidate:
      return "precandidate";
    case raft::Role::kCandidate:
      return "candidate";
    case raft::Role::kLeader:
      return "leader";
  }
  return "unknown";
}

uint64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

ConsensusManagerRaft::ConsensusManagerRaft(const ResDBConfig& config, Stats* stats)
    : ConsensusManager(config, stats),
      self_id_(config.GetSelfId()),
      tick_(std::max(1, config.GetRaftConfig().heartbeat_interval_ms())),
      client_timeout_(std::max(1, config.GetClientTimeoutMs())),
      sync_(config.IsSyncWrites()),
      forward_retry_(std::max(1000, 2 * config.GetRaftConfig().election_timeout_max_ms())),
      queue_(kMaxQueuedWork, kMaxQueuedClientWork) {
  const RaftConfig& rc = config.GetRaftConfig();
  transfer_timeout_ = std::chrono::milliseconds(std::max(1000, 3 * rc.election_timeout_max_ms()));
  snapshot_threshold_ = static_cast<uint64_t>(std::max<int64_t>(0, rc.snapshot_threshold()));
  log_tail_ = static_cast<uint64_t>(std::max<int64_t>(0, rc.log_tail_after_snapshot()));
  snapshot_chunk_bytes_ = static_cast<uint64_t>(std::max<int64_t>(1, rc.snapshot_chunk_bytes()));
  snapshot_resend_ = std::chrono::milliseconds(std::max(100, rc.election_timeout_max_ms()));
  snapshot_install_patience_ = std::max(std::chrono::milliseconds(10000), 10 * snapshot_resend_);
  Stats* s = this->stats();
  log_fsyncs_ = s->GetCounter("raft_log_fsyncs");
  committed_entries_ = s->GetCounter("raft_committed_entries");
  proposed_requests_ = s->GetCounter("raft_proposed_requests");
  proposals_ = s->GetCounter("raft_proposals");
  forwarded_requests_ = s->GetCounter("raft_forwarded_requests");
  forward_dropped_ = s->GetCounter("raft_forward_dropped");
  queue_dropped_ = s->GetCounter("raft_queue_dropped");
  malformed_messages_ = s->GetCounter("raft_malformed_messages");
  rejected_messages_ = s->GetCounter("raft_rejected_messages");
  reads_served_ = s->GetCounter("raft_linearizable_reads");
  stale_reads_ = s->GetCounter("raft_stale_reads");
  request_timeouts_ = s->GetCounter("raft_request_timeouts");
  snapshots_taken_ = s->GetCounter("raft_snapshots_taken");
  snapshots_sent_ = s->GetCounter("raft_snapshots_sent");
  snapshots_installed_ = s->GetCounter("raft_snapshots_installed");
  snapshot_installs_awaited_ = s->GetCounter("raft_snapshot_installs_awaited");
  term_gauge_ = s->GetGauge("raft_term");
  leader_gauge_ = s->GetGauge("raft_leader_id");
  commit_gauge_ = s->GetGauge("raft_commit_index");
  applied_gauge_ = s->GetGauge("raft_applied_index");
  pending_gauge_ = s->GetGauge("raft_pending_requests");
}

absl::StatusOr<std::unique_ptr<ConsensusManagerRaft>> ConsensusManagerRaft::Create(
    const ResDBConfig& config, std::unique_ptr<TransactionManager> transaction_manager,
    Storage* storage, PrefixAllocator* prefixes, Stats* stats, StagedStorage* staged_state) {
  if (transaction_manager == nullptr || storage == nullptr || prefixes == nullptr) {
    return absl::InvalidArgumentError(
        "raft: transaction manager, storage and prefix allocator are required");
  }
  std::unique_ptr<ConsensusManagerRaft> manager(new ConsensusManagerRaft(config, stats));
  manager->staged_state_ = staged_state;
  absl::Status opened = manager->Open(std::move(transaction_manager), storage, prefixes);
  if (!opened.ok()) return opened;
  return manager;
}

absl::Status ConsensusManagerRaft::Open(std::unique_ptr<TransactionManager> transaction_manager,
                                        Storage* storage, PrefixAllocator* prefixes) {
  auto log_view = prefixes->Allocate(storage, kRaftLogPrefix, "raft log");
  if (!log_view.ok()) return log_view.status();
  log_view_ = std::move(*log_view);
  auto state_view = prefixes->Allocate(storage, kRaftStatePrefix, "raft state");
  if (!state_view.ok()) return state_view.status();
  state_view_ = std::move(*state_view);
  auto snapshot_view = prefixes->Allocate(storage, kRaftSnapshotPrefix, "raft snapshots");
  if (!snapshot_view.ok()) return snapshot_view.status();
  snapshot_view_ = std::move(*snapshot_view);
  storage_ = storage;
  auto snapshots = raft::RaftSnapshotManager::Open(snapshot_view_.get(), snapshot_chunk_bytes_);
  if (!snapshots.ok()) {
    return absl::Status(snapshots.status().code(),
                        absl::StrCat("raft snapshots: ", snapshots.status().message()));
  }
  snapshots_ = std::move(*snapshots);
  if (std::optional<raft::SnapshotMetadata> current = snapshots_->Current()) {
    snapshot_index_.store(current->last_included_index());
  }

  auto log = raft::RaftLog::Open(log_view_.get(), sync_);
  if (!log.ok()) {
    return absl::Status(log.status().code(), absl::StrCat("raft log: ", log.status().message()));
  }
  log_ = std::move(*log);
  auto state = raft::RaftPersistentState::Open(state_view_.get(), sync_);
  if (!state.ok()) {
    return absl::Status(state.status().code(),
                        absl::StrCat("raft state: ", state.status().message()));
  }
  state_ = std::move(*state);
  recorder_ = std::make_unique<ApplyRecorder>(storage, kRaftStatePrefix, staged_state_);
  absl::Status loaded = recorder_->Load();
  if (!loaded.ok()) return loaded;

  raft::RaftRestoredState restored;
  restored.hard_state = state_->hard_state();
  const uint64_t boundary = log_->FirstIndex() - 1;
  restored.snapshot.set_last_included_index(boundary);
  auto boundary_term = log_->Term(boundary);
  if (!boundary_term.ok()) return boundary_term.status();
  restored.snapshot.set_last_included_term(*boundary_term);
  for (uint64_t lo = log_->FirstIndex(); lo <= log_->LastLogIndex();) {
    auto entries = log_->Entries(lo, log_->LastLogIndex() + 1, kRestoreChunkBytes);
    if (!entries.ok()) {
      return absl::Status(entries.status().code(),
                          absl::StrCat("raft log: ", entries.status().message()));
    }
    lo += entries->size();
    for (raft::Entry& entry : *entries) restored.entries.push_back(std::move(entry));
  }
  // The applied index is the one stored with the applied-request table: the state machine
  // holds at least the entries up to it.
  const uint64_t applied = recorder_->applied_index();
  restored.hard_state.set_last_applied(applied);
  restored.hard_state.set_commit_index(
      std::max({restored.hard_state.commit_index(), log_->CommitIndex(), applied}));
  if (applied > log_->LastLogIndex()) {
    return absl::DataLossError(absl::StrCat("raft state: applied index ", applied,
                                            " is beyond the last log index ",
                                            log_->LastLogIndex()));
  }

  // The membership of the latest snapshot holds until CONFIG entries after it say otherwise.
  if (std::optional<raft::SnapshotMetadata> current = snapshots_->Current();
      current.has_value() && current->has_membership()) {
    restored.membership = current->membership();
    restored.membership_index = current->last_included_index();
  }

  const RaftConfig& rc = config().GetRaftConfig();
  raft::RaftNodeOptions options;
  options.id = self_id_;
  // A joining replica learns the membership from the leader; the others start with the
  // replicas of the config file (the log overrides both once it records a change).
  if (!rc.join_existing_cluster()) {
    for (const ReplicaInfo& replica : config().GetReplicaInfos()) {
      options.voters.push_back(replica.id());
    }
  }
  const int tick_ms = static_cast<int>(tick_.count());
  options.election_ticks_min = std::max(2, rc.election_timeout_min_ms() / tick_ms);
  options.election_ticks_max =
      std::max(options.election_ticks_min, rc.election_timeout_max_ms() / tick_ms);
  options.heartbeat_ticks = 1;
  options.max_entries_per_append = static_cast<uint64_t>(rc.max_entries_per_append());
  options.max_bytes_per_append = static_cast<uint64_t>(rc.max_bytes_per_append());
  options.max_inflight_appends = rc.max_inflight_appends();
  options.pre_vote = rc.enable_pre_vote();
  options.check_quorum = rc.enable_check_quorum();
  options.seed = static_cast<uint64_t>(self_id_) * 0x9E3779B97F4A7C15ULL ^
                 static_cast<uint64_t>(Clock::now().time_since_epoch().count());
  node_ = std::make_unique<raft::RaftNode>(options, std::move(restored));

  rpc_ = std::make_unique<raft::RaftRpc>(self_id_, GetCommunicator());
  ClientSessionsOptions sessions;
  sessions.self_id = self_id_;
  sessions.max_pending = kMaxPendingWrites;
  sessions.max_per_client = static_cast<size_t>(config().GetMaxPendingPerClient());
  sessions.timeout = client_timeout_;
  sessions.batch_requests = static_cast<size_t>(std::max(1, config().GetClientBatchNum()));
  sessions.batch_bytes = static_cast<size_t>(config().GetMaxBatchBytes());
  // The leader does not check client signatures.
  sessions.forward_signatures = false;
  sessions_ = std::make_unique<ClientSessions>(
      sessions, recorder_->table(),
      [this](Response::Status status, const std::string& error) {
        return MakeResponse(status, error);
      },
      [this](const Request& message, int64_t to) {
        return GetCommunicator()->SendMessage(message, to);
      });
  auto dedup = std::make_unique<DedupTransactionManager>(std::move(transaction_manager),
                                                         recorder_->table(), stats());
  transaction_manager_ = dedup.get();
  applied_index_.store(applied);
  executor_ = std::make_unique<TransactionExecutor>(
      config(), std::move(dedup),
      [this](uint64_t seq, const BatchUserRequest& batch, BatchUserResponse responses) {
        OnExecuted(seq, batch, std::move(responses));
      },
      applied + 1, stats());
  PublishState();
  SyncMembership();
  LOG(INFO) << "raft replica " << self_id_ << " opened: term " << node_->term() << ", log ["
            << log_->FirstIndex() << ", " << log_->LastLogIndex() << "], commit "
            << node_->commit_index() << ", applied " << applied;
  return absl::OkStatus();
}

ConsensusManagerRaft::~ConsensusManagerRaft() { Stop(); }

absl::Status ConsensusManagerRaft::Start() {
  {
    std::lock_guard<std::mutex> lock(lifecycle_mu_);
    if (started_ || stopping_) {
      return absl::FailedPreconditionError("raft consensus manager already started or stopped");
    }
    started_ = true;
  }
  absl::Status status = ConsensusManager::Start();
  if (!status.ok()) return status;
  raft_thread_ = std::thread([this] { RaftLoop(); });
  return absl::OkStatus();
}

void ConsensusManagerRaft::Stop() {
  {
    std::lock_guard<std::mutex> lock(lifecycle_mu_);
    stopping_ = true;
  }
  stopping_flag_.store(true);
  queue_.Close();
  // The executor first: a raft thread blocked in Commit by the execution window returns.
  if (executor_ != nullptr) executor_->Stop();
  if (raft_thread_.joinable()) raft_thread_.join();
  if (snapshot_thread_.joinable()) snapshot_thread_.join();
  if (sessions_ != nullptr) {
    sessions_->FailAll(MakeResponse(Response::UNAVAILABLE, "replica is stopping"));
  }
  if (transfer_.has_value()) {
    transfer_->context->Reply(MakeResponse(Response::UNAVAILABLE, "replica is stopping"));
    transfer_.reset();
  }
  if (membership_change_.has_value()) {
    membership_change_->context->Reply(MakeResponse(
        Response::UNAVAILABLE, "replica is stopping; check resdb_admin status for the outcome"));
    membership_change_.reset();
  }
  std::map<uint64_t, PendingRead> reads;
  {
    std::lock_guard<std::mutex> lock(reads_mu_);
    reads.swap(reads_);
    waiting_reads_.clear();
  }
  for (auto& [id, read] : reads) {
    read.context->Reply(MakeResponse(Response::UNAVAILABLE, "replica is stopping"));
  }
  ConsensusManager::Stop();
}

Response ConsensusManagerRaft::MakeResponse(Response::Status status,
                                            const std::string& error) const {
  Response response;
  response.set_status(status);
  response.set_error(error);
  response.set_replica_id(self_id_);
  const int64_t leader = leader_.load();
  response.set_leader_id(leader != 0 ? leader : last_known_leader_.load());
  return response;
}

Response ConsensusManagerRaft::NoLeaderResponse(const std::string& why) const {
  return MakeResponse(Response::NO_LEADER, why);
}

TwoLaneQueue<ConsensusManagerRaft::Work>::Lane ConsensusManagerRaft::LaneOf(Work::Kind kind) {
  switch (kind) {
    case Work::kMessage:
    case Work::kSnapshotTaken:
    case Work::kSnapshotSaved:
      return TwoLaneQueue<Work>::Lane::kReplica;
    case Work::kWrite:
    case Work::kForwarded:
    case Work::kRead:
    case Work::kTransferLeader:
    case Work::kMembership:
      break;
  }
  return TwoLaneQueue<Work>::Lane::kClient;
}

bool ConsensusManagerRaft::Enqueue(Work work) {
  const auto lane = LaneOf(work.kind);
  if (!queue_.TryPush(lane, std::move(work))) {
    queue_dropped_->Increment();
    return false;
  }
  return true;
}

int ConsensusManagerRaft::OnClientCall(std::unique_ptr<Context> context,
                                       std::unique_ptr<Request> request) {
  if (AnswerStatusRequest(*request, context.get())) return 0;
  switch (request->type()) {
    case Request::TYPE_CUSTOM_CONSENSUS:
      context->Reply(
          MakeResponse(Response::INVALID_REQUEST, "raft messages are accepted from replicas only"));
      return -1;
    case Request::TYPE_CLIENT_REQUEST:
      HandleClientRequest(std::move(context), std::move(request));
      return 0;
    case Request::TYPE_QUERY:
      // An explicit read: served like a read-only client request, never ordered.
      if (!transaction_manager_->IsReadOnly(request->data())) {
        context->Reply(MakeResponse(Response::INVALID_REQUEST,
                                    "TYPE_QUERY carries a request that is not read-only"));
        return 0;
      }
      HandleClientRequest(std::move(context), std::move(request));
      return 0;
    case Request::TYPE_CUSTOM_QUERY:
      context->Reply(AnswerLogQuery(*request));
      return 0;
    case Request::TYPE_ADMIN:
      HandleAdminRequest(std::move(context), *request);
      return 0;
    case Request::TYPE_HEART_BEAT:
      return 0;
    default:
      context->Reply(MakeResponse(
          Response::UNIMPLEMENTED,
          absl::StrCat("raft replicas do not serve ", Request::Type_Name(request->type()))));
      return -1;
  }
}

int ConsensusManagerRaft::OnReplicaMessage(std::unique_ptr<Request> request, ResDBMessage) {
  switch (request->type()) {
    case Request::TYPE_CUSTOM_CONSENSUS: {
      auto message = raft::RaftRpc::FromRequest(self_id_, *request);
      if (!message.ok()) {
        malformed_messages_->Increment();
        return -1;
      }
      Work work;
      work.kind = Work::kMessage;
      work.message = std::move(*message);
      return Enqueue(std::move(work)) ? 0 : -1;
    }
    case Request::TYPE_CLIENT_REQUEST: {
      // A write another replica forwards to this one as leader; the forwarder holds the
      // client's call and names itself as the proxy.
      if (request->proxy_id() <= 0 || request->proxy_id() != request->sender_id() ||
          request->client_id() == 0) {
        malformed_messages_->Increment();
        return -1;
      }
      Work work;
      work.kind = Work::kForwarded;
      work.request = ToUserRequest(request.get(), request->proxy_id());
      return Enqueue(std::move(work)) ? 0 : -1;
    }
    case Request::TYPE_HEART_BEAT:
    case Request::TYPE_STATUS:
      return 0;
    default:
      return -1;
  }
}

void ConsensusManagerRaft::HandleClientRequest(std::unique_ptr<Context> context,
                                               std::unique_ptr<Request> request) {
  if (RefuseIfNotMember(context.get())) return;
  if (transaction_manager_->IsReadOnly(request->data())) {
    const std::string& consistency = request->consistency();
    if (consistency == "stale") {
      stale_reads_->Increment();
      std::unique_ptr<std::string> result = transaction_manager_->Query(request->data());
      if (result == nullptr) {
        context->Reply(MakeResponse(Response::UNIMPLEMENTED, "the service has no local reads"));
        return;
      }
      Response response = MakeResponse(Response::OK, "stale read");
      response.set_data(std::move(*result));
      response.set_seq(applied_index_.load());
      context->Reply(response);
      return;
    }
    if (!consistency.empty() && consistency != "linearizable") {
      context->Reply(MakeResponse(Response::INVALID_REQUEST,
                                  absl::StrCat("unknown read consistency \"", consistency,
                                               "\" (expected \"linearizable\" or \"stale\")")));
      return;
    }
    if (leader_.load() == 0) {
      context->Reply(NoLeaderResponse("no leader"));
      return;
    }
    const uint64_t read_id = next_read_id_.fetch_add(1);
    {
      std::lock_guard<std::mutex> lock(reads_mu_);
      PendingRead& read = reads_[read_id];
      read.context = std::move(context);
      read.data = std::move(*request->mutable_data());
      read.deadline = Clock::now() + client_timeout_;
    }
    Work work;
    work.kind = Work::kRead;
    work.read_id = read_id;
    if (!Enqueue(std::move(work))) {
      FailRead(read_id, MakeResponse(Response::UNAVAILABLE, "replica overloaded"));
    }
    return;
  }

  if (request->client_id() == 0) {
    context->Reply(MakeResponse(Response::INVALID_REQUEST, "a write needs a non-zero client_id"));
    return;
  }
  const UserRequest user_request = ToUserRequest(request.get(), self_id_);
  if (sessions_->AnswerIfApplied(user_request, context.get())) return;
  if (leader_.load() == 0) {
    context->Reply(NoLeaderResponse("no leader"));
    return;
  }
  if (!sessions_->Track(user_request, &context)) return;
  Work work;
  work.kind = Work::kWrite;
  work.request = user_request;
  if (!Enqueue(std::move(work))) {
    sessions_->Fail(user_request, MakeResponse(Response::UNAVAILABLE, "replica overloaded"));
  }
}

Response ConsensusManagerRaft::AnswerLogQuery(const Request& request) {
  LogQuery query;
  if (!query.ParseFromString(request.data())) {
    return MakeResponse(Response::INVALID_REQUEST, "log query: bad data");
  }
  LogQueryResult result;
  result.set_commit_index(log_->CommitIndex());
  const uint64_t first = log_->FirstIndex();
  const uint64_t last = log_->LastLogIndex();
  result.set_first_index(first);
  result.set_last_index(last);
  const uint64_t from = std::max(first, query.first());
  if (from <= last) {
    const uint64_t to = std::min<uint64_t>(last, from + LogQueryLimit(query) - 1);
    absl::StatusOr<std::vector<raft::Entry>> entries =
        log_->Entries(from, to + 1, std::numeric_limits<uint64_t>::max());
    if (!entries.ok()) {
      // Compacted between the bounds and the read: the caller asks again.
      return MakeResponse(Response::UNAVAILABLE,
                          absl::StrCat("log query: ", entries.status().message()));
    }
    for (const raft::Entry& entry : *entries) {
      const char* kind = entry.type() == raft::Entry::NOOP     ? "noop"
                         : entry.type() == raft::Entry::CONFIG ? "config"
                                                               : "normal";
      *result.add_records() = DescribeBatch(entry.index(), entry.term(), kind, entry.data());
    }
  }
  if (std::optional<raft::SnapshotMetadata> snapshot = snapshots_->Current()) {
    result.set_snapshot_index(snapshot->last_included_index());
    result.set_snapshot_term(snapshot->last_included_term());
    result.set_snapshot_bytes(snapshot->size());
  }
  Response response = MakeResponse(Response::OK, "");
  result.SerializeToString(response.mutable_data());
  return response;
}

void ConsensusManagerRaft::HandleAdminRequest(std::unique_ptr<Context> context,
                                              const Request& request) {
  AdminRequest admin;
  if (!admin.ParseFromString(request.data())) {
    context->Reply(MakeResponse(Response::INVALID_REQUEST, "admin request: bad data"));
    return;
  }
  switch (admin.action_case()) {
    case AdminRequest::kTransferLeader: {
      Work work;
      work.kind = Work::kTransferLeader;
      work.transfer_to = admin.transfer_leader().to();
      work.context = std::move(context);
      if (!Enqueue(std::move(work))) {
        // The refused work took the context with it; destroying it answered the call.
        LOG(WARNING) << "raft replica " << self_id_ << ": transfer request dropped, queue full";
      }
      return;
    }
    case AdminRequest::kAddReplica:
    case AdminRequest::kRemoveReplica: {
      Work work;
      work.kind = Work::kMembership;
      work.admin = std::move(admin);
      work.context = std::move(context);
      if (!Enqueue(std::move(work))) {
        LOG(WARNING) << "raft replica " << self_id_ << ": membership request dropped, queue full";
      }
      return;
    }
    default:
      context->Reply(MakeResponse(Response::UNIMPLEMENTED, "admin request: unknown action"));
      return;
  }
}

void ConsensusManagerRaft::StartTransfer(int64_t to, std::unique_ptr<Context> context) {
  if (transfer_.has_value()) {
    context->Reply(MakeResponse(Response::UNAVAILABLE,
                                absl::StrCat("a leadership transfer to ", transfer_->to,
                                             " is in progress; try again when it ends")));
    return;
  }
  if (node_->role() != raft::Role::kLeader) {
    context->Reply(
        NoLeaderResponse(absl::StrCat("replica ", self_id_, " is not the leader; ask the leader")));
    return;
  }
  if (to == self_id_) {
    context->Reply(MakeResponse(Response::OK, "already the leader"));
    return;
  }
  absl::Status started = node_->TransferLeadership(to);
  if (!started.ok()) {
    context->Reply(
        MakeResponse(Response::INVALID_REQUEST,
                     absl::StrCat("cannot transfer leadership to ", to, ": ", started.message())));
    return;
  }
  LOG(INFO) << "raft replica " << self_id_ << ": transferring leadership to " << to;
  transfer_ = PendingTransfer{to, std::move(context), Clock::now() + transfer_timeout_};
}

void ConsensusManagerRaft::CheckTransfer(Clock::time_point now) {
  if (!transfer_.has_value()) return;
  const int64_t to = transfer_->to;
  std::optional<Response> answer;
  if (node_->leader_id() == to) {
    answer =
        MakeResponse(Response::OK, absl::StrCat("replica ", to, " leads in term ", node_->term()));
  } else if (node_->role() == raft::Role::kLeader && node_->lead_transferee() == 0) {
    answer = MakeResponse(
        Response::TIMEOUT,
        absl::StrCat("replica ", to, " did not take over within an election timeout; replica ",
                     self_id_, " still leads"));
  } else if (now >= transfer_->deadline) {
    answer = MakeResponse(Response::TIMEOUT,
                          absl::StrCat("replica ", to, " was not seen leading within ",
                                       transfer_timeout_.count(), " ms"));
  }
  if (!answer.has_value()) return;
  transfer_->context->Reply(*answer);
  transfer_.reset();
}

void ConsensusManagerRaft::RaftLoop() {
  Clock::time_point next_tick = Clock::now() + tick_;
  std::vector<Work> work;
  while (true) {
    if (!queue_.WaitForItems(next_tick)) return;
    work = queue_.PopRound(kMaxQueuedWork, kClientWorkPerRound);
    for (Work& item : work) HandleWork(item);
    work.clear();

    const Clock::time_point now = Clock::now();
    if (now >= next_tick) {
      // After a long stall, tick once rather than catching up on every missed tick.
      if (now - next_tick > 5 * tick_) next_tick = now;
      while (now >= next_tick) {
        node_->Tick();
        next_tick += tick_;
      }
      ExpireRequests(now);
      // Once per tick: a follower's answer sends the next chunk at once.
      SendSnapshots(now);
    }
    CheckLeaderChange();
    ProposePending();
    DrainReady();
    SyncMembership();
    CheckTransfer(Clock::now());
    AdvanceMembershipChange(Clock::now());
    // A step proposed just now goes out in this round.
    DrainReady();
    PublishState();
  }
}

void ConsensusManagerRaft::HandleWork(Work& work) {
  switch (work.kind) {
    case Work::kMessage: {
      if (const auto* install = std::get_if<raft::InstallSnapshotRequest>(&work.message.payload)) {
        HandleInstallSnapshotRequest(work.message.from, *install);
        break;
      }
      absl::Status stepped = node_->Step(work.message);
      if (!stepped.ok()) rejected_messages_->Increment();
      if (const auto* answer = std::get_if<raft::InstallSnapshotResponse>(&work.message.payload)) {
        HandleInstallSnapshotResponse(work.message.from, *answer);
      }
      // A message may change the leader; pending writes follow before new ones are routed.
      CheckLeaderChange();
      break;
    }
    case Work::kWrite:
      RouteWrite(work.request);
      break;
    case Work::kTransferLeader:
      StartTransfer(work.transfer_to, std::move(work.context));
      break;
    case Work::kMembership:
      StartMembershipChange(work);
      break;
    case Work::kSnapshotTaken:
      OnSnapshotTaken(work);
      break;
    case Work::kSnapshotSaved:
      OnSnapshotSaved(work);
      break;
    case Work::kForwarded:
      if (node_->role() == raft::Role::kLeader) {
        sessions_->Queue(std::move(work.request));
      } else {
        forward_dropped_->Increment();
      }
      break;
    case Work::kRead: {
      absl::Status read = node_->ReadIndex(work.read_id);
      if (!read.ok()) FailRead(work.read_id, NoLeaderResponse("no leader"));
      break;
    }
  }
}

void ConsensusManagerRaft::RouteWrite(const UserRequest& request) {
  if (node_->role() == raft::Role::kLeader) {
    sessions_->Queue(request);
    return;
  }
  const int64_t leader = node_->leader_id();
  if (leader == 0) {
    sessions_->Fail(request, NoLeaderResponse("no leader"));
    return;
  }
  if (sessions_->Forward(request, leader)) {
    forwarded_requests_->Increment();
  } else {
    forward_dropped_->Increment();
    sessions_->Fail(
        request, MakeResponse(Response::UNAVAILABLE, absl::StrCat("cannot reach leader ", leader)));
  }
}

void ConsensusManagerRaft::ProposePending() {
  if (!sessions_->HasQueued()) return;
  if (node_->role() != raft::Role::kLeader) {
    for (const UserRequest& request : sessions_->TakeQueued()) {
      if (request.proxy_id() == self_id_) {
        RouteWrite(request);
      } else {
        forward_dropped_->Increment();
      }
    }
    return;
  }
  sessions_->ProposeQueued([this](BatchUserRequest& batch, size_t count) {
    batch.set_create_time_us(NowMicros());
    std::string data;
    batch.SerializeToString(&data);
    absl::StatusOr<uint64_t> index = node_->Propose(std::move(data));
    if (index.ok()) {
      proposals_->Increment();
      proposed_requests_->Increment(count);
      return true;
    }
    for (const UserRequest& request : batch.requests()) {
      if (request.proxy_id() != self_id_) continue;
      sessions_->Fail(request,
                      MakeResponse(Response::UNAVAILABLE,
                                   absl::StrCat("proposal refused: ", index.status().message())));
    }
    return true;
  });
}

void ConsensusManagerRaft::CheckLeaderChange() {
  const int64_t leader = node_->leader_id();
  if (leader == last_leader_) return;
  LOG(INFO) << "raft replica " << self_id_ << ": leader " << last_leader_ << " -> " << leader
            << " in term " << node_->term();
  last_leader_ = leader;
  leader_.store(leader);
  if (leader != 0) last_known_leader_.store(leader);
  if (leader == 0) {
    sessions_->FailAll(NoLeaderResponse("no leader (leader lost)"));
    return;
  }
  // Whatever the old leader did not commit may be lost: send every pending write again.
  // The applied-request table keeps a write that ends up twice in the log from applying twice.
  for (const UserRequest& request : sessions_->Pending()) RouteWrite(request);
}

void ConsensusManagerRaft::ExpireRequests(Clock::time_point now) {
  // A forwarded write can be lost on the way (delivery is at most once): forward what waits
  // long again. The leader itself does not: its proposal either commits or is overwritten by
  // a new leader, which CheckLeaderChange handles.
  if (node_->role() != raft::Role::kLeader) {
    for (const UserRequest& request : sessions_->TakeDueForRetry(now, forward_retry_)) {
      RouteWrite(request);
    }
  }
  request_timeouts_->Increment(sessions_->ExpireDue(
      now, absl::StrCat("not applied within the ", client_timeout_.count(), " ms client timeout")));
  std::vector<PendingRead> expired_reads;
  {
    std::lock_guard<std::mutex> lock(reads_mu_);
    for (auto it = reads_.begin(); it != reads_.end();) {
      if (it->second.deadline <= now) {
        if (it->second.index != 0) {
          auto range = waiting_reads_.equal_range(it->second.index);
          for (auto w = range.first; w != range.second; ++w) {
            if (w->second == it->first) {
              waiting_reads_.erase(w);
              break;
            }
          }
        }
        expired_reads.push_back(std::move(it->second));
        it = reads_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (PendingRead& read : expired_reads) {
    request_timeouts_->Increment();
    read.context->Reply(MakeResponse(
        Response::TIMEOUT, absl::StrCat("read not served within the ", client_timeout_.count(),
                                        " ms client timeout")));
  }
}

void ConsensusManagerRaft::DrainReady() {
  while (node_->HasReady()) {
    raft::Ready ready = node_->GetReady();
    // 0. An installed snapshot moves the log's start past it, before any other log change.
    if (ready.snapshot.has_value()) {
      FailStopIfError(
          absl::StrCat("raft replica ", self_id_, ": cannot move the log past snapshot ",
                       ready.snapshot->last_included_index()),
          log_->CompactTo(ready.snapshot->last_included_index(),
                          ready.snapshot->last_included_term()));
    }
    // 1. Term and vote, synced before anything that depends on them is sent.
    if (ready.hard_state.has_value() &&
        (ready.hard_state->current_term() != state_->current_term() ||
         ready.hard_state->voted_for() != state_->voted_for())) {
      FailStopIfError(
          absl::StrCat("raft replica ", self_id_, ": cannot persist term and vote"),
          state_->SetTermAndVote(ready.hard_state->current_term(), ready.hard_state->voted_for()));
    }
    // 2. Log changes: truncation, then the new entries as one synced write.
    if (ready.truncate_from != 0) {
      FailStopIfError(absl::StrCat("raft replica ", self_id_, ": cannot truncate the log"),
                      log_->Truncate(ready.truncate_from));
    }
    if (!ready.entries.empty()) {
      FailStopIfError(absl::StrCat("raft replica ", self_id_, ": cannot append to the log"),
                      log_->Append(ready.entries));
      if (sync_) log_fsyncs_->Increment();
    }
    // The commit index is recorded only after the log holds the entries it covers: recorded
    // earlier, a crash between the two writes would restart this replica with a commit index
    // over stale entries that the Ready was replacing, and it would apply them.
    const uint64_t commit = std::min(node_->commit_index(), log_->LastLogIndex());
    if (commit > log_->CommitIndex()) {
      FailStopIfError(absl::StrCat("raft replica ", self_id_, ": cannot record the commit index"),
                      log_->CommitTo(commit));
    }
    if (commit > state_->commit_index()) {
      FailStopIfError(absl::StrCat("raft replica ", self_id_, ": cannot record the commit index"),
                      state_->SetCommitIndex(commit));
    }
    // 3. Messages.
    for (const raft::RaftMessage& message : ready.messages) rpc_->Send(message);
    // 4. Committed entries, in index order, to the executor.
    for (const raft::Entry& entry : ready.committed_entries) {
      // NOOP and CONFIG entries execute as an empty batch, so that seqs stay contiguous.
      absl::Status status =
          entry.type() == raft::Entry::NORMAL
              ? CommitSerializedBatch(executor_.get(), entry.index(), entry.data())
              : executor_->Commit(entry.index(), BatchUserRequest());
      if (!status.ok() && !stopping_flag_.load()) {
        LOG(WARNING) << "raft replica " << self_id_ << ": executor refused entry " << entry.index()
                     << ": " << status;
      }
      committed_entries_->Increment();
    }
    // 5. Reads.
    for (const raft::ReadState& read : ready.read_states) SetReadIndex(read.context, read.index);
    for (uint64_t read_id : ready.dropped_reads) {
      FailRead(read_id, NoLeaderResponse("read dropped: leadership changed"));
    }
    node_->Advance(ready);
  }
}

void ConsensusManagerRaft::PublishState() {
  const int64_t leader = node_->leader_id();
  leader_.store(leader);
  if (leader != 0) last_known_leader_.store(leader);
  term_.store(node_->term());
  role_.store(static_cast<int>(node_->role()));
  commit_index_.store(node_->commit_index());
  first_index_.store(node_->first_index());
  last_index_.store(node_->last_index());
  term_gauge_->Set(static_cast<int64_t>(node_->term()));
  leader_gauge_->Set(leader);
  commit_gauge_->Set(static_cast<int64_t>(node_->commit_index()));
  pending_gauge_->Set(static_cast<int64_t>(sessions_->size()));
}

void ConsensusManagerRaft::FailRead(uint64_t read_id, const Response& response) {
  PendingRead read;
  {
    std::lock_guard<std::mutex> lock(reads_mu_);
    auto it = reads_.find(read_id);
    if (it == reads_.end()) return;
    read = std::move(it->second);
    reads_.erase(it);
    if (read.index != 0) {
      auto range = waiting_reads_.equal_range(read.index);
      for (auto w = range.first; w != range.second; ++w) {
        if (w->second == read_id) {
          waiting_reads_.erase(w);
          break;
        }
      }
    }
  }
  read.context->Reply(response);
}

void ConsensusManagerRaft::SetReadIndex(uint64_t read_id, uint64_t index) {
  PendingRead ready;
  {
    std::lock_guard<std::mutex> lock(reads_mu_);
    auto it = reads_.find(read_id);
    if (it == reads_.end()) return;  // expired meanwhile
    // Checked under the lock that OnExecuted's ServeReadsUpTo takes after publishing the
    // applied index, so a read is either served here or found by ServeReadsUpTo.
    const uint64_t applied = applied_index_.load();
    if (applied < index) {
      it->second.index = std::max<uint64_t>(index, 1);
      waiting_reads_.emplace(it->second.index, read_id);
      return;
    }
    ready = std::move(it->second);
    reads_.erase(it);
  }
  ServeRead(std::move(ready), applied_index_.load());
}

void ConsensusManagerRaft::ServeReadsUpTo(uint64_t applied) {
  std::vector<PendingRead> ready;
  {
    std::lock_guard<std::mutex> lock(reads_mu_);
    while (!waiting_reads_.empty() && waiting_reads_.begin()->first <= applied) {
      auto it = reads_.find(waiting_reads_.begin()->second);
      waiting_reads_.erase(waiting_reads_.begin());
      if (it == reads_.end()) continue;
      ready.push_back(std::move(it->second));
      reads_.erase(it);
    }
  }
  for (PendingRead& read : ready) ServeRead(std::move(read), applied);
}

void ConsensusManagerRaft::ServeRead(PendingRead read, uint64_t applied) {
  reads_served_->Increment();
  std::unique_ptr<std::string> result = transaction_manager_->Query(read.data);
  if (result == nullptr) {
    read.context->Reply(MakeResponse(Response::UNIMPLEMENTED, "the service has no local reads"));
    return;
  }
  Response response = MakeResponse(Response::OK, "");
  response.set_data(std::move(*result));
  response.set_seq(applied);
  read.context->Reply(response);
}

void ConsensusManagerRaft::OnExecuted(uint64_t seq, const BatchUserRequest& batch,
                                      BatchUserResponse responses) {
  recorder_->Record(seq, responses);
  applied_index_.store(seq);
  applied_gauge_->Set(static_cast<int64_t>(seq));
  MaybeTakeSnapshot(seq);
  sessions_->AnswerExecuted(seq, batch, responses);
  ServeReadsUpTo(seq);
}

ReplicaStatus ConsensusManagerRaft::GetStatus() {
  ReplicaStatus status = ConsensusManager::GetStatus();
  status.set_role(RoleString(static_cast<raft::Role>(role_.load())));
  status.set_commit_index(commit_index_.load());
  status.set_applied_index(applied_index_.load());
  status.set_first_index(first_index_.load());
  status.set_last_index(last_index_.load());
  status.set_snapshot_index(snapshot_index_.load());
  status.set_state_digest(recorder_->state_digest());
  status.set_membership(MemberStateName(member_state_.load()));
  {
    std::lock_guard<std::mutex> lock(membership_mu_);
    status.mutable_voters()->CopyFrom(published_membership_.voters());
    status.mutable_learners()->CopyFrom(published_membership_.learners());
  }
  auto& metrics = *status.mutable_metrics();
  for (const char* name :
       {"raft_log_fsyncs", "raft_committed_entries", "raft_proposed_requests", "raft_proposals",
        "raft_forwarded_requests", "raft_forward_dropped", "raft_queue_dropped",
        "executor_duplicate_requests", "raft_linearizable_reads", "raft_stale_reads",
        "raft_request_timeouts", "raft_malformed_messages", "raft_snapshots_taken",
        "raft_snapshots_sent", "raft_snapshots_installed", "raft_snapshot_installs_awaited"}) {
    metrics[name] = static_cast<int64_t>(stats()->CounterValue(name));
  }
  metrics["raft_pending_requests"] = static_cast<int64_t>(sessions_->size());
  return status;
}

}  // namespace resdb
