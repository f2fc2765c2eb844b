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

}  // namespace

ConsensusManagerRaft::ConsensusManagerRaft(const ResDBConfig& config, Stats* stats)
    : ConsensusManager(config, stats),
      self_id_(config.GetSelfId()),
      tick_(raft::Tick(config)),
      client_timeout_(std::max(1, config.GetClientTimeoutMs())),
      sync_(config.IsSyncWrites()),
      queue_(kMaxQueuedWork, kMaxQueuedClientWork),
      published_membership_(config.GetSelfId()),
      metrics_(this->stats()) {}

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
  storage_ = storage;
  const raft::SnapshotSender::Options sender = raft::SenderOptionsFrom(config());
  auto store = raft::RaftStore::Open(storage, prefixes, sync_, sender.chunk_bytes);
  if (!store.ok()) return store.status();
  store_ = std::move(*store);
  OpenSnapshots(sender);

  recorder_ = std::make_unique<ApplyRecorder>(storage, kRaftStatePrefix, staged_state_);
  absl::Status loaded = recorder_->Load();
  if (!loaded.ok()) return loaded;

  // The applied index is the one stored with the applied-request table: the state machine
  // holds at least the entries up to it.
  const uint64_t applied = recorder_->applied_index();
  absl::StatusOr<raft::RaftRestoredState> restored = store_->Restore(applied);
  if (!restored.ok()) return restored.status();

  const uint64_t seed = static_cast<uint64_t>(self_id_) * 0x9E3779B97F4A7C15ULL ^
                        static_cast<uint64_t>(Clock::now().time_since_epoch().count());
  node_ =
      std::make_unique<raft::RaftNode>(raft::NodeOptionsFrom(config(), seed), *std::move(restored));
  auto respond = [this](Response::Status status, const std::string& error) {
    return MakeResponse(status, error);
  };
  OpenMembership();

  rpc_ = std::make_unique<raft::RaftRpc>(self_id_, GetCommunicator());
  ClientSessionsOptions sessions = ClientSessionsOptions::FromConfig(config(), kMaxPendingWrites);
  // The leader does not check client signatures.
  sessions.forward_signatures = false;
  sessions_ = std::make_unique<ClientSessions>(sessions, recorder_->table(), respond,
                                               [this](const Request& message, int64_t to) {
                                                 return GetCommunicator()->SendMessage(message, to);
                                               });
  router_ = std::make_unique<raft::WriteRouter>(self_id_, raft::ForwardRetry(config()), node_.get(),
                                                sessions_.get(), &metrics_, respond);
  auto dedup = std::make_unique<DedupTransactionManager>(std::move(transaction_manager),
                                                         recorder_->table(), stats());
  transaction_manager_ = dedup.get();
  published_.SetApplied(applied);
  reads_ = std::make_unique<raft::PendingReads>(
      applied, [this](std::unique_ptr<Context> context, const std::string& data, uint64_t read_at) {
        metrics_.reads_served->Increment();
        ServeRead(std::move(context), data, read_at, "");
      });
  executor_ = std::make_unique<TransactionExecutor>(
      config(), std::move(dedup),
      [this](uint64_t seq, const BatchUserRequest& batch, BatchUserResponse responses) {
        OnExecuted(seq, batch, std::move(responses));
      },
      applied + 1, stats());
  PublishState();
  SyncMembership();
  LOG(INFO) << "raft replica " << self_id_ << " opened: term " << node_->term() << ", log ["
            << store_->log().FirstIndex() << ", " << store_->log().LastLogIndex() << "], commit "
            << node_->commit_index() << ", applied " << applied;
  return absl::OkStatus();
}

ConsensusManagerRaft::~ConsensusManagerRaft() { Stop(); }

absl::Status ConsensusManagerRaft::Start() {
  return thread_.Start([this] { return ConsensusManager::Start(); }, [this] { RaftLoop(); });
}

void ConsensusManagerRaft::Stop() {
  thread_.BeginStop();
  queue_.Close();
  // The executor first: a raft thread blocked in Commit by the execution window returns.
  if (executor_ != nullptr) executor_->Stop();
  thread_.Join();
  if (snapshot_taker_ != nullptr) snapshot_taker_->Wait();
  if (sessions_ != nullptr) {
    sessions_->FailAll(MakeResponse(Response::UNAVAILABLE, "replica is stopping"));
  }
  if (transfer_ != nullptr) {
    transfer_->Abort(MakeResponse(Response::UNAVAILABLE, "replica is stopping"));
  }
  if (membership_ != nullptr) {
    membership_->Abort(MakeResponse(
        Response::UNAVAILABLE, "replica is stopping; check resdb_admin status for the outcome"));
  }
  if (reads_ != nullptr)
    reads_->FailAll(MakeResponse(Response::UNAVAILABLE, "replica is stopping"));
  ConsensusManager::Stop();
}

Response ConsensusManagerRaft::MakeResponse(Response::Status status,
                                            const std::string& error) const {
  Response response;
  response.set_status(status);
  response.set_error(error);
  response.set_replica_id(self_id_);
  response.set_leader_id(published_.leader_hint());
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
    case Work::kAdmin:
      break;
  }
  return TwoLaneQueue<Work>::Lane::kClient;
}

bool ConsensusManagerRaft::Enqueue(Work work) {
  const auto lane = LaneOf(work.kind);
  if (!queue_.TryPush(lane, std::move(work))) {
    metrics_.queue_dropped->Increment();
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
        metrics_.malformed_messages->Increment();
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
        metrics_.malformed_messages->Increment();
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
      metrics_.stale_reads->Increment();
      ServeRead(std::move(context), request->data(), published_.applied_index(), "stale read");
      return;
    }
    if (!consistency.empty() && consistency != "linearizable") {
      context->Reply(MakeResponse(Response::INVALID_REQUEST,
                                  absl::StrCat("unknown read consistency \"", consistency,
                                               "\" (expected \"linearizable\" or \"stale\")")));
      return;
    }
    if (published_.leader() == 0) {
      context->Reply(NoLeaderResponse("no leader"));
      return;
    }
    const uint64_t read_id = reads_->Add(std::move(context), std::move(*request->mutable_data()),
                                         Clock::now() + client_timeout_);
    Work work;
    work.kind = Work::kRead;
    work.read_id = read_id;
    if (!Enqueue(std::move(work))) {
      reads_->Fail(read_id, MakeResponse(Response::UNAVAILABLE, "replica overloaded"));
    }
    return;
  }

  if (request->client_id() == 0) {
    context->Reply(MakeResponse(Response::INVALID_REQUEST, "a write needs a non-zero client_id"));
    return;
  }
  const UserRequest user_request = ToUserRequest(request.get(), self_id_);
  if (sessions_->AnswerIfApplied(user_request, context.get())) return;
  if (published_.leader() == 0) {
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
  absl::StatusOr<LogQueryResult> result = store_->Query(query);
  if (!result.ok()) {
    return MakeResponse(Response::UNAVAILABLE,
                        absl::StrCat("log query: ", result.status().message()));
  }
  Response response = MakeResponse(Response::OK, "");
  result->SerializeToString(response.mutable_data());
  return response;
}

void ConsensusManagerRaft::HandleAdminRequest(std::unique_ptr<Context> context,
                                              const Request& request) {
  Work work;
  work.kind = Work::kAdmin;
  if (!work.admin.ParseFromString(request.data())) {
    context->Reply(MakeResponse(Response::INVALID_REQUEST, "admin request: bad data"));
    return;
  }
  if (work.admin.action_case() == AdminRequest::ACTION_NOT_SET) {
    context->Reply(MakeResponse(Response::UNIMPLEMENTED, "admin request: unknown action"));
    return;
  }
  work.context = std::move(context);
  // A refused work item takes the call with it; destroying it answers the call.
  if (!Enqueue(std::move(work))) {
    LOG(WARNING) << "raft replica " << self_id_ << ": admin request dropped, queue full";
  }
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
    router_->ProposeQueued();
    DrainReady();
    SyncMembership();
    transfer_->Check(Clock::now());
    membership_->Advance(Clock::now());
    // A step proposed just now goes out in this round.
    DrainReady();
    PublishState();
  }
}

void ConsensusManagerRaft::HandleWork(Work& work) {
  switch (work.kind) {
    case Work::kMessage: {
      if (HandleSnapshotMessage(work.message)) break;
      // A message may change the leader; pending writes follow before new ones are routed.
      CheckLeaderChange();
      break;
    }
    case Work::kWrite:
      router_->Route(work.request);
      break;
    case Work::kAdmin:
      if (work.admin.has_transfer_leader()) {
        transfer_->Start(work.admin.transfer_leader().to(), std::move(work.context), Clock::now());
      } else {
        membership_->Start(work.admin, std::move(work.context), Clock::now());
      }
      break;
    case Work::kSnapshotTaken:
      OnSnapshotTaken(work);
      break;
    case Work::kSnapshotSaved:
      OnSnapshotSaved(work);
      break;
    case Work::kForwarded:
      router_->Forwarded(std::move(work.request));
      break;
    case Work::kRead: {
      absl::Status read = node_->ReadIndex(work.read_id);
      if (!read.ok()) reads_->Fail(work.read_id, NoLeaderResponse("no leader"));
      break;
    }
  }
}

void ConsensusManagerRaft::CheckLeaderChange() {
  if (router_->CheckLeaderChange()) published_.SetLeader(node_->leader_id());
}

void ConsensusManagerRaft::ExpireRequests(Clock::time_point now) {
  router_->Retry(now);
  metrics_.request_timeouts->Increment(sessions_->ExpireDue(
      now, absl::StrCat("not applied within the ", client_timeout_.count(), " ms client timeout")));
  const size_t expired_reads = reads_->Expire(
      now,
      MakeResponse(Response::TIMEOUT, absl::StrCat("read not served within the ",
                                                   client_timeout_.count(), " ms client timeout")));
  metrics_.request_timeouts->Increment(expired_reads);
}

void ConsensusManagerRaft::DrainReady() {
  while (node_->HasReady()) {
    raft::Ready ready = node_->GetReady();
    // Term and vote, the log, then the commit index (ReadyPersister), before any message.
    const size_t appended = ready.entries.size();
    FailStopIfError(absl::StrCat("raft replica ", self_id_), store_->Persist(ready).status());
    if (sync_ && appended > 0) metrics_.log_fsyncs->Increment();
    // 3. Messages.
    for (const raft::RaftMessage& message : ready.messages) rpc_->Send(message);
    // 4. Committed entries, in index order, to the executor.
    for (const raft::Entry& entry : ready.committed_entries) {
      // NOOP and CONFIG entries execute as an empty batch, so that seqs stay contiguous.
      absl::Status status =
          entry.type() == raft::Entry::NORMAL
              ? CommitSerializedBatch(executor_.get(), entry.index(), entry.data())
              : executor_->Commit(entry.index(), BatchUserRequest());
      if (!status.ok() && !thread_.stopping()) {
        LOG(WARNING) << "raft replica " << self_id_ << ": executor refused entry " << entry.index()
                     << ": " << status;
      }
      metrics_.committed_entries->Increment();
    }
    // 5. Reads.
    for (const raft::ReadState& read : ready.read_states)
      reads_->SetIndex(read.context, read.index);
    for (uint64_t read_id : ready.dropped_reads) {
      reads_->Fail(read_id, NoLeaderResponse("read dropped: leadership changed"));
    }
    node_->Advance(ready);
  }
}

void ConsensusManagerRaft::PublishState() {
  published_.Publish(*node_);
  metrics_.term->Set(static_cast<int64_t>(node_->term()));
  metrics_.leader->Set(node_->leader_id());
  metrics_.commit_index->Set(static_cast<int64_t>(node_->commit_index()));
  metrics_.pending_requests->Set(static_cast<int64_t>(sessions_->size()));
}

void ConsensusManagerRaft::ServeRead(std::unique_ptr<Context> context, const std::string& data,
                                     uint64_t applied, const char* note) {
  std::unique_ptr<std::string> result = transaction_manager_->Query(data);
  if (result == nullptr) {
    context->Reply(MakeResponse(Response::UNIMPLEMENTED, "the service has no local reads"));
    return;
  }
  Response response = MakeResponse(Response::OK, note);
  response.set_data(std::move(*result));
  response.set_seq(applied);
  context->Reply(response);
}

void ConsensusManagerRaft::OnExecuted(uint64_t seq, const BatchUserRequest& batch,
                                      BatchUserResponse responses) {
  recorder_->Record(seq, responses);
  published_.SetApplied(seq);
  metrics_.applied_index->Set(static_cast<int64_t>(seq));
  MaybeTakeSnapshot(seq);
  sessions_->AnswerExecuted(seq, batch, responses);
  reads_->SetApplied(seq);
}

ReplicaStatus ConsensusManagerRaft::GetStatus() {
  ReplicaStatus status = ConsensusManager::GetStatus();
  published_.Fill(&status);
  status.set_state_digest(recorder_->state_digest());
  status.set_membership(raft::MemberStateName(published_membership_.state()));
  const raft::Membership membership = published_membership_.membership();
  status.mutable_voters()->CopyFrom(membership.voters());
  status.mutable_learners()->CopyFrom(membership.learners());
  auto& metrics = *status.mutable_metrics();
  for (const char* name : raft::RaftMetrics::StatusCounters()) {
    metrics[name] = static_cast<int64_t>(stats()->CounterValue(name));
  }
  metrics["raft_pending_requests"] = static_cast<int64_t>(sessions_->size());
  return status;
}

}  // namespace resdb
