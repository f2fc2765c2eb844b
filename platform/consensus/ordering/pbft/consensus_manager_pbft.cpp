#include "platform/consensus/ordering/pbft/consensus_manager_pbft.h"

#include <glog/logging.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "platform/common/fail_stop.h"
#include "platform/consensus/ordering/pbft/replica_config.h"
#include "platform/storage/prefixed_storage.h"

namespace resdb {
namespace {

// Where the ApplyRecorder keeps its records, inside the "pbft_" prefix.
constexpr char kAppliedSubprefix[] = "applied/";

constexpr size_t kMaxPendingRequests = 20000;
constexpr size_t kMaxQueuedWork = 100000;
// Client work (writes, reads, forwarded writes, operators' requests) queued for the protocol
// thread, in a lane of its own, and how much of it one round takes.
constexpr size_t kMaxQueuedClientWork = 50000;
constexpr size_t kClientWorkPerRound = 4096;
// Request keys the primary remembers having proposed, to drop the copies clients send
// through every replica.
constexpr size_t kRecentKeys = 200000;

}  // namespace

ConsensusManagerPBFT::Metrics::Metrics(Stats* stats)
    : proposals(stats->GetCounter("pbft_proposals")),
      proposed_requests(stats->GetCounter("pbft_proposed_requests")),
      forwarded_requests(stats->GetCounter("pbft_forwarded_requests")),
      queue_dropped(stats->GetCounter("pbft_queue_dropped")),
      rejected_messages(stats->GetCounter("pbft_rejected_messages")),
      unsigned_requests(stats->GetCounter("pbft_unsigned_client_requests")),
      request_timeouts(stats->GetCounter("pbft_request_timeouts")),
      wal_writes(stats->GetCounter("pbft_wal_writes")),
      duplicate_proposals(stats->GetCounter("pbft_duplicate_proposals")) {}

ConsensusManagerPBFT::ConsensusManagerPBFT(const ResDBConfig& config, Stats* stats)
    : ConsensusManager(config, stats),
      self_id_(config.GetSelfId()),
      tick_(pbft::TickMs(config)),
      verify_clients_(config.GetConfigData().require_signatures()),
      metrics_(this->stats()),
      replica_(config.GetSelfId(), config.GetReplicaNum(),
               pbft::WithEvidenceCheck(
                   pbft::OptionsFrom(config), config, &replica_keys_,
                   [this](absl::string_view data) { return GetCommunicator()->Sign(data); })),
      queue_(kMaxQueuedWork, kMaxQueuedClientWork),
      recent_proposals_(kRecentKeys) {}

absl::StatusOr<std::unique_ptr<ConsensusManagerPBFT>> ConsensusManagerPBFT::Create(
    const ResDBConfig& config, std::unique_ptr<TransactionManager> transaction_manager,
    Storage* storage, PrefixAllocator* prefixes, Stats* stats, StagedStorage* staged_state) {
  if (transaction_manager == nullptr || storage == nullptr || prefixes == nullptr) {
    return absl::InvalidArgumentError(
        "pbft: transaction manager, storage and prefix allocator are required");
  }
  absl::Status fits = pbft::CheckNewViewFits(config);
  if (!fits.ok()) return fits;
  std::unique_ptr<ConsensusManagerPBFT> manager(new ConsensusManagerPBFT(config, stats));
  absl::Status opened =
      manager->Open(std::move(transaction_manager), storage, prefixes, staged_state);
  if (!opened.ok()) return opened;
  return manager;
}

absl::Status ConsensusManagerPBFT::Open(std::unique_ptr<TransactionManager> transaction_manager,
                                        Storage* storage, PrefixAllocator* prefixes,
                                        StagedStorage* staged_state) {
  auto pbft_view = prefixes->Allocate(storage, kPbftPrefix, "pbft");
  if (!pbft_view.ok()) return pbft_view.status();
  pbft_view_ = std::move(*pbft_view);
  wal_view_ = std::make_unique<PrefixedStorage>(pbft_view_.get(), "wal/");

  auto wal = pbft::PbftWal::Open(wal_view_.get(), config().GetConfigData().sync_writes());
  if (!wal.ok()) {
    return absl::Status(wal.status().code(), absl::StrCat("pbft log: ", wal.status().message()));
  }
  wal_ = std::move(*wal);
  ledger_ = std::make_unique<pbft::LedgerReader>(wal_.get());
  recorder_ = std::make_unique<ApplyRecorder>(storage, absl::StrCat(kPbftPrefix, kAppliedSubprefix),
                                              staged_state);
  absl::Status loaded = recorder_->Load();
  if (!loaded.ok()) {
    return absl::Status(loaded.code(), absl::StrCat("pbft ", loaded.message()));
  }
  auto keys = pbft::LoadReplicaKeys(config());
  if (!keys.ok()) return keys.status();
  replica_keys_ = std::move(*keys);
  const uint64_t executed = recorder_->applied_index();
  const pbft::RestoredState& restored = wal_->restored();
  if (executed > restored.last_committed) {
    return absl::DataLossError(absl::StrCat("pbft: executed seq ", executed,
                                            " is beyond the last committed seq ",
                                            restored.last_committed, " of the ledger"));
  }
  replica_.Restore(restored);
  executed_seq_.store(executed);

  sessions_ = std::make_unique<ClientSessions>(
      ClientSessionsOptions::FromConfig(config(), kMaxPendingRequests), recorder_->table(),
      [this](Response::Status status, const std::string& error) {
        return MakeResponse(status, error);
      },
      [this](const Request& message, int64_t to) {
        return GetCommunicator()->SendMessage(message, to);
      });

  executor_ = std::make_unique<TransactionExecutor>(
      config(),
      std::make_unique<DedupTransactionManager>(std::move(transaction_manager), recorder_->table(),
                                                stats()),
      [this](uint64_t seq, const BatchUserRequest& batch, BatchUserResponse responses) {
        OnExecuted(seq, batch, std::move(responses));
      },
      executed + 1, stats());
  PublishState();
  LOG(INFO) << "pbft replica " << self_id_ << " opened: view " << restored.view << ", stable "
            << restored.stable.seq() << ", committed " << restored.last_committed << ", executed "
            << executed;
  return absl::OkStatus();
}

ConsensusManagerPBFT::~ConsensusManagerPBFT() { Stop(); }

absl::Status ConsensusManagerPBFT::Start() {
  return thread_.Start([this] { return ConsensusManager::Start(); }, [this] { Loop(); });
}

void ConsensusManagerPBFT::Stop() {
  thread_.BeginStop();
  queue_.Close();
  if (executor_ != nullptr) executor_->Stop();
  thread_.Join();
  if (sessions_ != nullptr) {
    sessions_->FailAll(MakeResponse(Response::UNAVAILABLE, "replica is stopping"));
  }
  ConsensusManager::Stop();
}

Response ConsensusManagerPBFT::MakeResponse(Response::Status status,
                                            const std::string& error) const {
  Response response;
  response.set_status(status);
  response.set_error(error);
  response.set_replica_id(self_id_);
  response.set_leader_id(primary_.load());
  return response;
}

TwoLaneQueue<ConsensusManagerPBFT::Work>::Lane ConsensusManagerPBFT::LaneOf(Work::Kind kind) {
  switch (kind) {
    case Work::kMessage:
    case Work::kExecuted:
      return TwoLaneQueue<Work>::Lane::kReplica;
    case Work::kWrite:
      break;
  }
  return TwoLaneQueue<Work>::Lane::kClient;
}

bool ConsensusManagerPBFT::Enqueue(Work work) {
  const auto lane = LaneOf(work.kind);
  if (!queue_.TryPush(lane, std::move(work))) {
    metrics_.queue_dropped->Increment();
    return false;
  }
  return true;
}

int ConsensusManagerPBFT::OnClientCall(std::unique_ptr<Context> context,
                                       std::unique_ptr<Request> request) {
  if (AnswerStatusRequest(*request, context.get())) return 0;
  if (pbft::IsProtocolMessage(request->type())) {
    context->Reply(
        MakeResponse(Response::INVALID_REQUEST, "pbft messages are accepted from replicas only"));
    return -1;
  }
  switch (request->type()) {
    case Request::TYPE_CLIENT_REQUEST:
    case Request::TYPE_QUERY:
      HandleClientRequest(std::move(context), std::move(request));
      return 0;
    case Request::TYPE_CUSTOM_QUERY:
      context->Reply(AnswerLogQuery(*request));
      return 0;
    case Request::TYPE_HEART_BEAT:
      return 0;
    default:
      context->Reply(MakeResponse(
          Response::UNIMPLEMENTED,
          absl::StrCat("pbft replicas do not serve ", Request::Type_Name(request->type()))));
      return -1;
  }
}

int ConsensusManagerPBFT::OnReplicaMessage(std::unique_ptr<Request> request,
                                           ResDBMessage envelope) {
  if (pbft::IsProtocolMessage(request->type())) {
    // Checked here, on the transport's threads, so the protocol thread never waits on it: a
    // PRE_PREPARE must not propose a request its client did not sign (a faulty primary's
    // forgery). A NEWVIEW names batches by digest only.
    if (verify_clients_ && !client_verifier_.VerifyProposedBatch(*request)) {
      metrics_.unsigned_requests->Increment();
      metrics_.rejected_messages->Increment();
      return -1;
    }
    Work work;
    work.kind = Work::kMessage;
    work.message = std::move(*request);
    // What the transport verified: kept by the replica as evidence it may relay.
    work.envelope.set_data(std::move(*envelope.mutable_data()));
    work.envelope.set_signer(envelope.signature().node_id());
    work.envelope.set_signature(std::move(*envelope.mutable_signature()->mutable_signature()));
    return Enqueue(std::move(work)) ? 0 : -1;
  }
  switch (request->type()) {
    case Request::TYPE_CLIENT_REQUEST:
    case Request::TYPE_QUERY:
      return HandleForwardedRequest(std::move(request));
    case Request::TYPE_HEART_BEAT:
    case Request::TYPE_STATUS:
      return 0;
    default:
      return -1;
  }
}

int ConsensusManagerPBFT::HandleForwardedRequest(std::unique_ptr<Request> request) {
  // The forwarder holds the client's call, so it must name itself as the proxy; the request
  // must be the client's own.
  if (request->type() != Request::TYPE_CLIENT_REQUEST ||
      request->proxy_id() != request->sender_id() || request->client_id() == 0) {
    metrics_.rejected_messages->Increment();
    return -1;
  }
  Work work;
  work.kind = Work::kWrite;
  work.request = ToUserRequest(request.get(), request->proxy_id());
  if (verify_clients_ && !client_verifier_.Verify(work.request)) {
    metrics_.unsigned_requests->Increment();
    metrics_.rejected_messages->Increment();
    return -1;
  }
  return Enqueue(std::move(work)) ? 0 : -1;
}

Response ConsensusManagerPBFT::AnswerLogQuery(const Request& request) {
  absl::StatusOr<LogQueryResult> result = ledger_->AnswerLogQuery(request.data());
  if (!result.ok()) {
    return MakeResponse(
        absl::IsInvalidArgument(result.status()) ? Response::INVALID_REQUEST : Response::INTERNAL,
        std::string(result.status().message()));
  }
  Response response = MakeResponse(Response::OK, "");
  result->SerializeToString(response.mutable_data());
  return response;
}

void ConsensusManagerPBFT::HandleClientRequest(std::unique_ptr<Context> context,
                                               std::unique_ptr<Request> request) {
  if (request->client_id() == 0) {
    context->Reply(MakeResponse(Response::INVALID_REQUEST, "a request needs a non-zero client_id"));
    return;
  }
  const UserRequest user_request = ToUserRequest(request.get(), self_id_);
  if (sessions_->AnswerIfApplied(user_request, context.get())) return;
  if (verify_clients_ && !client_verifier_.Verify(user_request)) {
    metrics_.unsigned_requests->Increment();
    context->Reply(MakeResponse(
        Response::INVALID_REQUEST,
        absl::StrCat("request ", user_request.request_id(), " of client ", user_request.client_id(),
                     " does not carry that client's signature")));
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

void ConsensusManagerPBFT::ReplayLedger() {
  absl::Status replayed = ledger_->Replay(
      executor_->GetMaxExecutedSeq(),
      [this](pbft::CommittedBatch batch) {
        return CommitSerializedBatch(executor_.get(), batch.seq(), batch.data()).ok();
      },
      [this] { return thread_.stopping(); });
  if (!replayed.ok()) {
    LOG(ERROR) << "pbft replica " << self_id_ << ": cannot replay the ledger: " << replayed;
  }
}

void ConsensusManagerPBFT::Loop() {
  ReplayLedger();
  Clock::time_point next_tick = Clock::now() + tick_;
  std::vector<Work> work;
  while (true) {
    if (!queue_.WaitForItems(next_tick)) return;
    work = queue_.PopRound(kMaxQueuedWork, kClientWorkPerRound);
    for (Work& item : work) HandleWork(item);
    work.clear();

    const Clock::time_point now = Clock::now();
    if (now >= next_tick) {
      OnTick(now);
      next_tick = now + tick_;
    }
    // A new primary: requests this replica holds go to it.
    if (replica_.view_active() && replica_.primary() != last_primary_) {
      last_primary_ = replica_.primary();
      // What an earlier term as primary proposed is settled by the view change.
      recent_proposals_.Clear();
      if (last_primary_ != 0) {
        for (const UserRequest& request : sessions_->Pending()) RouteWrite(request);
      }
    }
    ProposePending();
    DrainActions();
    PublishState();
  }
}

void ConsensusManagerPBFT::OnTick(Clock::time_point now) {
  replica_.Tick(/*requests_waiting=*/sessions_->size() > 0);
  for (const UserRequest& request : sessions_->TakeDueForRetry(now, 2 * tick_)) {
    RouteWrite(request);
  }
  metrics_.request_timeouts->Increment(
      sessions_->ExpireDue(now, absl::StrCat("request not executed within the ",
                                             sessions_->timeout().count(), " ms client timeout")));
}

void ConsensusManagerPBFT::HandleWork(Work& work) {
  switch (work.kind) {
    case Work::kMessage: {
      absl::Status status = replica_.Step(work.message, work.envelope);
      if (!status.ok()) {
        metrics_.rejected_messages->Increment();
        VLOG(1) << "pbft replica " << self_id_ << ": refused "
                << Request::Type_Name(work.message.type()) << " from " << work.message.sender_id()
                << ": " << status;
      }
      break;
    }
    case Work::kWrite:
      // Clients send to every replica, so the primary has its own copy. A backup forwards
      // a request of its client only once it has waited two ticks (see OnTick): that covers a
      // primary that lost or ignored it without sending every request n times.
      if (!replica_.is_primary() && work.request.proxy_id() == self_id_) break;
      RouteWrite(work.request);
      break;
    case Work::kExecuted:
      replica_.OnExecuted(work.seq, std::move(work.digest));
      break;
  }
}

void ConsensusManagerPBFT::RouteWrite(const UserRequest& request) {
  if (replica_.is_primary()) {
    if (!replica_.view_active()) return;
    if (!recent_proposals_.Add(request.client_id(), request.request_id())) {
      metrics_.duplicate_proposals->Increment();
      return;
    }
    sessions_->Queue(request);
    return;
  }
  // A request forwarded by another replica while this one is not primary is dropped; the
  // replica holding its Context routes it again when a primary appears, or it times out.
  if (request.proxy_id() != self_id_ || !replica_.view_active()) return;
  if (sessions_->Forward(request, replica_.primary())) {
    metrics_.forwarded_requests->Increment();
  }
}

void ConsensusManagerPBFT::ProposePending() {
  if (!sessions_->HasQueued()) return;
  if (!replica_.is_primary() || !replica_.view_active()) {
    sessions_->TakeQueued();
    return;
  }
  sessions_->ProposeQueued([this](BatchUserRequest& batch, size_t count) {
    // Above the high watermark: proposed again next round.
    if (!replica_.Propose(batch.SerializeAsString()).ok()) return false;
    metrics_.proposals->Increment();
    metrics_.proposed_requests->Increment(count);
    return true;
  });
}

void ConsensusManagerPBFT::DrainActions() {
  while (replica_.HasActions()) {
    pbft::Actions actions = replica_.TakeActions();
    if (actions.view_record.has_value() || !actions.slots.empty() || actions.stable.has_value() ||
        !actions.execute.empty()) {
      // Sending what the log does not hold could break a promise after a crash.
      FailStopIfError(
          absl::StrCat("pbft replica ", self_id_, ": cannot write its log"),
          wal_->Write(actions.view_record, actions.slots, actions.stable, actions.execute));
      metrics_.wal_writes->Increment();
    }
    for (const Request& message : actions.broadcast) GetCommunicator()->BroadCast(message);
    for (const auto& [to, message] : actions.send) GetCommunicator()->SendMessage(message, to);
    for (const Request& fetch : actions.fetches) AnswerFetch(fetch);
    for (const auto& [seq, data] : actions.execute) {
      absl::Status status = CommitSerializedBatch(executor_.get(), seq, data);
      if (!status.ok() && !thread_.stopping()) {
        LOG(WARNING) << "pbft replica " << self_id_ << ": executor refused seq " << seq << ": "
                     << status;
      }
    }
  }
}

void ConsensusManagerPBFT::AnswerFetch(const Request& fetch) {
  auto batches = ledger_->ReadForFetch(fetch.seq());
  if (!batches.ok()) {
    LOG(WARNING) << "pbft replica " << self_id_ << ": cannot read ledger for a fetch from "
                 << fetch.sender_id() << ": " << batches.status();
    return;
  }
  GetCommunicator()->SendMessage(replica_.FetchReply(fetch, std::move(*batches)),
                                 fetch.sender_id());
}

void ConsensusManagerPBFT::PublishState() {
  fetched_batches_.store(replica_.fetched_batch_count());
  fetch_requests_.store(replica_.fetch_request_count());
  primary_.store(replica_.view_active() ? replica_.primary() : 0);
  view_.store(replica_.view());
  is_primary_.store(replica_.is_primary());
  stable_checkpoint_.store(replica_.stable_checkpoint());
}

void ConsensusManagerPBFT::OnExecuted(uint64_t seq, const BatchUserRequest& batch,
                                      BatchUserResponse responses) {
  recorder_->Record(seq, responses);
  executed_seq_.store(seq);
  sessions_->AnswerExecuted(seq, batch, responses);
  Work work;
  work.kind = Work::kExecuted;
  work.seq = seq;
  work.digest = recorder_->state_digest();
  Enqueue(std::move(work));
}

ReplicaStatus ConsensusManagerPBFT::GetStatus() {
  ReplicaStatus status = ConsensusManager::GetStatus();
  status.set_role(is_primary_.load() ? "primary" : "backup");
  status.set_view(view_.load());
  status.set_primary_id(primary_.load());
  status.set_executed_seq(executed_seq_.load());
  status.set_stable_checkpoint(stable_checkpoint_.load());
  status.set_state_digest(recorder_->state_digest());
  auto& metrics = *status.mutable_metrics();
  for (const char* name :
       {"pbft_proposals", "pbft_proposed_requests", "pbft_forwarded_requests", "pbft_queue_dropped",
        "pbft_rejected_messages", "pbft_unsigned_client_requests", "pbft_request_timeouts",
        "pbft_wal_writes", "pbft_duplicate_proposals"}) {
    metrics[name] = static_cast<int64_t>(stats()->CounterValue(name));
  }
  metrics["pbft_fetched_batches"] = static_cast<int64_t>(fetched_batches_.load());
  metrics["pbft_fetch_requests"] = static_cast<int64_t>(fetch_requests_.load());
  metrics["pbft_pending_requests"] = static_cast<int64_t>(sessions_->size());
  return status;
}

}  // namespace resdb
