#include "platform/consensus/ordering/pbft/consensus_manager_pbft.h"

#include <glog/logging.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "platform/common/fail_stop.h"
#include "platform/consensus/execution/log_record.h"
#include "platform/consensus/execution/tracked_call.h"
#include "platform/storage/prefixed_storage.h"

namespace resdb {
namespace {

// The applied-request table's view, inside the "pbft_" prefix.
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
// What one FETCH reply carries at most.
constexpr size_t kFetchReplyBatches = 64;
constexpr size_t kFetchReplyBytes = 4 << 20;
constexpr size_t kReplayChunkBatches = 256;

// The protocol clock: fine enough that a view change takes ten ticks, and never coarser
// than the heartbeat.
int TickMs(const ResDBConfig& config) {
  return std::max(1, std::min(config.GetHeartBeatIntervalMs(),
                              config.GetPbftConfig().view_change_timeout_ms() / 10));
}

pbft::PbftReplicaOptions OptionsFrom(const ResDBConfig& config, int tick_ms) {
  const PbftConfig& pbft = config.GetPbftConfig();
  pbft::PbftReplicaOptions options;
  options.retransmit_ticks =
      static_cast<uint64_t>(std::max(1, pbft.view_change_timeout_ms() / 3 / std::max(1, tick_ms)));
  options.checkpoint_interval = static_cast<uint64_t>(std::max(1, pbft.checkpoint_interval()));
  options.watermark_window = std::max<uint64_t>(
      options.checkpoint_interval, static_cast<uint64_t>(std::max(1, pbft.watermark_window())));
  if (pbft.enable_view_change()) {
    options.view_change_timeout_ticks =
        static_cast<uint64_t>(std::max(1, pbft.view_change_timeout_ms() / std::max(1, tick_ms)));
  } else {
    options.view_change_timeout_ticks = std::numeric_limits<uint64_t>::max();
  }
  return options;
}

// Replica keys are what make relayed evidence trustworthy; a cluster without them (plaintext
// test setups) checks evidence for form only (see PbftReplicaOptions::verify_signature).
bool HasReplicaKeys(const ResDBConfig& config) {
  if (!config.GetConfigData().require_signatures()) return false;
  for (const ReplicaInfo& replica : config.GetReplicaInfos()) {
    if (replica.public_key_file().empty()) return false;
  }
  return !config.GetReplicaInfos().empty();
}

pbft::PbftReplicaOptions WithEvidenceCheck(pbft::PbftReplicaOptions options,
                                           const ResDBConfig& config,
                                           const std::unique_ptr<Verifier>* keys,
                                           const ReplicaCommunicator* communicator) {
  if (HasReplicaKeys(config)) {
    options.verify_signature = [keys](int64_t node, absl::string_view data,
                                      absl::string_view signature) {
      return *keys != nullptr && (*keys)->Verify(node, data, signature);
    };
    options.sign = [communicator](absl::string_view data) { return communicator->Sign(data); };
  }
  return options;
}

bool IsProtocolMessage(Request::Type type) {
  switch (type) {
    case Request::TYPE_PRE_PREPARE:
    case Request::TYPE_PREPARE:
    case Request::TYPE_COMMIT:
    case Request::TYPE_CHECKPOINT:
    case Request::TYPE_VIEWCHANGE:
    case Request::TYPE_NEWVIEW:
    case Request::TYPE_RECOVERY_DATA:
    case Request::TYPE_RECOVERY_DATA_RESP:
      return true;
    default:
      return false;
  }
}

}  // namespace

ConsensusManagerPBFT::ConsensusManagerPBFT(const ResDBConfig& config, Stats* stats)
    : ConsensusManager(config, stats),
      self_id_(config.GetSelfId()),
      tick_(TickMs(config)),
      client_timeout_(std::max(1, config.GetClientTimeoutMs())),
      batch_cutter_(static_cast<size_t>(std::max(1, config.GetClientBatchNum())),
                    static_cast<size_t>(config.GetMaxBatchBytes())),
      replica_(config.GetSelfId(), config.GetReplicaNum(),
               WithEvidenceCheck(OptionsFrom(config, TickMs(config)), config, &replica_keys_,
                                 GetCommunicator())),
      tracker_(kMaxPendingRequests, static_cast<size_t>(config.GetMaxPendingPerClient())),
      sync_(config.GetConfigData().sync_writes()),
      queue_(kMaxQueuedWork, kMaxQueuedClientWork),
      verify_clients_(config.GetConfigData().require_signatures()) {
  Stats* s = this->stats();
  proposals_ = s->GetCounter("pbft_proposals");
  proposed_requests_ = s->GetCounter("pbft_proposed_requests");
  forwarded_requests_ = s->GetCounter("pbft_forwarded_requests");
  queue_dropped_ = s->GetCounter("pbft_queue_dropped");
  rejected_messages_ = s->GetCounter("pbft_rejected_messages");
  unsigned_requests_ = s->GetCounter("pbft_unsigned_client_requests");
  request_timeouts_ = s->GetCounter("pbft_request_timeouts");
  wal_writes_ = s->GetCounter("pbft_wal_writes");
  duplicate_proposals_ = s->GetCounter("pbft_duplicate_proposals");
}

absl::StatusOr<std::unique_ptr<ConsensusManagerPBFT>> ConsensusManagerPBFT::Create(
    const ResDBConfig& config, std::unique_ptr<TransactionManager> transaction_manager,
    Storage* storage, PrefixAllocator* prefixes, Stats* stats, StagedStorage* staged_state) {
  if (transaction_manager == nullptr || storage == nullptr || prefixes == nullptr) {
    return absl::InvalidArgumentError(
        "pbft: transaction manager, storage and prefix allocator are required");
  }
  // A view change must fit in one message, or the cluster could never replace its primary.
  const uint64_t window = OptionsFrom(config, TickMs(config)).watermark_window;
  const int64_t new_view_bytes = pbft::MaxNewViewBytes(config.GetReplicaNum(), window);
  if (new_view_bytes > config.GetMaxMessageBytes()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pbft_config.watermark_window ", window, " with ", config.GetReplicaNum(),
        " replicas makes a NEWVIEW of up to ", new_view_bytes, " bytes, above max_message_bytes (",
        config.GetMaxMessageBytes(), "): lower the window or raise the limit"));
  }
  std::unique_ptr<ConsensusManagerPBFT> manager(new ConsensusManagerPBFT(config, stats));
  manager->storage_ = storage;
  manager->staged_state_ = staged_state;
  absl::Status opened = manager->Open(std::move(transaction_manager), storage, prefixes);
  if (!opened.ok()) return opened;
  return manager;
}

absl::Status ConsensusManagerPBFT::Open(std::unique_ptr<TransactionManager> transaction_manager,
                                        Storage* storage, PrefixAllocator* prefixes) {
  auto pbft_view = prefixes->Allocate(storage, kPbftPrefix, "pbft");
  if (!pbft_view.ok()) return pbft_view.status();
  pbft_view_ = std::move(*pbft_view);
  wal_view_ = std::make_unique<PrefixedStorage>(pbft_view_.get(), "wal/");
  table_view_ = std::make_unique<PrefixedStorage>(pbft_view_.get(), kAppliedSubprefix);

  auto wal = pbft::PbftWal::Open(wal_view_.get(), sync_);
  if (!wal.ok()) {
    return absl::Status(wal.status().code(), absl::StrCat("pbft log: ", wal.status().message()));
  }
  wal_ = std::move(*wal);
  table_ = std::make_unique<AppliedRequestTable>();
  absl::Status loaded = table_->Load(table_view_.get());
  if (!loaded.ok()) {
    return absl::Status(loaded.code(), absl::StrCat("pbft applied requests: ", loaded.message()));
  }
  if (HasReplicaKeys(config())) {
    auto keys = std::make_unique<Verifier>();
    for (const ReplicaInfo& replica : config().GetReplicaInfos()) {
      absl::Status added = keys->AddPublicKeyFromFile(replica.id(), replica.public_key_file());
      if (!added.ok()) return added;
    }
    replica_keys_ = std::move(keys);
  }
  const uint64_t executed = table_->applied_index();
  const pbft::RestoredState& restored = wal_->restored();
  if (executed > restored.last_committed) {
    return absl::DataLossError(absl::StrCat("pbft: executed seq ", executed,
                                            " is beyond the last committed seq ",
                                            restored.last_committed, " of the ledger"));
  }
  absl::Status digest = state_digest_.Load(table_view_.get());
  if (!digest.ok()) return digest;
  replica_.Restore(restored);
  restored_executed_seq_ = executed;
  executed_seq_.store(executed);

  executor_ = std::make_unique<TransactionExecutor>(
      config(),
      std::make_unique<DedupTransactionManager>(std::move(transaction_manager), table_.get(),
                                                stats()),
      [this](std::unique_ptr<Request> request, std::unique_ptr<BatchUserResponse> response) {
        OnExecuted(std::move(request), std::move(response));
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
  {
    std::lock_guard<std::mutex> lock(lifecycle_mu_);
    if (started_ || stopping_) {
      return absl::FailedPreconditionError("pbft consensus manager already started or stopped");
    }
    started_ = true;
  }
  absl::Status status = ConsensusManager::Start();
  if (!status.ok()) return status;
  thread_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

void ConsensusManagerPBFT::Stop() {
  {
    std::lock_guard<std::mutex> lock(lifecycle_mu_);
    stopping_ = true;
  }
  stopping_flag_.store(true);
  queue_.Close();
  if (executor_ != nullptr) executor_->Stop();
  if (thread_.joinable()) thread_.join();
  tracker_.FailAll(MakeResponse(Response::UNAVAILABLE, "replica is stopping"));
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
    queue_dropped_->Increment();
    return false;
  }
  return true;
}

int ConsensusManagerPBFT::ConsensusCommit(std::unique_ptr<Context> context,
                                          std::unique_ptr<Request> request) {
  if (request == nullptr) return -1;
  if (AnswerStatusRequest(*request, context.get())) return 0;
  const bool from_client = context != nullptr && context->CanReply();
  if (IsProtocolMessage(request->type())) {
    if (from_client) {
      context->Reply(
          MakeResponse(Response::INVALID_REQUEST, "pbft messages are accepted from replicas only"));
      return -1;
    }
    // Checked here, on the transport's threads, so the protocol thread never waits on it.
    if (!ProposedBatchesAreSigned(*request)) {
      unsigned_requests_->Increment();
      rejected_messages_->Increment();
      return -1;
    }
    Work work;
    work.kind = Work::kMessage;
    work.message = std::move(*request);
    if (context != nullptr) {
      // What the transport verified: kept by the replica as evidence it may relay.
      work.envelope.set_data(context->signed_data());
      work.envelope.set_signer(context->signature().node_id());
      work.envelope.set_signature(context->signature().signature());
    }
    return Enqueue(std::move(work)) ? 0 : -1;
  }
  switch (request->type()) {
    case Request::TYPE_CLIENT_REQUEST:
    case Request::TYPE_QUERY: {
      if (!from_client) {
        // A request another replica forwards to this one as primary. The forwarder holds the
        // client's call, so it must name itself as the proxy; the request must be the
        // client's own.
        if (request->type() != Request::TYPE_CLIENT_REQUEST ||
            request->proxy_id() != request->sender_id() || request->client_id() == 0) {
          rejected_messages_->Increment();
          return -1;
        }
        Work work;
        work.kind = Work::kWrite;
        work.request = ToUserRequest(request.get(), request->proxy_id());
        if (verify_clients_ && !client_verifier_.Verify(work.request)) {
          unsigned_requests_->Increment();
          rejected_messages_->Increment();
          return -1;
        }
        return Enqueue(std::move(work)) ? 0 : -1;
      }
      HandleClientRequest(std::move(context), std::move(request));
      return 0;
    }
    case Request::TYPE_CUSTOM_QUERY:
      if (!from_client) return -1;
      context->Reply(AnswerLogQuery(*request));
      return 0;
    case Request::TYPE_HEART_BEAT:
      return 0;
    default:
      if (from_client) {
        context->Reply(MakeResponse(
            Response::UNIMPLEMENTED,
            absl::StrCat("pbft replicas do not serve ", Request::Type_Name(request->type()))));
      }
      return -1;
  }
}

bool ConsensusManagerPBFT::ProposedBatchesAreSigned(const Request& message) {
  if (!verify_clients_) return true;
  return client_verifier_.VerifyProposedBatch(message);
}

Response ConsensusManagerPBFT::AnswerLogQuery(const Request& request) {
  LogQuery query;
  if (!query.ParseFromString(request.data())) {
    return MakeResponse(Response::INVALID_REQUEST, "log query: bad data");
  }
  LogQueryResult result;
  const uint64_t first = wal_->first_ledger_seq();
  const uint64_t last = wal_->last_committed();
  result.set_commit_index(last);
  result.set_first_index(first);
  result.set_last_index(last);
  const uint64_t from = std::max(first, query.first());
  if (last != 0 && from <= last) {
    absl::StatusOr<std::vector<pbft::CommittedBatch>> batches =
        wal_->ReadLedger(from, LogQueryLimit(query), std::numeric_limits<size_t>::max());
    if (!batches.ok()) {
      return MakeResponse(Response::INTERNAL,
                          absl::StrCat("log query: ", batches.status().message()));
    }
    for (const pbft::CommittedBatch& batch : *batches) {
      *result.add_records() =
          DescribeBatch(batch.seq(), 0, batch.data().empty() ? "noop" : "normal", batch.data());
    }
  }
  Response response = MakeResponse(Response::OK, "");
  result.SerializeToString(response.mutable_data());
  return response;
}

void ConsensusManagerPBFT::HandleClientRequest(std::unique_ptr<Context> context,
                                               std::unique_ptr<Request> request) {
  if (request->client_id() == 0) {
    context->Reply(MakeResponse(Response::INVALID_REQUEST, "a request needs a non-zero client_id"));
    return;
  }
  // A retry of a request this replica has executed: answer with the recorded response.
  if (std::optional<std::string> done =
          table_->Lookup(request->client_id(), request->request_id())) {
    Response response = MakeResponse(Response::OK, "");
    response.set_data(std::move(*done));
    context->Reply(response);
    return;
  }
  const UserRequest user_request = ToUserRequest(request.get(), self_id_);
  if (verify_clients_ && !client_verifier_.Verify(user_request)) {
    unsigned_requests_->Increment();
    context->Reply(MakeResponse(
        Response::INVALID_REQUEST,
        absl::StrCat("request ", user_request.request_id(), " of client ", user_request.client_id(),
                     " does not carry that client's signature")));
    return;
  }
  // A call left waiting for a request that already executed would also make this replica
  // blame the primary.
  const TrackOutcome outcome =
      TrackUnlessApplied(user_request, &context, Clock::now() + client_timeout_, *table_,
                         MakeResponse(Response::OK, ""), &tracker_);
  switch (outcome) {
    case TrackOutcome::kFull:
    case TrackOutcome::kClientFull:
      context->Reply(MakeResponse(Response::UNAVAILABLE, RefusalReason(outcome)));
      return;
    case TrackOutcome::kAnswered:
      return;
    case TrackOutcome::kTracked:
      break;
  }
  Work work;
  work.kind = Work::kWrite;
  work.request = user_request;
  if (!Enqueue(std::move(work))) {
    tracker_.Complete({user_request.client_id(), user_request.request_id()},
                      MakeResponse(Response::UNAVAILABLE, "replica overloaded"));
  }
}

void ConsensusManagerPBFT::ReplayLedger() {
  const uint64_t last = wal_->last_committed();
  for (uint64_t seq = restored_executed_seq_ + 1; seq <= last && !stopping_flag_.load();) {
    auto batches = wal_->ReadLedger(seq, kReplayChunkBatches, kFetchReplyBytes);
    if (!batches.ok() || batches->empty()) {
      LOG(ERROR) << "pbft replica " << self_id_ << ": cannot read ledger at seq " << seq << ": "
                 << (batches.ok() ? absl::NotFoundError("missing") : batches.status());
      return;
    }
    for (pbft::CommittedBatch& batch : *batches) {
      auto request = std::make_unique<Request>();
      request->set_type(Request::TYPE_CLIENT_REQUEST);
      request->set_seq(batch.seq());
      request->set_data(std::move(*batch.mutable_data()));
      if (!executor_->Commit(std::move(request)).ok()) return;
      seq = batch.seq() + 1;
    }
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
      replica_.Tick(/*requests_waiting=*/tracker_.size() > 0);
      next_tick = now + tick_;
      for (const UserRequest& request : tracker_.TakeDueForRetry(now, 2 * tick_)) {
        RouteWrite(request);
      }
      for (auto& expired : tracker_.TakeExpired(now)) {
        request_timeouts_->Increment();
        expired.context->Reply(MakeResponse(
            Response::TIMEOUT, absl::StrCat("request not executed within the ",
                                            client_timeout_.count(), " ms client timeout")));
      }
    }
    // A new primary: requests this replica holds go to it.
    if (replica_.view_active() && replica_.primary() != last_primary_) {
      last_primary_ = replica_.primary();
      // What an earlier term as primary proposed is settled by the view change.
      recent_keys_.clear();
      recent_order_.clear();
      if (last_primary_ != 0) {
        for (const UserRequest& request : tracker_.PendingRequests()) RouteWrite(request);
      }
    }
    ProposePending();
    DrainActions();
    PublishState();
  }
}

void ConsensusManagerPBFT::HandleWork(Work& work) {
  switch (work.kind) {
    case Work::kMessage: {
      absl::Status status = replica_.Step(work.message, work.envelope);
      if (!status.ok()) {
        rejected_messages_->Increment();
        VLOG(1) << "pbft replica " << self_id_ << ": refused "
                << Request::Type_Name(work.message.type()) << " from " << work.message.sender_id()
                << ": " << status;
      }
      break;
    }
    case Work::kWrite:
      // Clients send to every replica, so the primary has its own copy. A backup forwards
      // a request of its client only once it has waited two ticks (see Loop): that covers a
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
    if (ProposedRecently(request)) {
      duplicate_proposals_->Increment();
      return;
    }
    pending_proposals_.push_back(request);
    return;
  }
  // A request forwarded by another replica while this one is not primary is dropped; the
  // replica holding its Context routes it again when a primary appears, or it times out.
  if (request.proxy_id() != self_id_) return;
  if (!replica_.view_active()) return;
  Request forward;
  forward.set_type(Request::TYPE_CLIENT_REQUEST);
  forward.set_sender_id(self_id_);
  forward.set_proxy_id(self_id_);
  forward.set_client_id(request.client_id());
  forward.set_request_id(request.request_id());
  forward.set_data(request.data());
  forward.set_client_public_key(request.client_public_key());
  forward.set_client_signature(request.client_signature());
  if (GetCommunicator()->SendMessage(forward, replica_.primary())) {
    forwarded_requests_->Increment();
  }
}

bool ConsensusManagerPBFT::ProposedRecently(const UserRequest& request) {
  const std::pair<uint64_t, uint64_t> key(request.client_id(), request.request_id());
  if (!recent_keys_.insert(key).second) return true;
  recent_order_.push_back(key);
  if (recent_order_.size() > kRecentKeys) {
    recent_keys_.erase(recent_order_.front());
    recent_order_.pop_front();
  }
  return false;
}

void ConsensusManagerPBFT::ProposePending() {
  if (pending_proposals_.empty()) return;
  if (!replica_.is_primary() || !replica_.view_active()) {
    pending_proposals_.clear();
    return;
  }
  size_t next = 0;
  while (next < pending_proposals_.size()) {
    BatchUserRequest batch;
    const size_t end = batch_cutter_.End(pending_proposals_, next);
    for (size_t i = next; i < end; ++i) *batch.add_requests() = pending_proposals_[i];
    absl::Status status = replica_.Propose(batch.SerializeAsString());
    if (!status.ok()) break;  // above the high watermark: retry later
    proposals_->Increment();
    proposed_requests_->Increment(end - next);
    next = end;
  }
  pending_proposals_.erase(pending_proposals_.begin(), pending_proposals_.begin() + next);
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
      wal_writes_->Increment();
    }
    for (const Request& message : actions.broadcast) GetCommunicator()->BroadCast(message);
    for (const auto& [to, message] : actions.send) GetCommunicator()->SendMessage(message, to);
    for (const Request& fetch : actions.fetches) AnswerFetch(fetch);
    for (auto& [seq, data] : actions.execute) {
      auto request = std::make_unique<Request>();
      request->set_type(Request::TYPE_CLIENT_REQUEST);
      request->set_seq(seq);
      request->set_view(replica_.view());
      request->set_data(std::move(data));
      absl::Status status = executor_->Commit(std::move(request));
      if (!status.ok() && !stopping_flag_.load()) {
        LOG(WARNING) << "pbft replica " << self_id_ << ": executor refused seq " << seq << ": "
                     << status;
      }
    }
  }
}

void ConsensusManagerPBFT::AnswerFetch(const Request& fetch) {
  auto batches = wal_->ReadLedger(fetch.seq(), kFetchReplyBatches, kFetchReplyBytes);
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

void ConsensusManagerPBFT::OnExecuted(std::unique_ptr<Request> request,
                                      std::unique_ptr<BatchUserResponse> response) {
  const uint64_t seq = request->seq();
  // The applied-request table, the executed seq and the digest in one write, with the batch's
  // state when the service's writes are held back for it. Not synced: the ledger is the
  // durable record, and what a crash loses here is executed again.
  WriteBatch batch;
  state_digest_.Extend(*response, &batch);
  table_->Flush(seq, &batch);
  absl::Status written;
  if (staged_state_ != nullptr) {
    written = staged_state_->Commit([&](const WriteBatch& state) {
      WriteBatch all;
      all.AppendPrefixed(kUserDataPrefix, state);
      all.AppendPrefixed(absl::StrCat(kPbftPrefix, kAppliedSubprefix), batch);
      return storage_->Write(all, /*sync=*/false);
    });
  } else {
    written = table_view_->Write(batch, /*sync=*/false);
  }
  FailStopIfError(absl::StrCat("pbft replica ", self_id_, ": cannot record executed seq ", seq),
                  written);
  executed_seq_.store(seq);
  if (tracker_.size() > 0 && !request->data().empty()) {
    BatchUserRequest user_requests;
    if (user_requests.ParseFromString(request->data())) {
      for (int i = 0; i < user_requests.requests_size(); ++i) {
        const UserRequest& user_request = user_requests.requests(i);
        const ClientRequestTracker::Key key(user_request.client_id(), user_request.request_id());
        Response answer = MakeResponse(Response::OK, "");
        if (i < response->responses_size()) answer.set_data(response->responses(i));
        answer.set_seq(seq);
        tracker_.Complete(key, answer);
      }
    }
  }
  Work work;
  work.kind = Work::kExecuted;
  work.seq = seq;
  work.digest = state_digest_.value();
  Enqueue(std::move(work));
}

ReplicaStatus ConsensusManagerPBFT::GetStatus() {
  ReplicaStatus status = ConsensusManager::GetStatus();
  status.set_role(is_primary_.load() ? "primary" : "backup");
  status.set_view(view_.load());
  status.set_primary_id(primary_.load());
  status.set_executed_seq(executed_seq_.load());
  status.set_stable_checkpoint(stable_checkpoint_.load());
  status.set_state_digest(state_digest_.value());
  auto& metrics = *status.mutable_metrics();
  for (const char* name :
       {"pbft_proposals", "pbft_proposed_requests", "pbft_forwarded_requests", "pbft_queue_dropped",
        "pbft_rejected_messages", "pbft_unsigned_client_requests", "pbft_request_timeouts",
        "pbft_wal_writes", "pbft_duplicate_proposals"}) {
    metrics[name] = static_cast<int64_t>(stats()->CounterValue(name));
  }
  metrics["pbft_fetched_batches"] = static_cast<int64_t>(fetched_batches_.load());
  metrics["pbft_fetch_requests"] = static_cast<int64_t>(fetch_requests_.load());
  metrics["pbft_pending_requests"] = static_cast<int64_t>(tracker_.size());
  return status;
}

}  // namespace resdb
